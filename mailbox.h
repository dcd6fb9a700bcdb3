/*
 * mailbox.h — the store: accounts, aliases, mailboxes, messages, the
 * outbound queue. the mailbox*.c files are the only ones that speak LMDB.
 *
 * Contract for every function here:
 *  - Thread-safe. One `struct store` per process (LMDB forbids opening one
 *    environment twice in a process and using it across fork()).
 *  - Return ST_OK (0) or one of enum store_rc. ST_TEMP is "try again later"
 *    (map could not grow, disk full, I/O error): callers map it to SMTP 452 /
 *    IMAP NO; it never means the store is damaged.
 *  - Every write is committed with sync on before the function returns ST_OK:
 *    an ST_OK is what SMTP 250 and IMAP APPEND OK may promise.
 *  - Addresses are matched case-insensitively (stored lower-cased); mailbox
 *    names are UTF-8 with '/' as hierarchy separator, "INBOX" matched
 *    case-insensitively.
 *  - Callbacks run inside a read transaction: they must not call back into
 *    the store, and pointers they receive are valid only during the call.
 */
#ifndef BREV_MAILBOX_H
#define BREV_MAILBOX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cred.h"

struct journal_in;
struct spool;
struct store;

enum store_rc {
	ST_OK = 0,
	ST_NOTFOUND,  /* no such account / alias / mailbox / message */
	ST_EXISTS,    /* already there */
	ST_QUOTA,     /* over the account's quota (now) */
	ST_TOOBIG,    /* can never fit (larger than the quota itself) */
	ST_INVALID,   /* bad name or argument, or forbidden (delete INBOX) */
	ST_TEMP,      /* temporary failure: disk full, map cannot grow, I/O */
	ST_LIMIT,     /* a mailbox's keyword table (STORE_KEYWORDS) is full */
};
const char *store_strerror(int rc);

#define STORE_ADDR_MAX   254  /* RFC 5321 4.5.3.1.3 path limit */
#define STORE_MBOX_MAX   512  /* bytes of a UTF-8 mailbox name (the store
				 * accepts 507: LMDB's 511-byte key limit) */
#define STORE_ALIAS_MAX  100  /* targets of one alias */
#define STORE_KEYWORDS   64   /* keywords per mailbox */

/* Open (creating if needed) DATADIR/store. map_size is the initial LMDB map
 * size; the map grows on demand. On failure returns -1 with a one-line
 * reason in err. */
int store_open(struct store **out, const char *datadir, uint64_t map_size, char *err,
	       size_t errlen);
void store_close(struct store **sp);
/* Default per-account quota in bytes (0 = none); from quota.default. */
void store_set_default_quota(struct store *st, uint64_t bytes);
/* Per-account limit on the number of messages, all mailboxes together
 * (0 = none); from quota.messages. The same for every account. */
void store_set_msg_quota(struct store *st, uint32_t messages);

/* ---- accounts ---- */

#define QUOTA_DEFAULT UINT64_MAX /* account uses the store's default */

struct account {
	uint32_t id;                        /* never reused */
	char addr[STORE_ADDR_MAX + 1];      /* lower-cased local@domain */
	uint64_t quota;                     /* bytes; QUOTA_DEFAULT or 0 = none */
	uint64_t quota_effective;           /* resolved limit, 0 = none */
	uint64_t used;                      /* bytes of messages in all mailboxes */
	uint32_t messages;
	uint32_t msg_quota;                 /* limit on messages, 0 = none */
	int spam;                           /* enum spam_strength; 0 = brev.conf's */
	struct cred cred;
};

/* Creates the account and its mailboxes INBOX, Drafts, Sent, Junk, Trash,
 * Archive (with SPECIAL-USE roles), all subscribed; in the same commit, the
 * alias postmaster@DOMAIN -> addr when DOMAIN has no postmaster account or
 * alias yet (RFC 5321 4.5.1). ST_EXISTS if the address is an account or an
 * alias; ST_INVALID if it is not local@domain. */
int store_user_add(struct store *st, const char *addr, const struct cred *cred);
int store_user_set_cred(struct store *st, const char *addr, const struct cred *cred);
int store_user_set_quota(struct store *st, const char *addr, uint64_t bytes);
/* The account's spam filter strength (enum spam_strength, 0 = brev.conf's
 * spam.strength); ST_INVALID for a value out of range. */
int store_user_set_spam(struct store *st, const char *addr, int strength);
/* Deletes the account, its mailboxes and its references to messages. */
int store_user_del(struct store *st, const char *addr);
int store_user_get(struct store *st, const char *addr, struct account *out);
int store_user_get_id(struct store *st, uint32_t id, struct account *out);
int store_user_list(struct store *st, void (*cb)(void *arg, const struct account *a), void *arg);

/* ---- aliases ---- */

/* Adds targets to ADDRESS (creating the alias). ADDRESS may be '@domain'
 * (catch-all). Targets: local users, other aliases, external addresses.
 * ST_EXISTS if ADDRESS is an account. */
int store_alias_add(struct store *st, const char *addr, const char *const *targets, size_t n);
int store_alias_del(struct store *st, const char *addr);

/* The checked change `brev alias add|set` makes. ALIAS_ADD creates the
 * alias or adds members to it (members it has already are not repeated);
 * ALIAS_SET creates it or replaces its members. A change that would make
 * mail for addr come back to addr is refused with ST_INVALID and the loop
 * in chg->cycle ("a@d -> b@d -> a@d"), following aliases as store_resolve
 * does (exact address, +tag, catch-all); nothing is written then. Other
 * results as store_alias_add. chg is always filled. */
enum { ALIAS_ADD, ALIAS_SET };
struct alias_change {
	int existed;	/* the alias was there before */
	size_t before;	/* its members before */
	size_t after;	/* its members now */
	size_t added;	/* members that were not there before (ALIAS_ADD) */
	char cycle[1024];
};
int store_alias_update(struct store *st, const char *addr, const char *const *targets, size_t n,
		       int mode, struct alias_change *chg);
/* Removes one member; the alias is deleted with its last member
 * (chg->after == 0). ST_NOTFOUND if there is no such alias
 * (chg->existed == 0) or it has no such member. */
int store_alias_del_member(struct store *st, const char *addr, const char *member,
			   struct alias_change *chg);
/* cb gets each alias with its targets. */
int store_alias_list(struct store *st,
		     void (*cb)(void *arg, const char *addr, const char *const *targets, size_t n),
		     void *arg);

/* Where mail for rcpt goes, after alias expansion (recursive, loop-safe,
 * depth-bounded). Lookup order: the exact address (account, then alias);
 * then 'user+tag' without its tag; then the catch-all '@domain'. The caller
 * checks that the domain is local before asking. */
struct resolved {
	uint32_t users[STORE_ALIAS_MAX];    /* local account ids, no duplicates */
	size_t nusers;
	char *external[STORE_ALIAS_MAX];    /* forwarding targets, malloc'ed */
	size_t nexternal;
};
/* ST_OK with at least one target, or ST_NOTFOUND. */
int store_resolve(struct store *st, const char *rcpt, struct resolved *out);
void store_resolved_free(struct resolved *r);

/* ---- mailing lists (mailbox_list.c; docs/lists.md) ---- */

/* Who may subscribe: anyone at once (open), anyone after confirming by
 * mail (confirm), or only the owner with `brev list sub` (closed). */
enum list_policy { LIST_OPEN, LIST_CONFIRM, LIST_CLOSED };
/* Who may post: members (others held for the owner), everyone's posts
 * held (moderated), anyone, or the owner alone (announce). */
enum list_posting { LIST_POST_MEMBERS, LIST_POST_MODERATED, LIST_POST_ANYONE,
		    LIST_POST_ANNOUNCE };

struct list_info {
	char addr[STORE_ADDR_MAX + 1];   /* lower-cased LIST@DOMAIN */
	char owner[STORE_ADDR_MAX + 1];  /* lower-cased */
	int policy, posting;             /* enum list_policy, enum list_posting */
	int64_t created;                 /* unix seconds */
	uint32_t members;                /* subscribed, disabled ones included */
};

struct list_member {
	char addr[STORE_ADDR_MAX + 1];   /* lower-cased */
	int64_t since;                   /* unix seconds it was subscribed */
	uint32_t bounces;                /* counted bounces (VERP) */
	int disabled;                    /* no mail sent to it */
};

/* What refused a name: `what` is "an account", "an alias" or "a mailing
 * list" and addr the address that holds it. */
struct list_clash {
	const char *what;
	char addr[STORE_ADDR_MAX + 1];
};

/* Creates the list addr (local@domain) owned by owner. A list answers to
 * addr, to the local part + "-request" and to + "-bounces" (each also
 * with a +tag): ST_EXISTS, with the clash filled, when any of the three is
 * an account, an alias or a list already, or when the list's own name ends
 * in -request/-bounces of another list. ST_INVALID for a bad address,
 * policy or posting, or a local part too long for the -bounces address. */
int store_list_add(struct store *st, const char *addr, const char *owner, int policy,
		   int posting, struct list_clash *clash);
/* Deletes the list and all its members. ST_NOTFOUND if there is none. */
int store_list_del(struct store *st, const char *addr);
int store_list_get(struct store *st, const char *addr, struct list_info *out);
/* cb gets each list, in address order. */
int store_list_each(struct store *st, void (*cb)(void *arg, const struct list_info *l),
		    void *arg);
/* Adds member (any local@domain address) to list; *added is 0 when it was
 * already a member (a disabled member is enabled again, its bounces
 * forgotten). ST_NOTFOUND if there is no such list. */
int store_list_sub(struct store *st, const char *list, const char *member, int *added);
/* Removes member. ST_NOTFOUND if there is no such list or member
 * (*was_list tells which). */
int store_list_unsub(struct store *st, const char *list, const char *member, int *was_list);
/* member's record in list; ST_NOTFOUND when there is no such list or
 * member. */
int store_list_member(struct store *st, const char *list, const char *member,
		      struct list_member *out);
/* One bounce of member (VERP): its count goes up by one, and at limit it
 * is disabled (no more mail; `brev list sub` enables it again). *count
 * gets the new count, *disabled_now 1 when this bounce disabled it.
 * ST_NOTFOUND when there is no such list or member (nothing counted); a
 * member already disabled counts on. */
int store_list_bounce(struct store *st, const char *list, const char *member, uint32_t limit,
		      uint32_t *count, int *disabled_now);
/* The secret list confirmation tokens are made with (list_addr.h): 32
 * random bytes, made by the first caller and kept in the store (so a
 * backup keeps it and every process shares it). */
int store_list_secret(struct store *st, unsigned char out[32]);
/* Mark confirmation token tok (LIST_TOKEN_LEN characters) used: ST_OK the
 * first time, ST_EXISTS when it was used before (a replay). Kept until
 * expiry (unix seconds); a few expired ones are removed on every call. */
int store_list_token_use(struct store *st, const char *tok, int64_t expiry, int64_t now);
/* May list send one more automatic reply (confirmation, help, refusal) to
 * addr? At most max per `window` seconds per list and address: *ok 1 and
 * counted, or *ok 0 (nothing written). What keeps a list from being used
 * to mail-bomb a third party with confirmations. */
int store_list_reply_ok(struct store *st, const char *list, const char *addr, int64_t now,
			uint32_t max, int64_t window, int *ok);
/* Posts held for the list's owner (moderation). store_list_hold keeps the
 * post's n bytes (pre + body, at most a list post's size) and its envelope
 * sender, *id gets its number (never reused). store_list_held_get copies
 * them out (*bytes malloc'ed). ST_NOTFOUND for no such list or post. */
int store_list_hold(struct store *st, const char *list, const char *sender, const char *bytes,
		    size_t n, uint64_t *id);
int store_list_held_get(struct store *st, const char *list, uint64_t id, char **bytes,
			size_t *n, char *sender, size_t cap);
int store_list_held_del(struct store *st, const char *list, uint64_t id);
/* cb gets each held post of list in id order (bytes valid during the call). */
int store_list_held_each(struct store *st, const char *list,
			 void (*cb)(void *arg, uint64_t id, int64_t created, const char *sender,
				    const char *bytes, size_t n),
			 void *arg);
/* cb gets each member, in address order, within one read transaction
 * (10,000 members cost one cursor walk, no allocation). */
int store_list_members(struct store *st, const char *list,
		       void (*cb)(void *arg, const struct list_member *m), void *arg);

/* ---- mailboxes ---- */

enum mbox_special {
	MBOX_NORMAL = 0, MBOX_INBOX, MBOX_DRAFTS, MBOX_SENT, MBOX_JUNK, MBOX_TRASH, MBOX_ARCHIVE,
};

struct mbox_info {
	uint32_t id;
	char name[STORE_MBOX_MAX + 1];
	int special;                        /* enum mbox_special */
	int subscribed;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t exists;
	uint32_t unseen;
	uint64_t highestmodseq;
	uint64_t size;                      /* sum of message sizes */
};

int store_mbox_list(struct store *st, uint32_t user,
		    void (*cb)(void *arg, const struct mbox_info *m), void *arg);
int store_mbox_get(struct store *st, uint32_t user, const char *name, struct mbox_info *out);
int store_mbox_create(struct store *st, uint32_t user, const char *name, int special);
/* ST_INVALID for INBOX. Messages go with it. */
int store_mbox_delete(struct store *st, uint32_t user, const char *name);
/* RFC 3501 6.3.5: renaming INBOX moves its messages to the new name and
 * leaves INBOX empty. Children of old/ move along. */
int store_mbox_rename(struct store *st, uint32_t user, const char *oldname, const char *newname);
int store_mbox_subscribe(struct store *st, uint32_t user, const char *name, int on);
/* Subscriptions kept after their mailbox went (RFC 3501 6.3.6: DELETE does
 * not end a subscription; RFC 5258 lists it \NonExistent). on 1: keep
 * name's; 0: forget it (ST_NOTFOUND if none was kept); -1: only ask
 * (ST_OK kept, ST_NOTFOUND not). store_sub_kept calls cb(name) for each,
 * inside the read (cb must not call the store). */
int store_sub_keep(struct store *st, uint32_t user, const char *name, int on);
int store_sub_kept(struct store *st, uint32_t user, void (*cb)(void *arg, const char *name),
		   void *arg);
/* \Recent for IMAP4rev1 sessions (RFC 3501 2.3.2): *from gets the mailbox's
 * recent boundary, the lowest UID no session has claimed as recent; if upto
 * is above it, the boundary moves to upto in the same write, and the caller
 * alone has UIDs [*from, upto) as recent. upto 0 only reads. */
int store_mbox_recent(struct store *st, uint32_t user, const char *name, uint32_t upto,
		      uint32_t *from);

/* ---- messages ---- */

enum msg_flag {
	FL_SEEN = 1 << 0, FL_ANSWERED = 1 << 1, FL_FLAGGED = 1 << 2,
	FL_DELETED = 1 << 3, FL_DRAFT = 1 << 4,
};

struct msg_info {
	uint32_t uid;
	uint32_t flags;                     /* enum msg_flag */
	uint64_t keywords;                  /* bit i = keyword i of the mailbox */
	uint64_t modseq;
	uint64_t size;                      /* octets, exactly as stored */
	int64_t internaldate;               /* unix seconds */
	/* When the message entered this mailbox (RFC 8514 save date: delivery,
	 * APPEND, COPY and MOVE set it; flag changes and RENAME keep it), unix
	 * seconds. A message stored before schema 3 has none recorded and
	 * answers its internaldate. */
	int64_t savedate;
	uint64_t blob;                      /* message bytes, shared */
};

/* A message entering the store: hdr (may be NULL) is prepended to body. */
struct msg_in {
	const char *hdr;
	size_t hdrlen;
	struct spool *body;
	int64_t internaldate;               /* 0 = now */
	uint32_t flags;
	const char *const *keywords;        /* names, for APPEND */
	size_t nkeywords;
	/* Only the part [body_off, body_off + body_len) of body, when body_len
	 * is not 0 (several IMAP APPEND messages share one spool). */
	uint64_t body_off, body_len;
	/* Journal records to write in the same commit (journal.h), or NULL. */
	const struct journal_in *journal;
	/* store_deliver only, or NULL: junk[i] != 0 files user i's copy into
	 * that account's \Junk special-use mailbox instead of mbox (the spam
	 * filter's verdict). An account without one gets a "Junk" mailbox
	 * marked \Junk, created in the same commit; a mailbox named "Junk"
	 * that is not marked is used as it is. */
	const unsigned char *junk;
	/* store_deliver only, or NULL: where each user's copies go, as its
	 * Sieve script decided (sieve_deliver.c, docs/sieve.md), indexed like
	 * users. place[i].n == 0 stores nothing for user i (discard: rc[i] is
	 * ST_OK); otherwise one message per target, all sharing the one blob.
	 * A user without a script has one target {NULL}: mbox, or Junk as
	 * `junk` says. When no target of a user could be stored the user's rc
	 * is the first failure; a copy that fits goes in even when another
	 * does not. */
	const struct deliver_place *place;
	/* store_queue_add only: enum queue_flag bits the entry starts with
	 * (QF_VERP); 0 for everything else. */
	uint32_t queue_flags;
	/* store_queue_add only, or NULL: the local address that wrote this
	 * message (submission); each (known_local, recipient) becomes a known
	 * pair (greylisting, below) in the same commit, so a message a user
	 * sends costs no write of its own for it. */
	const char *known_local;
};

/* One copy of a delivered message (msg_in.place). */
struct deliver_target {
	const char *mbox;             /* NULL: store_deliver's mbox, or Junk by msg_in.junk;
				       * a mailbox that does not exist: INBOX, unless create */
	int create;                   /* create mbox when missing (Sieve fileinto :create) */
	uint32_t flags;               /* enum msg_flag, added to msg_in.flags */
	const char *const *keywords;  /* keyword names, added to msg_in.keywords */
	size_t nkeywords;
};
struct deliver_place {
	const struct deliver_target *t;
	size_t n;
};

/* Store one message into `mbox` (NULL = INBOX) of each of n users, the bytes
 * once. rc[i] gets each user's result (ST_OK, ST_QUOTA, ST_TOOBIG,
 * ST_NOTFOUND) and uid_out[i] (if not NULL) the UID. Returns ST_OK when the
 * commit happened (even if some users were refused), ST_TEMP when nothing
 * was stored. */
int store_deliver(struct store *st, const uint32_t *users, size_t n, const char *mbox,
		  const struct msg_in *m, int *rc, uint32_t *uid_out);
/* APPEND: one user, one mailbox; *uidvalidity and *uid for APPENDUID.
 * ST_LIMIT (nothing stored) if a keyword would not fit the mailbox's
 * table; store_deliver instead drops such keywords and keeps the mail. */
int store_append(struct store *st, uint32_t user, const char *mbox, const struct msg_in *m,
		 uint32_t *uidvalidity, uint32_t *uid);
/* MULTIAPPEND (RFC 3502): all n messages into one mailbox in one commit, or
 * none; uids[i] gets each UID. ST_OK, or the first refusal (ST_QUOTA,
 * ST_TOOBIG, ST_NOTFOUND, ST_INVALID, ST_LIMIT) or ST_TEMP, with nothing
 * stored. */
int store_append_many(struct store *st, uint32_t user, const char *mbox, const struct msg_in *m,
		      size_t n, uint32_t *uidvalidity, uint32_t *uids);
/* Full-text index (mailbox_fts.c; docs/store.md "Full-text index"): the
 * blobs whose words may hold `needle` (UTF-8) as a substring, for IMAP
 * SEARCH BODY/TEXT to read instead of every message. It narrows, never
 * decides: a candidate must still be confirmed on its bytes. ST_OK with
 * *out filled (free it with store_fts_free), ST_INVALID when the index
 * cannot narrow this needle (no letter or digit in it, not UTF-8, or too
 * many candidates: read every message), ST_TEMP. */
struct store_fts {
	uint64_t from;                      /* blobs below were stored before the index */
	uint64_t *blobs;                    /* sorted, distinct */
	size_t n, cap;
};
int store_fts_candidates(struct store *st, const char *needle, struct store_fts *out);
/* 1 when the message with this blob may hold the needle (a candidate, or
 * stored before the index existed), 0 when it cannot. */
int store_fts_may_match(const struct store_fts *c, uint64_t blob);
void store_fts_free(struct store_fts *c);
/* Merge every pending blob's words into the word table now (they are
 * merged every 256 deliveries and at store_open): ST_OK or ST_TEMP. */
int store_fts_flush(struct store *st);
/* Whether `size` more bytes fit the user's quota: ST_OK, ST_QUOTA, ST_TOOBIG. */
int store_quota_check(struct store *st, uint32_t user, uint64_t size);

/* Messages of a mailbox in ascending UID order, from uid_min on. */
int store_msg_list(struct store *st, uint32_t user, const char *mbox, uint32_t uid_min,
		   int (*cb)(void *arg, const struct msg_info *m), void *arg);
int store_msg_get(struct store *st, uint32_t user, const char *mbox, uint32_t uid,
		  struct msg_info *out);
/* Several UIDs (ascending) in one read: out[i] and found[i] for uids[i].
 * For batches of a FETCH or SEARCH; callers keep n modest (a few
 * thousand) since out is theirs. */
int store_msg_get_many(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		       size_t n, struct msg_info *out, unsigned char *found);

/* Where the messages holding blob (an EMAILID, objid.h) are in user's
 * mailboxes: up to max places into out, ascending by mailbox id then UID;
 * *n gets how many there are (may exceed max). None is ST_OK with *n 0.
 * Kept in the same commits as the messages (docs/store.md, DB_PLACE). */
struct msg_place {
	uint32_t mbox_id, uid;
};
int store_msg_places(struct store *st, uint32_t user, uint64_t blob, struct msg_place *out,
		     size_t max, size_t *n);

/* The UIDs of a mailbox as runs of consecutive UIDs, ascending: what an
 * IMAP session needs at SELECT, read without touching the messages (a
 * mailbox without holes is one run). *runs is malloc'ed (free it, also on
 * errors); *info (if not NULL) comes from the same read. */
struct uid_run {
	uint32_t first, count;
};
int store_msg_runs(struct store *st, uint32_t user, const char *mbox, struct uid_run **runs,
		   size_t *n, struct mbox_info *info);
/* What happened to a mailbox after modseq `since`: cb(uid, m) for every
 * message added or whose flags changed (m its current state), and
 * cb(uid, NULL) for every UID expunged, expunges first. *info (if not
 * NULL) from the same read. When the expunges after `since` are no longer
 * all known (more than a few thousand since), *stale = 1 and cb is not
 * called: compare store_msg_runs instead. cb runs inside the read: it must
 * not block or call the store; non-zero stops. */
int store_msg_changes(struct store *st, uint32_t user, const char *mbox, uint64_t since,
		      int (*cb)(void *arg, uint32_t uid, const struct msg_info *m), void *arg,
		      struct mbox_info *info, int *stale);
/* The same, for JMAP's Email/changes: cb also gets the blob (the Email)
 * of each message, and of each expunged UID (m NULL) the blob it held, or
 * 0 when the expunge was recorded before brev kept it. */
int store_msg_changes_blob(struct store *st, uint32_t user, const char *mbox, uint64_t since,
			   int (*cb)(void *arg, uint32_t uid, const struct msg_info *m,
				     uint64_t blob),
			   void *arg, struct mbox_info *info, int *stale);
/* The lowest UID without \Seen, 0 if none. */
int store_msg_first_unseen(struct store *st, uint32_t user, const char *mbox, uint32_t *uid);
/* Stream a message: copies up to n bytes from offset off; returns bytes
 * copied (0 at the end) or -1. */
long store_msg_read(struct store *st, uint64_t blob, uint64_t off, void *buf, size_t n);

enum flag_op { FLAGS_SET, FLAGS_ADD, FLAGS_DEL };
/* Change flags and keywords of the given UIDs; each changed message gets a
 * new modseq. Unknown UIDs are skipped. ST_LIMIT, nothing changed, when a
 * new keyword would not fit the mailbox's table (STORE_KEYWORDS). */
int store_msg_flags(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		    size_t n, int op, uint32_t flags, const char *const *keywords, size_t nkw);
/* The same, conditional (IMAP CONDSTORE, RFC 7162 3.1.3): in the same
 * write, a message whose modseq is above unchangedsince is left as it is
 * and gets failed[i] = 1 (failed has n bytes; all 0 on any error). */
int store_msg_flags_if(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		       size_t n, int op, uint32_t flags, const char *const *keywords, size_t nkw,
		       uint64_t unchangedsince, unsigned char *failed);
/* Keyword names of a mailbox, index i = bit i. */
int store_mbox_keywords(struct store *st, uint32_t user, const char *mbox,
			void (*cb)(void *arg, int index, const char *name), void *arg);
/* Remove messages for good (IMAP EXPUNGE, POP3 UPDATE): atomic, one commit. */
int store_msg_expunge(struct store *st, uint32_t user, const char *mbox, const uint32_t *uids,
		      size_t n);
/* REPLACE (RFC 8508): expunge old_uid from src and store m into dst
 * (src or another mailbox) in one commit: both or neither. *uidvalidity
 * and *uid for APPENDUID. A refusal of the new message (ST_QUOTA, counted
 * after the old one's bytes are freed; ST_TOOBIG, ST_NOTFOUND for dst,
 * ST_LIMIT, ST_INVALID) or ST_TEMP leaves the old message where it was.
 * An old_uid already gone is no error: the new message is stored. */
int store_msg_replace(struct store *st, uint32_t user, const char *src, uint32_t old_uid,
		      const char *dst, const struct msg_in *m, uint32_t *uidvalidity,
		      uint32_t *uid);
/* Copy (or move, when move != 0) into dst, new UIDs in new_uids[i] (0 for a
 * uid that did not exist). The bytes are shared, not duplicated. ST_LIMIT,
 * nothing copied or moved, when dst's keyword table has no room for a
 * keyword of the messages. */
int store_msg_copy(struct store *st, uint32_t user, const char *src, const char *dst,
		   const uint32_t *uids, size_t n, int move, uint32_t *dst_uidvalidity,
		   uint32_t *new_uids);

/* ---- the spam classifier's token database (mailbox_spam.c) ----
 * Per account: for each token hash, in how many trained spam and ham
 * messages it occurred and the day it was last trained; the number of
 * trained messages; which messages were trained which way. Bounded to
 * BAYES_TOKENS_MAX tokens per account: training past it drops the tokens
 * trained longest ago. */
#define BAYES_TOKENS_MAX 300000
struct bayes_count {
	uint32_t spam, ham;
};
struct bayes_stat {
	uint32_t nspam, nham;               /* trained messages */
	uint32_t tokens;                    /* distinct tokens kept */
	int64_t last_spam, last_ham;        /* unix seconds, 0 = never */
	uint64_t pruned;                    /* tokens dropped over the bound */
};
enum { BAYES_SPAM = 1, BAYES_HAM = 2 };
/* out[i] gets the counts of h[i] (0, 0 when unknown); *stat the totals
 * (either may be NULL). */
int store_bayes_counts(struct store *st, uint32_t user, const uint64_t *h, size_t n,
		       struct bayes_count *out, struct bayes_stat *stat);
/* Train message `key` (a blob id, or a content hash with the top bit set)
 * as dir (BAYES_SPAM or BAYES_HAM) with its distinct token hashes h. A
 * message already trained that way is left alone (*changed = 0); one
 * trained the other way has that training reversed first. One commit. */
int store_bayes_train(struct store *st, uint32_t user, uint64_t key, int dir, const uint64_t *h,
		      size_t n, int *changed);
/* How message `key` was trained: 0, BAYES_SPAM or BAYES_HAM. */
int store_bayes_trained(struct store *st, uint32_t user, uint64_t key, int *dir);

/* ---- spam lists (mailbox_spamlist.c, docs/spam.md "Allow and block
 * lists") ----
 * Per account, patterns of envelope senders whose mail is always let
 * through (allow) or always treated as spam (block): an address
 * ("a@example.org") or a domain ("example.org" or "@example.org"), which
 * covers its subdomains too; stored lower-cased, at most SPAM_LIST_MAX per
 * account, deleted with the account. One kind per pattern: allowing a
 * blocked pattern moves it. */
enum { SPAM_LIST_ALLOW = 'A', SPAM_LIST_BLOCK = 'B' };
#define SPAM_LIST_MAX 1000
/* The stored form of a pattern into out; -1 if it is neither. */
int spam_list_pattern(const char *in, char *out, size_t cap);
/* on: add pattern as kind (ST_LIMIT when the list is full); off: remove it
 * whatever its kind (ST_NOTFOUND when it was not there). ST_INVALID for a
 * bad pattern. */
int store_spam_list_set(struct store *st, uint32_t user, int kind, const char *pattern, int on);
int store_spam_list_each(struct store *st, uint32_t user,
			 void (*cb)(void *arg, int kind, const char *pattern), void *arg);
/* *kind: the list that names sender (SPAM_LIST_ALLOW/BLOCK), or 0. The
 * most specific pattern wins (the address, then its domain, then each
 * parent); block before allow at the same one. The null sender matches
 * nothing. */
int store_spam_list_match(struct store *st, uint32_t user, const char *sender, int *kind);

/* ---- greylisting (mailbox_grey.c, docs/spam.md "Greylisting") ----
 * One table of two kinds of entry, each a 64-bit hash of its (ASCII
 * case-folded) strings with the time it was first and last seen:
 *   a triplet (client network, envelope sender, recipient): WAIT until it
 *   has been seen `delay` seconds ago, then PASS for GREY_PASSED_LIFE
 *   after its last use (each pass renews it); not retried within
 *   GREY_PENDING_LIFE it is forgotten;
 *   a known pair (local address, remote address): the local address sent
 *   mail to the remote one; mail from remote to local always passes for
 *   GREY_KNOWN_LIFE after the last such message.
 * At most store_grey_max entries: expired ones are removed on a write once an
 * hour or when the table is full; when it is still full a new triplet
 * PASSes (never stored, never delayed). `now` is the caller's clock (unix
 * seconds) so the lifetimes can be tested. ST_OK or ST_TEMP. */
#define GREY_MAX          100000u
extern size_t store_grey_max; /* GREY_MAX; the unit test lowers it */
#define GREY_PENDING_LIFE (2 * 86400)
#define GREY_PASSED_LIFE  (36 * 86400)
#define GREY_KNOWN_LIFE   (365 * 86400)
enum { GREY_PASS = 0, GREY_WAIT = 1, GREY_KNOWN = 2 };
int store_grey_check(struct store *st, const char *net, const char *from, const char *rcpt,
		     int64_t now, int64_t delay, int *verdict);
int store_grey_known_add(struct store *st, const char *local, const char *remote, int64_t now);
/* *known = 1 if local wrote to remote within GREY_KNOWN_LIFE (a read). */
int store_grey_known(struct store *st, const char *local, const char *remote, int64_t now,
		     int *known);
/* Remove every expired entry now; *left gets the entries kept. */
int store_grey_prune(struct store *st, int64_t now, size_t *removed, size_t *left);

/* ---- Sieve scripts, vacation and duplicate records (mailbox_sieve.c,
 * docs/sieve.md "Where scripts live") ----
 * Per account: at most STORE_SIEVE_SCRIPTS named scripts of at most
 * STORE_SIEVE_SIZE bytes each, at most one of them active. Names are 1 to
 * STORE_SIEVE_NAME bytes of UTF-8 without control characters, '/' or '\\'
 * (RFC 5804 1.6 forbids only controls; brev is stricter so a name is also
 * a safe file name for `brev sieve get`). The store does not compile
 * scripts: the callers check them first (sieve_compile). Deleting an
 * account deletes its scripts and records.
 * Returns: ST_OK; ST_NOTFOUND (no such script / no active script);
 * ST_EXISTS (RENAME onto an existing name); ST_INVALID (bad name, size
 * over STORE_SIEVE_SIZE, DELETE of the active script); ST_LIMIT (a new
 * name when the account has STORE_SIEVE_SCRIPTS already); ST_TEMP. */
#define STORE_SIEVE_SCRIPTS 16
#define STORE_SIEVE_SIZE    (64 * 1024)
#define STORE_SIEVE_NAME    128
struct sieve_script_info {
	char name[STORE_SIEVE_NAME + 1];
	uint32_t size;
	int active;
};
int store_sieve_name_ok(const char *name);
/* Create or replace; an active script stays active. */
int store_sieve_put(struct store *st, uint32_t user, const char *name, const char *src, size_t len);
/* *src (malloc'ed, NUL-terminated, the caller frees) and *len. active, if
 * not NULL, is set to 1 when it is the active script. */
int store_sieve_get(struct store *st, uint32_t user, const char *name, char **src, size_t *len,
		    int *active);
/* The account's scripts in name order; *out malloc'ed (NULL when none). */
int store_sieve_list(struct store *st, uint32_t user, struct sieve_script_info **out, size_t *n);
/* Make name the active script; NULL or "" deactivates (ST_OK either way). */
int store_sieve_activate(struct store *st, uint32_t user, const char *name);
int store_sieve_delete(struct store *st, uint32_t user, const char *name);
/* The active script stays active under its new name. */
int store_sieve_rename(struct store *st, uint32_t user, const char *from, const char *to);
/* The active script's name and text (both malloc'ed); ST_NOTFOUND: none. */
int store_sieve_active(struct store *st, uint32_t user, char **name, char **src, size_t *len);
/* Whether name (new or replaced) with size bytes would fit: ST_OK,
 * ST_INVALID (too large, bad name) or ST_LIMIT (too many scripts). */
int store_sieve_space(struct store *st, uint32_t user, const char *name, uint64_t size);

/* Vacation (RFC 5230 4.2/4.6) and duplicate (RFC 7352) records: a 64-bit
 * hash of the case-folded strings with the time the record expires.
 * store_vacation_take: one reply per (handle, sender) per `seconds`: *send
 * = 1 and the record written (now + seconds) when there is no live record,
 * else *send = 0 and nothing changes. The record is written before the
 * reply is queued: a crash in between loses one reply, never sends two.
 * store_dup_seen: *seen = 1 when id was recorded and has not expired.
 * store_dup_record: record id until now + seconds.
 * Expired records of the account are removed on each write; an account
 * keeps at most STORE_SIEVE_RECORDS live ones (vacation: when full no reply
 * is sent; duplicate: the id is not recorded). ST_OK or ST_TEMP. */
#define STORE_SIEVE_RECORDS 10000
int store_vacation_take(struct store *st, uint32_t user, const char *handle, const char *sender,
			int64_t now, int64_t seconds, int *send);
int store_dup_seen(struct store *st, uint32_t user, const char *id, int64_t now, int *seen);
int store_dup_record(struct store *st, uint32_t user, const char *id, int64_t now, int64_t seconds);

/* ---- outbound queue ---- */

struct queue_entry {
	uint64_t id;
	char from[STORE_ADDR_MAX + 1];      /* "" for the null sender */
	char **rcpts;                       /* the recipients still to do */
	size_t nrcpts;
	uint64_t blob;
	uint64_t size;
	int64_t created;                    /* unix seconds */
	int64_t next_try;
	uint32_t attempts;
	char last_error[512];
	uint32_t flags;                     /* enum queue_flag */
	char tid[24];                       /* tracking id (journal.h); "" if none */
};

enum queue_flag {
	QF_DELAY_SENT = 1 << 0,             /* the 4-hour delay notice went out */
	QF_LEASED = 1 << 1,                 /* taken by a delivery thread */
	QF_VERP = 1 << 2,                   /* a list post: from is LIST-bounces@D and
					     * each recipient gets its own transaction
					     * with the sender list_verp() makes */
};

/* Queue a message for remote recipients; committed before return. */
int store_queue_add(struct store *st, const char *from, const char *const *rcpts, size_t n,
		    const struct msg_in *m, uint64_t *id_out);
int store_queue_list(struct store *st, int (*cb)(void *arg, const struct queue_entry *e),
		     void *arg);
int store_queue_del(struct store *st, uint64_t id);

/* Take up to max entries due at `now` (next_try <= now), in due order, each
 * under a lease: its next_try moves to now + lease and QF_LEASED is set in
 * the same commit, so no other taker sees it until the lease ends or the
 * entry is updated. After the commit, cb gets each taken entry (copy what
 * you keep: the strings live until cb returns). *next_due (if not NULL) gets the next_try of the first
 * entry left (INT64_MAX when none). ST_OK when something was taken,
 * ST_NOTFOUND when nothing was due (no commit then). */
int store_queue_take(struct store *st, int64_t now, int64_t lease, size_t max,
		     int (*cb)(void *arg, const struct queue_entry *e), void *arg,
		     int64_t *next_due);
/* Record the result of (part of) an attempt, in one commit:
 *  - the recipients in done[] (delivered, or bounced) leave the entry; when
 *    none is left the entry goes, with its reference to the bytes;
 *  - next_try > 0 sets the next due time and ends the lease; 0 keeps both;
 *  - last_error (NULL keeps it) and attempts += add_attempt;
 *  - set_flags are or-ed into the flags.
 * ST_NOTFOUND if the entry is gone (deleted meanwhile). */
int store_queue_update(struct store *st, uint64_t id, const char *const *done, size_t ndone,
		       int64_t next_try, const char *last_error, uint32_t add_attempt,
		       uint32_t set_flags);
/* Make entries due now and end their lease. leased_only 0: every entry
 * that is not leased (queue flush: entries being sent stay as they are);
 * 1: only the leased ones (server start-up, before its delivery threads
 * run: leases left by a killed process). *count (if not NULL) gets how
 * many moved. */
int store_queue_due_now(struct store *st, int leased_only, size_t *count);

/* ---- browser sessions (docs/http.md "Browser sessions") ----
 * Kept by the store so they survive a restart and so that a password change
 * or an account's removal ends them in the same commit. The key is a hash of
 * the cookie (STORE_SESS_KEY bytes, made by the caller): the store never
 * holds a cookie that would let its reader log in. */
#define STORE_SESS_KEY 32
#define STORE_SESS_CSRF 64 /* the CSRF token's characters */
struct store_sess {
	uint32_t user;			 /* account id */
	int64_t created, used;		 /* unix seconds: login, last request */
	char csrf[STORE_SESS_CSRF + 1];	 /* the token non-GET requests must echo */
};
/* Store session s under key; in the same commit, delete every session whose
 * `used` is older than stale (unix seconds), so the table holds only live
 * ones. ST_NOTFOUND if s->user is no account. */
int store_sess_put(struct store *st, const unsigned char *key, const struct store_sess *s,
		   int64_t stale);
/* ST_OK with *out, ST_NOTFOUND, ST_TEMP. */
int store_sess_get(struct store *st, const unsigned char *key, struct store_sess *out);
/* Set the session's `used` to now: ST_OK, ST_NOTFOUND (ended meanwhile). */
int store_sess_touch(struct store *st, const unsigned char *key, int64_t now);
/* End one session (ST_NOTFOUND if there was none). store_user_set_cred and
 * store_user_del end every session of their account themselves. */
int store_sess_del(struct store *st, const unsigned char *key);

/* ---- change notification ---- */

/* An eventfd that becomes readable after any commit touching `user`, in
 * this process or (through store_notify) another. Read it to re-arm. */
int store_watch_open(struct store *st, uint32_t user);
void store_watch_close(struct store *st, uint32_t user, int fd);
/* Wake this process's watchers of `user` (0 = everyone): called by the
 * server when another process pokes control.sock. */
void store_notify(struct store *st, uint32_t user);
/* Called after every commit with the account touched (from the writing
 * thread). Processes other than the server set it to poke control.sock.
 * user is 0 after a change to the outbound queue, or when one commit
 * touched more accounts than are tracked (then: everyone). Alias changes
 * call no hook. */
void store_set_commit_hook(struct store *st, void (*fn)(void *arg, uint32_t user), void *arg);

/* Tests only: make the store look like schema version 1 (no mailbox
 * indexes), so the next store_open rebuilds them. */
int store_test_downgrade(struct store *st);
/* Tests only: make every message record look as schema 2 wrote it (no
 * save date) and the store version 2. */
int store_test_schema2(struct store *st);

/* Durability hooks, tests only (docs/development.md). The environment's
 * flags that would weaken power-cut safety, as STORE_ENV_* bits: a store
 * brev runs with answers 0. */
enum {
	STORE_ENV_NOSYNC = 1 << 0,      /* commits do not sync the data */
	STORE_ENV_NOMETASYNC = 1 << 1,  /* commits do not sync the meta page */
	STORE_ENV_MAPASYNC = 1 << 2,    /* writable map flushed asynchronously */
	STORE_ENV_WRITEMAP = 1 << 3,    /* pages written through the map */
};
unsigned store_test_sync_flags(struct store *st);
/* Tests only: set a mailbox's next UID, as if that many messages had been
 * stored (to reach the end of the UID space). */
int store_test_set_uidnext(struct store *st, uint32_t user, const char *mbox, uint32_t uidnext);
/* Commits made by group commit (deliveries and APPENDs) since open. */
uint64_t store_test_commits(struct store *st);
/* n > 0: the next group-commit leader waits (up to a second) until n
 * requests are queued before it takes them, so a test knows they share one
 * batch; then the gate is off again (0, the default). */
void store_test_gate(struct store *st, size_t n);

/* ---- statistics (brev status, tests) ---- */

struct store_stats {
	uint64_t map_size;                  /* current LMDB map size, bytes */
	uint64_t map_used;                  /* bytes of the map in use */
	uint64_t accounts, aliases, mailboxes, messages;
	uint64_t blobs;                     /* distinct message bodies stored */
	uint64_t chunks;                    /* their 64 KiB pieces */
	uint64_t staged;                    /* large messages being written */
	uint64_t queued;                    /* outbound queue entries */
};
int store_stats(struct store *st, struct store_stats *out);
/* Reference count of one message body: ST_NOTFOUND (and 0) once freed. */
int store_blob_refs(struct store *st, uint64_t blob, uint32_t *refs);


/* ---- backup and verify (mailbox_verify.c) ----
 * Both open DATADIR/store read-only in an LMDB environment of their own,
 * so they must not run in a process that has the store open; safe while
 * another process (brev serve) writes. */

/* Write LMDB's compacting copy of the store (one read snapshot, so every
 * commit made before the call is in it) to fd; the schema version in
 * *schema. -1 with a one-line reason in err. */
int store_backup_copy(const char *datadir, int fd, uint64_t *schema, char *err, size_t errlen);
/* Check the store's internal consistency in one read snapshot, printing
 * one "verify: ..." line per problem to out; the count in *problems and a
 * summary ("N accounts, ...") in err. -1 with a reason in err when the
 * store cannot be read at all. Tables it does not know are ignored. */
int store_verify(const char *datadir, FILE *out, unsigned long *problems, char *err, size_t errlen);

#endif
