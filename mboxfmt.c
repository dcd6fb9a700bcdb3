/*
 * mboxfmt.c — mbox splitting and the flag conventions of mbox and Maildir
 * (see mboxfmt.h). Files, the store and progress are import.c's; this file
 * only turns bytes into messages and metadata and back.
 *
 * The mbox rules applied (RFC 4155 and the mboxrd convention):
 *  - a message starts at a line beginning "From " at the start of the file
 *    or after an empty line; the empty line before it separates messages
 *    and is not part of either;
 *  - any line matching ^>+From  loses one '>' (mboxrd; for mboxo files,
 *    which escape only "From ", this reads ">From " back as "From ", which
 *    is what the writer meant in all but the ambiguous case mboxo cannot
 *    express);
 *  - the status headers of mutt (Status, X-Status), Thunderbird
 *    (X-Mozilla-Status, -Status2, -Keys) and Dovecot (X-Keywords) are mbox
 *    bookkeeping, not message content: they become flags and keywords and
 *    are removed, so that export (which writes them back) and import give
 *    back the stored bytes exactly.
 */
#include "mboxfmt.h"

#include <stdio.h>
#include <string.h>

#include "mailbox.h"
#include "util.h"

/* ---- keywords and status headers ---- */

static int atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return !strchr("(){%*\"\\]", c);
}

int mboxfmt_kw_add(struct mboxfmt_meta *m, const char *name, size_t len)
{
	size_t used = 0;
	if (len == 0 || len > MBOXFMT_KW_LEN || m->nkw == MBOXFMT_KW_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!atom_char((unsigned char)name[i]))
			return -1;
	for (size_t i = 0; i < m->nkw; i++) {
		size_t l = strlen(m->kw[i]);
		if (l == len && str_ncasecmp_ascii(m->kw[i], name, len) == 0)
			return -1;
		used += l + 1;
	}
	if (used + len + 1 > sizeof m->kwbuf)
		return -1;
	memcpy(m->kwbuf + used, name, len);
	m->kwbuf[used + len] = '\0';
	m->kw[m->nkw++] = m->kwbuf + used;
	return 0;
}

static void kw_list(struct mboxfmt_meta *m, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t b = i;
		while (i < n && v[i] != ' ' && v[i] != '\t' && v[i] != ',')
			i++;
		if (i > b)
			mboxfmt_kw_add(m, v + b, i - b);
	}
}

static int name_is(const char *name, size_t nlen, const char *want)
{
	return strlen(want) == nlen && str_ncasecmp_ascii(name, want, nlen) == 0;
}

int mboxfmt_status_header(struct mboxfmt_meta *m, const char *name, size_t nlen, const char *val,
			  size_t vlen)
{
	if (name_is(name, nlen, "Status")) {
		/* mutt: R read, O old (seen by the client, not new: no IMAP flag) */
		if (memchr(val, 'R', vlen))
			m->flags |= FL_SEEN;
	} else if (name_is(name, nlen, "X-Status")) {
		for (size_t i = 0; i < vlen; i++) {
			switch (val[i]) {
			case 'A':
				m->flags |= FL_ANSWERED;
				break;
			case 'F':
				m->flags |= FL_FLAGGED;
				break;
			case 'T':
				m->flags |= FL_DRAFT;
				break;
			case 'D':
				m->flags |= FL_DELETED;
				break;
			}
		}
	} else if (name_is(name, nlen, "X-Mozilla-Status")) {
		/* Thunderbird's nsMsgMessageFlags: 1 read, 2 replied, 4 marked,
		 * 8 expunged (deleted, awaiting compaction) */
		unsigned long v = 0;
		size_t i = 0, d = 0;
		while (i < vlen && (val[i] == ' ' || val[i] == '\t'))
			i++;
		for (; i < vlen && d < 8 && hex_value((unsigned char)val[i]) >= 0; i++, d++)
			v = v * 16 + (unsigned long)hex_value((unsigned char)val[i]);
		if (v & 1)
			m->flags |= FL_SEEN;
		if (v & 2)
			m->flags |= FL_ANSWERED;
		if (v & 4)
			m->flags |= FL_FLAGGED;
		if (v & 8)
			m->flags |= FL_DELETED;
	} else if (name_is(name, nlen, "X-Mozilla-Status2")) {
		/* new/ignored-thread bits: nothing IMAP keeps */
	} else if (name_is(name, nlen, "X-Mozilla-Keys") || name_is(name, nlen, "X-Keywords")) {
		kw_list(m, val, vlen);
	} else {
		return 0;
	}
	return 1;
}

/* ---- the From line's date ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int num(const char *p, size_t n, long *out)
{
	long v = 0;
	if (n == 0 || n > 9)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

int64_t mboxfmt_from_date(const char *line, size_t len)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *tok[12];
	size_t tl[12], nt = 0, i = 5;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len < 5)
		return 0;
	while (i < len && nt < ARRAY_LEN(tok)) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		size_t b = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		if (i > b) {
			tok[nt] = line + b;
			tl[nt++] = i - b;
		}
	}
	/* tok[0] is the sender; find "Mmm dd hh:mm[:ss]" after it */
	for (size_t t = 1; t + 2 < nt; t++) {
		const char *mp;
		long day, hh, mi, ss = 0, year = -1, zone = 0;
		if (tl[t] != 3)
			continue;
		for (mp = months; *mp; mp += 3)
			if (str_ncasecmp_ascii(mp, tok[t], 3) == 0)
				break;
		if (!*mp || num(tok[t + 1], tl[t + 1], &day) < 0 || day < 1 || day > 31)
			continue;
		const char *tm = tok[t + 2];
		size_t n = tl[t + 2];
		if (n < 5 || tm[2] != ':' || num(tm, 2, &hh) < 0 || num(tm + 3, 2, &mi) < 0)
			continue;
		if (n >= 8 && (tm[5] != ':' || num(tm + 6, 2, &ss) < 0))
			continue;
		for (size_t u = t + 3; u < nt; u++) {
			long v;
			if (tl[u] == 4 && num(tok[u], 4, &v) == 0)
				year = v;
			else if (tl[u] == 5 && (tok[u][0] == '+' || tok[u][0] == '-') &&
				 num(tok[u] + 1, 4, &v) == 0)
				zone = (tok[u][0] == '-' ? -1 : 1) *
				       ((v / 100) * 3600 + (v % 100) * 60);
		}
		if (year < 1970 || hh > 23 || mi > 59 || ss > 60)
			return 0;
		return days_from_civil(year, (unsigned)((mp - months) / 3 + 1), (unsigned)day) *
			   86400 +
		       hh * 3600 + mi * 60 + ss - zone;
	}
	return 0;
}

/* ---- the splitter ---- */

void mboxfmt_split_init(struct mboxfmt_split *s, const struct mboxfmt_hooks *h, uint64_t max_size)
{
	memset(s, 0, sizeof *s);
	s->h = *h;
	s->max_size = max_size;
	s->prev_empty = 1;
	s->last_nl = 1;
}

static int stop(struct mboxfmt_split *s)
{
	s->stopped = 1;
	return -1;
}

static int emit(struct mboxfmt_split *s, const char *p, size_t n, uint64_t off)
{
	const char *z;
	if (s->err || n == 0)
		return 0;
	if ((z = memchr(p, '\0', n))) {
		snprintf(s->errbuf, sizeof s->errbuf, "NUL byte at offset %llu",
			 (unsigned long long)(off + (uint64_t)(z - p)));
		s->err = s->errbuf;
		return 0;
	}
	s->size += n;
	if (s->max_size && s->size > s->max_size) {
		snprintf(s->errbuf, sizeof s->errbuf,
			 "larger than limits.message_size (%llu bytes)",
			 (unsigned long long)s->max_size);
		s->err = s->errbuf;
		return 0;
	}
	return s->h.data(s->h.arg, p, n) ? stop(s) : 0;
}

static int emit_held(struct mboxfmt_split *s)
{
	int h = s->held;
	s->held = 0;
	if (h == 1)
		return emit(s, "\n", 1, 0);
	if (h == 2)
		return emit(s, "\r\n", 2, 0);
	return 0;
}

static int msg_end(struct mboxfmt_split *s)
{
	s->held = 0; /* the separator line */
	if (!s->in_msg)
		return 0;
	s->in_msg = 0;
	if (!s->err && s->size == 0)
		s->err = "empty message";
	return s->h.end(s->h.arg, &s->meta, s->err) ? stop(s) : 0;
}

static int msg_begin(struct mboxfmt_split *s, uint64_t off, int64_t date, const char *err)
{
	s->in_msg = 1;
	s->in_hdr = !err;
	s->drop_hdr = 0;
	s->size = 0;
	s->err = err;
	s->meta.flags = 0;
	s->meta.nkw = 0;
	return s->h.begin(s->h.arg, off, date) ? stop(s) : 0;
}

static int is_empty_line(const char *p, size_t n)
{
	return (n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n');
}

/* One piece of a line: bol when it starts the line, nl when it ends it. */
static int piece(struct mboxfmt_split *s, const char *p, size_t n, int bol, int nl, uint64_t off)
{
	if (!bol) {
		if (!s->drop_line && emit(s, p, n, off) < 0)
			return -1;
		if (nl)
			s->drop_line = 0;
		return 0;
	}
	s->drop_line = 0;
	if (n >= 5 && memcmp(p, "From ", 5) == 0 && s->prev_empty) {
		if (msg_end(s) < 0 || msg_begin(s, off, mboxfmt_from_date(p, n), NULL) < 0)
			return -1;
		s->prev_empty = 0;
		s->drop_line = !nl;
		return 0;
	}
	if (!s->in_msg && msg_begin(s, off, 0,
				    "no \"From \" line where a message should start: "
				    "not an mbox") < 0)
		return -1;
	if (nl && is_empty_line(p, n)) {
		if (emit_held(s) < 0)
			return -1;
		s->held = n;
		s->in_hdr = 0;
		s->prev_empty = 1;
		return 0;
	}
	s->prev_empty = 0;
	if (emit_held(s) < 0)
		return -1;
	if (p[0] == '>') {
		size_t k = 1;
		while (k < n && p[k] == '>')
			k++;
		if (n - k >= 5 && memcmp(p + k, "From ", 5) == 0) {
			p++;
			n--;
			off++;
		}
	}
	if (s->in_hdr) {
		if (p[0] == ' ' || p[0] == '\t') {
			if (s->drop_hdr) {
				/* a folded status header: its keywords go on here */
				size_t vl = n;
				while (vl && (p[vl - 1] == '\n' || p[vl - 1] == '\r'))
					vl--;
				mboxfmt_status_header(&s->meta, s->hdr, s->hdrlen, p, vl);
				s->drop_line = !nl;
				return 0;
			}
		} else {
			const char *c = memchr(p, ':', n);
			s->drop_hdr = 0;
			if (c) {
				size_t nl_ = (size_t)(c - p), vl = n - nl_ - 1;
				const char *v = c + 1;
				while (nl_ && (p[nl_ - 1] == ' ' || p[nl_ - 1] == '\t'))
					nl_--;
				while (vl && (v[vl - 1] == '\n' || v[vl - 1] == '\r'))
					vl--;
				if (mboxfmt_status_header(&s->meta, p, nl_, v, vl)) {
					/* the names it knows are shorter than hdr */
					memcpy(s->hdr, p, nl_);
					s->hdrlen = nl_;
					s->drop_hdr = 1;
					s->drop_line = !nl;
					return 0;
				}
			}
		}
	}
	return emit(s, p, n, off);
}

static int flush_line(struct mboxfmt_split *s, int nl)
{
	int r = piece(s, s->line, s->len, !s->cont, nl, s->line_off);
	s->line_off += s->len;
	s->len = 0;
	s->cont = !nl;
	return r;
}

int mboxfmt_feed(struct mboxfmt_split *s, const void *buf, size_t n)
{
	const char *p = buf;
	if (s->stopped)
		return -1;
	while (n) {
		size_t room = sizeof s->line - s->len;
		size_t take = n < room ? n : room;
		const char *e = memchr(p, '\n', take);
		if (e)
			take = (size_t)(e - p) + 1;
		memcpy(s->line + s->len, p, take);
		s->len += take;
		s->off += take;
		p += take;
		n -= take;
		s->last_nl = e != NULL;
		if ((e || s->len == sizeof s->line) && flush_line(s, e != NULL) < 0)
			return -1;
	}
	return 0;
}

int mboxfmt_finish(struct mboxfmt_split *s)
{
	if (s->stopped)
		return -1;
	if (s->len && flush_line(s, 0) < 0)
		return -1;
	if (s->in_msg && !s->last_nl && !s->err)
		s->err = "truncated: the file does not end with a newline";
	return msg_end(s);
}

/* ---- Maildir names ---- */

int mboxfmt_maildir_flags(const char *name, uint32_t *flags, uint32_t *kwbits)
{
	const char *c = strchr(name, ':');
	*flags = 0;
	*kwbits = 0;
	if (!c)
		return 0;
	if (c[1] != '2' || c[2] != ',')
		return -1;
	for (c += 3; *c; c++) {
		if (*c >= 'a' && *c <= 'z') {
			*kwbits |= 1u << (*c - 'a');
			continue;
		}
		switch (*c) {
		case 'D':
			*flags |= FL_DRAFT;
			break;
		case 'F':
			*flags |= FL_FLAGGED;
			break;
		case 'R':
			*flags |= FL_ANSWERED;
			break;
		case 'S':
			*flags |= FL_SEEN;
			break;
		case 'T':
			*flags |= FL_DELETED;
			break;
		case 'P':
			break; /* passed (bounced/forwarded): no IMAP flag */
		default:
			return -1;
		}
	}
	return 0;
}

void mboxfmt_maildir_suffix(uint32_t flags, uint32_t kwbits, char *out)
{
	char *o = out;
	*o++ = ':';
	*o++ = '2';
	*o++ = ',';
	if (flags & FL_DRAFT)
		*o++ = 'D';
	if (flags & FL_FLAGGED)
		*o++ = 'F';
	if (flags & FL_ANSWERED)
		*o++ = 'R';
	if (flags & FL_SEEN)
		*o++ = 'S';
	if (flags & FL_DELETED)
		*o++ = 'T';
	for (int i = 0; i < 26; i++)
		if (kwbits & (1u << i))
			*o++ = (char)('a' + i);
	*o = '\0';
}

/* ---- the mboxrd escaper ---- */

void mboxfmt_esc_init(struct mboxfmt_esc *e, int (*out)(void *, const char *, size_t), void *arg)
{
	memset(e, 0, sizeof *e);
	e->bol = 1;
	e->out = out;
	e->arg = arg;
}

static int gts(struct mboxfmt_esc *e, size_t n)
{
	static const char g[64] =
	    ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";
	while (n) {
		size_t k = n < sizeof g ? n : sizeof g;
		if (e->out(e->arg, g, k))
			return -1;
		n -= k;
	}
	return 0;
}

static int pending_flush(struct mboxfmt_esc *e)
{
	int r = gts(e, e->gt) || (e->from && e->out(e->arg, "From ", e->from)) ? -1 : 0;
	e->gt = e->from = 0;
	return r;
}

int mboxfmt_esc_feed(struct mboxfmt_esc *e, const char *p, size_t n)
{
	while (n) {
		if (e->bol) {
			char c = *p;
			if (c == '>' && e->from == 0) {
				e->gt++;
				p++, n--;
				continue;
			}
			if (c == "From "[e->from]) {
				p++, n--;
				if (++e->from == 5) {
					e->from = 0;
					if (gts(e, e->gt + 1) || e->out(e->arg, "From ", 5))
						return -1;
					e->gt = 0;
					e->bol = 0;
				}
				continue;
			}
			if (pending_flush(e) < 0)
				return -1;
			e->bol = 0;
		}
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) + 1 : n;
		if (e->out(e->arg, p, k))
			return -1;
		p += k;
		n -= k;
		if (nl)
			e->bol = 1;
	}
	return 0;
}

int mboxfmt_esc_end(struct mboxfmt_esc *e)
{
	return pending_flush(e);
}
