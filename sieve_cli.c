/*
 * sieve_cli.c — `brev sieve test`: a script and a message in, the actions
 * out, one per line, in a form a test can compare with Pigeonhole's
 * sieve-test (tests/e2e/t-76-sieve-pigeonhole). Nothing is stored or sent.
 *
 * Output lines:
 *   store MAILBOX[ flags: F1 F2 ...]     keep (INBOX), fileinto, implicit keep
 *   redirect ADDRESS[ copy]
 *   reject TEXT / ereject TEXT           (line breaks shown as \n)
 *   vacation to=ADDR seconds=N subject=S
 *   duplicate-record ID                  (ids the caller would record)
 *   discard                              (when nothing else happens)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sieve.h"
#include "sieve_cli.h"
#include "util.h"

#define CLI_MSG_MAX  (64 * 1024 * 1024)
#define CLI_MBOX_MAX 64

struct cli_ctx {
	const char *dir;
	const char *mboxes[CLI_MBOX_MAX];
	int nmbox;
	char *scripts[SIEVE_INCLUDE_DEPTH_MAX * 16];
	int nscripts;
};

static int cli_mailbox_exists(void *ctx, const char *mbox)
{
	struct cli_ctx *c = ctx;
	if (!str_casecmp_ascii(mbox, "INBOX"))
		return 1;
	for (int i = 0; i < c->nmbox; i++)
		if (!strcmp(c->mboxes[i], mbox))
			return 1;
	return 0;
}

/* include :personal NAME: NAME.sieve next to the main script. */
static const char *cli_script(void *ctx, const char *name, size_t *len)
{
	struct cli_ctx *c = ctx;
	if (strchr(name, '/') || name[0] == '.' || c->nscripts == (int)ARRAY_LEN(c->scripts))
		return NULL;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.sieve", c->dir, name);
	char *s = file_read(path, SIEVE_SCRIPT_MAX, len);
	if (s)
		c->scripts[c->nscripts++] = s;
	return s;
}

static void put_text(const char *s)
{
	for (; *s; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: brev sieve test SCRIPT MESSAGE [--from ADDR] [--to ADDR] "
			"[--user ADDR] [--mailbox NAME]... [--now UNIXTIME]\n");
	return 2;
}

int sieve_cli_test(int argc, char **argv)
{
	const char *from = "sender@example.test", *to = "user@example.test", *user = NULL;
	const char *files[2];
	int nf = 0;
	struct cli_ctx c = {0};
	int64_t now = (int64_t)time(NULL);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-' && i + 1 < argc) {
			const char *v = argv[++i];
			if (!strcmp(a, "--from"))
				from = v;
			else if (!strcmp(a, "--to"))
				to = v;
			else if (!strcmp(a, "--user"))
				user = v;
			else if (!strcmp(a, "--mailbox") && c.nmbox < CLI_MBOX_MAX)
				c.mboxes[c.nmbox++] = v;
			else if (!strcmp(a, "--now"))
				now = strtoll(v, NULL, 10);
			else
				return usage();
		} else if (nf < 2 && a[0] != '-') {
			files[nf++] = a;
		} else {
			return usage();
		}
	}
	if (nf != 2)
		return usage();
	size_t slen, mlen;
	char *src = file_read(files[0], SIEVE_SCRIPT_MAX + 1, &slen);
	if (!src) {
		fprintf(stderr, "brev sieve test: cannot read %s\n", files[0]);
		return 2;
	}
	char *msg = file_read(files[1], CLI_MSG_MAX, &mlen);
	if (!msg) {
		fprintf(stderr, "brev sieve test: cannot read %s\n", files[1]);
		free(src);
		return 2;
	}
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", files[0]);
	char *sl = strrchr(dir, '/');
	if (sl)
		*sl = 0;
	else
		snprintf(dir, sizeof dir, ".");
	c.dir = dir;
	struct sieve_script *s;
	char err[256];
	int rc = 0;
	if (sieve_compile(src, slen, &s, err, sizeof err)) {
		fprintf(stderr, "%s: %s\n", files[0], err);
		rc = 1;
		goto out;
	}
	struct sieve_msg m = {
	    .data = msg, .len = mlen, .env_from = from, .env_to = to, .user = user ? user : to};
	struct sieve_env env = {.ctx = &c,
				.mailbox_exists = cli_mailbox_exists,
				.script = cli_script,
				.now = now,
				.domain = "example.test",
				.host = "mx.example.test"};
	struct sieve_result res;
	if (sieve_run(s, &m, &env, &res))
		fprintf(stderr, "%s: run-time error, implicit keep: %s\n", files[0], res.err);
	for (size_t i = 0; i < res.n; i++) {
		const struct sieve_action *a = &res.a[i];
		switch (a->kind) {
		case SIEVE_KEEP:
		case SIEVE_FILEINTO:
			printf("store %s", a->mailbox ? a->mailbox : "INBOX");
			if (a->nflags) {
				fputs(" flags:", stdout);
				for (size_t k = 0; k < a->nflags; k++)
					printf(" %s", a->flags[k]);
			}
			putchar('\n');
			break;
		case SIEVE_REDIRECT:
			printf("redirect %s%s\n", a->address, a->copy ? " copy" : "");
			break;
		case SIEVE_REJECT:
		case SIEVE_EREJECT:
			fputs(a->kind == SIEVE_REJECT ? "reject " : "ereject ", stdout);
			put_text(a->text);
			putchar('\n');
			break;
		case SIEVE_VACATION:
			printf("vacation to=%s seconds=%lld subject=", a->vac_to,
			       (long long)a->vac_seconds);
			put_text(a->vac_subject);
			putchar('\n');
			break;
		case SIEVE_DISCARD:
			break;
		}
	}
	for (size_t i = 0; i < res.ndup; i++) {
		fputs("duplicate-record ", stdout);
		put_text(res.dup_ids[i]);
		putchar('\n');
	}
	if (!res.n)
		puts("discard");
	sieve_result_free(&res);
	sieve_free(s);
out:
	for (int i = 0; i < c.nscripts; i++)
		free(c.scripts[i]);
	free(src);
	free(msg);
	return rc;
}
