/*
 * spam_bayes.c — the classifier of spam_bayes.h: the arithmetic, and the
 * glue between the tokenizer and the token database in the store.
 */
#include "spam_bayes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spam.h"
#include "spam_token.h"
#include "util.h"

/* P(chi2 >= x2) with v (even) degrees of freedom: the series of the
 * incomplete gamma function, exact for even v. Terms that underflow to 0
 * mean a probability far below anything that matters. */
static double chi2q(double x2, size_t v)
{
	double m = x2 / 2.0, term = exp(-m), sum = term;
	for (size_t i = 1; i < v / 2; i++) {
		term *= m / (double)i;
		sum += term;
	}
	return sum < 1.0 ? sum : 1.0;
}

static int by_dev(const void *a, const void *b)
{
	double x = fabs(((const struct bayes_used *)a)->f - 0.5);
	double y = fabs(((const struct bayes_used *)b)->f - 0.5);
	if (x != y)
		return x > y ? -1 : 1;
	uint64_t p = ((const struct bayes_used *)a)->h, q = ((const struct bayes_used *)b)->h;
	return p < q ? -1 : p > q; /* same input, same choice */
}

double spam_bayes_combine(const uint64_t *h, const struct bayes_count *c, size_t n, uint32_t nspam,
			  uint32_t nham, struct bayes_used *used, size_t *nused)
{
	struct bayes_used *all = xmalloc((n ? n : 1) * sizeof *all);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		double b = nspam ? (double)c[i].spam / nspam : 0;
		double g = nham ? (double)c[i].ham / nham : 0;
		double cnt = (double)c[i].spam + c[i].ham;
		if (cnt == 0 || b + g == 0)
			continue;
		double p = b / (b + g), f = (0.5 + cnt * p) / (1.0 + cnt);
		if (fabs(f - 0.5) < BAYES_MIN_DEV)
			continue;
		all[k++] = (struct bayes_used){h[i], f, c[i].spam, c[i].ham};
	}
	qsort(all, k, sizeof *all, by_dev);
	if (k > BAYES_USE_MAX)
		k = BAYES_USE_MAX;
	double ls = 0, lh = 0; /* sums of ln(1 - f) and ln f */
	for (size_t i = 0; i < k; i++) {
		double f = all[i].f;
		f = f < 1e-6 ? 1e-6 : f > 1 - 1e-6 ? 1 - 1e-6 : f;
		ls += log(1.0 - f);
		lh += log(f);
	}
	double prob = 0.5;
	if (k) {
		double S = 1.0 - chi2q(-2.0 * ls, 2 * k), H = 1.0 - chi2q(-2.0 * lh, 2 * k);
		prob = (1.0 + S - H) / 2.0;
	}
	if (used)
		memcpy(used, all, k * sizeof *all);
	if (nused)
		*nused = k;
	free(all);
	return prob;
}

double spam_bayes_weight(double p)
{
	if (p < 0.5)
		return 6.0 * (p - 0.5);
	double w = 25.0 * (p - 0.5);
	return w < 10.0 ? w : 10.0;
}

int spam_bayes_classify(struct store *st, uint32_t user, const uint64_t *h, size_t n, double *p,
			struct bayes_used *used, size_t *nused)
{
	struct bayes_count *c = xcalloc(n ? n : 1, sizeof *c);
	struct bayes_stat s = {0};
	int rc = store_bayes_counts(st, user, h, n, c, &s), r = -1;
	if (nused)
		*nused = 0;
	if (rc == ST_OK) {
		r = 0;
		if (s.nspam >= BAYES_MIN_TRAINED && s.nham >= BAYES_MIN_TRAINED) {
			*p = spam_bayes_combine(h, c, n, s.nspam, s.nham, used, nused);
			r = 1;
		}
	}
	free(c);
	return r;
}

int spam_bayes_learn(struct store *st, uint32_t user, uint64_t key, int dir, const char *msg,
		     size_t len, int *changed)
{
	uint64_t *h;
	size_t n = spam_token_hashes(msg, len, &h);
	int rc = store_bayes_train(st, user, key, dir, h, n, changed);
	free(h);
	return rc;
}

char *spam_blob_prefix(struct store *st, uint64_t blob, uint64_t size, size_t *len)
{
	size_t n = size > SPAM_PREFIX_MAX ? SPAM_PREFIX_MAX : (size_t)size, got = 0;
	char *buf = xmalloc(n + 1);
	while (got < n) {
		long k = store_msg_read(st, blob, got, buf + got, n - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	buf[got] = 0;
	*len = got;
	return buf;
}

int spam_bayes_learn_blob(struct store *st, uint32_t user, uint64_t blob, uint64_t size, int dir,
			  int *changed)
{
	size_t len;
	char *buf = spam_blob_prefix(st, blob, size, &len);
	int rc = spam_bayes_learn(st, user, blob, dir, buf, len, changed);
	free(buf);
	return rc;
}

uint64_t spam_content_key(const char *msg, size_t len)
{
	return spam_token_hash(msg, len > SPAM_PREFIX_MAX ? SPAM_PREFIX_MAX : len) | (1ULL << 63);
}
