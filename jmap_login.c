/*
 * jmap_login.c — the JSON of the web login (docs/http.md "Browser
 * sessions"): reading POST /login's body (JSON or an HTML form's
 * application/x-www-form-urlencoded) and writing what /login and /session
 * answer. The session itself is websess.c's, the HTTP http.c's; this file
 * exists because only jmap*.c include <jansson.h>.
 */
#include <string.h>

#include "jmap.h"
#include "jmap_int.h"
#include "log.h"
#include "mailbox.h"
#include "util.h"

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The value of field name in a urlencoded body (WHATWG URL "application/
 * x-www-form-urlencoded": '+' is a space, %XX a byte), decoded into out:
 * 0, or -1 when absent, malformed, holding a NUL, or too long. */
static int form_field(const char *b, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && b[end] != '&')
			end++;
		if (end - i > nl && memcmp(b + i, name, nl) == 0 && b[i + nl] == '=') {
			size_t o = 0;
			for (size_t j = i + nl + 1; j < end; j++) {
				int c = (unsigned char)b[j];
				if (c == '+')
					c = ' ';
				else if (c == '%') {
					int h, l;
					if (end - j < 3)
						return -1;
					if ((h = unhex(b[j + 1])) < 0 || (l = unhex(b[j + 2])) < 0)
						return -1;
					c = h * 16 + l;
					j += 2;
				}
				if (c == 0 || o + 1 >= cap)
					return -1;
				out[o++] = (char)c;
			}
			out[o] = 0;
			return 0;
		}
		i = end + 1;
	}
	return -1;
}

int jmap_login_parse(const char *ctype, const char *body, size_t len, char *user, size_t ucap,
		     char *pw, size_t pcap)
{
	json_t *j, *u, *p;
	json_error_t jerr;
	int rc = -1;

	if (strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
		return form_field(body, len, "username", user, ucap) < 0 ||
				       form_field(body, len, "password", pw, pcap) < 0
			       ? -1
			       : 0;
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return -1;
	u = json_object_get(j, "username");
	p = json_object_get(j, "password");
	if (json_is_object(j) && json_is_string(u) && json_is_string(p) &&
	    json_string_length(u) < ucap && json_string_length(p) < pcap &&
	    !memchr(json_string_value(u), 0, json_string_length(u)) &&
	    !memchr(json_string_value(p), 0, json_string_length(p))) {
		str_copy(user, json_string_value(u), ucap);
		str_copy(pw, json_string_value(p), pcap);
		rc = 0;
	}
	json_decref(j);
	return rc;
}

char *jmap_login_json(const struct account *a, const char *csrf, size_t *len)
{
	char id[32];
	json_t *j;
	char *s;

	jmap_account_id(a, id, sizeof id);
	/* brev has no administrator accounts yet: "admin" is false for all */
	j = json_pack("{s:s, s:s, s:b, s:s}", "username", a->addr, "accountId", id, "admin", 0,
		      "csrfToken", csrf);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		fatal("out of memory");
	*len = strlen(s);
	return s;
}

char *jmap_login_error(const char *msg, size_t *len)
{
	json_t *j = json_pack("{s:s}", "error", msg);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		fatal("out of memory");
	*len = strlen(s);
	return s;
}
