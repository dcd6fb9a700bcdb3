/*
 * imap.c — the IMAP server session (RFC 9051 IMAP4rev2 and RFC 3501
 * IMAP4rev1): greeting, the command table with the states each command is
 * allowed in, authentication (LOGIN, AUTHENTICATE with SASL-IR), APPEND
 * with MULTIAPPEND/UIDPLUS, the selected state (SELECT, EXPUNGE,
 * COPY/MOVE, IDLE), and the session's one closing log line.
 *
 * It leaves the command syntax to imap_parse.c, following the mailbox to
 * imap_sync.c, the mailbox commands (LIST, STATUS, CREATE/DELETE/RENAME,
 * SUBSCRIBE) to imap_mbox.c, FETCH/STORE to imap_fetch.c, SEARCH to
 * imap_search.c, message structure to message.c,
 * every byte of I/O to conn.c and all storage to mailbox.c.
 */
#include "imap.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "objid.h"
#include "sasl.h"
#include "server.h"
#include "spam_learn.h"
#include "spool.h"
#include "util.h"

#define IMAP_IDLE_MS (30 * 60 * 1000) /* RFC 9051 5.4: autologout >= 30 min */
/* Before login RFC 9051 5.4 asks for nothing that long: one wait is at
 * most a minute and the whole way from connect to login two minutes, so
 * silent or dripping connections do not hold a thread for half an hour. */
#define IMAP_PREAUTH_WAIT_MS (60 * 1000)
#define IMAP_PREAUTH_TOTAL_MS (2 * 60 * 1000)
#define IMAP_AUTH_FAILS_MAX 3                /* failed logins per connection */
static int preauth_wait_ms = IMAP_PREAUTH_WAIT_MS, preauth_total_ms = IMAP_PREAUTH_TOTAL_MS;
static int preauth_test; /* imap_test_preauth_timeouts overrides the config */

void imap_test_preauth_timeouts(int wait_ms, int total_ms)
{
	preauth_wait_ms = wait_ms > 0 ? wait_ms : IMAP_PREAUTH_WAIT_MS;
	preauth_total_ms = total_ms > 0 ? total_ms : IMAP_PREAUTH_TOTAL_MS;
	preauth_test = wait_ms > 0 || total_ms > 0;
}

/* One wait before login: limits.timeout_preauth (default 30 s: an idle
 * connection must not hold one of the slots for long), never more than
 * IMAP_PREAUTH_WAIT_MS. */
static int64_t preauth_wait(const struct imap_session *s)
{
	const struct config *cfg = s->srv ? s->srv->cfg : NULL;
	if (!preauth_test && cfg && cfg->timeout_preauth > 0 &&
	    cfg->timeout_preauth * 1000 < preauth_wait_ms)
		return cfg->timeout_preauth * 1000;
	return preauth_wait_ms;
}

/* The autologout after login: limits.timeout_imap (30 minutes). */
static int idle_ms(const struct imap_session *s)
{
	const struct config *cfg = s->srv ? s->srv->cfg : NULL;
	if (cfg && cfg->timeout_imap > 0 && cfg->timeout_imap < 86400 * 2)
		return (int)(cfg->timeout_imap * 1000);
	return IMAP_IDLE_MS;
}
#define IMAP_BAD_MAX 20               /* BADs in a row before we hang up */

/* ------------------------------------------------------------ output */

/* Format into a buffer that grows: a response line is never cut short (a
 * truncated COPYUID would be a malformed line). Lines that can grow with the
 * mailbox write their sets as ranges, so they stay small in practice. */
static char *vfmt(const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	char *p = xmalloc(n > 0 ? (size_t)n + 1 : 1);
	if (n > 0)
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	else
		p[0] = 0;
	return p;
}

void imap_out(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = vfmt(fmt, ap);
	va_end(ap);
	conn_puts(s->c, p);
	conn_write(s->c, "\r\n", 2);
	free(p);
}

static int expunge_allowed_after(const char *name);

void imap_tagged(struct imap_session *s, const char *cond, const char *fmt, ...)
{
	va_list ap;
	/* Untagged updates go before the completion, while the command is
	 * still in progress (RFC 9051 7.5.1). */
	if (s->state == IS_SELECTED) {
		imap_sync(s, expunge_allowed_after(s->cmd.name));
		if (s->state == IS_LOGOUT)
			return; /* the mailbox went away: BYE was the answer */
		/* RFC 7162 3.2: MODSEQs went out while expunges with lower
		 * modseqs wait to be announced; a client that kept the highest
		 * MODSEQ it saw would skip them when it resyncs. Tell it a
		 * HIGHESTMODSEQ below them all. */
		if (s->condstore && s->modseq_told && s->ngone)
			imap_out(s, "* OK [HIGHESTMODSEQ %llu] Expunges pending",
				 (unsigned long long)s->gone_hms);
	}
	s->modseq_told = 0;
	va_start(ap, fmt);
	char *p = vfmt(fmt, ap);
	va_end(ap);
	s->nbad = strcmp(cond, "BAD") == 0 ? s->nbad + 1 : 0;
	/* A refused command is worth a line: a client that cannot do what it
	 * wants (Thunderbird's APPEND to Sent was one) is otherwise silent. The
	 * command's name only, never its arguments (passwords). */
	if (strcmp(cond, "OK") != 0)
		log_info("imap refused id=%lu user=%s cmd=%s answer=%s %.200s", s->id,
			 s->user[0] ? s->user : "-", s->cmd.name[0] ? s->cmd.name : "-", cond, p);
	conn_printf(s->c, "%s %s %s\r\n", s->cmd.tag, cond, p);
	free(p);
}

void imap_put(struct imap_session *s, const struct sbuf *b)
{
	if (b->len)
		conn_write(s->c, b->p, b->len);
}

/* RFC 4315 4: COPYUID's two sets pair up element by element in this order.
 * b must be empty: the first element gets no comma. */
void imap_uidset_out(struct sbuf *b, const uint32_t *u, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && u[j] != UINT32_MAX && u[j + 1] == u[j] + 1)
			j++;
		sbuf_printf(b, "%s%u", b->len ? "," : "", u[i]);
		if (j > i)
			sbuf_printf(b, ":%u", u[j]);
		i = j + 1;
	}
}

static int plain_ok(const struct imap_session *s)
{
	return conn_is_tls(s->c) || conn_is_loopback(s->c);
}

static int starttls_ok(const struct imap_session *s)
{
	return s->kind == LK_IMAP && s->srv->tls && !conn_is_tls(s->c);
}

static void capabilities(struct imap_session *s, struct sbuf *b)
{
	sbuf_puts(b, "IMAP4rev1 IMAP4rev2");
	if (s->state == IS_NOTAUTH) {
		if (starttls_ok(s))
			sbuf_puts(b, " STARTTLS");
		if (!plain_ok(s))
			sbuf_puts(b, " LOGINDISABLED");
		const char *m = sasl_mech_list(plain_ok(s));
		while (m && *m) {
			size_t n = strcspn(m, " ");
			if (n) {
				sbuf_puts(b, " AUTH=");
				sbuf_add(b, m, n);
			}
			m += n;
			while (*m == ' ')
				m++;
		}
		sbuf_puts(b, " SASL-IR");
	}
	/* One extension (or family) per line: each is advertised only when
	 * complete, and docs/imap.md lists them with their RFCs. */
	sbuf_puts(b, " ENABLE IDLE UIDPLUS MOVE NAMESPACE ID UNSELECT LITERAL+");
	sbuf_puts(b, " SPECIAL-USE CREATE-SPECIAL-USE");
	sbuf_puts(b, " LIST-EXTENDED LIST-STATUS CHILDREN");
	sbuf_puts(b, " ESEARCH");
	sbuf_puts(b, " STATUS=SIZE");
	sbuf_puts(b, " MULTIAPPEND");
	sbuf_puts(b, " BINARY");
	sbuf_puts(b, " UTF8=ACCEPT");
	sbuf_puts(b, " CONDSTORE QRESYNC");
	sbuf_puts(b, " QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE");
	sbuf_puts(b, " WITHIN");
	sbuf_puts(b, " SEARCHRES");
	sbuf_puts(b, " SAVEDATE");
	sbuf_puts(b, " UIDONLY");
	sbuf_puts(b, " MULTISEARCH");
	sbuf_puts(b, " OBJECTID");
	sbuf_puts(b, " PREVIEW");
	sbuf_puts(b, " REPLACE");
	sbuf_puts(b, " CATENATE");
	sbuf_puts(b, " SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT");
	sbuf_puts(b, " THREAD=ORDEREDSUBJECT THREAD=REFERENCES");
	sbuf_puts(b, " NOTIFY");
	sbuf_printf(b, " APPENDLIMIT=%llu", (unsigned long long)s->in.big_max);
	if (s->state != IS_NOTAUTH) /* imap_compress.c says why only then */
		sbuf_puts(b, " COMPRESS=DEFLATE");
}

/* ------------------------------------------------------- names, flags */

/* A mailbox name argument to UTF-8 ("INBOX" in any case is INBOX). */
int imap_mbox_arg(struct imap_session *s, const struct iarg *a, char *out_name, size_t cap)
{
	const char *raw = iarg_str(a);
	if (!raw || (a->literal && strlen(raw) != a->len))
		return -1;
	if (s->utf8) {
		if (str_copy(out_name, raw, cap) >= cap)
			return -1;
	} else if (mutf7_decode(raw, out_name, cap) < 0) {
		/* Not valid modified UTF-7: take UTF-8 as it is (clients that
		 * never ENABLE UTF8=ACCEPT still send it). */
		if (str_copy(out_name, raw, cap) >= cap)
			return -1;
	}
	size_t n = strlen(out_name);
	while (n > 1 && out_name[n - 1] == '/')
		out_name[--n] = 0;
	if (str_casecmp_ascii(out_name, "INBOX") == 0)
		memcpy(out_name, "INBOX", 6);
	else if (str_ncasecmp_ascii(out_name, "INBOX/", 6) == 0)
		memcpy(out_name, "INBOX", 5);
	return 0;
}

void imap_mbox_out(struct imap_session *s, struct sbuf *b, const char *name)
{
	if (s->utf8) {
		mbuf_imap_string(b, name, strlen(name), 1);
		return;
	}
	struct sbuf m = {0};
	mutf7_encode(name, &m);
	mbuf_imap_string(b, m.p ? m.p : "", m.len, 0);
	sbuf_free(&m);
}

static const char *const sysflags[] = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
				       "\\Draft"};

void imap_flags_out(struct imap_session *s, struct sbuf *b, uint32_t flags, uint64_t kw,
		    uint32_t uid)
{
	int first = 1;
	sbuf_puts(b, "(");
	if (uid && imap_is_recent(s, uid)) {
		sbuf_puts(b, "\\Recent");
		first = 0;
	}
	for (int i = 0; i < 5; i++)
		if (flags & (1u << i)) {
			if (!first)
				sbuf_puts(b, " ");
			sbuf_puts(b, sysflags[i]);
			first = 0;
		}
	for (int i = 0; i < 64 && i < s->nkw; i++)
		if (kw & ((uint64_t)1 << i)) {
			if (!first)
				sbuf_puts(b, " ");
			sbuf_puts(b, s->kw[i]);
			first = 0;
		}
	sbuf_puts(b, ")");
}

static int valid_keyword(const char *k)
{
	if (!*k || strlen(k) > 63)
		return 0;
	for (const char *p = k; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 127 || strchr("(){%*\"\\]", *p))
			return 0;
	return 1;
}

int imap_parse_flags(const struct iarg *a, uint32_t *flags, const char **kw, size_t *nkw,
		     size_t kwcap)
{
	const struct iarg *f = a && a->type == IA_LIST ? a->kids : a;
	int single = a && a->type != IA_LIST;

	*flags = 0;
	*nkw = 0;
	for (; f; f = single ? NULL : f->next) {
		if (f->type != IA_ATOM)
			return -1;
		int found = 0;
		for (int i = 0; i < 5; i++)
			if (str_casecmp_ascii(f->s, sysflags[i]) == 0) {
				*flags |= 1u << i;
				found = 1;
			}
		if (found || str_casecmp_ascii(f->s, "\\Recent") == 0)
			continue;
		if (f->s[0] == '\\' || !valid_keyword(f->s))
			return -1;
		if (*nkw < kwcap)
			kw[(*nkw)++] = f->s;
	}
	return 0;
}

static void kw_names_cb(void *arg, int index, const char *name)
{
	struct imap_session *s = arg;
	if (index < 0 || index >= STORE_KEYWORDS)
		return;
	if (index >= s->nkw) {
		s->kw = xrealloc(s->kw, sizeof *s->kw * (size_t)(index + 1));
		for (int i = s->nkw; i <= index; i++)
			s->kw[i] = NULL;
		s->nkw = index + 1;
	}
	free(s->kw[index]);
	s->kw[index] = xstrdup(name);
}

static void kw_clear(struct imap_session *s)
{
	for (int i = 0; i < s->nkw; i++)
		free(s->kw[i]);
	free(s->kw);
	s->kw = NULL;
	s->nkw = 0;
}

int imap_kw_load(struct imap_session *s)
{
	int old = s->nkw;
	kw_clear(s);
	store_mbox_keywords(s->srv->store, s->acct.id, s->mbox, kw_names_cb, s);
	for (int i = 0; i < s->nkw; i++)
		if (!s->kw[i])
			s->kw[i] = xstrdup("$unknown");
	return s->nkw != old;
}


void imap_kw_refresh(struct imap_session *s)
{
	if (imap_kw_load(s))
		imap_flags_announce(s);
}

void imap_flags_announce(struct imap_session *s)
{
	struct sbuf b = {0};
	sbuf_puts(&b, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (int i = 0; i < s->nkw; i++) {
		sbuf_puts(&b, " ");
		sbuf_puts(&b, s->kw[i]);
	}
	/* Read-only (EXAMINE): no flag can be changed for good, so the list
	 * is empty (RFC 9051 6.3.3). */
	if (s->readonly) {
		sbuf_puts(&b, ")\r\n* OK [PERMANENTFLAGS ()] Read-only\r\n");
	} else {
		sbuf_puts(&b, ")\r\n* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
		for (int i = 0; i < s->nkw; i++) {
			sbuf_puts(&b, " ");
			sbuf_puts(&b, s->kw[i]);
		}
		sbuf_puts(&b, " \\*)] Flags permitted\r\n");
	}
	imap_put(s, &b);
	sbuf_free(&b);
}

/* ---------------------------------------------------------- the view */

static void snapshot_free(struct imap_session *s)
{
	view_free(&s->view);
	seqset_free(&s->saved); /* RFC 5182 2.1: "$" is empty after SELECT/EXAMINE */
	imap_context_free_all(s); /* RFC 5267 4.3: updates end with the mailbox */
	free(s->gone);
	s->gone = NULL;
	s->ngone = 0;
	free(s->said);
	s->said = NULL;
	s->nsaid = s->capsaid = 0;
	kw_clear(s);
	mime_free(&s->cache_tree);
	s->cache_blob = 0;
	free(s->recent);
	s->recent = NULL;
	s->nrecent = 0;
	free(s->mem);
	s->mem = NULL;
	s->mem_len = s->mem_cap = 0;
	s->mem_ok = 0;
}


/* ------------------------------------------------- message sources */

struct src_arg {
	struct store *st;
	uint64_t blob;
};
static __thread struct src_arg src_slot;

static long store_src_read(void *arg, uint64_t off, void *buf, size_t n)
{
	struct src_arg *a = arg;
	return store_msg_read(a->st, a->blob, off, buf, n);
}

void imap_msg_src(struct imap_session *s, const struct msg_info *mi, struct msg_src *src)
{
	if (s->mem_ok && s->mem_blob == mi->blob) {
		msg_src_mem(src, s->mem, s->mem_len);
		return;
	}
	src_slot.st = s->srv->store;
	src_slot.blob = mi->blob;
	src->read = store_src_read;
	src->arg = &src_slot;
	src->size = mi->size;
}

const struct mime_part *imap_tree(struct imap_session *s, const struct msg_info *mi)
{
	if (s->cache_tree && s->cache_blob == mi->blob)
		return s->cache_tree;
	struct msg_src src;
	mime_free(&s->cache_tree);
	imap_msg_src(s, mi, &src);
	s->cache_tree = mime_parse(&src);
	s->cache_blob = mi->blob;
	return s->cache_tree;
}

/* --------------------------------------------------------- commands */

static void cmd_capability(struct imap_session *s)
{
	struct sbuf b = {0};
	sbuf_puts(&b, "* CAPABILITY ");
	capabilities(s, &b);
	sbuf_puts(&b, "\r\n");
	imap_put(s, &b);
	sbuf_free(&b);
	imap_tagged(s, "OK", "CAPABILITY completed");
}

static void cmd_noop(struct imap_session *s)
{
	imap_sync(s, 1);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
}

static void cmd_logout(struct imap_session *s)
{
	/* Nothing between BYE and the tagged OK (RFC 9051 7.1.5): a client
	 * that drops its state on BYE must not then read EXPUNGE or EXISTS
	 * for numbers it no longer has. Leaving the selected state first is
	 * what keeps imap_tagged from following the mailbox. */
	s->state = IS_LOGOUT;
	s->reason = "logout";
	imap_out(s, "* BYE Logging out");
	imap_tagged(s, "OK", "LOGOUT completed");
}

static void cmd_id(struct imap_session *s)
{
	imap_out(s, "* ID (\"name\" \"brev\")");
	imap_tagged(s, "OK", "ID completed");
}

static void cmd_starttls(struct imap_session *s)
{
	if (!starttls_ok(s)) {
		imap_tagged(s, "BAD", "STARTTLS not available");
		return;
	}
	/* RFC 9051 6.2.1 / RFC 3207 5: nothing may follow STARTTLS in the
	 * same packet; conn_starttls refuses when plaintext is buffered. */
	if (conn_pending(s->c) > 0) {
		imap_tagged(s, "BAD", "Plaintext after STARTTLS");
		s->state = IS_LOGOUT;
		s->reason = "starttls-injection";
		return;
	}
	imap_tagged(s, "OK", "Begin TLS negotiation now");
	conn_flush(s->c);
	if (conn_starttls(s->c, s->srv->tls) < 0) {
		s->state = IS_LOGOUT;
		s->reason = "starttls-injection";
	}
}

/* The account address for a login name: the address, or a bare local
 * part when `domains` names exactly one domain. */
static int login_address(struct imap_session *s, const char *name, char *addr, size_t cap)
{
	const char *d = s->srv->cfg ? s->srv->cfg->domains : NULL;
	if (strchr(name, '@') || !d)
		return str_copy(addr, name, cap) < cap ? 0 : -1;
	while (*d == ' ')
		d++;
	size_t dl = strcspn(d, " ");
	if (!dl || d[dl + strspn(d + dl, " ")] != 0)
		return str_copy(addr, name, cap) < cap ? 0 : -1;
	return (size_t)snprintf(addr, cap, "%s@%.*s", name, (int)dl, d) < cap ? 0 : -1;
}

static int account_get(struct imap_session *s, const char *name, struct account *a)
{
	char addr[STORE_ADDR_MAX + 1];
	if (login_address(s, name, addr, sizeof addr) < 0)
		return ST_NOTFOUND;
	return store_user_get(s->srv->store, addr, a);
}

/* Before login each wait gets at most IMAP_PREAUTH_WAIT_MS and never
 * beyond the login deadline; conn.c bounds a line read by one timeout and a
 * literal read by a few, hence the divisor. */
static void preauth_timeout(struct imap_session *s, int div)
{
	if (s->state != IS_NOTAUTH)
		return;
	int64_t left = s->login_by - now_ms();
	if (left > preauth_wait(s))
		left = preauth_wait(s);
	left /= div;
	conn_set_timeout(s->c, left > 0 ? (int)left : 1);
}

static void logged_in(struct imap_session *s, const struct account *a, const char *how)
{
	struct sbuf b = {0};
	s->acct = *a;
	explicit_bzero(&s->acct.cred, sizeof s->acct.cred);
	str_copy(s->user, a->addr, sizeof s->user);
	s->state = IS_AUTH;
	s->in.preauth = 0;
	conn_set_timeout(s->c, idle_ms(s));
	s->watchfd = store_watch_open(s->srv->store, a->id);
	log_info("imap login user=%s method=%s peer=%s tls=%s", a->addr, how, conn_peer(s->c),
		 conn_is_tls(s->c) ? conn_tls_version(s->c) : "no");
	sbuf_puts(&b, "[CAPABILITY ");
	capabilities(s, &b);
	sbuf_puts(&b, "] Logged in");
	imap_tagged(s, "OK", "%s", b.p);
	sbuf_free(&b);
}

/* Like POP3: a few failures and the connection ends (tagged NO, then BYE),
 * so guessing needs new connections, each paying the greeting and the
 * address's throttle turn. */
static void too_many_fails(struct imap_session *s)
{
	if (++s->nfails < IMAP_AUTH_FAILS_MAX)
		return;
	imap_out(s, "* BYE Too many failed logins");
	s->state = IS_LOGOUT;
	s->reason = "auth-failures";
}

/* The throttle refused the attempt without checking it (sasl.h). */
static void throttle_refused(struct imap_session *s)
{
	imap_tagged(s, "NO", "[UNAVAILABLE] Too many failed logins, try later");
	too_many_fails(s);
}

static void login_failed(struct imap_session *s, const char *name, const char *how)
{
	log_info("imap auth failed user=%.100s method=%s peer=%s", name ? name : "?", how,
		 conn_peer(s->c));
	imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
	too_many_fails(s);
}

/* LOGIN's look-up keeps the account (and why it failed) for after the
 * check; cred_verify does the same work for unknown users. */
struct login_lookup {
	struct imap_session *s;
	struct account a;
	int rc;
};

static int login_lookup(void *arg, const char *user, struct cred *outc)
{
	struct login_lookup *l = arg;
	l->rc = account_get(l->s, user, &l->a);
	if (l->rc != ST_OK)
		return -1;
	*outc = l->a.cred;
	return 0;
}

static void cmd_login(struct imap_session *s)
{
	const char *u = iarg_str(iarg_nth(s->cmd.args, 0));
	const char *p = iarg_str(iarg_nth(s->cmd.args, 1));
	struct login_lookup *l;

	if (!u || !p || s->cmd.args->nkids != 2) {
		imap_tagged(s, "BAD", "LOGIN needs a user name and a password");
		return;
	}
	if (!plain_ok(s)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] LOGIN needs TLS: use STARTTLS");
		return;
	}
	l = xcalloc(1, sizeof *l);
	l->s = s;
	int ok = cred_verify(login_lookup, l, conn_peer(s->c), u, p);
	if (ok == 1)
		logged_in(s, &l->a, "LOGIN");
	else if (ok < 0)
		throttle_refused(s);
	else if (l->rc == ST_TEMP)
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
	else
		login_failed(s, u, "LOGIN");
	explicit_bzero(l, sizeof *l);
	free(l);
}

static int sasl_lookup(void *arg, const char *user, struct cred *outc)
{
	struct imap_session *s = arg;
	struct account a;
	if (account_get(s, user, &a) != ST_OK)
		return -1;
	*outc = a.cred;
	explicit_bzero(&a, sizeof a);
	return 0;
}

static void cmd_authenticate(struct imap_session *s)
{
	const char *mname = iarg_str(iarg_nth(s->cmd.args, 0));
	const char *ir = iarg_str(iarg_nth(s->cmd.args, 1));
	char outb[SASL_OUT_MAX + 1];
	int mech = mname ? sasl_mech_parse(mname) : -1;

	if (mech < 0) {
		imap_tagged(s, "NO", "Unsupported mechanism");
		return;
	}
	if ((mech == SASL_PLAIN || mech == SASL_LOGIN) && !plain_ok(s)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] Plaintext mechanism needs TLS");
		return;
	}
	struct sasl_session *ss = sasl_new(mech, s->srv->hostname ? s->srv->hostname : "brev",
					   sasl_lookup, s);
	sasl_set_peer(ss, conn_peer(s->c));
	const char *in = ir; /* RFC 4959: "=" is an empty initial response */
	char *line;
	for (;;) {
		int rc = sasl_step(ss, in, outb, sizeof outb);
		if (rc == SASL_CONTINUE || (rc == SASL_DONE && outb[0])) {
			conn_printf(s->c, "+ %s\r\n", outb);
			conn_flush(s->c);
			preauth_timeout(s, 1);
			ssize_t n = conn_getline(s->c, &line, SASL_IN_MAX + 2, NULL);
			if (n == -1) {
				sasl_free(&ss);
				s->state = IS_LOGOUT;
				s->reason = "eof";
				return;
			}
			if (n == -2 || (n == 1 && line[0] == '*')) {
				imap_tagged(s, "BAD", n == -2 ? "Response too long"
							      : "Authentication cancelled");
				sasl_free(&ss);
				return;
			}
			if (rc == SASL_DONE) {
				rc = n == 0 ? SASL_DONE : SASL_BAD;
			} else {
				in = line;
				continue;
			}
		}
		if (rc == SASL_DONE) {
			struct account a;
			if (account_get(s, sasl_user(ss), &a) == ST_OK)
				logged_in(s, &a, mname);
			else
				login_failed(s, sasl_user(ss), mname);
			explicit_bzero(&a, sizeof a);
		} else if (rc == SASL_FAIL && sasl_throttled(ss)) {
			throttle_refused(s);
		} else if (rc == SASL_FAIL) {
			login_failed(s, NULL, mname);
		} else if (rc == SASL_CANCEL) {
			imap_tagged(s, "BAD", "Authentication cancelled");
		} else {
			imap_tagged(s, "BAD", "Malformed SASL response");
		}
		break;
	}
	sasl_free(&ss);
}

static void cmd_enable(struct imap_session *s)
{
	struct sbuf b = {0};
	sbuf_puts(&b, "* ENABLED");
	for (struct iarg *a = s->cmd.args->kids; a; a = a->next) {
		if (iarg_is_atom(a, "IMAP4REV2") && !s->rev2) {
			s->rev2 = 1;
			sbuf_puts(&b, " IMAP4rev2");
		} else if (iarg_is_atom(a, "UTF8=ACCEPT") && !s->utf8) {
			s->utf8 = 1;
			sbuf_puts(&b, " UTF8=ACCEPT");
		} else if (iarg_is_atom(a, "CONDSTORE") && !s->condstore) {
			imap_condstore_on(s);
			sbuf_puts(&b, " CONDSTORE");
		} else if (iarg_is_atom(a, "QRESYNC") && !s->qresync) {
			/* RFC 7162 3.2.3: QRESYNC implies CONDSTORE. */
			imap_condstore_on(s);
			s->qresync = 1;
			sbuf_puts(&b, " QRESYNC");
		} else if (iarg_is_atom(a, "UIDONLY") && !s->uidonly) {
			s->uidonly = 1; /* RFC 9586 */
			sbuf_puts(&b, " UIDONLY");
		}
	}
	sbuf_puts(&b, "\r\n");
	imap_put(s, &b);
	sbuf_free(&b);
	imap_tagged(s, "OK", "ENABLE completed");
}

int imap_fetch_open(struct imap_session *s, struct sbuf *b, uint32_t seq, uint32_t uid)
{
	if (s->uidonly) {
		sbuf_printf(b, "* %u UIDFETCH (", uid);
		return 0;
	}
	sbuf_printf(b, "* %u FETCH (", seq);
	return 1;
}

void imap_condstore_on(struct imap_session *s)
{
	if (s->condstore)
		return;
	s->condstore = 1;
	/* RFC 7162 3.1: enabled while a mailbox is selected, the client learns
	 * its HIGHESTMODSEQ now (SELECT already told it; repeating is harmless).
	 * Not while expunges wait to be announced: a client that stored this
	 * value would never hear of them. */
	if (s->state == IS_SELECTED && !s->ngone)
		imap_out(s, "* OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)s->seen_hms);
}

int imap_modseq_arg(const struct iarg *a, uint64_t *out)
{
	const char *p = a && a->type == IA_ATOM ? a->s : NULL;
	uint64_t v = 0;
	if (!p || !*p || strlen(p) > 19)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > INT64_MAX)
		return -1;
	*out = v;
	return 0;
}

static void cmd_namespace(struct imap_session *s)
{
	imap_out(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, "OK", "NAMESPACE completed");
}

void imap_unselect(struct imap_session *s)
{
	snapshot_free(s);
	s->mbox[0] = 0;
	s->state = IS_AUTH;
}

struct qresync_param {
	int on;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct seqset known; /* n == 0: not given */
};

/* SELECT/EXAMINE parameters (RFC 4466 2.1): CONDSTORE (RFC 7162 3.1.8) and
 * QRESYNC (uidvalidity modseq [known-uids [seq-match-data]]) (3.2.5). NULL
 * or the BAD text. seq-match-data only helps a server that cannot tell
 * what was expunged; brev can (or reports every missing UID), so it is
 * checked for syntax and not used. */
static const char *select_params(struct imap_session *s, const struct iarg *l,
				 struct qresync_param *q)
{
	long long v;
	if (!l)
		return NULL;
	if (l->type != IA_LIST || l->next)
		return "Invalid SELECT parameters";
	for (const struct iarg *p = l->kids; p; p = p->next) {
		if (iarg_is_atom(p, "CONDSTORE")) {
			imap_condstore_on(s);
			continue;
		}
		if (!iarg_is_atom(p, "QRESYNC"))
			return "Unknown SELECT parameter";
		if (!s->qresync)
			return "QRESYNC is not enabled"; /* RFC 7162 3.2.5: BAD */
		p = p->next;
		if (q->on || !p || p->type != IA_LIST || p->nkids < 2 || p->nkids > 4)
			return "Invalid QRESYNC parameter";
		const struct iarg *a = p->kids;
		if (a->type != IA_ATOM || parse_int(a->s, 1, UINT32_MAX, &v) < 0 ||
		    imap_modseq_arg(a->next, &q->modseq) < 0 || q->modseq == 0)
			return "Invalid QRESYNC uidvalidity or modseq";
		q->uidvalidity = (uint32_t)v;
		a = a->next->next;
		if (a && a->type == IA_ATOM) {
			if (seqset_parse(a->s, &q->known) < 0)
				return "Invalid QRESYNC known UIDs";
			a = a->next;
		}
		if (a) { /* (known-sequence-set known-uid-set) */
			struct seqset x, y;
			const struct iarg *k1 = a->type == IA_LIST ? iarg_nth(a, 0) : NULL;
			const struct iarg *k2 = k1 ? k1->next : NULL;
			if (s->uidonly) /* RFC 9586 3.2: known-sequence-set is numbers */
				return "[UIDREQUIRED] No message numbers with UIDONLY";
			if (a->next || !k2 || k2->next || k1->type != IA_ATOM ||
			    k2->type != IA_ATOM || seqset_parse(k1->s, &x) < 0)
				return "Invalid QRESYNC sequence match data";
			seqset_free(&x);
			if (seqset_parse(k2->s, &y) < 0)
				return "Invalid QRESYNC sequence match data";
			seqset_free(&y);
		}
		q->on = 1;
	}
	return NULL;
}

static void cmd_select(struct imap_session *s)
{
	int examine = strcmp(s->cmd.name, "EXAMINE") == 0;
	char name[STORE_MBOX_MAX + 1];
	struct mbox_info mi;
	struct uid_run *runs;
	size_t nruns;

	if (s->state == IS_SELECTED) {
		imap_unselect(s);
		/* RFC 9051 7.1: [CLOSED]; rev1 clients ignore the unknown code. */
		imap_out(s, "* OK [CLOSED] Previous mailbox closed");
	}
	if (imap_mbox_arg(s, iarg_nth(s->cmd.args, 0), name, sizeof name) < 0) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return;
	}
	struct qresync_param q = {0};
	const char *perr = select_params(s, iarg_nth(s->cmd.args, 1), &q);
	if (perr) {
		seqset_free(&q.known);
		imap_tagged(s, "BAD", "%s", perr);
		return;
	}
	/* The UIDs as runs and the counters, from one read of the store. */
	int rc = store_msg_runs(s->srv->store, s->acct.id, name, &runs, &nruns, &mi);
	if (rc != ST_OK) {
		free(runs);
		seqset_free(&q.known);
		/* A name the store cannot hold ("/INBOX") names no mailbox:
		 * a permanent answer, never the temporary [UNAVAILABLE]. */
		imap_tagged(s, "NO", "%s", rc == ST_INVALID ? imap_store_no(ST_NOTFOUND)
							     : imap_store_no(rc));
		return;
	}
	str_copy(s->mbox, name, sizeof s->mbox);
	view_set(&s->view, runs, nruns);
	free(runs);
	if (s->view.count != mi.exists)
		log_warn("imap: %s of account %u: index has %u messages, counter %u", name,
			 s->acct.id, s->view.count, mi.exists);
	s->readonly = examine;
	s->uidvalidity = mi.uidvalidity;
	s->seen_hms = mi.highestmodseq;
	s->state = IS_SELECTED;
	imap_kw_load(s);
	imap_flags_announce(s);
	imap_out(s, "* %u EXISTS", s->view.count);
	if (!s->rev2) {
		uint32_t first = 0, seq;
		imap_recent_claim(s, mi.uidnext);
		imap_out(s, "* %u RECENT", imap_recent_count(s));
		if (mi.unseen && !s->uidonly && /* [UNSEEN n] is a message number */
		    store_msg_first_unseen(s->srv->store, s->acct.id, name, &first) == ST_OK &&
		    first && (seq = view_seq(&s->view, first)))
			imap_out(s, "* OK [UNSEEN %u] First unseen", seq);
	}
	imap_out(s, "* OK [UIDVALIDITY %u] UIDs valid", mi.uidvalidity);
	imap_out(s, "* OK [UIDNEXT %u] Predicted next UID", mi.uidnext);
	char mboxid[OBJID_MAX]; /* RFC 8474 4.2 */
	objid_mailbox(mboxid, mi.id);
	imap_out(s, "* OK [MAILBOXID (%s)] Ok", mboxid);
	/* RFC 7162 3.1.2.1: every SELECT/EXAMINE (brev always has modseqs,
	 * so never NOMODSEQ). */
	imap_out(s, "* OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)mi.highestmodseq);
	/* RFC 7162 3.2.5: with the same UIDVALIDITY, what the client missed
	 * since its modseq; with another, nothing (its cache is void). */
	if (q.on && q.uidvalidity == mi.uidvalidity) {
		if (q.known.n)
			seqset_resolve(&q.known, mi.uidnext > 1 ? mi.uidnext - 1 : 1);
		imap_qresync_report(s, q.known.n ? &q.known : NULL, q.modseq, mi.uidnext, 1);
	}
	seqset_free(&q.known);
	imap_tagged(s, "OK", "[%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE",
		    s->cmd.name);
}

const char *imap_store_no(int rc)
{
	switch (rc) {
	case ST_NOTFOUND: return "[NONEXISTENT] No such mailbox";
	case ST_EXISTS: return "[ALREADYEXISTS] Mailbox already exists";
	case ST_QUOTA: return "[OVERQUOTA] Quota exceeded";
	case ST_TOOBIG: return "[TOOBIG] Message too large";
	case ST_INVALID: return "[CANNOT] Not allowed";
	case ST_LIMIT: return "[LIMIT] Too many keywords in the mailbox";
	default: return "[UNAVAILABLE] Try again later"; /* ST_TEMP: only that is temporary */
	}
}

/* ---- APPEND ---- */

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* RFC 9051 9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d"). */
int64_t imap_parse_datetime(const char *s)
{
	int d, y, h, mi, se, zh;
	char mon[4], sign;
	if (strlen(s) < 25 || sscanf(s, "%2d-%3s-%4d %2d:%2d:%2d %c%4d", &d, mon, &y, &h, &mi, &se,
				     &sign, &zh) != 8)
		return -1;
	int m = -1;
	for (int i = 0; i < 12; i++)
		if (str_casecmp_ascii(mon, months[i]) == 0)
			m = i;
	if (m < 0 || d < 1 || d > 31 || y < 1970 || y > 9999 || h > 23 || mi > 59 || se > 60 ||
	    (sign != '+' && sign != '-'))
		return -1;
	struct tm tm = {.tm_mday = d, .tm_mon = m, .tm_year = y - 1900, .tm_hour = h,
			.tm_min = mi, .tm_sec = se};
	int64_t t = (int64_t)timegm(&tm);
	int64_t off = (zh / 100) * 3600 + (zh % 100) * 60;
	return sign == '+' ? t - off : t + off;
}

/* 1 if the spool holds a NUL in [off, off+len). */
static int spool_nul(struct spool *sp, uint64_t off, uint64_t len)
{
	char buf[16384];
	while (len > 0) {
		long got = spool_read_at(sp, off, buf, len < sizeof buf ? (size_t)len : sizeof buf);
		if (got <= 0)
			return 0;
		if (memchr(buf, 0, (size_t)got))
			return 1;
		off += (uint64_t)got;
		len -= (uint64_t)got;
	}
	return 0;
}

/* RFC 3502 MULTIAPPEND's groups, also REPLACE's one (RFC 8508): each
 * (flags, date, message), the message a literal, "UTF8 (literal8)" or
 * "CATENATE (...)" (imap_catenate.c). NULL and the BAD/NO answer given, or
 * the array (*n entries; free with imap_append_free). */
struct imap_append_msg *imap_append_groups(struct imap_session *s, const struct iarg *a, size_t *n)
{
	struct imap_append_msg *v = NULL;
	size_t cap = 0;

	*n = 0;
	while (a) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			v = xrealloc(v, cap * sizeof *v);
		}
		struct imap_append_msg *g = &v[(*n)++];
		memset(g, 0, sizeof *g);
		const char *err = NULL, *cond = "BAD";
		if (a->type == IA_LIST) {
			size_t kwcap = a->nkids ? a->nkids : 1;
			g->kw = xmalloc(kwcap * sizeof *g->kw);
			if (imap_parse_flags(a, &g->flags, g->kw, &g->nkw, kwcap) < 0)
				err = "Invalid flag list";
			a = a->next;
		}
		if (!err && a && a->type == IA_STRING && !a->literal) {
			g->date = imap_parse_datetime(a->s);
			if (g->date < 0)
				err = "Invalid date-time";
			a = a->next;
		}
		/* RFC 4469 5: CATENATE (parts), assembled into a spool of its
		 * own; imap_catenate answers its own refusals. */
		if (!err && iarg_is_atom(a, "CATENATE") && a->next && a->next->type == IA_LIST) {
			if (imap_catenate(s, a->next, &g->own) < 0) {
				imap_append_free(v, *n);
				return NULL;
			}
			g->body = g->own;
			g->off = 0;
			g->len = spool_size(g->own);
			a = a->next->next;
			continue;
		}
		/* RFC 6855 4: "UTF8" SP "(" literal8 ")", the form Thunderbird
		 * saves its sent copies with once UTF8=ACCEPT is enabled. The
		 * message is stored as it comes, like any other. */
		const struct iarg *utf8 = NULL;
		if (!err && iarg_is_atom(a, "UTF8") && a->next && a->next->type == IA_LIST) {
			utf8 = a->next;
			if (utf8->nkids != 1 || !utf8->kids->spooled)
				err = "UTF8 needs one message literal in parentheses";
			else
				a = utf8->kids;
		}
		if (!err && (!a || a->type != IA_STRING || !a->spooled))
			err = "APPEND needs a message literal";
		else if (!err && a->len == 0) {
			cond = "NO";
			err = "Empty message";
		}
		/* RFC 9051 4.3: a literal is CHAR8 (no NUL); brev keeps no
		 * binary content either (BINARY APPEND's ~{n}), so no FETCH
		 * ever has to carry one (issue 22). */
		else if (!err && spool_nul(s->cmd.spool, a->off, a->len)) {
			cond = "NO";
			err = "Message contains NUL octets; brev stores no binary content";
		}
		if (err) {
			imap_tagged(s, cond, "%s", err);
			imap_append_free(v, *n);
			return NULL;
		}
		g->body = s->cmd.spool;
		g->off = a->off;
		g->len = a->len;
		a = utf8 ? utf8->next : a->next;
	}
	return v;
}

void imap_append_free(struct imap_append_msg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].kw);
		spool_free(&v[i].own);
	}
	free(v);
}

int imap_spool_nul(struct spool *sp, uint64_t off, uint64_t len)
{
	return spool_nul(sp, off, len);
}

/* RFC 3502 MULTIAPPEND is all or nothing: every group is checked first,
 * then one store_append_many stores them in one commit. All messages sit in
 * the command's one spool (imap_parse.c), each a slice of it. */
static void cmd_append(struct imap_session *s)
{
	char name[STORE_MBOX_MAX + 1];
	struct iarg *a = s->cmd.args->kids;
	uint32_t uidv = 0;
	size_t n;

	if (imap_mbox_arg(s, a, name, sizeof name) < 0) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return;
	}
	if (!a->next) {
		imap_tagged(s, "BAD", "APPEND needs a message");
		return;
	}
	struct imap_append_msg *g = imap_append_groups(s, a->next, &n);
	if (!g)
		return;
	struct mbox_info mi;
	int rc = store_mbox_get(s->srv->store, s->acct.id, name, &mi);
	if (rc == ST_OK) {
		struct msg_in *m = xcalloc(n, sizeof *m);
		uint32_t *uids = xcalloc(n, sizeof *uids);
		for (size_t i = 0; i < n; i++)
			m[i] = (struct msg_in){.body = g[i].body, .body_off = g[i].off,
					       .body_len = g[i].len, .internaldate = g[i].date,
					       .flags = g[i].flags, .keywords = g[i].kw,
					       .nkeywords = g[i].nkw};
		rc = store_append_many(s->srv->store, s->acct.id, name, m, n, &uidv, uids);
		if (rc == ST_OK) {
			struct sbuf b = {0};
			imap_uidset_out(&b, uids, n);
			imap_sync(s, 0);
			imap_tagged(s, "OK", "[APPENDUID %u %s] APPEND completed", uidv, b.p);
			sbuf_free(&b);
		}
		free(uids);
		free(m);
	}
	if (rc != ST_OK)
		imap_tagged(s, "NO", "%s", rc == ST_NOTFOUND ? "[TRYCREATE] No such mailbox"
							     : imap_store_no(rc));
	imap_append_free(g, n);
}

/* ---- selected state ---- */

static void cmd_check(struct imap_session *s)
{
	imap_sync(s, 1);
	imap_tagged(s, "OK", "CHECK completed");
}

struct deleted_ctx {
	const struct seqset *only;
	struct u32v uids;
};

static int deleted_cb(void *arg, const struct msg_info *m)
{
	struct deleted_ctx *d = arg;
	if ((m->flags & FL_DELETED) && (!d->only || seqset_contains(d->only, m->uid)))
		u32v_push(&d->uids, m->uid);
	return 0;
}

static int expunge_deleted(struct imap_session *s, const struct seqset *only)
{
	struct deleted_ctx d = {.only = only};
	int rc = store_msg_list(s->srv->store, s->acct.id, s->mbox, 1, deleted_cb, &d);
	if (rc == ST_OK && d.uids.n)
		rc = store_msg_expunge(s->srv->store, s->acct.id, s->mbox, d.uids.v, d.uids.n);
	free(d.uids.v);
	return rc;
}

static void cmd_expunge(struct imap_session *s, int uid)
{
	struct seqset ss = {0};
	if (s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (uid) {
		if (imap_set_arg(s, iarg_str(iarg_nth(s->cmd.args, 0)), 1, 0, &ss) < 0) {
			imap_tagged(s, "BAD", "Invalid UID set");
			return;
		}
	}
	int rc = expunge_deleted(s, uid ? &ss : NULL);
	seqset_free(&ss);
	imap_sync(s, 1);
	if (rc == ST_OK)
		imap_tagged(s, "OK", "EXPUNGE completed");
	else
		imap_tagged(s, "NO", "%s", imap_store_no(rc));
}

static void cmd_close(struct imap_session *s)
{
	int unsel = strcmp(s->cmd.name, "UNSELECT") == 0;
	if (!unsel && !s->readonly)
		expunge_deleted(s, NULL); /* RFC 9051 6.4.1: silently */
	imap_unselect(s);
	imap_tagged(s, "OK", "%s completed", s->cmd.name);
}

static void cmd_copy(struct imap_session *s, int uid)
{
	int move = strstr(s->cmd.name, "MOVE") != NULL;
	char dst[STORE_MBOX_MAX + 1];
	struct imap_ref *idx;
	size_t n;
	int bad;

	if (imap_mbox_arg(s, iarg_nth(s->cmd.args, 1), dst, sizeof dst) < 0) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return;
	}
	if (move && s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	n = imap_resolve_set(s, iarg_str(iarg_nth(s->cmd.args, 0)), uid, &idx, &bad);
	if (bad) {
		free(idx);
		imap_tagged(s, "BAD", "Invalid sequence set");
		return;
	}
	struct mbox_info mi;
	int rc = store_mbox_get(s->srv->store, s->acct.id, dst, &mi);
	if (rc != ST_OK) {
		free(idx);
		imap_tagged(s, "NO", "%s", rc == ST_NOTFOUND ? "[TRYCREATE] No such mailbox"
							     : imap_store_no(rc));
		return;
	}
	if (n == 0) {
		free(idx);
		imap_tagged(s, "OK", "Nothing to do");
		return;
	}
	uint32_t *src = xmalloc(n * sizeof *src), *dstu = xcalloc(n, sizeof *dstu), uidv = 0;
	for (size_t i = 0; i < n; i++)
		src[i] = idx[i].uid;
	free(idx);
	rc = store_msg_copy(s->srv->store, s->acct.id, s->mbox, dst, src, n, move, &uidv, dstu);
	if (rc != ST_OK) {
		imap_tagged(s, "NO", "%s", imap_store_no(rc));
	} else {
		struct sbuf a = {0}, b = {0};
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (dstu[i]) { /* copied: keep the pair */
				src[k] = src[i];
				dstu[k++] = dstu[i];
			}
		imap_uidset_out(&a, src, k);
		imap_uidset_out(&b, dstu, k);
		/* into or out of \Junk: the classifier learns (spam_learn.h) */
		spam_learn_copy(s->srv->store, s->acct.id, s->mbox, dst, dstu, k);
		if (move) {
			/* RFC 6851 4.3: COPYUID goes in an untagged OK before the EXPUNGEs. */
			if (a.len)
				imap_out(s, "* OK [COPYUID %u %s %s] Moved", uidv, a.p, b.p);
			imap_sync(s, 1);
			imap_tagged(s, "OK", "%s completed", s->cmd.name);
		} else {
			imap_sync(s, !uid ? 0 : 1);
			if (a.len)
				imap_tagged(s, "OK", "[COPYUID %u %s %s] COPY completed", uidv, a.p,
					    b.p);
			else
				imap_tagged(s, "OK", "COPY completed");
		}
		sbuf_free(&a);
		sbuf_free(&b);
	}
	free(src);
	free(dstu);
}

static void drain_watch(struct imap_session *s)
{
	uint64_t v;
	struct pollfd p = {.fd = s->watchfd, .events = POLLIN};
	if (s->watchfd >= 0 && poll(&p, 1, 0) == 1)
		(void)!read(s->watchfd, &v, sizeof v);
}

static void cmd_idle(struct imap_session *s)
{
	char *line;
	int64_t deadline = now_ms() + idle_ms(s);

	drain_watch(s);
	imap_sync(s, 1);
	imap_notify_poll(s);
	if (s->state == IS_LOGOUT)
		return;
	conn_puts(s->c, "+ idling\r\n");
	conn_flush(s->c);
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			imap_out(s, "* BYE Autologout; idle for too long");
			s->state = IS_LOGOUT;
			s->reason = "idle-timeout";
			return;
		}
		int w = conn_wait(s->c, s->watchfd, (int)(left > 60000 ? 60000 : left));
		if (w == 2) {
			drain_watch(s);
			imap_sync(s, 1);
			imap_notify_poll(s);
			conn_flush(s->c);
			if (s->state == IS_LOGOUT)
				return;
			continue;
		}
		if (w == 0) {
			/* A periodic look catches changes whose wake-up was lost. */
			imap_sync(s, 1);
			imap_notify_poll(s);
			conn_flush(s->c);
			if (s->state == IS_LOGOUT)
				return;
			continue;
		}
		if (w < 0) {
			s->state = IS_LOGOUT;
			s->reason = "eof";
			return;
		}
		ssize_t n = conn_getline(s->c, &line, IMAP_LINE_MAX, NULL);
		if (n == -1) {
			s->state = IS_LOGOUT;
			s->reason = "eof";
			return;
		}
		if (n == 4 && str_ncasecmp_ascii(line, "DONE", 4) == 0)
			imap_tagged(s, "OK", "IDLE terminated");
		else
			imap_tagged(s, "BAD", "Expected DONE");
		return;
	}
}

static void cmd_fetch(struct imap_session *s) { imap_cmd_fetch(s, 0); }
static void cmd_uid_fetch(struct imap_session *s) { imap_cmd_fetch(s, 1); }
static void cmd_store_(struct imap_session *s) { imap_cmd_store(s, 0); }
static void cmd_uid_store(struct imap_session *s) { imap_cmd_store(s, 1); }
static void cmd_search(struct imap_session *s) { imap_cmd_search(s, 0); }
static void cmd_uid_search(struct imap_session *s) { imap_cmd_search(s, 1); }
static void cmd_sort(struct imap_session *s) { imap_cmd_sort(s, 0); }
static void cmd_uid_sort(struct imap_session *s) { imap_cmd_sort(s, 1); }
static void cmd_thread(struct imap_session *s) { imap_cmd_thread(s, 0); }
static void cmd_uid_thread(struct imap_session *s) { imap_cmd_thread(s, 1); }
static void cmd_copy_(struct imap_session *s) { cmd_copy(s, 0); }
static void cmd_uid_copy(struct imap_session *s) { cmd_copy(s, 1); }
static void cmd_replace(struct imap_session *s) { imap_cmd_replace(s, 0); }
static void cmd_uid_replace(struct imap_session *s) { imap_cmd_replace(s, 1); }
static void cmd_expunge_(struct imap_session *s) { cmd_expunge(s, 0); }
static void cmd_uid_expunge(struct imap_session *s) { cmd_expunge(s, 1); }

#define S_NA (1 << IS_NOTAUTH)
#define S_AU (1 << IS_AUTH)
#define S_SE (1 << IS_SELECTED)
#define S_ANY (S_NA | S_AU | S_SE)

static const struct {
	const char *name;
	int states;
	int min_args;
	void (*fn)(struct imap_session *);
} commands[] = {
	{"CAPABILITY", S_ANY, 0, cmd_capability},
	{"NOOP", S_ANY, 0, cmd_noop},
	{"LOGOUT", S_ANY, 0, cmd_logout},
	{"ID", S_ANY, 1, cmd_id},
	{"STARTTLS", S_NA, 0, cmd_starttls},
	{"LOGIN", S_NA, 2, cmd_login},
	{"AUTHENTICATE", S_NA, 1, cmd_authenticate},
	{"ENABLE", S_AU | S_SE, 1, cmd_enable},
	{"SELECT", S_AU | S_SE, 1, cmd_select},
	{"EXAMINE", S_AU | S_SE, 1, cmd_select},
	{"CREATE", S_AU | S_SE, 1, imap_cmd_create},
	{"DELETE", S_AU | S_SE, 1, imap_cmd_delete},
	{"RENAME", S_AU | S_SE, 2, imap_cmd_rename},
	{"SUBSCRIBE", S_AU | S_SE, 1, imap_cmd_subscribe},
	{"UNSUBSCRIBE", S_AU | S_SE, 1, imap_cmd_subscribe},
	{"LIST", S_AU | S_SE, 2, imap_cmd_list},
	{"LSUB", S_AU | S_SE, 2, imap_cmd_list},
	{"NAMESPACE", S_AU | S_SE, 0, cmd_namespace},
	{"STATUS", S_AU | S_SE, 2, imap_cmd_status},
	{"APPEND", S_AU | S_SE, 2, cmd_append},
	{"IDLE", S_AU | S_SE, 0, cmd_idle},
	{"COMPRESS", S_AU | S_SE, 1, imap_cmd_compress},
	{"NOTIFY", S_AU | S_SE, 1, imap_cmd_notify},
	{"GETQUOTAROOT", S_AU | S_SE, 1, imap_cmd_getquotaroot},
	{"GETQUOTA", S_AU | S_SE, 1, imap_cmd_getquota},
	{"SETQUOTA", S_AU | S_SE, 2, imap_cmd_setquota},
	{"CHECK", S_SE, 0, cmd_check},
	{"CLOSE", S_SE, 0, cmd_close},
	{"UNSELECT", S_SE, 0, cmd_close},
	{"EXPUNGE", S_SE, 0, cmd_expunge_},
	{"UID EXPUNGE", S_SE, 1, cmd_uid_expunge},
	{"SEARCH", S_SE, 1, cmd_search},
	{"UID SEARCH", S_SE, 1, cmd_uid_search},
	{"ESEARCH", S_AU | S_SE, 1, imap_cmd_esearch},
	{"CANCELUPDATE", S_SE, 1, imap_cmd_cancelupdate},
	{"SORT", S_SE, 3, cmd_sort},
	{"UID SORT", S_SE, 3, cmd_uid_sort},
	{"THREAD", S_SE, 3, cmd_thread},
	{"UID THREAD", S_SE, 3, cmd_uid_thread},
	{"FETCH", S_SE, 2, cmd_fetch},
	{"UID FETCH", S_SE, 2, cmd_uid_fetch},
	{"STORE", S_SE, 3, cmd_store_},
	{"UID STORE", S_SE, 3, cmd_uid_store},
	{"COPY", S_SE, 2, cmd_copy_},
	{"UID COPY", S_SE, 2, cmd_uid_copy},
	{"REPLACE", S_SE, 3, cmd_replace},
	{"UID REPLACE", S_SE, 3, cmd_uid_replace},
	{"MOVE", S_SE, 2, cmd_copy_},
	{"UID MOVE", S_SE, 2, cmd_uid_copy},
};

/* ------------------------------------------------------- the session */

static ssize_t in_getline(void *arg, char **line, size_t max)
{
	struct imap_session *s = arg;
	preauth_timeout(s, 1);
	ssize_t n = conn_getline(s->c, line, max, NULL);
	return n;
}

static int in_read_n(void *arg, void *buf, size_t n)
{
	struct imap_session *s = arg;
	preauth_timeout(s, 6);
	return conn_read_n(s->c, buf, n);
}

static int in_read_spool(void *arg, struct spool *sp, uint64_t n)
{
	struct imap_session *s = arg;
	return conn_read_n_spool(s->c, sp, n);
}

static void in_cont(void *arg)
{
	struct imap_session *s = arg;
	conn_puts(s->c, "+ Ready for literal data\r\n");
	conn_flush(s->c);
}

/* RFC 9586 3.2: the commands that take message numbers, refused with
 * BAD [UIDREQUIRED] after ENABLE UIDONLY (their UID forms stay). */
static int takes_seqnums(const char *name)
{
	/* SORT and THREAD too (RFC 9586 3.2), for when they are served. */
	static const char *const names[] = {"FETCH", "STORE", "SEARCH", "COPY",
					    "MOVE",  "SORT",  "THREAD"};
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (!strcmp(name, names[i]))
			return 1;
	return 0;
}

static void dispatch(struct imap_session *s)
{
	for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
		if (strcmp(commands[i].name, s->cmd.name) != 0)
			continue;
		if (!(commands[i].states & (1 << s->state))) {
			imap_tagged(s, "BAD", "%s not allowed now", s->cmd.name);
			return;
		}
		if (s->cmd.args->nkids < (size_t)commands[i].min_args) {
			imap_tagged(s, "BAD", "%s: missing arguments", s->cmd.name);
			return;
		}
		if (s->uidonly && takes_seqnums(s->cmd.name)) {
			/* RFC 9586 3.2: message numbers are gone after ENABLE UIDONLY */
			imap_tagged(s, "BAD", "[UIDREQUIRED] Use UID %s", s->cmd.name);
			return;
		}
		commands[i].fn(s);
		return;
	}
	imap_tagged(s, "BAD", "Unknown command");
}

/* Commands after which untagged EXPUNGE may not follow (RFC 9051 7.5.1). */
static int expunge_allowed_after(const char *name)
{
	return strcmp(name, "FETCH") != 0 && strcmp(name, "STORE") != 0 &&
	       strcmp(name, "SEARCH") != 0 && strcmp(name, "SORT") != 0 &&
	       strcmp(name, "THREAD") != 0;
}

void imap_serve(struct server *srv, struct conn *c, int kind)
{
	struct imap_session *s = xcalloc(1, sizeof *s);

	static atomic_ulong next_id;
	s->id = atomic_fetch_add(&next_id, 1) + 1;
	s->srv = srv;
	s->c = c;
	s->kind = kind;
	s->watchfd = -1;
	s->reason = "eof";
	s->in = (struct imap_in){in_getline, in_read_n, in_read_spool, in_cont, s,
				 srv->cfg ? srv->cfg->message_size : 50u << 20, 1};
	s->login_by = now_ms() + preauth_total_ms;
	preauth_timeout(s, 1);
	{
		struct sbuf b = {0};
		sbuf_puts(&b, "* OK [CAPABILITY ");
		capabilities(s, &b);
		sbuf_puts(&b, "] brev IMAP ready\r\n");
		imap_put(s, &b);
		sbuf_free(&b);
	}
	conn_flush(c);
	while (s->state != IS_LOGOUT) {
		if (s->state == IS_NOTAUTH && now_ms() >= s->login_by) {
			imap_out(s, "* BYE Autologout; no login in time");
			s->reason = "login-timeout";
			break;
		}
		if (atomic_load(&s->srv->stopping))
			conn_end_input(c); /* the BYE comes from net.c */
		if (s->notify) { /* RFC 5465: notifications between commands too */
			imap_notify_wait(s, idle_ms(s));
			if (s->state == IS_LOGOUT)
				break;
		}
		int rc = imap_cmd_read(&s->in, &s->cmd);
		if (rc < 0) {
			if (s->cmd.err[0]) {
				imap_out(s, "* BYE %s", s->cmd.err);
				s->reason = "protocol";
			} else {
				s->reason = conn_error(c) == CONN_TIMEOUT ? "timeout" : "eof";
			}
			imap_cmd_clear(&s->cmd);
			break;
		}
		if (rc > 0) {
			imap_tagged(s, s->cmd.no ? "NO" : "BAD", "%s", s->cmd.err);
			if (s->cmd.fatal) {
				/* RFC 7888 4: the server may close when it refuses
				 * a non-synchronizing literal. */
				imap_out(s, "* BYE Cannot continue after that command");
				s->state = IS_LOGOUT;
				s->reason = "protocol";
			}
		} else {
			log_debug("imap %s cmd %s", s->user[0] ? s->user : "-", s->cmd.name);
			dispatch(s);
		}
		if (s->nbad >= IMAP_BAD_MAX && s->state != IS_LOGOUT) {
			imap_out(s, "* BYE Too many errors");
			s->reason = "errors";
			s->state = IS_LOGOUT;
		}
		imap_cmd_clear(&s->cmd);
		if (conn_flush(c) < 0 || conn_error(c)) {
			if (s->state != IS_LOGOUT)
				s->reason = conn_error(c) == CONN_TIMEOUT ? "timeout" : "eof";
			break;
		}
	}
	conn_flush(c);
	log_info("imap session end id=%lu peer=%s tls=%s user=%s reason=%s", s->id, conn_peer(c),
		 conn_is_tls(c) ? conn_tls_version(c) : "no", s->user[0] ? s->user : "-", s->reason);
	if (s->watchfd >= 0)
		store_watch_close(srv->store, s->acct.id, s->watchfd);
	imap_notify_free(s);
	snapshot_free(s);
	free(s);
}
