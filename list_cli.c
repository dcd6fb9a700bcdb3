/*
 * list_cli.c — `brev list add|del|show|members|sub|unsub` (docs/lists.md).
 * Everything here is argument checking and wording; the store
 * (mailbox_list.c) decides and refuses.
 */
#include "list_cli.h"
#include "config.h"
#include "dns.h"
#include "list.h"
#include "log.h"
#include "mailbox.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const policies[] = {"open", "confirm", "closed"};
static const char *const postings[] = {"members", "moderated", "anyone", "announce"};

static int pick(const char *opt, const char *v, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return (int)i;
	fatal("list add: %s %s is not one of %s%s%s%s%s%s%s", opt, v, names[0], n > 1 ? ", " : "",
	      n > 1 ? names[1] : "", n > 2 ? ", " : "", n > 2 ? names[2] : "", n > 3 ? ", " : "",
	      n > 3 ? names[3] : "");
}

static _Noreturn void list_usage(void)
{
	fatal("usage: brev list add LIST@DOMAIN [--owner ADDRESS] [--policy open|confirm|closed] "
	      "[--posting members|moderated|anyone|announce] | list del LIST | list show [LIST] | "
	      "list members LIST | list sub|unsub LIST ADDRESS | list held LIST | "
	      "list approve|reject LIST ID");
}

static void print_list(void *arg, const struct list_info *l)
{
	(void)arg;
	printf("%-40s owner %s  policy %s  posting %s  %u member%s\n", l->addr, l->owner,
	       policies[l->policy < 3 ? l->policy : 0], postings[l->posting < 4 ? l->posting : 0],
	       l->members, l->members == 1 ? "" : "s");
}

static void print_member(void *arg, const struct list_member *m)
{
	char when[32];
	struct tm tm;
	time_t t = (time_t)m->since;
	(void)arg;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d", &tm);
	printf("%s  since %s", m->addr, when);
	if (m->bounces)
		printf("  bounces %u", m->bounces);
	printf("%s\n", m->disabled ? "  disabled" : "");
}

/* One line per held post: id, when, sender, subject. */
static void print_held(void *arg, uint64_t id, int64_t created, const char *sender,
		       const char *bytes, size_t n)
{
	char when[32], subj[120] = "";
	struct tm tm;
	time_t t = (time_t)created;
	(void)arg;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
	/* the first Subject field's first line, as it is */
	for (size_t i = 0; i + 8 < n;) {
		const char *e = memchr(bytes + i, '\n', n - i);
		size_t l = e ? (size_t)(e - bytes - i) : n - i;
		if (l <= 1)
			break; /* the end of the header */
		if (!strncasecmp(bytes + i, "Subject:", 8)) {
			size_t k = 0;
			for (size_t j = i + 8; j < i + l && k + 1 < sizeof subj; j++)
				if ((unsigned char)bytes[j] >= ' ' && (k || bytes[j] != ' '))
					subj[k++] = bytes[j];
			subj[k] = 0;
			break;
		}
		i += l + 1;
	}
	printf("%llu  %s  from <%s>  %s\n", (unsigned long long)id, when, sender, subj);
}

static uint64_t held_id(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || v == 0)
		fatal("list: '%s' is not a held post's number (see `brev list held LIST`)", s);
	return (uint64_t)v;
}

static void list_add(struct store *st, const struct config *cfg, int argc, char **argv)
{
	const char *addr = argv[2], *at = strrchr(addr, '@');
	char owner[STORE_ADDR_MAX + 1] = "";
	int policy = LIST_CONFIRM, posting = LIST_POST_MEMBERS, rc;
	struct list_clash clash;

	if (!at || at == addr || !config_domain_is_local(cfg, at + 1))
		fatal("list add: '%s': a list must be name@domain of a local domain (domains = %s)",
		      addr, cfg->domains);
	for (int i = 3; i < argc; i++) {
		if (i + 1 >= argc)
			fatal("list add: %s needs a value", argv[i]);
		if (!strcmp(argv[i], "--owner"))
			str_copy(owner, argv[++i], sizeof owner);
		else if (!strcmp(argv[i], "--policy"))
			policy = pick("--policy", argv[++i], policies, ARRAY_LEN(policies));
		else if (!strcmp(argv[i], "--posting"))
			posting = pick("--posting", argv[++i], postings, ARRAY_LEN(postings));
		else
			fatal("list add: unknown option '%s'", argv[i]);
	}
	if (!owner[0])
		snprintf(owner, sizeof owner, "postmaster%s", at);
	rc = store_list_add(st, addr, owner, policy, posting, &clash);
	if (rc == ST_EXISTS && !strcmp(clash.what, "an alias"))
		fatal("list add: %s is already an alias (a distribution alias is not turned into a "
		      "list: `brev alias list` shows its members; delete it with `brev alias del %s` "
		      "and subscribe them with `brev list sub`); nothing changed",
		      clash.addr, clash.addr);
	if (rc == ST_EXISTS)
		fatal("list add: %s is already %s; nothing changed", clash.addr, clash.what);
	if (rc == ST_INVALID)
		fatal("list add: '%s' or owner '%s' is not a usable address (no '+' in a list's "
		      "name, room for -bounces)",
		      addr, owner);
	if (rc)
		fatal("list add %s: %s", addr, store_strerror(rc));
	printf("list %s created: owner %s, policy %s, posting %s\n", addr, owner, policies[policy],
	       postings[posting]);
}

int list_cli(struct store *st, const struct config *cfg, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	int rc, flag;

	if (!strcmp(sub, "add") && argc >= 3) {
		list_add(st, cfg, argc, argv);
	} else if (!strcmp(sub, "del") && argc == 3) {
		if ((rc = store_list_del(st, argv[2])) == ST_NOTFOUND || rc == ST_INVALID)
			fatal("list del: there is no list %s", argv[2]);
		if (rc)
			fatal("list del %s: %s", argv[2], store_strerror(rc));
		printf("list %s deleted with its members\n", argv[2]);
	} else if (!strcmp(sub, "show") && argc == 2) {
		if ((rc = store_list_each(st, print_list, NULL)))
			fatal("list show: %s", store_strerror(rc));
	} else if (!strcmp(sub, "show") && argc == 3) {
		struct list_info li;
		if ((rc = store_list_get(st, argv[2], &li)) == ST_NOTFOUND || rc == ST_INVALID)
			fatal("list show: there is no list %s", argv[2]);
		if (rc)
			fatal("list show %s: %s", argv[2], store_strerror(rc));
		print_list(NULL, &li);
	} else if (!strcmp(sub, "members") && argc == 3) {
		if ((rc = store_list_members(st, argv[2], print_member, NULL)) == ST_NOTFOUND ||
		    rc == ST_INVALID)
			fatal("list members: there is no list %s", argv[2]);
		if (rc)
			fatal("list members %s: %s", argv[2], store_strerror(rc));
	} else if (!strcmp(sub, "sub") && argc == 4) {
		rc = store_list_sub(st, argv[2], argv[3], &flag);
		if (rc == ST_NOTFOUND)
			fatal("list sub: there is no list %s", argv[2]);
		if (rc == ST_INVALID)
			fatal("list sub: '%s' or '%s' is not an address like name@domain", argv[2],
			      argv[3]);
		if (rc)
			fatal("list sub %s %s: %s", argv[2], argv[3], store_strerror(rc));
		printf(flag ? "subscribed %s to %s\n" : "%s is already a member of %s (enabled)\n",
		       argv[3], argv[2]);
	} else if (!strcmp(sub, "unsub") && argc == 4) {
		rc = store_list_unsub(st, argv[2], argv[3], &flag);
		if (rc == ST_NOTFOUND && !flag)
			fatal("list unsub: there is no list %s", argv[2]);
		if (rc == ST_NOTFOUND)
			fatal("list unsub: %s is not a member of %s", argv[3], argv[2]);
		if (rc == ST_INVALID)
			fatal("list unsub: '%s' or '%s' is not an address like name@domain", argv[2],
			      argv[3]);
		if (rc)
			fatal("list unsub %s %s: %s", argv[2], argv[3], store_strerror(rc));
		printf("unsubscribed %s from %s\n", argv[3], argv[2]);
	} else if (!strcmp(sub, "held") && argc == 3) {
		struct list_info li;
		if ((rc = store_list_get(st, argv[2], &li)) != ST_OK)
			fatal("list held: there is no list %s", argv[2]);
		if ((rc = store_list_held_each(st, argv[2], print_held, NULL)))
			fatal("list held %s: %s", argv[2], store_strerror(rc));
	} else if (!strcmp(sub, "approve") && argc == 4) {
		char err[300], why[512] = "";
		uint64_t id = held_id(argv[3]);
		/* the DMARC look-up of the author's domain needs the resolver */
		if (dns_init(cfg->dns_resolver, err, sizeof err) < 0)
			fatal("list approve: %s", err);
		if (list_approve(st, cfg, argv[2], id, why, sizeof why) < 0)
			fatal("list approve %s %s: %s", argv[2], argv[3], why);
		printf("post %s sent to the members of %s\n", argv[3], argv[2]);
	} else if (!strcmp(sub, "reject") && argc == 4) {
		uint64_t id = held_id(argv[3]);
		if ((rc = store_list_held_del(st, argv[2], id)) == ST_NOTFOUND)
			fatal("list reject: %s has no held post %s", argv[2], argv[3]);
		if (rc)
			fatal("list reject %s %s: %s", argv[2], argv[3], store_strerror(rc));
		printf("post %s to %s dropped\n", argv[3], argv[2]);
	} else {
		list_usage();
	}
	return 0;
}
