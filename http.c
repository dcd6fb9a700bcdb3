/*
 * http.c — HTTP/1.1 sessions (RFC 9110, RFC 9112) on conn.c: persistent
 * connections, pipelined requests answered in order (each is read only
 * after the previous answer is queued), Content-Length and chunked request
 * bodies, Expect: 100-continue, HEAD, the static assets with ETag and gzip,
 * and one error path that gives every failure its status.
 *
 * What this file owns: the request loop, the time-outs of a request, the
 * body reader (into a spool, bounded by limits.message_size), the response
 * head with the security headers every response carries, the redirect of
 * plain http from other hosts to https, and the route table. The head is
 * parsed by http_parse.c; the assets come from http_assets.c.
 *
 * Time-outs (slowloris): between requests a connection may idle for
 * limits.timeout_preauth, then it is closed without a word; a request
 * head, once begun, must be complete within the same time in all (one
 * header line every few seconds does not extend it) or the client gets
 * 408; a body must arrive within six of them (conn.c's rule for DATA).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme.h"
#include "config.h"
#include "conn.h"
#include "http_assets.h"
#include "http_autoconfig.h"
#include "http_parse.h"
#include "jmap.h"
#include "log.h"
#include "mailbox.h"
#include "sasl.h"
#include "server.h"
#include "spool.h"
#include "util.h"
#include "websess.h"

#define HTTP_REQUESTS_MAX 1000	      /* per connection, then Connection: close */
#define HTTP_BODY_MEM	  (64 * 1024) /* a body beyond this spills to a file */
#define HTTP_CHUNK_LINE	  1024	      /* chunk-size line with its extensions */
#define HTTP_BODY_FACTOR  6	      /* body deadline: this many idle time-outs */
#define HTTP_IMMUTABLE	  "public, max-age=31536000, immutable"

/* RFC 9110 12.5.5 and the CSP the web UI will live under: nothing from
 * other origins, no inline script or style, no framing. */
#define SECURITY_HEADERS                                                                           \
	"Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "       \
	"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "           \
	"frame-ancestors 'none'\r\n"                                                               \
	"X-Content-Type-Options: nosniff\r\n"                                                      \
	"Referrer-Policy: no-referrer\r\n"                                                         \
	"X-Frame-Options: DENY\r\n"
#define HSTS "Strict-Transport-Security: max-age=31536000\r\n"

struct http {
	struct server *srv;
	struct conn *c;
	int kind;
	struct http_req req;
	struct spool *body;
	int keep; /* keep the connection after this response */
	unsigned nreq;
	int timeout_ms;	    /* limits.timeout_preauth */
	const char *reason; /* why the session ended, for its log line */
};

static const char *status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 429:
		return "Too Many Requests";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	}
	return "Error";
}

/* RFC 9110 6.6.1: an origin server with a clock sends Date (IMF-fixdate). */
static void http_date(char *buf, size_t cap)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char mons[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(buf, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * The one way a response goes out. extra: more header lines, each ending
 * in CRLF (or NULL). body is sent unless the request was HEAD or the
 * status has none (1xx, 204, 304); Content-Length always says what a GET
 * would get (RFC 9110 9.3.2, 8.6).
 */
static void respond(struct http *h, int status, const char *type, const void *body, size_t len,
		    const char *extra)
{
	char date[40];
	int nobody = h->req.method == HM_HEAD || status == 204 || status == 304;

	if (h->nreq >= HTTP_REQUESTS_MAX)
		h->keep = 0;
	http_date(date, sizeof date);
	conn_printf(h->c, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, status_text(status), date);
	conn_puts(h->c, SECURITY_HEADERS);
	if (h->kind == LK_HTTPS)
		conn_puts(h->c, HSTS);
	if (type)
		conn_printf(h->c, "Content-Type: %s\r\n", type);
	if (status != 204 && status != 304)
		conn_printf(h->c, "Content-Length: %zu\r\n", len);
	if (extra)
		conn_puts(h->c, extra);
	if (!h->keep)
		conn_puts(h->c, "Connection: close\r\n");
	else if (h->req.minor == 0)
		conn_puts(h->c, "Connection: keep-alive\r\n"); /* RFC 9112 9.3 for 1.0 */
	conn_puts(h->c, "\r\n");
	if (!nobody && len)
		conn_write(h->c, body, len);
	conn_flush(h->c);
	log_debug("http: [%s] %s %.200s %d %zu", conn_peer(h->c), h->req.method_name, h->req.target,
		  status, len);
}

/* An error answer with a one-line text body. */
static void respond_error(struct http *h, int status, const char *extra)
{
	char body[128];
	int n = snprintf(body, sizeof body, "%d %s\n", status, status_text(status));
	respond(h, status, "text/plain; charset=utf-8", body, (size_t)n, extra);
}

/* ---- the request body ---- */

enum { BODY_OK = 0, BODY_TOOBIG = -2, BODY_BAD = -3, BODY_IO = -1 };

static int read_chunked(struct http *h, uint64_t limit)
{
	uint64_t total = 0, size;
	char *line;
	ssize_t n;

	for (;;) {
		n = conn_getline(h->c, &line, HTTP_CHUNK_LINE, NULL);
		if (n == -2)
			return BODY_BAD;
		if (n < 0)
			return BODY_IO;
		if (http_chunk_size(line, (size_t)n, &size) < 0)
			return BODY_BAD;
		if (size == 0)
			break;
		if (size > limit - total)
			return BODY_TOOBIG;
		if (conn_read_n_spool(h->c, h->body, size) < 0)
			return BODY_IO;
		total += size;
		n = conn_getline(h->c, &line, 2, NULL);
		if (n != 0)
			return n < 0 && n != -2 ? BODY_IO
						: BODY_BAD; /* chunk data not followed by CRLF */
	}
	/* RFC 9112 7.1.2: trailer fields, ignored, bounded like the head. */
	for (int i = 0;; i++) {
		n = conn_getline(h->c, &line, HTTP_FIELD_LINE_MAX, NULL);
		if (n == -2 || i > HTTP_FIELDS_MAX)
			return BODY_BAD;
		if (n < 0)
			return BODY_IO;
		if (n == 0)
			return BODY_OK;
	}
}

/* Read the request's body (if any, at most limit bytes) into h->body. 100
 * Continue goes out first when the client waits for it (HTTP/1.1 only,
 * RFC 9110 10.1.1). */
static int read_body(struct http *h, uint64_t limit)
{
	int rc = BODY_OK;

	spool_reset(h->body);
	if (!h->req.chunked && (!h->req.has_length || h->req.content_length == 0))
		return BODY_OK;
	if (h->req.has_length && h->req.content_length > limit)
		return BODY_TOOBIG;
	if (h->req.expect_continue && h->req.minor >= 1) {
		conn_puts(h->c, "HTTP/1.1 100 Continue\r\n\r\n");
		conn_flush(h->c);
	}
	conn_set_deadline(h->c, h->timeout_ms * HTTP_BODY_FACTOR);
	if (h->req.chunked)
		rc = read_chunked(h, limit);
	else if (conn_read_n_spool(h->c, h->body, h->req.content_length) < 0)
		rc = BODY_IO;
	conn_set_deadline(h->c, 0);
	if (rc == BODY_OK && spool_error(h->body))
		rc = BODY_IO;
	return rc;
}

static const char t408[] = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
			   "Connection: close\r\n\r\n";

/* A body that could not be read: its status, and the connection ends
 * (where the next request would start is unknown). */
static void body_failed(struct http *h, int rc)
{
	h->keep = 0;
	if (rc == BODY_TOOBIG)
		respond_error(h, 413, NULL);
	else if (rc == BODY_BAD)
		respond_error(h, 400, NULL);
	else if (conn_error(h->c) == CONN_TIMEOUT) {
		h->reason = "body timeout";
		conn_timeout_reply(h->c, t408); /* RFC 9110 15.5.9 */
	}
}

/* ---- routes ---- */

static void serve_asset(struct http *h, const struct http_asset *a)
{
	char extra[256];
	const unsigned char *data = a->data;
	size_t len = a->len, gzlen = 0;
	const unsigned char *gz = h->req.accept_gzip ? http_asset_gzip(a, &gzlen) : NULL;
	char etag[64];

	/* RFC 9110 8.8.3: a gzip form is a different representation, with
	 * its own tag. */
	if (gz)
		snprintf(etag, sizeof etag, "\"%.*s-gz\"", (int)strlen(a->etag) - 2, a->etag + 1);
	else
		snprintf(etag, sizeof etag, "%s", a->etag);
	snprintf(extra, sizeof extra, "ETag: %s\r\nCache-Control: %s\r\n%s%s", etag,
		 a->immutable ? HTTP_IMMUTABLE : "no-cache",
		 a->compressible ? "Vary: Accept-Encoding\r\n" : "",
		 gz ? "Content-Encoding: gzip\r\n" : "");
	/* RFC 9110 13.1.2: If-None-Match by the weak comparison; either form's
	 * tag means the client holds this content. */
	if (h->req.has_if_none_match && (http_etag_match(h->req.if_none_match, a->etag) ||
					 http_etag_match(h->req.if_none_match, etag))) {
		respond(h, 304, NULL, NULL, 0, extra);
		return;
	}
	if (gz) {
		data = gz;
		len = gzlen;
	}
	respond(h, 200, a->type, data, len, extra);
}

/* The path of the target without its query, or NULL if it is not one
 * brev serves (absolute-form: the path after the authority). */
static const char *target_path(const char *t, char *buf, size_t cap)
{
	size_t n;
	if (t[0] != '/') {
		const char *p = strstr(t, "://");
		if (!p)
			return NULL;
		p = strchr(p + 3, '/');
		t = p ? p : "/";
	}
	n = strcspn(t, "?#");
	if (n >= cap)
		return NULL;
	memcpy(buf, t, n);
	buf[n] = 0;
	return buf;
}

/* Plain http from another host: the only answer is the same URL on https
 * (RFC 9110 15.4.9: 308 keeps the method and body). */
static void redirect_https(struct http *h)
{
	const struct config *cfg = h->srv->cfg;
	char host[HTTP_HOST_MAX + 1], extra[HTTP_LINE_MAX + HTTP_HOST_MAX + 64], port[16] = "";
	const char *t = h->req.target, *list = cfg->listen_https;
	size_t n = strcspn(list, " \t");

	str_copy(host, h->req.has_host ? h->req.host : cfg->hostname, sizeof host);
	/* drop the port (an IPv6 literal keeps its brackets) */
	char *colon = strrchr(host, ':');
	if (colon && (host[0] != '[' || colon > strchr(host, ']')))
		*colon = 0;
	if (n) {
		char first[80];
		snprintf(first, sizeof first, "%.*s", (int)n, list);
		const char *p = strrchr(first, ':');
		if (p && strcmp(p + 1, "443"))
			snprintf(port, sizeof port, ":%s", p + 1);
	}
	if (t[0] != '/') { /* absolute-form: keep only the path */
		const char *p = strstr(t, "://");
		p = p ? strchr(p + 3, '/') : NULL;
		t = p ? p : "/";
	}
	snprintf(extra, sizeof extra, "Location: https://%s%s%s\r\n", host, port, t);
	respond_error(h, 308, extra);
}

/* A body was announced for a request whose answer does not need it: read
 * and discard it so the connection stays in step, unless the client waits
 * for 100 Continue (then it sends nothing and the connection just ends). */
static int discard_body(struct http *h)
{
	if (!h->req.chunked && !(h->req.has_length && h->req.content_length))
		return 0;
	if (h->req.expect_continue) {
		h->keep = 0;
		return 0;
	}
	int rc = read_body(h, h->srv->cfg->message_size);
	if (rc != BODY_OK) {
		body_failed(h, rc);
		return -1;
	}
	return 0;
}

/* The body as one buffer: the spool's memory, or read back from its file
 * (at most maxSizeRequest). NULL on error; *owned says whether to free. */
static char *body_bytes(struct http *h, size_t *len, int *owned)
{
	uint64_t n = spool_size(h->body);
	const void *mem = spool_mem(h->body);
	char *buf;

	*len = (size_t)n;
	*owned = 0;
	if (mem || n == 0)
		return (char *)(mem ? mem : "");
	buf = xmalloc((size_t)n);
	if (spool_read_at(h->body, 0, buf, (size_t)n) != (long)n) {
		free(buf);
		return NULL;
	}
	*owned = 1;
	return buf;
}

/* The whole request body, at most max bytes, as body_bytes gives it; NULL
 * when reading it failed or it was too large (the answer is sent). */
static char *whole_body(struct http *h, uint64_t max, size_t *len, int *owned)
{
	char *body;
	int rc = read_body(h, max);
	if (rc != BODY_OK) {
		body_failed(h, rc);
		return NULL;
	}
	if (!(body = body_bytes(h, len, owned))) {
		h->keep = 0;
		respond_error(h, 500, NULL);
	}
	return body;
}

/* ---- authentication: HTTP Basic (RFC 7617) for JMAP clients ---- */

#define WWW_AUTH "WWW-Authenticate: Basic realm=\"brev\", charset=\"UTF-8\"\r\n"

struct http_lookup {
	struct store *st;
	const struct config *cfg;
	struct account a;
	int rc;
};

/* A bare local part is completed with the only local domain, as IMAP's
 * LOGIN does. */
static int http_lookup(void *arg, const char *user, struct cred *out)
{
	struct http_lookup *l = arg;
	char addr[STORE_ADDR_MAX + 1];
	const char *d = l->cfg->domains;
	size_t dl;

	while (*d == ' ')
		d++;
	dl = strcspn(d, " \t");
	if (strchr(user, '@') || !dl || d[dl + strspn(d + dl, " \t")] != 0)
		str_copy(addr, user, sizeof addr);
	else
		snprintf(addr, sizeof addr, "%s@%.*s", user, (int)dl, d);
	l->rc = store_user_get(l->st, addr, &l->a);
	if (l->rc != ST_OK)
		return -1;
	*out = l->a.cred;
	return 0;
}

/* A JSON answer {"error": msg} (the login routes'). */
static void respond_json_error(struct http *h, int status, const char *msg, const char *extra)
{
	size_t len;
	char *body = jmap_login_error(msg, &len), hdr[256];
	snprintf(hdr, sizeof hdr, "Cache-Control: no-store\r\n%s", extra ? extra : "");
	respond(h, status, "application/json", body, len, hdr);
	free(body);
}

/* Check user and password as every login does: cred_verify, the same
 * check and failed-login throttle as IMAP LOGIN and SMTP AUTH. 1 with *a,
 * 0 wrong, -1 the throttle refused, -2 the store failed. */
static int check_password(struct http *h, const char *user, const char *pw, struct account *a)
{
	struct http_lookup *l = xcalloc(1, sizeof *l);
	int ok;
	l->st = h->srv->store;
	l->cfg = h->srv->cfg;
	ok = cred_verify(http_lookup, l, conn_peer(h->c), user, pw);
	if (ok == 1)
		*a = l->a;
	else if (ok == 0 && l->rc == ST_TEMP)
		ok = -2;
	else if (ok == 0)
		log_info("http auth failed user=%.100s peer=%s", user, conn_peer(h->c));
	explicit_bzero(l, sizeof *l);
	free(l);
	return ok;
}

/* The browser session of the request's brev_session cookie: 1 with its
 * account in *a (and the session in *s when s is given). Otherwise the
 * answer is sent (401 without a Basic challenge, which would make a
 * browser ask for a password in a dialog of its own; 503 when the store
 * failed) and 0 returned. json: the 401 as {"error"} JSON. */
static int session_account(struct http *h, struct account *a, struct store_sess *s, int json)
{
	struct store_sess tmp;
	int rc;

	if (!s)
		s = &tmp;
	rc = h->req.session[0] ? websess_check(h->srv->store, h->req.session,
					       h->srv->cfg->session_idle, s)
			       : 0;
	if (rc == 1) {
		rc = store_user_get_id(h->srv->store, s->user, a);
		if (rc == ST_OK)
			return 1;
		rc = rc == ST_NOTFOUND ? 0 : -1;
	}
	if (rc < 0)
		respond_error(h, 503, "Retry-After: 5\r\n");
	else if (json)
		respond_json_error(h, 401, "not logged in", NULL);
	else
		respond_error(h, 401, NULL);
	return 0;
}

/* The request's account into *a: 1. Otherwise the answer (401, 403, 429,
 * 503) is sent and 0 returned. Only over TLS or from this machine (plain
 * http from elsewhere was redirected already). Two ways in:
 * - HTTP Basic: the password through cred_verify, the same check and
 *   failed-login throttle as IMAP LOGIN;
 * - without Authorization, the brev_session cookie of a web login; a
 *   request other than GET or HEAD must then echo the session's CSRF token
 *   in X-CSRF-Token, or it gets 403 (a page of another site can make the
 *   browser send the cookie, never read the token). */
static int authenticate(struct http *h, struct account *a)
{
	const char *v = h->req.authorization;
	char dec[HTTP_VALUE_MAX], *colon;
	long n;
	int ok;

	if (!conn_is_tls(h->c) && !conn_is_loopback(h->c)) {
		respond_error(h, 403, NULL);
		return 0;
	}
	if (!v[0] && (h->req.has_cookie_session || h->req.has_csrf)) {
		struct store_sess s;
		int m = h->req.method;
		if (!session_account(h, a, &s, 0))
			return 0;
		if (m != HM_GET && m != HM_HEAD && !websess_csrf_ok(&s, h->req.csrf)) {
			explicit_bzero(a, sizeof *a);
			respond_error(h, 403, NULL);
			return 0;
		}
		return 1;
	}
	if (strncasecmp(v, "Basic ", 6) != 0 ||
	    (n = b64_decode(v + 6, strlen(v + 6), dec, sizeof dec - 1)) < 0 ||
	    memchr(dec, 0, (size_t)n) || !(dec[n] = 0, colon = strchr(dec, ':'))) {
		respond_error(h, 401, WWW_AUTH);
		return 0;
	}
	*colon = 0;
	ok = check_password(h, dec, colon + 1, a);
	if (ok == -1)
		respond_error(h, 429, "Retry-After: 30\r\n"); /* the throttle's queue is full */
	else if (ok == -2)
		respond_error(h, 503, "Retry-After: 5\r\n");
	else if (ok == 0)
		respond_error(h, 401, WWW_AUTH);
	explicit_bzero(dec, sizeof dec);
	return ok == 1;
}

/* ---- the web login: POST /login, GET /session, POST /logout ---- */

#define LOGIN_BODY_MAX 4096 /* a user name and a password, with room */
#define COOKIE_ATTRS   "Path=/; HttpOnly; SameSite=Strict"

static void send_login_json(struct http *h, const struct account *a, const char *csrf,
			    const char *extra)
{
	size_t len;
	char *body = jmap_login_json(a, csrf, &len), hdr[512];
	snprintf(hdr, sizeof hdr, "Cache-Control: no-store\r\n%s", extra ? extra : "");
	respond(h, 200, "application/json", body, len, hdr);
	free(body);
}

/* POST /login: a password (JSON or a form) for a session cookie. */
static void login_route(struct http *h)
{
	char user[STORE_ADDR_MAX + 1], pw[512], token[WEBSESS_TOKEN + 1], csrf[WEBSESS_CSRF + 1];
	char cookie[256], *body;
	struct account a;
	size_t len;
	int owned, rc, ok;

	if (h->req.method != HM_POST) {
		if (discard_body(h) == 0)
			respond_error(h, 405, "Allow: POST\r\n");
		return;
	}
	if (!conn_is_tls(h->c) && !conn_is_loopback(h->c)) {
		h->keep = 0;
		respond_error(h, 403, NULL);
		return;
	}
	if (!(body = whole_body(h, LOGIN_BODY_MAX, &len, &owned)))
		return;
	rc = jmap_login_parse(h->req.content_type, body, len, user, sizeof user, pw, sizeof pw);
	if (owned)
		free(body);
	spool_reset(h->body); /* the password is not kept in the spool's memory */
	if (rc < 0) {
		respond_json_error(h, 400, "expected a username and a password", NULL);
		return;
	}
	ok = check_password(h, user, pw, &a);
	explicit_bzero(pw, sizeof pw);
	if (ok == -1) {
		respond_json_error(h, 429, "too many failed logins: try again later",
				   "Retry-After: 30\r\n");
		return;
	}
	if (ok == -2) {
		respond_json_error(h, 503, "the store is busy: try again", "Retry-After: 5\r\n");
		return;
	}
	if (ok == 0) {
		respond_json_error(h, 401, "wrong user name or password", NULL);
		return;
	}
	rc = websess_create(h->srv->store, a.id, h->srv->cfg->session_idle, token, csrf);
	if (rc != ST_OK) {
		explicit_bzero(&a, sizeof a);
		respond_json_error(h, 503, "the store is busy: try again", "Retry-After: 5\r\n");
		return;
	}
	log_info("http login user=%s peer=%s", a.addr, conn_peer(h->c));
	/* RFC 6265 4.1.2.5: Secure when the login came over TLS (a plain
	 * http login is only possible from this machine) */
	snprintf(cookie, sizeof cookie, "Set-Cookie: brev_session=%s; " COOKIE_ATTRS "%s\r\n", token,
		 conn_is_tls(h->c) ? "; Secure" : "");
	send_login_json(h, &a, csrf, cookie);
	explicit_bzero(token, sizeof token);
	explicit_bzero(&a, sizeof a);
}

/* GET /session: the login's answer again, for a page that was reloaded. */
static void session_route(struct http *h)
{
	struct account a;
	struct store_sess s;

	if (discard_body(h) < 0)
		return;
	if (h->req.method != HM_GET && h->req.method != HM_HEAD) {
		respond_error(h, 405, "Allow: GET, HEAD\r\n");
		return;
	}
	if (!session_account(h, &a, &s, 1))
		return;
	send_login_json(h, &a, s.csrf, NULL);
	explicit_bzero(&a, sizeof a);
	explicit_bzero(&s, sizeof s);
}

/* POST /logout: the session ends and the cookie is cleared. */
static void logout_route(struct http *h)
{
	struct account a;
	struct store_sess s;

	if (discard_body(h) < 0)
		return;
	if (h->req.method != HM_POST) {
		respond_error(h, 405, "Allow: POST\r\n");
		return;
	}
	if (!session_account(h, &a, &s, 1))
		return;
	explicit_bzero(&a, sizeof a);
	if (!websess_csrf_ok(&s, h->req.csrf)) {
		respond_json_error(h, 403, "missing or wrong X-CSRF-Token", NULL);
		return;
	}
	if (websess_end(h->srv->store, h->req.session) == ST_TEMP) {
		respond_error(h, 503, "Retry-After: 5\r\n");
		return;
	}
	respond(h, 204, NULL, NULL, 0,
		"Cache-Control: no-store\r\nSet-Cookie: brev_session=; " COOKIE_ATTRS
		"; Max-Age=0\r\n");
}

/* ---- JMAP (jmap.c) ---- */

static void send_jmap(struct http *h, struct jmap_reply *r)
{
	char extra[64];
	snprintf(extra, sizeof extra, "Cache-Control: no-store\r\n");
	respond(h, r->status, r->type, r->body, r->len, extra);
	free(r->body);
	r->body = NULL;
}

static void jmap_session_route(struct http *h)
{
	struct account a;
	struct jmap_reply r;

	if (discard_body(h) < 0)
		return;
	if (h->req.method != HM_GET && h->req.method != HM_HEAD) {
		respond_error(h, 405, "Allow: GET, HEAD\r\n");
		return;
	}
	if (!authenticate(h, &a))
		return;
	jmap_session(h->srv, &a, &r);
	explicit_bzero(&a, sizeof a);
	send_jmap(h, &r);
}

/* GET /jmap/eventsource (RFC 8620 7.3): the head of an endless
 * text/event-stream (no length; the connection ends it), then
 * jmap_push.c's events. The connection is counted in limits.connections
 * like any other while it lasts. */
static void jmap_events_route(struct http *h)
{
	struct account a;
	struct push_opts o;
	const char *q = strchr(h->req.target, '?');
	char date[40];

	if (discard_body(h) < 0)
		return;
	if (h->req.method != HM_GET) {
		respond_error(h, 405, "Allow: GET\r\n");
		return;
	}
	if (!authenticate(h, &a))
		return;
	if (jmap_push_parse(q ? q + 1 : NULL, &o) < 0) {
		explicit_bzero(&a, sizeof a);
		respond_error(h, 400, NULL);
		return;
	}
	h->keep = 0;
	http_date(date, sizeof date);
	conn_printf(h->c, "HTTP/1.1 200 OK\r\nDate: %s\r\n", date);
	conn_puts(h->c, SECURITY_HEADERS);
	if (h->kind == LK_HTTPS)
		conn_puts(h->c, HSTS);
	conn_puts(h->c, "Content-Type: text/event-stream\r\nCache-Control: no-store\r\n"
			"Connection: close\r\n\r\n");
	log_debug("http: [%s] GET %.200s 200 (event stream)", conn_peer(h->c), h->req.target);
	jmap_eventsource(h->srv, h->c, &a, &o);
	explicit_bzero(&a, sizeof a);
	h->reason = "eventsource";
}

/* accept: a media type of token characters and one "/", into type (which
 * keeps its default otherwise). */
static void accept_type(const char *q, char *type, size_t cap)
{
	const char *t;
	if (q && (t = strstr(q, "accept=")) && (t == q + 1 || t[-1] == '&')) {
		size_t n = strcspn(t + 7, "&");
		if (n && n < cap &&
		    strspn(t + 7, "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$^_.+-/") >= n &&
		    memchr(t + 7, '/', n)) {
			memcpy(type, t + 7, n);
			type[n] = 0;
		}
	}
}

/* GET /jmap/download/{accountId}/{blobId}/{name}?accept={type} (RFC
 * 8620 6.2): a message's bytes, read from the store in pieces; or one
 * body part's, decoded. */
#define DOWNLOAD_PIECE (64 * 1024)
static void jmap_download_route(struct http *h, const char *rest)
{
	struct account a;
	char acc[32], blob_id[64], name[128], type[104] = "application/octet-stream", date[40];
	const char *q = strchr(h->req.target, '?');
	uint64_t blob, size, off = 0;
	char *buf;
	int ok, end = 0;

	if (discard_body(h) < 0)
		return;
	if (h->req.method != HM_GET && h->req.method != HM_HEAD) {
		respond_error(h, 405, "Allow: GET, HEAD\r\n");
		return;
	}
	if (!authenticate(h, &a))
		return;
	/* the whole path: a name of other characters, or longer, is no match */
	ok = sscanf(rest, "%31[A-Za-z0-9]/%63[A-Za-z0-9_]/%127[A-Za-z0-9._-]%n", acc, blob_id, name,
		    &end) == 3 &&
	     rest[end] == 0;
	if (ok && strchr(blob_id, '_')) {
		/* one body part, decoded (an EmailBodyPart's blobId): small
		 * enough (limits.message_size) to answer from memory */
		char *part, *q2 = NULL;
		size_t plen;
		ok = jmap_part_fetch(h->srv, &a, acc, blob_id, &part, &plen) == 0;
		explicit_bzero(&a, sizeof a);
		if (!ok) {
			respond_error(h, 404, NULL);
			return;
		}
		accept_type(q, type, sizeof type);
		q2 = xmalloc(strlen(name) + 160);
		snprintf(q2, strlen(name) + 160,
			 "Content-Disposition: attachment; filename=\"%s\"\r\n"
			 "Cache-Control: private, immutable, max-age=31536000\r\n",
			 name);
		respond(h, 200, type, part, plen, q2);
		free(q2);
		free(part);
		return;
	}
	ok = ok && jmap_blob_lookup(h->srv, &a, acc, blob_id, &blob, &size) == 0;
	explicit_bzero(&a, sizeof a);
	if (!ok) {
		respond_error(h, 404, NULL);
		return;
	}
	accept_type(q, type, sizeof type);
	h->keep = 0; /* a read failing half-way can only be told by closing */
	http_date(date, sizeof date);
	conn_printf(h->c, "HTTP/1.1 200 OK\r\nDate: %s\r\n", date);
	conn_puts(h->c, SECURITY_HEADERS);
	if (h->kind == LK_HTTPS)
		conn_puts(h->c, HSTS);
	conn_printf(h->c,
		    "Content-Type: %s\r\nContent-Length: %llu\r\nContent-Disposition: "
		    "attachment; filename=\"%s\"\r\nCache-Control: private, immutable, "
		    "max-age=31536000\r\nConnection: close\r\n\r\n",
		    type, (unsigned long long)size, name);
	buf = xmalloc(DOWNLOAD_PIECE);
	while (h->req.method == HM_GET && off < size && !conn_error(h->c)) {
		long n = store_msg_read(h->srv->store, blob, off, buf,
					size - off < DOWNLOAD_PIECE ? (size_t)(size - off)
								    : DOWNLOAD_PIECE);
		if (n <= 0)
			break;
		conn_write(h->c, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	conn_flush(h->c);
	log_debug("http: [%s] %s %.200s 200 %llu", conn_peer(h->c), h->req.method_name,
		  h->req.target, (unsigned long long)off);
}

static void jmap_api_route(struct http *h)
{
	uint64_t max = jmap_max_size_request(h->srv);
	struct account a;
	struct jmap_reply r;
	char *body;
	size_t len;
	int owned, rc;

	if (h->req.method != HM_POST) {
		if (discard_body(h) == 0)
			respond_error(h, 405, "Allow: POST\r\n");
		return;
	}
	if (h->req.has_length && h->req.content_length > max) {
		h->keep = 0; /* refused before a byte of it is read */
		jmap_too_large(&r);
		send_jmap(h, &r);
		return;
	}
	/* Authenticate before 100 Continue: a client without the password
	 * never gets to send its body. */
	if (!authenticate(h, &a)) {
		/* the body announced is not read: end after this answer */
		if (h->req.chunked || (h->req.has_length && h->req.content_length))
			h->keep = 0;
		return;
	}
	if (jmap_enter(&r) < 0) {
		explicit_bzero(&a, sizeof a);
		if (h->req.chunked || (h->req.has_length && h->req.content_length))
			h->keep = 0; /* the body is not read */
		send_jmap(h, &r);
		return;
	}
	rc = read_body(h, max);
	if (rc == BODY_TOOBIG) {
		h->keep = 0;
		jmap_too_large(&r);
		send_jmap(h, &r);
	} else if (rc != BODY_OK) {
		body_failed(h, rc);
	} else if (!(body = body_bytes(h, &len, &owned))) {
		h->keep = 0;
		respond_error(h, 500, NULL);
	} else {
		jmap_api(h->srv, &a, body, len, &r);
		if (owned)
			free(body);
		jmap_leave();
		send_jmap(h, &r);
		explicit_bzero(&a, sizeof a);
		return;
	}
	jmap_leave();
	explicit_bzero(&a, sizeof a);
}

/* POST /jmap/upload/{accountId}/ (RFC 8620 6.1): the body, at most
 * maxSizeUpload (limits.message_size), becomes a blob for Email/import.
 * Uploads take the same places as API requests (maxConcurrentRequests). */
static void jmap_upload_route(struct http *h, const char *rest)
{
	uint64_t max = h->srv->cfg->message_size;
	struct account a;
	struct jmap_reply r;
	char acc[32], want[32], type[128] = "application/octet-stream";
	size_t n = strcspn(rest, "/");
	int rc;

	if (h->req.method != HM_POST) {
		if (discard_body(h) == 0)
			respond_error(h, 405, "Allow: POST\r\n");
		return;
	}
	if (h->req.has_length && h->req.content_length > max) {
		h->keep = 0; /* refused before a byte of it is read */
		respond_error(h, 413, NULL);
		return;
	}
	if (!authenticate(h, &a)) {
		if (h->req.chunked || (h->req.has_length && h->req.content_length))
			h->keep = 0;
		return;
	}
	jmap_account_id_of(&a, want, sizeof want);
	if (n >= sizeof acc || (rest[n] && strcmp(rest + n, "/")) ||
	    (memcpy(acc, rest, n), acc[n] = 0, strcmp(acc, want))) {
		explicit_bzero(&a, sizeof a);
		h->keep = h->keep && !h->req.chunked && !(h->req.has_length && h->req.content_length);
		respond_error(h, 404, NULL);
		return;
	}
	if (jmap_enter(&r) < 0) {
		explicit_bzero(&a, sizeof a);
		if (h->req.chunked || (h->req.has_length && h->req.content_length))
			h->keep = 0;
		send_jmap(h, &r);
		return;
	}
	rc = read_body(h, max);
	if (rc != BODY_OK) {
		body_failed(h, rc);
	} else {
		/* the media type as sent, when it is one: token characters, one "/" */
		const char *ct = h->req.content_type;
		size_t tl = strcspn(ct, " ;");
		if (tl && tl < sizeof type && memchr(ct, '/', tl) &&
		    strspn(ct, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			       "!#$^_.+-/") >= tl) {
			memcpy(type, ct, tl);
			type[tl] = 0;
		}
		jmap_upload(h->srv, &a, type, h->body, &r);
		send_jmap(h, &r);
	}
	jmap_leave();
	explicit_bzero(&a, sizeof a);
}

/* ---- client autoconfig and the MTA-STS policy (http_autoconfig.c) ---- */

static void send_owned(struct http *h, int status, const char *type, char *body, size_t len)
{
	respond(h, status, type, body, len, "Cache-Control: no-cache\r\n");
	free(body);
}

/* Thunderbird: GET, any query (the address is not needed: the answer
 * names %EMAILADDRESS%). */
static void thunderbird_route(struct http *h)
{
	size_t len;
	char *xml;
	if (discard_body(h) < 0)
		return;
	if (h->req.method != HM_GET && h->req.method != HM_HEAD) {
		respond_error(h, 405, "Allow: GET, HEAD\r\n");
		return;
	}
	xml = autoconf_thunderbird(h->srv->cfg, &len);
	send_owned(h, 200, "application/xml; charset=utf-8", xml, len);
}

/* Apple devices: the logged-in account's profile (Basic or a web login),
 * as a download. */
static void mobileconfig_route(struct http *h)
{
	struct account a;
	char disp[96];
	size_t len;
	char *pl;
	if (discard_body(h) < 0)
		return;
	if (h->req.method != HM_GET && h->req.method != HM_HEAD) {
		respond_error(h, 405, "Allow: GET, HEAD\r\n");
		return;
	}
	if (!authenticate(h, &a))
		return;
	pl = autoconf_mobileconfig(h->srv->cfg, a.addr, &len);
	snprintf(disp, sizeof disp,
		 "Cache-Control: no-store\r\nContent-Disposition: attachment; "
		 "filename=\"brev-mail.mobileconfig\"\r\n");
	respond(h, 200, "application/x-apple-aspen-config", pl, len, disp);
	free(pl);
	explicit_bzero(&a, sizeof a);
}

/* Outlook POX: a POST naming the address, its body bounded. */
static void autodiscover_route(struct http *h)
{
	char *body, *out;
	size_t len, outlen;
	int owned;

	if (h->req.method != HM_POST) {
		if (discard_body(h) == 0)
			respond_error(h, 405, "Allow: POST\r\n");
		return;
	}
	if (!(body = whole_body(h, AUTOCONF_BODY_MAX, &len, &owned)))
		return;
	out = autoconf_autodiscover(h->srv->cfg, body, len, &outlen);
	if (owned)
		free(body);
	if (!out)
		respond_error(h, 400, NULL);
	else
		send_owned(h, 200, "application/xml; charset=utf-8", out, outlen);
}

/* RFC 8461 3.3: the policy only over https; none = nothing published. */
static void mta_sts_route(struct http *h)
{
	char pol[1024];
	size_t n = autoconf_mta_sts_policy(h->srv->cfg, pol, sizeof pol);
	if (discard_body(h) < 0)
		return;
	if (h->kind != LK_HTTPS || n == 0)
		respond_error(h, 404, NULL);
	else if (h->req.method != HM_GET && h->req.method != HM_HEAD)
		respond_error(h, 405, "Allow: GET, HEAD\r\n");
	else
		respond(h, 200, "text/plain", pol, n, "Cache-Control: no-cache\r\n");
}

/* RFC 8555 8.3: the key authorization of a pending http-01 challenge, on
 * plain http from anywhere (the CA connects to port 80, never to https). */
static void acme_route(struct http *h, const char *token)
{
	char ka[ACME_KEYAUTH_MAX + 1];
	size_t n = acme_challenge(token, ka, sizeof ka);
	if (discard_body(h) < 0)
		return;
	if (n == 0)
		respond_error(h, 404, NULL);
	else if (h->req.method != HM_GET && h->req.method != HM_HEAD)
		respond_error(h, 405, "Allow: GET, HEAD\r\n");
	else
		respond(h, 200, "application/octet-stream", ka, n, NULL);
}

static void route(struct http *h)
{
	char pathbuf[HTTP_LINE_MAX + 1];
	const char *path = target_path(h->req.target, pathbuf, sizeof pathbuf);
	const struct http_asset *a;
	int m = h->req.method;

	if (path && strncmp(path, "/.well-known/acme-challenge/", 28) == 0) {
		acme_route(h, path + 28);
		return;
	}
	if (h->kind == LK_HTTP && !conn_is_loopback(h->c)) {
		h->keep = h->keep && !h->req.chunked && !h->req.has_length;
		redirect_https(h);
		return;
	}
	if (!path && !(m == HM_OPTIONS && strcmp(h->req.target, "*") == 0)) {
		if (discard_body(h) == 0)
			respond_error(h, 400, NULL);
		return;
	}
	if (m == HM_OPTIONS && !path) { /* OPTIONS * */
		if (discard_body(h) == 0)
			respond(h, 204, NULL, NULL, 0, "Allow: GET, HEAD, OPTIONS\r\n");
		return;
	}
	if (strcmp(path, "/login") == 0) {
		login_route(h);
		return;
	}
	if (strcmp(path, "/session") == 0) {
		session_route(h);
		return;
	}
	if (strcmp(path, "/logout") == 0) {
		logout_route(h);
		return;
	}
	if (strcmp(path, "/.well-known/jmap") == 0) {
		jmap_session_route(h);
		return;
	}
	if (strcmp(path, "/jmap/api") == 0 || strcmp(path, "/jmap/api/") == 0) {
		jmap_api_route(h);
		return;
	}
	if (strncmp(path, "/jmap/upload/", 13) == 0) {
		jmap_upload_route(h, path + 13);
		return;
	}
	if (strncmp(path, "/jmap/download/", 15) == 0) {
		jmap_download_route(h, path + 15);
		return;
	}
	if (strcmp(path, "/jmap/eventsource") == 0 || strcmp(path, "/jmap/eventsource/") == 0) {
		jmap_events_route(h);
		return;
	}
	if (strcmp(path, "/.well-known/autoconfig/mail/config-v1.1.xml") == 0 ||
	    strcmp(path, "/mail/config-v1.1.xml") == 0) {
		thunderbird_route(h);
		return;
	}
	if (strcasecmp(path, "/autodiscover/autodiscover.xml") == 0) {
		autodiscover_route(h);
		return;
	}
	if (strcmp(path, "/mobileconfig") == 0) {
		mobileconfig_route(h);
		return;
	}
	if (strcmp(path, "/.well-known/mta-sts.txt") == 0) {
		mta_sts_route(h);
		return;
	}
	a = http_asset_find(path);
	if (!a) {
		if (discard_body(h) == 0)
			respond_error(h, 404, NULL);
		return;
	}
	if (discard_body(h) < 0)
		return;
	if (m == HM_GET || m == HM_HEAD)
		serve_asset(h, a);
	else if (m == HM_OPTIONS)
		respond(h, 204, NULL, NULL, 0, "Allow: GET, HEAD, OPTIONS\r\n");
	else
		respond_error(h, 405, "Allow: GET, HEAD, OPTIONS\r\n");
}

/* ---- the request loop ---- */

/* Read one request head. 1 complete, 0 the connection ended quietly (or
 * the head failed and was answered), -1 error. */
static int read_head(struct http *h)
{
	char *line;
	ssize_t n;
	int rc = HP_MORE;

	http_req_init(&h->req);
	conn_set_deadline(h->c, h->timeout_ms);
	while (rc == HP_MORE) {
		n = conn_getline(h->c, &line, HTTP_LINE_MAX, NULL);
		if (n == -2)
			rc = http_req_overlong(&h->req);
		else if (n < 0)
			break;
		else
			rc = http_req_line(&h->req, line, (size_t)n);
	}
	conn_set_deadline(h->c, 0);
	if (rc == HP_DONE)
		return 1;
	if (rc == HP_ERROR) {
		h->keep = 0;
		h->reason = h->req.why;
		respond_error(h, h->req.status, NULL);
		return 0;
	}
	if (conn_error(h->c) == CONN_TIMEOUT) {
		/* RFC 9110 15.5.9: a head that did not arrive in time (the
		 * quiet wait between requests is http_serve's) */
		h->reason = "timeout";
		conn_timeout_reply(h->c, t408);
		return -1;
	}
	h->reason = "closed";
	return -1;
}

void http_serve(struct server *srv, struct conn *c, int kind)
{
	struct http *h = xcalloc(1, sizeof *h);

	h->srv = srv;
	h->c = c;
	h->kind = kind;
	h->body = spool_new(HTTP_BODY_MEM);
	h->timeout_ms = (int)(srv->cfg->timeout_preauth * 1000);
	h->keep = 1;
	h->reason = "closed";
	conn_set_timeout(c, h->timeout_ms);
	while (h->keep && !atomic_load(&srv->stopping)) {
		/* Between requests only a quiet wait: no 408 for a client that
		 * simply keeps an idle connection (RFC 9112 9.5). */
		if (h->nreq > 0 && conn_wait(c, -1, h->timeout_ms) != 1) {
			h->reason = "idle";
			break;
		}
		if (read_head(h) <= 0)
			break;
		h->nreq++;
		h->keep = http_req_keepalive(&h->req);
		if (h->req.method == HM_OTHER) {
			h->keep = 0;
			respond_error(h, 501, NULL);
		} else if ((h->req.method == HM_POST || h->req.method == HM_PUT ||
			    h->req.method == HM_PATCH) &&
			   !h->req.has_length && !h->req.chunked) {
			h->keep = 0; /* RFC 9110 15.5.12 */
			respond_error(h, 411, NULL);
		} else
			route(h); /* each route bounds its body (413 before reading) */
		if (conn_error(c))
			break;
	}
	if (!h->keep && !conn_error(c))
		conn_linger(c);
	log_debug("http session end peer=%s tls=%s requests=%u reason=%s", conn_peer(c),
		  conn_is_tls(c) ? "yes" : "no", h->nreq, h->reason);
	spool_free(&h->body);
	free(h);
}
