/*
 * spam.h — the inbound content filter's framework (issue 14, docs/spam.md):
 * a message's spam score is the sum of the weights of named tests that
 * fired; one table maps each strength (off, lenient, normal, strict) to a
 * Junk and a reject threshold; the SMTP server asks for each recipient's
 * action and writes the X-Spam-Score / X-Spam-Status fields.
 *
 * How a check plugs in (DNSBL, URIBL, greylisting hints, the Bayesian
 * classifier, clamd, ...): it computes its own evidence and calls
 *     spam_add(res, "NAME", weight);
 * once per test that fired. NAME is an upper-case word ([A-Z0-9_], at most
 * SPAM_NAME_MAX bytes, copied) that users see in X-Spam-Status and docs/
 * spam.md lists; weight is in points (negative for evidence of ham).
 * Checks that run before DATA (connect, HELO) add to the session's result
 * and spam_content() adds the content tests to the same result, so the
 * final score is one sum. A check must never fail the message: when it
 * cannot decide (time-out, DNS error) it adds nothing. spam_add keeps the
 * first SPAM_TESTS_MAX tests and still sums the weight of later ones.
 *
 * Thread rules: everything here is pure (no globals but the constant
 * tables); a spam_result belongs to one session.
 */
#ifndef BREV_SPAM_H
#define BREV_SPAM_H

#include <stddef.h>
#include <string.h>

struct spool;

/* Account setting 0 means "what brev.conf's spam.strength says". */
enum spam_strength {
	SPAM_DEFAULT = 0,
	SPAM_OFF,
	SPAM_LENIENT,
	SPAM_NORMAL,
	SPAM_STRICT,
};

/* "off", "lenient", "normal", "strict" (and "default" when allow_default)
 * -> enum spam_strength; -1 for anything else. Inline so config.c's unit
 * test needs no spam.o. */
static inline int spam_strength_parse(const char *s, int allow_default)
{
	static const char *const names[] = {"default", "off", "lenient", "normal", "strict"};
	for (int i = allow_default ? 0 : 1; i < 5; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}
const char *spam_strength_name(int strength);

enum spam_action {
	SPAM_INBOX = 0, /* deliver as usual */
	SPAM_JUNK,	/* into the account's \Junk mailbox */
	SPAM_REJECT,	/* 550 5.7.1 before the message is accepted */
};

#define SPAM_NAME_MAX  23
#define SPAM_TESTS_MAX 32

struct spam_test {
	char name[SPAM_NAME_MAX + 1];
	double weight;
};

struct spam_result {
	double score; /* sum of every weight added */
	size_t n;     /* tests kept in tests[] */
	struct spam_test tests[SPAM_TESTS_MAX];
};

/* Record that test `name` fired with `weight` points (see above). */
void spam_add(struct spam_result *r, const char *name, double weight);
/* 1 if test `name` is among r's tests. */
int spam_fired(const struct spam_result *r, const char *name);

/* The thresholds of one strength, in points: Junk when score >= junk,
 * 550 when score >= reject; a threshold of SPAM_NEVER never triggers. */
#define SPAM_NEVER 1e9
struct spam_level {
	double junk, reject;
};
/* The table of docs/spam.md. strength must be SPAM_OFF..SPAM_STRICT. */
const struct spam_level *spam_level(int strength);
/* enum spam_action for a score at a strength (SPAM_OFF: always INBOX). */
int spam_action(int strength, double score);

/* The content checks (weights in spam.c's table, documented in docs/
 * spam.md), adding to r:
 *   GTUBE             the GTUBE test string anywhere in the prefix read
 *   MISSING_MID       no Message-ID field
 *   MISSING_DATE      no Date field
 *   FROM_NAME_ADDR    the From display name is an address of another domain
 *   EXE_ATTACHMENT    an attachment whose name or type is a program
 *   SPF_FAIL, SPF_SOFTFAIL, DKIM_FAIL, DMARC_FAIL, DMARC_PASS
 *                     from auth_summary, authres.c's "spf=... dkim=...
 *                     dmarc=..." (NULL or "" when not checked)
 * sp is the message as received (header and body, no trace fields of
 * ours). Only the first SPAM_PREFIX_MAX bytes are read, whatever the size;
 * malformed MIME gives what a forgiving reader sees, never an error. */
#define SPAM_PREFIX_MAX (512u * 1024u)
void spam_content(struct spool *sp, const char *auth_summary, struct spam_result *r);
/* The first SPAM_PREFIX_MAX bytes of sp (malloc'ed, NUL-terminated), the
 * part every check reads; *len its length. */
char *spam_prefix(struct spool *sp, size_t *len);
/* The same over a message in memory (unit tests, fuzzing, `brev spam`). */
void spam_content_mem(const char *msg, size_t len, const char *auth_summary, struct spam_result *r);

/* "X-Spam-Score: 5.5\r\nX-Spam-Status: score=5.5 tests=A(1.0),B(4.5)\r\n"
 * (folded below 78 columns; tests that did not fit SPAM_TESTS_MAX are
 * summed in the score only). Returns malloc'ed text. */
char *spam_fields(const struct spam_result *r);

/* The decision for several recipients, one strength and one score each
 * (strengths resolved: no SPAM_DEFAULT; scores differ when a recipient's
 * own classifier adds to the common tests). actions[i] gets each one's
 * action. Returns
 * SPAM_REJECT only when every recipient would reject; then the message is
 * refused as a whole. Otherwise no actions[i] is SPAM_REJECT: a recipient
 * that would reject gets SPAM_JUNK (others keep the message, so this one
 * is not refused a copy it would have rejected: it lands in Junk). */
int spam_decide(const int *strengths, const double *scores, size_t n, int *actions);

#endif
