/*
 * queue_cli.h — `brev queue list` and `brev queue del`, for main.c: the
 * outbound queue as a person reads it (tracking id, sender, recipients,
 * subject) and deletion by tracking id or queue id, recorded in the
 * delivery journal (journal.h).
 */
#ifndef BREV_QUEUE_CLI_H
#define BREV_QUEUE_CLI_H

struct store;

/* Print every entry and a last line "N message(s) queued". A store_rc. */
int queue_cli_list(struct store *st);
/* Delete the entry whose tracking id or hex queue id is `which`; the
 * journal gets a "deleted" event. A store_rc (ST_NOTFOUND: no such entry). */
int queue_cli_del(struct store *st, const char *which);

#endif
