/*
 * test_http_parse.c — the HTTP request head parser (http_parse.c): heads
 * fed line by line as http.c feeds them, each limit at its bound and one
 * past it (414, 431), the smuggling cases (Content-Length with chunked,
 * conflicting lengths, folding, "Name :"), keep-alive by version and
 * Connection, chunk-size lines, If-None-Match lists and Accept-Encoding
 * q-values.
 */
/* deps: http_parse */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../http_parse.h"

static struct http_req R;

/* Feed text (LF or CRLF lines) to the parser; returns the last result. */
static int feed(const char *text)
{
	const char *p = text;
	int rc = HP_MORE;
	http_req_init(&R);
	while (*p && rc == HP_MORE) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		size_t l = len && p[len - 1] == '\r' ? len - 1 : len;
		rc = http_req_line(&R, p, l);
		p += len + (nl ? 1 : 0);
	}
	return rc;
}

static int status_of(const char *text)
{
	int rc = feed(text);
	return rc == HP_ERROR ? R.status : rc == HP_DONE ? 200 : 0;
}

TEST(simple_get)
{
	CHECK_EQ_INT(
	    feed("GET /a?b HTTP/1.1\r\nHost: Example.test:80\r\nAccept-Encoding: br, gzip\r\n\r\n"),
	    HP_DONE);
	CHECK_EQ_INT(R.method, HM_GET);
	CHECK_EQ_STR(R.target, "/a?b");
	CHECK_EQ_STR(R.host, "Example.test:80");
	CHECK_EQ_INT(R.minor, 1);
	CHECK_EQ_INT(R.accept_gzip, 1);
	CHECK_EQ_INT(http_req_keepalive(&R), 1);
	/* bare LF, empty lines before the request (RFC 9112 2.2) */
	CHECK_EQ_INT(feed("\n\r\nHEAD / HTTP/1.0\n\n"), HP_DONE);
	CHECK_EQ_INT(R.method, HM_HEAD);
	CHECK_EQ_INT(http_req_keepalive(&R), 0);
	CHECK_EQ_INT(feed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), HP_DONE);
	CHECK_EQ_INT(http_req_keepalive(&R), 1);
	CHECK_EQ_INT(feed("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n"), HP_DONE);
	CHECK_EQ_INT(http_req_keepalive(&R), 0);
	CHECK_EQ_INT(feed("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), HP_DONE);
	CHECK_EQ_INT(feed("GET http://x.test/p HTTP/1.1\r\nHost: x\r\n\r\n"), HP_DONE);
	CHECK_EQ_INT(feed("BREW / HTTP/1.1\r\nHost: x\r\n\r\n"), HP_DONE);
	CHECK_EQ_INT(R.method, HM_OTHER);
}

TEST(bodies)
{
	CHECK_EQ_INT(
	    feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n"),
	    HP_DONE);
	CHECK(R.has_length && R.content_length == 12);
	CHECK_EQ_INT(feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\nExpect: "
			  "100-Continue\r\n\r\n"),
		     HP_DONE);
	CHECK(R.chunked && R.expect_continue);
	CHECK_EQ_INT(
	    status_of(
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
	    400);
	CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
			       "1\r\nTransfer-Encoding: chunked\r\n\r\n"),
		     400);
	CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n"), 400);
	CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1,1\r\n\r\n"), 400);
	CHECK_EQ_INT(
	    status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999999999999\r\n\r\n"),
	    400);
	CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
		     501);
	CHECK_EQ_INT(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

TEST(malformed)
{
	const char *bad[] = {
	    "GET / HTTP/1.1 \r\n",
	    "GET  / HTTP/1.1\r\n",
	    "GET /\r\n",
	    "GET / HTTP/1.x\r\n",
	    "GET / HTTPS/1.1\r\n",
	    "GET x HTTP/1.1\r\n",
	    "GET /\x01 HTTP/1.1\r\n",
	    "G(T / HTTP/1.1\r\n",
	    " GET / HTTP/1.1\r\n",
	    "GET / HTTP/1.1\r\n\r\n", /* no Host */
	    "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nA : b\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nA: b\x7f\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nA: \x7f\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x y\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n",
	    "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int st = status_of(bad[i]);
		if (st != 400)
			fprintf(stderr, "case %zu: %d\n", i, st);
		CHECK_EQ_INT(st, 400);
	}
	CHECK_EQ_INT(status_of("GET / HTTP/2.0\r\n"), 505);
	CHECK_EQ_INT(status_of("GET / HTTP/1.9\r\nHost: x\r\n\r\n"),
		     200); /* RFC 9112 2.3: a higher minor is 1.1 */
	/* a NUL inside a line */
	http_req_init(&R);
	CHECK_EQ_INT(http_req_line(&R, "GET /\0 HTTP/1.1", 15), HP_ERROR);
	CHECK_EQ_INT(R.status, 400);
	/* nothing is accepted after an error */
	CHECK_EQ_INT(http_req_line(&R, "GET / HTTP/1.1", 14), HP_ERROR);
}

TEST(limits_at_their_bounds)
{
	static char buf[HTTP_HEAD_MAX * 2];
	char *line = malloc(HTTP_LINE_MAX + 2);
	size_t n;

	/* request line: HTTP_LINE_MAX accepted, one more is 414 */
	memcpy(line, "GET /", 5);
	memset(line + 5, 'a', HTTP_LINE_MAX - 5 - 9);
	memcpy(line + HTTP_LINE_MAX - 9, " HTTP/1.1", 9);
	line[HTTP_LINE_MAX] = 'a';
	http_req_init(&R);
	CHECK_EQ_INT(http_req_line(&R, line, HTTP_LINE_MAX), HP_MORE);
	http_req_init(&R);
	CHECK_EQ_INT(http_req_line(&R, line, HTTP_LINE_MAX + 1), HP_ERROR);
	CHECK_EQ_INT(R.status, 414);
	http_req_init(&R);
	CHECK_EQ_INT(http_req_overlong(&R), HP_ERROR);
	CHECK_EQ_INT(R.status, 414);
	http_req_init(&R);
	http_req_line(&R, "GET / HTTP/1.1", 14);
	CHECK_EQ_INT(http_req_overlong(&R), HP_ERROR);
	CHECK_EQ_INT(R.status, 431);
	free(line);

	/* HTTP_FIELDS_MAX fields accepted, one more is 431 */
	n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 1; i < HTTP_FIELDS_MAX; i++)
		n += (size_t)sprintf(buf + n, "X-%d: v\r\n", i);
	strcpy(buf + n, "\r\n");
	CHECK_EQ_INT(feed(buf), HP_DONE);
	n += (size_t)sprintf(buf + n, "X-last: v\r\n\r\n");
	CHECK_EQ_INT(status_of(buf), 431);

	/* HTTP_HEAD_MAX bytes of fields accepted, more is 431 */
	n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: x\r\n");
	size_t used = 9; /* "Host: x\r\n" */
	for (int i = 0; used + 1002 <= HTTP_HEAD_MAX && i < HTTP_FIELDS_MAX - 2; i++) {
		n += (size_t)sprintf(buf + n, "X-%03d: %0994d\r\n", i, 0);
		used += 1002;
	}
	strcpy(buf + n, "\r\n");
	CHECK_EQ_INT(feed(buf), HP_DONE);
	while (used <= HTTP_HEAD_MAX) {
		n += (size_t)sprintf(buf + n, "Y: %0994d\r\n", 0);
		used += 1001;
	}
	strcpy(buf + n, "\r\n");
	CHECK_EQ_INT(status_of(buf), 431);
}

TEST(chunk_sizes)
{
	uint64_t n;
	CHECK_EQ_INT(http_chunk_size("1a", 2, &n), 0);
	CHECK(n == 26);
	CHECK_EQ_INT(http_chunk_size("FF;name=v", 9, &n), 0);
	CHECK(n == 255);
	CHECK_EQ_INT(http_chunk_size("0", 1, &n), 0);
	CHECK(n == 0);
	CHECK_EQ_INT(http_chunk_size("", 0, &n), -1);
	CHECK_EQ_INT(http_chunk_size("x1", 2, &n), -1);
	CHECK_EQ_INT(http_chunk_size("1x", 2, &n), -1);
	CHECK_EQ_INT(http_chunk_size("-1", 2, &n), -1);
	CHECK_EQ_INT(http_chunk_size("fffffffffffffffff", 17, &n), -1); /* no wrap-around */
	CHECK_EQ_INT(http_chunk_size("1;\x01", 3, &n), -1);
}

TEST(etags_and_gzip)
{
	CHECK_EQ_INT(http_etag_match("\"abc\"", "\"abc\""), 1);
	CHECK_EQ_INT(http_etag_match("W/\"abc\"", "\"abc\""), 1);
	CHECK_EQ_INT(http_etag_match("\"x\", W/\"abc\"", "\"abc\""), 1);
	CHECK_EQ_INT(http_etag_match("*", "\"abc\""), 1);
	CHECK_EQ_INT(http_etag_match("\"abcd\"", "\"abc\""), 0);
	CHECK_EQ_INT(http_etag_match("abc", "\"abc\""), 0);
	CHECK_EQ_INT(http_etag_match("\"abc", "\"abc\""), 0);
	CHECK_EQ_INT(http_etag_match("", "\"abc\""), 0);
	CHECK_EQ_INT(http_accepts_gzip("gzip"), 1);
	CHECK_EQ_INT(http_accepts_gzip("deflate, GZIP;q=0.5"), 1);
	CHECK_EQ_INT(http_accepts_gzip("gzip;q=0"), 0);
	CHECK_EQ_INT(http_accepts_gzip("gzip;q=0.000, identity"), 0);
	CHECK_EQ_INT(http_accepts_gzip("*"), 1);
	CHECK_EQ_INT(http_accepts_gzip("*, gzip;q=0"), 0);
	CHECK_EQ_INT(http_accepts_gzip("identity"), 0);
	CHECK_EQ_INT(http_accepts_gzip("gzipx"), 0);
	CHECK_EQ_INT(http_accepts_gzip(""), 0);
}

TEST_MAIN()
