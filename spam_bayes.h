/*
 * spam_bayes.h — the per-account Bayesian classifier (issue 14,
 * docs/spam.md "Learning"). Gary Robinson's method: each token's spam
 * probability from the account's counts, shrunk towards 0.5 for tokens
 * seen rarely (f(w) = (s*x + n*p(w)) / (s + n), s = 1, x = 0.5), then the
 * most telling tokens (at most BAYES_USE_MAX, each at least BAYES_MIN_DEV
 * from 0.5) combined with Fisher's chi-square method into one probability
 * in [0, 1] (0 ham, 1 spam, 0.5 no idea).
 *
 * The classifier speaks only once the account has trained at least
 * BAYES_MIN_TRAINED spam and as many ham messages: before that a few words
 * shared with one spam would push ordinary mail to Junk.
 *
 * As a spam.h test, "BAYES" adds spam_bayes_weight(p) points: 25 * (p -
 * 0.5) above 0.5, at most +10 (Junk at strict from p = 0.62, at normal
 * from 0.7, at lenient from 0.82; refused at strict from 0.9), and
 * 6 * (p - 0.5) below (at least -3). The slope was chosen on the
 * development half of the SpamAssassin corpus (bench/spam), where the
 * chi-square probabilities of ham stay below 0.7 and those of spam are
 * mostly above 0.9.
 */
#ifndef BREV_SPAM_BAYES_H
#define BREV_SPAM_BAYES_H

#include <stddef.h>
#include <stdint.h>

#include "mailbox.h"

#define BAYES_MIN_TRAINED 5
#define BAYES_USE_MAX	  150
#define BAYES_MIN_DEV	  0.1

struct bayes_used {
	uint64_t h; /* token hash */
	double f;   /* its spam probability f(w) */
	uint32_t spam, ham;
};

/* The combined probability of n tokens with counts c (h[i] their hashes,
 * for `used`), given nspam/nham trained messages. used (capacity
 * BAYES_USE_MAX, may be NULL) gets the tokens that counted, most telling
 * first, *nused their number. 0.5 when no token tells anything. */
double spam_bayes_combine(const uint64_t *h, const struct bayes_count *c, size_t n, uint32_t nspam,
			  uint32_t nham, struct bayes_used *used, size_t *nused);
/* Points for the BAYES test from a probability (see above). */
double spam_bayes_weight(double p);

/* Classify for one account: 1 with *p set when the account has trained
 * enough, 0 when the classifier does not speak yet, -1 on a store error
 * (the check then adds nothing). used/nused as spam_bayes_combine. */
int spam_bayes_classify(struct store *st, uint32_t user, const uint64_t *h, size_t n, double *p,
			struct bayes_used *used, size_t *nused);

/* Train a message (its first SPAM_PREFIX_MAX bytes) for an account as
 * BAYES_SPAM or BAYES_HAM under key (mailbox.h's store_bayes_train). */
int spam_bayes_learn(struct store *st, uint32_t user, uint64_t key, int dir, const char *msg,
		     size_t len, int *changed);
/* The same for a stored message, read through store_msg_read; key = blob. */
int spam_bayes_learn_blob(struct store *st, uint32_t user, uint64_t blob, uint64_t size, int dir,
			  int *changed);
/* The first SPAM_PREFIX_MAX bytes of a stored message (malloc'ed). */
char *spam_blob_prefix(struct store *st, uint64_t blob, uint64_t size, size_t *len);
/* The key of a message that is not in the store (`brev spam learn`): a
 * hash of its bytes with the top bit set, never a blob id. */
uint64_t spam_content_key(const char *msg, size_t len);

#endif
