/*
 * journal.h — the delivery journal behind `brev log`: what happened to each
 * message, as events keyed by the message's tracking id (the id of the
 * SMTP acceptance line, "queued as ID", and every queue log line).
 *
 * The store half (mailbox_journal.c) keeps events in the store, bounded by
 * age (log.keep) and by count (JOURNAL_EVENTS_MAX). Acceptance events ride
 * the commit of the message itself (struct msg_in's journal: nothing
 * acknowledged lacks its record, and no extra fsync); later events (each
 * delivery attempt, delivered, deferred, bounced, deleted) are small
 * commits of their own through the group commit.
 *
 * The other half (journal.c) prunes in the background while `brev serve`
 * runs and answers `brev log`.
 */
#ifndef BREV_JOURNAL_H
#define BREV_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define JOURNAL_ID_MAX     23       /* bytes of a tracking id */
#define JOURNAL_DETAIL_MAX 1500     /* bytes of one event's detail (cut) */
#define JOURNAL_EVENTS_MAX 200000   /* the journal's size bound, in events */

/* Journal records written in the commit of a message (store_deliver,
 * store_queue_add), when msg_in.journal is set:
 *  - "accepted" with `accepted` as its detail, when accepted is not NULL
 *    (the caller sets it on the first of a message's commits only);
 *  - store_queue_add: "queued" (queue=HEX to=<rcpt>...), and the entry
 *    keeps `id` (queue_entry.tid);
 *  - store_deliver: "stored" (to=<account> folder=NAME) per account that
 *    took it, "refused" (to=<account> reason=...) per account that did not. */
struct journal_in {
	const char *id;
	const char *accepted;
};

/* One event, as the scan hands it over (strings valid during the call). */
struct journal_event {
	int64_t when;                   /* unix seconds */
	const char *id, *event, *detail;
};

/* Append one event in its own (grouped) commit. ST_OK or ST_TEMP. */
int store_journal_add(struct store *st, const char *id, const char *event, const char *detail);
/* Every event with when >= since, oldest first; cb returns non-zero to
 * stop. Runs inside one read transaction: cb must not call the store. */
int store_journal_scan(struct store *st, int64_t since,
		       int (*cb)(void *arg, const struct journal_event *e), void *arg);
/* Remove events older than `before`, and the oldest beyond max_events;
 * at most a few thousand per commit, so call until *removed is 0. */
int store_journal_prune(struct store *st, int64_t before, size_t max_events, size_t *removed);

/* ---- journal.c ---- */

/* Start / stop the background pruning of `brev serve` (keep: seconds). */
int journal_start(struct store *st, int64_t keep);
void journal_stop(void);
/* `brev log [--since T] [ADDRESS|MESSAGE-ID|ID]` over an open store:
 * prints the events, returns the exit status (1: nothing matched). */
int journal_log_cmd(struct store *st, int argc, char **argv);

#endif
