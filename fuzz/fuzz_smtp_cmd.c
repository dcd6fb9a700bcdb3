/* fuzz_smtp_cmd.c — the SMTP command line parser and the RFC 5321 / 6531
 * path parser (smtp_addr.c). The input is split into lines; each is parsed
 * as a command and, for MAIL, RCPT and BDAT, as its arguments; the whole
 * input is also parsed as a path with every option set. Invariants checked
 * on success: the canonical address is bounded and NUL-terminated, its
 * domain is lower-case ASCII, and parsing "<canonical>" again gives the
 * same canonical form (one spelling per mailbox). The whole input is also
 * walked as an RFC 5322 address list (smtp_addr_list, strict and not):
 * every address handed out is NUL-terminated and bounded, and a strict
 * walk that succeeds hands out the same addresses as a lenient one. */
/* deps: smtp_addr util log */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../smtp.h"

static void check_addr(const struct smtp_addr *a)
{
	size_t n = strnlen(a->addr, sizeof a->addr);
	if (n > STORE_ADDR_MAX || a->dom > n)
		abort();
	if (a->flags & (SA_NULL | SA_POSTMASTER))
		return;
	for (const char *p = a->addr + a->dom; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
	/* round trip: the canonical form parses to itself */
	char again[STORE_ADDR_MAX + 3];
	size_t k = (size_t)snprintf(again, sizeof again, "<%s>", a->addr);
	struct smtp_addr b;
	size_t used;
	if (smtp_path_parse(again, k, 0, &b, &used) != 0 || used != k ||
	    strcmp(a->addr, b.addr) != 0 || a->dom != b.dom)
		abort();
}

static void one_line(const char *s, size_t n)
{
	struct smtp_cmd c;
	const char *err;
	if (smtp_cmd_parse(s, n, &c) < 0)
		return;
	if (c.arg + c.arglen > s + n)
		abort();
	if (c.verb == SV_MAIL) {
		struct smtp_mail m;
		if (smtp_mail_parse(c.arg, c.arglen, &m, &err) == 0)
			check_addr(&m.from);
		else if (!err || strlen(err) < 10)
			abort();
	} else if (c.verb == SV_RCPT) {
		struct smtp_addr a;
		for (int utf8 = 0; utf8 < 2; utf8++)
			if (smtp_rcpt_parse(c.arg, c.arglen, utf8, &a, &err) == 0)
				check_addr(&a);
	} else if (c.verb == SV_BDAT) {
		uint64_t size;
		int last;
		smtp_bdat_parse(c.arg, c.arglen, &size, &last);
	} else if (c.verb == SV_EHLO || c.verb == SV_HELO) {
		smtp_helo_ok(c.arg, c.arglen);
	}
}

struct list_walk {
	size_t n, total;
};

static int list_cb(void *arg, const char *addr)
{
	struct list_walk *w = arg;
	size_t n = strlen(addr);
	if (n > 1024 + SMTP_DOMAIN_MAX + 1)
		abort();
	w->n++;
	w->total += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* copy: the parsers must not read past n, and ASan sees exactly n */
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	size_t start = 0;
	for (size_t i = 0; i <= size; i++) {
		if (i == size || buf[i] == '\n') {
			size_t end = i;
			if (end > start && buf[end - 1] == '\r')
				end--;
			char *line = malloc(end - start + 1);
			memcpy(line, buf + start, end - start);
			one_line(line, end - start);
			free(line);
			start = i + 1;
		}
	}
	static const unsigned opts[] = {0, SP_NULL_OK | SP_POSTMASTER_OK, SP_NO_BRACKETS};
	for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
		struct smtp_addr a;
		size_t used;
		if (smtp_path_parse(buf, size, opts[k], &a, &used) == 0) {
			if (used > size)
				abort();
			if (!(opts[k] & SP_NO_BRACKETS))
				check_addr(&a);
		}
	}
	struct list_walk lax = {0}, strict = {0};
	int rl = smtp_addr_list(buf, size, "d.test", 0, list_cb, &lax);
	int rs = smtp_addr_list(buf, size, "d.test", 1, list_cb, &strict);
	if (rl < 0 || (size_t)rl != lax.n || (rs >= 0 && (rs != rl || strict.total != lax.total)))
		abort();
	free(buf);
	return 0;
}
