/*
 * jmap_body.c — the Email/get properties that need the message parsed
 * (RFC 8621 4.1.2-4.1.4): from, sender, replyTo, to, cc, bcc (EmailAddress
 * lists), sentAt, messageId, inReplyTo, hasAttachment, preview, textBody,
 * htmlBody, attachments and bodyValues. The message is parsed once per
 * Email with message.c's MIME parser, reading from the store; the preview
 * is IMAP PREVIEW's (message_preview.c).
 *
 * Body parts: a text/plain leaf that is not an attachment goes to
 * textBody, a text/html one to htmlBody; when one of the two lists is
 * empty it gets the other's parts (RFC 8621 4.1.4). Every other leaf
 * (and message/rfc822, not descended into) is an attachment. partId is the
 * IMAP section number ("1", "2.1"); a part's blobId is "B<message blob
 * hex>_<section, '_' for '.'>", which jmap_part_fetch serves decoded.
 * bodyValues decode the transfer encoding and convert the charset
 * to UTF-8, cut at maxBodyValueBytes on a character boundary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "jmap_int.h"
#include "mailbox.h"
#include "message.h"
#include "preview.h"
#include "server.h"
#include "thread.h"
#include "util.h"

#define BODY_VALUE_READ_MAX (4 * 1024 * 1024) /* raw bytes of one part decoded */

static const char *const body_props[] = {
    "from",	    "sender",	  "replyTo", "to",	   "cc",	  "bcc",
    "sentAt",	    "messageId", "inReplyTo", "hasAttachment", "preview", "textBody",
    "htmlBody",	    "attachments", "bodyValues"};

int jmap_body_prop(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(body_props); i++)
		if (!strcmp(body_props[i], name))
			return 1;
	return 0;
}

static int wanted(json_t *want, const char *p)
{
	size_t i;
	json_t *w;
	if (!want || json_is_null(want))
		return 0; /* null: the basic properties only (docs/jmap.md) */
	json_array_foreach(want, i, w) if (!strcmp(json_string_value(w), p)) return 1;
	return 0;
}

struct rd {
	struct store *st;
	uint64_t blob;
};

static long rd_read(void *arg, uint64_t off, void *buf, size_t n)
{
	struct rd *r = arg;
	return store_msg_read(r->st, r->blob, off, buf, n);
}

/* One element of an address list: "Name <a@b>" or "a@b". */
static void addr_one(json_t *list, const char *s, size_t n)
{
	const char *lt = memchr(s, '<', n), *gt = lt ? memchr(lt, '>', n - (size_t)(lt - s)) : NULL;
	char *email, *name = NULL;
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (!n)
		return;
	if (lt && gt) {
		size_t nl = (size_t)(lt - s);
		email = xstrndup(lt + 1, (size_t)(gt - lt - 1));
		while (nl && (s[nl - 1] == ' ' || s[nl - 1] == '\t'))
			nl--;
		if (nl >= 2 && s[0] == '"' && s[nl - 1] == '"') {
			/* a quoted-string: drop the quotes and the backslashes */
			char *q = xmalloc(nl), *o = q;
			for (size_t i = 1; i + 1 < nl; i++) {
				if (s[i] == '\\' && i + 2 < nl)
					i++;
				*o++ = s[i];
			}
			*o = 0;
			name = mime_decode_words(q, strlen(q));
			free(q);
		} else if (nl)
			name = mime_decode_words(s, nl);
	} else
		email = xstrndup(s, n);
	json_array_append_new(list, json_pack("{s:s?, s:s}", "name", name && *name ? name : NULL,
					      "email", email));
	free(name);
	free(email);
}

/* An address header's value (unfolded) as EmailAddress[]: elements split
 * at commas outside quotes, angle brackets and comments; a group's name
 * and its ";" are dropped. NULL when the field is absent. */
static json_t *addrs(const char *v)
{
	json_t *list;
	size_t start = 0, i, n;
	int q = 0, angle = 0, comment = 0;
	if (!v)
		return json_null();
	list = json_array();
	n = strlen(v);
	for (i = 0; i <= n && json_array_size(list) < 1000; i++) {
		char c = i < n ? v[i] : ',';
		if (q) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '"')
				q = 0;
			continue;
		}
		if (comment) {
			comment += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		}
		if (c == '"')
			q = 1;
		else if (c == '(')
			comment = 1;
		else if (c == '<')
			angle = 1;
		else if (c == '>')
			angle = 0;
		else if (c == ':' && !angle)
			start = i + 1; /* a group's name */
		else if ((c == ',' || c == ';') && !angle) {
			addr_one(list, v + start, i - start);
			start = i + 1;
		}
	}
	return list;
}

/* msg-id list: each "<id>" without its brackets; null when none. */
static json_t *msgids(const char *v)
{
	json_t *a;
	if (!v)
		return json_null();
	a = json_array();
	for (const char *p = strchr(v, '<'); p; p = strchr(p, '<')) {
		const char *e = strchr(p, '>');
		if (!e)
			break;
		if (e > p + 1 && json_array_size(a) < 100) {
			char *id = xstrndup(p + 1, (size_t)(e - p - 1));
			json_array_append_new(a, json_string(id));
			free(id);
		}
		p = e;
	}
	if (!json_array_size(a)) {
		json_decref(a);
		return json_null();
	}
	return a;
}

static void lower_type(const struct mime_part *p, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", p->type ? p->type : "text", p->subtype ? p->subtype : "plain");
	for (char *c = out; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
}

static int is_attachment(const struct mime_part *p)
{
	return p->disp && str_ncasecmp_ascii(p->disp, "attachment", 10) == 0;
}

struct walk {
	uint64_t blob;
	json_t *text, *html, *att;
	char ids[64][24]; /* partIds of text parts, for bodyValues */
	int istext[64];
	const struct mime_part *parts[64];
	size_t n;
};

static json_t *part_json(const struct mime_part *p, const char *id, uint64_t blob)
{
	char bid[64];
	char type[128];
	const char *name = mime_param(p->dparams, p->ndparams, "filename");
	const char *cs = mime_param(p->params, p->nparams, "charset");
	json_t *o;
	char *dn = NULL;
	if (!name)
		name = mime_param(p->params, p->nparams, "name");
	if (name)
		dn = mime_decode_words(name, strlen(name));
	lower_type(p, type, sizeof type);
	snprintf(bid, sizeof bid, "B%llx_%s", (unsigned long long)blob, id);
	for (char *c = bid; *c; c++)
		if (*c == '.')
			*c = '_';
	o = json_pack("{s:s, s:s, s:s, s:I, s:s?, s:s?, s:s?, s:s?}", "partId", id, "blobId", bid, "type", type, "size",
		      (json_int_t)p->body_size, "name", dn, "charset",
		      cs ? cs : (!str_ncasecmp_ascii(type, "text/", 5) ? "us-ascii" : NULL),
		      "disposition", p->disp, "cid", p->id);
	free(dn);
	return o;
}

static void walk(const struct mime_part *p, const char *id, struct walk *w)
{
	char type[128], sub[24];
	int i = 1;
	if (p->multipart) {
		for (const struct mime_part *c = p->children; c; c = c->next, i++) {
			if (*id)
				snprintf(sub, sizeof sub, "%s.%d", id, i);
			else
				snprintf(sub, sizeof sub, "%d", i);
			walk(c, sub, w);
		}
		return;
	}
	if (!*id)
		id = "1";
	lower_type(p, type, sizeof type);
	if (!is_attachment(p) && (!strcmp(type, "text/plain") || !strcmp(type, "text/html"))) {
		json_array_append_new(!strcmp(type, "text/plain") ? w->text : w->html,
				      part_json(p, id, w->blob));
		if (w->n < 64) {
			str_copy(w->ids[w->n], id, sizeof w->ids[0]);
			w->istext[w->n] = !strcmp(type, "text/plain");
			w->parts[w->n++] = p;
		}
	} else
		json_array_append_new(w->att, part_json(p, id, w->blob));
}

/* The decoded UTF-8 text of a part, cut at max bytes (0: no cut) on a
 * character boundary. */
static json_t *body_value(const struct msg_src *src, const struct mime_part *p, size_t max,
			  uint64_t *budget)
{
	uint64_t n = p->body_size < BODY_VALUE_READ_MAX ? p->body_size : BODY_VALUE_READ_MAX;
	if (n > *budget)
		n = *budget; /* the request has read its share: the rest is cut */
	*budget -= n;
	char *raw = xmalloc(n + 1);
	struct sbuf dec = {0}, utf = {0};
	long got = n ? src->read(src->arg, p->body_off, raw, (size_t)n) : 0;
	int cut = 0;
	json_t *o;
	if (got < 0)
		got = 0;
	mime_decode_body(&dec, raw, (size_t)got, mime_cte(p));
	mime_to_utf8(&utf, dec.p ? dec.p : "", dec.len,
		     mime_param(p->params, p->nparams, "charset"));
	if (max && utf.len > max) {
		size_t k = max;
		while (k && ((unsigned char)utf.p[k] & 0xc0) == 0x80)
			k--;
		utf.len = k;
		cut = 1;
	}
	o = json_pack("{s:s%, s:b, s:b}", "value", utf.p ? utf.p : "", utf.len, "isEncodingProblem",
		      0, "isTruncated", cut || n < p->body_size);
	free(raw);
	sbuf_free(&dec);
	sbuf_free(&utf);
	return o;
}

static int in_list(json_t *list, const char *id)
{
	size_t k;
	json_t *v;
	json_array_foreach(list, k, v) if (!strcmp(json_string_value(json_object_get(v, "partId")), id))
	    return 1;
	return 0;
}

void jmap_body_props(struct jreq *r, uint64_t blob, uint64_t size, json_t *want,
		     struct jmap_body_opts *opt, json_t *o)
{
	static const struct {
		const char *prop;
		int env;
	} af[] = {{"from", ENV_FROM},	{"sender", ENV_SENDER}, {"replyTo", ENV_REPLY_TO},
		  {"to", ENV_TO},	{"cc", ENV_CC},		{"bcc", ENV_BCC}};
	struct rd rd = {r->srv->store, blob};
	struct msg_src src = {rd_read, &rd, size};
	struct mime_part *root;
	struct walk w = {0};
	int any = 0;

	for (size_t i = 0; i < ARRAY_LEN(body_props); i++)
		any |= wanted(want, body_props[i]);
	if (!any)
		return;
	root = mime_parse(&src);
	for (size_t i = 0; i < ARRAY_LEN(af); i++)
		if (wanted(want, af[i].prop))
			json_object_set_new(o, af[i].prop, addrs(root->env[af[i].env]));
	if (wanted(want, "sentAt")) {
		int64_t t;
		char d[32];
		if (root->env[ENV_DATE] && thread_parse_date(root->env[ENV_DATE], &t) == 0) {
			time_t tt = (time_t)t;
			struct tm tm;
			gmtime_r(&tt, &tm);
			strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%SZ", &tm);
			json_object_set_new(o, "sentAt", json_string(d));
		} else
			json_object_set_new(o, "sentAt", json_null());
	}
	if (wanted(want, "messageId"))
		json_object_set_new(o, "messageId", msgids(root->env[ENV_MESSAGE_ID]));
	if (wanted(want, "inReplyTo"))
		json_object_set_new(o, "inReplyTo", msgids(root->env[ENV_IN_REPLY_TO]));
	if (wanted(want, "preview")) {
		struct sbuf pv = {0};
		mime_preview(root, &src, &pv);
		json_object_set_new(o, "preview", json_stringn(pv.p ? pv.p : "", pv.len));
		sbuf_free(&pv);
	}
	w.blob = blob;
	w.text = json_array();
	w.html = json_array();
	w.att = json_array();
	walk(root, "", &w);
	if (!json_array_size(w.text))
		json_array_extend(w.text, w.html);
	if (!json_array_size(w.html))
		json_array_extend(w.html, w.text);
	if (wanted(want, "hasAttachment"))
		json_object_set_new(o, "hasAttachment", json_boolean(json_array_size(w.att) > 0));
	if (wanted(want, "bodyValues")) {
		json_t *bv = json_object();
		/* RFC 8621 4.2: the parts of the lists asked for */
		for (size_t i = 0; i < w.n; i++)
			if (opt->all || (opt->text && in_list(w.text, w.ids[i])) ||
			    (opt->html && in_list(w.html, w.ids[i])))
				json_object_set_new(bv, w.ids[i], body_value(&src, w.parts[i], opt->max,
									     &opt->budget));
		json_object_set_new(o, "bodyValues", bv);
	}
	if (wanted(want, "textBody"))
		json_object_set(o, "textBody", w.text);
	if (wanted(want, "htmlBody"))
		json_object_set(o, "htmlBody", w.html);
	if (wanted(want, "attachments"))
		json_object_set(o, "attachments", w.att);
	json_decref(w.text);
	json_decref(w.html);
	json_decref(w.att);
	mime_free(&root);
}

/* ---- Email/query's text conditions ---- */

static const char *const text_conds[] = {"text", "from", "to", "cc", "bcc", "subject", "body"};

int jmap_filter_cond(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(text_conds); i++)
		if (!strcmp(text_conds[i], name))
			return 1;
	return 0;
}

static int field_has(const char *v, const char *needle, int addr)
{
	char *t;
	int hit;
	if (!v)
		return 0;
	t = addr ? mime_addr_text(v, strlen(v)) : mime_decode_words(v, strlen(v));
	hit = mime_contains(t, strlen(t), needle, strlen(needle));
	free(t);
	return hit;
}

int jmap_filter_match(struct jreq *r, uint64_t blob, uint64_t size, json_t *filter)
{
	struct rd rd = {r->srv->store, blob};
	struct msg_src src = {rd_read, &rd, size};
	struct mime_part *root = mime_parse(&src);
	static const struct {
		const char *cond;
		int env;
	} f[] = {{"from", ENV_FROM}, {"to", ENV_TO}, {"cc", ENV_CC}, {"bcc", ENV_BCC}};
	const char *s;
	int ok = 1;

	for (size_t i = 0; i < ARRAY_LEN(f) && ok; i++)
		if ((s = json_string_value(json_object_get(filter, f[i].cond))))
			ok = field_has(root->env[f[i].env], s, 1);
	if (ok && (s = json_string_value(json_object_get(filter, "subject"))))
		ok = field_has(root->env[ENV_SUBJECT], s, 0);
	/* RFC 8621 4.4.1: text is any address field, the subject or a text body */
	if (ok && (s = json_string_value(json_object_get(filter, "text"))))
		ok = mime_search_text(root, &src, s, 1);
	if (ok && (s = json_string_value(json_object_get(filter, "body"))))
		ok = mime_search_text(root, &src, s, 0);
	mime_free(&root);
	return ok;
}

/* ---- SearchSnippet/get (RFC 8621 5.1) ---- */

#define SNIPPET_BEFORE 80  /* bytes of text shown before a match */
#define SNIPPET_LEN    255 /* bytes of text in a snippet, marks not counted */
#define SNIPPET_READ_MAX (256 * 1024) /* raw text bytes looked at per Email */

/* HTML-escaped s[0..n) into b, the bytes [ms, me) inside <mark>. */
static void put_marked(struct sbuf *b, const char *s, size_t n, size_t ms, size_t me)
{
	for (size_t i = 0; i < n; i++) {
		if (i == ms)
			sbuf_puts(b, "<mark>");
		switch (s[i]) {
		case '&': sbuf_puts(b, "&amp;"); break;
		case '<': sbuf_puts(b, "&lt;"); break;
		case '>': sbuf_puts(b, "&gt;"); break;
		case '"': sbuf_puts(b, "&quot;"); break;
		case '\'': sbuf_puts(b, "&#39;"); break;
		case '\r':
		case '\n':
		case '\t': sbuf_puts(b, " "); break;
		default: sbuf_add(b, s + i, 1);
		}
		if (i + 1 == me)
			sbuf_puts(b, "</mark>");
	}
}

/* Where needle is in hay (ASCII case-insensitive), or -1. */
static long find(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = 0; m && i + m <= n; i++)
		if (mime_contains(hay + i, m, needle, m))
			return (long)i;
	return -1;
}

struct snip {
	const char *needle;
	struct sbuf out;
	int done;
};

static int snip_cb(void *arg, const char *text, size_t n)
{
	struct snip *s = arg;
	long at = find(text, n, s->needle);
	size_t from, to, m = strlen(s->needle);
	if (at < 0)
		return 0;
	from = (size_t)at > SNIPPET_BEFORE ? (size_t)at - SNIPPET_BEFORE : 0;
	while (from && ((unsigned char)text[from] & 0xc0) == 0x80)
		from--; /* not inside a character */
	to = from + SNIPPET_LEN < n ? from + SNIPPET_LEN : n;
	while (to < n && to > (size_t)at + m && ((unsigned char)text[to] & 0xc0) == 0x80)
		to--;
	if (to < (size_t)at + m)
		to = (size_t)at + m;
	put_marked(&s->out, text + from, to - from, (size_t)at - from, (size_t)at - from + m);
	s->done = 1;
	return 1;
}

json_t *jmap_snippet(struct jreq *r, uint64_t blob, uint64_t size, const char *email_id,
		     json_t *filter)
{
	struct rd rd = {r->srv->store, blob};
	struct msg_src src = {rd_read, &rd, size};
	struct mime_part *root = mime_parse(&src);
	const char *t = json_string_value(json_object_get(filter, "text")),
		   *su = json_string_value(json_object_get(filter, "subject")),
		   *bo = json_string_value(json_object_get(filter, "body"));
	json_t *subject = json_null(), *preview = json_null();
	if (!su)
		su = t;
	if (!bo)
		bo = t;
	if (su && root->env[ENV_SUBJECT]) {
		char *d = mime_decode_words(root->env[ENV_SUBJECT], strlen(root->env[ENV_SUBJECT]));
		long at = find(d, strlen(d), su);
		if (at >= 0) {
			struct sbuf b = {0};
			put_marked(&b, d, strlen(d), (size_t)at, (size_t)at + strlen(su));
			subject = json_stringn(b.p ? b.p : "", b.len);
			if (!subject)
				subject = json_null();
			sbuf_free(&b);
		}
		free(d);
	}
	if (bo) {
		struct snip s = {bo, {0}, 0};
		mime_text_each(root, &src, 0, SNIPPET_READ_MAX, snip_cb, &s);
		if (s.done && (preview = json_stringn(s.out.p ? s.out.p : "", s.out.len)) == NULL)
			preview = json_null();
		sbuf_free(&s.out);
	}
	mime_free(&root);
	return json_pack("{s:s, s:o, s:o}", "emailId", email_id, "subject", subject, "preview",
			 preview);
}

/* ---- a body part as a blob: "B<message blob hex>_<section>" ---- */

int jmap_part_fetch(const struct server *srv, const struct account *a, const char *acc_id,
		    const char *blob_id, char **out, size_t *len)
{
	char msg[24];
	const char *u = strchr(blob_id, '_'), *p;
	uint64_t blob, size;
	struct rd rd;
	struct msg_src src;
	struct mime_part *root, *node;
	struct sbuf dec = {0};
	char *raw;
	long got;

	if (!u || (size_t)(u - blob_id) >= sizeof msg)
		return -1;
	memcpy(msg, blob_id, (size_t)(u - blob_id));
	msg[u - blob_id] = 0;
	if (jmap_blob_lookup(srv, a, acc_id, msg, &blob, &size) < 0)
		return -1;
	rd = (struct rd){srv->store, blob};
	src = (struct msg_src){rd_read, &rd, size};
	node = root = mime_parse(&src);
	/* the section, as walk() numbers parts: children of multiparts */
	for (p = u; node && *p == '_';) {
		char *end;
		unsigned long k = strtoul(p + 1, &end, 10);
		if (end == p + 1 || k == 0 || (*end && *end != '_')) {
			node = NULL;
			break;
		}
		if (node->multipart) {
			struct mime_part *c = node->children;
			while (c && --k)
				c = c->next;
			node = c;
		} else if (node != root || k != 1)
			node = NULL; /* a leaf root is part "1" */
		p = end;
	}
	if (!node || node->multipart || node->body_size > srv->cfg->message_size) {
		mime_free(&root);
		return -1;
	}
	raw = xmalloc(node->body_size + 1);
	got = node->body_size ? src.read(src.arg, node->body_off, raw, node->body_size) : 0;
	if (got < 0)
		got = 0;
	mime_decode_body(&dec, raw, (size_t)got, mime_cte(node));
	free(raw);
	mime_free(&root);
	*out = dec.p ? dec.p : xstrdup("");
	*len = dec.len;
	return 0;
}
