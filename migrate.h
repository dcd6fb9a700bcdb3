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

#endif
