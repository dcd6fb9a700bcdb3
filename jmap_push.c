/*
 * jmap_push.c — JMAP push over EventSource (RFC 8620 7.3): a GET of
 * /jmap/eventsource?types=...&closeafter=...&ping=... that http.c has
 * authenticated and answered with the head of a text/event-stream; this
 * file writes the events.
 *
 * It watches the account as IMAP IDLE does (store_watch_open: woken after
 * every commit that touches the account, whichever protocol made it) and
 * sends a StateChange event when the Email or Mailbox state it last sent
 * differs. The states are the ones Email/get and Mailbox/get give. What a
 * connection holds is its watcher and a few short strings: the states are
 * recomputed per wake-up, nothing grows with time.
 */
#include <jansson.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "jmap.h"
#include "jmap_int.h"
#include "mailbox.h"
#include "server.h"
#include "util.h"

#define PUSH_PING_MAX  3600  /* seconds: a larger ping is lowered to this */
#define PUSH_WAIT_MS   1000  /* longest wait before looking at stopping */
#define PUSH_QUERY_MAX 512   /* bytes of the query string looked at */
#define PUSH_LOOK_MS   30000 /* a look without a wake-up, in case one was lost */

/* One "name=value" of the query: 1 found (value copied), 0 not there. */
static int query_get(const char *q, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	while (q && *q) {
		size_t len = strcspn(q, "&");
		if (len > nl && !strncmp(q, name, nl) && q[nl] == '=') {
			size_t vl = len - nl - 1;
			if (vl >= cap)
				vl = cap - 1;
			memcpy(out, q + nl + 1, vl);
			out[vl] = 0;
			return 1;
		}
		q += len + (q[len] == '&');
	}
	return 0;
}

/* RFC 8620 7.3: types is "*" or a comma-separated list (URL-encoded
 * commas as %2C); closeafter "state" or "no"; ping a number of seconds.
 * -1 when an argument is malformed. */
int jmap_push_parse(const char *query, struct push_opts *o)
{
	char q[PUSH_QUERY_MAX], v[PUSH_QUERY_MAX], *p, *tok, *save;
	memset(o, 0, sizeof *o);
	snprintf(q, sizeof q, "%s", query ? query : "");
	if (!query_get(q, "types", v, sizeof v) || !strcmp(v, "*"))
		o->email = o->mailbox = 1;
	else {
		/* %2C -> , */
		while ((p = strstr(v, "%2C")) || (p = strstr(v, "%2c"))) {
			*p = ',';
			memmove(p + 1, p + 3, strlen(p + 3) + 1);
		}
		for (tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (!strcmp(tok, "Email"))
				o->email = 1;
			else if (!strcmp(tok, "Mailbox"))
				o->mailbox = 1;
			/* other type names: nothing of theirs changes here */
		}
	}
	if (query_get(q, "closeafter", v, sizeof v)) {
		if (!strcmp(v, "state"))
			o->closeafter = 1;
		else if (strcmp(v, "no"))
			return -1;
	}
	if (query_get(q, "ping", v, sizeof v)) {
		char *end;
		long n = strtol(v, &end, 10);
		if (!*v || *end || n < 0)
			return -1;
		o->ping = n > PUSH_PING_MAX ? PUSH_PING_MAX : (int)n;
	}
	return 0;
}

static void drain(int fd)
{
	uint64_t v;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (fd >= 0 && poll(&p, 1, 0) == 1)
		(void)!read(fd, &v, sizeof v);
}

/* Send a StateChange with what changed since *email / *mbox (updated). */
static int push_state(struct conn *c, const struct server *srv, const struct account *a,
		      const struct push_opts *o, char *email, char *mbox)
{
	char e[JMAP_STATE_MAX] = "", m[JMAP_STATE_MAX] = "", acc[16];
	json_t *changed, *ev;
	char *txt;
	if ((o->email && jmap_email_state_get(srv, a->id, e, sizeof e) < 0) ||
	    (o->mailbox && jmap_mailbox_state_get(srv, a->id, m, sizeof m) < 0))
		return 0; /* the store could not be read: try at the next wake-up */
	if (!strcmp(e, email) && !strcmp(m, mbox))
		return 0;
	changed = json_object();
	if (o->email)
		json_object_set_new(changed, "Email", json_string(e));
	if (o->mailbox)
		json_object_set_new(changed, "Mailbox", json_string(m));
	jmap_account_id(a, acc, sizeof acc);
	ev = json_pack("{s:s, s:{s:o}}", "@type", "StateChange", "changed", acc, changed);
	txt = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (!txt)
		return -1;
	conn_printf(c, "event: state\ndata: %s\n\n", txt);
	free(txt);
	memcpy(email, e, sizeof e);
	memcpy(mbox, m, sizeof m);
	return conn_flush(c) < 0 ? -1 : 1;
}

void jmap_eventsource(const struct server *srv, struct conn *c, const struct account *a,
		      const struct push_opts *o)
{
	char email[JMAP_STATE_MAX] = "", mbox[JMAP_STATE_MAX] = "";
	int fd = store_watch_open(srv->store, a->id);
	int64_t next_ping = o->ping ? now_ms() + o->ping * 1000LL : 0;
	int64_t next_look = now_ms() + PUSH_LOOK_MS;

	/* the states the client is assumed to have: the ones at connection */
	if (o->email)
		jmap_email_state_get(srv, a->id, email, sizeof email);
	if (o->mailbox)
		jmap_mailbox_state_get(srv, a->id, mbox, sizeof mbox);
	conn_flush(c);
	while (!atomic_load(&((struct server *)srv)->stopping) && !conn_error(c)) {
		int64_t now = now_ms();
		int wait = PUSH_WAIT_MS, w, rc;
		if (next_ping && next_ping - now < wait)
			wait = next_ping - now > 0 ? (int)(next_ping - now) : 0;
		w = conn_wait(c, fd, wait);
		if (w < 0 || w == 1)
			break; /* an EventSource client sends nothing: input is its end */
		if (w == 2)
			drain(fd);
		if (w == 2 || now_ms() >= next_look) {
			rc = push_state(c, srv, a, o, email, mbox);
			next_look = now_ms() + PUSH_LOOK_MS;
		} else
			rc = 0;
		if (rc < 0 || (rc > 0 && o->closeafter))
			break;
		if (next_ping && now_ms() >= next_ping) {
			conn_printf(c, "event: ping\ndata: {\"interval\":%d}\n\n", o->ping);
			if (conn_flush(c) < 0)
				break;
			next_ping = now_ms() + o->ping * 1000LL;
		}
	}
	if (fd >= 0)
		store_watch_close(srv->store, a->id, fd);
}
