/*
 * conn.h — one buffered, bounded, deadline-aware connection, the same over
 * plain TCP and BearSSL. Protocol modules see only this API: no sockets, no
 * BearSSL. conn.c and tls.c are the only files that include <bearssl.h>.
 *
 * Threads: a conn is used by one thread at a time.
 * Errors: the first I/O error, EOF or timeout is sticky (conn_error());
 * every later call fails fast, so callers may check once per command.
 */
#ifndef BREV_CONN_H
#define BREV_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spool;
struct tls_server;
struct tls_client;

enum conn_err {
	CONN_OK = 0,
	CONN_EOF,        /* peer closed */
	CONN_TIMEOUT,    /* deadline passed */
	CONN_IO,         /* socket error */
	CONN_TLS,        /* TLS failure (handshake, alert, bad record) */
};

struct conn;

/* Take ownership of a connected socket. peer is the printable address
 * ("127.0.0.1" or "::1"), local the address it arrived on. */
struct conn *conn_new(int fd, const char *peer, int peer_port, const char *local);
/* Flushes nothing; closes the socket (after a TLS close_notify if possible). */
void conn_free(struct conn **cp);

/* Idle timeout for each read or write wait, in ms (default 300000). Each
 * read operation also has a total deadline: conn_getline's whole line must
 * arrive within one timeout, conn_read_dot / conn_read_n(_spool) within six
 * (so a peer dribbling a byte at a time cannot hold a session for ever). */
void conn_set_timeout(struct conn *c, int ms);
/* One total deadline over several read operations, ms from now (an HTTP
 * request head: many lines, each of which alone would get a whole
 * timeout); the operations inside it keep their own idle timeout but end
 * at this deadline at the latest (CONN_TIMEOUT). ms <= 0 clears it. */
void conn_set_deadline(struct conn *c, int ms);

/* Server side TLS now (implicit TLS listeners) or after STARTTLS/STLS: the
 * handshake runs on the next I/O. conn_starttls() returns -1 without doing
 * anything if unread plaintext is buffered (RFC 3207 5, the STARTTLS
 * command-injection class): the caller answers with an error and closes.
 * On 0, the next flush (explicit, or the one before a read) still goes out
 * in plaintext, so the positive reply ("220 2.0.0 Ready", "a OK Begin TLS",
 * "+OK") may be queued before or after the call; everything after is TLS. */
int conn_tls_accept(struct conn *c, struct tls_server *t);
int conn_starttls(struct conn *c, struct tls_server *t);
/* Client side TLS (outbound delivery). The handshake runs at once; 0 on
 * success. verified/hostname results: conn_tls_verified(). */
int conn_tls_connect(struct conn *c, struct tls_client *t, const char *servername);

/* COMPRESS=DEFLATE (RFC 4978): from now on both directions are raw
 * deflate (RFC 1951) streams, above TLS if it is on. Input the peer sent
 * after the command (already in the buffer) is taken as compressed.
 * Output queued before conn_flush() is next called (the command's positive
 * reply, before or after this call) still goes out plain; compression
 * starts with the byte after it. Every conn_flush() then ends with a
 * Z_SYNC_FLUSH so the peer can read all of it at once; the limits and
 * deadlines below apply to the inflated bytes, so expanding input costs
 * CPU until a limit or deadline stops it, never memory. A bad or ended
 * compressed stream is an error (CONN_IO / CONN_EOF). -1 when already
 * compressed or zlib cannot start (nothing changed then). Memory: a fixed
 * ~175 KiB per connection (conn.c gives the sum), conn_compress_mem(). After
 * this, conn_starttls() refuses. */
int conn_compress(struct conn *c);
int conn_is_compressed(const struct conn *c);
size_t conn_compress_mem(const struct conn *c); /* bytes held by the layer */

/* Read one line. Returns its length without the line end and sets *line
 * (NUL-terminated, valid until the next read on c). Accepts CRLF and bare LF
 * as the end (*crlf says which, if not NULL). A line longer than max (max <=
 * CONN_LINE_MAX) is consumed up to its end and -2 returned. -1 on error. */
#define CONN_LINE_MAX 65536
ssize_t conn_getline(struct conn *c, char **line, size_t max, int *crlf);
/* Read exactly n bytes into buf (IMAP literals). 0 or -1. */
int conn_read_n(struct conn *c, void *buf, size_t n);
/* Read exactly n bytes into a spool (BDAT, large literals). */
int conn_read_n_spool(struct conn *c, struct spool *sp, uint64_t n);

/* SMTP DATA: read up to the only valid end, CRLF "." CRLF, undoing dot-
 * stuffing (RFC 5321 4.5.2) and writing the message (with CRLF line ends)
 * to sp. Returns DOT_OK, or after consuming through the end marker:
 * DOT_TOOBIG when the message exceeded max bytes (the excess is discarded),
 * DOT_BARE_NL when a bare LF or bare CR occurred anywhere (SMTP smuggling;
 * nothing after it is ever taken as a command), DOT_LONGLINE when a line
 * exceeded 1000 octets with its CRLF (RFC 5321 4.5.3.1.6 allows rejecting),
 * DOT_SPOOL when sp could not keep the bytes (spool_error(sp) says why: a
 * full disk is ENOSPC); the session can go on. -1 on connection error. */
enum { DOT_OK = 0, DOT_TOOBIG = 1, DOT_BARE_NL = 2, DOT_LONGLINE = 3, DOT_SPOOL = 4 };
int conn_read_dot(struct conn *c, struct spool *sp, uint64_t max);

/* Buffered output; flushed by conn_flush() or when the buffer fills. */
int conn_write(struct conn *c, const void *buf, size_t n);
int conn_puts(struct conn *c, const char *s);
int conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int conn_flush(struct conn *c);

/* Bytes received and not yet consumed (plaintext or already decrypted). */
size_t conn_pending(const struct conn *c);
/* Output the peer has not taken yet: what is buffered here plus the
 * kernel's send queue (bytes not yet acknowledged); *room (if not NULL)
 * gets the socket's send buffer size. A peer that stopped reading shows
 * here before a write blocks: IMAP NOTIFY (imap_notify.c) asks before it
 * queues more. 0 and *room 0 for a pipe or file. */
size_t conn_unsent(const struct conn *c, size_t *room);

/* Wait for client input or a wake-up on wakefd (-1: none) for at most ms.
 * Checks buffered and already-decrypted bytes first. Returns 1 input ready,
 * 2 wakefd readable, 0 timeout, -1 error. */
int conn_wait(struct conn *c, int wakefd, int ms);

/* Treat the input as ended (CONN_EOF from now on): a session that sees
 * its server stopping ends through its ordinary end-of-input path. */
void conn_end_input(struct conn *c);
/* One last line after end of input (CONN_EOF: a stopping server's BYE),
 * after any output still buffered, within a second if the connection
 * still carries it; the error stays CONN_EOF. Nothing after a time-out or
 * an I/O or TLS error, nor after a session ended by its own QUIT. */
int conn_goodbye(struct conn *c, const char *line);
/* The same after a read time-out (CONN_TIMEOUT): one last reply (HTTP's
 * 408) within a second; the error stays CONN_TIMEOUT. -1 after any other
 * error. */
int conn_timeout_reply(struct conn *c, const char *text);
/* Flush, then end the connection so that the peer reads everything sent
 * even if it is still sending (an HTTP 413 while the body comes in: a
 * plain close with unread input would reset the connection and could
 * discard the reply). Waits at most a second. No I/O after it. */
int conn_linger(struct conn *c);
int conn_error(const struct conn *c);       /* enum conn_err */
const char *conn_peer(const struct conn *c);
int conn_peer_port(const struct conn *c);
const char *conn_local(const struct conn *c);
int conn_is_loopback(const struct conn *c); /* peer in 127.0.0.0/8 or ::1 */
int conn_is_tls(const struct conn *c);
/* "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"-style names for Received
 * headers and logs; NULL when not TLS. */
const char *conn_tls_version(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);
/* Client side: 1 if the peer chain verified against the context's trust
 * anchors and the name matched, or the leaf matched one of its pins. */
int conn_tls_verified(const struct conn *c);
/* Client side: why it did not verify (0 when it did); tls_verify_reason()
 * says it in words. */
int conn_tls_verify_error(const struct conn *c);

#endif
