/*
 * fetch.h — `brev fetch`: pulling mail from another server (the old
 * provider) over IMAP or POP3, once as a migration or every few minutes
 * inside `brev serve` (docs/migrate.md).
 *
 * fetch.c owns the sources (DATADIR/fetch/N.src, mode 0600: the password
 * is there, readable by brev's user only), their progress (N.state), the
 * command line and the schedule in serve; fetch_imap.c and fetch_pop3.c
 * speak the protocols. Messages go into the account through import.c's
 * sink (the import's batches), so what is acknowledged is stored and a
 * killed fetch resumes without copying anything twice.
 */
#ifndef BREV_FETCH_H
#define BREV_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct conn;
struct import_sink;

#define FETCH_SOURCES_MAX 64
#define FETCH_FOLDERS_MAX 1024  /* folders taken from one IMAP server */
#define FETCH_POP3_MAX	  200000 /* messages listed by one POP3 server */

struct fetch_src {
	int id;
	char account[256];
	int pop3;     /* else IMAP */
	int implicit; /* imaps/pop3s; else STARTTLS/STLS, always required */
	char user[256], host[256];
	int port;
	int all_folders; /* IMAP: every folder; else INBOX only */
	int delete;	 /* remove from the server once stored */
	int64_t every;	 /* seconds between runs in serve; 0 = only `fetch run` */
	char fingerprint[200], ca[512];
	int insecure; /* no certificate check (said loudly) */
	int plain;    /* fuzz/fuzz_fetch.c only: no TLS at all */
	char password[512];
};

/* What one run did; err says why it stopped early ("" if it did not). */
struct fetch_stats {
	uint64_t stored, dups, refused;
	uint64_t delivered; /* of stored: as new mail (continuous sources) */
	char err[256];
};

/* One folder's progress (IMAP) or the source's (POP3), in N.state. */
struct fetch_folder {
	char name[512]; /* the server's name, as LIST gave it */
	uint32_t uidvalidity, last_uid;
	int inflight; /* a batch may be stored but not yet recorded here */
};

struct fetch_state {
	struct fetch_folder *f;
	size_t n;
	/* POP3: the UIDLs already stored, sorted, and whether a batch is
	 * in flight. */
	char **uidl;
	size_t nuidl;
	int inflight;
};

/* A continuous source's INBOX messages are delivered as new mail
 * (fetch_deliver.c): through the spam filter and Sieve, one commit each. */
struct config;
struct spool;
struct fetch_dl {
	struct store *st;
	const struct config *cfg;
	uint32_t user;
	const char *addr; /* the account's address */
	const char *host; /* the old server, for Received */
	int pop3;
};
/* Deliver the whole message in sp to dl's account. 0 (stored, filed to
 * Junk, or rejected by the script), or -1 with err (try again later). */
int fetch_deliver(const struct fetch_dl *dl, struct spool *sp, char *err, size_t errlen);

/* fetch.c: save st's progress now (atomic file replace): 0 or -1. */
int fetch_state_save(const struct fetch_src *src, const struct fetch_state *st);
struct fetch_folder *fetch_state_folder(struct fetch_state *st, const char *name);

/* fetch.c: connect to the source and start TLS (implicit, or after the
 * caller's STARTTLS: starttls 1 means "the plaintext dialogue is done").
 * NULL with err. */
struct conn *fetch_connect(const struct fetch_src *src, char *err, size_t errlen);
/* Close a connection fetch_connect made (conn_free, and forget its socket). */
void fetch_close(struct conn **c);
int fetch_tls(struct conn *c, const struct fetch_src *src, char *err, size_t errlen);
/* `brev fetch run`'s progress line (stderr; nothing inside serve): done of
 * total messages of folder, bytes read. force: draw now. */
void fetch_progress(const char *folder, uint64_t done, uint64_t total, uint64_t bytes, int force);
/* Set by serve's stop: the protocols give up between messages. */
extern volatile int fetch_stopping;

/* The protocols: run one source into sink (the account's), updating st. */
/* dl: deliver the INBOX's messages (continuous sources), or NULL: the
 * sink takes them with their flags and dates. */
int fetch_imap_run(const struct fetch_src *src, struct import_sink *sink,
		   const struct fetch_dl *dl, struct fetch_state *st, struct fetch_stats *out);
int fetch_pop3_run(const struct fetch_src *src, struct import_sink *sink,
		   const struct fetch_dl *dl, struct fetch_state *st, struct fetch_stats *out);

/* The same on a connection already made (fuzz/fuzz_fetch.c); c stays the
 * caller's. */
int fetch_imap_session(struct conn *c, const struct fetch_src *src, struct import_sink *sink,
		       const struct fetch_dl *dl, struct fetch_state *st, struct fetch_stats *out);
int fetch_pop3_session(struct conn *c, const struct fetch_src *src, struct import_sink *sink,
		       const struct fetch_dl *dl, struct fetch_state *st, struct fetch_stats *out);

/* The date a message without one from its server gets (POP3): the first
 * Received: field's date, else Date:, else 0 (the caller uses now). head
 * is the start of the message (its header, or part of it). */
int64_t fetch_received_date(const char *head, size_t len);

/* Where the sources are: DATADIR/fetch. Call before the others. */
void fetch_set_dir(const char *datadir);
/* `brev fetch add|list|del|run` (argv[0] is "fetch"). */
int fetch_main(struct store *st, const struct config *cfg, int argc, char **argv);
/* serve: run each source with `every` set when it is due, in a thread of
 * its own; stop ends it (a run in progress gives up at its next message). */
int fetch_start(struct store *st, const struct config *cfg);
void fetch_stop(void);

#endif
