/* deps: mailbox mailbox_acct mailbox_sieve mailbox_spam mailbox_mbox mailbox_msg mailbox_queue mailbox_journal mailbox_fts fts message message_text spool util log mailbox_place mailbox_grey */
/*
 * test_fts.c — the full-text index: folding and the tokenizer (fts.c), a
 * message's words (decoded parts, headers, bounds), and the index in the
 * store (mailbox_fts.c): written by delivery and APPEND, shared by COPY,
 * dropped with a blob's last reference, asked with needles that begin and
 * end inside words, and blind to messages stored before it existed.
 */
#include "harness.h"
#include "fts.h"
#include "mailbox.h"
#include "store_fixture.h"
#include "spool.h"
#include "util.h"

#include <lmdb.h>
#include <stdint.h>
#include <unistd.h>

/* ---- tokenizer and folding ---- */

struct words {
	char out[4096];
	int flags[64];
	size_t n;
};

static int collect_word(void *arg, const char *w, size_t wl, int at_start, int at_end)
{
	struct words *ws = arg;
	size_t l = strlen(ws->out);
	int shown = (int)(wl > FTS_WORD_MAX ? FTS_WORD_MAX : wl);
	snprintf(ws->out + l, sizeof ws->out - l, "%s%.*s", l ? "|" : "", shown, w);
	if (ws->n < 64)
		ws->flags[ws->n++] = at_start * 2 + at_end;
	return 0;
}

static const char *words_of(struct words *ws, const char *s)
{
	memset(ws, 0, sizeof *ws);
	if (fts_words(s, strlen(s), collect_word, ws) < 0)
		return "(invalid)";
	return ws->out;
}

TEST(tokenizer_words_and_edges)
{
	struct words ws;
	CHECK_EQ_STR(words_of(&ws, "Hello, World! foo_bar 42x"), "hello|world|foo|bar|42x");
	CHECK_EQ_INT(ws.flags[0], 2); /* touches the start */
	CHECK_EQ_INT(ws.flags[1], 0);
	CHECK_EQ_INT(ws.flags[4], 1); /* touches the end */
	CHECK_EQ_STR(words_of(&ws, "oob"), "oob");
	CHECK_EQ_INT(ws.flags[0], 3);
	CHECK_EQ_STR(words_of(&ws, " quick brown "), "quick|brown");
	CHECK_EQ_INT(ws.flags[0], 0);
	CHECK_EQ_INT(ws.flags[1], 0);
	CHECK_EQ_STR(words_of(&ws, "...!"), "");
	CHECK_EQ_STR(words_of(&ws, "\xc3("), "(invalid)");
}

TEST(folding_case_accents_compat)
{
	struct words ws;
	CHECK_EQ_STR(words_of(&ws, "\xc3\x84rger"), "arger");             /* Ärger */
	CHECK_EQ_STR(words_of(&ws, "A\xcc\x88RGER"), "arger");            /* A + U+0308 */
	CHECK_EQ_STR(words_of(&ws, "stra\xc3\x9f" "e"), "strasse");       /* straße */
	CHECK_EQ_STR(words_of(&ws, "STRASSE"), "strasse");
	CHECK_EQ_STR(words_of(&ws, "\xef\xac\x81le"), "file");            /* ﬁle */
	CHECK_EQ_STR(words_of(&ws, "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e"), "creme|brulee");
	CHECK_EQ_STR(words_of(&ws, "\xce\xa3\xce\x99\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3"),
		     "\xcf\x83\xce\xb9\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x83"); /* ΣΙΣΥΦΟΣ */
	/* A combining mark alone is no separator: it vanishes. */
	CHECK_EQ_STR(words_of(&ws, "\xcc\x88rger"), "rger");
	CHECK_EQ_INT(ws.flags[0], 3);
}

TEST(long_word_reported_with_its_length)
{
	char s[200];
	memset(s, 'a', 150);
	s[150] = 0;
	struct words ws;
	words_of(&ws, s);
	CHECK_EQ_INT(strlen(ws.out), FTS_WORD_MAX); /* cut in the copy */
}

/* ---- a message's words ---- */

static void terms_of(const char *msg, struct fts_terms *ft)
{
	struct msg_src src;
	msg_src_mem(&src, msg, strlen(msg));
	fts_extract(&src, ft);
}

static int has_term(const struct fts_terms *ft, const char *w)
{
	for (size_t off = 0; off < ft->len; off += strlen(ft->buf + off) + 1)
		if (strcmp(ft->buf + off, w) == 0)
			return 1;
	return 0;
}

static const char *mixed_msg =
    "From: =?ISO-8859-1?Q?J=F6rg?= <j@x.test>\r\n"
    "Subject: Quarterly numbers\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=BB\r\n"
    "\r\n"
    "--BB\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=FC=DFe aus K=F6ln, der =C4rger ist vorbei.\r\n"
    "--BB\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PHA+Zm9vYmFyIGJhem9vbWE8L3A+\r\n" /* <p>foobar bazooma</p> */
    "--BB\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0YXR0YWNobWVudHdvcmQ=\r\n" /* secretattachmentword */
    "--BB--\r\n";

TEST(extract_decoded_parts_and_headers)
{
	struct fts_terms ft;
	terms_of(mixed_msg, &ft);
	CHECK(!ft.partial);
	CHECK(has_term(&ft, "jorg"));      /* RFC 2047, ISO-8859-1, folded */
	CHECK(has_term(&ft, "quarterly")); /* header */
	CHECK(has_term(&ft, "subject"));   /* field names: SEARCH TEXT sees them */
	CHECK(has_term(&ft, "grusse"));    /* QP, ISO-8859-1, ß -> ss */
	CHECK(has_term(&ft, "koln"));
	CHECK(has_term(&ft, "arger"));
	CHECK(has_term(&ft, "foobar"));    /* base64 HTML */
	CHECK(has_term(&ft, "p"));         /* HTML is text: its tags are words too */
	CHECK(!has_term(&ft, "secretattachmentword"));
	/* sorted and distinct */
	const char *prev = NULL;
	for (size_t off = 0; off < ft.len; off += strlen(ft.buf + off) + 1) {
		CHECK(!prev || strcmp(prev, ft.buf + off) < 0);
		prev = ft.buf + off;
	}
	fts_terms_free(&ft);
}

/* The word set is reused message after message on one thread (fts.c):
 * nothing of one message may show in the next, a partial one included,
 * and the words come out sorted and counted as before. */
TEST(extract_reuses_the_set_cleanly)
{
	struct fts_terms a, b, c;
	terms_of("Subject: alpha beta gamma\r\n\r\nzeta eta theta alpha\r\n", &a);
	CHECK(has_term(&a, "theta") && has_term(&a, "alpha") && has_term(&a, "zeta"));
	/* distinct and sorted bytewise, n of them */
	size_t na = 0;
	for (size_t off = 0, prev = 0; off < a.len; prev = off, off += strlen(a.buf + off) + 1, na++)
		CHECK(off == 0 || strcmp(a.buf + prev, a.buf + off) < 0);
	CHECK_EQ_INT((int)na, (int)a.n);
	struct sbuf big = {0};
	sbuf_puts(&big, "Subject: x\r\n\r\n");
	for (int i = 0; i < FTS_TERMS_MAX + 10; i++)
		sbuf_printf(&big, "w%d ", i);
	sbuf_add(&big, "", 1);
	terms_of(big.p, &c);
	CHECK(c.partial);
	terms_of("Subject: beta\r\n\r\nbeta omega\r\n", &b);
	CHECK(!b.partial && has_term(&b, "beta") && has_term(&b, "omega"));
	CHECK(!has_term(&b, "alpha") && !has_term(&b, "w1") && !has_term(&b, "theta"));
	CHECK_EQ_INT((int)b.n, (int)a.n - 4); /* the same header words, beta and omega */
	fts_terms_free(&a);
	fts_terms_free(&b);
	fts_terms_free(&c);
	sbuf_free(&big);
}

TEST(extract_bounds_make_partial)
{
	struct fts_terms ft;
	struct sbuf m = {0};
	/* a word longer than FTS_WORD_MAX */
	sbuf_puts(&m, "Subject: x\r\n\r\nshort ");
	for (int i = 0; i < FTS_WORD_MAX + 1; i++)
		sbuf_puts(&m, "a");
	sbuf_puts(&m, "\r\n");
	terms_of(m.p, &ft);
	CHECK(ft.partial);
	CHECK_EQ_INT(ft.n, 1);
	CHECK_EQ_STR(ft.buf, FTS_PARTIAL);
	fts_terms_free(&ft);
	sbuf_free(&m);
	/* exactly FTS_WORD_MAX is fine */
	sbuf_puts(&m, "Subject: x\r\n\r\n");
	for (int i = 0; i < FTS_WORD_MAX; i++)
		sbuf_puts(&m, "b");
	terms_of(m.p, &ft);
	CHECK(!ft.partial);
	fts_terms_free(&ft);
	sbuf_free(&m);
	/* more distinct words than FTS_TERMS_MAX */
	sbuf_puts(&m, "Subject: x\r\n\r\n");
	for (int i = 0; i < FTS_TERMS_MAX + 10; i++)
		sbuf_printf(&m, "w%d ", i);
	terms_of(m.p, &ft);
	CHECK(ft.partial);
	fts_terms_free(&ft);
	sbuf_free(&m);
	/* more body than FTS_READ_MAX */
	sbuf_puts(&m, "Subject: x\r\n\r\n");
	while (m.len < FTS_READ_MAX + 100)
		sbuf_puts(&m, "the same few words again and again\r\n");
	terms_of(m.p, &ft);
	CHECK(ft.partial);
	fts_terms_free(&ft);
	sbuf_free(&m);
}

/* ---- the index in the store ---- */

static struct store *fresh(void)
{
	return store_fixture_new("fts", 64 << 20);
}

static uint32_t user_id(struct store *st, const char *addr)
{
	struct account a;
	struct cred c = {0};
	if (store_user_add(st, addr, &c) != ST_OK || store_user_get(st, addr, &a) != ST_OK)
		return 0;
	return a.id;
}

static int append(struct store *st, uint32_t user, const char *mbox, const char *text,
		  uint32_t *uid)
{
	struct spool *sp = spool_new(0);
	struct msg_in m = {0};
	spool_write(sp, text, strlen(text));
	m.body = sp;
	int rc = store_append(st, user, mbox, &m, NULL, uid);
	spool_free(&sp);
	return rc;
}

static uint64_t blob_of(struct store *st, uint32_t user, const char *mbox, uint32_t uid)
{
	struct msg_info mi;
	return store_msg_get(st, user, mbox, uid, &mi) == ST_OK ? mi.blob : 0;
}

/* 1 if blob is a candidate for needle, 0 if not, -1 if the index cannot
 * narrow the needle. */
static int cand(struct store *st, const char *needle, uint64_t blob)
{
	struct store_fts c;
	int rc = store_fts_candidates(st, needle, &c);
	if (rc == ST_INVALID)
		return -1;
	if (rc != ST_OK)
		return -2;
	int r = store_fts_may_match(&c, blob);
	store_fts_free(&c);
	return r;
}

static size_t cand_count(struct store *st, const char *needle)
{
	struct store_fts c;
	if (store_fts_candidates(st, needle, &c) != ST_OK)
		return (size_t)-1;
	size_t n = c.n;
	store_fts_free(&c);
	return n;
}

TEST(index_narrows_with_substring_needles)
{
	struct store *st = fresh();
	CHECK(st);
	uint32_t u = user_id(st, "a@x.test"), uid1, uid2;
	CHECK(u);
	CHECK_EQ_INT(append(st, u, "INBOX", mixed_msg, &uid1), ST_OK);
	CHECK_EQ_INT(append(st, u, "INBOX",
			    "Subject: other\r\n\r\nthe quick brown fox jumps over the lazy dog\r\n",
			    &uid2),
		     ST_OK);
	uint64_t b1 = blob_of(st, u, "INBOX", uid1), b2 = blob_of(st, u, "INBOX", uid2);
	CHECK(b1 && b2 && b1 != b2);
	/* pending (not merged yet): a candidate for everything */
	CHECK_EQ_INT(cand(st, "arger", b2), 1);
	CHECK_EQ_INT(cand(st, "nothinglikeit", b1), 1);
	CHECK_EQ_INT(store_fts_flush(st), ST_OK);
	/* whole words, folded both ways */
	CHECK_EQ_INT(cand(st, "arger", b1), 1);
	CHECK_EQ_INT(cand(st, "\xc3\x84RGER", b1), 1);
	CHECK_EQ_INT(cand(st, "arger", b2), 0);
	CHECK_EQ_INT(cand(st, "GR\xc3\x9c\x53SE", b1), 1); /* GRÜSSE */
	CHECK_EQ_INT(cand(st, "gr\xc3\xbc\xc3\x9f" "e", b1), 1); /* grüße */
	/* a needle inside a word: "oob" in "foobar", "bazoo" in "bazooma" */
	CHECK_EQ_INT(cand(st, "oob", b1), 1);
	CHECK_EQ_INT(cand(st, "oob", b2), 0);
	CHECK_EQ_INT(cand(st, "azoo", b1), 1);
	/* begins mid-word, ends at a word's end: "bar baz" (foo|bar baz|ooma) */
	CHECK_EQ_INT(cand(st, "bar baz", b1), 1);
	CHECK_EQ_INT(cand(st, "bar baz", b2), 0);
	/* a prefix at the end of the needle: "the qui" */
	CHECK_EQ_INT(cand(st, "the qui", b2), 1);
	CHECK_EQ_INT(cand(st, "the qui", b1), 0);
	/* a suffix at the start: "ick brown" */
	CHECK_EQ_INT(cand(st, "ick brown fox", b2), 1);
	CHECK_EQ_INT(cand(st, "ick brown fox", b1), 0);
	/* whole words inside: " lazy " */
	CHECK_EQ_INT(cand(st, " lazy ", b2), 1);
	CHECK_EQ_INT(cand(st, " lazy ", b1), 0);
	/* nothing to narrow with: read every message */
	CHECK_EQ_INT(cand(st, " .,; ", b1), -1);
	CHECK_EQ_INT(cand(st, "\xff\xfe", b1), -1);
	/* a needle word longer than any indexed word: only messages not
	 * indexed whole can hold it (none here) */
	char lw[FTS_WORD_MAX + 2];
	memset(lw, 'q', sizeof lw - 1);
	lw[sizeof lw - 1] = 0;
	CHECK_EQ_INT(cand(st, lw, b1), 0);
	CHECK_EQ_INT(cand(st, lw, b2), 0);
	store_close(&st);
	rm_store();
}

TEST(partial_messages_are_always_candidates)
{
	struct store *st = fresh();
	CHECK(st);
	uint32_t u = user_id(st, "a@x.test"), uid;
	struct sbuf m = {0};
	sbuf_puts(&m, "Subject: long\r\n\r\n");
	for (int i = 0; i < FTS_WORD_MAX + 20; i++)
		sbuf_puts(&m, "z");
	CHECK_EQ_INT(append(st, u, "INBOX", m.p, &uid), ST_OK);
	sbuf_free(&m);
	uint64_t b = blob_of(st, u, "INBOX", uid);
	CHECK_EQ_INT(cand(st, "anything", b), 1);
	CHECK_EQ_INT(cand(st, "zzzzzz", b), 1);
	store_close(&st);
	rm_store();
}

/* Count the entries of the index tables, with the store closed. */
static size_t pending_count;

static void index_counts(size_t *words, size_t *blobs)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi w, b, q;
	MDB_stat s;
	char p[128];
	snprintf(p, sizeof p, "%s/store", tdir);
	*words = *blobs = pending_count = (size_t)-1;
	if (mdb_env_create(&env))
		return;
	mdb_env_set_maxdbs(env, 32);
	if (!mdb_env_open(env, p, MDB_RDONLY, 0600) && !mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) {
		if (!mdb_dbi_open(txn, "ftw", 0, &w) && !mdb_stat(txn, w, &s))
			*words = s.ms_entries;
		if (!mdb_dbi_open(txn, "ftb", 0, &b) && !mdb_stat(txn, b, &s))
			*blobs = s.ms_entries;
		if (!mdb_dbi_open(txn, "ftq", 0, &q) && !mdb_stat(txn, q, &s))
			pending_count = s.ms_entries;
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
}

static struct store *reopen(struct store **st)
{
	store_close(st);
	return store_fixture_open(st, 64 << 20) < 0 ? NULL : *st;
}

TEST(copy_shares_expunge_drops_with_last_reference)
{
	struct store *st = fresh();
	CHECK(st);
	uint32_t u = user_id(st, "a@x.test"), uid, cuid = 0;
	size_t nw, nb;
	CHECK_EQ_INT(append(st, u, "INBOX", "Subject: s\r\n\r\nzanzibar cheese\r\n", &uid), ST_OK);
	uint64_t b = blob_of(st, u, "INBOX", uid);
	CHECK_EQ_INT(cand(st, "zanzibar", b), 1);
	CHECK_EQ_INT(store_msg_copy(st, u, "INBOX", "Archive", &uid, 1, 0, NULL, &cuid), ST_OK);
	CHECK_EQ_INT(blob_of(st, u, "Archive", cuid), b); /* shared bytes, shared words */
	CHECK_EQ_INT(store_fts_flush(st), ST_OK);
	CHECK_EQ_INT(cand(st, "cheddar", b), 0);
	store_close(&st);
	index_counts(&nw, &nb);
	CHECK_EQ_INT(nb, 1);
	CHECK_EQ_INT(nw, 4); /* subject, s, zanzibar, cheese */
	CHECK(reopen(&st));
	/* one reference left: still indexed */
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", &uid, 1), ST_OK);
	CHECK_EQ_INT(cand(st, "zanzibar", b), 1);
	CHECK_EQ_INT(cand_count(st, "zanzibar"), 1);
	/* the last one: the words go with the bytes */
	CHECK_EQ_INT(store_msg_expunge(st, u, "Archive", &cuid, 1), ST_OK);
	CHECK_EQ_INT(cand_count(st, "zanzibar"), 0);
	store_close(&st);
	index_counts(&nw, &nb);
	CHECK_EQ_INT(nw, 0);
	CHECK_EQ_INT(nb, 0);
	rm_store();
}

TEST(delivery_indexes_once_for_all_recipients)
{
	struct store *st = fresh();
	CHECK(st);
	uint32_t us[2] = {user_id(st, "a@x.test"), user_id(st, "b@x.test")}, uids[2];
	int rcs[2];
	size_t nw, nb;
	const char *text = "Subject: party\r\n\r\nbring snacks\r\n";
	struct spool *sp = spool_new(0);
	struct msg_in m = {0};
	spool_write(sp, text, strlen(text));
	m.body = sp;
	CHECK_EQ_INT(store_deliver(st, us, 2, NULL, &m, rcs, uids), ST_OK);
	spool_free(&sp);
	uint64_t b = blob_of(st, us[0], "INBOX", uids[0]);
	CHECK_EQ_INT(blob_of(st, us[1], "INBOX", uids[1]), b);
	CHECK_EQ_INT(store_fts_flush(st), ST_OK);
	CHECK_EQ_INT(cand(st, "snack", b), 1);
	CHECK_EQ_INT(cand(st, "crisps", b), 0);
	CHECK_EQ_INT(store_user_del(st, "a@x.test"), ST_OK);
	CHECK_EQ_INT(cand(st, "snacks", b), 1);
	CHECK_EQ_INT(store_mbox_delete(st, us[1], "INBOX"), ST_INVALID);
	CHECK_EQ_INT(store_user_del(st, "b@x.test"), ST_OK);
	CHECK_EQ_INT(cand_count(st, "snacks"), 0);
	store_close(&st);
	index_counts(&nw, &nb);
	CHECK_EQ_INT(nw, 0);
	CHECK_EQ_INT(nb, 0);
	rm_store();
}

TEST(multiappend_indexes_each_message)
{
	struct store *st = fresh();
	CHECK(st);
	uint32_t u = user_id(st, "a@x.test"), uids[2];
	const char *t[2] = {"Subject: one\r\n\r\nalpha\r\n", "Subject: two\r\n\r\nbeta\r\n"};
	struct spool *sp[2];
	struct msg_in m[2] = {{0}, {0}};
	for (int i = 0; i < 2; i++) {
		sp[i] = spool_new(0);
		spool_write(sp[i], t[i], strlen(t[i]));
		m[i].body = sp[i];
	}
	CHECK_EQ_INT(store_append_many(st, u, "INBOX", m, 2, NULL, uids), ST_OK);
	spool_free(&sp[0]);
	spool_free(&sp[1]);
	CHECK_EQ_INT(store_fts_flush(st), ST_OK);
	CHECK_EQ_INT(cand(st, "alpha", blob_of(st, u, "INBOX", uids[0])), 1);
	CHECK_EQ_INT(cand(st, "alpha", blob_of(st, u, "INBOX", uids[1])), 0);
	CHECK_EQ_INT(cand(st, "beta", blob_of(st, u, "INBOX", uids[1])), 1);
	store_close(&st);
	rm_store();
}

/* A store written before the index existed has no "ftw"/"ftb" tables and
 * no fts_from; its messages must stay findable. */
TEST(messages_stored_before_the_index_are_candidates)
{
	struct store *st = fresh();
	CHECK(st);
	uint32_t u = user_id(st, "a@x.test"), old_uid, new_uid;
	CHECK_EQ_INT(append(st, u, "INBOX", "Subject: old\r\n\r\nancient words\r\n", &old_uid),
		     ST_OK);
	uint64_t ob = blob_of(st, u, "INBOX", old_uid);
	store_close(&st);
	/* Make it the store an older brev left: the index tables and the
	 * fts_from mark removed. */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi d;
	char p[128];
	snprintf(p, sizeof p, "%s/store", tdir);
	CHECK(!mdb_env_create(&env));
	mdb_env_set_maxdbs(env, 32);
	CHECK(!mdb_env_open(env, p, 0, 0600));
	CHECK(!mdb_txn_begin(env, NULL, 0, &txn));
	CHECK(!mdb_dbi_open(txn, "ftw", MDB_DUPSORT, &d) && !mdb_drop(txn, d, 1));
	CHECK(!mdb_dbi_open(txn, "ftb", 0, &d) && !mdb_drop(txn, d, 1));
	CHECK(!mdb_dbi_open(txn, "meta", 0, &d));
	MDB_val k = {8, "fts_from"};
	CHECK(!mdb_del(txn, d, &k, NULL));
	CHECK(!mdb_txn_commit(txn));
	mdb_env_close(env);

	CHECK(reopen(&st));
	CHECK_EQ_INT(append(st, u, "INBOX", "Subject: new\r\n\r\nfresh words\r\n", &new_uid),
		     ST_OK);
	uint64_t nb = blob_of(st, u, "INBOX", new_uid);
	CHECK_EQ_INT(store_fts_flush(st), ST_OK);
	CHECK_EQ_INT(cand(st, "ancient", ob), 1); /* not indexed: read it */
	CHECK_EQ_INT(cand(st, "fresh", ob), 1);
	CHECK_EQ_INT(cand(st, "fresh", nb), 1);
	CHECK_EQ_INT(cand(st, "ancient", nb), 0);
	/* expunging the old message works without an index entry */
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", &old_uid, 1), ST_OK);
	store_close(&st);
	rm_store();
}

/* Words wait as one record per message and are merged into the word
 * table every 256 pending messages, and when the store is opened. */
TEST(pending_words_merge_in_batches_and_at_open)
{
	struct store *st = fresh();
	CHECK(st);
	uint32_t u = user_id(st, "a@x.test"), uid = 0;
	size_t nw, nb;
	char text[128];
	for (int i = 0; i < 300; i++) {
		snprintf(text, sizeof text, "Subject: n%d\r\n\r\nword%d common\r\n", i, i);
		CHECK_EQ_INT(append(st, u, "INBOX", text, &uid), ST_OK);
	}
	store_close(&st);
	index_counts(&nw, &nb);
	CHECK_EQ_INT(nb, 300);
	CHECK(pending_count > 0 && pending_count < 256); /* 256 were merged on the way */
	CHECK(nw >= 256 * 4);
	CHECK(reopen(&st));
	store_close(&st);
	index_counts(&nw, &nb);
	CHECK_EQ_INT(pending_count, 0); /* the open merged the rest */
	CHECK_EQ_INT(nw, 300 * 4); /* subject, n<i>, word<i>, common */
	CHECK(reopen(&st));
	CHECK_EQ_INT(cand_count(st, "word299"), 1);
	CHECK_EQ_INT(cand_count(st, "common"), 300);
	CHECK_EQ_INT(cand(st, "word12", blob_of(st, u, "INBOX", uid)), 0);
	/* expunging a pending message drops its pending mark too */
	CHECK_EQ_INT(append(st, u, "INBOX", "Subject: p\r\n\r\nfleeting\r\n", &uid), ST_OK);
	CHECK_EQ_INT(store_msg_expunge(st, u, "INBOX", &uid, 1), ST_OK);
	store_close(&st);
	index_counts(&nw, &nb);
	CHECK_EQ_INT(pending_count, 0);
	CHECK_EQ_INT(nb, 300);
	rm_store();
}

TEST_MAIN()
