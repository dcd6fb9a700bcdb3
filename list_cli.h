/*
 * list_cli.h — `brev list ...` (docs/lists.md), for main.c: creating,
 * showing and deleting mailing lists and changing their members by hand.
 */
#ifndef BREV_LIST_CLI_H
#define BREV_LIST_CLI_H

struct config;
struct store;

/* argv[0] is "list". Prints what it did on stdout; every refusal is one
 * line on stderr and exit status 1 (fatal). Returns 0. */
int list_cli(struct store *st, const struct config *cfg, int argc, char **argv);

#endif
