/*
 * queue.h — outbound delivery: the scheduler and delivery threads that
 * drain the store's queue (queue.c), the SMTP client (queue_smtp.c) and the
 * RFC 3464 delivery status notifications (queue_dsn.c).
 *
 * The queue itself (entries, leases, per-recipient results) lives in the
 * store (mailbox.h); this module only decides when and where to send, and
 * what to tell the sender.
 */
#ifndef BREV_QUEUE_H
#define BREV_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct server;
struct store;
struct config;
struct conn;

/* Start the scheduler and the delivery threads for srv (store open, config
 * loaded, dns_init done). Leases left by a killed process are released
 * first. 0, or -1 (logged). */
int queue_start(struct server *srv);
/* Stop: open connections are shut down, threads joined. Idempotent. */
void queue_stop(void);
/* The first half of queue_stop, without waiting: deliveries start nothing
 * new and an attempt under way does not count. Called before the client
 * sessions are stopped (whose last phase cancels DNS look-ups). */
void queue_stop_begin(void);
/* Retry everything now (SIGUSR1, control-socket "flush"). Safe from any
 * thread; does nothing when the queue is not running. */
void queue_flush(void);

/* ---- network changes (queue_net.c) ---- */

/* An rtnetlink socket subscribed to new addresses and routes (non-blocking),
 * or -1 when the kernel refuses one (the queue then works as before). */
int queue_net_open(void);
/* Drain fd; 1 if something may have made a destination reachable (a new
 * address, a new unicast route in the main table, or lost messages). */
int queue_net_read(int fd);

/* ---- SMTP replies (queue_smtp.c), exported for tests and fuzzing ---- */

#define SMTP_REPLY_TEXT_MAX 512   /* kept of a reply's text (logs, DSNs) */
#define SMTP_REPLY_LINES_MAX 64   /* lines of one multi-line reply */
#define SMTP_REPLY_LINE_MAX 2048  /* one reply line (RFC 5321 4.5.3.1.5: 512) */

struct smtp_reply {
	int code;                       /* 3 digits, 0 before the first line */
	char enh[16];                   /* "5.1.1" when the reply carried one */
	char text[SMTP_REPLY_TEXT_MAX]; /* printable ASCII, lines joined by " / " */
	size_t nlines;
	/* EHLO keywords (when the reply was to EHLO) */
	unsigned ext;                   /* enum smtp_ext */
	uint64_t size_max;              /* SIZE n, 0 = none given */
	unsigned auth;                  /* bit 0 PLAIN, bit 1 LOGIN */
};

enum smtp_ext {
	SX_STARTTLS = 1 << 0, SX_PIPELINING = 1 << 1, SX_SIZE = 1 << 2, SX_8BITMIME = 1 << 3,
	SX_SMTPUTF8 = 1 << 4, SX_AUTH = 1 << 5, SX_ENHANCED = 1 << 6,
};

/* Feed one reply line (without its line end). Returns 1 when the line
 * ended the reply, 0 when more lines follow, -1 when the line is not an
 * SMTP reply (bad code, code changed between lines, too many lines). The
 * first call must see r zeroed (smtp_reply_init). */
void smtp_reply_init(struct smtp_reply *r);
int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len, int ehlo);
/* "250 2.0.0 Ok" style one-line form for logs and DSNs. */
void smtp_reply_format(const struct smtp_reply *r, char *out, size_t cap);

/* ---- dot-stuffing (RFC 5321 4.5.2), exported for tests ---- */

/* Transparency state across calls; start with bol = 1, cr = 0. */
struct dot_state {
	int bol; /* the next byte starts a line */
	int cr;  /* a CR was read and not yet written */
};
/* Write n bytes of message to c with dot-stuffing and every line end as
 * CRLF: a bare LF or a bare CR becomes CRLF, so no lone CR or LF (and
 * never "\r.\r") leaves brev, whatever the store holds. 0 or -1. */
int smtp_dot_write(struct conn *c, struct dot_state *s, const char *buf, size_t n);
/* Finish: CRLF if the message did not end with one, then ".\r\n". */
int smtp_dot_end(struct conn *c, struct dot_state *s);

/* ---- source address of outgoing connections (queue_smtp.c) ---- */

/* Like Postfix's smtp_bind_address: when listen.smtp names exactly one
 * specific address of a family (no wildcard 0.0.0.0 / [::] of that family,
 * no second address of it), outgoing connections of that family leave from
 * it, so receivers see the address the MX record and SPF name. */
struct queue_src {
	struct sockaddr_storage v4, v6;
	int has4, has6;
};
/* Pick the source addresses from a listen.smtp value (NULL or "" gives
 * none). Entries that do not parse are ignored (net_bind reports them). */
void queue_src_pick(const char *listen_smtp, struct queue_src *out);
/* The address (port 0) to bind before connecting to dst: 1 with *out and
 * *len set, 0 when the kernel should choose (no address of dst's family,
 * or one of source and destination is loopback and the other is not). */
int queue_src_for(const struct queue_src *s, const struct sockaddr_storage *dst,
		  struct sockaddr_storage *out, unsigned *len);

/* ---- DSNs (queue_dsn.c) ---- */

enum dsn_action { DSN_FAILED, DSN_DELAYED };

struct dsn_rcpt {
	const char *addr;
	const char *status;             /* "5.1.1" */
	const char *remote_mta;         /* host name, or NULL */
	const char *diag;               /* remote reply "550 5.1.1 ...", or NULL */
	const char *why;                /* plain words */
};

struct dsn {
	int action;                     /* enum dsn_action */
	const char *reporting_mta;      /* our host name */
	const char *orig_from;          /* envelope sender of the original */
	int64_t arrival;                /* when the original was queued */
	int64_t retry_until;            /* for DSN_DELAYED */
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
	const char *orig_headers;       /* the original's header, may be NULL */
	size_t orig_hlen;
	const char *orig_id;            /* the original's tracking id, or NULL */
};

/* A time span in words for DSN texts and logs: the two largest units,
 * "1 hour", "2 days and 3 hours", "1 minute", "45 seconds" (past a minute,
 * seconds are dropped). Never "0 days" for an hour (issue 23). */
void dsn_duration(int64_t secs, char *out, size_t cap);
/* Render a DSN message (RFC 3464, multipart/report) into a malloc'ed
 * buffer with CRLF line ends; *len gets its length. */
char *dsn_render(const struct dsn *d, size_t *len);
/* The local domain whose DKIM key signs a DSN from MAILER-DAEMON@mta:
 * mta itself or the nearest local domain above it, else orig_from's
 * domain when local, else the first of `domains` ("" if none). */
void dsn_key_domain(const struct config *cfg, const char *mta, const char *orig_from, char *out,
		    size_t cap);
/* Render, DKIM-sign (when a key exists) and hand it to the original sender: a local sender's INBOX, or
 * the queue (null sender) for a remote one. Never for the null sender.
 * 0 done (or nothing to do), -1 temporary failure (try again later). */
int dsn_send(struct store *st, const struct config *cfg, const struct dsn *d);
/* The header block of a stored message (up to the empty line, at most
 * max bytes), malloc'ed; NULL if it cannot be read. */
char *dsn_orig_headers(struct store *st, uint64_t blob, size_t max, size_t *len);

#endif
