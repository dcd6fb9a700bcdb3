/*
 * bench/spam/check.c — the whole content check of brev's spam filter on
 * files, timed in-process: for each FILE, the content tests (spam.c), the
 * tokenizer and the account's classifier (spam_bayes.c against DATADIR's
 * store), exactly what smtp.c's spam_filter runs per message and
 * recipient. Prints "score bayes_p FILE" per file, then the CPU seconds of
 * the checks alone (reading the files excluded) on stderr as "cpu N".
 *   bench_spamcheck DATADIR ADDRESS FILE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailbox.h"
#include "spam.h"
#include "spam_bayes.h"
#include "spam_token.h"
#include "util.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct store *st = NULL;
	struct account a;
	char err[256] = "";
	if (argc < 4) {
		fprintf(stderr, "usage: bench_spamcheck DATADIR ADDRESS FILE...\n");
		return 1;
	}
	if (store_open(&st, argv[1], 1ULL << 30, err, sizeof err) < 0 ||
	    store_user_get(st, argv[2], &a) != ST_OK) {
		fprintf(stderr, "cannot open the store of %s or find %s: %s\n", argv[1], argv[2], err);
		return 1;
	}
	double total = 0;
	for (int i = 3; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f)
			continue;
		char *buf = xmalloc(SPAM_PREFIX_MAX + 1);
		size_t n = fread(buf, 1, SPAM_PREFIX_MAX, f);
		fclose(f);
		double t0 = cpu_now();
		struct spam_result r = {0};
		uint64_t *h;
		double p = 0.5;
		spam_content_mem(buf, n, NULL, &r);
		size_t nh = spam_token_hashes(buf, n, &h);
		if (spam_bayes_classify(st, a.id, h, nh, &p, NULL, NULL) == 1)
			spam_add(&r, "BAYES", spam_bayes_weight(p));
		total += cpu_now() - t0;
		printf("%.2f %.4f %s\n", r.score, p, argv[i]);
		free(h);
		free(buf);
	}
	fprintf(stderr, "cpu %.6f\n", total);
	store_close(&st);
	return 0;
}
