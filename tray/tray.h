/*
 * tray/tray.h — brev-tray's internal interfaces (not part of the server).
 *
 * brev-tray has three layers:
 *   msgparse.c  pure text helpers: RFC 2047 words, From: parsing, the first
 *               line of a message's text, fingerprints. No I/O, unit-tested.
 *   imapc.c     one worker thread per account: an IMAPS client (OpenSSL)
 *               with IDLE that reconnects with backoff and reports events.
 *   brev-tray.c the GTK main loop: options and tray.conf, local discovery,
 *               passwords, the tray icon and menu, notifications.
 * Worker threads never touch GTK or libnotify; they hand heap-allocated
 * events to the main loop as sources on the default context (g_idle_add),
 * which only the thread running the main loop dispatches.
 */
#ifndef BREV_TRAY_H
#define BREV_TRAY_H

#include <glib.h>
#include <stdint.h>

/* Limits on what the server may make us hold (every byte is hostile). */
#define TRAY_LINE_MAX	  (1024 * 1024)	     /* one response, literals included */
#define TRAY_LITERAL_MAX  (64 * 1024)	     /* one literal; the rest is dropped */
#define TRAY_LITERAL_HARD (16 * 1024 * 1024) /* a larger one ends the connection */
#define TRAY_TEXT_PEEK	  2048		     /* BODY.PEEK[TEXT]<0.2048> */
#define TRAY_DETAIL_MAX	  10		     /* messages fetched in detail per batch */
#define TRAY_FIELD_MAX	  200		     /* characters of a name/subject/line shown */

/* ---- msgparse.c ------------------------------------------------------- */

/* One new message as shown in a notification; all strings UTF-8, owned. */
struct tray_msg {
	uint32_t uid;
	char *from_name; /* display name, may be "" */
	char *from_addr; /* address, may be "" */
	char *subject;	 /* decoded, may be "" */
	char *line;	 /* first line of text, may be "" */
};
void tray_msg_free(struct tray_msg *m);

/* Decode RFC 2047 encoded-words in a header value (unfolded first) into
 * valid UTF-8, at most TRAY_FIELD_MAX characters. Returns a new string. */
char *tray_decode_header(const char *v, size_t len);

/* Find header NAME (case-insensitive) in a header block; returns its raw,
 * unfolded value (new string) or NULL. */
char *tray_header_get(const char *hdr, size_t len, const char *name);

/* Split a decoded From: value into display name and address (both new
 * strings, never NULL). Handles "Name" <a@b>, Name <a@b>, a@b (Name), a@b. */
void tray_parse_from(const char *from, char **name, char **addr);

/* The first non-blank line of a message's text, given the message's
 * Content-Type and Content-Transfer-Encoding values (may be NULL) and up to
 * TRAY_TEXT_PEEK bytes of BODY[TEXT]. Multipart: the first text/plain part
 * inside the window (one level of nesting followed). Decodes base64 and
 * quoted-printable and converts the charset to UTF-8. New string, never NULL. */
char *tray_first_line(const char *ctype, const char *cte, const char *text, size_t len);

/* Normalise a SHA-256 fingerprint (hex, with or without ':' or spaces, any
 * case) into 64 lowercase hex digits in out[65]. 0 on success, -1 if it is
 * not 32 bytes of hex. */
int tray_fingerprint_norm(const char *in, char out[65]);

/* Escape text for a notification body that the server renders as markup. */
char *tray_markup_escape(const char *s);

/* ---- imapc.c ---------------------------------------------------------- */

enum tray_state {
	TRAY_ST_CONNECTING,
	TRAY_ST_ONLINE,
	TRAY_ST_DISCONNECTED, /* will retry; detail says why and when */
	TRAY_ST_AUTHFAIL,     /* the worker stopped: the password was refused */
	TRAY_ST_UNTRUSTED,    /* the worker stopped: a self-signed certificate nothing
				 vouches for; detail says how to pin it */
};

/* Everything a worker needs to reach one account; the main thread's copy
 * (imapc_start() takes its own). */
struct tray_account_cfg {
	char *name;	   /* section name or the address */
	char *host;	   /* server host name or address */
	char *port;	   /* service port, default 993 */
	char *user;	   /* login name */
	char *password;	   /* may be NULL until obtained */
	char *ca;	   /* PEM file of trusted certificates, or NULL */
	char *fingerprint; /* 64 lowercase hex digits, or NULL */
	int privacy;	   /* notifications say "New mail" and a count only */
};

enum tray_ev_kind { TRAY_EV_STATE, TRAY_EV_UNREAD, TRAY_EV_NEW };

/* An event from a worker to the main loop (tray_event_free releases it). */
struct tray_event {
	int account;	     /* index into the main thread's account array */
	unsigned generation; /* which worker sent it (stale ones are ignored) */
	enum tray_ev_kind kind;
	enum tray_state state; /* TRAY_EV_STATE */
	char *detail;	       /* TRAY_EV_STATE: human-readable reason */
	long unread;	       /* TRAY_EV_UNREAD */
	unsigned total;	       /* TRAY_EV_NEW: new messages, >= msgs->len */
	GPtrArray *msgs;       /* TRAY_EV_NEW: struct tray_msg *, the newest ones */
};
void tray_event_free(struct tray_event *e);

/* Called in the main context for each event; takes ownership of e. */
typedef void (*tray_event_fn)(struct tray_event *e);

/* Start a worker thread for account number idx with a deep copy of cfg
 * (the caller may wipe its password afterwards); generation is copied into
 * every event. The thread runs until imapc_stop(); it ends by itself only
 * after TRAY_ST_AUTHFAIL or TRAY_ST_UNTRUSTED, and the caller must still
 * call imapc_stop() then (the worker is reference-counted). NULL if no pipe could be made. */
struct imapc_worker;
struct imapc_worker *imapc_start(const struct tray_account_cfg *cfg, int idx, unsigned generation,
				 tray_event_fn fn);
/* Retry now: a worker waiting to reconnect (backoff) tries at once; one
 * that is connected is not disturbed. For "the network came back". */
void imapc_kick(struct imapc_worker *w);
/* Ask the worker to stop; it detaches and frees itself at its next check
 * (at most a few seconds later). The caller must not touch it again. */
void imapc_stop(struct imapc_worker **w);

#endif
