/*
 * harness.h — the unit-test harness. A test file defines tests with
 *   TEST(name) { CHECK(x == 1); CHECK_EQ_STR(a, "b"); }
 * and ends with TEST_MAIN(). Each test prints "PASS name" or "FAIL name";
 * tests/run.sh counts them. A test stops at its first failed check.
 * SKIP("why") ends a test that cannot run here ("SKIP name: why"): run.sh
 * prints it as a skip, which fails the run under CI=true. Never skip for
 * something tools/deps.sh can install without saying so.
 * Build line: the file names the objects it links with, as
 *   / * deps: config log util * /   (without the spaces)
 */
#ifndef BREV_HARNESS_H
#define BREV_HARNESS_H

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST_MAX 512
static struct test_case test_cases[TEST_MAX];
static int test_ncases;
static jmp_buf test_jmp;
static char test_why[512];
static int test_idx;

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	__attribute__((constructor)) static void test_reg_##name(void)                             \
	{                                                                                          \
		if (test_ncases < TEST_MAX)                                                        \
			test_cases[test_ncases++] = (struct test_case){#name, test_##name};        \
	}                                                                                          \
	static void test_##name(void)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf(test_why, sizeof test_why, "%s:%d: CHECK(%s)", __FILE__,          \
				 __LINE__, #cond);                                                 \
			longjmp(test_jmp, 1);                                                      \
		}                                                                                  \
	} while (0)

#define SKIP(why)                                                                                  \
	do {                                                                                       \
		snprintf(test_why, sizeof test_why, "%s", (why));                                  \
		longjmp(test_jmp, 2);                                                              \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_) {                                                                    \
			snprintf(test_why, sizeof test_why, "%s:%d: %s == %lld, expected %lld",    \
				 __FILE__, __LINE__, #a, a_, b_);                                  \
			longjmp(test_jmp, 1);                                                      \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                           \
			snprintf(test_why, sizeof test_why,                                        \
				 "%s:%d: %s == \"%.200s\", expected \"%.200s\"", __FILE__,         \
				 __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
			longjmp(test_jmp, 1);                                                      \
		}                                                                                  \
	} while (0)

#define TEST_MAIN()                                                                                \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		static int passed, failed, skipped;                                                \
		setvbuf(stdout, NULL, _IOLBF, 0);                                                  \
		for (test_idx = 0; test_idx < test_ncases; test_idx++) {                           \
			if (argc > 1 && strcmp(argv[1], test_cases[test_idx].name) != 0)           \
				continue;                                                          \
			/* setjmp only as a switch's controlling expression (C11 7.13.1.1) */      \
			switch (setjmp(test_jmp)) {                                                \
			case 0:                                                                    \
				test_cases[test_idx].fn();                                         \
				printf("PASS %s\n", test_cases[test_idx].name);                    \
				passed++;                                                          \
				break;                                                             \
			case 2:                                                                    \
				printf("SKIP %s: %s\n", test_cases[test_idx].name, test_why);      \
				skipped++;                                                         \
				break;                                                             \
			default:                                                                   \
				printf("FAIL %s: %s\n", test_cases[test_idx].name, test_why);      \
				failed++;                                                          \
			}                                                                          \
		}                                                                                  \
		printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);             \
		return failed ? 1 : 0;                                                             \
	}

#endif
