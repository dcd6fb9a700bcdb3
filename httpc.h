/*
 * httpc.h — a bounded HTTPS client (httpc.c): one request per connection,
 * certificate verified, DNS through dns.c. For ACME and MTA-STS.
 */
#ifndef BREV_HTTPC_H
#define BREV_HTTPC_H

#include <stddef.h>

#include "dns.h"

struct tls_client;

struct httpc_url {
	char host[DNS_NAME_MAX + 1]; /* lower case */
	int port;		     /* 443 unless given */
	char path[2048];	     /* with the query, without a fragment */
};
/* https://host[:port][/path] only. 0 or -1. */
int httpc_url_parse(const char *s, struct httpc_url *u);

struct httpc_resp {
	int status;
	char nonce[256];     /* Replay-Nonce (ACME) */
	char location[2048]; /* Location */
	char *body;	     /* NUL-terminated (the caller frees with httpc_resp_clear) */
	size_t len;
};
void httpc_resp_clear(struct httpc_resp *r);

/* One request to an https URL through trust anchors tlsc; the server's
 * certificate must verify for the URL's host name. body (may be NULL) is
 * sent with Content-Type ctype. 0 with r filled (any status; r->body is
 * set for GET and POST, at most max bytes), or -1 with the reason in err
 * (r then holds nothing). HEAD reads no body. */
int httpc_request(struct tls_client *tlsc, const char *method, const char *url, const char *body,
		  const char *ctype, size_t max, struct httpc_resp *r, char *err, size_t errlen);

#endif
