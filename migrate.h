/*
 * migrate.h — `brev import` (import.c) and `brev export` (export.c): moving
 * mail between an account and mbox files, Maildir(++) trees and folders of
 * .eml files (docs/migrate.md).
 *
 * Both run in their own process beside a possibly running server: the
 * caller opens the store with the commit hook that wakes the server's IMAP
 * sessions. argv[0] is the command name. Return the exit status (0, or 1
 * after one line on stderr per problem).
 */
#ifndef BREV_MIGRATE_H
#define BREV_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* max_size: limits.message_size (larger messages are refused). */
int import_main(struct store *st, uint64_t max_size, int argc, char **argv);
int export_main(struct store *st, int argc, char **argv);

/* The brev mailbox a top-level folder name stands for, when it is one of
 * the usual names of a special-use folder (Sent Items, Gesendet, Spam,
 * Deleted Items, Inbox, ...): out gets brev's name and *special its
 * enum mbox_special; else out = name, *special = MBOX_NORMAL. */
void migrate_map_name(const char *name, char *out, size_t cap, int *special);

/*
 * The import's batching, for brev fetch (fetch.c): messages go through one
 * spool into store_append_many batches (BATCH_N messages or 4 MiB), so a
 * batch is all or nothing. import_sink_pending() is 0 right after a batch
 * was committed (the caller then records how far it got); flush commits
 * what is pending. dedupe: load the target's message digests first, so a
 * message already there is skipped (resuming after a crash between a
 * batch's commit and the caller's record of it). Every call but _new and
 * _free returns 0 or -1 (a line on stderr said why; the sink stays failed).
 */
struct import_sink;
struct mboxfmt_meta;
struct import_sink *import_sink_new(struct store *st, uint32_t user, uint64_t max_size);
int import_sink_mailbox(struct import_sink *s, const char *name, int special, int dedupe);
int import_sink_begin(struct import_sink *s, int64_t date);
int import_sink_data(struct import_sink *s, const char *p, size_t n);
/* The message is complete; date (if > 0) replaces begin's (a date known
 * only at the end). err non-NULL: it is refused (counted, the batch goes
 * on). */
int import_sink_end_at(struct import_sink *s, const struct mboxfmt_meta *meta, int64_t date,
		       const char *err);
uint64_t import_sink_max_size(const struct import_sink *s);
size_t import_sink_pending(const struct import_sink *s);
int import_sink_flush(struct import_sink *s);
void import_sink_counts(const struct import_sink *s, uint64_t *imported, uint64_t *dups,
			uint64_t *refused);
void import_sink_free(struct import_sink **s);

#endif
