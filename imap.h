/*
 * imap.h — internal to the IMAP server (imap*.c): the command reader and
 * argument tree (imap_parse.c), sequence sets, modified UTF-7, the session
 * every handler receives (imap.c), mailbox commands (imap_mbox.c),
 * FETCH/STORE (imap_fetch.c) and SEARCH (imap_search.c). Not a contract for other modules: server.h is.
 */
#ifndef BREV_IMAP_H
#define BREV_IMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mailbox.h"
#include "message.h"

struct spool;
struct conn;
struct server;

/* ---- limits ---- */
#define IMAP_LINE_MAX 65536           /* one command line (RFC 7162 3 asks >= 8192) */
#define IMAP_LITERAL_SMALL (64 * 1024) /* a literal outside APPEND */
#define IMAP_CMD_MAX (512 * 1024)     /* all of one non-APPEND command */
#define IMAP_ARGS_MAX 20000           /* tokens of one command */
#define IMAP_DEPTH_MAX 16             /* parenthesis nesting */
#define IMAP_SEQ_RANGES_MAX 20000
#define IMAP_TAG_MAX 64
#define IMAP_LITERALS_MAX 64          /* literals of one non-APPEND command */
#define IMAP_APPEND_MSGS_MAX 1000     /* messages of one MULTIAPPEND (RFC 3502) */
#define IMAP_APPEND_SLACK 4096        /* per message above limits.message_size in all */
/* Before authentication only LOGIN, AUTHENTICATE and ID may carry literals,
 * and only small ones: nobody unauthenticated makes us buffer much. */
#define IMAP_PREAUTH_LITERAL_MAX 8192
#define IMAP_PREAUTH_LITERALS 4
#define IMAP_MBOX_MAX 1000             /* mailboxes per account, via CREATE */
#define IMAP_MBOX_DEPTH 16             /* hierarchy levels of a new name (Dovecot: 16) */
/* LIST: mailboxes plus their parents that are no mailboxes */
#define IMAP_LIST_MAX (IMAP_MBOX_MAX * (IMAP_MBOX_DEPTH + 1))
#define IMAP_PREAUTH_CMD_MAX (IMAP_LINE_MAX + 16384)

/* ---- argument tree ---- */
enum { IA_ATOM, IA_STRING, IA_LIST };
struct iarg {
	int type;
	int literal;          /* IA_STRING came as a literal ({n} or ~{n}) */
	char *s;              /* NUL-terminated (atoms, strings); may hold NULs if literal */
	size_t len;
	int spooled;          /* APPEND message: the bytes are cmd->spool[off, off+len), s is NULL */
	uint64_t off;
	struct iarg *kids;    /* IA_LIST: first child */
	struct iarg *next;
	size_t nkids;
};

struct imap_cmd {
	char tag[IMAP_TAG_MAX + 1];
	char name[32];        /* upper case; "UID FETCH" for UID commands */
	struct iarg *args;    /* IA_LIST of the arguments */
	int no;               /* error answer is NO (e.g. [TOOBIG]) instead of BAD */
	int fatal;            /* after the error answer, close (input cannot be resynced) */
	char err[160];
	uint64_t bytes;       /* lines and in-memory literals */
	size_t ntok;
	size_t nlit;          /* literals in memory */
	struct spool *spool;  /* APPEND messages, one after the other (one spool, <= 1 fd) */
	size_t nspooled;
	uint64_t spooled;     /* bytes in spool */
};

/* Where the reader's bytes come from: the session's conn, or a test. */
struct imap_in {
	ssize_t (*getline)(void *arg, char **line, size_t max); /* -1 error, -2 too long */
	int (*read_n)(void *arg, void *buf, size_t n);
	int (*read_spool)(void *arg, struct spool *sp, uint64_t n);
	void (*cont)(void *arg);       /* send "+ Ready for literal" and flush */
	void *arg;
	uint64_t big_max;              /* largest APPEND literal (limits.message_size) */
	int preauth;                   /* not authenticated: small literals only */
};

/* Read one command. 0: cmd filled. 1: bad input, answer cmd->tag (or "*")
 * BAD/NO cmd->err and go on, or close right after when cmd->fatal (a refused
 * non-synchronizing literal we will not swallow, an over-long line whose end
 * we never saw). -1: connection gone. Every literal is checked against the
 * limits above before a "+" is sent or a byte of it is read. Free with
 * imap_cmd_clear() in every case. */
int imap_cmd_read(struct imap_in *in, struct imap_cmd *cmd);
void imap_cmd_clear(struct imap_cmd *cmd);
void iarg_free(struct iarg **ap);
/* The i-th child (0-based) of a list or NULL. */
struct iarg *iarg_nth(const struct iarg *list, size_t i);
/* astring/nstring as C string: atom or string text; NULL otherwise. */
const char *iarg_str(const struct iarg *a);
int iarg_is_atom(const struct iarg *a, const char *upper);

/* ---- sequence sets (RFC 9051 9 sequence-set) ---- */
struct seqset {
	uint32_t (*r)[2];     /* ranges lo..hi, 0 stands for '*' before resolving */
	size_t n;
};
/* Parse "1,3:5,7:*"; 0 or -1 (bad syntax, a 0, too many ranges). */
int seqset_parse(const char *s, struct seqset *out);
/* Replace '*' by star (the largest number in use; 0 if empty), order
 * every range lo<=hi, sort and merge. */
void seqset_resolve(struct seqset *s, uint32_t star);
int seqset_contains(const struct seqset *s, uint32_t v);
void seqset_free(struct seqset *s);

/* ---- LIST patterns ---- */
#define IMAP_PATTERN_MAX 1024         /* reference + pattern, wildcard runs folded */
/* RFC 9051 6.3.9: '*' matches anything, '%' anything but the hierarchy
 * delimiter '/'. Time linear in the name for a given pattern (at most
 * strlen(name) * strlen(pattern) steps), never exponential. A pattern
 * longer than IMAP_PATTERN_MAX matches nothing. */
int imap_wild_match(const char *pattern, const char *name);

/* ---- modified UTF-7 (RFC 3501 5.1.3) ---- */
/* Decode into UTF-8; -1 if malformed or longer than cap-1. */
int mutf7_decode(const char *in, char *out, size_t cap);
void mutf7_encode(const char *utf8, struct sbuf *out);

/* ---- the session ---- */
enum imap_state { IS_NOTAUTH, IS_AUTH, IS_SELECTED, IS_LOGOUT };

/* ---- the view: message numbers <-> UIDs (imap_view.c) ---- */
struct view_run {
	uint32_t first, count; /* UIDs first .. first+count-1 */
	uint32_t before;       /* messages in the runs before this one */
};
struct imap_view {
	struct view_run *r;
	size_t n, cap;
	uint32_t count;        /* messages: the highest message number */
};
struct imap_ref {
	uint32_t seq, uid;
};
void view_set(struct imap_view *v, const struct uid_run *runs, size_t n);
void view_free(struct imap_view *v);
uint32_t view_max(const struct imap_view *v);              /* largest UID, 0 if empty */
uint32_t view_uid(const struct imap_view *v, uint32_t seq); /* 0 if out of range */
uint32_t view_seq(const struct imap_view *v, uint32_t uid); /* 0 if not in the view */
uint32_t view_rank(const struct imap_view *v, uint32_t uid); /* UIDs in the view <= uid */
/* A new message; uid must be above view_max. */
void view_append(struct imap_view *v, uint32_t uid);
/* Take out uids (ascending); seq[k] (if not NULL) gets the number uids[k]
 * had before the removal, 0 if it was not in the view. */
void view_remove(struct imap_view *v, const uint32_t *uids, size_t n, uint32_t *seq);
/* The messages of a resolved set (message numbers, or UIDs when uid), in
 * ascending order; *out malloc'ed. */
size_t view_select(const struct imap_view *v, const struct seqset *ss, int uid,
		   struct imap_ref **out);
size_t view_all(const struct imap_view *v, struct imap_ref **out);

struct imap_session {
	unsigned long id;       /* in every log line of the session */
	struct server *srv;
	struct conn *c;
	int kind;
	int state;
	struct account acct;
	int utf8, rev2;       /* ENABLEd */
	/* RFC 7162: CONDSTORE is on after ENABLE or any CONDSTORE-enabling
	 * command (MODSEQ in FETCH/SEARCH, CHANGEDSINCE, UNCHANGEDSINCE, STATUS
	 * HIGHESTMODSEQ, SELECT (CONDSTORE)); QRESYNC (implies CONDSTORE) only
	 * after ENABLE QRESYNC: expunges are then VANISHED, not EXPUNGE. */
	int condstore, qresync;
	/* RFC 9586 UIDONLY, after ENABLE UIDONLY: commands taking message
	 * numbers are BAD [UIDREQUIRED], FETCH responses are UIDFETCH
	 * (numbered by UID), expunges are VANISHED. */
	int uidonly;
	int modseq_told;        /* a MODSEQ went out during this command */
	uint64_t gone_hms;      /* below the modseq of every expunge in gone[] */
	char mbox[STORE_MBOX_MAX + 1];
	int readonly;
	uint32_t uidvalidity;
	struct imap_view view;  /* what the client was told: numbers and UIDs */
	uint32_t *gone;         /* expunged, EXPUNGE not sent yet (ascending) */
	size_t ngone;
	uint64_t seen_hms;      /* the mailbox's HIGHESTMODSEQ the view is at */
	struct recent_run {     /* UIDs [lo, hi) recent to this session (rev1) */
		uint32_t lo, hi;
	} *recent;
	size_t nrecent;
	struct imap_said {      /* FLAGS this session already sent for changes */
		uint32_t uid;   /* after seen_hms (imap_sync skips them) */
		uint64_t modseq;
	} *said;
	size_t nsaid, capsaid;
	/* SEARCHRES (RFC 5182): the UIDs of the last SEARCH RETURN (SAVE) in
	 * this mailbox, sorted and merged ranges; "$" names those still in
	 * the view. Empty until a SAVE, and again after SELECT, EXAMINE,
	 * UNSELECT and CLOSE (freed with the view). */
	struct seqset saved;
	/* CONTEXT=SEARCH (RFC 5267): searches with RETURN (UPDATE) kept up
	 * to date (imap_context.c); freed with the view. */
	struct imap_context *ctx;
	size_t nctx;
	char **kw;              /* keyword names of the mailbox, index = bit */
	int nkw;
	int watchfd;
	struct imap_notify *notify; /* NOTIFY SET (imap_notify.c); NULL: off */
	struct imap_in in;
	struct imap_cmd cmd;
	uint64_t cache_blob;    /* MIME tree of the last message looked at */
	struct mime_part *cache_tree;
	/* The bytes of the message FETCH is answering, taken in one read of
	 * the store (imap_fetch.c) so that another session's EXPUNGE cannot
	 * free them half-way through the answer; imap_msg_src reads them. */
	char *mem;
	size_t mem_len, mem_cap;
	uint64_t mem_blob;
	int mem_ok;
	int msg_lost;           /* a read of the message being answered failed */
	const char *reason;
	int nbad;              /* BAD answers in a row */
	int nfails;            /* failed LOGIN/AUTHENTICATE */
	int64_t login_by;      /* the pre-login deadline (ms, now_ms clock) */
	char user[STORE_ADDR_MAX + 1];
};

/* imap.c */
void imap_tagged(struct imap_session *s, const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Bring the view up to date and tell the client (RFC 9051 7.4.1:
 * EXPUNGE only when allowed). */
void imap_sync(struct imap_session *s, int allow_expunge);
/* The messages of a set argument (message numbers, or UIDs when uid). */
size_t imap_resolve_set(struct imap_session *s, const char *set, int uid, struct imap_ref **refs,
			int *bad);
/* fn for each of refs (ascending) with its current state, read from the
 * store in batches (never inside a store read): mi is NULL for a message
 * expunged since the view was last synced. fn returns non-zero to stop.
 * ST_OK or the store's error. */
int imap_each_msg(struct imap_session *s, const struct imap_ref *refs, size_t n,
		  int (*fn)(struct imap_session *s, const struct imap_ref *r,
			    const struct msg_info *mi, void *arg),
		  void *arg);
/* A CONDSTORE-enabling command (RFC 7162 3.1): turn it on; when it was off
 * and a mailbox is selected, tell its HIGHESTMODSEQ. */
void imap_condstore_on(struct imap_session *s);
/* mod-sequence-valzer (RFC 7162 7): decimal 0 .. 2^63-1; -1 otherwise. */
int imap_modseq_arg(const struct iarg *a, uint64_t *out);
/* A UID set in the order given, consecutive runs as ranges ("1:300,302"). */
void imap_uidset_out(struct sbuf *b, const uint32_t *u, size_t n);
/* QRESYNC (RFC 7162 3.2.5, 3.2.6): "* VANISHED (EARLIER) set" for the UIDs
 * of known (resolved; NULL: every UID) expunged after modseq since, never
 * one still in the view, and then (fetch != 0) "* n FETCH (UID FLAGS
 * MODSEQ)" for the messages of known in the view changed after since.
 * When the store no longer remembers every expunge since then, every UID
 * of known below uidnext that is not in the view is reported (RFC 7162
 * allows UIDs that never existed). ST_OK or the store's error. */
int imap_qresync_report(struct imap_session *s, const struct seqset *known, uint64_t since,
			uint32_t uidnext, int fetch);
/* This session sent FLAGS for uid at modseq (imap_sync will not repeat it). */
void imap_said(struct imap_session *s, uint32_t uid, uint64_t modseq);
/* A growable array of UIDs. */
struct u32v {
	uint32_t *v;
	size_t n, cap;
};
void u32v_push(struct u32v *a, uint32_t x);

/* "* seq FETCH (" into b, or with UIDONLY "* uid UIDFETCH (" (RFC 9586
 * 3.3). Returns whether a UID item is still worth adding where the
 * response would carry one (not with UIDFETCH, which is numbered by it). */
int imap_fetch_open(struct imap_session *s, struct sbuf *b, uint32_t seq, uint32_t uid);
/* imap.c, for imap_sync.c: an untagged line "fmt\r\n"; b's bytes as they
 * are; reload the mailbox's keyword names (1 if they changed); announce
 * FLAGS and PERMANENTFLAGS. */
void imap_out(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_put(struct imap_session *s, const struct sbuf *b);
int imap_kw_load(struct imap_session *s);
void imap_flags_announce(struct imap_session *s);
/* "(\Seen ...)" of message uid; \Recent too when it is recent to this
 * IMAP4rev1 session. */
void imap_flags_out(struct imap_session *s, struct sbuf *b, uint32_t flags, uint64_t kw,
		    uint32_t uid);
/* \Recent (RFC 3501 2.3.2) for IMAP4rev1 sessions (imap_sync.c): claim the
 * UIDs below upto no session has had as recent (an EXAMINE only looks);
 * whether uid is recent to this session; how many in the view are. */
void imap_recent_claim(struct imap_session *s, uint32_t upto);
int imap_is_recent(const struct imap_session *s, uint32_t uid);
uint32_t imap_recent_count(const struct imap_session *s);
/* Flag list argument: system flags to *flags, keyword names to kw[]. -1 bad. */
int imap_parse_flags(const struct iarg *a, uint32_t *flags, const char **kw, size_t *nkw,
		     size_t kwcap);
struct msg_src;
void imap_msg_src(struct imap_session *s, const struct msg_info *mi, struct msg_src *src);
const struct mime_part *imap_tree(struct imap_session *s, const struct msg_info *mi);

/* Reload keyword names; announce FLAGS when they changed. */
void imap_kw_refresh(struct imap_session *s);

/* Tests only: the pre-login wait and deadline in ms (0: the default). */
void imap_test_preauth_timeouts(int wait_ms, int total_ms);

/* imap.c, for imap_mbox.c: a mailbox name argument to UTF-8 (INBOX in any
 * case is INBOX; -1 bad); a name as an IMAP string (modified UTF-7 unless
 * UTF8=ACCEPT); the NO text for a store error. */
int imap_mbox_arg(struct imap_session *s, const struct iarg *a, char *out_name, size_t cap);
void imap_mbox_out(struct imap_session *s, struct sbuf *b, const char *name);
const char *imap_store_no(int rc);
/* Leave the selected state (no EXPUNGE of \Deleted). */
void imap_unselect(struct imap_session *s);

/* imap_mbox.c */
void imap_cmd_create(struct imap_session *s);
void imap_cmd_delete(struct imap_session *s);
void imap_cmd_rename(struct imap_session *s);
void imap_cmd_subscribe(struct imap_session *s); /* and UNSUBSCRIBE */
void imap_cmd_list(struct imap_session *s);      /* and LSUB */
void imap_cmd_status(struct imap_session *s);

/* imap_fetch.c */
void imap_cmd_fetch(struct imap_session *s, int uid);
void imap_cmd_store(struct imap_session *s, int uid);

/* imap_compress.c: COMPRESS DEFLATE (RFC 4978) */
void imap_cmd_compress(struct imap_session *s);

/* imap_quota.c: QUOTA (RFC 9208), one root "" per account with a limit,
 * STORAGE only; SETQUOTA answers NO (no QUOTASET). */
void imap_cmd_getquotaroot(struct imap_session *s);
void imap_cmd_getquota(struct imap_session *s);
void imap_cmd_setquota(struct imap_session *s);
/* STATUS DELETED-STORAGE (RFC 9208 4.3, required with QUOTA=RES-STORAGE):
 * the octets EXPUNGE would free, the sizes of the mailbox's \Deleted
 * messages (what the store's quota usage drops by); 0 if the read fails. */
uint64_t imap_quota_deleted_storage(struct imap_session *s, const char *name);

/* imap.c: APPEND's message groups, for MULTIAPPEND (RFC 3502), REPLACE
 * (RFC 8508) and CATENATE (RFC 4469). Each message is [off, off+len) of
 * body: the command's spool, or own (a CATENATE message assembled by
 * imap_catenate, freed with the array). */
struct imap_append_msg {
	uint32_t flags;
	const char **kw;
	size_t nkw;
	int64_t date;
	struct spool *body, *own;
	uint64_t off, len;
};
struct imap_append_msg *imap_append_groups(struct imap_session *s, const struct iarg *a,
					   size_t *n);
void imap_append_free(struct imap_append_msg *v, size_t n);
/* RFC 9051 9 date-time "dd-Mon-yyyy hh:mm:ss +zzzz": unix seconds or -1. */
int64_t imap_parse_datetime(const char *s);
/* 1 if sp holds a NUL octet in [off, off+len). */
int imap_spool_nul(struct spool *sp, uint64_t off, uint64_t len);

/* imap_replace.c: REPLACE and UID REPLACE (RFC 8508) */
void imap_cmd_replace(struct imap_session *s, int uid);

/* imap_catenate.c: APPEND's CATENATE (RFC 4469) message, parts = the
 * list after CATENATE: TEXT literals and URLs to the user's own messages
 * (RFC 5092, imapurl.h), assembled into a new spool *out (limits.message
 * size checked before anything large is read). 0, or -1 with the answer
 * (BAD syntax, NO [BADURL url], NO [TOOBIG]) given. */
int imap_catenate(struct imap_session *s, const struct iarg *parts, struct spool **out);
/* imap_notify.c: NOTIFY (RFC 5465). The command; the wait between
 * commands (returns when input is ready or the connection failed; after ms
 * of silence it ends the session, state IS_LOGOUT, reason "timeout"),
 * pushing notifications as changes come; one look at the store
 * after a wake-up during IDLE (the selected mailbox is imap_sync's); the
 * MessageNew fetch-att answer for new messages of the selected mailbox
 * (imap_sync.c calls it after EXISTS); teardown. */
void imap_cmd_notify(struct imap_session *s);
void imap_notify_wait(struct imap_session *s, int ms);
void imap_notify_poll(struct imap_session *s);
void imap_notify_new(struct imap_session *s, const uint32_t *uids, size_t n);
/* With NOTIFY SET (SELECTED-DELAYED ...), whether EXPUNGE may follow the
 * command name (RFC 5465 5.2); otherwise allowed unchanged. */
int imap_notify_expunge_ok(const struct imap_session *s, const char *name, int allowed);
void imap_notify_free(struct imap_session *s);

/* imap_fetch.c, for NOTIFY's MessageNew fetch-att: whether items (a list
 * of atoms) is a valid FETCH item list; "* n FETCH (...)" with those items
 * for each of uids (ascending) still in the view, never setting \Seen;
 * fn (if not NULL) is asked before each message and stops the answer when
 * it returns non-zero. */
int imap_fetch_items_ok(const struct iarg *items);
void imap_fetch_items_out(struct imap_session *s, const struct iarg *items, const uint32_t *uids,
			  size_t n, int (*stop)(struct imap_session *s));

/* imap_search.c */
void imap_cmd_search(struct imap_session *s, int uid);
/* A sequence-set argument, or "$" (SEARCHRES, RFC 5182): the saved
 * result's messages still in the view, as message numbers or as UIDs
 * (uid), whichever kind the command takes; "$" may be empty and is never
 * bad. Otherwise parsed and resolved against the view ('*' replaced,
 * sorted, merged); with strict, a message number beyond the mailbox is
 * bad (RFC 9051 6.4.4). 0, or -1 (bad; out is then empty). Free out with
 * seqset_free(). */
int imap_set_arg(struct imap_session *s, const char *set, int uid, int strict,
		 struct seqset *out);
/* Tests only: INPROGRESS (RFC 9585) every ms milliseconds of SEARCH (0:
 * after every message; negative: the default, 1 s). */
void imap_test_progress_ms(int ms);
/* MULTISEARCH (RFC 7377): ESEARCH [IN (filters)] [RETURN (...)] keys. */
void imap_cmd_esearch(struct imap_session *s);
/* SEARCHRES: make uids (ascending) the saved result ("$"). */
void imap_saved_set(struct imap_session *s, const uint32_t *uids, size_t n);
/* The header section of mi, at most cap bytes, appended to hdr and
 * NUL-terminated (a failed read gives what was read). */
void imap_hdr_read(struct imap_session *s, const struct msg_info *mi, struct sbuf *hdr, size_t cap);
/* SEARCH keys from keys on (all the remaining arguments), for SORT and
 * THREAD: NULL with *err (the BAD text) when they do not parse. After
 * imap_sync, imap_search_resolve fixes '*' in sets; imap_search_test
 * says whether a message matches. imap_search_modseq: a MODSEQ key was
 * used (RFC 7162 3.1.5: CONDSTORE-enabling, results carry MODSEQ). */
struct search_prog;
struct search_prog *imap_search_compile(struct imap_session *s, const struct iarg *keys,
					const char **err);
int imap_search_modseq(const struct search_prog *prog);
void imap_search_resolve(struct imap_session *s, struct search_prog *prog);
int imap_search_test(struct imap_session *s, const struct search_prog *prog,
		     const struct imap_ref *r, const struct msg_info *mi);
void imap_search_free(struct search_prog **progp);
/* Whether prog's answer for a message depends on that message's state
 * alone (no message numbers, "$", UID sets, OLDER/YOUNGER), so that it can
 * be kept up to date by testing the messages that change. */
int imap_search_updatable(const struct search_prog *prog);

/* partial-range (RFC 5267 4.4): "n:m", nz-numbers in either order. */
int imap_partial_arg(const struct iarg *a, uint32_t *lo, uint32_t *hi);

/* imap_sort.c: a sorted result kept in sort order for CONTEXT=SORT */
struct sort_live;
/* Take uid out: its position (1 = first) before, or 0 if not there. */
uint32_t sort_live_remove(struct sort_live *l, uint32_t uid);
/* Put the message in where its sort keys say: its position (1 = first). */
uint32_t sort_live_insert(struct imap_session *s, struct sort_live *l, const struct imap_ref *ref,
			  const struct msg_info *mi);
void sort_live_free(struct sort_live **lp);

/* imap_context.c: CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 4.3) */
#define IMAP_CONTEXTS_MAX 8 /* per session; more is NOUPDATE */
/* Whether a live context has this tag (a new UPDATE with it is BAD). */
int imap_context_tag_used(const struct imap_session *s, const char *tag);
/* Why a search with UPDATE and program prog (may be NULL) cannot be
 * kept, or NULL when it can. */
const char *imap_context_refusal(const struct imap_session *s, const struct search_prog *prog);
/* "* NO [NOUPDATE "tag"] why" for the command being answered. */
void imap_context_noupdate(struct imap_session *s, const char *why);
/* A new context owning prog (and sorted, for SORT; NULL for SEARCH), its
 * result the uids (ascending). */
void imap_context_add(struct imap_session *s, const char *tag, int uid, struct search_prog *prog,
		      const uint32_t *uids, size_t n, struct sort_live *sorted);
void imap_context_free_all(struct imap_session *s);
/* imap_sync, before announcing the expunge of gone (ascending, still in the
 * view): REMOVEFROM for the results that lose them. */
void imap_context_expunged(struct imap_session *s, const uint32_t *gone, size_t n);
/* imap_sync, after EXISTS and FETCH: uids (ascending) arrived or changed;
 * ADDTO/REMOVEFROM as they now match or not. */
void imap_context_changed(struct imap_session *s, const uint32_t *uids, size_t n);
void imap_cmd_cancelupdate(struct imap_session *s);

/* imap_sort.c: SORT/UID SORT (RFC 5256, 5957, ESORT of 5267) and
 * THREAD/UID THREAD (RFC 5256) */
void imap_cmd_sort(struct imap_session *s, int uid);
void imap_cmd_thread(struct imap_session *s, int uid);
/* Parse IMAP date "1-Feb-1994"; unix seconds of 00:00 UTC or -1. */
int64_t imap_parse_date(const char *s);

#endif
