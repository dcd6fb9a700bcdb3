/*
 * control.h — DATADIR/control.sock, a Unix datagram socket through which
 * other brev processes (`brev user ...`, `brev sendmail`, `brev queue`) tell
 * the running server that they changed the store. Datagrams are one short
 * text line: "changed ID" (account ID, 0 = several), "flush", "ping", "acme-renew",
 * "status", the one request that gets an answer (`brev status`), or
 * "sendmail id=..." (a `brev sendmail` acceptance, written to the server's
 * log as it is, control characters neutralised by log.c).
 */
#ifndef BREV_CONTROL_H
#define BREV_CONTROL_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define CONTROL_MSG_MAX 512 /* longer datagrams are cut there */

/* Server side: bind DATADIR/control.sock (replacing a stale one) and start a
 * thread that turns "changed ID" into store_notify(). -1 with err. If
 * another server already owns the socket, that is an error too. */
int control_start(const char *datadir, struct store *st, void (*on_flush)(void), char *err,
		  size_t errlen);
void control_stop(void);
/* Client side: send one datagram; 0 if a server received it, -1 if none
 * runs (not an error for the caller: the store is already committed). */
int control_send(const char *datadir, const char *msg);
/* Server side, before control_start: fn writes the server's own part of the
 * answer to "status" into buf (cap bytes, NUL-terminated): "key value"
 * lines, one per line. control.c puts "pid" and "uptime" (seconds) lines
 * before them. fn runs on the control thread. */
void control_set_status(void (*fn)(char *buf, size_t cap));
/* Client side: ask the running server for its status. The answer
 * (NUL-terminated, at most cap - 1 bytes) in buf and its length, or -1 if
 * no server answered within timeout_ms. The client binds an abstract
 * socket (Linux autobind) for the reply: nothing is left on disk. */
long control_status(const char *datadir, char *buf, size_t cap, int timeout_ms);
/* Server side, before control_start: what "acme-renew" (`brev cert renew`)
 * runs; unset, the message is logged and ignored. */
void control_set_renew(void (*fn)(void));
/* A store commit hook for non-server processes: pokes the server. */
void control_commit_hook(void *datadir, uint32_t user);

#endif
