/*
 * sieve_cli.h — `brev sieve ...` subcommands that need no data directory.
 */
#ifndef BREV_SIEVE_CLI_H
#define BREV_SIEVE_CLI_H

/* `brev sieve test SCRIPT MESSAGE [--from A] [--to A] [--user A]
 * [--mailbox M]... [--now UNIXTIME]`: compile SCRIPT, run it on MESSAGE and
 * print the actions one per line (docs/sieve.md "brev sieve test").
 * argv[0] is "test". Returns the exit status: 0 ran (a run-time error is
 * reported on stderr and the output is the implicit keep), 1 the script
 * does not compile, 2 usage or I/O error. */
int sieve_cli_test(int argc, char **argv);

struct store;
/* `brev sieve put|get|list|activate|check|delete ADDRESS ...` on the
 * account's scripts in st (sieve_cli_store.c; docs/sieve.md "From the
 * command line"). argv[0] is "sieve". Returns the exit status: 0, or 1
 * with one line on stderr (a script that does not compile: "line N: ..."). */
int sieve_cli_store(struct store *st, int argc, char **argv);

#endif
