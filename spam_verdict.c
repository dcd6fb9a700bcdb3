/*
 * spam_verdict.c — one message's spam verdict for its recipients
 * (spam_verdict.h). What is per account lives here because it reads the
 * store: the Bayes classifier (spam_bayes.c), known senders (greylisting's
 * table) and the allow/block lists; spam.c's tests and tables are pure.
 *
 * The copies share one stored message, so the fields show BAYES,
 * KNOWN_SENDER and the lists only when one local account gets it (other
 * recipients must not learn about each other); each account's own score
 * still decides its copy.
 */
#include "spam_verdict.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "dnsbl.h"
#include "log.h"
#include "mailbox.h"
#include "spam_bayes.h"
#include "spam_token.h"
#include "util.h"

/* A ham bias for mail from someone the account wrote to (docs/spam.md):
 * the envelope sender is a known pair of the account's address, recorded
 * when the user sent them a message over submission. A store error is no
 * bias. */
#define KNOWN_SENDER_POINTS (-3.0)
/* The account's own lists (docs/spam.md): beyond any other evidence. */
#define ALLOW_LIST_POINTS (-100.0)
#define BLOCK_LIST_POINTS 100.0

static int known_sender(const struct spam_verdict_in *in, uint32_t user)
{
	struct account a;
	int known = 0;
	if (!in->from[0] || store_user_get_id(in->st, user, &a) != ST_OK)
		return 0;
	return store_grey_known(in->st, a.addr, in->from, (int64_t)time(NULL), &known) == ST_OK &&
	       known;
}

void spam_verdict(const struct spam_verdict_in *in, struct spool *body, struct spam_verdict *out)
{
	size_t nu = in->nusers, n = nu + (in->ext > 0), on = 0, nj = 0, plen, nh;
	int *str = xcalloc(n ? n : 1, sizeof *str), *act = xcalloc(n ? n : 1, sizeof *act);
	double *score = xcalloc(n ? n : 1, sizeof *score), *bayes = xcalloc(n ? n : 1, sizeof *bayes);
	int *list = xcalloc(n ? n : 1, sizeof *list);
	int nbayes = 0, nknown = 0;
	uint64_t *h = NULL;
	char *pre = NULL;
	struct spam_result r = {0};
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		struct account a;
		str[i] = in->cfg->spam_strength;
		if (i < nu && store_user_get_id(in->st, in->users[i], &a) == ST_OK && a.spam)
			str[i] = a.spam;
		on += str[i] != SPAM_OFF;
	}
	if (!on)
		goto done;
	out->on = 1;
	if (in->pre)
		r = *in->pre;
	pre = spam_prefix(body, &plen);
	spam_content_mem(pre, plen, in->auth_summary, &r);
	uribl_check(in->cfg->spam_uribl, pre, plen, in->id, &r);
	nh = spam_token_hashes(pre, plen, &h);
	for (size_t i = 0; i < n; i++) {
		double p;
		int kind = 0;
		score[i] = r.score;
		if (i >= nu || str[i] == SPAM_OFF)
			continue;
		if (known_sender(in, in->users[i])) {
			score[i] += KNOWN_SENDER_POINTS;
			nknown++;
		}
		if (store_spam_list_match(in->st, in->users[i], in->from, &kind) == ST_OK && kind) {
			list[i] = kind;
			score[i] += kind == SPAM_LIST_ALLOW ? ALLOW_LIST_POINTS : BLOCK_LIST_POINTS;
			log_info("%s id=%s spam user=%u sender on its %s list", in->who, in->id,
				 in->users[i], kind == SPAM_LIST_ALLOW ? "allow" : "block");
		}
		if (spam_bayes_classify(in->st, in->users[i], h, nh, &p, NULL, NULL) == 1) {
			bayes[i] = spam_bayes_weight(p);
			score[i] += bayes[i];
			nbayes++;
			log_info("%s id=%s spam user=%u bayes=%.3f", in->who, in->id, in->users[i], p);
		}
	}
	if (nu == 1 && nbayes == 1)
		spam_add(&r, "BAYES", bayes[0]);
	if (nu == 1 && nknown == 1)
		spam_add(&r, "KNOWN_SENDER", KNOWN_SENDER_POINTS);
	if (nu == 1 && list[0])
		spam_add(&r, list[0] == SPAM_LIST_ALLOW ? "ALLOW_LIST" : "BLOCK_LIST",
			 list[0] == SPAM_LIST_ALLOW ? ALLOW_LIST_POINTS : BLOCK_LIST_POINTS);
	out->fields = spam_fields(&r);
	char *tests = xstrdup(strstr(out->fields, "tests=")), *w = tests;
	/* the log line: the X-Spam-Status value without its folding */
	for (const char *p = tests; *p; p++)
		if (*p != '\r' && *p != '\n' && *p != '\t')
			*w++ = *p;
	*w = 0;
	log_info("%s id=%s spam score=%.1f %s", in->who, in->id, r.score, tests);
	free(tests);
	if (spam_decide(str, score, n, act) == SPAM_REJECT) {
		out->reject = 1;
		out->reject_score = n == 1 ? score[0] : r.score;
		goto done;
	}
	for (size_t i = 0; i < nu; i++)
		nj += act[i] == SPAM_JUNK;
	if (nj) {
		out->junk = xcalloc(nu, 1);
		for (size_t i = 0; i < nu; i++)
			out->junk[i] = act[i] == SPAM_JUNK;
		log_info("%s id=%s spam: %zu of %zu local copies to Junk", in->who, in->id, nj, nu);
	}
done:
	free(pre);
	free(h);
	free(str);
	free(act);
	free(score);
	free(bayes);
	free(list);
}

void spam_verdict_free(struct spam_verdict *v)
{
	free(v->fields);
	free(v->junk);
	memset(v, 0, sizeof *v);
}
