/*
 * imap_context.c — CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 4.3): a
 * [UID] SEARCH or [UID] SORT with RETURN (UPDATE) becomes a context that
 * follows the selected mailbox, and CANCELUPDATE ends it.
 *
 * A context keeps its search program and the UIDs in its result (sorted).
 * imap_sync calls in at two points:
 *  - imap_context_expunged, before the EXPUNGE/VANISHED it is about to send:
 *    "REMOVEFROM (0 set)" for the messages of a result that go, in message
 *    numbers still valid (RFC 5267 4.3.4 wants it before the expunge);
 *  - imap_context_changed, after EXISTS and the FETCH FLAGS lines: the
 *    messages that arrived or whose flags changed (this session's own
 *    STOREs included) are tested again, "ADDTO (0 set)" for those that now
 *    match and were not in the result, "REMOVEFROM (0 set)" for those that
 *    were and no longer match. For SEARCH the position is 0 (its results
 *    have no order but mailbox order, RFC 5267 4.3.3) and each item one
 *    set; for SORT each message is its own "position value" pair, the
 *    position where it goes in or comes out of the sorted result as the
 *    pairs before it left it (imap_sort.c's sort_live keeps the records in
 *    order; flags are no sort key, so a message that stays never moves).
 * Every update is one "* ESEARCH (TAG "t") [UID] ..." line per context,
 * sent between commands, in a command's answer or during IDLE, whenever
 * imap_sync runs. Contexts end with the mailbox (SELECT, EXAMINE, UNSELECT,
 * CLOSE, logout: imap_context_free_all) or at CANCELUPDATE.
 *
 * A program whose answer depends on more than a message's own state is
 * not kept (NOUPDATE, imap_search.c decides): message numbers and "$"
 * (they move), UID sets (their "*" was resolved once), OLDER/YOUNGER (the
 * clock moves without any change to tell about).
 */
#include "imap.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct imap_context {
	char *tag;
	int uid;                 /* UID SEARCH: updates in UIDs */
	struct search_prog *prog;
	uint32_t *res;           /* UIDs in the result, ascending */
	size_t n;
	struct u32v add, del;    /* collected by imap_context_changed */
	struct sort_live *sorted; /* SORT: the result in sort order */
	struct sbuf pairs;       /* SORT: the update being built */
	const char *open;        /* the item pairs is inside, or NULL */
};

static int u32_find(const uint32_t *v, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] == x;
}

int imap_context_tag_used(const struct imap_session *s, const char *tag)
{
	for (size_t i = 0; i < s->nctx; i++)
		if (!strcmp(s->ctx[i].tag, tag))
			return 1;
	return 0;
}

const char *imap_context_refusal(const struct imap_session *s, const struct search_prog *prog)
{
	if (!prog || !imap_search_updatable(prog))
		return "Message numbers, UID sets and OLDER/YOUNGER are not kept up to date";
	if (s->nctx >= IMAP_CONTEXTS_MAX)
		return "Too many contexts";
	return NULL;
}

void imap_context_noupdate(struct imap_session *s, const char *why)
{
	struct sbuf b = {0};
	sbuf_puts(&b, "* NO [NOUPDATE ");
	mbuf_imap_string(&b, s->cmd.tag, strlen(s->cmd.tag), 0);
	sbuf_printf(&b, "] %s\r\n", why);
	imap_put(s, &b);
	sbuf_free(&b);
}

void imap_context_add(struct imap_session *s, const char *tag, int uid, struct search_prog *prog,
		      const uint32_t *uids, size_t n, struct sort_live *sorted)
{
	s->ctx = xrealloc(s->ctx, (s->nctx + 1) * sizeof *s->ctx);
	struct imap_context *c = &s->ctx[s->nctx++];
	memset(c, 0, sizeof *c);
	c->tag = xstrdup(tag);
	c->uid = uid;
	c->prog = prog;
	c->res = xmalloc((n + 1) * sizeof *c->res);
	memcpy(c->res, uids, n * sizeof *uids);
	c->n = n;
	c->sorted = sorted;
}

static void ctx_free(struct imap_context *c)
{
	free(c->tag);
	imap_search_free(&c->prog);
	free(c->res);
	free(c->add.v);
	free(c->del.v);
	sort_live_free(&c->sorted);
	sbuf_free(&c->pairs);
}

void imap_context_free_all(struct imap_session *s)
{
	for (size_t i = 0; i < s->nctx; i++)
		ctx_free(&s->ctx[i]);
	free(s->ctx);
	s->ctx = NULL;
	s->nctx = 0;
}

/* "* ESEARCH (TAG "t") [UID]" and then items; the caller ends the line. */
static void line_open(struct sbuf *b, const struct imap_context *c)
{
	sbuf_puts(b, "* ESEARCH (TAG ");
	mbuf_imap_string(b, c->tag, strlen(c->tag), 0);
	sbuf_puts(b, c->uid ? ") UID" : ")");
}

/* " NAME (0 set)" of uids (ascending), as UIDs or today's numbers. */
static void item_out(struct imap_session *s, struct sbuf *b, const struct imap_context *c,
		     const char *name, const uint32_t *uids, size_t n)
{
	uint32_t *v = xmalloc((n + 1) * sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t x = c->uid ? uids[i] : view_seq(&s->view, uids[i]);
		if (x)
			v[k++] = x;
	}
	if (k) {
		struct sbuf set = {0}; /* imap_uidset_out starts a non-empty buffer with "," */
		imap_uidset_out(&set, v, k); /* ascending either way */
		sbuf_printf(b, " %s (0 %s)", name, set.p);
		sbuf_free(&set);
	}
	free(v);
}

/* SORT: one "position value" pair into the update being built, opening
 * the item (ADDTO or REMOVEFROM) when the last pair was of the other. */
static void pair_add(struct imap_session *s, struct imap_context *c, const char *item, uint32_t pos,
		     uint32_t uid)
{
	uint32_t val = c->uid ? uid : view_seq(&s->view, uid);
	if (!pos || !val)
		return;
	if (c->open != item) {
		sbuf_printf(&c->pairs, "%s %s (", c->open ? ")" : "", item);
		c->open = item;
	} else {
		sbuf_puts(&c->pairs, " ");
	}
	sbuf_printf(&c->pairs, "%u %u", pos, val);
}

/* SORT: send the update built in c->pairs, if any. */
static void pairs_out(struct imap_session *s, struct imap_context *c)
{
	if (c->open) {
		struct sbuf b = {0};
		line_open(&b, c);
		sbuf_add(&b, c->pairs.p, c->pairs.len);
		sbuf_puts(&b, ")\r\n");
		imap_put(s, &b);
		sbuf_free(&b);
	}
	c->pairs.len = 0;
	c->open = NULL;
}

/* Take the sorted uids out of c's result. */
static void res_remove(struct imap_context *c, const uint32_t *uids, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < c->n; i++)
		if (!u32_find(uids, n, c->res[i]))
			c->res[k++] = c->res[i];
	c->n = k;
}

/* Merge the sorted uids (none already there) into c's result. */
static void res_add(struct imap_context *c, const uint32_t *uids, size_t n)
{
	uint32_t *m = xmalloc((c->n + n + 1) * sizeof *m);
	size_t i = 0, j = 0, k = 0;
	while (i < c->n || j < n)
		m[k++] = j == n || (i < c->n && c->res[i] < uids[j]) ? c->res[i++] : uids[j++];
	free(c->res);
	c->res = m;
	c->n = k;
}

void imap_context_expunged(struct imap_session *s, const uint32_t *gone, size_t n)
{
	for (size_t i = 0; i < s->nctx; i++) {
		struct imap_context *c = &s->ctx[i];
		struct u32v out = {0};
		for (size_t j = 0; j < n; j++)
			if (u32_find(c->res, c->n, gone[j]))
				u32v_push(&out, gone[j]);
		if (out.n && c->sorted) {
			for (size_t j = 0; j < out.n; j++)
				pair_add(s, c, "REMOVEFROM", sort_live_remove(c->sorted, out.v[j]), out.v[j]);
			pairs_out(s, c);
			res_remove(c, out.v, out.n);
		} else if (out.n) {
			struct sbuf b = {0};
			line_open(&b, c);
			item_out(s, &b, c, "REMOVEFROM", out.v, out.n);
			sbuf_puts(&b, "\r\n");
			imap_put(s, &b);
			sbuf_free(&b);
			res_remove(c, out.v, out.n);
		}
		free(out.v);
	}
}

static int changed_cb(struct imap_session *s, const struct imap_ref *r, const struct msg_info *mi,
		      void *arg)
{
	(void)arg;
	if (!mi)
		return 0; /* expunged meanwhile: REMOVEFROM comes with its EXPUNGE */
	for (size_t i = 0; i < s->nctx; i++) {
		struct imap_context *c = &s->ctx[i];
		int was = u32_find(c->res, c->n, r->uid);
		int is = imap_search_test(s, c->prog, r, mi);
		if (is && !was) {
			u32v_push(&c->add, r->uid);
			if (c->sorted)
				pair_add(s, c, "ADDTO", sort_live_insert(s, c->sorted, r, mi), r->uid);
		} else if (was && !is) {
			u32v_push(&c->del, r->uid);
			if (c->sorted)
				pair_add(s, c, "REMOVEFROM", sort_live_remove(c->sorted, r->uid), r->uid);
		}
	}
	return 0;
}

void imap_context_changed(struct imap_session *s, const uint32_t *uids, size_t n)
{
	if (!s->nctx || !n)
		return;
	struct imap_ref *refs = xmalloc(n * sizeof *refs);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t seq = view_seq(&s->view, uids[i]);
		if (seq) {
			refs[k].seq = seq;
			refs[k++].uid = uids[i];
		}
	}
	/* A store error leaves the results as they were: the next change
	 * to those messages tests them again. */
	imap_each_msg(s, refs, k, changed_cb, NULL);
	free(refs);
	for (size_t i = 0; i < s->nctx; i++) {
		struct imap_context *c = &s->ctx[i];
		if (c->sorted) {
			pairs_out(s, c);
			res_remove(c, c->del.v, c->del.n);
			res_add(c, c->add.v, c->add.n);
		} else if (c->add.n || c->del.n) {
			struct sbuf b = {0};
			line_open(&b, c);
			item_out(s, &b, c, "REMOVEFROM", c->del.v, c->del.n);
			item_out(s, &b, c, "ADDTO", c->add.v, c->add.n);
			sbuf_puts(&b, "\r\n");
			imap_put(s, &b);
			sbuf_free(&b);
			res_remove(c, c->del.v, c->del.n);
			res_add(c, c->add.v, c->add.n);
		}
		c->add.n = c->del.n = 0;
	}
}

/* CANCELUPDATE "tag" ... (RFC 5267 4.3.5): every tag must name a context
 * of this session, else nothing is cancelled. */
void imap_cmd_cancelupdate(struct imap_session *s)
{
	const struct iarg *a;
	for (a = s->cmd.args->kids; a; a = a->next)
		if (a->type == IA_LIST || !iarg_str(a) || (a->literal && strlen(a->s) != a->len)) {
			imap_tagged(s, "BAD", "CANCELUPDATE takes the tags of searches");
			return;
		}
	for (a = s->cmd.args->kids; a; a = a->next)
		if (!imap_context_tag_used(s, iarg_str(a))) {
			imap_tagged(s, "NO", "No search with UPDATE has that tag");
			return;
		}
	for (a = s->cmd.args->kids; a; a = a->next)
		for (size_t i = 0; i < s->nctx; i++)
			if (!strcmp(s->ctx[i].tag, iarg_str(a))) {
				ctx_free(&s->ctx[i]);
				s->ctx[i] = s->ctx[--s->nctx];
				break;
			}
	imap_tagged(s, "OK", "CANCELUPDATE completed");
}
