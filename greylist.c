/*
 * greylist.c — the greylisting decision (greylist.h, docs/spam.md).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "greylist.h"
#include "log.h"
#include "mailbox.h"
#include "spam.h"

int greylist_net(const char *ip, char *out, size_t cap)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET, ip, a) == 1) {
		snprintf(out, cap, "%u.%u.%u.0/24", a[0], a[1], a[2]);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a, mapped, 12) == 0) {
		snprintf(out, cap, "%u.%u.%u.0/24", a[12], a[13], a[14]);
		return 0;
	}
	memset(a + 8, 0, 8);
	inet_ntop(AF_INET6, a, txt, sizeof txt);
	snprintf(out, cap, "%s/64", txt);
	return 0;
}

static int strength_on(int strength)
{
	return strength == SPAM_NORMAL || strength == SPAM_STRICT;
}

int greylist_rcpt(struct store *st, const struct config *cfg, const char *id, const char *peer,
		  const char *from, const char *rcpt, const struct resolved *r)
{
	char net[64];
	int on = 0, verdict;
	if (cfg->spam_greylist_delay <= 0 || strcmp(peer, "127.0.0.1") == 0 ||
	    strcmp(peer, "::1") == 0 || strcmp(peer, "::ffff:127.0.0.1") == 0 ||
	    greylist_net(peer, net, sizeof net) < 0)
		return 0;
	for (size_t i = 0; i < r->nusers && !on; i++) {
		struct account a;
		int s = cfg->spam_strength;
		if (store_user_get_id(st, r->users[i], &a) == ST_OK && a.spam)
			s = a.spam;
		int kind = 0;
		on = strength_on(s) &&
		     !(store_spam_list_match(st, r->users[i], from, &kind) == ST_OK &&
		       kind == SPAM_LIST_ALLOW); /* an allowed sender is never delayed */
	}
	if (r->nusers == 0)
		on = strength_on(cfg->spam_strength);
	if (!on)
		return 0;
	int rc = store_grey_check(st, net, from, rcpt, (int64_t)time(NULL), cfg->spam_greylist_delay,
				  &verdict);
	if (rc != ST_OK) {
		log_warn("smtp id=%s greylist: store error (%s); not delayed", id, store_strerror(rc));
		return 0;
	}
	if (verdict != GREY_WAIT)
		log_info("smtp id=%s greylist %s net=%s from=<%s> to=<%s>", id,
			 verdict == GREY_KNOWN ? "known" : "pass", net, from, rcpt);
	return verdict == GREY_WAIT;
}
