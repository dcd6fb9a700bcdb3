/*
 * thread.c — RFC 5256 base subjects, sent dates and threading
 * (ORDEREDSUBJECT and REFERENCES) over plain data; see thread.h. Reading
 * header fields from a store and writing the IMAP answer belong to the
 * caller (imap_sort.c).
 *
 * REFERENCES keeps its containers in one array linked by indices (parent,
 * first child, siblings both ways), so every walk is a loop with an
 * explicit stack, never recursion, and freeing is one free().
 */
#include "thread.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ------------------------------------------------------- base subject */

static int ci_prefix(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (toupper((unsigned char)s[i]) != toupper((unsigned char)lit[i]))
			return 0;
	return 1;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP; its length at s, or 0. */
static size_t blob_len(const char *s, size_t n)
{
	size_t i = 1;
	if (!n || s[0] != '[')
		return 0;
	while (i < n && s[i] != '[' && s[i] != ']')
		i++;
	if (i >= n || s[i] != ']')
		return 0;
	for (i++; i < n && s[i] == ' '; i++)
		;
	return i;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"; length or 0. */
static size_t refwd_len(const char *s, size_t n)
{
	static const char *const words[] = {"re", "fwd", "fw"};
	for (size_t w = 0; w < 3; w++) {
		if (!ci_prefix(s, n, words[w]))
			continue;
		size_t i = strlen(words[w]);
		while (i < n && s[i] == ' ')
			i++;
		i += blob_len(s + i, n - i);
		if (i < n && s[i] == ':')
			return i + 1;
	}
	return 0;
}

char *thread_base_subject(const char *subj, size_t n, int *is_reply)
{
	int reply = 0;
	if (!subj)
		n = 0;
	if (n > THREAD_SUBJECT_MAX)
		n = THREAD_SUBJECT_MAX;
	/* (1) tabs and line breaks become spaces, runs of spaces one space */
	char *buf = xmalloc(n + 1), *s = buf;
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		char c = subj[i];
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && len && buf[len - 1] == ' ')
			continue;
		if (c == 0)
			break;
		buf[len++] = c;
	}
	for (;;) {
		/* (2) trailing "(fwd)" and white space */
		for (;;) {
			if (len && s[len - 1] == ' ')
				len--;
			else if (len >= 5 && ci_prefix(s + len - 5, 5, "(fwd)")) {
				len -= 5;
				reply = 1;
			} else
				break;
		}
		/* (5): (3) and (4) until neither removes anything */
		int changed;
		do {
			changed = 0;
			/* (3) subj-leader = (*subj-blob subj-refwd) / WSP */
			for (;;) {
				if (len && s[0] == ' ') {
					s++, len--, changed = 1;
					continue;
				}
				size_t p = 0, b;
				while ((b = blob_len(s + p, len - p)) != 0)
					p += b;
				size_t r = refwd_len(s + p, len - p);
				if (!r)
					break;
				s += p + r, len -= p + r, changed = 1, reply = 1;
			}
			/* (4) a leading subj-blob, if something is left after it */
			size_t b = blob_len(s, len);
			if (b && b < len) {
				s += b, len -= b, changed = 1;
			}
		} while (changed);
		/* (6) "[fwd:" ... "]" around the rest: unwrap, back to (2) */
		if (len >= 6 && ci_prefix(s, len, "[fwd:") && s[len - 1] == ']') {
			s += 5, len -= 6, reply = 1;
			continue;
		}
		break;
	}
	memmove(buf, s, len);
	buf[len] = 0;
	if (is_reply)
		*is_reply = reply;
	return buf;
}

/* ASCII only, whatever the locale: i;ascii-casemap maps a-z and nothing else */
static int upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

int thread_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = upper((unsigned char)*a), y = upper((unsigned char)*b);
		if (x != y || !x)
			return x - y;
	}
}

/* ---------------------------------------------------------- sent date */

static const char *skip_cfws(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s != '(')
			return s;
		int depth = 0;
		for (; *s; s++) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')' && --depth == 0) {
				s++;
				break;
			}
		}
	}
}

static int num(const char **sp, int maxdig, int *out)
{
	const char *s = *sp;
	int v = 0, k = 0;
	while (isdigit((unsigned char)*s) && k < maxdig) {
		v = v * 10 + (*s++ - '0');
		k++;
	}
	if (!k || isdigit((unsigned char)*s))
		return 0;
	*sp = s;
	*out = v;
	return k;
}

/* Days from 1970-01-01 to y-m-d (m 1..12), proleptic Gregorian. */
static int64_t days_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static const struct {
	const char *name;
	int mins;
} zones[] = {{"UT", 0},	       {"GMT", 0},	 {"Z", 0},	   {"EST", -5 * 60},
	     {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60}, {"MST", -7 * 60},
	     {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60}};

int thread_parse_date(const char *s, int64_t *out)
{
	static const char mons[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int d, y, hh, mm, ss = 0, mon = -1, ydig;

	if (!s)
		return -1;
	s = skip_cfws(s);
	/* [day-of-week ","] */
	if (isalpha((unsigned char)*s)) {
		while (isalpha((unsigned char)*s))
			s++;
		s = skip_cfws(s);
		if (*s++ != ',')
			return -1;
		s = skip_cfws(s);
	}
	if (!num(&s, 2, &d) || d < 1 || d > 31)
		return -1;
	s = skip_cfws(s);
	for (int m = 0; m < 12; m++)
		if (ci_prefix(s, strlen(s),
			      (char[4]){mons[3 * m], mons[3 * m + 1], mons[3 * m + 2], 0}))
			mon = m + 1;
	if (mon < 0 || isalpha((unsigned char)s[3]))
		return -1;
	s = skip_cfws(s + 3);
	if (!(ydig = num(&s, 4, &y)))
		return -1;
	if (ydig == 2)
		y += y < 50 ? 2000 : 1900; /* RFC 5322 4.3 */
	else if (ydig == 3)
		y += 1900;
	s = skip_cfws(s);
	if (!num(&s, 2, &hh) || hh > 23)
		return -1;
	s = skip_cfws(s);
	if (*s++ != ':')
		return -1;
	s = skip_cfws(s);
	if (!num(&s, 2, &mm) || mm > 59)
		return -1;
	s = skip_cfws(s);
	if (*s == ':') {
		s = skip_cfws(s + 1);
		if (!num(&s, 2, &ss) || ss > 60)
			return -1;
		s = skip_cfws(s);
	}
	int zone = 0; /* RFC 5322 4.3: unknown zones are -0000, i.e. UTC */
	if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1])) {
		int z, sign = *s == '-' ? -1 : 1;
		s++;
		if (num(&s, 4, &z) != 4 || z % 100 > 59)
			return -1;
		zone = sign * (z / 100 * 60 + z % 100);
	} else {
		for (size_t i = 0; i < ARRAY_LEN(zones); i++) {
			size_t k = strlen(zones[i].name);
			if (ci_prefix(s, strlen(s), zones[i].name) && !isalpha((unsigned char)s[k]))
				zone = zones[i].mins;
		}
	}
	*out = days_civil(y, mon, d) * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)zone * 60;
	return 0;
}

/* ---------------------------------------------------------- threading */

struct cont {
	int32_t msg; /* index into msgs, -1 for a dummy */
	int32_t parent, child, next, prev;
};

struct tmsg {
	uint32_t key;
	int reply;
	int64_t date;
	char *base;
};

struct thread_set {
	int algo;
	struct tmsg *msgs;
	size_t nmsg, capmsg;
	struct cont *c;
	size_t nc, capc;
	/* the id table: open addressing over container indices; the ids
	 * themselves in one arena, idoff[container] (UINT32_MAX: none) */
	int32_t *slot;
	size_t nslot, nused;
	uint32_t *idoff;
	char *arena;
	size_t alen, acap;
	uint64_t seed;
	struct thread_node *nodes;
};

struct thread_set *thread_new(int algo)
{
	struct thread_set *t = xcalloc(1, sizeof *t);
	t->algo = algo;
	random_bytes(&t->seed, sizeof t->seed);
	return t;
}

size_t thread_table_bytes(const struct thread_set *t)
{
	return t->acap + t->capc * (sizeof *t->c + sizeof *t->idoff) + t->nslot * sizeof *t->slot;
}

void thread_free(struct thread_set **tp)
{
	struct thread_set *t = *tp;
	if (!t)
		return;
	for (size_t i = 0; i < t->nmsg; i++)
		free(t->msgs[i].base);
	free(t->msgs);
	free(t->c);
	free(t->slot);
	free(t->idoff);
	free(t->arena);
	free(t->nodes);
	free(t);
	*tp = NULL;
}

static int32_t cont_new(struct thread_set *t, int32_t msg)
{
	if (t->nc == t->capc) {
		t->capc = t->capc ? t->capc * 2 : 256;
		t->c = xrealloc(t->c, t->capc * sizeof *t->c);
		t->idoff = xrealloc(t->idoff, t->capc * sizeof *t->idoff);
	}
	t->c[t->nc] = (struct cont){msg, -1, -1, -1, -1};
	t->idoff[t->nc] = UINT32_MAX;
	return (int32_t)t->nc++;
}

static uint64_t hash(const struct thread_set *t, const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ t->seed;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static void table_grow(struct thread_set *t)
{
	size_t n = t->nslot ? t->nslot * 2 : 1024;
	int32_t *sl = xmalloc(n * sizeof *sl);
	for (size_t i = 0; i < n; i++)
		sl[i] = -1;
	for (size_t i = 0; i < t->nslot; i++) {
		int32_t c = t->slot[i];
		if (c < 0)
			continue;
		const char *id = t->arena + t->idoff[c];
		size_t j = hash(t, id, strlen(id)) & (n - 1);
		while (sl[j] >= 0)
			j = (j + 1) & (n - 1);
		sl[j] = c;
	}
	free(t->slot);
	t->slot = sl;
	t->nslot = n;
}

/* The container of id: found, or a new dummy (create). -1 when it is not
 * known and create is 0, or the table is full (THREAD_TABLE_MAX). */
static int32_t id_lookup(struct thread_set *t, const char *id, size_t n, int create)
{
	if (t->nslot) {
		size_t j = hash(t, id, n) & (t->nslot - 1);
		for (; t->slot[j] >= 0; j = (j + 1) & (t->nslot - 1)) {
			const char *k = t->arena + t->idoff[t->slot[j]];
			if (strncmp(k, id, n) == 0 && k[n] == 0)
				return t->slot[j];
		}
	}
	if (!create)
		return -1;
	/* what the table would hold after every growth this id may cause */
	size_t acap = t->acap ? t->acap : 65536, capc = t->capc ? t->capc : 256;
	size_t nslot = t->nslot ? t->nslot : 1024;
	while (t->alen + n + 1 > acap)
		acap *= 2;
	if (t->nc + 1 > capc)
		capc *= 2;
	if ((t->nused + 1) * 2 > nslot)
		nslot *= 2;
	if (acap + capc * (sizeof *t->c + sizeof *t->idoff) + nslot * sizeof *t->slot >
	    THREAD_TABLE_MAX)
		return -1;
	if ((t->nused + 1) * 2 > t->nslot)
		table_grow(t);
	if (t->alen + n + 1 > t->acap) {
		t->acap = t->acap ? t->acap * 2 : 65536;
		while (t->alen + n + 1 > t->acap)
			t->acap *= 2;
		t->arena = xrealloc(t->arena, t->acap);
	}
	int32_t c = cont_new(t, -1);
	t->idoff[c] = (uint32_t)t->alen;
	memcpy(t->arena + t->alen, id, n);
	t->arena[t->alen + n] = 0;
	t->alen += n + 1;
	size_t j = hash(t, id, n) & (t->nslot - 1);
	while (t->slot[j] >= 0)
		j = (j + 1) & (t->nslot - 1);
	t->slot[j] = c;
	t->nused++;
	return c;
}

/* The next msg-id "<...>" of a header value (comments and white space
 * dropped, other text between ids skipped): its length in out, 0 at the
 * end. An id that is empty or over THREAD_ID_MAX comes back as -1. */
static int next_msgid(const char **sp, char *out)
{
	const char *s = *sp;
	for (;;) {
		s = skip_cfws(s);
		if (!*s)
			return 0;
		if (*s == '<')
			break;
		if (*s == '"') { /* a quoted phrase (In-Reply-To's obsolete form) */
			for (s++; *s && *s != '"'; s++)
				if (*s == '\\' && s[1])
					s++;
			if (*s)
				s++;
			continue;
		}
		s++;
	}
	int n = 0, bad = 0;
	for (s++; *s && *s != '>'; s++) {
		if (*s == '<') {
			/* "<a <b>": the first never closed; start again at b */
			*sp = s;
			return -1;
		}
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			continue;
		if (n < THREAD_ID_MAX)
			out[n++] = *s;
		else
			bad = 1;
	}
	if (*s)
		s++;
	*sp = s;
	return bad || !n ? -1 : n;
}

/* Is a an ancestor of (or the same as) b? Too deep to tell counts as yes. */
static int ancestor(const struct thread_set *t, int32_t a, int32_t b)
{
	if (a != b && t->c[a].child < 0)
		return 0; /* a has no descendants */
	for (int steps = 0; b >= 0; b = t->c[b].parent)
		if (b == a || ++steps > THREAD_WALK_MAX)
			return 1;
	return 0;
}

static void unlink_cont(struct thread_set *t, int32_t x)
{
	struct cont *c = &t->c[x];
	if (c->prev >= 0)
		t->c[c->prev].next = c->next;
	else if (c->parent >= 0)
		t->c[c->parent].child = c->next;
	if (c->next >= 0)
		t->c[c->next].prev = c->prev;
	c->parent = c->next = c->prev = -1;
}

static void link_cont(struct thread_set *t, int32_t parent, int32_t x)
{
	struct cont *c = &t->c[x];
	c->parent = parent;
	c->prev = -1;
	c->next = t->c[parent].child;
	if (c->next >= 0)
		t->c[c->next].prev = x;
	t->c[parent].child = x;
}

/* RFC 5256 REFERENCES step 1 for one message. */
static void refs_add(struct thread_set *t, int32_t mi, const struct thread_msg *m)
{
	char id[THREAD_ID_MAX];
	const char *p = m->message_id;
	int n;
	int32_t self = -1;

	/* 1.A: a message without a valid id, or whose id an earlier message
	 * already holds, gets a container of its own no reference can reach */
	while (p && (n = next_msgid(&p, id)) != 0) {
		if (n < 0)
			continue;
		int32_t c = id_lookup(t, id, (size_t)n, 1);
		if (c >= 0 && t->c[c].msg < 0) {
			t->c[c].msg = mi;
			self = c;
		}
		break;
	}
	if (self < 0)
		self = cont_new(t, mi);

	/* 1.B: References, or else the first id of In-Reply-To; only the
	 * last THREAD_REFS_MAX count */
	int32_t ref[THREAD_REFS_MAX];
	size_t nref = 0, total = 0;
	const char *src = m->references;
	for (int pass = 0; pass < 2 && !total; pass++) {
		src = pass ? m->in_reply_to : m->references;
		for (p = src; p && (n = next_msgid(&p, id)) != 0;)
			if (n > 0 && (++total, pass))
				break;
	}
	size_t skip = total > THREAD_REFS_MAX ? total - THREAD_REFS_MAX : 0;
	for (p = src; total && p && nref < THREAD_REFS_MAX && (n = next_msgid(&p, id)) != 0;) {
		if (n < 0)
			continue;
		if (skip) {
			skip--;
			continue;
		}
		int32_t c = id_lookup(t, id, (size_t)n, 1);
		if (c >= 0)
			ref[nref++] = c;
		if (src == m->in_reply_to)
			break;
	}
	for (size_t i = 1; i < nref; i++) {
		int32_t par = ref[i - 1], kid = ref[i];
		if (t->c[kid].parent >= 0 || ancestor(t, kid, par))
			continue; /* keep existing links; never a loop */
		link_cont(t, par, kid);
	}
	/* 1.C: the last reference is the parent; a parent found before (a
	 * truncated References elsewhere) gives way */
	if (nref) {
		int32_t par = ref[nref - 1];
		if (t->c[self].parent == par)
			return;
		if (ancestor(t, self, par))
			return;
		if (t->c[self].parent >= 0)
			unlink_cont(t, self);
		link_cont(t, par, self);
	}
}

void thread_add(struct thread_set *t, const struct thread_msg *m)
{
	if (t->nmsg == t->capmsg) {
		t->capmsg = t->capmsg ? t->capmsg * 2 : 256;
		t->msgs = xrealloc(t->msgs, t->capmsg * sizeof *t->msgs);
	}
	struct tmsg *x = &t->msgs[t->nmsg];
	x->key = m->key;
	x->date = m->date;
	x->base = thread_base_subject(m->subject, m->subject ? strlen(m->subject) : 0, &x->reply);
	if (t->algo == THREAD_REFERENCES)
		refs_add(t, (int32_t)t->nmsg, m);
	t->nmsg++;
}

/* ---- ordering: sent date, then the order added (sequence number) ---- */

/* The message a container sorts by: its own, or a dummy's first child's. */
static int32_t sort_msg(const struct thread_set *t, int32_t x)
{
	while (x >= 0 && t->c[x].msg < 0)
		x = t->c[x].child;
	return x >= 0 ? t->c[x].msg : -1;
}

static int msg_cmp(const struct thread_set *t, int32_t a, int32_t b)
{
	if (a < 0 || b < 0)
		return (a >= 0) - (b >= 0);
	if (t->msgs[a].date != t->msgs[b].date)
		return t->msgs[a].date < t->msgs[b].date ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int cont_cmp(const void *x, const void *y, void *arg)
{
	const struct thread_set *t = arg;
	return msg_cmp(t, sort_msg(t, *(const int32_t *)x), sort_msg(t, *(const int32_t *)y));
}

static void sort_children(struct thread_set *t, int32_t p, int32_t **scratch, size_t *cap)
{
	size_t n = 0;
	for (int32_t k = t->c[p].child; k >= 0; k = t->c[k].next) {
		if (n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*scratch = xrealloc(*scratch, *cap * sizeof **scratch);
		}
		(*scratch)[n++] = k;
	}
	if (n < 2)
		return;
	qsort_r(*scratch, n, sizeof **scratch, cont_cmp, t);
	t->c[p].child = (*scratch)[0];
	for (size_t i = 0; i < n; i++) {
		t->c[(*scratch)[i]].prev = i ? (*scratch)[i - 1] : -1;
		t->c[(*scratch)[i]].next = i + 1 < n ? (*scratch)[i + 1] : -1;
	}
}

/* Every container under root (root included), parents before children. */
static size_t reachable(struct thread_set *t, int32_t root, int32_t **out)
{
	size_t n = 0, cap = 64;
	int32_t *v = xmalloc(cap * sizeof *v);
	v[n++] = root;
	for (size_t i = 0; i < n; i++)
		for (int32_t k = t->c[v[i]].child; k >= 0; k = t->c[k].next) {
			if (n == cap) {
				cap *= 2;
				v = xrealloc(v, cap * sizeof *v);
			}
			v[n++] = k;
		}
	*out = v;
	return n;
}

/* Step 4 below start: drop dummies without children; a dummy's children
 * take its place, at the top (under root) only when it has just one. */
static void prune_from(struct thread_set *t, int32_t start, int32_t root)
{
	size_t n = 0, cap = 64;
	int32_t *todo = xmalloc(cap * sizeof *todo);
	todo[n++] = start;
	while (n) {
		int32_t par = todo[--n];
		int32_t k = t->c[par].child;
		while (k >= 0) {
			struct cont *c = &t->c[k];
			int32_t next = c->next;
			if (c->msg < 0 && c->child < 0) {
				unlink_cont(t, k);
				k = next;
				continue;
			}
			if (c->msg < 0 && (par != root || t->c[c->child].next < 0)) {
				/* splice the children in where the dummy was */
				int32_t first = c->child, last = first;
				for (int32_t x = first; x >= 0; x = t->c[x].next) {
					t->c[x].parent = par;
					last = x;
				}
				t->c[first].prev = c->prev;
				t->c[last].next = c->next;
				if (c->prev >= 0)
					t->c[c->prev].next = first;
				else
					t->c[par].child = first;
				if (c->next >= 0)
					t->c[c->next].prev = last;
				c->child = c->next = c->prev = c->parent = -1;
				k = first; /* look at them as members of this level */
				continue;
			}
			if (n == cap) {
				cap *= 2;
				todo = xrealloc(todo, cap * sizeof *todo);
			}
			todo[n++] = k;
			k = next;
		}
	}
	free(todo);
}

/* Step 4. Whether a dummy at the top keeps its place depends on how many
 * children it has once its own empty dummies are gone: prune below each
 * such dummy first, then the top. */
static void prune(struct thread_set *t, int32_t root)
{
	for (int32_t k = t->c[root].child; k >= 0; k = t->c[k].next)
		if (t->c[k].msg < 0)
			prune_from(t, k, root);
	prune_from(t, root, root);
}

static const char *subject_of(const struct thread_set *t, int32_t x)
{
	int32_t m = sort_msg(t, x);
	return m >= 0 ? t->msgs[m].base : "";
}

static uint64_t subj_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)upper((unsigned char)*s);
		h *= 1099511628211ull;
	}
	return h;
}

/* A table base subject -> container (i;ascii-casemap equality). The
 * subject is kept beside the container: a dummy's first child, and so
 * what subject_of() says, changes while threads are merged. */
struct subj_ent {
	const char *subj;
	int32_t c;
};
struct subj_tab {
	struct subj_ent *slot;
	size_t n;
};

static int32_t *subj_find(struct subj_tab *st, const char *subj)
{
	size_t j = subj_hash(subj) & (st->n - 1);
	for (; st->slot[j].subj; j = (j + 1) & (st->n - 1))
		if (thread_casecmp(st->slot[j].subj, subj) == 0)
			return &st->slot[j].c;
	st->slot[j].subj = subj;
	return &st->slot[j].c;
}

static int is_dummy(const struct thread_set *t, int32_t x)
{
	return t->c[x].msg < 0;
}

static int is_reply(const struct thread_set *t, int32_t x)
{
	return !is_dummy(t, x) && t->msgs[t->c[x].msg].reply;
}

static void append_child(struct thread_set *t, int32_t par, int32_t x)
{
	unlink_cont(t, x);
	link_cont(t, par, x); /* order does not matter: step 7 sorts */
}

/* Step 6: gather the threads at the top that share a base subject. */
static void merge_subjects(struct thread_set *t, int32_t root)
{
	size_t n = 0;
	for (int32_t k = t->c[root].child; k >= 0; k = t->c[k].next)
		n++;
	if (n < 2)
		return;
	int32_t *top = xmalloc(n * sizeof *top);
	n = 0;
	for (int32_t k = t->c[root].child; k >= 0; k = t->c[k].next)
		top[n++] = k;
	struct subj_tab st = {NULL, 16};
	while (st.n < 2 * n)
		st.n *= 2;
	st.slot = xmalloc(st.n * sizeof *st.slot);
	for (size_t i = 0; i < st.n; i++)
		st.slot[i] = (struct subj_ent){NULL, -1};
	/* B: one container per subject: a dummy over a message, a
	 * non-reply over a reply */
	for (size_t i = 0; i < n; i++) {
		const char *subj = subject_of(t, top[i]);
		if (!*subj)
			continue;
		int32_t *e = subj_find(&st, subj);
		if (*e < 0)
			*e = top[i];
		else if (!is_dummy(t, *e) &&
			 (is_dummy(t, top[i]) || (is_reply(t, *e) && !is_reply(t, top[i]))))
			*e = top[i];
	}
	/* C: merge every other thread with that one */
	for (size_t i = 0; i < n; i++) {
		int32_t cur = top[i];
		const char *subj = subject_of(t, cur);
		if (!*subj)
			continue;
		int32_t *e = subj_find(&st, subj), old = *e;
		if (old == cur)
			continue;
		if (is_dummy(t, old) && is_dummy(t, cur)) {
			while (t->c[cur].child >= 0)
				append_child(t, old, t->c[cur].child);
			unlink_cont(t, cur);
		} else if (is_dummy(t, old) || (is_reply(t, cur) && !is_reply(t, old))) {
			append_child(t, old, cur);
		} else {
			/* a new dummy takes old's place at the top */
			int32_t d = cont_new(t, -1);
			struct cont *o = &t->c[old], *dc = &t->c[d];
			dc->parent = root;
			dc->prev = o->prev;
			dc->next = o->next;
			if (o->prev >= 0)
				t->c[o->prev].next = d;
			else
				t->c[root].child = d;
			if (o->next >= 0)
				t->c[o->next].prev = d;
			o->parent = o->next = o->prev = -1;
			link_cont(t, d, old);
			append_child(t, d, cur);
			*e = d;
		}
	}
	free(st.slot);
	free(top);
}

static struct thread_node *to_nodes(struct thread_set *t, int32_t root)
{
	int32_t *v;
	size_t n = reachable(t, root, &v);
	/* node i+1 stands for container v[i]; index by container */
	t->nodes = xcalloc(t->nc + 1, sizeof *t->nodes);
	for (size_t i = 0; i < n; i++) {
		int32_t x = v[i];
		struct thread_node *nd = &t->nodes[x];
		nd->key = t->c[x].msg >= 0 ? t->msgs[t->c[x].msg].key : 0;
		nd->child = t->c[x].child >= 0 ? &t->nodes[t->c[x].child] : NULL;
		nd->next = t->c[x].next >= 0 ? &t->nodes[t->c[x].next] : NULL;
	}
	free(v);
	return t->nodes[root].child;
}

static struct thread_node *run_references(struct thread_set *t)
{
	/* step 2: the containers without a parent, under one root */
	int32_t root = cont_new(t, -1);
	for (int32_t x = 0; x < root; x++)
		if (t->c[x].parent < 0)
			link_cont(t, root, x);
	/* 3: the id table is not needed any more */
	free(t->slot);
	t->slot = NULL;
	t->nslot = 0;
	prune(t, root);
	/* 5: order the top by date (a dummy's children first) */
	int32_t *scratch = NULL;
	size_t cap = 0;
	for (int32_t k = t->c[root].child; k >= 0; k = t->c[k].next)
		if (is_dummy(t, k))
			sort_children(t, k, &scratch, &cap);
	sort_children(t, root, &scratch, &cap);
	merge_subjects(t, root);
	/* 7: every level by date, the deepest first so that a dummy's first
	 * child is known when the top is sorted */
	int32_t *v;
	size_t n = reachable(t, root, &v);
	for (size_t i = n; i-- > 0;)
		sort_children(t, v[i], &scratch, &cap);
	free(v);
	free(scratch);
	return to_nodes(t, root);
}

static int subj_cmp(const void *x, const void *y, void *arg)
{
	const struct thread_set *t = arg;
	int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
	int c = thread_casecmp(t->msgs[a].base, t->msgs[b].base);
	return c ? c : msg_cmp(t, a, b);
}

static int top_cmp(const void *x, const void *y, void *arg)
{
	const struct thread_set *t = arg;
	return msg_cmp(t, *(const int32_t *)x, *(const int32_t *)y);
}

/* ORDEREDSUBJECT (RFC 5256 3): by base subject, then date; each subject a
 * thread whose first message is the parent of the others; threads by the
 * date of their first message. */
static struct thread_node *run_ordered(struct thread_set *t)
{
	size_t n = t->nmsg, nt = 0;
	int32_t *v = xmalloc(n * sizeof *v), *top = xmalloc(n * sizeof *top);
	for (size_t i = 0; i < n; i++)
		v[i] = (int32_t)i;
	qsort_r(v, n, sizeof *v, subj_cmp, t);
	t->nodes = xcalloc(n, sizeof *t->nodes);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && thread_casecmp(t->msgs[v[i]].base, t->msgs[v[j]].base) == 0)
			j++;
		struct thread_node *head = &t->nodes[v[i]];
		head->key = t->msgs[v[i]].key;
		for (size_t k = i + 1; k < j; k++) {
			t->nodes[v[k]].key = t->msgs[v[k]].key;
			t->nodes[v[k]].next = k + 1 < j ? &t->nodes[v[k + 1]] : NULL;
		}
		head->child = j > i + 1 ? &t->nodes[v[i + 1]] : NULL;
		top[nt++] = v[i];
		i = j;
	}
	qsort_r(top, nt, sizeof *top, top_cmp, t);
	for (size_t i = 0; i + 1 < nt; i++)
		t->nodes[top[i]].next = &t->nodes[top[i + 1]];
	struct thread_node *first = nt ? &t->nodes[top[0]] : NULL;
	free(v);
	free(top);
	return first;
}

struct thread_node *thread_run(struct thread_set *t)
{
	if (!t->nmsg)
		return NULL;
	return t->algo == THREAD_REFERENCES ? run_references(t) : run_ordered(t);
}
