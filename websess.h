/*
 * websess.h — browser sessions for the web listener (docs/http.md
 * "Browser sessions"): the random cookie and CSRF token of a login, the
 * idle expiry, logout. The sessions themselves live in the store
 * (mailbox.h store_sess_*), keyed by the SHA-256 of the cookie, so they
 * survive a restart and a password change ends them; HTTP (which header,
 * which status) is http.c's.
 *
 * Threads: every function may run on any session thread at once.
 */
#ifndef BREV_WEBSESS_H
#define BREV_WEBSESS_H

#include <stdint.h>

#include "mailbox.h"

#define WEBSESS_TOKEN 64 /* hex digits of the cookie: 256 random bits */
#define WEBSESS_CSRF  64 /* hex digits of the CSRF token: 256 random bits */

/* A new session of account user: its cookie value into token and its CSRF
 * token into csrf (both NUL-terminated hex). Sessions idle for more than
 * idle seconds are deleted in the same commit. ST_OK or a store error. */
int websess_create(struct store *st, uint32_t user, int64_t idle, char token[WEBSESS_TOKEN + 1],
		   char csrf[WEBSESS_CSRF + 1]);
/* The session of cookie token: 1 with *out when it exists and was used
 * within idle seconds (its last use is then moved to now, at most once a
 * minute, or every idle/4 seconds when that is shorter); 0 when there is
 * none (never made, ended, expired: an expired one is deleted); -1 when
 * the store could not be read. */
int websess_check(struct store *st, const char *token, int64_t idle, struct store_sess *out);
/* End the session of cookie token (logout). ST_OK, ST_NOTFOUND, ST_TEMP. */
int websess_end(struct store *st, const char *token);
/* Does given (an X-CSRF-Token value) equal the session's token? Compared
 * in constant time. */
int websess_csrf_ok(const struct store_sess *s, const char *given);

#endif
