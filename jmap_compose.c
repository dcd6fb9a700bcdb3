/*
 * jmap_compose.c — the message of an Email/set create (RFC 8621 4.6): the
 * header fields from the Email's properties (from, to, cc, bcc, replyTo,
 * sender, subject, sentAt, messageId, inReplyTo, references), the body
 * from textBody / htmlBody with their bodyValues, and attachments from
 * uploaded blobs (jmap_upload.c). Where the Email goes (mailboxIds,
 * keywords, receivedAt) is jmap_email.c's.
 *
 * The message is written in one form: RFC 5322 with MIME (RFC 2045-2047),
 * CRLF lines; text parts 7bit when they are short-lined ASCII, else base64
 * (no quoted-printable); header text with non-ASCII characters as RFC 2047
 * "B" encoded words in UTF-8. One text part gives a text/plain (or
 * text/html) message; both give multipart/alternative; attachments wrap it
 * in multipart/mixed. A part's text ends with its own line end, then the
 * delimiter's CRLF (RFC 2046 5.1.1: that one belongs to the boundary), so
 * a text that ends in a newline keeps it. bodyStructure, header:* properties and partIds other
 * than those of bodyValues are not supported (invalidProperties).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "jmap_int.h"
#include "mailbox.h"
#include "server.h"
#include "smtp.h"
#include "spool.h"
#include "util.h"

#define COMPOSE_ADDRS_MAX 100 /* addresses in one field */
#define COMPOSE_PIECE	  (48 * 1024) /* attachment bytes encoded at a time (x 4/3) */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 of n bytes into b, 76-character lines when wrap (RFC 2045 6.8). */
static void put_b64(struct sbuf *b, const unsigned char *p, size_t n, int wrap, size_t *col)
{
	char q[4];
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		q[0] = b64[v >> 18 & 63];
		q[1] = b64[v >> 12 & 63];
		q[2] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		sbuf_add(b, q, 4);
		if (wrap && (*col += 4) >= 76) {
			sbuf_puts(b, "\r\n");
			*col = 0;
		}
	}
}

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* Header text: as it is when it is ASCII without control characters, else
 * one RFC 2047 encoded word per 45 bytes (whole UTF-8 characters). */
static int put_text(struct sbuf *b, const char *s)
{
	size_t n = strlen(s), i = 0, zero = 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < ' ' && *p != '\t')
			return -1;
	if (is_ascii(s) && !strstr(s, "=?")) {
		sbuf_puts(b, s);
		return 0;
	}
	while (i < n) {
		size_t k = n - i > 45 ? 45 : n - i;
		while (i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--; /* not inside a character */
		if (i)
			sbuf_puts(b, "\r\n ");
		sbuf_puts(b, "=?UTF-8?B?");
		put_b64(b, (const unsigned char *)s + i, k, 0, &zero);
		sbuf_puts(b, "?=");
		i += k;
	}
	return 0;
}

/* A display name: a quoted-string when ASCII, else encoded words. */
static int put_name(struct sbuf *b, const char *s)
{
	if (!is_ascii(s))
		return put_text(b, s);
	sbuf_puts(b, "\"");
	for (; *s; s++) {
		if ((unsigned char)*s < ' ')
			return -1;
		if (*s == '"' || *s == '\\')
			sbuf_puts(b, "\\");
		sbuf_add(b, s, 1);
	}
	sbuf_puts(b, "\"");
	return 0;
}

/* An EmailAddress[] field: -1 when malformed. */
static int put_addrs(struct sbuf *b, const char *field, json_t *list)
{
	size_t i;
	json_t *a;
	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > COMPOSE_ADDRS_MAX)
		return -1;
	if (!json_array_size(list))
		return 0;
	sbuf_printf(b, "%s: ", field);
	json_array_foreach(list, i, a)
	{
		json_t *name = json_object_get(a, "name"), *email = json_object_get(a, "email");
		struct smtp_addr pa;
		size_t used;
		if (!json_is_object(a) || !json_is_string(email) ||
		    smtp_path_parse(json_string_value(email), json_string_length(email),
				    SP_NO_BRACKETS, &pa, &used) ||
		    used != json_string_length(email) || (name && !json_is_null(name) && !json_is_string(name)))
			return -1;
		if (i)
			sbuf_puts(b, ",\r\n ");
		if (json_is_string(name) && json_string_length(name)) {
			if (put_name(b, json_string_value(name)) < 0)
				return -1;
			sbuf_printf(b, " <%s>", pa.addr);
		} else
			sbuf_puts(b, pa.addr);
	}
	sbuf_puts(b, "\r\n");
	return 0;
}

/* A msg-id list field (messageId, inReplyTo, references): ids without
 * their angle brackets, each id-left@id-right of visible characters. */
static int put_ids(struct sbuf *b, const char *field, json_t *list)
{
	size_t i;
	json_t *v;
	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > 100)
		return -1;
	if (!json_array_size(list))
		return 0;
	sbuf_printf(b, "%s:", field);
	json_array_foreach(list, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || !*s || !strchr(s, '@') || strlen(s) > 250)
			return -1;
		for (const char *p = s; *p; p++)
			if (*p <= ' ' || *p >= 0x7f || *p == '<' || *p == '>')
				return -1;
		sbuf_printf(b, "%s<%s>", i ? "\r\n " : " ", s);
	}
	sbuf_puts(b, "\r\n");
	return 0;
}

/* The one part a textBody or htmlBody may name: its bodyValues value, or
 * NULL (the property is invalid). */
static const char *body_value(json_t *c, json_t *list, const char *type)
{
	json_t *p, *vals = json_object_get(c, "bodyValues"), *val, *t;
	if (!list || json_is_null(list))
		return "";
	if (!json_is_array(list) || json_array_size(list) != 1)
		return NULL;
	p = json_array_get(list, 0);
	t = json_object_get(p, "type");
	if (!json_is_object(p) || !json_is_string(json_object_get(p, "partId")) ||
	    (t && !json_is_null(t) && (!json_is_string(t) || strcmp(json_string_value(t), type))))
		return NULL;
	val = json_object_get(json_object_get(vals, json_string_value(json_object_get(p, "partId"))),
			      "value");
	return json_is_string(val) && !memchr(json_string_value(val), 0, json_string_length(val))
		   ? json_string_value(val)
		   : NULL;
}

/* A text part: its head and body. */
static void put_text_part(struct sbuf *b, const char *type, const char *text)
{
	int plain = is_ascii(text);
	size_t line = 0, col = 0;
	for (const char *p = text; *p && plain; p++) {
		line = *p == '\n' ? 0 : line + 1;
		if (line > 900 || (*p == '\r' && p[1] != '\n'))
			plain = 0;
	}
	sbuf_printf(b, "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: %s\r\n\r\n",
		    type, plain ? "7bit" : "base64");
	if (plain) {
		for (const char *p = text; *p; p++) {
			if (*p == '\n' && (p == text || p[-1] != '\r'))
				sbuf_puts(b, "\r");
			sbuf_add(b, p, 1);
		}
		if (!*text || text[strlen(text) - 1] != '\n')
			sbuf_puts(b, "\r\n");
	} else {
		put_b64(b, (const unsigned char *)text, strlen(text), 1, &col);
		if (col)
			sbuf_puts(b, "\r\n");
	}
}

static void boundary(char out[40])
{
	unsigned char r[12];
	size_t col = 0;
	struct sbuf b = {0};
	random_bytes(r, sizeof r);
	put_b64(&b, r, sizeof r, 0, &col);
	snprintf(out, 40, "=_brev_%.*s", (int)b.len, b.p);
	for (char *p = out; *p; p++)
		if (*p == '+' || *p == '/')
			*p = '_';
	sbuf_free(&b);
}

static json_t *bad(const char *prop)
{
	return json_pack("{s:s, s:[s]}", "type", "invalidProperties", "properties", prop);
}

json_t *jmap_compose(struct jreq *r, json_t *c, struct spool **out)
{
	static const char *const allowed[] = {
	    "mailboxIds", "keywords",	"receivedAt", "from",	    "to",	  "cc",
	    "bcc",	  "replyTo",	"sender",     "subject",    "sentAt",	  "messageId",
	    "inReplyTo",  "references", "textBody",   "htmlBody",   "bodyValues", "attachments"};
	json_t *v, *att = json_object_get(c, "attachments"), *subj = json_object_get(c, "subject"),
		   *sent = json_object_get(c, "sentAt");
	const char *k, *text, *html, *prop = NULL;
	char date[64], alt[40], mix[40], mid[512];
	struct sbuf b = {0};
	size_t i, col;
	uint64_t total = 0, max = r->srv->cfg->message_size;
	int64_t when = (int64_t)time(NULL);

	*out = NULL;
	if (!json_is_object(c))
		return json_pack("{s:s}", "type", "invalidProperties");
	json_object_foreach(c, k, v)
	{
		size_t n;
		for (n = 0; n < ARRAY_LEN(allowed) && strcmp(allowed[n], k); n++)
			;
		if (n == ARRAY_LEN(allowed))
			return bad(k); /* bodyStructure, header:*, id, ... */
	}
	if (sent && !json_is_null(sent) &&
	    (!json_is_string(sent) || jmap_utc_date(json_string_value(sent), &when) < 0))
		return bad("sentAt");
	if (!(text = body_value(c, json_object_get(c, "textBody"), "text/plain")))
		return bad("textBody");
	if (!(html = body_value(c, json_object_get(c, "htmlBody"), "text/html")))
		return bad("htmlBody");
	if (att && !json_is_null(att) && (!json_is_array(att) || json_array_size(att) > 100))
		return bad("attachments");

	smtp_date(date, sizeof date, (time_t)when);
	sbuf_printf(&b, "Date: %s\r\n", date);
	if (put_addrs(&b, "From", json_object_get(c, "from")) < 0)
		prop = "from";
	else if (put_addrs(&b, "Sender", json_object_get(c, "sender")) < 0)
		prop = "sender";
	else if (put_addrs(&b, "Reply-To", json_object_get(c, "replyTo")) < 0)
		prop = "replyTo";
	else if (put_addrs(&b, "To", json_object_get(c, "to")) < 0)
		prop = "to";
	else if (put_addrs(&b, "Cc", json_object_get(c, "cc")) < 0)
		prop = "cc";
	else if (put_addrs(&b, "Bcc", json_object_get(c, "bcc")) < 0)
		prop = "bcc";
	if (!prop && subj && !json_is_null(subj)) {
		sbuf_puts(&b, "Subject: ");
		if (!json_is_string(subj) || put_text(&b, json_string_value(subj)) < 0)
			prop = "subject";
		sbuf_puts(&b, "\r\n");
	}
	if (!prop && json_object_get(c, "messageId")) {
		if (put_ids(&b, "Message-ID", json_object_get(c, "messageId")) < 0 ||
		    json_array_size(json_object_get(c, "messageId")) > 1)
			prop = "messageId";
	} else if (!prop) {
		unsigned char rnd[12];
		char hex[25];
		random_bytes(rnd, sizeof rnd);
		for (i = 0; i < sizeof rnd; i++)
			snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		snprintf(mid, sizeof mid, "Message-ID: <%s@%s>\r\n", hex,
			 r->srv->cfg->hostname[0] ? r->srv->cfg->hostname : "localhost");
		sbuf_puts(&b, mid);
	}
	if (!prop && put_ids(&b, "In-Reply-To", json_object_get(c, "inReplyTo")) < 0)
		prop = "inReplyTo";
	if (!prop && put_ids(&b, "References", json_object_get(c, "references")) < 0)
		prop = "references";
	if (prop) {
		sbuf_free(&b);
		return bad(prop);
	}
	sbuf_puts(&b, "MIME-Version: 1.0\r\n");
	boundary(mix);
	boundary(alt);
	if (json_array_size(att))
		sbuf_printf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\n", mix,
			    mix);
	if (*text && *html) {
		sbuf_printf(&b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n--%s\r\n",
			    alt, alt);
		put_text_part(&b, "text/plain", text);
		sbuf_printf(&b, "\r\n--%s\r\n", alt);
		put_text_part(&b, "text/html", html);
		sbuf_printf(&b, "\r\n--%s--\r\n", alt);
	} else
		put_text_part(&b, *html ? "text/html" : "text/plain", *html ? html : text);
	json_array_foreach(att, i, v)
	{
		json_t *blob = json_object_get(v, "blobId"), *t = json_object_get(v, "type"),
		       *n = json_object_get(v, "name");
		struct spool *sp;
		char *buf;
		uint64_t off = 0;
		long got;
		const char *type = json_is_string(t) ? json_string_value(t) : "application/octet-stream";
		size_t tl = strlen(type);
		if (!json_is_object(v) || !json_is_string(blob) || (n && !json_is_null(n) && !json_is_string(n)) ||
		    !tl || tl > 100 || !strchr(type, '/') ||
		    strspn(type, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$^_.+-/") != tl) {
			sbuf_free(&b);
			return bad("attachments");
		}
		if (!(sp = jmap_upload_load(r->srv, r->a->id, json_string_value(blob), max))) {
			sbuf_free(&b);
			return json_pack("{s:s, s:[s]}", "type", "blobNotFound", "notFound",
					 json_string_value(blob));
		}
		total += spool_size(sp);
		if (total > max) {
			spool_free(&sp);
			sbuf_free(&b);
			return json_pack("{s:s}", "type", "tooLarge");
		}
		sbuf_printf(&b, "\r\n--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
				"Content-Disposition: attachment",
			    mix, type);
		if (json_is_string(n) && json_string_length(n)) {
			/* RFC 2231 would be exact; an encoded word is what mail
			 * programs read (and write) in practice */
			sbuf_puts(&b, ";\r\n filename=\"");
			for (const char *p = json_string_value(n); *p; p++)
				if ((unsigned char)*p >= ' ' && *p != '"' && *p != '\\' && *p != 0x7f)
					sbuf_add(&b, p, 1);
			sbuf_puts(&b, "\"");
		}
		sbuf_puts(&b, "\r\n\r\n");
		buf = xmalloc(COMPOSE_PIECE);
		col = 0;
		while ((got = spool_read_at(sp, off, buf, COMPOSE_PIECE)) > 0) {
			put_b64(&b, (unsigned char *)buf, (size_t)got, 1, &col);
			off += (uint64_t)got;
		}
		if (col)
			sbuf_puts(&b, "\r\n");
		free(buf);
		spool_free(&sp);
	}
	if (json_array_size(att))
		sbuf_printf(&b, "\r\n--%s--\r\n", mix);
	if (b.len > max) {
		sbuf_free(&b);
		return json_pack("{s:s}", "type", "tooLarge");
	}
	*out = spool_new(SPOOL_MEM_DEFAULT);
	spool_write(*out, b.p, b.len);
	sbuf_free(&b);
	return NULL;
}
