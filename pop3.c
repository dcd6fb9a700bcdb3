/*
 * pop3.c — POP3 server sessions: RFC 1939 (USER/PASS, STAT, LIST, RETR,
 * DELE, NOOP, RSET, QUIT, TOP, UIDL; APOP is not offered), RFC 2449 CAPA and
 * response codes, RFC 2595 STLS, RFC 5034 AUTH with the SASL mechanisms of
 * sasl.c. The maildrop is the account's INBOX.
 *
 * What this file owns: the session states, the command table, the snapshot
 * of the maildrop taken at login (message numbers never change during a
 * session), the per-process table of locked maildrops ([IN-USE]), and the
 * UPDATE state (deletions are applied only after QUIT, in one
 * store_msg_expunge). The line parser and the RETR/TOP byte filter live in
 * pop3_parse.c; all I/O goes through conn.c, all storage through mailbox.c.
 * Messages deleted over POP3 are removed for good (docs/pop3.md).
 */
#include "pop3.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "mailbox.h"
#include "sasl.h"
#include "server.h"
#include "util.h"

/* RFC 1939 section 3: the inactivity timer must be at least 10 minutes. */
#define POP3_TIMEOUT_MS	  (10 * 60 * 1000)
#define POP3_MAX_FAILURES 3	  /* failed logins before we hang up */
#define POP3_MAX_ERRORS	  20	  /* bad commands before we hang up */
#define POP3_MSGS_MAX	  1000000 /* messages one session shows */
#define POP3_CHUNK	  16384	  /* bytes read from the store at a time */
#define POP3_SASL_ROUNDS  8	  /* challenges per AUTH, bounded */

enum pop3_state { PS_AUTHORIZATION = 0, PS_TRANSACTION = 1 };
#define IN_AUTH	 (1u << PS_AUTHORIZATION)
#define IN_TRANS (1u << PS_TRANSACTION)

static const char *const state_names[] = {"AUTHORIZATION", "TRANSACTION"};

/* One message of the snapshot taken at login. */
struct pop3_msg {
	uint32_t uid;
	uint64_t blob;
	uint64_t size;	 /* octets as stored */
	uint64_t octets; /* RFC 1939 size: CRLF lines, unstuffed; valid if sized */
	unsigned sized : 1;
	unsigned deleted : 1; /* DELE'd in this session, undone by RSET */
};

/* An entry of the locked-maildrop table; lives inside its session. */
struct pop3_lock {
	uint32_t account;
	struct pop3_lock *next;
};

struct pop3 {
	struct server *srv;
	struct store *st;
	struct conn *c;
	int kind;
	int state;			   /* enum pop3_state */
	int quit;			   /* leave the command loop */
	const char *reason;		   /* for the session's closing log line */
	int failures;			   /* failed logins */
	int errors;			   /* bad commands */
	char user[STORE_ADDR_MAX + 1];	   /* from USER, waiting for PASS */
	char login[STORE_ADDR_MAX + 1];	   /* the account, once logged in */
	char authname[STORE_ADDR_MAX + 1]; /* last name SASL asked about, for logs */
	uint32_t account;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;
	size_t nmsgs, cap;
	unsigned nretr, ndele;
	int locked;
	struct pop3_lock lock;
};

/* ---- the table of locked maildrops (RFC 1939 section 8, RFC 2449 IN-USE) ---- */

static pthread_mutex_t lock_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pop3_lock *lock_head;

static int maildrop_lock(struct pop3 *s, uint32_t account)
{
	int rc = 0;

	pthread_mutex_lock(&lock_mu);
	for (struct pop3_lock *l = lock_head; l; l = l->next)
		if (l->account == account)
			rc = -1;
	if (rc == 0) {
		s->lock.account = account;
		s->lock.next = lock_head;
		lock_head = &s->lock;
		s->locked = 1;
	}
	pthread_mutex_unlock(&lock_mu);
	return rc;
}

static void maildrop_unlock(struct pop3 *s)
{
	if (!s->locked)
		return;
	pthread_mutex_lock(&lock_mu);
	for (struct pop3_lock **lp = &lock_head; *lp; lp = &(*lp)->next) {
		if (*lp == &s->lock) {
			*lp = s->lock.next;
			break;
		}
	}
	pthread_mutex_unlock(&lock_mu);
	s->locked = 0;
}

/* ---- replies ---- */

static void reply(struct pop3 *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct pop3 *s, const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof buf - 3)
		n = (int)(sizeof buf - 3);
	buf[n++] = '\r';
	buf[n++] = '\n';
	conn_write(s->c, buf, (size_t)n);
}

static const char *conn_reason(const struct conn *c)
{
	switch (conn_error(c)) {
	case CONN_EOF:
		return "eof";
	case CONN_TIMEOUT:
		return "timeout";
	case CONN_TLS:
		return "tls-error";
	case CONN_IO:
		return "io-error";
	default:
		return "error";
	}
}

static void hang_up(struct pop3 *s, const char *reason)
{
	s->quit = 1;
	if (!s->reason)
		s->reason = reason;
}

/* ---- policy ---- */

/* DESIGN §7: plaintext passwords only inside TLS or from this machine. */
static int plain_ok(const struct pop3 *s)
{
	return conn_is_tls(s->c) || conn_is_loopback(s->c);
}

static int stls_available(const struct pop3 *s)
{
	return s->kind == LK_POP3 && s->srv->tls && !conn_is_tls(s->c);
}

static const char *hostname(const struct pop3 *s)
{
	return s->srv->hostname && s->srv->hostname[0] ? s->srv->hostname : "brev";
}

/* The account address for a login name: the address itself, or a bare
 * local part on a server with exactly one domain. -1 if too long. */
static int login_address(const struct pop3 *s, const char *name, char *out, size_t cap)
{
	const char *d = s->srv->cfg ? s->srv->cfg->domains : NULL;
	size_t dlen;

	if (strchr(name, '@') || !d)
		return str_copy(out, name, cap) < cap ? 0 : -1;
	while (*d == ' ')
		d++;
	dlen = strcspn(d, " ");
	if (dlen == 0 || d[dlen + strspn(d + dlen, " ")] != '\0')
		return str_copy(out, name, cap) < cap ? 0 : -1;
	if ((size_t)snprintf(out, cap, "%s@%.*s", name, (int)dlen, d) >= cap)
		return -1;
	return 0;
}

/* ---- the maildrop snapshot ---- */

static int snapshot_add(void *arg, const struct msg_info *m)
{
	struct pop3 *s = arg;

	if (s->nmsgs == POP3_MSGS_MAX)
		return 1;
	if (s->nmsgs == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->msgs = xrealloc(s->msgs, s->cap * sizeof *s->msgs);
	}
	s->msgs[s->nmsgs++] = (struct pop3_msg){.uid = m->uid, .blob = m->blob, .size = m->size};
	return 0;
}

static int snapshot(struct pop3 *s)
{
	struct mbox_info mi;

	if (store_mbox_get(s->st, s->account, "INBOX", &mi) != ST_OK)
		return -1;
	s->uidvalidity = mi.uidvalidity;
	s->nmsgs = 0;
	if (store_msg_list(s->st, s->account, "INBOX", 1, snapshot_add, s) != ST_OK)
		return -1;
	return 0;
}

/* Run a message through the RETR/TOP filter into emit. Reads the store in
 * bounded pieces and never past the stored size. */
static int msg_stream(struct pop3 *s, const struct pop3_msg *m, int64_t top, pop3_emit_fn emit,
		      void *arg, uint64_t *octets)
{
	char buf[POP3_CHUNK];
	struct pop3_filter f;
	uint64_t off = 0;

	pop3_filter_init(&f, top);
	while (off < m->size && !pop3_filter_done(&f)) {
		size_t want = m->size - off < sizeof buf ? (size_t)(m->size - off) : sizeof buf;
		long n = store_msg_read(s->st, m->blob, off, buf, want);
		if (n <= 0)
			return -1;
		off += (uint64_t)n;
		if (pop3_filter_feed(&f, buf, (size_t)n, emit, arg) < 0)
			return -1;
	}
	if (pop3_filter_end(&f, emit, arg) < 0)
		return -1;
	if (octets)
		*octets = f.out;
	return 0;
}

/* Counts the message inside RETR's output: every byte except the '.' the
 * filter stuffs in front of a line that starts with '.'. In the output such
 * a line starts with "..", and no other line starts with '.', so the
 * stuffed dots are exactly the dots at the start of an output line. */
struct msg_count {
	uint64_t octets;
	int bol;
};

static int emit_count(void *arg, const void *buf, size_t n)
{
	struct msg_count *mc = arg;
	const char *p = buf;

	for (size_t i = 0; i < n; i++) {
		if (!(mc->bol && p[i] == '.'))
			mc->octets++;
		mc->bol = p[i] == '\n';
	}
	return 0;
}

static int emit_conn(void *arg, const void *buf, size_t n)
{
	return conn_write(arg, buf, n);
}

/* RFC 1939 sections 5 and 11: a size is the octets of the message itself
 * with CRLF line ends, not counting the byte-stuffing RETR adds, which is
 * what Dovecot reports and what a client (poplib) counts once it has
 * undone the stuffing; LIST, STAT and RETR's "+OK n octets" all say it.
 * Computed once per message per session by the filter RETR streams
 * through, so a message stored without a final CRLF counts the one RETR
 * adds. A message that can no longer be read (removed by IMAP meanwhile)
 * keeps its stored size; RETR of it then fails. */
static uint64_t msg_octets(struct pop3 *s, struct pop3_msg *m)
{
	if (!m->sized) {
		struct msg_count mc = {.octets = 0, .bol = 1};

		m->octets = msg_stream(s, m, -1, emit_count, &mc, NULL) < 0 ? m->size : mc.octets;
		m->sized = 1;
	}
	return m->octets;
}

/* A message-number argument: the message, or NULL after replying. */
static struct pop3_msg *msg_arg(struct pop3 *s, const char *arg)
{
	uint32_t n;

	if (pop3_parse_num(arg, UINT32_MAX, &n) < 0) {
		reply(s, "-ERR invalid message number");
		return NULL;
	}
	if (n == 0 || n > s->nmsgs) {
		reply(s, "-ERR no such message");
		return NULL;
	}
	if (s->msgs[n - 1].deleted) {
		reply(s, "-ERR message %u already deleted", n);
		return NULL;
	}
	return &s->msgs[n - 1];
}

static size_t msg_number(const struct pop3 *s, const struct pop3_msg *m)
{
	return (size_t)(m - s->msgs) + 1;
}

/* ---- login ---- */

/* Before login a command must come within limits.timeout_preauth (30 s:
 * idle connections are cheap to open and must not hold the slots); after
 * it, limits.timeout_pop3 (RFC 1939 3: at least 10 minutes). */
static int timeout_ms(const struct pop3 *s, int preauth)
{
	const struct config *cfg = s->srv ? s->srv->cfg : NULL;
	int64_t sec = !cfg ? 0 : preauth ? cfg->timeout_preauth : cfg->timeout_pop3;
	return sec > 0 && sec <= 86400 ? (int)(sec * 1000) : POP3_TIMEOUT_MS;
}

static void login_failed(struct pop3 *s, const char *name, const char *mech)
{
	s->failures++;
	log_info("pop3 login failed peer=%s user=%s mech=%s failures=%d", conn_peer(s->c), name,
		 mech, s->failures);
	if (s->failures >= POP3_MAX_FAILURES) {
		reply(s, "-ERR [AUTH] authentication failed; too many failures, closing");
		hang_up(s, "auth-failures");
		return;
	}
	reply(s, "-ERR [AUTH] authentication failed");
}

/* The password was right: lock the maildrop, take the snapshot, enter the
 * TRANSACTION state. */
static void login_ok(struct pop3 *s, const struct account *a, const char *mech)
{
	if (maildrop_lock(s, a->id) < 0) {
		log_info("pop3 maildrop in use peer=%s user=%s", conn_peer(s->c), a->addr);
		reply(s, "-ERR [IN-USE] maildrop is locked by another POP3 session");
		return;
	}
	s->account = a->id;
	if (snapshot(s) < 0) {
		maildrop_unlock(s);
		reply(s, "-ERR [SYS/TEMP] cannot open the maildrop, try again later");
		return;
	}
	str_copy(s->login, a->addr, sizeof s->login);
	s->state = PS_TRANSACTION;
	conn_set_timeout(s->c, timeout_ms(s, 0));
	log_info("pop3 login peer=%s user=%s mech=%s tls=%s messages=%zu", conn_peer(s->c),
		 s->login, mech, conn_is_tls(s->c) ? "yes" : "no", s->nmsgs);
	reply(s, "+OK maildrop locked and ready, %zu messages", s->nmsgs);
}

/* Look up an account by login name: ST_OK, ST_NOTFOUND or ST_TEMP. */
static int account_get(struct pop3 *s, const char *name, struct account *a)
{
	char addr[STORE_ADDR_MAX + 1];

	if (login_address(s, name, addr, sizeof addr) < 0)
		return ST_NOTFOUND;
	return store_user_get(s->st, addr, a);
}

static int cmd_user(struct pop3 *s, struct pop3_cmd *cmd)
{
	if (!plain_ok(s)) {
		reply(s, "-ERR [AUTH] plaintext login needs TLS; use %s",
		      stls_available(s) ? "STLS" : "POP3S");
		return 0;
	}
	if (str_copy(s->user, cmd->argv[0], sizeof s->user) >= sizeof s->user) {
		s->user[0] = '\0';
		reply(s, "-ERR user name too long");
		return 0;
	}
	/* RFC 1939 section 7 lets us say whether the mailbox exists; we do
	 * not, so that USER cannot be used to list accounts. */
	reply(s, "+OK send PASS");
	return 0;
}

/* PASS's look-up keeps the account (and why it failed) for after the
 * check; cred_verify does the same work for unknown users. */
struct pass_lookup {
	struct pop3 *s;
	struct account a;
	int rc;
};

static int pass_lookup(void *arg, const char *user, struct cred *out)
{
	struct pass_lookup *l = arg;
	l->rc = account_get(l->s, user, &l->a);
	if (l->rc != ST_OK)
		return -1;
	*out = l->a.cred;
	return 0;
}

static int cmd_pass(struct pop3 *s, struct pop3_cmd *cmd)
{
	struct pass_lookup *l;
	int rc;

	if (!plain_ok(s)) {
		reply(s, "-ERR [AUTH] plaintext login needs TLS; use %s",
		      stls_available(s) ? "STLS" : "POP3S");
		return 0;
	}
	if (!s->user[0]) {
		reply(s, "-ERR send USER first");
		return 0;
	}
	l = xcalloc(1, sizeof *l);
	l->s = s;
	rc = cred_verify(pass_lookup, l, conn_peer(s->c), s->user, cmd->argv[0]);
	if (rc == 1)
		login_ok(s, &l->a, "USER");
	else if (rc < 0)
		reply(s, "-ERR [SYS/TEMP] too many failed logins, try again later");
	else if (l->rc == ST_TEMP)
		reply(s, "-ERR [SYS/TEMP] try again later");
	else
		login_failed(s, s->user, "USER");
	explicit_bzero(l, sizeof *l);
	free(l);
	s->user[0] = '\0';
	return 0;
}

static int sasl_lookup(void *arg, const char *user, struct cred *out)
{
	struct pop3 *s = arg;
	struct account a;

	str_copy(s->authname, user, sizeof s->authname);
	if (account_get(s, user, &a) != ST_OK)
		return -1;
	*out = a.cred;
	explicit_bzero(&a, sizeof a);
	return 0;
}

/* AUTH without an argument lists the mechanisms, one a line (RFC 1734's
 * form, which clients still probe with). */
static void auth_list(struct pop3 *s)
{
	const char *p = sasl_mech_list(plain_ok(s));

	reply(s, "+OK SASL mechanisms follow");
	while (p && *p) {
		size_t n = strcspn(p, " ");
		if (n)
			reply(s, "%.*s", (int)n, p);
		p += n;
		p += strspn(p, " ");
	}
	reply(s, ".");
}

/* Read one SASL response line (RFC 5034 section 4: not bound by the 255
 * octet command limit). Returns the line, or NULL: *toolong set if the
 * line was too long (consumed), else a connection error. */
static const char *auth_read(struct pop3 *s, int *toolong)
{
	char *line;
	ssize_t n;

	*toolong = 0;
	conn_flush(s->c);
	n = conn_getline(s->c, &line, SASL_IN_MAX, NULL);
	if (n == -2) {
		*toolong = 1;
		return NULL;
	}
	if (n < 0) {
		hang_up(s, conn_reason(s->c));
		return NULL;
	}
	return line;
}

/* The exchange after AUTH MECH [initial-response]: SASL_* result. */
static void auth_challenge(void *arg, const char *b64)
{
	reply(arg, "+ %s", b64);
}

static const char *auth_response(void *arg, int *toolong)
{
	return auth_read(arg, toolong);
}

static int auth_exchange(struct pop3 *s, struct sasl_session *ss, const char *in)
{
	const struct sasl_io io = {auth_challenge, auth_response, s};
	return sasl_exchange(ss, in, POP3_SASL_ROUNDS, &io);
}

static int cmd_auth(struct pop3 *s, struct pop3_cmd *cmd)
{
	struct sasl_session *ss;
	struct account *a;
	int mech, rc;
	const char *mname;

	if (cmd->argc == 0) {
		auth_list(s);
		return 0;
	}
	mech = sasl_mech_parse(cmd->argv[0]);
	if (mech < 0) {
		reply(s, "-ERR unsupported SASL mechanism");
		return 0;
	}
	if ((mech == SASL_PLAIN || mech == SASL_LOGIN) && !plain_ok(s)) {
		reply(s, "-ERR [AUTH] plaintext authentication needs TLS; use %s",
		      stls_available(s) ? "STLS" : "POP3S");
		return 0;
	}
	mname = cmd->argv[0]; /* a known mechanism: sasl_mech_parse said so */
	s->authname[0] = '\0';
	ss = sasl_new(mech, hostname(s), sasl_lookup, s);
	sasl_set_peer(ss, conn_peer(s->c));
	rc = auth_exchange(s, ss, cmd->argc > 1 ? cmd->argv[1] : NULL);
	if (rc == SASL_DONE) {
		a = xmalloc(sizeof *a);
		rc = account_get(s, sasl_user(ss), a);
		if (rc == ST_OK)
			login_ok(s, a, mname);
		else if (rc == ST_TEMP)
			reply(s, "-ERR [SYS/TEMP] try again later");
		else
			login_failed(s, sasl_user(ss), mname);
		explicit_bzero(a, sizeof *a);
		free(a);
	} else if (rc == SASL_FAIL && sasl_throttled(ss)) {
		reply(s, "-ERR [SYS/TEMP] too many failed logins, try again later");
	} else if (rc == SASL_FAIL) {
		login_failed(s, s->authname[0] ? s->authname : "-", mname);
	} else if (rc == SASL_CANCEL) {
		reply(s, "-ERR authentication cancelled");
	} else if (rc == SASL_BAD) {
		reply(s, "-ERR malformed SASL response");
	}
	sasl_free(&ss);
	return 0;
}

static int cmd_apop(struct pop3 *s, struct pop3_cmd *cmd)
{
	/* APOP needs the plaintext password on the server; brev keeps none
	 * (cred.h). The greeting carries no timestamp, so it is not offered. */
	reply(s, "-ERR APOP is not supported");
	return 0;
}

/* ---- STLS, CAPA ---- */

static int cmd_stls(struct pop3 *s, struct pop3_cmd *cmd)
{
	if (!stls_available(s)) {
		reply(s, "-ERR STLS not available");
		return 0;
	}
	/* RFC 2595 section 4 / RFC 3207 section 5: anything pipelined after
	 * STLS arrived in plaintext and must not be taken as a command inside
	 * TLS. Refuse and hang up rather than guess. */
	if (conn_pending(s->c) > 0) {
		reply(s, "-ERR commands pipelined after STLS; closing");
		hang_up(s, "stls-pipelined");
		return 0;
	}
	reply(s, "+OK begin TLS negotiation");
	if (conn_flush(s->c) < 0 || conn_starttls(s->c, s->srv->tls) < 0) {
		hang_up(s, "stls-failed");
		return 0;
	}
	/* Forget everything learned before TLS (RFC 2595 section 4). */
	s->user[0] = '\0';
	return 0;
}

static int cmd_capa(struct pop3 *s, struct pop3_cmd *cmd)
{
	reply(s, "+OK capability list follows");
	reply(s, "TOP");
	reply(s, "UIDL");
	reply(s, "RESP-CODES");
	reply(s, "AUTH-RESP-CODE");
	reply(s, "PIPELINING");
	reply(s, "EXPIRE NEVER");
	if (s->state == PS_AUTHORIZATION) {
		const char *mechs = sasl_mech_list(plain_ok(s));
		if (plain_ok(s))
			reply(s, "USER");
		if (mechs && *mechs)
			reply(s, "SASL %s", mechs);
		if (stls_available(s))
			reply(s, "STLS");
	}
	reply(s, "IMPLEMENTATION brev");
	reply(s, ".");
	return 0;
}

/* ---- TRANSACTION state ---- */

static int cmd_stat(struct pop3 *s, struct pop3_cmd *cmd)
{
	size_t n = 0;
	uint64_t octets = 0;

	for (size_t i = 0; i < s->nmsgs; i++) {
		if (s->msgs[i].deleted)
			continue;
		n++;
		octets += msg_octets(s, &s->msgs[i]);
	}
	reply(s, "+OK %zu %llu", n, (unsigned long long)octets);
	return 0;
}

static int cmd_list(struct pop3 *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m;
	size_t n = 0;

	if (cmd->argc == 1) {
		if ((m = msg_arg(s, cmd->argv[0])))
			reply(s, "+OK %zu %llu", msg_number(s, m),
			      (unsigned long long)msg_octets(s, m));
		return 0;
	}
	for (size_t i = 0; i < s->nmsgs; i++)
		n += !s->msgs[i].deleted;
	reply(s, "+OK %zu messages", n);
	for (size_t i = 0; i < s->nmsgs; i++)
		if (!s->msgs[i].deleted)
			reply(s, "%zu %llu", i + 1, (unsigned long long)msg_octets(s, &s->msgs[i]));
	reply(s, ".");
	return 0;
}

static int cmd_uidl(struct pop3 *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m;

	/* Unique-ids: UIDVALIDITY and UID of INBOX, so they stay the same
	 * across sessions and agree with what IMAP sees (RFC 1939 section 7:
	 * 1 to 70 octets in 0x21-0x7E; ours are 16 hex digits). */
	if (cmd->argc == 1) {
		if ((m = msg_arg(s, cmd->argv[0])))
			reply(s, "+OK %zu %08x%08x", msg_number(s, m), s->uidvalidity, m->uid);
		return 0;
	}
	reply(s, "+OK unique-id listing follows");
	for (size_t i = 0; i < s->nmsgs; i++)
		if (!s->msgs[i].deleted)
			reply(s, "%zu %08x%08x", i + 1, s->uidvalidity, s->msgs[i].uid);
	reply(s, ".");
	return 0;
}

/* RETR and TOP: the message (or its top) dot-stuffed, then ".". Once "+OK"
 * is out a store error cannot be reported, so the session ends. */
static void send_message(struct pop3 *s, struct pop3_msg *m, int64_t top)
{
	struct msg_info mi;
	int rc = store_msg_get(s->st, s->account, "INBOX", m->uid, &mi);

	if (rc == ST_NOTFOUND) {
		reply(s, "-ERR message %zu was removed by another session", msg_number(s, m));
		return;
	}
	if (rc != ST_OK) {
		reply(s, "-ERR [SYS/TEMP] cannot read the message, try again later");
		return;
	}
	if (top < 0)
		reply(s, "+OK %llu octets", (unsigned long long)msg_octets(s, m));
	else
		reply(s, "+OK top of message follows");
	if (msg_stream(s, m, top, emit_conn, s->c, NULL) < 0) {
		log_warn("pop3 cannot read message peer=%s user=%s uid=%u", conn_peer(s->c),
			 s->login, m->uid);
		hang_up(s, "store-error");
		return;
	}
	reply(s, ".");
}

static int cmd_retr(struct pop3 *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m = msg_arg(s, cmd->argv[0]);

	if (m) {
		send_message(s, m, -1);
		s->nretr++;
	}
	return 0;
}

static int cmd_top(struct pop3 *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m;
	uint32_t lines;

	if (pop3_parse_num(cmd->argv[1], UINT32_MAX, &lines) < 0) {
		reply(s, "-ERR invalid number of lines");
		return 0;
	}
	if ((m = msg_arg(s, cmd->argv[0])))
		send_message(s, m, lines);
	return 0;
}

static int cmd_dele(struct pop3 *s, struct pop3_cmd *cmd)
{
	struct pop3_msg *m = msg_arg(s, cmd->argv[0]);

	if (m) {
		m->deleted = 1;
		reply(s, "+OK message %zu deleted", msg_number(s, m));
	}
	return 0;
}

static int cmd_rset(struct pop3 *s, struct pop3_cmd *cmd)
{
	for (size_t i = 0; i < s->nmsgs; i++)
		s->msgs[i].deleted = 0;
	reply(s, "+OK %zu messages", s->nmsgs);
	return 0;
}

static int cmd_noop(struct pop3 *s, struct pop3_cmd *cmd)
{
	reply(s, "+OK");
	return 0;
}

/* RFC 1939 section 6, the UPDATE state: remove the DELE'd messages in one
 * commit, only now. A session that ends any other way deletes nothing. */
static int cmd_quit(struct pop3 *s, struct pop3_cmd *cmd)
{
	uint32_t *uids;
	size_t n = 0;
	int rc = ST_OK;

	if (s->state == PS_AUTHORIZATION) {
		reply(s, "+OK %s POP3 server signing off", hostname(s));
		hang_up(s, "quit");
		return 0;
	}
	uids = xmalloc((s->nmsgs ? s->nmsgs : 1) * sizeof *uids);
	for (size_t i = 0; i < s->nmsgs; i++)
		if (s->msgs[i].deleted)
			uids[n++] = s->msgs[i].uid;
	if (n)
		rc = store_msg_expunge(s->st, s->account, "INBOX", uids, n);
	free(uids);
	if (rc != ST_OK) {
		log_warn("pop3 update failed peer=%s user=%s: %s", conn_peer(s->c), s->login,
			 store_strerror(rc));
		reply(s, "-ERR [SYS/TEMP] deleted messages were not removed: %s",
		      store_strerror(rc));
		hang_up(s, "update-failed");
		return 0;
	}
	s->ndele = (unsigned)n;
	reply(s, "+OK %s POP3 server signing off (%zu messages left)", hostname(s), s->nmsgs - n);
	hang_up(s, "quit");
	return 0;
}

/* ---- the command table ---- */

static const struct {
	int (*fn)(struct pop3 *s, struct pop3_cmd *cmd);
	unsigned states;
} commands[POP3_NVERBS] = {
    [POP3_USER] = {cmd_user, IN_AUTH},
    [POP3_PASS] = {cmd_pass, IN_AUTH},
    [POP3_APOP] = {cmd_apop, IN_AUTH},
    [POP3_AUTH] = {cmd_auth, IN_AUTH},
    [POP3_STLS] = {cmd_stls, IN_AUTH},
    [POP3_CAPA] = {cmd_capa, IN_AUTH | IN_TRANS},
    [POP3_QUIT] = {cmd_quit, IN_AUTH | IN_TRANS},
    [POP3_NOOP] = {cmd_noop, IN_TRANS},
    [POP3_STAT] = {cmd_stat, IN_TRANS},
    [POP3_LIST] = {cmd_list, IN_TRANS},
    [POP3_RETR] = {cmd_retr, IN_TRANS},
    [POP3_DELE] = {cmd_dele, IN_TRANS},
    [POP3_RSET] = {cmd_rset, IN_TRANS},
    [POP3_TOP] = {cmd_top, IN_TRANS},
    [POP3_UIDL] = {cmd_uidl, IN_TRANS},
};

static void bad_command(struct pop3 *s, const char *text)
{
	if (++s->errors >= POP3_MAX_ERRORS) {
		reply(s, "-ERR %s; too many errors, closing", text);
		hang_up(s, "too-many-errors");
		return;
	}
	reply(s, "-ERR %s", text);
}

static void dispatch(struct pop3 *s, const char *line, size_t len)
{
	struct pop3_cmd cmd;
	int rc = pop3_parse(line, len, &cmd);

	if (rc == POP3_PARSE_UNKNOWN) {
		bad_command(s, "unknown command");
		return;
	}
	if (rc != POP3_PARSE_OK) {
		bad_command(s, "syntax error");
		return;
	}
	log_debug("pop3 peer=%s state=%s command=%s", conn_peer(s->c), state_names[s->state],
		  cmd.keyword);
	if (!(commands[cmd.verb].states & (1u << s->state))) {
		bad_command(s, s->state == PS_AUTHORIZATION ? "not logged in"
							    : "command not valid in this state");
		return;
	}
	commands[cmd.verb].fn(s, &cmd);
	/* The line may have held a password. */
	explicit_bzero(&cmd, sizeof cmd);
}

void pop3_serve(struct server *srv, struct conn *c, int kind)
{
	struct pop3 s = {.srv = srv, .st = srv->store, .c = c, .kind = kind};
	char *line;
	ssize_t n;

	conn_set_timeout(c, timeout_ms(&s, 1));
	log_debug("pop3 connect peer=%s port=%d kind=%s", conn_peer(c), conn_peer_port(c),
		  kind == LK_POP3S ? "pop3s" : "pop3");
	/* No timestamp in the greeting: APOP is not offered (RFC 1939 7). */
	reply(&s, "+OK %s POP3 server ready", hostname(&s));
	while (!s.quit) {
		if (atomic_load(&srv->stopping))
			conn_end_input(c); /* the -ERR comes from net.c */
		/* PIPELINING (RFC 2449 6.6): answer a batch in one write. */
		if (conn_pending(c) == 0 && conn_flush(c) < 0) {
			hang_up(&s, conn_reason(c));
			break;
		}
		n = conn_getline(c, &line, POP3_LINE_MAX - 2, NULL);
		if (n == -2) {
			bad_command(&s, "line too long");
			continue;
		}
		if (n < 0) {
			hang_up(&s, conn_reason(c));
			break;
		}
		dispatch(&s, line, (size_t)n);
	}
	conn_flush(c);
	maildrop_unlock(&s);
	log_info("pop3 session end peer=%s tls=%s user=%s retr=%u dele=%u reason=%s", conn_peer(c),
		 conn_is_tls(c) ? conn_tls_version(c) : "no", s.login[0] ? s.login : "-", s.nretr,
		 s.ndele, s.reason ? s.reason : "error");
	free(s.msgs);
}
