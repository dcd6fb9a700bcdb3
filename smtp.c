/* smtp.c — placeholder until the smtp issue lands; answers and closes. */
#include "server.h"
#include "conn.h"

void smtp_serve(struct server *srv, struct conn *c, int kind)
{
	(void)srv;
	(void)kind;
	conn_puts(c, "421 4.3.2 not yet implemented\r\n");
	conn_flush(c);
}
