/*
 * objid.c — the id strings of objid.h: formatting, RFC 8474 syntax, and
 * parsing back the ids brev makes (for SEARCH EMAILID and JMAP
 * look-ups). Owns nothing else; what the numbers mean is the store's.
 */
#include "objid.h"

#include <stdio.h>
#include <string.h>

void objid_mailbox(char out[OBJID_MAX], uint32_t mbox_id)
{
	snprintf(out, OBJID_MAX, "M%u", mbox_id);
}

void objid_email(char out[OBJID_MAX], uint64_t blob)
{
	snprintf(out, OBJID_MAX, "E%llu", (unsigned long long)blob);
}

int objid_valid(const char *s, size_t n)
{
	if (n == 0 || n > OBJID_SYNTAX_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* "<kind><decimal>", no leading zero, no 0, at most max. */
static int parse(const char *s, char kind, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || s[0] != kind || s[1] < '1' || s[1] > '9')
		return -1;
	for (const char *p = s + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int objid_email_parse(const char *s, uint64_t *blob)
{
	return parse(s, 'E', UINT64_MAX, blob);
}

int objid_mailbox_parse(const char *s, uint32_t *mbox_id)
{
	uint64_t v;
	if (parse(s, 'M', UINT32_MAX, &v) < 0)
		return -1;
	*mbox_id = (uint32_t)v;
	return 0;
}
