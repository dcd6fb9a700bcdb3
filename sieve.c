/*
 * sieve.c — runs a compiled Sieve script (sieve_parse.c) on one message for
 * one recipient and returns the actions: RFC 5228 base, fileinto, reject,
 * ereject, copy, imap4flags, variables, body, relational, subaddress,
 * vacation (+ vacation-seconds), date/index, regex, environment, duplicate,
 * include (:personal), mailbox, envelope, encoded-character.
 *
 * Pure: the message, the envelope and the environment come in, actions go
 * out; storing, sending, and recording duplicate ids and vacation replies
 * are the caller's (delivery). Any run-time error or limit turns the result
 * into exactly one implicit keep, so a script never loses a message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "message.h"
#include "sieve_int.h"
#include "util.h"

struct hfield {
	char name[80];
	const char *val;
	size_t vlen;
	size_t start, end; /* the field's bytes, continuation lines and line end included */
};

struct var {
	char *name, *val;
};

struct run {
	const struct sieve_script *s; /* the script running now (include changes it) */
	const struct sieve_msg *m;
	const char *data; /* the message as tests see it: m->data, or owned after editheader */
	size_t len;
	char *owned;
	size_t hdr_end; /* where the empty line ending the header starts (or len) */
	int nedits;
	const struct sieve_env *env;
	struct sieve_result *res;
	struct hfield *h;
	size_t nh;
	const char *body;
	size_t bodylen;
	struct var *vars;
	size_t nvars;
	struct sv_groups gr;
	char *flags; /* the imap4flags internal variable: space-separated */
	int implicit_keep, stop, ret, steps, redirects, depth, vacation, reject_line, nincludes;
	char **included;
	size_t nincluded;
	int failed;
};

static int rerr(struct run *r, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rerr(struct run *r, int line, const char *fmt, ...)
{
	if (r->failed)
		return -1;
	r->failed = 1;
	int k = snprintf(r->res->err, sizeof r->res->err, "line %d: ", line);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->res->err + k, sizeof r->res->err - k, fmt, ap);
	va_end(ap);
	return -1;
}

static int step_n(struct run *r, int line, long n)
{
	r->steps += n;
	if (r->steps > SIEVE_STEPS_MAX)
		return rerr(r, line, "more than %d evaluation steps", SIEVE_STEPS_MAX);
	return 0;
}

static int step(struct run *r, int line)
{
	return step_n(r, line, 1);
}

static int has_ext(struct run *r, int x)
{
	return (r->s->ext >> x) & 1;
}

/* ---- the message's header ---- */
static void read_header(struct run *r)
{
	const char *d = r->data;
	size_t len = r->len, pos = 0, cap = 0;
	r->nh = 0;
	const char *name, *val;
	size_t nl, vl;
	while (mime_hdr_next(d, len, &pos, &name, &nl, &val, &vl)) {
		if (!nl || nl >= sizeof r->h[0].name)
			continue;
		if (r->nh == cap) {
			cap = cap ? cap * 2 : 32;
			r->h = xrealloc(r->h, cap * sizeof *r->h);
		}
		struct hfield *f = &r->h[r->nh++];
		size_t n = nl;
		while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
			n--;
		memcpy(f->name, name, n);
		f->name[n] = 0;
		f->val = val;
		f->vlen = vl;
		f->start = (size_t)(name - d);
		f->end = pos;
		if (r->nh >= 10000)
			break;
	}
	r->hdr_end = pos;
	/* the body starts after the first empty line */
	const char *b = NULL;
	if (len && d[0] == '\n')
		b = d + 1; /* an empty header */
	else if (len > 1 && d[0] == '\r' && d[1] == '\n')
		b = d + 2;
	for (size_t i = 0; !b && i + 1 < len; i++) {
		if (d[i] == '\n' &&
		    (d[i + 1] == '\n' || (d[i + 1] == '\r' && i + 2 < len && d[i + 2] == '\n'))) {
			b = d + i + (d[i + 1] == '\n' ? 2 : 3);
			break;
		}
	}
	r->body = b ? b : d + len;
	r->bodylen = (size_t)(d + len - r->body);
}

/* The value a header test sees: unfolded, RFC 2047 decoded, trimmed. */
static char *hvalue(const struct hfield *f)
{
	char *u = mime_unfold(f->val, f->vlen);
	char *d = mime_decode_words(u, strlen(u));
	free(u);
	char *t = xstrdup(str_trim(d)); /* str_trim skips leading blanks by pointer */
	free(d);
	return t;
}

/* ---- string lists ---- */
struct strs {
	char **v;
	size_t n, cap;
};

static void strs_add(struct strs *l, char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = s;
}

static void strs_free(struct strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* ---- variables (RFC 5229) ---- */
static struct var *var_find(struct run *r, const char *name)
{
	for (size_t i = 0; i < r->nvars; i++)
		if (!str_casecmp_ascii(r->vars[i].name, name))
			return &r->vars[i];
	return NULL;
}

static int var_set(struct run *r, int line, const char *name, const char *val)
{
	struct var *v = var_find(r, name);
	if (!v) {
		if (r->nvars == SIEVE_VARS_MAX)
			return rerr(r, line, "more than %d variables", SIEVE_VARS_MAX);
		r->vars = xrealloc(r->vars, (r->nvars + 1) * sizeof *r->vars);
		v = &r->vars[r->nvars++];
		v->name = xstrdup(name);
		v->val = NULL;
	}
	free(v->val);
	size_t n = strlen(val);
	v->val =
	    xstrndup(val, n > SIEVE_VAR_MAX ? SIEVE_VAR_MAX : n); /* RFC 5229 3: may truncate */
	return 0;
}

static int var_name_ok(const char *s, size_t n)
{
	if (!n)
		return 0;
	if (s[0] >= '0' && s[0] <= '9') {
		for (size_t i = 0; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return 0;
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (i && c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

/* Expand ${name} and ${N} (RFC 5229 3); without the variables extension
 * the string stays as written. Malloc'ed, at most SIEVE_STRING_MAX bytes. */
static char *expand(struct run *r, const char *s)
{
	if (!has_ext(r, SX_VARIABLES) || !strstr(s, "${"))
		return xstrdup(s);
	struct sbuf o = {.max = SIEVE_STRING_MAX};
	while (*s) {
		const char *e;
		if (s[0] == '$' && s[1] == '{' && (e = strchr(s + 2, '}')) &&
		    var_name_ok(s + 2, (size_t)(e - s - 2)) && e - s - 2 < 128) {
			char nm[130];
			size_t n = (size_t)(e - s - 2);
			memcpy(nm, s + 2, n);
			nm[n] = 0;
			const char *v = "";
			if (nm[0] >= '0' && nm[0] <= '9') {
				long k = strtol(nm, NULL, 10);
				if (k < SV_GROUPS && r->gr.g[k])
					v = r->gr.g[k];
			} else {
				struct var *vr = var_find(r, nm);
				if (vr)
					v = vr->val;
			}
			sbuf_puts(&o, v);
			s = e + 1;
		} else {
			sbuf_add(&o, s, 1);
			s++;
		}
	}
	sbuf_add(&o, "", 1);
	char *res = o.p ? o.p : xstrdup("");
	if (o.over)
		res[SIEVE_STRING_MAX - 1] = 0;
	return res;
}

static void expand_list(struct run *r, const struct sv_arg *a, struct strs *out)
{
	for (int i = 0; i < a->ns; i++)
		strs_add(out, expand(r, a->s[i]));
}

static char *tag_str(struct run *r, const struct sv_node *n, const char *tag)
{
	struct sv_arg *a = sv_tag(n, tag);
	return a && a->param ? expand(r, a->param->s[0]) : NULL;
}

/* ---- addresses ---- */
/* Split an address header's value into addr-specs (RFC 5322 3.4): the
 * part in <> when there is one, else the bare address; display names,
 * comments, group names dropped. Good enough for filtering, forgiving. */
static void parse_addrs(const char *v, struct strs *out)
{
	struct sbuf cur = {0}, ang = {0};
	int inq = 0, incomment = 0, inang = 0, hadang = 0;
	for (const char *p = v;; p++) {
		char c = *p;
		if (!c || (!inq && !incomment && !inang && (c == ',' || c == ';' || c == ':'))) {
			if (c == ':') { /* a group name: forget it */
				cur.len = 0;
				continue;
			}
			struct sbuf *src = hadang ? &ang : &cur;
			sbuf_add(src, "", 1);
			char *a = xstrdup(str_trim(src->p));
			/* bare text without '@' but with spaces is a phrase, not an address */
			if (*a && (hadang || !strchr(a, ' ')))
				strs_add(out, a);
			else
				free(a);
			cur.len = ang.len = 0;
			hadang = 0;
			if (!c)
				break;
			continue;
		}
		if (incomment) {
			if (c == '\\' && p[1])
				p++;
			else if (c == '(')
				incomment++;
			else if (c == ')')
				incomment--;
			continue;
		}
		if (inq) {
			if (c == '\\' && p[1])
				p++;
			else if (c == '"')
				inq = 0;
			if (inang)
				sbuf_add(&ang, p, 1);
			continue;
		}
		if (c == '(') {
			incomment = 1;
			continue;
		}
		if (c == '"') {
			inq = 1;
			continue;
		}
		if (c == '<') {
			inang = 1;
			hadang = 1;
			ang.len = 0;
			continue;
		}
		if (c == '>' && inang) {
			inang = 0;
			continue;
		}
		sbuf_add(inang ? &ang : &cur, p, 1);
	}
	sbuf_free(&cur);
	sbuf_free(&ang);
}

enum { AP_ALL, AP_LOCAL, AP_DOMAIN, AP_USER, AP_DETAIL };

static int addr_part_of(const struct sv_node *n)
{
	if (sv_tag(n, "localpart"))
		return AP_LOCAL;
	if (sv_tag(n, "domain"))
		return AP_DOMAIN;
	if (sv_tag(n, "user"))
		return AP_USER;
	if (sv_tag(n, "detail"))
		return AP_DETAIL;
	return AP_ALL;
}

/* The part of an address, or NULL when it has none (":detail" without a
 * '+', RFC 5233 4). Malloc'ed. */
static char *addr_part(const char *a, int part)
{
	const char *at = strrchr(a, '@');
	size_t ll = at ? (size_t)(at - a) : strlen(a);
	if (part == AP_ALL)
		return xstrdup(a);
	if (part == AP_DOMAIN)
		return xstrdup(at ? at + 1 : "");
	char *local = xstrndup(a, ll);
	if (part == AP_LOCAL)
		return local;
	char *plus = strchr(local, '+');
	char *res;
	if (part == AP_USER)
		res = plus ? xstrndup(local, (size_t)(plus - local)) : xstrdup(local);
	else
		res = plus ? xstrdup(plus + 1) : NULL;
	free(local);
	return res;
}

/* ---- matching a test's values against its keys ---- */
struct mopts {
	int mt, rel, cmp;
};

static int get_mopts(struct run *r, const struct sv_node *n, struct mopts *o)
{
	o->mt = MT_IS;
	o->cmp = CMP_CASEMAP;
	o->rel = REL_EQ;
	if (sv_tag(n, "contains"))
		o->mt = MT_CONTAINS;
	else if (sv_tag(n, "matches"))
		o->mt = MT_MATCHES;
	else if (sv_tag(n, "regex"))
		o->mt = MT_REGEX;
	const char *relnames[] = {"gt", "ge", "lt", "le", "eq", "ne"};
	for (int k = 0; k < 2; k++) {
		struct sv_arg *a = sv_tag(n, k ? "value" : "count");
		if (!a)
			continue;
		o->mt = k ? MT_VALUE : MT_COUNT;
		char *rs = expand(r, a->param->s[0]);
		int i = 0;
		while (i < 6 && str_casecmp_ascii(rs, relnames[i]))
			i++;
		free(rs);
		if (i == 6)
			return rerr(r, n->line, "unknown relational operator");
		o->rel = i;
	}
	char *c = tag_str(r, n, "comparator");
	if (c) {
		if (!strcmp(c, "i;octet"))
			o->cmp = CMP_OCTET;
		else if (!strcmp(c, "i;ascii-numeric"))
			o->cmp = CMP_NUMERIC;
		else if (strcmp(c, "i;ascii-casemap")) {
			free(c);
			return rerr(r, n->line, "unknown comparator");
		}
		free(c);
	}
	return 0;
}

/* 1 when some value matches some key (or, for :count, when the number of
 * values compares true with some key). Sets the match groups on success. */
static int match_values(struct run *r, const struct sv_node *n, const struct mopts *o,
			const struct strs *vals, size_t count_n)
{
	struct strs keys = {0};
	expand_list(r, n->pos[n->npos - 1], &keys);
	int res = 0;
	char e[200] = "";
	struct sv_groups g = {0};
	if (o->mt == MT_COUNT) {
		char num[32];
		snprintf(num, sizeof num, "%zu", count_n);
		for (size_t k = 0; k < keys.n && !res; k++)
			res = sv_match(MT_VALUE, o->rel, o->cmp, num, keys.v[k], NULL, e, sizeof e);
		goto out;
	}
	for (size_t i = 0; i < vals->n && res == 0; i++) {
		/* a comparison costs with the value's length: 1 step per KiB,
		 * a regex (slower per byte) 1 per 16 bytes */
		long cost = 1 + (long)(strlen(vals->v[i]) / (o->mt == MT_REGEX ? 16 : 1024));
		for (size_t k = 0; k < keys.n && res == 0; k++) {
			if (step_n(r, n->line, cost)) {
				res = -1;
				break;
			}
			res =
			    sv_match(o->mt, o->rel, o->cmp, vals->v[i], keys.v[k], &g, e, sizeof e);
		}
	}
	if (res == 1 && (o->mt == MT_MATCHES || o->mt == MT_REGEX)) {
		sv_groups_clear(&r->gr);
		r->gr = g;
		memset(&g, 0, sizeof g);
	}
out:
	sv_groups_clear(&g);
	strs_free(&keys);
	if (res < 0)
		return rerr(r, n->line, "%s", e[0] ? e : "match failed");
	return res;
}

/* The header fields named in list, in message order; :index/:last (RFC
 * 5260 6) keep only one of each name. Values decoded. */
static void header_values(struct run *r, const struct sv_node *n, const struct sv_arg *names,
			  int raw_addr, struct strs *out)
{
	struct sv_arg *ix = sv_tag(n, "index");
	int last = sv_tag(n, "last") != NULL;
	for (int k = 0; k < names->ns; k++) {
		char *nm = expand(r, names->s[k]);
		size_t cnt = 0, total = 0;
		for (size_t i = 0; i < r->nh; i++)
			total += !str_casecmp_ascii(r->h[i].name, nm);
		for (size_t i = 0; i < r->nh; i++) {
			if (str_casecmp_ascii(r->h[i].name, nm))
				continue;
			cnt++;
			if (ix) {
				size_t want = (size_t)ix->param->num;
				if (last)
					want = want <= total ? total - want + 1 : 0;
				if (cnt != want)
					continue;
			}
			if (raw_addr) {
				char *u = mime_unfold(r->h[i].val, r->h[i].vlen);
				strs_add(out, u);
			} else {
				strs_add(out, hvalue(&r->h[i]));
			}
		}
		free(nm);
	}
}

/* ---- dates (RFC 5260) ---- */
static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
				     "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* RFC 5322 3.3 date-time (with obsolete zones) to seconds and the zone's
 * offset in seconds; -1 if it is not a date. */
static int parse_date(const char *s, int64_t *t, int *off)
{
	const char *p = s;
	while (*p == ' ')
		p++;
	const char *comma = strchr(p, ',');
	if (comma && comma - p < 12)
		p = comma + 1;
	int day, year, hh, mm, ss = 0, n = 0;
	char mon[4], zone[16] = "";
	if (sscanf(p, " %d %3s %d %d:%d%n", &day, mon, &year, &hh, &mm, &n) != 5)
		return -1;
	p += n;
	if (*p == ':') {
		int k = 0;
		if (sscanf(p, ":%d%n", &ss, &k) != 1)
			return -1;
		p += k;
	}
	sscanf(p, " %15s", zone);
	int m = 0;
	while (m < 12 && str_casecmp_ascii(mon, months[m]))
		m++;
	if (m == 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	if (year < 50)
		year += 2000;
	else if (year < 1000)
		year += 1900;
	int o = 0;
	if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) >= 5) {
		int v = atoi(zone + 1);
		o = (v / 100) * 3600 + (v % 100) * 60;
		if (zone[0] == '-')
			o = -o;
	} else {
		static const struct {
			const char *z;
			int h;
		} zs[] = {{"UT", 0},   {"GMT", 0},  {"EST", -5}, {"EDT", -4}, {"CST", -6},
			  {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
		for (size_t i = 0; i < ARRAY_LEN(zs); i++)
			if (!str_casecmp_ascii(zone, zs[i].z))
				o = zs[i].h * 3600;
	}
	struct tm tm = {.tm_year = year - 1900,
			.tm_mon = m,
			.tm_mday = day,
			.tm_hour = hh,
			.tm_min = mm,
			.tm_sec = ss};
	*t = (int64_t)timegm(&tm) - o;
	*off = o;
	return 0;
}

static int parse_zone(const char *z, int *off)
{
	if ((z[0] != '+' && z[0] != '-') || strlen(z) != 5)
		return -1;
	for (int i = 1; i < 5; i++)
		if (z[i] < '0' || z[i] > '9')
			return -1;
	int v = atoi(z + 1);
	*off = (v / 100) * 3600 + (v % 100) * 60;
	if (z[0] == '-')
		*off = -*off;
	return 0;
}

static char *date_part(int64_t t, int off, const char *part)
{
	time_t lt = (time_t)(t + off);
	struct tm tm;
	gmtime_r(&lt, &tm);
	char b[96], z[16];
	int ao = (off < 0 ? -off : off) % (100 * 3600);
	snprintf(z, sizeof z, "%c%02d%02d", off < 0 ? '-' : '+', ao / 3600, ao / 60 % 60);
	if (!strcmp(part, "year"))
		snprintf(b, sizeof b, "%04d", tm.tm_year + 1900);
	else if (!strcmp(part, "month"))
		snprintf(b, sizeof b, "%02d", tm.tm_mon + 1);
	else if (!strcmp(part, "day"))
		snprintf(b, sizeof b, "%02d", tm.tm_mday);
	else if (!strcmp(part, "date"))
		snprintf(b, sizeof b, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday);
	else if (!strcmp(part, "julian")) {
		int64_t days =
		    (int64_t)lt >= 0 ? (int64_t)lt / 86400 : -((-(int64_t)lt + 86399) / 86400);
		snprintf(b, sizeof b, "%lld", (long long)(days + 40587));
	} else if (!strcmp(part, "hour"))
		snprintf(b, sizeof b, "%02d", tm.tm_hour);
	else if (!strcmp(part, "minute"))
		snprintf(b, sizeof b, "%02d", tm.tm_min);
	else if (!strcmp(part, "second"))
		snprintf(b, sizeof b, "%02d", tm.tm_sec);
	else if (!strcmp(part, "time"))
		snprintf(b, sizeof b, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	else if (!strcmp(part, "iso8601"))
		snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d%.3s:%s", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, z, z + 3);
	else if (!strcmp(part, "std11"))
		snprintf(b, sizeof b, "%s, %02d %c%s %04d %02d:%02d:%02d %s", wdays[tm.tm_wday],
			 tm.tm_mday, months[tm.tm_mon][0] - 32, months[tm.tm_mon] + 1,
			 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, z);
	else if (!strcmp(part, "zone"))
		snprintf(b, sizeof b, "%s", z);
	else if (!strcmp(part, "weekday"))
		snprintf(b, sizeof b, "%d", tm.tm_wday);
	else
		return NULL;
	return xstrdup(b);
}

static int test_date(struct run *r, const struct sv_node *n, const struct mopts *o)
{
	int cur = n->id == ST_CURRENTDATE;
	char *part = expand(r, n->pos[n->npos - 2]->s[0]);
	int zoff = 0, have_zone = 0;
	char *zs = tag_str(r, n, "zone");
	if (zs) {
		if (parse_zone(zs, &zoff)) {
			free(zs);
			free(part);
			return 0; /* RFC 5260 4.1: an invalid zone fails the test */
		}
		have_zone = 1;
		free(zs);
	}
	struct strs vals = {0}, dates = {0};
	if (cur) {
		strs_add(&dates, xstrdup("now"));
	} else {
		struct sv_arg hn = *n->pos[0];
		hn.ns = 1;
		header_values(r, n, &hn, 0, &dates);
	}
	for (size_t i = 0; i < dates.n; i++) {
		int64_t t;
		int off;
		if (cur) {
			t = r->env ? r->env->now : 0;
			off = 0;
		} else if (parse_date(dates.v[i], &t, &off)) {
			continue;
		}
		/* default zone: the original one only with :originalzone; else
		 * UTC, brev's "local" zone (documented in docs/sieve.md) */
		if (have_zone)
			off = zoff;
		else if (!sv_tag(n, "originalzone"))
			off = 0;
		char *v = date_part(t, off, part);
		if (v)
			strs_add(&vals, v);
	}
	int res = match_values(r, n, o, &vals, vals.n);
	strs_free(&vals);
	strs_free(&dates);
	free(part);
	return res;
}

/* ---- body (RFC 5173) ---- */
struct body_walk {
	struct run *r;
	struct strs *types; /* NULL: all leaf parts */
	struct strs *out;
	size_t total;
	const struct msg_src *src;
};

static int type_wanted(const struct body_walk *w, const struct mime_part *p)
{
	const char *t = p->type ? p->type : "text", *st = p->subtype ? p->subtype : "plain";
	for (size_t i = 0; i < w->types->n; i++) {
		const char *k = w->types->v[i];
		const char *sl = strchr(k, '/');
		if (!*k)
			return 1;
		if (!sl && !str_casecmp_ascii(k, t))
			return 1;
		if (sl && !str_ncasecmp_ascii(k, t, (size_t)(sl - k)) &&
		    strlen(t) == (size_t)(sl - k) && !str_casecmp_ascii(sl + 1, st))
			return 1;
	}
	return 0;
}

static void body_walk(struct body_walk *w, const struct mime_part *p)
{
	for (; p; p = p->next) {
		if (p->multipart || p->rfc822) {
			body_walk(w, p->children);
			continue;
		}
		if (!type_wanted(w, p) || w->total + p->body_size > SIEVE_BODY_MAX)
			continue;
		w->total += p->body_size;
		const char *raw = w->r->data + p->body_off;
		size_t n = (size_t)p->body_size;
		if (p->body_off + p->body_size > w->r->len)
			continue;
		struct sbuf dec = {0}, u = {0};
		mime_decode_body(&dec, raw, n, mime_cte(p));
		if (!p->type || !str_casecmp_ascii(p->type, "text"))
			mime_to_utf8(&u, dec.p ? dec.p : "", dec.len,
				     mime_param(p->params, p->nparams, "charset"));
		else
			sbuf_add(&u, dec.p ? dec.p : "", dec.len);
		sbuf_add(&u, "", 1);
		strs_add(w->out, xstrdup(u.p));
		sbuf_free(&dec);
		sbuf_free(&u);
	}
}

static int test_body(struct run *r, const struct sv_node *n, const struct mopts *o)
{
	struct strs vals = {0}, types = {0};
	if (sv_tag(n, "raw")) {
		size_t len = r->bodylen > SIEVE_BODY_MAX ? SIEVE_BODY_MAX : r->bodylen;
		strs_add(&vals, xstrndup(r->body, len));
	} else {
		struct sv_arg *c = sv_tag(n, "content");
		if (c)
			expand_list(r, c->param, &types);
		else
			strs_add(&types, xstrdup("text"));
		struct msg_mem mm;
		struct msg_src src;
		msg_src_buf(&src, &mm, r->data, r->len);
		struct mime_part *root = mime_parse(&src);
		struct body_walk w = {.r = r, .types = &types, .out = &vals, .src = &src};
		body_walk(&w, root);
		mime_free(&root);
	}
	int res = match_values(r, n, o, &vals, vals.n);
	strs_free(&vals);
	strs_free(&types);
	return res;
}

/* ---- flags (RFC 5232) ---- */
static int flag_has(const char *set, const char *f)
{
	size_t n = strlen(f);
	for (const char *p = set; *p;) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if ((size_t)(e - p) == n && n && !str_ncasecmp_ascii(p, f, n))
			return 1;
		p = e;
	}
	return 0;
}

static void split_flags(const char *s, struct strs *out)
{
	for (const char *p = s; *p;) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if (e > p)
			strs_add(out, xstrndup(p, (size_t)(e - p)));
		p = e;
	}
}

/* The new value of a flag variable after setflag/addflag/removeflag. */
static char *flags_apply(int id, const char *old, const struct strs *args)
{
	struct strs fl = {0}, add = {0};
	if (id != SC_SETFLAG)
		split_flags(old, &fl);
	for (size_t i = 0; i < args->n; i++)
		split_flags(args->v[i], &add);
	struct sbuf o = {0};
	for (size_t i = 0; i < fl.n; i++) {
		int removed = 0;
		if (id == SC_REMOVEFLAG)
			for (size_t k = 0; k < add.n; k++)
				removed |= !str_casecmp_ascii(fl.v[i], add.v[k]);
		if (!removed) {
			if (o.len)
				sbuf_add(&o, " ", 1);
			sbuf_puts(&o, fl.v[i]);
		}
	}
	if (id != SC_REMOVEFLAG)
		for (size_t k = 0; k < add.n; k++) {
			sbuf_add(&o, "", 1);
			o.len--;
			if (flag_has(o.p, add.v[k]))
				continue;
			if (o.len)
				sbuf_add(&o, " ", 1);
			sbuf_puts(&o, add.v[k]);
		}
	sbuf_add(&o, "", 1);
	strs_free(&fl);
	strs_free(&add);
	return o.p;
}

static void flags_to_action(const char *set, struct sieve_action *a)
{
	struct strs l = {0};
	split_flags(set, &l);
	a->flags = l.v;
	a->nflags = l.n;
}

/* ---- actions ---- */
static struct sieve_action *add_action(struct run *r, int line, enum sieve_kind k)
{
	struct sieve_result *res = r->res;
	if (res->n == SIEVE_ACTIONS_MAX) {
		rerr(r, line, "more than %d actions", SIEVE_ACTIONS_MAX);
		return NULL;
	}
	res->a = xrealloc(res->a, (res->n + 1) * sizeof *res->a);
	struct sieve_action *a = &res->a[res->n++];
	memset(a, 0, sizeof *a);
	a->kind = k;
	return a;
}

static int is_inbox(const char *m)
{
	return !str_casecmp_ascii(m, "INBOX");
}

/* RFC 5228 4.2/2.10.3: storing twice into the same mailbox (keep counts as
 * INBOX) is one action; its flags are merged. */
static struct sieve_action *find_store(struct run *r, const char *mbox)
{
	for (size_t i = 0; i < r->res->n; i++) {
		struct sieve_action *a = &r->res->a[i];
		if ((a->kind == SIEVE_KEEP && is_inbox(mbox)) ||
		    (a->kind == SIEVE_FILEINTO && !strcmp(a->mailbox, mbox)) ||
		    (a->kind == SIEVE_FILEINTO && is_inbox(a->mailbox) && is_inbox(mbox)))
			return a;
	}
	return NULL;
}

static int do_store(struct run *r, int line, const char *mbox, const char *flags, int create,
		    int copy)
{
	struct sieve_action *a = find_store(r, mbox ? mbox : "INBOX");
	if (a) {
		for (size_t i = 0; i < a->nflags; i++)
			free(a->flags[i]);
		free(a->flags);
		a->flags = NULL;
		a->nflags = 0;
		flags_to_action(flags, a);
		a->create |= create;
		return 0;
	}
	if (!(a = add_action(r, line, mbox ? SIEVE_FILEINTO : SIEVE_KEEP)))
		return -1;
	a->mailbox = mbox ? xstrdup(mbox) : NULL;
	a->create = create;
	a->copy = copy;
	flags_to_action(flags, a);
	return 0;
}

static int valid_mailbox(const char *m)
{
	if (!*m || strlen(m) > 512)
		return 0;
	for (const unsigned char *p = (const unsigned char *)m; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int valid_redirect(const char *a)
{
	const char *at = strrchr(a, '@');
	if (!at || at == a || !at[1] || strlen(a) > 254)
		return 0;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',')
			return 0;
	return 1;
}

/* ---- vacation (RFC 5230, RFC 3834) ---- */
static int addr_eq(const char *a, const char *b)
{
	return !str_casecmp_ascii(a, b);
}

static char *strip_detail(const char *a)
{
	const char *plus = strchr(a, '+'), *at = strrchr(a, '@');
	if (!plus || !at || plus > at)
		return xstrdup(a);
	struct sbuf o = {0};
	sbuf_add(&o, a, (size_t)(plus - a));
	sbuf_puts(&o, at);
	sbuf_add(&o, "", 1);
	return o.p;
}

/* RFC 5230 4.5 / RFC 3834 2: is this message one that may be answered? */
static int vacation_allowed(struct run *r, const struct strs *mine)
{
	const char *from = r->m->env_from ? r->m->env_from : "";
	if (!*from)
		return 0;
	for (size_t i = 0; i < r->nh; i++) {
		const char *nm = r->h[i].name;
		if (!str_ncasecmp_ascii(nm, "list-", 5))
			return 0;
		if (!str_casecmp_ascii(nm, "auto-submitted") ||
		    !str_casecmp_ascii(nm, "precedence")) {
			char *v = hvalue(&r->h[i]);
			char *sp = strpbrk(v, " ;\t");
			if (sp)
				*sp = 0;
			int bad = nm[0] == 'a' || nm[0] == 'A' ? str_casecmp_ascii(v, "no") != 0
							       : (!str_casecmp_ascii(v, "bulk") ||
								  !str_casecmp_ascii(v, "list") ||
								  !str_casecmp_ascii(v, "junk"));
			free(v);
			if (bad)
				return 0;
		}
	}
	const char *at = strrchr(from, '@');
	size_t ll = at ? (size_t)(at - from) : strlen(from);
	char *local = xstrndup(from, ll);
	int bot = !str_casecmp_ascii(local, "mailer-daemon") ||
		  !str_casecmp_ascii(local, "listserv") || !str_casecmp_ascii(local, "majordomo") ||
		  str_has_prefix_ci(local, "owner-") ||
		  (ll >= 8 && !str_casecmp_ascii(local + ll - 8, "-request"));
	free(local);
	if (bot)
		return 0;
	for (size_t k = 0; k < mine->n; k++)
		if (addr_eq(from, mine->v[k]))
			return 0; /* never answer oneself */
	static const char *const rh[] = {"to", "cc", "bcc", "resent-to", "resent-cc"};
	int found = 0;
	for (size_t i = 0; i < r->nh && !found; i++) {
		size_t j = 0;
		while (j < ARRAY_LEN(rh) && str_casecmp_ascii(r->h[i].name, rh[j]))
			j++;
		if (j == ARRAY_LEN(rh))
			continue;
		struct strs al = {0};
		char *u = mime_unfold(r->h[i].val, r->h[i].vlen);
		parse_addrs(u, &al);
		free(u);
		for (size_t a = 0; a < al.n && !found; a++)
			for (size_t k = 0; k < mine->n && !found; k++)
				found = addr_eq(al.v[a], mine->v[k]);
		strs_free(&al);
	}
	return found;
}

static int do_vacation(struct run *r, const struct sv_node *n)
{
	if (r->vacation++)
		return rerr(r, n->line, "more than one vacation action");
	struct strs mine = {0};
	if (r->m->env_to && *r->m->env_to) {
		strs_add(&mine, xstrdup(r->m->env_to));
		strs_add(&mine, strip_detail(r->m->env_to));
	}
	if (r->m->user && *r->m->user)
		strs_add(&mine, xstrdup(r->m->user));
	struct sv_arg *ad = sv_tag(n, "addresses");
	if (ad)
		expand_list(r, ad->param, &mine);
	int ok = vacation_allowed(r, &mine);
	strs_free(&mine);
	if (!ok)
		return 0;
	struct sieve_action *a = add_action(r, n->line, SIEVE_VACATION);
	if (!a)
		return -1;
	a->vac_to = xstrdup(r->m->env_from);
	a->vac_reason = expand(r, n->pos[0]->s[0]);
	a->vac_from = tag_str(r, n, "from");
	char *subj = tag_str(r, n, "subject");
	a->vac_mime = sv_tag(n, "mime") != NULL;
	char *handle = tag_str(r, n, "handle");
	if (!handle) { /* RFC 5230 4.2: derived from the arguments */
		struct sbuf h = {0};
		sbuf_printf(&h, "%s%s%s%s", a->vac_reason, subj ? subj : "<default-subject>",
			    a->vac_from ? a->vac_from : "<default-from>",
			    a->vac_mime ? "<MIME>" : "<NO-MIME>");
		sbuf_add(&h, "", 1);
		handle = h.p;
	}
	a->vac_handle = handle;
	if (!subj) { /* RFC 5230 5.2: "Auto:" and the original subject */
		char *orig = NULL;
		for (size_t i = 0; i < r->nh && !orig; i++)
			if (!str_casecmp_ascii(r->h[i].name, "subject"))
				orig = hvalue(&r->h[i]);
		struct sbuf s = {0};
		if (orig && *orig)
			sbuf_printf(&s, "Auto: %s", orig);
		else
			sbuf_puts(&s, "Automated reply");
		sbuf_add(&s, "", 1);
		subj = s.p;
		free(orig);
	}
	a->vac_subject = subj;
	struct sv_arg *days = sv_tag(n, "days"), *secs = sv_tag(n, "seconds");
	if (secs)
		a->vac_seconds = secs->param->num;
	else
		a->vac_seconds = (days ? (days->param->num < 1 ? 1 : days->param->num) : 7) * 86400;
	return 0;
}

/* ---- duplicate (RFC 7352) ---- */
static int test_duplicate(struct run *r, const struct sv_node *n)
{
	char *id = tag_str(r, n, "uniqueid");
	if (!id) {
		char *hn = tag_str(r, n, "header");
		const char *want = hn ? hn : "message-id";
		for (size_t i = 0; i < r->nh && !id; i++)
			if (!str_casecmp_ascii(r->h[i].name, want))
				id = hvalue(&r->h[i]);
		free(hn);
		if (!id)
			return 0; /* RFC 7352 3.1: no value, no duplicate */
	}
	char *handle = tag_str(r, n, "handle");
	struct sbuf k = {0};
	sbuf_printf(&k, "%s\n%s", handle ? handle : "", id);
	sbuf_add(&k, "", 1);
	free(handle);
	free(id);
	struct sv_arg *sa = sv_tag(n, "seconds");
	int64_t secs = sa ? sa->param->num : 14 * 86400;
	int seen = r->env && r->env->duplicate_check
		       ? r->env->duplicate_check(r->env->ctx, k.p, secs) == 1
		       : 0;
	struct sieve_result *res = r->res;
	if (res->ndup < 16) {
		res->dup_ids = xrealloc(res->dup_ids, (res->ndup + 1) * sizeof *res->dup_ids);
		res->dup_secs = xrealloc(res->dup_secs, (res->ndup + 1) * sizeof *res->dup_secs);
		res->dup_ids[res->ndup] = k.p;
		res->dup_secs[res->ndup++] = secs;
	} else {
		free(k.p);
	}
	return seen;
}

/* ---- tests ---- */
static int test(struct run *r, const struct sv_node *n);

static int test_header_like(struct run *r, const struct sv_node *n, const struct mopts *o)
{
	struct strs vals = {0};
	size_t count = 0;
	if (n->id == ST_HEADER) {
		header_values(r, n, n->pos[0], 0, &vals);
		count = vals.n;
	} else {
		struct strs addrs = {0};
		int part = addr_part_of(n);
		if (n->id == ST_ADDRESS) {
			struct strs raw = {0};
			header_values(r, n, n->pos[0], 1, &raw);
			for (size_t i = 0; i < raw.n; i++)
				parse_addrs(raw.v[i], &addrs);
			strs_free(&raw);
		} else {
			struct strs names = {0};
			expand_list(r, n->pos[0], &names);
			for (size_t i = 0; i < names.n; i++) {
				const char *v = NULL;
				if (!str_casecmp_ascii(names.v[i], "from"))
					v = r->m->env_from;
				else if (!str_casecmp_ascii(names.v[i], "to"))
					v = r->m->env_to;
				if (v)
					strs_add(&addrs, xstrdup(v));
			}
			strs_free(&names);
		}
		for (size_t i = 0; i < addrs.n; i++) {
			char *p = addr_part(addrs.v[i], part);
			if (p)
				strs_add(&vals, p);
		}
		count = addrs.n;
		strs_free(&addrs);
	}
	int res = match_values(r, n, o, &vals, count);
	strs_free(&vals);
	return res;
}

static const char *env_item(struct run *r, const char *name, char *buf, size_t cap)
{
	const struct sieve_env *e = r->env;
	if (!str_casecmp_ascii(name, "domain"))
		return e && e->domain ? e->domain : NULL;
	if (!str_casecmp_ascii(name, "host"))
		return e && e->host ? e->host : NULL;
	if (!str_casecmp_ascii(name, "location"))
		return "MDA";
	if (!str_casecmp_ascii(name, "phase"))
		return "during";
	if (!str_casecmp_ascii(name, "name"))
		return "brev";
	if (!str_casecmp_ascii(name, "version")) {
		snprintf(buf, cap, "1");
		return buf;
	}
	return NULL;
}

static int test(struct run *r, const struct sv_node *n)
{
	if (r->failed || step(r, n->line))
		return -1;
	struct mopts o;
	int res = 0;
	switch (n->id) {
	case ST_TRUE:
		return 1;
	case ST_FALSE:
		return 0;
	case ST_NOT:
		res = test(r, n->tests);
		return res < 0 ? -1 : !res;
	case ST_ALLOF:
	case ST_ANYOF:
		for (const struct sv_node *t = n->tests; t; t = t->next) {
			res = test(r, t);
			if (res < 0)
				return -1;
			if (res != (n->id == ST_ALLOF))
				return res;
		}
		return n->id == ST_ALLOF;
	case ST_SIZE: {
		int64_t lim = n->pos[0]->num;
		return sv_tag(n, "over") ? (int64_t)r->len > lim : (int64_t)r->len < lim;
	}
	case ST_EXISTS: {
		struct strs names = {0};
		expand_list(r, n->pos[0], &names);
		res = 1;
		for (size_t k = 0; k < names.n && res; k++) {
			int f = 0;
			for (size_t i = 0; i < r->nh && !f; i++)
				f = !str_casecmp_ascii(r->h[i].name, names.v[k]);
			res = f;
		}
		strs_free(&names);
		return res;
	}
	case ST_MAILBOXEXISTS: {
		struct strs names = {0};
		expand_list(r, n->pos[0], &names);
		res = 1;
		for (size_t k = 0; k < names.n && res; k++)
			res = r->env && r->env->mailbox_exists &&
			      r->env->mailbox_exists(r->env->ctx, names.v[k]) == 1;
		strs_free(&names);
		return res;
	}
	case ST_DUPLICATE:
		return test_duplicate(r, n);
	default:
		break;
	}
	if (get_mopts(r, n, &o))
		return -1;
	switch (n->id) {
	case ST_HEADER:
	case ST_ADDRESS:
	case ST_ENVELOPE:
		return test_header_like(r, n, &o);
	case ST_BODY:
		return test_body(r, n, &o);
	case ST_DATE:
	case ST_CURRENTDATE:
		return test_date(r, n, &o);
	case ST_STRING: {
		struct strs vals = {0};
		expand_list(r, n->pos[0], &vals);
		size_t cnt = 0;
		for (size_t i = 0; i < vals.n; i++)
			cnt += vals.v[i][0] != 0; /* RFC 5229 5: :count counts non-empty */
		res = match_values(r, n, &o, &vals, cnt);
		strs_free(&vals);
		return res;
	}
	case ST_HASFLAG: {
		struct strs vals = {0};
		if (n->pos[0]) {
			struct strs names = {0};
			expand_list(r, n->pos[0], &names);
			for (size_t i = 0; i < names.n; i++) {
				struct var *v = var_find(r, names.v[i]);
				if (v)
					split_flags(v->val, &vals);
			}
			strs_free(&names);
		} else {
			split_flags(r->flags, &vals);
		}
		res = match_values(r, n, &o, &vals, vals.n);
		strs_free(&vals);
		return res;
	}
	case ST_ENVIRONMENT: {
		char *name = expand(r, n->pos[0]->s[0]);
		char buf[32];
		const char *v = env_item(r, name, buf, sizeof buf);
		free(name);
		if (!v)
			return 0;
		struct strs vals = {0};
		strs_add(&vals, xstrdup(v));
		res = match_values(r, n, &o, &vals, 1);
		strs_free(&vals);
		return res;
	}
	}
	return rerr(r, n->line, "unknown test");
}

/* ---- commands ---- */
static int run_block(struct run *r, const struct sv_node *n);

/* RFC 5229 4.1: modifiers apply from highest precedence down. */
static char *set_modify(const struct sv_node *n, char *v)
{
	if (sv_tag(n, "lower"))
		for (char *p = v; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (sv_tag(n, "upper"))
		for (char *p = v; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	if (sv_tag(n, "lowerfirst") && *v >= 'A' && *v <= 'Z')
		*v = (char)(*v + 32);
	if (sv_tag(n, "upperfirst") && *v >= 'a' && *v <= 'z')
		*v = (char)(*v - 32);
	if (sv_tag(n, "quotewildcard")) {
		struct sbuf o = {0};
		for (char *p = v; *p; p++) {
			if (*p == '*' || *p == '?' || *p == '\\')
				sbuf_add(&o, "\\", 1);
			sbuf_add(&o, p, 1);
		}
		sbuf_add(&o, "", 1);
		free(v);
		v = o.p;
	}
	if (sv_tag(n, "length")) {
		size_t cnt = 0; /* characters, not bytes */
		for (char *p = v; *p; p++)
			cnt += ((unsigned char)*p & 0xc0) != 0x80;
		char b[32];
		snprintf(b, sizeof b, "%zu", cnt);
		free(v);
		v = xstrdup(b);
	}
	return v;
}

static int cmd_include(struct run *r, const struct sv_node *n)
{
	char *name = expand(r, n->pos[0]->s[0]);
	int rc = 0;
	if (sv_tag(n, "global")) {
		rc = rerr(r, n->line, "include :global is not supported");
		goto out;
	}
	if (sv_tag(n, "once"))
		for (size_t i = 0; i < r->nincluded; i++)
			if (!strcmp(r->included[i], name))
				goto out;
	if (++r->nincludes > SIEVE_INCLUDES_MAX) { /* each one compiles a script */
		rc = rerr(r, n->line, "more than %d includes in one run", SIEVE_INCLUDES_MAX);
		goto out;
	}
	if (r->depth >= SIEVE_INCLUDE_DEPTH_MAX) {
		rc = rerr(r, n->line, "include nested deeper than %d", SIEVE_INCLUDE_DEPTH_MAX);
		goto out;
	}
	size_t len = 0;
	const char *src = r->env && r->env->script ? r->env->script(r->env->ctx, name, &len) : NULL;
	if (!src) {
		if (!sv_tag(n, "optional"))
			rc = rerr(r, n->line, "include: no script \"%s\"", name);
		goto out;
	}
	if (r->nincluded < 64) {
		r->included = xrealloc(r->included, (r->nincluded + 1) * sizeof *r->included);
		r->included[r->nincluded++] = xstrdup(name);
	}
	struct sieve_script *sub;
	char e[200];
	if (sieve_compile(src, len, &sub, e, sizeof e)) {
		rc = rerr(r, n->line, "include \"%s\": %s", name, e);
		goto out;
	}
	/* RFC 6609 3: the included script has its own variables */
	const struct sieve_script *saved = r->s;
	struct var *sv = r->vars;
	size_t snv = r->nvars;
	struct sv_groups sg = r->gr;
	r->vars = NULL;
	r->nvars = 0;
	memset(&r->gr, 0, sizeof r->gr);
	r->s = sub;
	r->depth++;
	rc = run_block(r, sub->cmds);
	r->depth--;
	r->ret = 0;
	for (size_t i = 0; i < r->nvars; i++) {
		free(r->vars[i].name);
		free(r->vars[i].val);
	}
	free(r->vars);
	sv_groups_clear(&r->gr);
	r->vars = sv;
	r->nvars = snv;
	r->gr = sg;
	r->s = saved;
	sieve_free(sub);
out:
	free(name);
	return rc;
}

/* ---- editheader (RFC 5293) ---- */
static int field_name_ok(const char *s)
{
	if (!*s || strlen(s) > 76)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126 || *s == ':')
			return 0;
	return 1;
}

/* RFC 5293 7: a script never removes the trace fields. */
static int protected_field(const char *name)
{
	return !str_casecmp_ascii(name, "received") || !str_casecmp_ascii(name, "auto-submitted");
}

/* Replace bytes [a, b) of the message with ins; headers re-read. */
static void edit_splice(struct run *r, size_t a, size_t b, const char *ins, size_t n)
{
	char *nd = xmalloc(r->len - (b - a) + n + 1);
	memcpy(nd, r->data, a);
	memcpy(nd + a, ins, n);
	memcpy(nd + a + n, r->data + b, r->len - b);
	r->len = r->len - (b - a) + n;
	nd[r->len] = 0;
	free(r->owned);
	r->owned = nd;
	r->data = nd;
	read_header(r);
}

static void b64_encode(struct sbuf *o, const unsigned char *s, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
			     (i + 2 < n ? s[i + 2] : 0);
		char q[4] = {t[v >> 18], t[v >> 12 & 63], i + 1 < n ? t[v >> 6 & 63] : '=',
			     i + 2 < n ? t[v & 63] : '='};
		sbuf_add(o, q, 4);
	}
}

static int cmd_addheader(struct run *r, const struct sv_node *n)
{
	char *name = expand(r, n->pos[0]->s[0]), *val = expand(r, n->pos[1]->s[0]);
	int rc = 0;
	if (!field_name_ok(name)) {
		rc = rerr(r, n->line, "addheader: invalid field name");
		goto out;
	}
	struct sbuf f = {0};
	sbuf_printf(&f, "%s: ", name);
	int ascii = 1;
	for (char *p = val; *p; p++) {
		if (*p == '\r' || *p == '\n')
			*p = ' '; /* one line: a value cannot start a new field */
		ascii &= (unsigned char)*p < 0x80;
	}
	if (ascii) { /* RFC 5293 5: non-ASCII goes in as RFC 2047 words */
		sbuf_puts(&f, val);
	} else {
		sbuf_puts(&f, "=?UTF-8?B?");
		b64_encode(&f, (const unsigned char *)val, strlen(val));
		sbuf_puts(&f, "?=");
	}
	sbuf_puts(&f, "\r\n");
	size_t at = 0;
	if (sv_tag(n, "last")) {
		at = r->hdr_end;
		if (at && r->data[at - 1] != '\n') { /* a header without a final line end */
			edit_splice(r, at, at, "\r\n", 2);
			at += 2;
		}
	}
	edit_splice(r, at, at, f.p, f.len);
	sbuf_free(&f);
out:
	free(name);
	free(val);
	return rc;
}

static int cmd_deleteheader(struct run *r, const struct sv_node *n)
{
	char *name = expand(r, n->pos[0]->s[0]);
	struct mopts o;
	int rc = get_mopts(r, n, &o);
	if (rc || protected_field(name))
		goto out;
	struct sv_arg *ix = sv_tag(n, "index");
	int last = sv_tag(n, "last") != NULL;
	size_t total = 0, cnt = 0;
	for (size_t i = 0; i < r->nh; i++)
		total += !str_casecmp_ascii(r->h[i].name, name);
	size_t want = 0;
	if (ix) {
		want = (size_t)ix->param->num;
		if (last)
			want = want <= total ? total - want + 1 : 0;
		if (!want)
			goto out;
	}
	/* from the last field back, so that earlier offsets stay valid */
	cnt = total + 1;
	for (size_t i = r->nh; i-- > 0;) {
		if (str_casecmp_ascii(r->h[i].name, name))
			continue;
		cnt--;
		if (want && cnt != want)
			continue;
		if (n->npos == 2) {
			struct strs vals = {0};
			strs_add(&vals, hvalue(&r->h[i]));
			int m = match_values(r, n, &o, &vals, 1);
			strs_free(&vals);
			if (m < 0) {
				rc = -1;
				goto out;
			}
			if (!m)
				continue;
		}
		size_t a = r->h[i].start, b = r->h[i].end;
		edit_splice(r, a, b, "", 0);
		/* read_header rebuilt r->h with fewer fields; the ones before
		 * i are unchanged */
	}
out:
	free(name);
	return rc;
}

static int command(struct run *r, const struct sv_node *n)
{
	if (step(r, n->line))
		return -1;
	switch (n->id) {
	case SC_REQUIRE:
		return 0;
	case SC_STOP:
		r->stop = 1;
		return 0;
	case SC_RETURN:
		r->ret = 1;
		return 0;
	case SC_DISCARD:
		r->implicit_keep = 0;
		return 0;
	case SC_KEEP:
	case SC_FILEINTO: {
		char *mbox = n->id == SC_FILEINTO ? expand(r, n->pos[0]->s[0]) : NULL;
		if (mbox && !valid_mailbox(mbox)) {
			free(mbox);
			return rerr(r, n->line, "fileinto: invalid mailbox name");
		}
		struct sv_arg *fa = sv_tag(n, "flags");
		char *flags;
		if (fa) {
			struct strs l = {0};
			expand_list(r, fa->param, &l);
			flags = flags_apply(SC_SETFLAG, "", &l);
			strs_free(&l);
		} else {
			flags = xstrdup(r->flags);
		}
		int copy = sv_tag(n, "copy") != NULL;
		int rc = do_store(r, n->line, mbox, flags, sv_tag(n, "create") != NULL, copy);
		if (!copy)
			r->implicit_keep = 0;
		free(flags);
		free(mbox);
		return rc;
	}
	case SC_REDIRECT: {
		char *addr = expand(r, n->pos[0]->s[0]);
		int copy = sv_tag(n, "copy") != NULL;
		if (!valid_redirect(addr)) {
			free(addr);
			return rerr(r, n->line, "redirect: invalid address");
		}
		if (!copy)
			r->implicit_keep = 0;
		for (size_t i = 0; i < r->res->n; i++)
			if (r->res->a[i].kind == SIEVE_REDIRECT &&
			    addr_eq(r->res->a[i].address, addr)) {
				free(addr);
				return 0;
			}
		if (++r->redirects > SIEVE_REDIRECTS_MAX) {
			free(addr);
			return rerr(r, n->line, "more than %d redirects", SIEVE_REDIRECTS_MAX);
		}
		struct sieve_action *a = add_action(r, n->line, SIEVE_REDIRECT);
		if (!a) {
			free(addr);
			return -1;
		}
		a->address = addr;
		a->copy = copy;
		return 0;
	}
	case SC_REJECT:
	case SC_EREJECT: {
		for (size_t i = 0; i < r->res->n; i++)
			if (r->res->a[i].kind == SIEVE_REJECT || r->res->a[i].kind == SIEVE_EREJECT)
				return rerr(r, n->line, "more than one reject");
		struct sieve_action *a =
		    add_action(r, n->line, n->id == SC_REJECT ? SIEVE_REJECT : SIEVE_EREJECT);
		if (!a)
			return -1;
		a->text = expand(r, n->pos[0]->s[0]);
		r->implicit_keep = 0;
		r->reject_line = n->line;
		return 0;
	}
	case SC_SETFLAG:
	case SC_ADDFLAG:
	case SC_REMOVEFLAG: {
		struct strs l = {0};
		expand_list(r, n->pos[1], &l);
		int rc = 0;
		if (n->pos[0]) {
			char *vn = expand(r, n->pos[0]->s[0]);
			struct var *v = var_find(r, vn);
			char *nv = flags_apply(n->id, v ? v->val : "", &l);
			rc = var_set(r, n->line, vn, nv);
			free(nv);
			free(vn);
		} else {
			char *nv = flags_apply(n->id, r->flags, &l);
			free(r->flags);
			r->flags = nv;
		}
		strs_free(&l);
		return rc;
	}
	case SC_SET: {
		char *v = set_modify(n, expand(r, n->pos[1]->s[0]));
		int rc = var_set(r, n->line, n->pos[0]->s[0], v);
		free(v);
		return rc;
	}
	case SC_VACATION:
		return do_vacation(r, n);
	case SC_INCLUDE:
		return cmd_include(r, n);
	case SC_ADDHEADER:
	case SC_DELETEHEADER:
		if (++r->nedits > SIEVE_EDITS_MAX)
			return rerr(r, n->line, "more than %d header edits", SIEVE_EDITS_MAX);
		return n->id == SC_ADDHEADER ? cmd_addheader(r, n) : cmd_deleteheader(r, n);
	}
	return rerr(r, n->line, "unknown command");
}

static int run_block(struct run *r, const struct sv_node *n)
{
	int taken = 0; /* an if/elsif branch of the current chain ran */
	for (; n && !r->stop && !r->ret && !r->failed; n = n->next) {
		if (n->id == SC_IF || n->id == SC_ELSIF) {
			if (n->id == SC_IF)
				taken = 0;
			if (taken)
				continue;
			int t = test(r, n->tests);
			if (t < 0)
				return -1;
			if (t) {
				taken = 1;
				if (run_block(r, n->block))
					return -1;
			}
			continue;
		}
		if (n->id == SC_ELSE) {
			if (!taken && run_block(r, n->block))
				return -1;
			taken = 0;
			continue;
		}
		if (command(r, n))
			return -1;
	}
	return r->failed ? -1 : 0;
}

/* RFC 5429 2.1: reject/ereject cannot go with delivering the message
 * (keep, fileinto) or with vacation. */
static int check_conflicts(struct run *r)
{
	int rej = 0, store = 0, vac = 0;
	for (size_t i = 0; i < r->res->n; i++) {
		enum sieve_kind k = r->res->a[i].kind;
		rej |= k == SIEVE_REJECT || k == SIEVE_EREJECT;
		store |= k == SIEVE_KEEP || k == SIEVE_FILEINTO;
		vac |= k == SIEVE_VACATION;
	}
	if (rej && store)
		return rerr(r, r->reject_line, "reject conflicts with keep/fileinto");
	if (rej && vac)
		return rerr(r, r->reject_line, "reject conflicts with vacation");
	return 0;
}

int sieve_run(const struct sieve_script *s, const struct sieve_msg *m, const struct sieve_env *env,
	      struct sieve_result *out)
{
	memset(out, 0, sizeof *out);
	struct run r = {.s = s,
			.m = m,
			.env = env,
			.res = out,
			.implicit_keep = 1,
			.data = m->data,
			.len = m->len};
	r.flags = xstrdup("");
	read_header(&r);
	int rc = run_block(&r, s->cmds);
	if (!rc && r.implicit_keep)
		rc = do_store(&r, 0, NULL, r.flags, 0, 0);
	if (!rc)
		rc = check_conflicts(&r);
	if (!rc && r.owned) {
		out->edited = r.owned;
		out->edited_len = r.len;
		r.owned = NULL;
	}
	free(r.owned);
	free(r.flags);
	free(r.h);
	for (size_t i = 0; i < r.nvars; i++) {
		free(r.vars[i].name);
		free(r.vars[i].val);
	}
	free(r.vars);
	for (size_t i = 0; i < r.nincluded; i++)
		free(r.included[i]);
	free(r.included);
	sv_groups_clear(&r.gr);
	if (rc) {
		char err[sizeof out->err];
		memcpy(err, out->err, sizeof err);
		if (!err[0])
			snprintf(err, sizeof err, "run-time error");
		sieve_result_free(out);
		memcpy(out->err, err, sizeof err);
		out->a = xcalloc(1, sizeof *out->a);
		out->a[0].kind = SIEVE_KEEP;
		out->n = 1;
		return -1;
	}
	return 0;
}

void sieve_result_free(struct sieve_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct sieve_action *a = &r->a[i];
		free(a->mailbox);
		for (size_t j = 0; j < a->nflags; j++)
			free(a->flags[j]);
		free(a->flags);
		free(a->address);
		free(a->text);
		free(a->vac_to);
		free(a->vac_from);
		free(a->vac_subject);
		free(a->vac_reason);
		free(a->vac_handle);
		free(a->dup_id);
	}
	free(r->a);
	for (size_t i = 0; i < r->ndup; i++)
		free(r->dup_ids[i]);
	free(r->dup_ids);
	free(r->dup_secs);
	free(r->edited);
	memset(r, 0, sizeof *r);
}
