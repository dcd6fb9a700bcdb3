/*
 * imap_catenate.c — CATENATE (RFC 4469, without URLAUTH): an APPEND
 * message built from TEXT literals and IMAP URLs (imapurl.h) that name
 * messages or parts of them in the user's own mailboxes. The parts are
 * resolved and their sizes added first; only when the sum is within
 * limits.message_size is anything copied, into a spool of the message's
 * own that imap.c's APPEND (and REPLACE) then stores like any literal.
 * The literals themselves were bounded by imap_parse.c before they were
 * read. Shared mailboxes, URLAUTH and other servers are not reachable:
 * such URLs are [BADURL].
 */
#include "imap.h"

#include <stdlib.h>
#include <string.h>

#include "imapurl.h"
#include "server.h"
#include "spool.h"
#include "util.h"

#define CATENATE_PARTS_MAX 256

struct piece {
	int text; /* from the command's spool, else a stored message */
	uint64_t blob, off, len;
};

/* "NO [BADURL url] ...": the URL as resp-text allows it (no ']', no
 * controls), cut to a sane length. */
static void badurl(struct imap_session *s, const char *url, const char *why)
{
	char clean[256];
	size_t k = 0;
	for (const char *p = url ? url : ""; *p && k + 1 < sizeof clean; p++)
		if ((unsigned char)*p > ' ' && (unsigned char)*p < 0x7f && *p != ']')
			clean[k++] = *p;
	clean[k] = 0;
	imap_tagged(s, "NO", "[BADURL %s] %s", k ? clean : "-", why);
}

/* BODY[section] of a message as a byte range (RFC 9051 6.4.5): "" the
 * whole message; "1.2" a part's body; "HEADER"/"TEXT" of the message or
 * of an attached message ("1.HEADER"); "1.MIME" a part's header. -1 for a
 * section brev cannot name this way (HEADER.FIELDS among them). */
static int section_range(struct imap_session *s, const struct msg_info *mi, const char *sec,
			 uint64_t *off, uint64_t *len)
{
	uint32_t nums[MIME_DEPTH_MAX];
	size_t n = 0;
	const char *p = sec;

	if (!*sec) {
		*off = 0;
		*len = mi->size;
		return 0;
	}
	while (*p >= '1' && *p <= '9') {
		long long v;
		char buf[12];
		size_t k = 0;
		while (p[k] >= '0' && p[k] <= '9' && k < sizeof buf - 1) {
			buf[k] = p[k];
			k++;
		}
		buf[k] = 0;
		if (n == MIME_DEPTH_MAX || parse_int(buf, 1, UINT32_MAX, &v) < 0)
			return -1;
		nums[n++] = (uint32_t)v;
		p += k;
		if (*p != '.')
			break;
		p++;
	}
	if (n && p[-1] != '.' && *p)
		return -1;
	const struct mime_part *part = mime_section(imap_tree(s, mi), nums, n);
	if (!part)
		return -1;
	if (!*p) { /* "1.2": the part's body */
		*off = part->body_off;
		*len = part->body_size;
		return 0;
	}
	if (str_casecmp_ascii(p, "MIME") == 0 && n) {
		*off = part->hdr_off;
		*len = part->hdr_size;
		return 0;
	}
	if (n) { /* HEADER/TEXT of an attached message */
		if (!part->rfc822 || !part->children)
			return -1;
		part = part->children;
	}
	if (str_casecmp_ascii(p, "HEADER") == 0) {
		*off = part->hdr_off;
		*len = part->hdr_size;
		return 0;
	}
	if (str_casecmp_ascii(p, "TEXT") == 0) {
		*off = part->body_off;
		*len = part->body_size;
		return 0;
	}
	return -1;
}

/* Resolve one URL to a range of a stored message: NULL, or why not. */
static const char *resolve(struct imap_session *s, const char *url, struct piece *pc)
{
	struct imapurl u;
	struct mbox_info mb;
	struct msg_info mi;
	const char *name;

	if (imapurl_parse(url, strlen(url), &u) < 0)
		return "Invalid or unsupported IMAP URL";
	if (u.absolute) {
		/* Only this server's own mailboxes, of the logged-in user. */
		if (str_casecmp_ascii(u.host, s->srv->hostname) != 0 &&
		    str_casecmp_ascii(u.host, "localhost") != 0)
			return "URL names another server";
		if (u.user[0] && str_casecmp_ascii(u.user, s->acct.addr) != 0)
			return "URL names another user";
	}
	if (u.relative) {
		if (s->state != IS_SELECTED)
			return "Relative URL without a selected mailbox";
		name = s->mbox;
	} else {
		name = str_casecmp_ascii(u.mbox, "INBOX") == 0 ? "INBOX" : u.mbox;
	}
	if (store_mbox_get(s->srv->store, s->acct.id, name, &mb) != ST_OK)
		return "No such mailbox";
	if (u.uidvalidity && u.uidvalidity != mb.uidvalidity)
		return "UIDVALIDITY does not match";
	if (store_msg_get(s->srv->store, s->acct.id, name, u.uid, &mi) != ST_OK)
		return "No such message";
	uint64_t off, len;
	if (section_range(s, &mi, u.section, &off, &len) < 0)
		return "No such section";
	if (u.partial) { /* RFC 5092 5: <offset.length> of the section */
		if (u.partial_off >= len)
			len = 0;
		else {
			off += u.partial_off;
			len -= u.partial_off;
			if (u.partial_len && u.partial_len < len)
				len = u.partial_len;
		}
	}
	pc->text = 0;
	pc->blob = mi.blob;
	pc->off = off;
	pc->len = len;
	return NULL;
}

/* Copy the pieces into a new spool; -1 when a stored message went away
 * meanwhile or the spool failed. */
static int assemble(struct imap_session *s, const struct piece *pc, size_t n, struct spool *out)
{
	char buf[16384];
	for (size_t i = 0; i < n; i++) {
		uint64_t off = pc[i].off, left = pc[i].len;
		while (left > 0) {
			size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
			long got = pc[i].text
				       ? spool_read_at(s->cmd.spool, off, buf, want)
				       : store_msg_read(s->srv->store, pc[i].blob, off, buf, want);
			if (got <= 0 || spool_write(out, buf, (size_t)got) < 0)
				return -1;
			off += (uint64_t)got;
			left -= (uint64_t)got;
		}
	}
	return 0;
}

int imap_catenate(struct imap_session *s, const struct iarg *parts, struct spool **out)
{
	struct piece *pc = xcalloc(CATENATE_PARTS_MAX, sizeof *pc);
	size_t n = 0;
	uint64_t total = 0;
	int rc = -1;

	*out = NULL;
	if (!parts->kids) {
		imap_tagged(s, "BAD", "CATENATE needs at least one part");
		goto done;
	}
	for (const struct iarg *a = parts->kids; a; a = a->next) {
		const struct iarg *v = a->next;
		if (n == CATENATE_PARTS_MAX) {
			imap_tagged(s, "NO", "[LIMIT] Too many CATENATE parts");
			goto done;
		}
		if (iarg_is_atom(a, "TEXT") || iarg_is_atom(a, "UTF8")) {
			/* TEXT literal, or UTF8 (literal8) (RFC 6855 4) */
			if (iarg_is_atom(a, "UTF8"))
				v = v && v->type == IA_LIST && v->nkids == 1 ? v->kids : NULL;
			if (!v || v->type != IA_STRING || !v->spooled) {
				imap_tagged(s, "BAD", "CATENATE TEXT needs a literal");
				goto done;
			}
			if (imap_spool_nul(s->cmd.spool, v->off, v->len)) {
				imap_tagged(s, "NO",
					    "Message contains NUL octets; brev stores no "
					    "binary content");
				goto done;
			}
			pc[n++] = (struct piece){.text = 1, .off = v->off, .len = v->len};
		} else if (iarg_is_atom(a, "URL")) {
			const char *url = iarg_str(v);
			if (!url || (v->literal && strlen(url) != v->len)) {
				imap_tagged(s, "BAD", "CATENATE URL needs a string");
				goto done;
			}
			const char *why = resolve(s, url, &pc[n]);
			if (why) { /* RFC 4469 5: NO [BADURL url] */
				badurl(s, url, why);
				goto done;
			}
			n++;
		} else {
			imap_tagged(s, "BAD", "Invalid CATENATE part");
			goto done;
		}
		total += pc[n - 1].len;
		a = a->next;
	}
	/* RFC 4469 5: [TOOBIG] before the message is put together. */
	if (total > s->in.big_max) {
		imap_tagged(s, "NO", "[TOOBIG] Message too large");
		goto done;
	}
	if (total == 0) {
		imap_tagged(s, "NO", "Empty message");
		goto done;
	}
	*out = spool_new(SPOOL_MEM_DEFAULT);
	if (assemble(s, pc, n, *out) < 0) {
		spool_free(out);
		imap_tagged(s, "NO", "[UNAVAILABLE] A part went away; try again");
		goto done;
	}
	rc = 0;
done:
	free(pc);
	return rc;
}
