/*
 * thread.h — message threading over plain per-message data: RFC 5256's
 * base subject (2.1), sent date (2.2), and its two algorithms,
 * ORDEREDSUBJECT and REFERENCES (section 3). No store, no IMAP: the
 * caller reads the header fields (imap_sort.c does for SORT and THREAD)
 * and gets a tree of its own message keys back, so JMAP's threads can be
 * built by the same code.
 *
 * Everything is bounded: a subject is looked at up to THREAD_SUBJECT_MAX
 * bytes, a message contributes at most THREAD_REFS_MAX references (the
 * last ones: the nearest ancestors), an id longer than THREAD_ID_MAX is
 * not a valid id, and the id table of one run holds at most
 * THREAD_TABLE_MAX bytes (besides one container per message); ids met
 * after that are treated as absent (the
 * message then threads by what is already known and by subject). No
 * recursion: a 100,000-message reply chain costs no stack.
 *
 * Not thread-safe per set; one set per command.
 */
#ifndef BREV_THREAD_H
#define BREV_THREAD_H

#include <stddef.h>
#include <stdint.h>

#define THREAD_SUBJECT_MAX 1024
#define THREAD_ID_MAX	   250
#define THREAD_REFS_MAX	   32
#define THREAD_TABLE_MAX   (48u << 20)
/* A parent/child link is refused as a loop when checking it would walk
 * more than this many ancestors (real threads are never this deep). */
#define THREAD_WALK_MAX 4096

/* RFC 5256 2.1 base subject of subj (n bytes, already decoded from RFC
 * 2047 words to UTF-8): white space folded to single spaces, then "(fwd)"
 * trailers, "Re:"/"Fw:"/"Fwd:" leaders with their "[blob]"s, leading
 * "[blob]"s that leave something behind and a "[fwd: ...]" wrapper
 * removed, until none is left. Malloc'ed, NUL-terminated; *is_reply (may
 * be NULL) is set to 1 when a Re/Fwd leader, a "(fwd)" trailer or a
 * "[fwd: ...]" wrapper was removed, else 0. subj NULL is the empty subject. */
char *thread_base_subject(const char *subj, size_t n, int *is_reply);

/* i;ascii-casemap (RFC 4790 9.2): a-z compare as A-Z, then octets.
 * <0, 0, >0 as strcmp. */
int thread_casecmp(const char *a, const char *b);

/* RFC 5322 3.3 date-time (with the obsolete forms of 4.3: two- and
 * three-digit years, named zones, comments) to seconds since the epoch,
 * UTC. 0, or -1 if s is no date (the caller then uses INTERNALDATE). */
int thread_parse_date(const char *s, int64_t *out);

/* ---- threading ---- */
enum { THREAD_ORDEREDSUBJECT, THREAD_REFERENCES };

/* One message. key is what the result reports (a message number or UID)
 * and must not be 0. The header values are raw (unfolded or not, comments
 * allowed) and may be NULL; subject is decoded UTF-8 (as for
 * thread_base_subject); date is the sent date (thread_parse_date, or the
 * INTERNALDATE when that failed). Nothing is kept past thread_add. */
struct thread_msg {
	uint32_t key;
	const char *message_id, *references, *in_reply_to, *subject;
	int64_t date;
};

/* A node of the result: key 0 is a dummy (a parent no message stands for,
 * only ever at the top) holding siblings. Owned by the set. */
struct thread_node {
	uint32_t key;
	struct thread_node *child, *next;
};

struct thread_set;
struct thread_set *thread_new(int algo);
/* Add messages in ascending sequence order: that order breaks date ties
 * and decides which of two messages with the same Message-ID keeps it. */
void thread_add(struct thread_set *t, const struct thread_msg *m);
/* Run the algorithm; the first thread, the others through ->next, in
 * RFC 5256 order (each level by sent date). NULL when no message was
 * added. Valid until thread_free. Call once. */
struct thread_node *thread_run(struct thread_set *t);
/* Bytes held by the id table (tests, bench). */
size_t thread_table_bytes(const struct thread_set *t);
void thread_free(struct thread_set **tp);

#endif
