/* pop3.c — placeholder until the pop3 issue lands; answers and closes. */
#include "server.h"
#include "conn.h"

void pop3_serve(struct server *srv, struct conn *c, int kind)
{
	(void)srv;
	(void)kind;
	conn_puts(c, "-ERR not yet implemented\r\n");
	conn_flush(c);
}
