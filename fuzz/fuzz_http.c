/* fuzz_http.c — the HTTP request head parser (http_parse.c). The input is
 * split into lines (LF, a CR before it dropped) and fed as http.c feeds
 * them, starting a new request after each complete head (keep-alive).
 * Oracles: an error always carries one of the statuses http.c answers; a
 * complete head never has both chunked and a Content-Length, never lacks
 * Host in HTTP/1.1, keeps its target NUL-free within its bound, keeps a
 * brev_session cookie only in brev's form (64 hex digits); every line
 * also goes through the chunk-size, ETag and Accept-Encoding helpers. */
/* deps: http_parse */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../http_parse.h"

static struct http_req req;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char *copy;
	int rc;

	http_req_init(&req);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t l = len && p[len - 1] == '\r' ? len - 1 : len;
		uint64_t n;

		rc = http_req_line(&req, p, l);
		if (rc == HP_ERROR) {
			int s = req.status;
			if (s != 400 && s != 414 && s != 431 && s != 501 && s != 505)
				abort();
			http_req_init(&req);
		} else if (rc == HP_DONE) {
			if (req.chunked && req.has_length)
				abort();
			if (req.minor >= 1 && !req.has_host)
				abort();
			if (strlen(req.target) > HTTP_LINE_MAX || req.target[0] == 0)
				abort();
			/* a kept session cookie is always brev's form: 64 hex digits */
			if (req.session[0] &&
			    (strlen(req.session) != HTTP_SESSION_TOKEN ||
			     strspn(req.session, "0123456789abcdef") != HTTP_SESSION_TOKEN ||
			     !req.has_cookie_session))
				abort();
			if (strlen(req.csrf) > HTTP_CSRF_MAX)
				abort();
			http_req_init(&req);
		}
		if (http_chunk_size(p, l, &n) == 0 && n >> 60)
			abort();
		copy = malloc(l + 1);
		memcpy(copy, p, l);
		copy[l] = 0;
		(void)http_etag_match(copy, "\"abc\"");
		(void)http_accepts_gzip(copy);
		free(copy);
		p += len + (nl ? 1 : 0);
	}
	return 0;
}
