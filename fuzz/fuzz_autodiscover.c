/*
 * fuzz_autodiscover.c — the Outlook POX request body (http_autoconfig.c
 * autoconf_autodiscover): the input is what a client POSTs.
 *
 * Properties beyond no crash or overrun (ASan): an answer only when the
 * input has <EMailAddress>...</EMailAddress> around text with an '@'; the
 * answer is well formed as far as its markup goes (every '<' opens a tag
 * of letters, '/' or '?', every '&' starts one of the five entities), so
 * nothing from the request escapes into the XML structure; each
 * <LoginName> holds at most 254 bytes of escaped text with an '@'.
 */
/* deps: http_autoconfig config util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http_autoconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int entity_ok(const char *p)
{
	static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
	for (size_t i = 0; i < 5; i++)
		if (strncmp(p, ents[i], strlen(ents[i])) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static int ready;
	size_t outlen;
	char *buf, *out;

	if (size > AUTOCONF_BODY_MAX)
		return 0;
	if (!ready) {
		config_defaults(&cfg, "/nonexistent");
		ready = 1;
	}
	/* a copy exactly as long as the input, so ASan sees any over-read */
	buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	out = autoconf_autodiscover(&cfg, buf, size, &outlen);
	if (out) {
		if (!memmem(buf, size, "<EMailAddress>", 14) || !memchr(buf, '@', size))
			abort();
		if (strlen(out) != outlen)
			abort();
		for (const char *p = out; *p; p++) {
			if (*p == '<' &&
			    !(p[1] == '/' || p[1] == '?' || (p[1] >= 'A' && p[1] <= 'Z') ||
			      (p[1] >= 'a' && p[1] <= 'z')))
				abort();
			if (*p == '&' && !entity_ok(p))
				abort();
		}
		for (const char *p = out; (p = strstr(p, "<LoginName>")); p++) {
			const char *s = p + 11, *e = strchr(s, '<');
			if (!e || strncmp(e, "</LoginName>", 12) != 0 || e - s > 254 * 6 ||
			    !memchr(s, '@', (size_t)(e - s)))
				abort();
		}
		free(out);
	}
	free(buf);
	return 0;
}
