/*
 * bench/sieve_eval.c — cost of one Sieve evaluation (issue 19: a 30-rule
 * script under 50 µs per message). Compiles SCRIPT once, then runs it on
 * each MESSAGE file ROUNDS times and prints the median, mean and best round's
 * µs per evaluation. Built and run by bench/sieve.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sieve.h"
#include "util.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: sieve_eval ROUNDS SCRIPT MESSAGE...\n");
		return 2;
	}
	int rounds = atoi(argv[1]);
	size_t slen;
	char *src = file_read(argv[2], SIEVE_SCRIPT_MAX, &slen);
	struct sieve_script *s;
	char err[256];
	if (!src || sieve_compile(src, slen, &s, err, sizeof err)) {
		fprintf(stderr, "%s: %s\n", argv[2], src ? err : "cannot read");
		return 1;
	}
	int nm = argc - 3;
	char **msgs = calloc(nm, sizeof *msgs);
	size_t *lens = calloc(nm, sizeof *lens);
	for (int i = 0; i < nm; i++)
		if (!(msgs[i] = file_read(argv[3 + i], 1 << 24, &lens[i]))) {
			fprintf(stderr, "cannot read %s\n", argv[3 + i]);
			return 1;
		}
	double best = 1e30, total = 0;
	long n = 0;
	double *per_round = calloc(rounds, sizeof *per_round);
	for (int r = 0; r < rounds; r++) {
		double t0 = now_us();
		for (int i = 0; i < nm; i++) {
			struct sieve_msg m = {.data = msgs[i],
					      .len = lens[i],
					      .env_from = "alice@a.test",
					      .env_to = "user+tag@example.test",
					      .user = "user@example.test"};
			struct sieve_env env = {.now = 1796688000};
			struct sieve_result res;
			sieve_run(s, &m, &env, &res);
			sieve_result_free(&res);
		}
		double per = (now_us() - t0) / nm;
		total += per;
		per_round[n++] = per;
		if (per < best)
			best = per;
	}
	qsort(per_round, n, sizeof *per_round, cmp_double);
	printf("%d messages x %d rounds: median %.1f us, mean %.1f us, best round %.1f us per "
	       "evaluation\n",
	       nm, rounds, per_round[n / 2], total / n, best);
	return 0;
}
