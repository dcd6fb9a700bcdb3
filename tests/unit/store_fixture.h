/*
 * store_fixture.h — a store in a temporary data directory, for the unit
 * tests of the mailbox store: one directory at a time per test binary
 * (tdir), opened with store_open, removed with everything LMDB put in it.
 * Header only (static inline): it needs no deps of its own beyond the
 * test's "mailbox".
 */
#ifndef BREV_TEST_STORE_FIXTURE_H
#define BREV_TEST_STORE_FIXTURE_H

#include "mailbox.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The current store's data directory; "" when there is none. */
static char tdir[64];

/* Remove tdir's store files and the directory itself (the store must be
 * closed); nothing if there is none. */
static inline void rm_store(void)
{
	char p[128];
	if (!tdir[0])
		return;
	snprintf(p, sizeof p, "%s/store/data.mdb", tdir);
	unlink(p);
	snprintf(p, sizeof p, "%s/store/lock.mdb", tdir);
	unlink(p);
	snprintf(p, sizeof p, "%s/store", tdir);
	rmdir(p);
	rmdir(tdir);
	tdir[0] = 0;
}

/* store_open on tdir into *st; -1 with the reason on stderr. */
static inline int store_fixture_open(struct store **st, uint64_t map_size)
{
	char err[256];
	if (store_open(st, tdir, map_size, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

/* A new empty store in a new /tmp/brev-test-NAME.XXXXXX, after removing
 * the previous directory (whose store the caller has closed); NULL on
 * failure. */
static inline struct store *store_fixture_new(const char *name, uint64_t map_size)
{
	struct store *st = NULL;
	rm_store();
	snprintf(tdir, sizeof tdir, "/tmp/brev-test-%s.XXXXXX", name);
	if (!mkdtemp(tdir)) {
		tdir[0] = 0;
		return NULL;
	}
	return store_fixture_open(&st, map_size) < 0 ? NULL : st;
}

/* The open store of store_fixture_kept, so that one left open by a failed
 * test (a CHECK jumps out) is closed by the next test or at exit. */
static struct store *g_st;

static inline void store_fixture_cleanup(void)
{
	store_close(&g_st);
	rm_store();
}

/* store_fixture_new kept in g_st: the previous g_st is closed and its
 * directory removed first, and the last one at exit. */
static inline struct store *store_fixture_kept(const char *name, uint64_t map_size)
{
	static int registered;
	if (!registered++)
		atexit(store_fixture_cleanup);
	store_close(&g_st);
	return g_st = store_fixture_new(name, map_size);
}

#endif
