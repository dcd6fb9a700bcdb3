/*
 * net.h — listeners, accept, one thread per connection, the connection cap,
 * per-protocol idle timeouts, and clean shutdown.
 */
#ifndef BREV_NET_H
#define BREV_NET_H

#include <stddef.h>

struct server;

/* Bind every configured listen.* address (srv->cfg). Nothing is accepted
 * yet. -1 with a one-line reason (which key, which address) in err. */
int net_bind(struct server *srv, char *err, size_t errlen);
/* Print "  smtp        127.0.0.1:2525" lines for every bound listener. */
void net_print_listeners(void);
/* Start the accept thread. */
int net_start(void);
/* Stop accepting, shut down every open connection's socket so its session
 * ends, and wait up to grace_ms for the sessions to finish and their
 * threads to be joined. Returns the number of session threads still
 * running (0: none is left that could touch the store). */
int net_stop(int grace_ms);
/* Open client connections now. */
int net_active(void);

/* ---- the slot policy, pure functions (unit-tested) ---- */
#define NET_CLIENT_MAX 64
/* What counts as one client for the per-address cap: an IPv4 address
 * (also when v4-mapped) as itself, an IPv6 address as its /64
 * ("2001:db8:1:2::/64"). 0, or -1 if ip is not an address. */
int net_client_key(const char *ip, char *out, size_t cap);
/* Connections one client may hold: cap/8, at least 8. */
int net_peer_max(int cap);
/* Slots kept for each of the MX and submission: cap/8 (none below 8). */
int net_reserved(int cap);
#define NET_FAMILIES 5
/* May family fam (0 MX, 1 submission, 2 IMAP, 3 POP3, 4 HTTP) take one more slot,
 * count[] holding what each has now? 1 yes; 0 the cap is reached; -1 the
 * family's share (fam_max) is; -2 what is left is the MX's and
 * submission's reserve (reserve each, minus what they already hold). */
int net_slot_free(int cap, int fam_max, int reserve, const int count[NET_FAMILIES], int fam);

#endif
