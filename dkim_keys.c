/*
 * dkim_keys.c — the DKIM keys brev keeps for its domains, in DATADIR/dkim/:
 *
 *   DOMAIN.selector           the active selector (one line), e.g. brev202501
 *   DOMAIN.SELECTOR.key       its RSA-2048 private key (PKCS#8 PEM, 0600)
 *   DOMAIN.SELECTOR-ed.key    the Ed25519 key of selector SELECTOR-ed
 *
 * `brev dkim new DOMAIN` adds a selector and makes it active; the old key
 * files stay so that the old DNS records can be removed once mail signed
 * with them has been delivered (docs/auth-mail.md). Signing reads the
 * active keys for every message: a rotation takes effect without a
 * restart, and a 2048-bit key loads in well under a millisecond.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dkim.h"
#include "log.h"
#include "util.h"

#define SEL_MAX 63

/* A domain or selector that is safe inside a file name: LDH labels. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '-' || c == '.';
		if (!ok || (c == '.' && s[i + 1] == '.'))
			return 0;
	}
	return 1;
}

static int key_path(char *out, size_t cap, const char *datadir, const char *domain, const char *sel)
{
	int n = snprintf(out, cap, "%s/dkim/%s.%s.key", datadir, domain, sel);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int sel_file(char *out, size_t cap, const char *datadir, const char *domain)
{
	int n = snprintf(out, cap, "%s/dkim/%s.selector", datadir, domain);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int dkim_keys_active(const char *datadir, const char *domain, char *sel, size_t cap)
{
	char path[4096];
	size_t len;
	if (!name_ok(domain) || sel_file(path, sizeof path, datadir, domain) < 0)
		return -1;
	char *t = file_read(path, 256, &len);
	if (!t)
		return -1;
	char *w = str_trim(t);
	int ok = name_ok(w) && strlen(w) <= SEL_MAX && strlen(w) < cap;
	if (ok)
		str_copy(sel, w, cap);
	free(t);
	return ok ? 0 : -1;
}

int dkim_keys_new(const char *datadir, const char *domain, char *sel, size_t selcap, char *err,
		  size_t errlen)
{
	char dir[4096], rsa[4096], ed[4096], path[4096], base[32], cand[48], line[64];
	struct tm tm;
	time_t now = time(NULL);
	if (!name_ok(domain)) {
		snprintf(err, errlen, "'%s' is not a domain name", domain);
		return -1;
	}
	snprintf(dir, sizeof dir, "%s/dkim", datadir);
	if (mkdir_p(dir, 0700) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	gmtime_r(&now, &tm);
	snprintf(base, sizeof base, "brev%04d%02d", tm.tm_year + 1900, tm.tm_mon + 1);
	/* A second rotation in one month gets brevYYYYMM-2, -3, ... */
	cand[0] = 0;
	for (int i = 1; i < 100; i++) {
		if (i == 1)
			snprintf(cand, sizeof cand, "%s", base);
		else
			snprintf(cand, sizeof cand, "%s-%d", base, i);
		if (key_path(rsa, sizeof rsa, datadir, domain, cand) < 0) {
			snprintf(err, errlen, "path too long");
			return -1;
		}
		if (access(rsa, F_OK) != 0)
			break;
		cand[0] = 0;
	}
	if (!cand[0]) {
		snprintf(err, errlen, "no free selector name this month");
		return -1;
	}
	snprintf(line, sizeof line, "%s-ed", cand);
	if (key_path(ed, sizeof ed, datadir, domain, line) < 0 ||
	    dkim_key_new(rsa, DKIM_RSA_SHA256, err, errlen) < 0)
		return -1;
	if (dkim_key_new(ed, DKIM_ED25519_SHA256, err, errlen) < 0) {
		unlink(rsa);
		return -1;
	}
	snprintf(line, sizeof line, "%s\n", cand);
	if (sel_file(path, sizeof path, datadir, domain) < 0 ||
	    file_write_atomic(path, line, strlen(line), 0600) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	str_copy(sel, cand, selcap);
	return 0;
}

size_t dkim_keys_record(const char *datadir, const char *domain, const char *sel, char *out,
			size_t cap)
{
	char path[4096], err[256];
	if (!name_ok(domain) || !name_ok(sel) || key_path(path, sizeof path, datadir, domain, sel))
		return 0;
	struct dkim_key *k = dkim_key_load(path, err, sizeof err);
	if (!k)
		return 0;
	size_t n = dkim_key_record(k, out, cap);
	dkim_key_free(&k);
	return n;
}

/* Sign with the key of one selector; appends the field to *acc. */
static int sign_with(const char *datadir, const struct dkim_msg *m, const char *domain,
		     const char *sel, time_t now, char **acc, int must)
{
	char path[4096], err[256];
	if (key_path(path, sizeof path, datadir, domain, sel) < 0)
		return -1;
	if (!must && access(path, F_OK) != 0)
		return 0;
	struct dkim_key *k = dkim_key_load(path, err, sizeof err);
	if (!k) {
		log_warn("dkim: %s", err);
		return -1;
	}
	char *f = dkim_sign(m, k, domain, sel, now, err, sizeof err);
	dkim_key_free(&k);
	if (!f) {
		log_warn("dkim: signing for %s (s=%s): %s", domain, sel, err);
		return -1;
	}
	size_t have = *acc ? strlen(*acc) : 0, fl = strlen(f);
	*acc = xrealloc(*acc, have + fl + 1);
	memcpy(*acc + have, f, fl + 1);
	free(f);
	return 0;
}

char *dkim_sign_domain(const char *datadir, const struct dkim_msg *m, const char *domain,
		       time_t now)
{
	char sel[SEL_MAX + 1], ed[SEL_MAX + 8];
	char *acc = NULL;
	if (dkim_keys_active(datadir, domain, sel, sizeof sel) < 0)
		return NULL;
	if (sign_with(datadir, m, domain, sel, now, &acc, 1) < 0) {
		free(acc);
		return NULL;
	}
	snprintf(ed, sizeof ed, "%s-ed", sel);
	sign_with(datadir, m, domain, ed, now, &acc, 0); /* optional */
	return acc;
}
