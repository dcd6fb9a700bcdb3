/*
 * http_parse.h — the HTTP/1.x request head (RFC 9112 2-3, 5-7, RFC 9110):
 * a push parser fed one line at a time (the connection reads the lines,
 * bounded; this file does no I/O and never allocates). It checks the
 * request line and every header field, keeps the fields brev acts on, and
 * counts what the head costs, so that every limit is checked before more
 * is read. Also the chunked transfer coding's size line and the few header
 * values http.c compares (ETag lists, Accept-Encoding).
 *
 * Errors carry the HTTP status the client gets: 400 malformed, 414 request
 * line too long, 431 header fields too large or too many, 501 transfer
 * coding not implemented, 505 HTTP version not supported.
 */
#ifndef BREV_HTTP_PARSE_H
#define BREV_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_LINE_MAX	     8192  /* request line without CRLF; longer: 414 */
#define HTTP_FIELD_LINE_MAX  8192  /* one header field line; longer: 431 */
#define HTTP_FIELDS_MAX	     64	   /* header fields per request; more: 431 */
#define HTTP_HEAD_MAX	     32768 /* all header field lines; more: 431 */
#define HTTP_EMPTY_LINES_MAX 4	   /* RFC 9112 2.2: empty lines before a request */
#define HTTP_HOST_MAX	     255
#define HTTP_VALUE_MAX	     1024 /* kept values (If-None-Match, Authorization, ...) */
#define HTTP_SESSION_TOKEN   64	  /* hex digits of a brev_session cookie */
#define HTTP_CSRF_MAX	     128  /* an X-CSRF-Token value kept */

enum http_method {
	HM_OTHER = 0, /* a valid token brev does not implement: 501 */
	HM_GET,
	HM_HEAD,
	HM_POST,
	HM_PUT,
	HM_DELETE,
	HM_OPTIONS,
	HM_PATCH,
};

enum { HP_MORE = 0, HP_DONE = 1, HP_ERROR = -1 };

struct http_req {
	int state;	 /* private: request line, fields, done */
	int status;	 /* after HP_ERROR: the status to answer */
	const char *why; /* after HP_ERROR: a short reason for the log */
	int method;	 /* enum http_method */
	char method_name[16];
	char target[HTTP_LINE_MAX + 1]; /* request-target as sent */
	int minor;			/* HTTP/1.minor */
	int empty_lines;
	int nfields;
	size_t head_bytes;
	/* The fields brev acts on. */
	char host[HTTP_HOST_MAX + 1];
	int has_host;
	uint64_t content_length;
	int has_length;
	int chunked;
	int expect_continue;
	int conn_close;	    /* Connection: close */
	int conn_keepalive; /* Connection: keep-alive (HTTP/1.0) */
	int accept_gzip;    /* Accept-Encoding allows gzip */
	char if_none_match[HTTP_VALUE_MAX + 1];
	int has_if_none_match;
	char authorization[HTTP_VALUE_MAX + 1];
	char content_type[128];
	/* Browser sessions (docs/http.md): the value of the brev_session
	 * cookie when it is one of brev's tokens (HTTP_SESSION_TOKEN hex
	 * digits; anything else is as if absent), and X-CSRF-Token. */
	char session[HTTP_SESSION_TOKEN + 1];
	int has_cookie_session; /* a brev_session cookie was sent, well-formed or not */
	char csrf[HTTP_CSRF_MAX + 1];
	int has_csrf;
};

/* Start a new request (keep-alive: each one starts here). */
void http_req_init(struct http_req *r);
/* One line of the head, without its line end (CRLF or a bare LF: RFC 9112
 * 2.2 lets a server take a bare LF). HP_MORE: feed the next line; HP_DONE:
 * the empty line ended the head, the fields are checked; HP_ERROR: answer
 * r->status and close. */
int http_req_line(struct http_req *r, const char *line, size_t len);
/* The connection reported a line over its bound: sets 414 or 431 by where
 * the parser is; returns HP_ERROR. */
int http_req_overlong(struct http_req *r);
/* Does the client want the connection kept after this response? */
int http_req_keepalive(const struct http_req *r);

/* A chunk-size line (RFC 9112 7.1: hex size, optional extensions).
 * 0 with *size, -1 malformed or over 2^60. */
int http_chunk_size(const char *line, size_t len, uint64_t *size);
/* If-None-Match (RFC 9110 13.1.2): 1 if value ("*" or a list of entity
 * tags, weak or strong) matches etag (with its quotes) by the weak
 * comparison, else 0. */
int http_etag_match(const char *value, const char *etag);
/* Accept-Encoding: 1 if gzip (or "*") is acceptable, with q > 0. */
int http_accepts_gzip(const char *value);

#endif
