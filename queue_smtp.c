/*
 * queue_smtp.c — the small, peer-facing parsers of the SMTP client: reply
 * lines (RFC 5321 4.2, with RFC 2034 enhanced codes and the EHLO keyword
 * lines of 4.1.1.1) and the transparency procedure for the message bytes
 * (RFC 5321 4.5.2); and the choice of the source address for outgoing
 * connections. The session logic that uses them is in queue.c.
 *
 * Every byte here comes from a remote server: lines are bounded by the
 * caller (conn_getline), replies by SMTP_REPLY_LINES_MAX, kept text by
 * SMTP_REPLY_TEXT_MAX, and nothing is allocated.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "queue.h"
#include "util.h"

void smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof *r);
}

/* Append printable ASCII of s[0..n) to r->text (bounded; others -> '?'). */
static void text_add(struct smtp_reply *r, const char *s, size_t n)
{
	size_t l = strlen(r->text);
	for (size_t i = 0; i < n && l + 1 < sizeof r->text; i++) {
		unsigned char c = (unsigned char)s[i];
		r->text[l++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	r->text[l] = 0;
}

/* RFC 3463: class "." subject "." detail, 1-3 digits each, the class the
 * same as the reply's first digit. Returns the length or 0. */
static size_t enh_code(const char *s, size_t n, int cls)
{
	size_t i = 0;
	if (n < 5 || s[0] != '0' + cls || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && d < 3)
			i++, d++;
		if (!d)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

static int word_is(const char *s, size_t n, const char *w)
{
	size_t l = strlen(w);
	return n == l && str_ncasecmp_ascii(s, w, l) == 0;
}

/* One EHLO keyword line: "SIZE 1000", "AUTH PLAIN LOGIN", ... */
static void ehlo_keyword(struct smtp_reply *r, const char *s, size_t n)
{
	size_t kw = 0;
	while (kw < n && s[kw] != ' ')
		kw++;
	if (word_is(s, kw, "STARTTLS"))
		r->ext |= SX_STARTTLS;
	else if (word_is(s, kw, "PIPELINING"))
		r->ext |= SX_PIPELINING;
	else if (word_is(s, kw, "8BITMIME"))
		r->ext |= SX_8BITMIME;
	else if (word_is(s, kw, "SMTPUTF8"))
		r->ext |= SX_SMTPUTF8;
	else if (word_is(s, kw, "ENHANCEDSTATUSCODES"))
		r->ext |= SX_ENHANCED;
	else if (word_is(s, kw, "SIZE")) {
		uint64_t v = 0;
		r->ext |= SX_SIZE;
		for (size_t i = kw + 1; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			v = v > UINT64_MAX / 10 - 1 ? UINT64_MAX : v * 10 + (uint64_t)(s[i] - '0');
		r->size_max = v;
	} else if (word_is(s, kw, "AUTH")) {
		size_t i = kw;
		r->ext |= SX_AUTH;
		while (i < n) {
			size_t b;
			while (i < n && s[i] == ' ')
				i++;
			b = i;
			while (i < n && s[i] != ' ')
				i++;
			if (word_is(s + b, i - b, "PLAIN"))
				r->auth |= 1;
			else if (word_is(s + b, i - b, "LOGIN"))
				r->auth |= 2;
		}
	}
}

int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len, int ehlo)
{
	int code, last;
	const char *text;
	size_t tl, e;
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9')
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines && code != r->code)
		return -1;
	if (r->nlines >= SMTP_REPLY_LINES_MAX)
		return -1;
	last = len == 3 || line[3] == ' ';
	text = len > 4 ? line + 4 : "";
	tl = len > 4 ? len - 4 : 0;
	if (r->nlines == 0) {
		r->code = code;
		e = enh_code(text, tl, line[0] - '0');
		if (e && e < sizeof r->enh) {
			memcpy(r->enh, text, e);
			r->enh[e] = 0;
			text += e;
			tl -= e;
			while (tl && *text == ' ')
				text++, tl--;
		}
		text_add(r, text, tl);
	} else if (ehlo) {
		ehlo_keyword(r, text, tl);
	} else {
		/* Later lines repeat the enhanced code (RFC 2034 3): drop it. */
		e = enh_code(text, tl, line[0] - '0');
		if (e) {
			text += e;
			tl -= e;
			while (tl && *text == ' ')
				text++, tl--;
		}
		text_add(r, " / ", 3);
		text_add(r, text, tl);
	}
	r->nlines++;
	return last;
}

void smtp_reply_format(const struct smtp_reply *r, char *out, size_t cap)
{
	if (!r->code)
		str_copy(out, "(no reply)", cap);
	else
		snprintf(out, cap, "%03d%s%s%s%s", r->code, r->enh[0] ? " " : "", r->enh,
			 r->text[0] ? " " : "", r->text);
}

/* ---- RFC 5321 4.5.2: transparency ---- */

/* Every line end leaves as CRLF: a bare LF and a bare CR each become one
 * (issue 22: "\r.\r" must never reach a receiver that would take it for
 * the end of the data, the outbound half of SMTP smuggling). A CR is held
 * back (s->cr) until the next byte, possibly in the next call, shows
 * whether it ends a line. The line after a normalised line end is a new
 * line, so a '.' that starts it is stuffed like any other. */
int smtp_dot_write(struct conn *c, struct dot_state *s, const char *buf, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = buf[i];
		if (s->cr) {
			s->cr = 0;
			if (conn_write(c, "\r\n", 2) < 0)
				return -1;
			s->bol = 1;
			if (ch == '\n') {
				start = i + 1;
				continue;
			}
			/* a bare CR: its CRLF is out, ch starts the next line */
		}
		if (ch == '\r' || ch == '\n') {
			if (conn_write(c, buf + start, i - start) < 0)
				return -1;
			start = i + 1;
			if (ch == '\r') {
				s->cr = 1;
			} else {
				if (conn_write(c, "\r\n", 2) < 0) /* a bare LF */
					return -1;
				s->bol = 1;
			}
			continue;
		}
		if (s->bol && ch == '.') {
			/* A line that starts with '.' gets one more. */
			if (conn_write(c, buf + start, i - start) < 0 || conn_write(c, ".", 1) < 0)
				return -1;
			start = i;
		}
		s->bol = 0;
	}
	return conn_write(c, buf + start, n - start);
}

int smtp_dot_end(struct conn *c, struct dot_state *s)
{
	if ((s->cr || !s->bol) && conn_puts(c, "\r\n") < 0)
		return -1;
	s->bol = 1;
	s->cr = 0;
	return conn_puts(c, ".\r\n");
}

/* ---- source address ---- */

/* Why bind at all: a receiver checks SPF against the connection's source
 * address and may treat 127.0.0.1 as a local client. With one specific
 * listen.smtp address the MX record (and "v=spf1 mx") names that address,
 * so mail must leave from it, not from whatever the routing table picks. */
static int addr_is_any(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
}

static int addr_is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET6) {
		const struct in6_addr *i6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(i6) ||
		       (IN6_IS_ADDR_V4MAPPED(i6) && i6->s6_addr[12] == 127);
	}
	return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
}

static int addr_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

void queue_src_pick(const char *listen_smtp, struct queue_src *out)
{
	/* per family: 0 none seen, 1 one address, -1 wildcard or several */
	int st4 = 0, st6 = 0;
	const char *p = listen_smtp ? listen_smtp : "";
	memset(out, 0, sizeof *out);
	while (*p) {
		char one[128], err[160];
		struct sockaddr_storage a;
		unsigned alen;
		size_t n;
		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (!n)
			break;
		if (n < sizeof one) {
			memcpy(one, p, n);
			one[n] = 0;
			if (addr_parse(one, &a, &alen, err, sizeof err) == 0) {
				int *stp = a.ss_family == AF_INET6 ? &st6 : &st4;
				struct sockaddr_storage *keep =
				    a.ss_family == AF_INET6 ? &out->v6 : &out->v4;
				if (addr_is_any(&a))
					*stp = -1;
				else if (*stp == 0) {
					*keep = a;
					*stp = 1;
				} else if (*stp == 1 && !addr_same_ip(keep, &a))
					*stp = -1;
			}
		}
		p += n;
	}
	out->has4 = st4 == 1;
	out->has6 = st6 == 1;
	/* bind with port 0: the kernel picks the source port */
	((struct sockaddr_in *)&out->v4)->sin_port = 0;
	((struct sockaddr_in6 *)&out->v6)->sin6_port = 0;
}

int queue_src_for(const struct queue_src *s, const struct sockaddr_storage *dst,
		  struct sockaddr_storage *out, unsigned *len)
{
	const struct sockaddr_storage *src;
	if (dst->ss_family == AF_INET && s->has4) {
		src = &s->v4;
		*len = sizeof(struct sockaddr_in);
	} else if (dst->ss_family == AF_INET6 && s->has6) {
		src = &s->v6;
		*len = sizeof(struct sockaddr_in6);
	} else {
		return 0;
	}
	/* A loopback source cannot reach anything off the host; a loopback
	 * destination (a local relay) is this host talking to itself, and
	 * should see a loopback client. */
	if (addr_is_loopback(src) != addr_is_loopback(dst))
		return 0;
	*out = *src;
	return 1;
}
