/*
 * server.h — what every protocol session gets from the running server, and
 * the protocol entry points net.c calls, one thread per connection.
 */
#ifndef BREV_SERVER_H
#define BREV_SERVER_H

#include <stdatomic.h>

struct config;
struct store;
struct tls_server;
struct conn;

enum listener_kind {
	LK_SMTP,          /* inbound MX: listen.smtp */
	LK_SUBMISSION,    /* listen.submission: STARTTLS, AUTH required */
	LK_SUBMISSIONS,   /* listen.submissions: implicit TLS */
	LK_IMAP,
	LK_IMAPS,
	LK_POP3,
	LK_POP3S,
	LK_HTTP,          /* listen.http: plain, redirects non-local clients */
	LK_HTTPS,         /* listen.https: implicit TLS */
	LK_MANAGESIEVE,   /* listen.managesieve: RFC 5804, STARTTLS */
	LK_NKINDS
};

struct server {
	const struct config *cfg;
	struct store *store;
	struct tls_server *tls;     /* NULL when no certificate could be loaded */
	const char *hostname;       /* cfg->hostname */
	/* Set by net_stop: a session ends before its next command (it calls
	 * conn_end_input), and net.c sends the protocol's last line. */
	atomic_int stopping;
};

/*
 * Session entry points. The conn is connected (for implicit-TLS kinds the
 * TLS handshake is already set up with conn_tls_accept). The handler runs
 * the whole session, logs its one closing line, and returns; net.c then
 * frees the conn. Handlers never close the socket themselves.
 */
void smtp_serve(struct server *srv, struct conn *c, int kind);
void imap_serve(struct server *srv, struct conn *c, int kind);
void pop3_serve(struct server *srv, struct conn *c, int kind);
void http_serve(struct server *srv, struct conn *c, int kind);
void managesieve_serve(struct server *srv, struct conn *c, int kind);

#endif
