/*
 * http_parse.c — the request head of HTTP/1.0 and 1.1, line by line
 * (http_parse.h). Strict where leniency has been the root of request
 * smuggling: one SP between the request line's parts, no white space before
 * a field's colon, no obsolete line folding, no control bytes, one
 * Content-Length value, and Transfer-Encoding and Content-Length never
 * together (RFC 9112 6.3 lets a server reject that; it is how a front end
 * and a back end come to disagree where a request ends).
 */
#include "http_parse.h"

#include <stdio.h>
#include <string.h>

enum { ST_LINE, ST_FIELDS, ST_DONE };

static const struct {
	const char *name;
	int m;
} methods[] = {
    {"GET", HM_GET},	   {"HEAD", HM_HEAD},	    {"POST", HM_POST},	 {"PUT", HM_PUT},
    {"DELETE", HM_DELETE}, {"OPTIONS", HM_OPTIONS}, {"PATCH", HM_PATCH},
};

void http_req_init(struct http_req *r)
{
	memset(r, 0, sizeof *r);
	r->state = ST_LINE;
}

static int fail(struct http_req *r, int status, const char *why)
{
	r->status = status;
	r->why = why;
	r->state = ST_DONE;
	return HP_ERROR;
}

/* RFC 9110 5.6.2 tchar */
static int is_tchar(unsigned char ch)
{
	if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
		return 1;
	return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static int ieq(const char *a, size_t alen, const char *b)
{
	size_t bl = strlen(b);
	if (alen != bl)
		return 0;
	for (size_t i = 0; i < bl; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* RFC 9112 3: method SP request-target SP HTTP-version */
static int request_line(struct http_req *r, const char *line, size_t len)
{
	const char *sp1 = memchr(line, ' ', len), *sp2, *ver;
	size_t mlen, tlen, vlen;

	if (!sp1)
		return fail(r, 400, "no request-target");
	mlen = (size_t)(sp1 - line);
	sp2 = memchr(sp1 + 1, ' ', len - mlen - 1);
	if (!sp2)
		return fail(r, 400, "no HTTP version");
	tlen = (size_t)(sp2 - sp1 - 1);
	ver = sp2 + 1;
	vlen = len - (size_t)(ver - line);
	if (mlen == 0 || mlen >= sizeof r->method_name)
		return fail(r, mlen ? 501 : 400, "bad method");
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar((unsigned char)line[i]))
			return fail(r, 400, "bad method");
	if (tlen == 0)
		return fail(r, 400, "empty request-target");
	for (size_t i = 0; i < tlen; i++) {
		unsigned char ch = (unsigned char)sp1[1 + i];
		if (ch <= ' ' || ch >= 0x7f)
			return fail(r, 400, "bad byte in request-target");
	}
	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive */
	if (vlen != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[5] < '0' || ver[5] > '9' ||
	    ver[6] != '.' || ver[7] < '0' || ver[7] > '9')
		return fail(r, 400, "bad HTTP version");
	if (ver[5] != '1')
		return fail(r, 505, "HTTP version not supported");
	r->minor = ver[7] - '0';
	memcpy(r->method_name, line, mlen);
	r->method_name[mlen] = 0;
	r->method = HM_OTHER;
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(methods[i].name, r->method_name) == 0)
			r->method = methods[i].m;
	/* origin-form, or "*" for OPTIONS; absolute-form (RFC 9112 3.2.2) is
	 * for proxies, which brev is not, but servers must accept it. */
	if (sp1[1] != '/' && !(tlen == 1 && sp1[1] == '*' && r->method == HM_OPTIONS) &&
	    !(tlen > 7 &&
	      (ieq(sp1 + 1, 7, "http://") || (tlen > 8 && ieq(sp1 + 1, 8, "https://")))))
		return fail(r, 400, "bad request-target form");
	memcpy(r->target, sp1 + 1, tlen);
	r->target[tlen] = 0;
	r->state = ST_FIELDS;
	return HP_MORE;
}

static int keep_value(char *dst, size_t cap, const char *v, size_t vlen)
{
	if (vlen >= cap)
		return -1;
	memcpy(dst, v, vlen);
	dst[vlen] = 0;
	return 0;
}

/* RFC 6265 5.4: Cookie is "name=value" pairs joined by "; ". Only
 * brev_session is kept, and only in the form brev makes (lower-case hex of
 * HTTP_SESSION_TOKEN digits); the header may be long (other sites' cookies
 * on the same host name) without costing more than the head's bounds. */
static void cookie_session(struct http_req *r, const char *v, size_t vlen)
{
	static const char name[] = "brev_session=";
	size_t i = 0, nl = sizeof name - 1;
	while (i < vlen) {
		size_t start, end;
		while (i < vlen && (v[i] == ' ' || v[i] == ';'))
			i++;
		start = i;
		while (i < vlen && v[i] != ';')
			i++;
		end = i;
		if (end - start < nl || memcmp(v + start, name, nl) != 0)
			continue;
		r->has_cookie_session = 1;
		start += nl;
		size_t j = start;
		while (j < end && ((v[j] >= '0' && v[j] <= '9') || (v[j] >= 'a' && v[j] <= 'f')))
			j++;
		if (end - start == HTTP_SESSION_TOKEN && j == end) {
			memcpy(r->session, v + start, HTTP_SESSION_TOKEN);
			r->session[HTTP_SESSION_TOKEN] = 0;
		} else
			r->session[0] = 0; /* malformed: no session */
	}
}

/* Each comma-separated token of a list value (Connection, Transfer-Encoding). */
static int list_has(const char *v, size_t vlen, const char *token)
{
	size_t i = 0;
	while (i < vlen) {
		size_t start, end;
		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < vlen && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end > start && ieq(v + start, end - start, token))
			return 1;
	}
	return 0;
}

static int parse_length(struct http_req *r, const char *v, size_t vlen)
{
	uint64_t n = 0;
	if (vlen == 0 || vlen > 18)
		return fail(r, 400, "bad Content-Length");
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return fail(r, 400, "bad Content-Length");
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	/* RFC 9112 6.3: differing repeated values are an error. */
	if (r->has_length && r->content_length != n)
		return fail(r, 400, "conflicting Content-Length");
	r->has_length = 1;
	r->content_length = n;
	return HP_MORE;
}

static int field(struct http_req *r, const char *name, size_t nlen, const char *v, size_t vlen)
{
	if (ieq(name, nlen, "host")) {
		if (r->has_host)
			return fail(r, 400, "more than one Host");
		if (keep_value(r->host, sizeof r->host, v, vlen) < 0)
			return fail(r, 400, "Host too long");
		r->has_host = 1;
	} else if (ieq(name, nlen, "content-length")) {
		return parse_length(r, v, vlen);
	} else if (ieq(name, nlen, "transfer-encoding")) {
		/* RFC 9112 6.1: chunked must be the last (here: the only)
		 * coding; one brev does not know gets 501. */
		if (r->chunked)
			return fail(r, 400, "more than one Transfer-Encoding");
		if (!ieq(v, vlen, "chunked"))
			return fail(r, 501, "transfer coding not implemented");
		r->chunked = 1;
	} else if (ieq(name, nlen, "connection")) {
		if (list_has(v, vlen, "close"))
			r->conn_close = 1;
		if (list_has(v, vlen, "keep-alive"))
			r->conn_keepalive = 1;
	} else if (ieq(name, nlen, "expect")) {
		/* RFC 9110 10.1.1: the only expectation defined; others 417,
		 * which brev folds into 400 rather than guess. */
		if (!ieq(v, vlen, "100-continue"))
			return fail(r, 400, "unknown expectation");
		r->expect_continue = 1;
	} else if (ieq(name, nlen, "accept-encoding")) {
		char tmp[HTTP_VALUE_MAX + 1];
		if (keep_value(tmp, sizeof tmp, v, vlen) == 0)
			r->accept_gzip = http_accepts_gzip(tmp);
	} else if (ieq(name, nlen, "if-none-match")) {
		if (keep_value(r->if_none_match, sizeof r->if_none_match, v, vlen) == 0)
			r->has_if_none_match = 1;
	} else if (ieq(name, nlen, "authorization")) {
		if (keep_value(r->authorization, sizeof r->authorization, v, vlen) < 0)
			return fail(r, 431, "Authorization too long");
	} else if (ieq(name, nlen, "content-type")) {
		keep_value(r->content_type, sizeof r->content_type, v, vlen);
	} else if (ieq(name, nlen, "cookie")) {
		cookie_session(r, v, vlen);
	} else if (ieq(name, nlen, "x-csrf-token")) {
		/* too long: kept empty, which matches no session's token */
		r->has_csrf = 1;
		if (keep_value(r->csrf, sizeof r->csrf, v, vlen) < 0)
			r->csrf[0] = 0;
	}
	return HP_MORE;
}

/* The head is complete: what RFC 9112 requires of it as a whole. */
static int head_done(struct http_req *r)
{
	r->state = ST_DONE;
	if (r->minor >= 1 && !r->has_host)
		return fail(r, 400, "no Host (RFC 9112 3.2)");
	if (r->chunked && r->has_length)
		return fail(r, 400, "both Transfer-Encoding and Content-Length");
	if (r->chunked && r->minor == 0)
		return fail(r, 400, "chunked in HTTP/1.0"); /* RFC 9112 6.1 */
	if (r->has_host) {
		/* uri-host [":" port]: letters, digits, '.', '-', '_' or a
		 * bracketed IPv6 literal; keeps the redirect's Location clean. */
		for (const char *p = r->host; *p; p++)
			if (!is_tchar((unsigned char)*p) && !strchr(":[]", *p))
				return fail(r, 400, "bad Host");
	}
	return HP_DONE;
}

int http_req_line(struct http_req *r, const char *line, size_t len)
{
	const char *colon, *v, *end;

	if (r->state == ST_DONE)
		return HP_ERROR;
	if (r->state == ST_LINE && len > HTTP_LINE_MAX)
		return fail(r, 414, "request line too long");
	if (r->state == ST_FIELDS && len > HTTP_FIELD_LINE_MAX)
		return fail(r, 431, "header field too long");
	if (memchr(line, 0, len) || memchr(line, '\r', len))
		return fail(r, 400, "NUL or bare CR");
	if (r->state == ST_LINE) {
		if (len == 0) {
			if (++r->empty_lines > HTTP_EMPTY_LINES_MAX)
				return fail(r, 400, "empty lines");
			return HP_MORE;
		}
		return request_line(r, line, len);
	}
	if (len == 0)
		return head_done(r);
	r->head_bytes += len + 2;
	if (++r->nfields > HTTP_FIELDS_MAX)
		return fail(r, 431, "too many header fields");
	if (r->head_bytes > HTTP_HEAD_MAX)
		return fail(r, 431, "header fields too large");
	if (line[0] == ' ' || line[0] == '\t')
		return fail(r, 400, "obsolete line folding"); /* RFC 9112 5.2 */
	colon = memchr(line, ':', len);
	if (!colon || colon == line)
		return fail(r, 400, "bad header field");
	for (const char *p = line; p < colon; p++)
		if (!is_tchar((unsigned char)*p))
			return fail(r, 400, "bad field name"); /* also "Name :" (RFC 9112 5.1) */
	v = colon + 1;
	end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	/* RFC 9110 5.5: field-vchar is VCHAR or obs-text, with SP and HTAB */
	for (const char *p = v; p < end; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || (unsigned char)*p == 0x7f)
			return fail(r, 400, "control byte in field value");
	return field(r, line, (size_t)(colon - line), v, (size_t)(end - v));
}

int http_req_overlong(struct http_req *r)
{
	if (r->state == ST_LINE)
		return fail(r, 414, "request line too long");
	return fail(r, 431, "header field too long");
}

int http_req_keepalive(const struct http_req *r)
{
	if (r->conn_close)
		return 0;
	return r->minor >= 1 || r->conn_keepalive;
}

int http_chunk_size(const char *line, size_t len, uint64_t *size)
{
	uint64_t n = 0;
	size_t i = 0;

	for (; i < len; i++) {
		char ch = line[i];
		int d = ch >= '0' && ch <= '9'	 ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
						 : -1;
		if (d < 0)
			break;
		if (n >> 56)
			return -1;
		n = n * 16 + (uint64_t)d;
	}
	if (i == 0)
		return -1;
	/* chunk-ext: BWS ";" ... — ignored, but no control bytes */
	for (size_t j = i; j < len; j++)
		if ((unsigned char)line[j] < ' ' && line[j] != '\t')
			return -1;
	if (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t')
		return -1;
	*size = n;
	return 0;
}

/* The opaque part of an entity tag: W/"x" and "x" compare equal (weak). */
static int same_tag(const char *a, size_t alen, const char *b)
{
	size_t blen;
	if (alen >= 2 && a[0] == 'W' && a[1] == '/') {
		a += 2;
		alen -= 2;
	}
	if (b[0] == 'W' && b[1] == '/')
		b += 2;
	blen = strlen(b);
	return alen == blen && memcmp(a, b, alen) == 0;
}

int http_etag_match(const char *value, const char *etag)
{
	const char *p = value;
	while (*p) {
		const char *start, *q;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		if (*p == '*')
			return 1;
		start = p;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"')
			return 0; /* malformed: no match (send the full response) */
		q = strchr(p + 1, '"');
		if (!q)
			return 0;
		if (same_tag(start, (size_t)(q + 1 - start), etag))
			return 1;
		p = q + 1;
	}
	return 0;
}

int http_accepts_gzip(const char *value)
{
	const char *p = value;
	int star = 0, gzip = -1;
	while (*p) {
		const char *tok, *params;
		size_t tlen;
		int q0 = 0;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		tok = p;
		while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
			p++;
		tlen = (size_t)(p - tok);
		params = p;
		while (*p && *p != ',')
			p++;
		/* ";q=0", ";q=0.0", ";q=0.000" refuse the coding (RFC 9110 12.4.2) */
		for (const char *s = params; s < p; s++)
			if ((s[0] == 'q' || s[0] == 'Q') && s[1] == '=') {
				const char *d = s + 2;
				q0 = *d == '0';
				for (d++; q0 && d < p && *d != ';' && *d != ' '; d++)
					if (*d != '.' && *d != '0')
						q0 = 0;
			}
		if (ieq(tok, tlen, "gzip") || ieq(tok, tlen, "x-gzip"))
			gzip = !q0;
		else if (tlen == 1 && *tok == '*')
			star = !q0;
	}
	return gzip >= 0 ? gzip : star;
}
