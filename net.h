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

#endif
