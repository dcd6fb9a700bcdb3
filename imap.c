/* imap.c — placeholder until the imap issue lands; answers and closes. */
#include "server.h"
#include "conn.h"

void imap_serve(struct server *srv, struct conn *c, int kind)
{
	(void)srv;
	(void)kind;
	conn_puts(c, "* BYE not yet implemented\r\n");
	conn_flush(c);
}
