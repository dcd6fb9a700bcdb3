/*
 * list_cli.c — `brev list add|del|show|members|sub|unsub` (docs/lists.md).
 * Everything here is argument checking and wording; the store
 * (mailbox_list.c) decides and refuses.
 */
#include "list_cli.h"
#include "config.h"
#include "log.h"
#include "mailbox.h"
#include "util.h"

#include <stdio.h>
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
	      "list members LIST | list sub|unsub LIST ADDRESS");
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
	} else {
		list_usage();
	}
	return 0;
}
