// clang-format off
/* deps: spam spam_token spam_bayes message message_text mailbox mailbox_acct mailbox_sieve mailbox_mbox mailbox_msg mailbox_queue mailbox_journal mailbox_spam spool util log mailbox_fts fts mailbox_place mailbox_grey */
// clang-format on
/*
 * test_spam_bayes.c — the classifier's tokenizer (what a reader sees:
 * decoded parts, HTML text, link hosts, header words), the Robinson /
 * chi-square arithmetic, and the token database in the store: training,
 * once per direction, reversal, the minimum before it speaks, the bound.
 */
#include "harness.h"
#include "mailbox.h"
#include "spam.h"
#include "spam_bayes.h"
#include "spam_token.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct toks {
	char s[65536];
	size_t n;
};

static void add(void *arg, const char *t, size_t n)
{
	struct toks *k = arg;
	if (k->n + n + 2 < sizeof k->s) {
		memcpy(k->s + k->n, t, n);
		k->n += n;
		k->s[k->n++] = '|';
		k->s[k->n] = 0;
	}
}

static int has(const char *msg, const char *tok)
{
	static struct toks k;
	char want[128];
	k.n = 0;
	k.s[0] = 0;
	spam_tokenize(msg, strlen(msg), add, &k);
	snprintf(want, sizeof want, "|%s|", tok);
	/* the first token has no '|' before it */
	return strstr(k.s, want) || !strncmp(k.s, want + 1, strlen(want + 1));
}

TEST(tokens_are_what_a_reader_sees)
{
	const char *m =
	    "Subject: =?utf-8?B?Q2hlYXAgUGlsbHM=?=\r\nFrom: Shop <deals@Shop.Example.test>\r\n"
	    "Received: from evil\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe, VIAGRA=20now!\r\n"
	    "--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "PGh0bWw+PGEgaHJlZj0iaHR0cHM6Ly93d3cuQmFkLWxpbmsuZXhhbXBsZS50ZXN0L3g/eSI+Q2xp\r\n"
	    "Y2sgaGVyZTwvYT48c2NyaXB0PmhpZGRlbnNjcmlwdDwvc2NyaXB0PjwhLS0gc2VjcmV0IC0tPiZh\r\n"
	    "bXA7ZG9uZTwvaHRtbD4=\r\n"
	    "--b\r\nContent-Type: application/zip; name=\"x.ZIP\"\r\n\r\nPK\r\n--b--\r\n";
	CHECK(has(m, "subject:cheap"));
	CHECK(has(m, "subject:pills"));
	CHECK(has(m, "from:deals@shop.example.test") || has(m, "from:shop"));
	CHECK(!has(m, "evil")); /* header words carry their field's name */
	CHECK(has(m, "received:evil"));
	CHECK(has(m, "field:received"));
	CHECK(has(m, "field:content-type"));
	CHECK(!has("F\001o: x\r\n\r\nhi\r\n", "field:f\001o"));
	CHECK(has(m, "grüße")); /* QP and Latin-1 decoded */
	CHECK(has(m, "viagra"));
	CHECK(has(m, "click")); /* base64 HTML, tags gone */
	CHECK(has(m, "done"));
	CHECK(!has(m, "hiddenscript"));
	CHECK(!has(m, "secret"));
	CHECK(!has(m, "href"));
	CHECK(has(m, "url:www.bad-link.example.test"));
	CHECK(has(m, "url:example.test"));
	CHECK(has(m, "part:application/zip"));
	CHECK(has(m, "ext:zip"));
	/* a blob is one token; short words none */
	char big[400];
	snprintf(big, sizeof big, "Subject: x\r\n\r\nab %0200d\r\n", 7);
	CHECK(has(big, "long:0:20"));
	CHECK(!has(big, "ab"));
}

TEST(token_bounds)
{
	size_t n = 1 << 20;
	char *m = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		m[i] = "ab c"[i % 4];
	m[n] = 0;
	uint64_t *h;
	size_t k = spam_token_hashes(m, n, &h);
	CHECK(k <= 1); /* "ab" is too short, "cab" repeats */
	free(h);
	for (size_t i = 0; i < n; i++)
		m[i] = (char)('a' + (i * 7 % 26) + (i % 5 == 0 ? -65 : 0));
	struct toks *t = xcalloc(1, sizeof *t);
	size_t count = 0;
	k = spam_token_hashes(m, n, &h);
	CHECK(k <= SPAM_TOKENS_MAX);
	for (size_t i = 1; i < k; i++)
		count += h[i - 1] < h[i];
	CHECK(k == 0 || count == k - 1);
	free(h);
	free(t);
	free(m);
}

TEST(combining)
{
	uint64_t h[4] = {1, 2, 3, 4};
	struct bayes_count spam[4] = {{20, 0}, {15, 1}, {18, 0}, {9, 0}};
	struct bayes_count ham[4] = {{0, 20}, {1, 19}, {0, 12}, {0, 30}};
	struct bayes_count none[4] = {{0, 0}, {0, 0}, {10, 10}, {5, 5}};
	struct bayes_used u[BAYES_USE_MAX];
	size_t nu;
	double p = spam_bayes_combine(h, spam, 4, 20, 30, u, &nu);
	CHECK(p > 0.99 && nu == 4);
	CHECK(u[0].f >= u[nu - 1].f);
	p = spam_bayes_combine(h, ham, 4, 20, 30, u, &nu);
	CHECK(p < 0.01);
	p = spam_bayes_combine(h, none, 4, 20, 20, u, &nu);
	CHECK(fabs(p - 0.5) < 1e-9 && nu == 0);
	CHECK(spam_bayes_weight(1.0) == 10.0 && spam_bayes_weight(0.0) == -3.0);
	CHECK(spam_bayes_weight(0.701) >= 5.0 && spam_bayes_weight(0.69) < 5.0);
	CHECK(spam_bayes_weight(0.5) == 0.0);
	/* many tokens: still finite, at most BAYES_USE_MAX counted */
	enum { N = 5000 };
	uint64_t *hh = xmalloc(N * sizeof *hh);
	struct bayes_count *c = xmalloc(N * sizeof *c);
	for (size_t i = 0; i < N; i++) {
		hh[i] = i;
		c[i] = (struct bayes_count){(uint32_t)(i % 50), (uint32_t)(i % 7)};
	}
	p = spam_bayes_combine(hh, c, N, 50, 50, u, &nu);
	CHECK(isfinite(p) && p >= 0 && p <= 1 && nu <= BAYES_USE_MAX);
	free(hh);
	free(c);
}

static char tdir[64];

static void msg(char *out, size_t cap, const char *words, int i)
{
	snprintf(out, cap, "Subject: %s %d\r\nFrom: x%d@y.test\r\n\r\n%s and more %s\r\n", words, i,
		 i, words, words);
}

TEST(store_training)
{
	struct store *st = NULL;
	char err[256], m[512];
	struct cred cr = {0};
	struct account a;
	snprintf(tdir, sizeof tdir, "/tmp/brev-test-bayes.XXXXXX");
	CHECK(mkdtemp(tdir) != NULL);
	CHECK(store_open(&st, tdir, 1 << 26, err, sizeof err) == 0);
	CHECK_EQ_INT(store_user_add(st, "u@example.test", &cr), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "u@example.test", &a), ST_OK);
	uint64_t *h;
	size_t n;
	double p = 0;
	int changed;
	const char *test = "Subject: cheap pills 99\r\n\r\ncheap pills discount pharmacy\r\n";
	n = spam_token_hashes(test, strlen(test), &h);
	/* silent until it has BAYES_MIN_TRAINED of each */
	for (int i = 0; i < BAYES_MIN_TRAINED; i++) {
		CHECK_EQ_INT(spam_bayes_classify(st, a.id, h, n, &p, NULL, NULL), 0);
		msg(m, sizeof m, "cheap pills discount pharmacy viagra", i);
		CHECK_EQ_INT(spam_bayes_learn(st, a.id, spam_content_key(m, strlen(m)), BAYES_SPAM,
					      m, strlen(m), &changed),
			     ST_OK);
		CHECK(changed);
		msg(m, sizeof m, "meeting agenda tomorrow project lunch", i);
		CHECK_EQ_INT(spam_bayes_learn(st, a.id, 1000 + (uint64_t)i, BAYES_HAM, m, strlen(m),
					      &changed),
			     ST_OK);
	}
	CHECK_EQ_INT(spam_bayes_classify(st, a.id, h, n, &p, NULL, NULL), 1);
	CHECK(p > 0.9);
	/* once per direction */
	CHECK_EQ_INT(spam_bayes_learn(st, a.id, 1000, BAYES_HAM, m, strlen(m), &changed), ST_OK);
	CHECK(!changed);
	struct bayes_stat s;
	CHECK_EQ_INT(store_bayes_counts(st, a.id, NULL, 0, NULL, &s), ST_OK);
	CHECK(s.nspam == BAYES_MIN_TRAINED && s.nham == BAYES_MIN_TRAINED && s.tokens > 10);
	/* reversal: message 1000 as spam takes its ham training back */
	int dir;
	CHECK_EQ_INT(spam_bayes_learn(st, a.id, 1000, BAYES_SPAM, m, strlen(m), &changed), ST_OK);
	CHECK(changed);
	CHECK_EQ_INT(store_bayes_trained(st, a.id, 1000, &dir), ST_OK);
	CHECK_EQ_INT(dir, BAYES_SPAM);
	CHECK_EQ_INT(store_bayes_counts(st, a.id, NULL, 0, NULL, &s), ST_OK);
	CHECK(s.nspam == BAYES_MIN_TRAINED + 1 && s.nham == BAYES_MIN_TRAINED - 1);
	CHECK_EQ_INT(spam_bayes_learn(st, a.id, 1000, BAYES_HAM, m, strlen(m), &changed), ST_OK);
	CHECK_EQ_INT(store_bayes_counts(st, a.id, NULL, 0, NULL, &s), ST_OK);
	CHECK(s.nspam == BAYES_MIN_TRAINED && s.nham == BAYES_MIN_TRAINED);
	/* the account's data goes with it */
	CHECK_EQ_INT(store_user_del(st, "u@example.test"), ST_OK);
	CHECK_EQ_INT(store_user_add(st, "u@example.test", &cr), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "u@example.test", &a), ST_OK);
	CHECK_EQ_INT(store_bayes_counts(st, a.id, NULL, 0, NULL, &s), ST_OK);
	CHECK(s.nspam == 0 && s.tokens == 0);
	free(h);
	store_close(&st);
	snprintf(m, sizeof m, "rm -rf '%s'", tdir);
	CHECK(system(m) == 0);
}

TEST(store_bound)
{
	/* more than BAYES_TOKENS_MAX distinct tokens: the oldest go */
	struct store *st = NULL;
	char err[256], cmd[128];
	struct cred cr = {0};
	struct account a;
	snprintf(tdir, sizeof tdir, "/tmp/brev-test-bayes.XXXXXX");
	CHECK(mkdtemp(tdir) != NULL);
	CHECK(store_open(&st, tdir, 1 << 28, err, sizeof err) == 0);
	CHECK_EQ_INT(store_user_add(st, "u@example.test", &cr), ST_OK);
	CHECK_EQ_INT(store_user_get(st, "u@example.test", &a), ST_OK);
	size_t per = 20000, rounds = BAYES_TOKENS_MAX / per + 2;
	uint64_t *h = xmalloc(per * sizeof *h);
	struct bayes_stat s;
	for (size_t r = 0; r < rounds; r++) {
		for (size_t i = 0; i < per; i++)
			h[i] = r * per + i + 1;
		int changed;
		CHECK_EQ_INT(store_bayes_train(st, a.id, r + 1, BAYES_SPAM, h, per, &changed),
			     ST_OK);
	}
	CHECK_EQ_INT(store_bayes_counts(st, a.id, NULL, 0, NULL, &s), ST_OK);
	CHECK(s.tokens <= BAYES_TOKENS_MAX && s.tokens > BAYES_TOKENS_MAX / 2);
	CHECK(s.pruned > 0);
	/* the newest round is all there */
	struct bayes_count *c = xmalloc(per * sizeof *c);
	CHECK_EQ_INT(store_bayes_counts(st, a.id, h, per, c, NULL), ST_OK);
	size_t kept = 0;
	for (size_t i = 0; i < per; i++)
		kept += c[i].spam == 1;
	CHECK(kept == per);
	free(c);
	free(h);
	store_close(&st);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
	CHECK(system(cmd) == 0);
}

TEST_MAIN()
