/*
 * smtp.c — one SMTP session (RFC 5321) on the inbound MX port and on the
 * submission ports (RFC 6409): EHLO and its extensions (PIPELINING, SIZE,
 * 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING, STARTTLS, AUTH), the
 * mail transaction with DATA or BDAT, and the decision where each
 * recipient's copy goes.
 *
 * A session is a named state plus a command table whose entries list the
 * states they are allowed in; every reply carries an RFC 3463 code (except
 * the greeting and EHLO/HELO, RFC 2034 3). Parsing lives in smtp_addr.c,
 * Received: fields and the store commit in smtp_msg.c, all connection I/O
 * in conn.c (including the strict end-of-data rule that stops SMTP
 * smuggling). The session never closes the socket: net.c does.
 *
 * Policy, in one place (see docs/smtp.md):
 *  - LK_SMTP takes mail only for local domains and their accounts/aliases:
 *    never a relay, whatever the address looks like.
 *  - Submission needs AUTH before MAIL; AUTH needs TLS unless the client is
 *    on loopback; the sender must be the user's own address or an alias
 *    that resolves to them.
 *  - 250 after the data is only sent once every copy is committed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authres.h"
#include "config.h"
#include "conn.h"
#include "dnsbl.h"
#include "log.h"
#include "mailbox.h"
#include "sasl.h"
#include "server.h"
#include "smtp.h"
#include "greylist.h"
#include "list.h"
#include "spam.h"
#include "spam_bayes.h"
#include "spam_token.h"
#include "spam_verdict.h"
#include "spool.h"
#include "srs.h"
#include "util.h"
#include "virus.h"

#define SMTP_ERRORS_MAX	  10	 /* 5xx replies before we hang up */
/* Commands that move nothing forward (NOOP, RSET, VRFY, EXPN, HELP,
 * EHLO/HELO, a refused RCPT) between two accepted messages, as Postfix's
 * smtpd_junk_command_limit: a peer may not keep a session and a thread
 * forever. A logged-in user is accountable and gets more. */
#define SMTP_JUNK_MAX	   100
#define SMTP_JUNK_MAX_AUTH 1000
#define SMTP_CMD_TIMEOUT  300000 /* RFC 5321 4.5.3.2.7: 5 minutes */
#define SMTP_DATA_TIMEOUT 600000 /* 4.5.3.2.6: 10 minutes */
#define SMTP_SASL_ROUNDS  8
/* AUTH lines carry an initial response (RFC 4954 4: up to 12288 octets). */
#define SMTP_READ_MAX (SASL_IN_MAX + 64)
#define BDAT_BUF      16384

enum smtp_state {
	SMTP_ST_CONNECTED, /* greeting sent; no EHLO/HELO yet */
	SMTP_ST_GREETED,   /* EHLO/HELO done; no transaction */
	SMTP_ST_MAIL,	   /* MAIL accepted; no recipient yet */
	SMTP_ST_RCPT,	   /* at least one recipient accepted */
	SMTP_ST_BDAT,	   /* BDAT chunks taken; waiting for LAST */
	SMTP_ST_QUIT,	   /* the session ends */
	SMTP_ST_N
};

static const char *const state_names[SMTP_ST_N] = {
    "CONNECTED", "GREETED", "MAIL", "RCPT", "BDAT", "QUIT",
};

#define ST(x)  (1u << SMTP_ST_##x)
#define ST_ANY (ST(CONNECTED) | ST(GREETED) | ST(MAIL) | ST(RCPT) | ST(BDAT))

struct session {
	struct server *srv;
	const struct config *cfg;
	struct store *st;
	struct conn *c;
	int kind;
	int spoke;                  /* the first command has arrived */
	enum smtp_state state;
	char helo[SMTP_HELO_MAX + 1];
	int ehlo;
	int rdns_done; /* rdns looked up (once per session: at connect on the MX
			  port, else at the first message) */
	char rdns[SMTP_DOMAIN_MAX + 1];
	int authed;
	uint32_t auth_uid;
	char auth_user[STORE_ADDR_MAX + 1];
	int errors;
	int junk; /* commands without progress since the last message */
	int accepted;
	const char *reason;
	/* the transaction */
	char id[17];
	struct smtp_mail mail;
	struct smtp_rcptset set;
	struct list_to list; /* a mailing list among the recipients (list.h) */
	size_t nrcpt;
	char first_rcpt[STORE_ADDR_MAX + 1];
	struct spool *sp;
	uint64_t bdat_total;
	const char *bdat_fail; /* reply repeated for every chunk after a failure */
	int bdat_cr;	       /* the last chunk ended with CR */
	struct spam_result pre; /* connect-time tests (connect_checks), in every message's score */
};

/* ---- replies and state ---- */

static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct session *s, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof buf - 3)
		n = (int)sizeof buf - 3;
	buf[n++] = '\r';
	buf[n++] = '\n';
	conn_write(s->c, buf, (size_t)n);
}

/* A 5xx for something the client got wrong: counted toward the limit. */
static void bad(struct session *s, const char *line)
{
	s->errors++;
	reply(s, "%s", line);
}

static void enter(struct session *s, enum smtp_state to)
{
	if (s->state != to)
		log_debug("smtp %s:%d %s -> %s", conn_peer(s->c), conn_peer_port(s->c),
			  state_names[s->state], state_names[to]);
	s->state = to;
}

static void hang_up(struct session *s, const char *reason)
{
	s->reason = reason;
	enter(s, SMTP_ST_QUIT);
}

static const char *conn_reason(const struct conn *c)
{
	switch (conn_error(c)) {
	case CONN_EOF:
		return "eof";
	case CONN_TIMEOUT:
		return "timeout";
	case CONN_TLS:
		return "tls";
	default:
		return "io";
	}
}

static void txn_reset(struct session *s)
{
	memset(&s->mail, 0, sizeof s->mail);
	smtp_rcptset_clear(&s->set);
	s->list.list[0] = 0;
	s->nrcpt = 0;
	s->first_rcpt[0] = 0;
	spool_reset(s->sp);
	s->bdat_total = 0;
	s->bdat_fail = NULL;
	s->bdat_cr = 0;
	s->id[0] = 0;
}

/* After a transaction (or RSET, EHLO): back to GREETED, or CONNECTED when
 * no EHLO/HELO has been seen. */
static void txn_end(struct session *s)
{
	txn_reset(s);
	enter(s, s->helo[0] ? SMTP_ST_GREETED : SMTP_ST_CONNECTED);
}

static int is_submission(const struct session *s)
{
	return s->kind == LK_SUBMISSION || s->kind == LK_SUBMISSIONS;
}

/* limits.timeout_preauth in ms: the wait for a new connection's first
 * command (and, after STARTTLS, for the handshake and the next command). */
static int preauth_ms(const struct session *s)
{
	return s->cfg && s->cfg->timeout_preauth > 0 ? (int)(s->cfg->timeout_preauth * 1000)
						     : SMTP_CMD_TIMEOUT;
}

static int auth_ok_here(const struct session *s)
{
	return smtp_auth_allowed(s->kind, conn_is_tls(s->c), conn_is_loopback(s->c));
}

static uint64_t size_limit(const struct session *s)
{
	return s->cfg->message_size ? s->cfg->message_size : UINT64_MAX;
}

/* ---- EHLO, HELO, and the small commands ---- */

static void ehlo_keywords(struct session *s)
{
	const char *kw[12];
	char size[40], auth[160];
	int n = 0;
	kw[n++] = "PIPELINING";
	if (s->cfg->message_size) {
		snprintf(size, sizeof size, "SIZE %llu", (unsigned long long)s->cfg->message_size);
		kw[n++] = size;
	} else
		kw[n++] = "SIZE";
	kw[n++] = "8BITMIME";
	kw[n++] = "SMTPUTF8";
	kw[n++] = "ENHANCEDSTATUSCODES";
	kw[n++] = "CHUNKING";
	if (s->srv->tls && !conn_is_tls(s->c))
		kw[n++] = "STARTTLS";
	if (is_submission(s) && auth_ok_here(s) && !s->authed) {
		snprintf(auth, sizeof auth, "AUTH %s",
			 sasl_mech_list(conn_is_tls(s->c) || conn_is_loopback(s->c)));
		kw[n++] = auth;
	}
	kw[n++] = "HELP";
	for (int i = 0; i < n; i++)
		reply(s, "250%c%s", i == n - 1 ? ' ' : '-', kw[i]);
}

static void greet(struct session *s, const struct smtp_cmd *cmd, int ehlo)
{
	if (s->helo[0])
		s->junk++; /* a second EHLO moves nothing forward */
	if (!smtp_helo_ok(cmd->arg, cmd->arglen)) {
		bad(s,
		    ehlo ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	/* RFC 5321 4.1.4: EHLO in a transaction resets it. */
	memcpy(s->helo, cmd->arg, cmd->arglen);
	s->helo[cmd->arglen] = 0;
	s->ehlo = ehlo;
	txn_end(s);
	if (!ehlo) {
		reply(s, "250 %s", s->srv->hostname);
		return;
	}
	reply(s, "250-%s Hello %s [%s]", s->srv->hostname, s->helo, conn_peer(s->c));
	ehlo_keywords(s);
}

static void cmd_ehlo(struct session *s, const struct smtp_cmd *cmd)
{
	greet(s, cmd, 1);
}

static void cmd_helo(struct session *s, const struct smtp_cmd *cmd)
{
	greet(s, cmd, 0);
}

static void cmd_rset(struct session *s, const struct smtp_cmd *cmd)
{
	s->junk++;
	if (cmd->arglen) {
		bad(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	txn_end(s);
	reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct session *s, const struct smtp_cmd *cmd)
{
	s->junk++;
	reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct session *s, const struct smtp_cmd *cmd)
{
	reply(s, "221 2.0.0 Bye");
	hang_up(s, "quit");
}

static void cmd_vrfy(struct session *s, const struct smtp_cmd *cmd)
{
	s->junk++;
	if (!cmd->arglen) {
		bad(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	/* RFC 5321 3.5.3: 252 tells nothing about who exists here. */
	reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(struct session *s, const struct smtp_cmd *cmd)
{
	s->junk++;
	bad(s, "502 5.5.1 EXPN not available");
}

static void cmd_help(struct session *s, const struct smtp_cmd *cmd)
{
	s->junk++;
	reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP "
		 "STARTTLS AUTH; see RFC 5321");
}

/* ---- STARTTLS (RFC 3207) ---- */

static void cmd_starttls(struct session *s, const struct smtp_cmd *cmd)
{
	if (cmd->arglen) {
		bad(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (conn_is_tls(s->c)) {
		bad(s, "503 5.5.1 TLS already active");
		return;
	}
	if (!s->srv->tls) {
		reply(s, "454 4.7.0 TLS not available");
		return;
	}
	/* RFC 3207 5: anything pipelined after STARTTLS would be taken as if
	 * it came over TLS. Refuse, and end the session. */
	if (conn_pending(s->c) > 0) {
		bad(s, "554 5.5.1 Data sent after STARTTLS before the TLS handshake; closing");
		hang_up(s, "starttls-pipelined");
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	conn_flush(s->c);
	if (conn_starttls(s->c, s->srv->tls) < 0) {
		hang_up(s, "starttls-refused");
		return;
	}
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	s->helo[0] = 0;
	s->ehlo = 0;
	s->authed = 0;
	s->auth_user[0] = 0;
	txn_end(s);
	/* The handshake runs on the next read: like a new connection, it and
	 * the first command over TLS get limits.timeout_preauth, not the 5
	 * minutes the EHLO before it earned (session_loop gives them back). */
	s->spoke = 0;
	conn_set_timeout(s->c, preauth_ms(s));
}

/* ---- AUTH (RFC 4954) ---- */

static int auth_lookup(void *arg, const char *user, struct cred *out)
{
	struct session *s = arg;
	char addr[STORE_ADDR_MAX + 1];
	struct account *a = xmalloc(sizeof *a);
	int rc = -1;
	if (smtp_login_addr(s->cfg->domains, user, addr, sizeof addr) == 0 &&
	    store_user_get(s->st, addr, a) == ST_OK) {
		*out = a->cred;
		rc = 0;
	}
	explicit_bzero(a, sizeof *a);
	free(a);
	return rc;
}

/* Read one response line of the exchange; NULL on a connection error or a
 * line over the limit (*toolong). */
static const char *auth_read(struct session *s, int *toolong)
{
	char *line;
	*toolong = 0;
	conn_flush(s->c);
	ssize_t n = conn_getline(s->c, &line, SASL_IN_MAX, NULL);
	if (n == -2)
		*toolong = 1;
	else if (n < 0)
		hang_up(s, conn_reason(s->c));
	return n >= 0 ? line : NULL;
}

/* The exchange after "AUTH MECH [initial]": a SASL_* result, -1 if the
 * connection is gone. */
static void auth_challenge(void *arg, const char *b64)
{
	reply(arg, "334 %s", b64);
}

static const char *auth_response(void *arg, int *toolong)
{
	return auth_read(arg, toolong);
}

static int auth_exchange(struct session *s, struct sasl_session *ss, const char *in)
{
	const struct sasl_io io = {auth_challenge, auth_response, s};
	return sasl_exchange(ss, in, SMTP_SASL_ROUNDS, &io);
}

static void auth_done(struct session *s, struct sasl_session *ss)
{
	char addr[STORE_ADDR_MAX + 1];
	struct account *a = xmalloc(sizeof *a);
	const char *u = sasl_user(ss);
	if (u && smtp_login_addr(s->cfg->domains, u, addr, sizeof addr) == 0 &&
	    store_user_get(s->st, addr, a) == ST_OK) {
		s->authed = 1;
		conn_set_timeout(s->c, SMTP_CMD_TIMEOUT); /* was limits.timeout_preauth */
		s->auth_uid = a->id;
		str_copy(s->auth_user, a->addr, sizeof s->auth_user);
		log_info("smtp login peer=%s user=%s", conn_peer(s->c), s->auth_user);
		reply(s, "235 2.7.0 Authentication successful");
	} else {
		bad(s, "535 5.7.8 Authentication credentials invalid");
	}
	explicit_bzero(a, sizeof *a);
	free(a);
}

static void cmd_auth(struct session *s, const struct smtp_cmd *cmd)
{
	char mname[32], *init = NULL;
	if (!is_submission(s)) {
		bad(s, "502 5.5.1 AUTH not available on this port; use submission");
		return;
	}
	if (!s->ehlo) {
		bad(s, "503 5.5.1 Send EHLO first");
		return;
	}
	if (s->authed) {
		bad(s, "503 5.5.1 Already authenticated");
		return;
	}
	if (!auth_ok_here(s)) {
		bad(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	size_t m = strcspn(cmd->arg, " ");
	if (m == 0 || m >= sizeof mname) {
		bad(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	memcpy(mname, cmd->arg, m);
	mname[m] = 0;
	int mech = sasl_mech_parse(mname);
	if (mech < 0) {
		bad(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	if (m < cmd->arglen)
		init = xstrndup(cmd->arg + m + 1, cmd->arglen - m - 1);
	/* sasl.c takes the throttle's turn once the user name is known. */
	struct sasl_session *ss = sasl_new(mech, s->srv->hostname, auth_lookup, s);
	sasl_set_peer(ss, conn_peer(s->c));
	int rc = auth_exchange(s, ss, init);
	free(init);
	if (rc == SASL_DONE)
		auth_done(s, ss);
	else if (rc == SASL_FAIL && sasl_throttled(ss))
		/* Too many failed logins queued: refused unchecked. */
		bad(s, "454 4.7.0 Too many failed logins, try again later");
	else if (rc == SASL_FAIL) {
		log_info("smtp login failed peer=%s mech=%s", conn_peer(s->c), mname);
		bad(s, "535 5.7.8 Authentication credentials invalid");
	} else if (rc == SASL_CANCEL)
		bad(s, "501 5.0.0 Authentication cancelled");
	else if (rc == SASL_BAD)
		bad(s, "501 5.5.2 Malformed authentication response");
	sasl_free(&ss);
}

/* ---- MAIL ---- */

/* Submission: may the authenticated user use this envelope sender? The
 * same rule as the header's From and Sender (smtp_sender_owned), as
 * Postfix's reject_sender_login_mismatch does; <> is allowed. */
static int sender_ok(struct session *s, const struct smtp_addr *from)
{
	if (from->flags & SA_NULL)
		return 1; /* bounces and auto-replies; see docs/smtp.md */
	if (from->flags & SA_LITERAL)
		return 0;
	return smtp_sender_owned(s->st, s->cfg, s->auth_uid, s->auth_user, from->addr);
}

static void cmd_mail(struct session *s, const struct smtp_cmd *cmd)
{
	const char *err;
	if (is_submission(s) && !s->authed) {
		bad(s, "530 5.7.0 Authentication required");
		return;
	}
	txn_reset(s);
	if (smtp_mail_parse(cmd->arg, cmd->arglen, &s->mail, &err) < 0) {
		bad(s, err);
		return;
	}
	if (s->mail.has_size && s->mail.size > size_limit(s)) {
		/* RFC 1870 6 */
		bad(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	if (is_submission(s) && !sender_ok(s, &s->mail.from)) {
		log_info("smtp sender refused peer=%s user=%s from=<%s>", conn_peer(s->c),
			 s->auth_user, s->mail.from.addr);
		reply(s, "553 5.7.1 <%s>: Sender address not owned by user %s", s->mail.from.addr,
		      s->auth_user);
		s->errors++;
		return;
	}
	smtp_make_id(s->id);
	enter(s, SMTP_ST_MAIL);
	reply(s, "250 2.1.0 Ok");
}

/* ---- RCPT ---- */

/* At RCPT, ask the store whether the announced size fits (RFC 1870 and
 * DESIGN §6). Only when every account of the recipient refuses is the
 * recipient refused. Returns NULL or the reply. */
static const char *quota_reply(struct session *s, const struct resolved *r)
{
	size_t quota = 0, toobig = 0;
	if (r->nexternal > 0)
		return NULL;
	for (size_t i = 0; i < r->nusers; i++) {
		int rc = store_quota_check(s->st, r->users[i], s->mail.size);
		quota += rc == ST_QUOTA;
		toobig += rc == ST_TOOBIG;
	}
	if (r->nusers == 0 || quota + toobig < r->nusers)
		return NULL;
	if (quota > 0)
		return "452 4.2.2 Mailbox full";
	return "552 5.2.2 Message exceeds the mailbox's quota";
}

/* A recipient refused: one log line with the address and why (issue 23:
 * "why did my mail not arrive" starts here), the reply, and the count
 * toward the junk limit (and the error limit when the client is at fault:
 * a 5xx). */
static void rcpt_refused(struct session *s, const char *addr, const char *why, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));
static void rcpt_refused(struct session *s, const char *addr, const char *why, const char *fmt,
			 ...)
{
	char buf[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	log_info("smtp id=%s rcpt refused peer=%s user=%s from=<%s> to=<%s> reason=%s: %s", s->id,
		 conn_peer(s->c), s->authed ? s->auth_user : "-", s->mail.from.addr, addr, why,
		 buf);
	reply(s, "%s", buf);
	s->junk++;
	if (buf[0] == '5')
		s->errors++;
}

static void rcpt_ok(struct session *s, const char *addr)
{
	if (s->nrcpt++ == 0)
		str_copy(s->first_rcpt, addr, sizeof s->first_rcpt);
	enter(s, SMTP_ST_RCPT);
	reply(s, "250 2.1.5 Ok");
}

/* A recipient in one of our domains: resolve it to accounts and forwards. */
static void rcpt_local(struct session *s, const char *addr, const struct smtp_addr *a)
{
	if (smtp_addr_routing_chars(a)) {
		rcpt_refused(s, addr, "routing-chars",
			     "553 5.1.3 <%s>: Routing characters are not accepted", addr);
		return;
	}
	char orig[STORE_ADDR_MAX + 1], why[600];
	int srs = srs_rcpt(s->cfg->datadir, addr, !s->mail.from.addr[0], orig, sizeof orig, why,
			   sizeof why);
	if (srs != 0) { /* a bounce to a forwarded message's SRS sender */
		if (srs < 0) {
			rcpt_refused(s, addr, "srs", "%s", why);
			return;
		}
		smtp_rcptset_add_ext(&s->set, orig);
		rcpt_ok(s, addr);
		return;
	}
	int lr = list_rcpt(s->st, addr, &s->list, why, sizeof why);
	if (lr) {
		if (lr < 0)
			rcpt_refused(s, addr, "list", "%s", why);
		else
			rcpt_ok(s, addr);
		return;
	}
	struct resolved *r = xcalloc(1, sizeof *r);
	int rc = smtp_resolve(s->st, s->cfg, addr, r);
	const char *q;
	if (rc == ST_NOTFOUND) {
		rcpt_refused(s, addr, "unknown",
			     "550 5.1.1 <%s>: Recipient address rejected: User unknown", addr);
	} else if (rc != ST_OK) {
		rcpt_refused(s, addr, "store", "451 4.3.0 <%s>: Temporary lookup failure", addr);
	} else if ((q = quota_reply(s, r))) {
		rcpt_refused(s, addr, "quota", "%s", q);
	} else if (!is_submission(s) && greylist_rcpt(s->st, s->cfg, s->id, conn_peer(s->c),
						      s->mail.from.addr, addr, r)) {
		rcpt_refused(s, addr, "greylist",
			     "451 4.7.1 <%s>: Greylisted, please try again later", addr);
	} else {
		for (size_t i = 0; i < r->nusers; i++)
			smtp_rcptset_add_user_as(&s->set, r->users[i], addr);
		for (size_t i = 0; i < r->nexternal; i++)
			smtp_rcptset_add_fwd(&s->set, r->external[i], strrchr(addr, '@') + 1);
		rcpt_ok(s, addr);
	}
	store_resolved_free(r);
	free(r);
}

static void cmd_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	struct smtp_addr a;
	const char *err;
	char addr[STORE_ADDR_MAX + 1];
	if (smtp_rcpt_parse(cmd->arg, cmd->arglen, s->mail.smtputf8, &a, &err) < 0) {
		char shown[80];
		size_t k = cmd->arglen < sizeof shown - 1 ? cmd->arglen : sizeof shown - 1;
		memcpy(shown, cmd->arg, k);
		shown[k] = 0;
		rcpt_refused(s, shown, "syntax", "%s", err);
		return;
	}
	if (s->nrcpt >= SMTP_RCPT_MAX) {
		/* RFC 5321 4.5.3.1.10 */
		rcpt_refused(s, a.addr, "too-many", "452 4.5.3 Too many recipients");
		return;
	}
	if (a.flags & SA_POSTMASTER) {
		char dom[STORE_ADDR_MAX - 10];
		smtp_first_domain(s->cfg->domains, dom, sizeof dom);
		snprintf(addr, sizeof addr, "postmaster@%s", dom);
		rcpt_local(s, addr, &a);
		return;
	}
	str_copy(addr, a.addr, sizeof addr);
	if (!(a.flags & SA_LITERAL) && config_domain_is_local(s->cfg, smtp_addr_domain(&a))) {
		rcpt_local(s, addr, &a);
		return;
	}
	if (!is_submission(s)) {
		/* Never an open relay (DESIGN §7). */
		rcpt_refused(s, addr, "relay", "554 5.7.1 <%s>: Relay access denied", addr);
		return;
	}
	if (a.flags & SA_LITERAL) {
		/* The queue delivers by MX look-up only: taking it would only
		 * mean a bounce later. Say so now (issue 22). */
		rcpt_refused(s, addr, "address-literal",
			     "553 5.1.2 <%s>: Address literals are not accepted as recipients; use "
			     "a domain name",
			     addr);
		return;
	}
	smtp_rcptset_add_ext(&s->set, addr);
	rcpt_ok(s, addr);
}

/* ---- the message: trace fields and commit ---- */

/* Return-Path (local copies only, RFC 5321 4.4) and Received. */
static size_t trace_build(struct session *s, char *buf, size_t cap, size_t *rp_len)
{
	if (!s->rdns_done) {
		s->rdns_done = 1;
		smtp_fcrdns(conn_peer(s->c), 0, s->rdns, sizeof s->rdns);
	}
	struct smtp_trace t = {
	    .helo = s->helo,
	    .peer = conn_peer(s->c),
	    .rdns = s->rdns,
	    .by = s->srv->hostname,
	    .proto = smtp_proto_name(s->ehlo, conn_is_tls(s->c), s->authed, s->mail.smtputf8),
	    .tls_version = conn_tls_version(s->c),
	    .tls_cipher = conn_tls_cipher(s->c),
	    .id = s->id,
	    .for_rcpt = s->nrcpt == 1 ? s->first_rcpt : NULL,
	    .when = time(NULL),
	};
	int n = snprintf(buf, cap, "Return-Path: <%s>\r\n", s->mail.from.addr);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	*rp_len = (size_t)n;
	size_t r = smtp_received(buf + n, cap - (size_t)n, &t);
	return r ? (size_t)n + r : 0;
}

/* Mail authentication (docs/auth-mail.md): on port 25 the SPF, DKIM and
 * DMARC verdicts become an Authentication-Results field and may refuse the
 * message or send it to Junk; on submission the missing Date and
 * Message-ID are added and the message is DKIM-signed before it is queued.
 * The header to store is put together in *out: Return-Path (local copies
 * only, its length in *rp_len), then the fields for every copy. Returns
 * the header length, 0 if the message must not be stored (reply sent). */
static size_t auth_and_trace(struct session *s, char **out, size_t *rp_len, struct spool **body,
			     const char **mbox, struct authres_out *ar)
{
	char trace[2048];
	size_t len, rp = 0;
	char *extra = NULL;
	const char *before = "", *after = "";
	if (!(len = trace_build(s, trace, sizeof trace, &rp))) {
		reply(s, "451 4.3.0 Internal error");
		return 0;
	}
	if (is_submission(s)) {
		extra = authres_submission(s->cfg->datadir, s->srv->hostname, s->mail.from.addr,
					   s->id, NULL, 0, s->sp, 1);
		after = extra;
	} else {
		struct authres_in in = {.hostname = s->srv->hostname,
					.ip = conn_peer(s->c),
					.helo = s->helo,
					.mail_from = s->mail.from.addr,
					.sp = s->sp,
					.dmarc_reject = s->cfg->dmarc_reject};
		authres_inbound(&in, ar);
		log_info("smtp id=%s from=<%s> %s", s->id, s->mail.from.addr, ar->summary);
		if (ar->action == AUTHRES_REJECT) {
			reply(s, "550 5.7.1 Rejected by the DMARC policy of the sender's domain");
			return 0;
		}
		if (ar->action == AUTHRES_JUNK)
			*mbox = "Junk";
		if (ar->stripped)
			*body = ar->stripped;
		before = ar->field ? ar->field : "";
	}
	/* Return-Path, our Received, then A-R or the submission fields */
	size_t bl = strlen(before), al = strlen(after), total = len + bl + al;
	char *h = xmalloc(total + 1);
	memcpy(h, trace, len);
	memcpy(h + len, before, bl);
	memcpy(h + len + bl, after, al);
	h[total] = 0;
	free(extra);
	*out = h;
	*rp_len = rp;
	return total;
}

/* The spam filter on port 25 (spam_verdict.h, docs/spam.md): the
 * session's connect-time tests plus the verdict for its recipients
 * (forwarded copies: the common score at brev.conf's strength). Every
 * recipient rejecting: 550 before acceptance, 0 returned (reply sent).
 * Otherwise 1, the X-Spam fields appended to *hdr and, when some copy goes
 * to Junk, *junk (per local user, malloc'ed) set. Nothing happens when
 * every recipient has the filter off. */
static int spam_filter(struct session *s, struct spool *body, const char *auth_summary,
		       char **hdr, size_t *len, unsigned char **junk)
{
	struct spam_verdict v;
	struct spam_verdict_in in = {s->st,	       s->cfg, s->set.users, s->set.nusers,
				     s->set.next > 0, s->mail.from.addr, "smtp", s->id,
				     &s->pre,	       auth_summary};
	spam_verdict(&in, body, &v);
	if (v.reject) {
		reply(s, "550 5.7.1 Message refused as spam (score %.1f)", v.reject_score);
		s->errors++;
		spam_verdict_free(&v);
		return 0;
	}
	if (v.fields) {
		size_t fl = strlen(v.fields);
		*hdr = xrealloc(*hdr, *len + fl + 1);
		memcpy(*hdr + *len, v.fields, fl + 1);
		*len += fl;
	}
	*junk = v.junk;
	v.junk = NULL;
	spam_verdict_free(&v);
	return 1;
}

/* Submission: the From and Sender fields must name the user (or an
 * address they own), or the message would go out DKIM-signed for someone
 * else (docs/smtp.md). 1 if it may go on; 0 with the reply sent. */
static int header_senders_ok(struct session *s)
{
	char bad[STORE_ADDR_MAX + 64];
	switch (smtp_header_senders(s->st, s->cfg, s->auth_uid, s->auth_user, s->sp, bad,
				    sizeof bad)) {
	case SMTP_SENDERS_OK:
		return 1;
	case SMTP_SENDERS_NOTOWNED:
		log_info("smtp id=%s header sender refused peer=%s user=%s from=<%s>", s->id,
			 conn_peer(s->c), s->auth_user, bad);
		reply(s, "553 5.7.1 <%s>: From/Sender address not owned by user %s", bad,
		      s->auth_user);
		break;
	case SMTP_SENDERS_UNCLEAR:
		log_info("smtp id=%s header sender refused peer=%s user=%s: unclear %s field", s->id,
			 conn_peer(s->c), s->auth_user, bad);
		reply(s, "553 5.7.1 The %s field cannot be read one way only; write it as "
			 "Name <address>", bad);
		break;
	default:
		reply(s, "552 5.3.4 Header section over %u octets",
		      (unsigned)SMTP_HEADER_CHECK_MAX);
		break;
	}
	s->errors++;
	return 0;
}

/* The spool could not keep the message: a full disk is "insufficient
 * system storage" (RFC 5321 452, RFC 3463 X.3.1), as a full store is;
 * anything else a local error. */
static const char *spool_failure_reply(const struct spool *sp)
{
	int e = spool_error(sp);
	return e == ENOSPC || e == EDQUOT ? "452 4.3.1 Insufficient system storage; try again later"
					  : "451 4.3.0 Temporary failure writing the message";
}

static void message_done(struct session *s)
{
	char *hdr = NULL;
	size_t rp_len = 0, len;
	struct smtp_outcome o;
	struct authres_out ar = {0};
	struct spool *body = s->sp;
	const char *mbox = NULL;
	unsigned char *junk = NULL;
	uint64_t size = spool_size(s->sp);
	if (spool_error(s->sp)) {
		reply(s, "%s", spool_failure_reply(s->sp));
		return;
	}
	/* Refused rather than stored: no IMAP client could be sent it
	 * (issue 22). */
	if (smtp_has_nul(s->sp)) {
		log_info("smtp id=%s NUL octets in the message peer=%s", s->id, conn_peer(s->c));
		reply(s, "554 5.6.0 Message contains NUL octets");
		s->errors++;
		return;
	}
	/* RFC 5321 6.3: a message that passed too many hops is looping. */
	if (smtp_count_received(s->sp, SMTP_RECEIVED_MAX) > SMTP_RECEIVED_MAX) {
		log_info("smtp id=%s loop detected from=<%s>", s->id, s->mail.from.addr);
		reply(s, "554 5.4.6 Too many Received: fields; mail loop?");
		return;
	}
	if (is_submission(s) && !header_senders_ok(s))
		return;
	if (!(len = auth_and_trace(s, &hdr, &rp_len, &body, &mbox, &ar)))
		goto out;
	/* clamd (virus.h) sees the message as it would be stored; its header
	 * goes to every copy, local and queued. */
	struct virus_check vc;
	if (virus_check(s->cfg, body, s->id, &vc) != VIRUS_DELIVER) {
		reply(s, "%s", vc.reply);
		goto out;
	}
	size_t vl = strlen(vc.header);
	hdr = xrealloc(hdr, len + vl + 1);
	memcpy(hdr + len, vc.header, vl + 1);
	len += vl;
	if (!is_submission(s) && !spam_filter(s, body, ar.summary, &hdr, &len, &junk))
		goto out;
	s->set.junk = junk;
	/* what the user writes makes its recipients known senders (docs/spam.md) */
	s->set.writer = is_submission(s) && s->authed && s->mail.from.addr[0] ? s->mail.from.addr : NULL;
	char via[STORE_ADDR_MAX + 128];
	snprintf(via, sizeof via, "client=%s proto=%s%s%s", conn_peer(s->c),
		 smtp_proto_name(s->ehlo, conn_is_tls(s->c), s->authed, s->mail.smtputf8),
		 s->authed ? " user=" : "", s->authed ? s->auth_user : "");
	char lreply[512];
	if (s->list.list[0] && list_data(s->st, s->cfg, &s->list, s->mail.from.addr, hdr + rp_len,
					 len - rp_len, body, s->id, lreply, sizeof lreply) < 0) {
		reply(s, "%s", lreply);
		goto out;
	}
	int rc = ST_OK;
	memset(&o, 0, sizeof o);
	if (s->set.nusers || s->set.next)
		rc = smtp_commit_mbox(s->st, s->cfg, s->mail.from.addr, &s->set, mbox, hdr, len,
				      hdr + rp_len, len - rp_len, body, s->id, via, &o);
	if (rc != ST_OK) {
		/* RFC 5321 4.2.3 452 + RFC 3463 X.3.1: the store is full or failing. */
		reply(s, "452 4.3.1 Insufficient system storage; try again later");
		goto out;
	}
	log_info("smtp id=%s from=<%s> rcpts=%zu size=%llu delivered=%zu queued=%zu refused=%zu",
		 s->id, s->mail.from.addr, s->nrcpt, (unsigned long long)size, o.delivered,
		 o.queued, o.quota + o.toobig + o.gone);
	if (o.delivered == 0 && o.queued == 0 && !s->list.list[0]) {
		/* Every local account refused it: say so rather than drop it. */
		if (o.rejected > 0) /* RFC 5429 2.1: Sieve reject at SMTP time */
			reply(s, "550 5.7.1 %s", o.reject);
		else if (o.quota > 0)
			reply(s, "452 4.2.2 Mailbox full");
		else if (o.toobig > 0)
			reply(s, "552 5.2.2 Message exceeds the mailbox's quota");
		else
			reply(s, "450 4.2.0 Mailbox unavailable");
		goto out;
	}
	s->accepted++;
	s->junk = 0;
	reply(s, "250 2.0.0 Ok: queued as %s", s->id);
out:
	s->set.junk = NULL;
	free(junk);
	free(hdr);
	authres_out_free(&ar);
}

/* ---- DATA ---- */

static void cmd_data(struct session *s, const struct smtp_cmd *cmd)
{
	if (cmd->arglen) {
		bad(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	conn_flush(s->c);
	conn_set_timeout(s->c, SMTP_DATA_TIMEOUT);
	int rc = conn_read_dot(s->c, s->sp, size_limit(s));
	conn_set_timeout(s->c, SMTP_CMD_TIMEOUT);
	switch (rc) {
	case DOT_OK:
	case DOT_SPOOL: /* message_done answers the spool's failure */
		message_done(s);
		break;
	case DOT_TOOBIG:
		reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		break;
	case DOT_BARE_NL:
		/* The SMTP smuggling class: only CRLF.CRLF ends the data. */
		log_info("smtp id=%s bare CR or LF in DATA peer=%s", s->id, conn_peer(s->c));
		reply(s, "554 5.6.0 Message contains bare CR or LF; lines must end with CRLF");
		break;
	case DOT_LONGLINE:
		reply(s, "554 5.6.0 Message has a line over 1000 octets (RFC 5321 4.5.3.1.6)");
		break;
	default:
		hang_up(s, conn_reason(s->c));
		return;
	}
	txn_end(s);
}

/* ---- BDAT (RFC 3030) ---- */

/* Bare CR or LF check over chunk boundaries (the same rule as DATA). */
static int bdat_scan(struct session *s, const unsigned char *p, size_t n)
{
	int bare = 0, cr = s->bdat_cr;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			bare |= !cr;
			cr = 0;
		} else {
			bare |= cr;
			cr = p[i] == '\r';
		}
	}
	s->bdat_cr = cr;
	return bare;
}

/* Read exactly n octets of chunk, keeping them when keep. -1 if the
 * connection failed. */
static int bdat_read(struct session *s, uint64_t n, int keep)
{
	unsigned char *buf = xmalloc(BDAT_BUF);
	int rc = 0;
	conn_set_timeout(s->c, SMTP_DATA_TIMEOUT);
	while (n > 0) {
		size_t k = n < BDAT_BUF ? (size_t)n : BDAT_BUF;
		if (conn_read_n(s->c, buf, k) < 0) {
			rc = -1;
			break;
		}
		n -= k;
		if (!keep || s->bdat_fail)
			continue;
		if (bdat_scan(s, buf, k))
			s->bdat_fail = "554 5.6.0 Message contains bare CR or LF; lines must end "
				       "with CRLF";
		else if (spool_write(s->sp, buf, k) < 0)
			s->bdat_fail = spool_failure_reply(s->sp);
	}
	conn_set_timeout(s->c, SMTP_CMD_TIMEOUT);
	free(buf);
	return rc;
}

/* Why a BDAT in this state cannot be taken, or NULL. */
static const char *bdat_state_error(const struct session *s)
{
	switch (s->state) {
	case SMTP_ST_CONNECTED:
		return "503 5.5.1 Send EHLO first";
	case SMTP_ST_GREETED:
		return "503 5.5.1 Need MAIL command";
	case SMTP_ST_MAIL:
		return "554 5.5.1 No valid recipients";
	default:
		return NULL;
	}
}

static void cmd_bdat(struct session *s, const struct smtp_cmd *cmd)
{
	uint64_t n;
	int last;
	if (smtp_bdat_parse(cmd->arg, cmd->arglen, &n, &last) < 0) {
		/* Without a size the chunk's end cannot be found: the rest of
		 * the stream would be read as commands. */
		bad(s, "501 5.5.4 Syntax: BDAT size [LAST]; closing");
		hang_up(s, "bdat-syntax");
		return;
	}
	const char *state_err = bdat_state_error(s);
	int keep = !state_err;
	if (keep && !s->bdat_fail && s->bdat_total + n > size_limit(s)) {
		s->bdat_fail = "552 5.3.4 Message size exceeds fixed maximum message size";
		s->errors++;
	}
	/* Discarding keeps us in step with the client, but not for ever. */
	if ((!keep || s->bdat_fail) && n > size_limit(s)) {
		bad(s, "552 5.3.4 Message size exceeds fixed maximum message size; closing");
		hang_up(s, "bdat-too-big");
		return;
	}
	const char *before = s->bdat_fail;
	if (bdat_read(s, n, keep) < 0) {
		hang_up(s, conn_reason(s->c));
		return;
	}
	if (!keep) {
		bad(s, state_err);
		return;
	}
	s->bdat_total += n;
	if (s->bdat_fail && !before)
		s->errors++;
	if (last && !s->bdat_fail && s->bdat_cr)
		s->bdat_fail = "554 5.6.0 Message ends with a bare CR";
	if (s->bdat_fail) {
		reply(s, "%s", s->bdat_fail);
		if (last)
			txn_end(s);
		else
			enter(s, SMTP_ST_BDAT);
		return;
	}
	if (!last) {
		enter(s, SMTP_ST_BDAT);
		reply(s, "250 2.0.0 %llu octets received", (unsigned long long)n);
		return;
	}
	message_done(s);
	txn_end(s);
}

/* ---- dispatch ---- */

struct command {
	int verb;
	unsigned states;
	void (*fn)(struct session *s, const struct smtp_cmd *cmd);
};

static const struct command commands[] = {
    {SV_EHLO, ST_ANY, cmd_ehlo},
    {SV_HELO, ST_ANY, cmd_helo},
    {SV_MAIL, ST(GREETED), cmd_mail},
    {SV_RCPT, ST(MAIL) | ST(RCPT), cmd_rcpt},
    {SV_DATA, ST(RCPT), cmd_data},
    {SV_BDAT, ST_ANY, cmd_bdat}, /* checks its state itself: must eat the chunk */
    {SV_RSET, ST_ANY, cmd_rset},
    {SV_NOOP, ST_ANY, cmd_noop},
    {SV_QUIT, ST_ANY, cmd_quit},
    {SV_VRFY, ST_ANY, cmd_vrfy},
    {SV_EXPN, ST_ANY, cmd_expn},
    {SV_HELP, ST_ANY, cmd_help},
    {SV_STARTTLS, ST(CONNECTED) | ST(GREETED), cmd_starttls},
    {SV_AUTH, ST(GREETED), cmd_auth},
};

/* The reply for a command in the wrong state (RFC 5321 4.3.2: 503). */
static const char *sequence_error(const struct session *s, int verb)
{
	if (s->state == SMTP_ST_CONNECTED)
		return "503 5.5.1 Send EHLO or HELO first";
	switch (verb) {
	case SV_MAIL:
		return "503 5.5.1 Nested MAIL command";
	case SV_RCPT:
		return "503 5.5.1 Need MAIL before RCPT";
	case SV_DATA:
		if (s->state == SMTP_ST_MAIL)
			return "554 5.5.1 No valid recipients";
		if (s->state == SMTP_ST_BDAT)
			return "503 5.5.1 DATA not allowed in a BDAT transaction";
		return "503 5.5.1 Need MAIL and RCPT before DATA";
	default:
		return "503 5.5.1 Not allowed during a mail transaction";
	}
}

static void dispatch(struct session *s, const char *line, size_t n)
{
	struct smtp_cmd cmd;
	if (smtp_cmd_parse(line, n, &cmd) < 0) {
		bad(s, "500 5.5.2 Invalid character in command");
		return;
	}
	/* RFC 5321 4.5.3.1.4; AUTH lines may be longer (RFC 4954 4). */
	if (n > SMTP_CMD_MAX - 2 && cmd.verb != SV_AUTH) {
		bad(s, "500 5.5.2 Line too long");
		return;
	}
	if (cmd.verb != SV_AUTH)
		log_debug("smtp %s:%d [%s] %.*s", conn_peer(s->c), conn_peer_port(s->c),
			  state_names[s->state], (int)(n > 80 ? 80 : n), line);
	for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
		if (commands[i].verb != cmd.verb)
			continue;
		if (!(commands[i].states & (1u << s->state)))
			bad(s, sequence_error(s, cmd.verb));
		else
			commands[i].fn(s, &cmd);
		return;
	}
	bad(s, "500 5.5.1 Command unrecognized");
}

static void session_loop(struct session *s)
{
	while (s->state != SMTP_ST_QUIT) {
		char *line;
		if (atomic_load(&s->srv->stopping))
			conn_end_input(s->c); /* the 421 comes from net.c */
		/* RFC 2920 3.2: answer a pipelined group when the client waits. */
		if (conn_pending(s->c) == 0 && conn_flush(s->c) < 0) {
			hang_up(s, conn_reason(s->c));
			break;
		}
		ssize_t n = conn_getline(s->c, &line, SMTP_READ_MAX, NULL);
		/* The first command came within limits.timeout_preauth (an
		 * idle connection is cheap to open, so it gets tens of
		 * seconds, as postscreen gives): RFC 5321's 5 minutes now on
		 * the MX. Submission keeps the short wait until AUTH: nothing
		 * but AUTH gets anywhere there, and its slots are reserved. */
		if (n >= 0 && !s->spoke && !is_submission(s)) {
			s->spoke = 1;
			conn_set_timeout(s->c, SMTP_CMD_TIMEOUT);
		}
		if (n == -2)
			bad(s, "500 5.5.2 Line too long");
		else if (n < 0) {
			hang_up(s, conn_reason(s->c));
			break;
		} else
			dispatch(s, line, (size_t)n);
		if (s->state != SMTP_ST_QUIT && s->errors >= SMTP_ERRORS_MAX) {
			reply(s, "421 4.7.0 %s Too many errors; closing", s->srv->hostname);
			hang_up(s, "errors");
		}
		if (s->state != SMTP_ST_QUIT &&
		    s->junk >= (s->authed ? SMTP_JUNK_MAX_AUTH : SMTP_JUNK_MAX)) {
			log_info("smtp junk limit peer=%s commands=%d", conn_peer(s->c), s->junk);
			reply(s, "421 4.7.0 %s Too many commands without a message; closing",
			      s->srv->hostname);
			hang_up(s, "junk");
		}
	}
	conn_flush(s->c);
}

/* Before the inbound greeting (docs/spam.md): the client's address
 * against spam.dnsbl, its forward-confirmed reverse DNS, and a pause of
 * spam.pregreet ms (the look-ups count toward it) in which a client that
 * talks first gets PREGREET, as Postfix's postscreen does: real SMTP
 * clients wait for the 220 (RFC 5321 4.3.1). Points only, never a refusal.
 * Loopback clients are the machine's own programs: skipped unless
 * spam.check_loopback. */
#define PREGREET_POINTS	     3.0
#define RDNS_NONE_POINTS     1.5 /* no PTR at all: home connections, bots */
#define RDNS_MISMATCH_POINTS 1.0 /* a PTR name that does not point back */
#define RDNS_TIMEOUT_MS	     1500 /* per look-up, one try per resolver */
static void rdns_check(struct session *s)
{
	s->rdns_done = 1;
	enum smtp_rdns r = smtp_fcrdns(conn_peer(s->c), RDNS_TIMEOUT_MS, s->rdns, sizeof s->rdns);
	if (r == SMTP_RDNS_NONE)
		spam_add(&s->pre, "RDNS_NONE", RDNS_NONE_POINTS);
	else if (r == SMTP_RDNS_MISMATCH)
		spam_add(&s->pre, "RDNS_MISMATCH", RDNS_MISMATCH_POINTS);
	if (r != SMTP_RDNS_OK)
		log_info("smtp rdns peer=%s: %s", conn_peer(s->c),
			 r == SMTP_RDNS_NONE	   ? "no PTR record"
			 : r == SMTP_RDNS_MISMATCH ? "its PTR name does not point back to it"
						   : "no answer, not counted");
}

static void connect_checks(struct session *s)
{
	if (is_submission(s) || (conn_is_loopback(s->c) && !s->cfg->spam_check_loopback))
		return;
	int64_t t0 = now_ms();
	dnsbl_check(s->cfg->spam_dnsbl, conn_peer(s->c), &s->pre);
	rdns_check(s);
	if (s->cfg->spam_pregreet <= 0)
		return;
	int64_t left = s->cfg->spam_pregreet - (now_ms() - t0);
	if (conn_wait(s->c, -1, left > 0 ? (int)left : 0) == 1) {
		spam_add(&s->pre, "PREGREET", PREGREET_POINTS);
		log_info("smtp pregreet peer=%s: the client talked before the greeting",
			 conn_peer(s->c));
	}
}

static const char *kind_name(int kind)
{
	return kind == LK_SUBMISSION	? "submission"
	       : kind == LK_SUBMISSIONS ? "submissions"
					: "smtp";
}

void smtp_serve(struct server *srv, struct conn *c, int kind)
{
	struct session *s = xcalloc(1, sizeof *s);
	s->srv = srv;
	s->cfg = srv->cfg;
	s->st = srv->store;
	s->c = c;
	s->kind = kind;
	s->state = SMTP_ST_CONNECTED;
	s->sp = spool_new(SPOOL_MEM_DEFAULT);
	conn_set_timeout(c, preauth_ms(s));
	connect_checks(s);
	/* RFC 5321 4.2: the greeting; no enhanced code (RFC 2034 3). */
	reply(s, "220 %s ESMTP brev", srv->hostname);
	session_loop(s);
	const char *v = conn_tls_version(c), *ci = conn_tls_cipher(c);
	log_info("smtp session end peer=%s:%d port=%s tls=%s%s%s helo=%s user=%s msgs=%d "
		 "errors=%d reason=%s",
		 conn_peer(c), conn_peer_port(c), kind_name(kind), v ? v : "no", ci ? "/" : "",
		 ci ? ci : "", s->helo[0] ? s->helo : "-", s->authed ? s->auth_user : "-",
		 s->accepted, s->errors, s->reason ? s->reason : "eof");
	smtp_rcptset_free(&s->set);
	spool_free(&s->sp);
	free(s);
}
