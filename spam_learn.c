/*
 * spam_learn.c — training from IMAP actions and `brev spam` (spam_learn.h).
 */
#include "spam_learn.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "mailbox.h"
#include "spam.h"
#include "spam_bayes.h"
#include "spam_token.h"
#include "util.h"

static void learn_uids(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		       size_t n, int dir)
{
	size_t done = 0, same = 0;
	if (n > SPAM_LEARN_MAX) {
		/* each training is a synced commit: a client moving thousands
		 * of messages must not wait minutes for its OK */
		log_info("spam learn user=%u mailbox=%s: %zu messages, training the first %d "
			 "(`brev spam learn` takes the rest)",
			 user, mbox, n, SPAM_LEARN_MAX);
		n = SPAM_LEARN_MAX;
	}
	for (size_t i = 0; i < n; i++) {
		struct msg_info mi;
		int changed = 0;
		if (!uids[i] || store_msg_get(st, user, mbox, uids[i], &mi) != ST_OK)
			continue;
		int rc = spam_bayes_learn_blob(st, user, mi.blob, mi.size, dir, &changed);
		if (rc != ST_OK) {
			log_warn("spam learn user=%u mailbox=%s uid=%u failed: %s", user, mbox,
				 uids[i], store_strerror(rc));
			continue;
		}
		done += changed;
		same += !changed;
	}
	if (done || same)
		log_info("spam learn user=%u mailbox=%s as=%s trained=%zu already=%zu", user, mbox,
			 dir == BAYES_SPAM ? "spam" : "ham", done, same);
}

void spam_learn_copy(struct store *st, uint32_t user, const char *src, const char *dst,
		     const uint32_t *dst_uids, size_t n)
{
	struct mbox_info s, d;
	if (!src || store_mbox_get(st, user, dst, &d) != ST_OK ||
	    store_mbox_get(st, user, src, &s) != ST_OK)
		return;
	if (d.special == MBOX_JUNK && s.special != MBOX_JUNK)
		learn_uids(st, user, dst, dst_uids, n, BAYES_SPAM);
	else if (s.special == MBOX_JUNK && d.special != MBOX_JUNK && d.special != MBOX_TRASH)
		learn_uids(st, user, dst, dst_uids, n, BAYES_HAM);
}

void spam_learn_keywords(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
			 size_t n, const char *const *kw, size_t nkw)
{
	int spam = 0, ham = 0;
	for (size_t i = 0; i < nkw; i++) {
		spam |= !str_casecmp_ascii(kw[i], "$Junk") || !str_casecmp_ascii(kw[i], "Junk");
		ham |=
		    !str_casecmp_ascii(kw[i], "$NotJunk") || !str_casecmp_ascii(kw[i], "NonJunk");
	}
	if (spam != ham) /* both at once says nothing */
		learn_uids(st, user, mbox, uids, n, spam ? BAYES_SPAM : BAYES_HAM);
}

/* ---- brev spam ---- */

static uint32_t account_id(struct store *st, const char *addr)
{
	struct account a;
	int rc = store_user_get(st, addr, &a);
	if (rc == ST_NOTFOUND)
		fatal("no account %s", addr);
	if (rc)
		fatal("%s: %s", addr, store_strerror(rc));
	return a.id;
}

struct learn_ctx {
	struct store *st;
	uint32_t user;
	int dir;
	size_t trained, already, failed;
};

static void learn_one(struct learn_ctx *c, const char *msg, size_t len)
{
	int changed = 0;
	if (len == 0)
		return;
	int rc = spam_bayes_learn(c->st, c->user, spam_content_key(msg, len), c->dir, msg, len,
				  &changed);
	if (rc != ST_OK)
		c->failed++;
	else if (changed)
		c->trained++;
	else
		c->already++;
}

/* A file read line by line: an mbox ("From " lines separate messages;
 * ">From " unescaped as mboxrd writes it) or one message. Each message is
 * kept to its first SPAM_PREFIX_MAX bytes, so any file size is fine. */
static void learn_file(struct learn_ctx *c, const char *path, int maildir_file)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fatal("cannot open %s", path);
	struct sbuf m = {0};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int first = 1, mbox = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (first && !maildir_file && n >= 5 && !memcmp(line, "From ", 5)) {
			mbox = 1;
			first = 0;
			continue;
		}
		first = 0;
		if (mbox && n >= 5 && !memcmp(line, "From ", 5)) {
			learn_one(c, m.p, m.len);
			m.len = 0;
			continue;
		}
		const char *l = line;
		if (mbox && n >= 6 && line[0] == '>' && strspn(line, ">") < (size_t)n &&
		    !memcmp(line + strspn(line, ">"), "From ", 5)) {
			l++;
			n--;
		}
		if (m.len + (size_t)n <= SPAM_PREFIX_MAX) {
			/* CRLF as in the store, whatever the file has */
			size_t k = (size_t)n;
			while (k && (l[k - 1] == '\n' || l[k - 1] == '\r'))
				k--;
			sbuf_add(&m, l, k);
			sbuf_add(&m, "\r\n", 2);
		}
	}
	learn_one(c, m.p, m.len);
	free(line);
	sbuf_free(&m);
	fclose(f);
}

static void learn_dir(struct learn_ctx *c, const char *path)
{
	static const char *const sub[] = {"cur", "new"};
	for (size_t i = 0; i < ARRAY_LEN(sub); i++) {
		char d[4096];
		snprintf(d, sizeof d, "%s/%s", path, sub[i]);
		DIR *dir = opendir(d);
		if (!dir)
			continue;
		struct dirent *e;
		while ((e = readdir(dir))) {
			char p[8192];
			struct stat sb;
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/%s", d, e->d_name);
			if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
				learn_file(c, p, 1);
		}
		closedir(dir);
	}
}

static void when(char *out, size_t cap, int64_t t)
{
	if (!t) {
		snprintf(out, cap, "never");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void print_list(void *arg, int kind, const char *pattern)
{
	(void)arg;
	printf("%-16s %s\n", kind == SPAM_LIST_ALLOW ? "allow" : "block", pattern);
}

static int cli_status(struct store *st, const char *addr)
{
	struct bayes_stat s = {0};
	struct account a;
	uint32_t user = account_id(st, addr);
	if (store_bayes_counts(st, user, NULL, 0, NULL, &s) != ST_OK ||
	    store_user_get(st, addr, &a) != ST_OK)
		fatal("%s: cannot read the token database", addr);
	char ls[64], lh[64];
	when(ls, sizeof ls, s.last_spam);
	when(lh, sizeof lh, s.last_ham);
	printf("account          %s\n", addr);
	printf("strength         %s\n",
	       a.spam ? spam_strength_name(a.spam) : "default (brev.conf)");
	printf("trained spam     %u (last %s)\n", s.nspam, ls);
	printf("trained ham      %u (last %s)\n", s.nham, lh);
	printf("tokens           %u (at most %u; %llu dropped as least recently trained)\n",
	       s.tokens, (unsigned)BAYES_TOKENS_MAX, (unsigned long long)s.pruned);
	if (s.nspam >= BAYES_MIN_TRAINED && s.nham >= BAYES_MIN_TRAINED)
		printf("classifier       active\n");
	else
		printf("classifier       learning: needs %d spam and %d ham messages before it "
		       "scores\n",
		       BAYES_MIN_TRAINED, BAYES_MIN_TRAINED);
	if (store_spam_list_each(st, user, print_list, NULL) != ST_OK)
		fatal("%s: cannot read the allow and block lists", addr);
	return 0;
}

/* brev spam allow|block|unlist ADDRESS PATTERN */
static int cli_list(struct store *st, const char *sub, const char *addr, const char *pattern)
{
	uint32_t user = account_id(st, addr);
	int on = strcmp(sub, "unlist") != 0;
	int kind = !strcmp(sub, "allow") ? SPAM_LIST_ALLOW : SPAM_LIST_BLOCK;
	char pat[STORE_ADDR_MAX + 1];
	if (spam_list_pattern(pattern, pat, sizeof pat) < 0)
		fatal("spam %s: '%s' is not an address (name@example.org) or a domain (example.org)",
		      sub, pattern);
	switch (store_spam_list_set(st, user, kind, pattern, on)) {
	case ST_OK:
		break;
	case ST_NOTFOUND:
		fatal("spam unlist: %s is on neither list of %s", pat, addr);
	case ST_LIMIT:
		fatal("spam %s: %s's lists hold %d patterns already", sub, addr, SPAM_LIST_MAX);
	default:
		fatal("spam %s: cannot write the store", sub);
	}
	if (on)
		printf("%s: %s %s\n", addr, !strcmp(sub, "allow") ? "allows" : "blocks",
		       pat);
	else
		printf("%s: %s taken off its list\n", addr, pat);
	return 0;
}

struct why_names {
	const struct bayes_used *u;
	size_t n;
	char (*text)[48];
};

static void why_name(void *arg, const char *tok, size_t n)
{
	struct why_names *w = arg;
	uint64_t h = spam_token_hash(tok, n);
	for (size_t i = 0; i < w->n; i++)
		if (w->u[i].h == h && !w->text[i][0])
			snprintf(w->text[i], sizeof w->text[i], "%.*s", (int)(n < 47 ? n : 47),
				 tok);
}

static int cli_why(struct store *st, const char *addr, const char *uidtxt, const char *mbox)
{
	uint32_t user = account_id(st, addr);
	char *end;
	unsigned long uid = strtoul(uidtxt, &end, 10);
	struct msg_info mi;
	if (!*uidtxt || *end || uid == 0 || uid > UINT32_MAX)
		fatal("spam why: '%s' is not a UID", uidtxt);
	int rc = store_msg_get(st, user, mbox, (uint32_t)uid, &mi);
	if (rc == ST_NOTFOUND)
		fatal("spam why: no message with UID %lu in %s of %s", uid, mbox, addr);
	if (rc)
		fatal("spam why: %s", store_strerror(rc));
	size_t len;
	char *msg = spam_blob_prefix(st, mi.blob, mi.size, &len);
	/* what delivery wrote */
	const char *hend = memmem(msg, len, "\r\n\r\n", 4);
	size_t hl = hend ? (size_t)(hend - msg) : len;
	const char *xs = NULL;
	for (const char *p = msg; p && p < msg + hl;) {
		if ((p == msg || p[-1] == '\n') && !strncasecmp(p, "X-Spam-Status:", 14)) {
			xs = p;
			break;
		}
		p = memchr(p, '\n', (size_t)(msg + hl - p));
		p = p ? p + 1 : NULL;
	}
	printf("message          UID %lu in %s of %s, %llu bytes\n", uid, mbox, addr,
	       (unsigned long long)mi.size);
	if (xs) {
		printf("at delivery      ");
		for (const char *p = xs + 14; p < msg + hl; p++) {
			if (*p == '\r')
				continue;
			if (*p == '\n') {
				if (p + 1 < msg + hl && (p[1] == ' ' || p[1] == '\t'))
					continue;
				break;
			}
			putchar(*p == '\t' ? ' ' : *p);
		}
		putchar('\n');
	} else {
		printf("at delivery      not filtered (no X-Spam-Status field)\n");
	}
	struct spam_result r = {0};
	spam_content_mem(msg, len, NULL, &r);
	printf("content tests now:");
	for (size_t i = 0; i < r.n; i++)
		printf(" %s(%.1f)", r.tests[i].name, r.tests[i].weight);
	printf("%s\n", r.n ? "" : " none");
	uint64_t *h;
	size_t n = spam_token_hashes(msg, len, &h), nu = 0;
	struct bayes_used *u = xcalloc(BAYES_USE_MAX, sizeof *u);
	double p = 0.5;
	int c = spam_bayes_classify(st, user, h, n, &p, u, &nu);
	if (c < 0)
		fatal("spam why: cannot read the token database");
	if (c == 0) {
		printf("bayes            not scoring yet (needs %d spam and %d ham trained)\n",
		       BAYES_MIN_TRAINED, BAYES_MIN_TRAINED);
	} else {
		int dir = 0;
		store_bayes_trained(st, user, mi.blob, &dir);
		printf("bayes            probability %.3f -> BAYES(%.1f), %zu of %zu tokens "
		       "counted%s\n",
		       p, spam_bayes_weight(p), nu, n,
		       dir == BAYES_SPAM  ? "; this message was trained as spam"
		       : dir == BAYES_HAM ? "; this message was trained as ham"
					  : "");
		struct why_names w = {u, nu, xcalloc(nu ? nu : 1, sizeof *w.text)};
		spam_tokenize(msg, len, why_name, &w);
		for (size_t i = 0; i < nu && i < 15; i++)
			printf("  %-40s %.3f  (spam %u, ham %u)\n", w.text[i], u[i].f, u[i].spam,
			       u[i].ham);
		free(w.text);
	}
	free(u);
	free(h);
	free(msg);
	return 0;
}

int spam_cli(struct store *st, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	if (!strcmp(sub, "status") && argc == 3)
		return cli_status(st, argv[2]);
	if ((!strcmp(sub, "allow") || !strcmp(sub, "block") || !strcmp(sub, "unlist")) && argc == 4)
		return cli_list(st, sub, argv[2], argv[3]);
	if (!strcmp(sub, "why") && (argc == 4 || argc == 5))
		return cli_why(st, argv[2], argv[3], argc == 5 ? argv[4] : "INBOX");
	if (!strcmp(sub, "learn") && argc >= 5 &&
	    (!strcmp(argv[2], "--spam") || !strcmp(argv[2], "--ham"))) {
		struct learn_ctx c = {st,
				      account_id(st, argv[3]),
				      !strcmp(argv[2], "--spam") ? BAYES_SPAM : BAYES_HAM,
				      0,
				      0,
				      0};
		for (int i = 4; i < argc; i++) {
			struct stat sb;
			if (stat(argv[i], &sb) != 0)
				fatal("spam learn: cannot read %s", argv[i]);
			if (S_ISDIR(sb.st_mode))
				learn_dir(&c, argv[i]);
			else
				learn_file(&c, argv[i], 0);
		}
		printf("%s: trained %zu messages as %s (%zu were already)\n", argv[3], c.trained,
		       c.dir == BAYES_SPAM ? "spam" : "ham", c.already);
		if (c.failed)
			fatal("spam learn: %zu messages could not be stored", c.failed);
		return 0;
	}
	fprintf(stderr, "usage: brev spam learn --spam|--ham ADDRESS FILE|MBOX|MAILDIR...\n"
			"       brev spam status ADDRESS\n"
			"       brev spam why ADDRESS UID [MAILBOX]\n"
			"       brev spam allow|block|unlist ADDRESS SENDER|DOMAIN\n");
	return 1;
}
