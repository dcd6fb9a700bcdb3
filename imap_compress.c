/*
 * imap_compress.c — the COMPRESS command (RFC 4978). The deflate layer
 * itself lives in conn.c, below every reader and writer; this file only
 * decides when a session may turn it on.
 *
 * COMPRESS=DEFLATE is advertised and accepted only once logged in (as
 * Dovecot does; RFC 4978 allows it in any state): nothing before login is
 * worth compressing, a pre-login peer cannot make the server allocate the
 * zlib state, and credentials never share a compression context with
 * attacker-chosen bytes. STARTTLS is a not-authenticated command, so the
 * order is always TLS first, compression above it.
 */
#include "conn.h"
#include "imap.h"
#include "util.h"

void imap_cmd_compress(struct imap_session *s)
{
	const struct iarg *a = s->cmd.args->kids;
	if (s->cmd.args->nkids != 1 || a->type != IA_ATOM ||
	    str_casecmp_ascii(a->s, "DEFLATE") != 0) {
		imap_tagged(s, "BAD", "COMPRESS DEFLATE is the only mechanism");
		return;
	}
	/* RFC 4978 3: a second COMPRESS (or one over an already compressed
	 * layer) is NO with this response code. */
	if (conn_is_compressed(s->c)) {
		imap_tagged(s, "NO", "[COMPRESSIONACTIVE] DEFLATE active already");
		return;
	}
	if (conn_compress(s->c) < 0) {
		imap_tagged(s, "NO", "Cannot start compression");
		return;
	}
	/* This reply and anything queued before it go out plain with this
	 * flush; the client compresses from its next command on. */
	imap_tagged(s, "OK", "DEFLATE active");
	conn_flush(s->c);
}
