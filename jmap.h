/*
 * jmap.h — JMAP core (RFC 8620) over the store: the session resource and
 * the API endpoint's request processing (method calls, result references,
 * the standard errors). HTTP, authentication and the body's bytes are
 * http.c's; this module gets an authenticated account and a request body,
 * and gives back a JSON text and the HTTP status to send it with. It is the
 * only module that includes <jansson.h> (with jmap_*.c).
 *
 * Threads: every function may run on any session thread at once; the
 * module keeps only an atomic count of requests in progress (jmap_enter).
 */
#ifndef BREV_JMAP_H
#define BREV_JMAP_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct account;

/* The limits the session resource announces, enforced here and in http.c. */
#define JMAP_MAX_CALLS	      64		 /* maxCallsInRequest */
#define JMAP_MAX_SIZE_REQUEST (10 * 1024 * 1024) /* maxSizeRequest (at most limits.message_size)   \
						  */
#define JMAP_MAX_CONCURRENT 4			 /* maxConcurrentRequests, for the whole server */
#define JMAP_STATE_MAX	    8192 /* an Email or Mailbox state string, with its NUL */
#define JMAP_MAX_DEPTH	    32			 /* nesting of [ and { in a request */
/* Values (arrays, objects, and what commas separate) in a request: a
 * parsed JSON value costs jansson about a hundred bytes, so 10 MiB of
 * "[]," would cost some 400 MiB; with this bound a request costs at most
 * ~25 MiB parsed, JMAP_MAX_CONCURRENT of them ~100 MiB. */
#define JMAP_MAX_VALUES 200000

/* The request size limit in force: JMAP_MAX_SIZE_REQUEST or
 * limits.message_size, whichever is smaller. */
uint64_t jmap_max_size_request(const struct server *srv);

/* A response: JSON text (malloc'ed, the caller frees it), its HTTP status
 * and Content-Type ("application/json", or "application/problem+json" for
 * the request-level errors of RFC 8620 3.6.1). */
struct jmap_reply {
	char *body;
	size_t len;
	int status;
	const char *type;
};

/* GET /.well-known/jmap for account a (RFC 8620 2). */
void jmap_session(const struct server *srv, const struct account *a, struct jmap_reply *out);
/* POST to the API endpoint: the request body (len bytes, not
 * NUL-terminated), at most jmap_max_size_request() long (http.c refuses
 * longer ones with jmap_too_large). */
void jmap_api(const struct server *srv, const struct account *a, const char *body, size_t len,
	      struct jmap_reply *out);
/* The request-level "limit" error for a body over maxSizeRequest. */
void jmap_too_large(struct jmap_reply *out);
/* maxConcurrentRequests: take a place for one API request (from before its
 * body is read until its answer is built): 0, or -1 with the "limit" error
 * in *out when JMAP_MAX_CONCURRENT are in progress. jmap_leave() gives the
 * place back after a 0. */
int jmap_enter(struct jmap_reply *out);
void jmap_leave(void);

/* A download (RFC 8620 6.2): the blob blob_id ("B" + hex, as Email/get's
 * blobId) of account acc_id, when acc_id is a's and one of a's messages
 * holds it: 0 with *blob and *size (bytes) set, else -1 (a 404). */
int jmap_blob_lookup(const struct server *srv, const struct account *a, const char *acc_id,
		     const char *blob_id, uint64_t *blob, uint64_t *size);

/* POST /jmap/upload/{accountId}/ (RFC 8620 6.1; jmap_upload.c) for
 * account a, whose id the caller checked: keeps body (at most
 * maxSizeUpload, which the caller enforced) as an uploaded blob of media
 * type type and answers 201 with {accountId, blobId, type, size}, or a
 * problem: 413 overQuota when the account keeps too many uploads, 500. */
struct spool;
void jmap_upload(const struct server *srv, const struct account *a, const char *type,
		 struct spool *body, struct jmap_reply *out);

/* The account's JMAP id ("A" and its store id in hex) into buf. */
void jmap_account_id_of(const struct account *a, char *buf, size_t cap);

/* The web login's JSON (jmap_login.c, docs/http.md "Browser sessions").
 * POST /login's body, JSON {"username": ..., "password": ...} or, when
 * ctype is application/x-www-form-urlencoded, an HTML form's fields of
 * those names: 0 with both copied (NUL-terminated), -1 when malformed,
 * missing, holding a NUL or longer than ucap-1 / pcap-1 bytes. */
int jmap_login_parse(const char *ctype, const char *body, size_t len, char *user, size_t ucap,
		     char *pw, size_t pcap);
/* What /login and /session answer: {"username", "accountId", "admin",
 * "csrfToken"} (malloc'ed, *len its length). */
char *jmap_login_json(const struct account *a, const char *csrf, size_t *len);
/* {"error": msg} (malloc'ed). */
char *jmap_login_error(const char *msg, size_t *len);

/* A body part as a blob (jmap_body.c): blob_id "B<message hex>_<section
 * numbers joined by _>" (an EmailBodyPart's blobId) of one of a's
 * messages: 0 with its bytes, the transfer encoding decoded, in *out
 * (malloc'ed) and *len; -1 (a 404) otherwise. */
int jmap_part_fetch(const struct server *srv, const struct account *a, const char *acc_id,
		    const char *blob_id, char **out, size_t *len);

/* Push over EventSource (RFC 8620 7.3; jmap_push.c). */
struct conn;
struct push_opts {
	int email, mailbox; /* the types wanted */
	int closeafter;	    /* end after the first state event */
	int ping;	    /* seconds between pings, 0: none */
};
/* The query string of /jmap/eventsource (NULL: none): 0, or -1 when an
 * argument is malformed (the request is then a 400). */
int jmap_push_parse(const char *query, struct push_opts *o);
/* Write events to c, whose response head (200, text/event-stream, no
 * length, Connection: close) the caller sent, until the client goes, the
 * server stops, a write fails, or (closeafter) the first state event. */
void jmap_eventsource(const struct server *srv, struct conn *c, const struct account *a,
		      const struct push_opts *o);

#endif
