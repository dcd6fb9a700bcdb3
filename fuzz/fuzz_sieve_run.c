/*
 * fuzz_sieve_run.c — the Sieve interpreter (sieve.c, sieve_match.c) on a
 * fixed message: the input is a script; the ones that compile are run with
 * every environment callback present.
 *
 * Properties: no crash, no overrun, no leak (ASan); a run always ends with
 * at least one action or a discard, and a failed run is exactly one
 * implicit keep with its error set.
 */
/* deps: sieve sieve_parse sieve_match message message_text util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char msg[] =
    "Date: Mon, 07 Dec 2026 09:15:02 +0100\r\n"
    "From: \"Alice (A)\" <alice+x@a.test>, bob@b.test\r\n"
    "To: undisclosed:;, User <user@example.test>\r\n"
    "Cc: =?UTF-8?B?w6l0w6k=?= <c@c.test>\r\n"
    "Subject: [list] =?ISO-8859-1?Q?caf=E9?= *?\\ ${1}\r\n"
    "X-Spam-Score: 7\r\nX-Spam-Score: 12\r\nList-Id: <l.test>\r\n"
    "Message-ID: <m1@a.test>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
    "--B\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 banana\r\n"
    "--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "aGVsbG8=\r\n--B--\r\n";

static int exists(void *ctx, const char *m)
{
	return m[0] == 'I';
}
static int dup(void *ctx, const char *id, int64_t s)
{
	return (int)(strlen(id) & 1);
}
static const char *script(void *ctx, const char *name, size_t *len)
{
	static const char sub[] = "require [\"include\", \"fileinto\"]; fileinto \"sub\"; "
				  "include :personal \"again\"; return;";
	*len = sizeof sub - 1;
	return name[0] == 'm' ? NULL : sub;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16 * 1024)
		return 0;
	struct sieve_script *s;
	char err[256];
	if (sieve_compile((const char *)data, size, &s, err, sizeof err))
		return 0;
	struct sieve_msg m = {.data = msg,
			      .len = sizeof msg - 1,
			      .env_from = "alice@a.test",
			      .env_to = "user+tag@example.test",
			      .user = "user@example.test"};
	struct sieve_env env = {.mailbox_exists = exists,
				.duplicate_check = dup,
				.script = script,
				.now = 1796688000,
				.domain = "example.test",
				.host = "mx.example.test"};
	struct sieve_result r;
	int rc = sieve_run(s, &m, &env, &r);
	if (rc && (r.n != 1 || r.a[0].kind != SIEVE_KEEP || !r.err[0]))
		abort();
	sieve_result_free(&r);
	sieve_free(s);
	return 0;
}
