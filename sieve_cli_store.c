/*
 * sieve_cli_store.c — `brev sieve put|get|list|activate|check|delete`: an
 * account's Sieve scripts in the store (mailbox_sieve.c) from the command
 * line, with the same rules as ManageSieve: a script is compiled before it
 * is stored and refused with "line N: ..." when it does not compile; at
 * most STORE_SIEVE_SCRIPTS of STORE_SIEVE_SIZE bytes; the active script
 * cannot be deleted. `brev sieve test` (sieve_cli.c) needs no store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailbox.h"
#include "sieve.h"
#include "sieve_cli.h"
#include "util.h"

static int usage(void)
{
	fputs("usage: brev sieve put ADDRESS NAME [FILE]     store a script (FILE or stdin), checked\n"
	      "       brev sieve get ADDRESS NAME            print a script\n"
	      "       brev sieve list ADDRESS                the scripts, the active one marked\n"
	      "       brev sieve activate ADDRESS [NAME]     make NAME the active script (none: deactivate)\n"
	      "       brev sieve check ADDRESS [FILE]        compile FILE (or the active script)\n"
	      "       brev sieve delete ADDRESS NAME         delete a script that is not active\n",
	      stderr);
	return 1;
}

/* FILE, or stdin for "-" / none: at most STORE_SIEVE_SIZE + 1 bytes (one
 * more tells "too large" from "exactly the limit"). */
static char *read_script(const char *path, size_t *len)
{
	if (path && strcmp(path, "-"))
		return file_read(path, STORE_SIEVE_SIZE + 1, len);
	char *buf = xmalloc(STORE_SIEVE_SIZE + 2);
	size_t n = 0;
	for (;;) {
		ssize_t r = read(0, buf + n, STORE_SIEVE_SIZE + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0 || (n += (size_t)r) == STORE_SIEVE_SIZE + 1)
			break;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* 0 when src compiles; else "brev: sieve ...: line N: ..." on stderr, 1. */
static int check(const char *what, const char *src, size_t len)
{
	struct sieve_script *sc = NULL;
	char err[256];
	if (sieve_compile(src, len, &sc, err, sizeof err) < 0) {
		fprintf(stderr, "brev: sieve %s: %s\n", what, err);
		return 1;
	}
	sieve_free(sc);
	return 0;
}

static int failed(const char *what, const char *name, int rc)
{
	const char *why = store_strerror(rc);
	if (rc == ST_LIMIT)
		why = "the account has 16 scripts already, the most it may have";
	else if (rc == ST_INVALID && !strcmp(what, "delete"))
		why = "it is the active script (activate another, or none, first)";
	else if (rc == ST_INVALID)
		why = "bad name (1-128 bytes of UTF-8, no controls, '/' or '\\') or larger than 64 KiB";
	else if (rc == ST_NOTFOUND)
		why = "no such script";
	fprintf(stderr, "brev: sieve %s %s: %s\n", what, name ? name : "", why);
	return 1;
}

static int put(struct store *st, uint32_t user, const char *name, const char *path)
{
	size_t len = 0;
	char *src = read_script(path, &len);
	int rc;
	if (!src) {
		fprintf(stderr, "brev: sieve put: cannot read %s: %s\n", path ? path : "stdin",
			errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
		return 1;
	}
	if (len > STORE_SIEVE_SIZE) {
		free(src);
		fprintf(stderr, "brev: sieve put: the script is larger than %d bytes\n", STORE_SIEVE_SIZE);
		return 1;
	}
	if (check("put", src, len)) {
		free(src);
		return 1;
	}
	rc = store_sieve_put(st, user, name, src, len);
	free(src);
	if (rc != ST_OK)
		return failed("put", name, rc);
	printf("stored %s (%zu bytes)\n", name, len);
	return 0;
}

static int list(struct store *st, uint32_t user)
{
	struct sieve_script_info *l;
	size_t n;
	int rc = store_sieve_list(st, user, &l, &n);
	if (rc != ST_OK)
		return failed("list", "", rc);
	for (size_t i = 0; i < n; i++)
		printf("%s%s\n", l[i].name, l[i].active ? "  (active)" : "");
	free(l);
	return 0;
}

static int check_cmd(struct store *st, uint32_t user, const char *path)
{
	char *src, *name = NULL;
	size_t len = 0;
	int rc;
	if (path) {
		if (!(src = read_script(path, &len))) {
			fprintf(stderr, "brev: sieve check: cannot read %s: %s\n", path,
				errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
			return 1;
		}
	} else if ((rc = store_sieve_active(st, user, &name, &src, &len)) != ST_OK) {
		return failed("check", "(active script)", rc);
	}
	rc = len > STORE_SIEVE_SIZE ? 1 : check("check", src, len);
	if (len > STORE_SIEVE_SIZE)
		fprintf(stderr, "brev: sieve check: larger than %d bytes\n", STORE_SIEVE_SIZE);
	else if (!rc)
		printf("%s: ok\n", name ? name : path);
	free(src);
	free(name);
	return rc;
}

int sieve_cli_store(struct store *st, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	struct account a;
	char *src;
	size_t len;
	int rc;
	if (argc < 3)
		return usage();
	if ((rc = store_user_get(st, argv[2], &a)) != ST_OK) {
		fprintf(stderr, "brev: sieve %s: no account %s\n", sub, argv[2]);
		return 1;
	}
	explicit_bzero(&a.cred, sizeof a.cred);
	if (!strcmp(sub, "put") && (argc == 4 || argc == 5))
		return put(st, a.id, argv[3], argc == 5 ? argv[4] : NULL);
	if (!strcmp(sub, "list") && argc == 3)
		return list(st, a.id);
	if (!strcmp(sub, "check") && (argc == 3 || argc == 4))
		return check_cmd(st, a.id, argc == 4 ? argv[3] : NULL);
	if (!strcmp(sub, "get") && argc == 4) {
		if ((rc = store_sieve_get(st, a.id, argv[3], &src, &len, NULL)) != ST_OK)
			return failed("get", argv[3], rc);
		fwrite(src, 1, len, stdout);
		free(src);
		return 0;
	}
	if (!strcmp(sub, "activate") && (argc == 3 || argc == 4)) {
		if ((rc = store_sieve_activate(st, a.id, argc == 4 ? argv[3] : NULL)) != ST_OK)
			return failed("activate", argv[3], rc);
		printf(argc == 4 ? "%s is active\n" : "no script is active%s\n", argc == 4 ? argv[3] : "");
		return 0;
	}
	if (!strcmp(sub, "delete") && argc == 4) {
		if ((rc = store_sieve_delete(st, a.id, argv[3])) != ST_OK)
			return failed("delete", argv[3], rc);
		printf("deleted %s\n", argv[3]);
		return 0;
	}
	return usage();
}
