/*
 * managesieve.c — ManageSieve server sessions (RFC 5804): upload, list,
 * activate, fetch, rename and delete an account's Sieve scripts from any
 * client. STARTTLS with the server's certificate, the SASL mechanisms and
 * failed-login throttle of sasl.c (as imap.c and pop3.c use them), and
 * every script checked with sieve_compile before it is stored, so a
 * client sees "line N: ..." at PUTSCRIPT/CHECKSCRIPT instead of a script
 * that silently keeps everything at delivery.
 *
 * What this file owns: the session states (NONAUTH, AUTH), the command
 * table, reading a command with its literals into one bounded buffer
 * (managesieve_parse.c parses it), and the replies. Scripts are kept by
 * the store (mailbox_sieve.c); running them is delivery's business.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "mailbox.h"
#include "managesieve.h"
#include "sasl.h"
#include "server.h"
#include "sieve.h"
#include "util.h"

#define MS_TIMEOUT_MS	 (30 * 60 * 1000) /* after login, like IMAP's autologout */
#define MS_MAX_FAILURES	 3                /* failed logins before BYE */
#define MS_MAX_ERRORS	 20               /* bad commands before BYE */
#define MS_SASL_ROUNDS	 8                /* challenges per AUTHENTICATE */
#define MS_SKIP_MAX	 (1024 * 1024)    /* an oversize literal up to this is read
					   * and dropped (NO); beyond it, BYE */
#define MS_LITERALS_MAX	 (MS_ARGS_MAX + 1)

/* RFC 5804 1.7 "SIEVE": the extensions sieve.c implements (issue 19's list). */
#ifndef SIEVE_EXTENSIONS
#define SIEVE_EXTENSIONS                                                                            \
	"fileinto reject ereject envelope encoded-character comparator-i;octet "                  \
	"comparator-i;ascii-casemap copy imap4flags body variables relational subaddress "         \
	"vacation vacation-seconds date index regex include duplicate environment mailbox"
#endif

enum ms_state { MS_NONAUTH = 0, MS_AUTH = 1 };
#define IN_NONAUTH (1u << MS_NONAUTH)
#define IN_AUTH	   (1u << MS_AUTH)

struct ms {
	struct server *srv;
	struct store *st;
	struct conn *c;
	int state;
	int quit;
	const char *reason;
	int failures, errors;
	uint32_t user;
	char login[STORE_ADDR_MAX + 1];
	char authname[STORE_ADDR_MAX + 1];
	unsigned nput;
	struct {
		char *buf; /* MS_CMD_MAX + 1 bytes */
		size_t len;
	} cmd; /* the command being read, in wire form */
};

/* ---- replies ---- */

static void hang_up(struct ms *s, const char *reason)
{
	s->quit = 1;
	if (!s->reason)
		s->reason = reason;
}

static const char *conn_reason(const struct conn *c)
{
	switch (conn_error(c)) {
	case CONN_EOF: return "eof";
	case CONN_TIMEOUT: return "timeout";
	case CONN_TLS: return "tls-error";
	case CONN_IO: return "io-error";
	default: return "error";
	}
}

/* A string as RFC 5804 4 wants it: quoted when short and plain, else a
 * literal {n} (server to client: no "+"). */
static void put_string(struct ms *s, const char *str, size_t n)
{
	int plain = n <= MS_QUOTED_MAX;
	for (size_t i = 0; plain && i < n; i++)
		if (str[i] == '\r' || str[i] == '\n' || str[i] == '\0')
			plain = 0;
	if (!plain) {
		conn_printf(s->c, "{%zu}\r\n", n);
		conn_write(s->c, str, n);
		return;
	}
	conn_write(s->c, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (str[i] == '"' || str[i] == '\\')
			conn_write(s->c, "\\", 1);
		conn_write(s->c, &str[i], 1);
	}
	conn_write(s->c, "\"", 1);
}

/* "OK", "NO" or "BYE", an optional response code (without parentheses)
 * and a human-readable text. */
static void respond(struct ms *s, const char *what, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void respond(struct ms *s, const char *what, const char *code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	conn_puts(s->c, what);
	if (code) {
		conn_puts(s->c, " (");
		conn_puts(s->c, code);
		conn_puts(s->c, ")");
	}
	if (text[0]) {
		conn_puts(s->c, " ");
		put_string(s, text, strlen(text));
	}
	conn_puts(s->c, "\r\n");
}

/* ---- policy ---- */

/* DESIGN §7: plaintext passwords only inside TLS or from this machine. */
static int plain_ok(const struct ms *s)
{
	return conn_is_tls(s->c) || conn_is_loopback(s->c);
}

static int starttls_available(const struct ms *s)
{
	return s->srv->tls && !conn_is_tls(s->c);
}

static const char *hostname(const struct ms *s)
{
	return s->srv->hostname && s->srv->hostname[0] ? s->srv->hostname : "brev";
}

static int timeout_ms(const struct ms *s, int preauth)
{
	const struct config *cfg = s->srv ? s->srv->cfg : NULL;
	int64_t sec = cfg && preauth ? cfg->timeout_preauth : 0;
	return sec > 0 && sec <= 86400 ? (int)(sec * 1000) : MS_TIMEOUT_MS;
}

/* RFC 5804 1.7: the capability lines, then OK. */
static void capabilities(struct ms *s)
{
	char n[16];
	conn_puts(s->c, "\"IMPLEMENTATION\" \"brev\"\r\n");
	if (s->state == MS_NONAUTH) {
		const char *mechs = sasl_mech_list(plain_ok(s));
		conn_puts(s->c, "\"SASL\" ");
		put_string(s, mechs ? mechs : "", mechs ? strlen(mechs) : 0);
		conn_puts(s->c, "\r\n");
	}
	conn_puts(s->c, "\"SIEVE\" \"" SIEVE_EXTENSIONS "\"\r\n");
	if (starttls_available(s) && s->state == MS_NONAUTH)
		conn_puts(s->c, "\"STARTTLS\"\r\n");
	snprintf(n, sizeof n, "%d", SIEVE_REDIRECTS_MAX);
	conn_printf(s->c, "\"MAXREDIRECTS\" \"%s\"\r\n", n);
	conn_puts(s->c, "\"UNAUTHENTICATE\"\r\n");
	conn_puts(s->c, "\"VERSION\" \"1.0\"\r\n");
	respond(s, "OK", NULL, "brev ManageSieve ready");
}

/* ---- reading a command ---- */

enum { RD_OK = 0, RD_EOF = -1, RD_TOOLONG = -2, RD_TOOBIG = -3 };

/* Read one command (or one SASL response) with its literals into s->cmd:
 * RD_OK, RD_EOF (connection gone: hung up), RD_TOOLONG (a line over
 * MS_LINE_MAX or a command over MS_CMD_MAX, consumed: answer NO) or
 * RD_TOOBIG (a literal over MS_LITERAL_MAX that was read and dropped:
 * answer NO (QUOTA/MAXSIZE)). A literal over MS_SKIP_MAX is not read: the
 * session says BYE and hangs up. */
static int read_command(struct ms *s)
{
	int literals = 0, toobig = 0, toolong = 0;
	s->cmd.len = 0;
	for (;;) {
		char *line;
		uint64_t n;
		int plus, t;
		ssize_t len = conn_getline(s->c, &line, MS_LINE_MAX, NULL);
		if (len == -2) {
			toolong = 1;
			break; /* the line was consumed; a literal it announced is lost too */
		}
		if (len < 0) {
			hang_up(s, conn_reason(s->c));
			return RD_EOF;
		}
		t = managesieve_literal_tail(line, (size_t)len, &n, &plus);
		if (!toobig && !toolong) {
			if (s->cmd.len + (size_t)len + 2 > MS_CMD_MAX)
				toolong = 1;
			else {
				memcpy(s->cmd.buf + s->cmd.len, line, (size_t)len);
				memcpy(s->cmd.buf + s->cmd.len + len, "\r\n", 2);
				s->cmd.len += (size_t)len + 2;
			}
		}
		if (t <= 0)
			break;
		if (++literals > MS_LITERALS_MAX || n > MS_SKIP_MAX) {
			respond(s, "BYE", NULL, "literal too large or too many literals");
			hang_up(s, "literal-too-large");
			return RD_EOF;
		}
		if (n > MS_LITERAL_MAX || toobig || toolong || s->cmd.len + n > MS_CMD_MAX) {
			/* read and drop, so the next command starts where it should */
			char buf[4096];
			toobig = 1;
			while (n > 0) {
				size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
				if (conn_read_n(s->c, buf, k) < 0) {
					hang_up(s, conn_reason(s->c));
					return RD_EOF;
				}
				n -= k;
			}
			continue;
		}
		if (conn_read_n(s->c, s->cmd.buf + s->cmd.len, (size_t)n) < 0) {
			hang_up(s, conn_reason(s->c));
			return RD_EOF;
		}
		s->cmd.len += (size_t)n;
	}
	return toobig ? RD_TOOBIG : toolong ? RD_TOOLONG : RD_OK;
}

/* ---- scripts: checks shared by PUTSCRIPT and CHECKSCRIPT ---- */

/* 0 when the script compiles; else NO with "line N: ..." sent, -1. */
static int script_check(struct ms *s, const char *src, size_t len)
{
	struct sieve_script *sc = NULL;
	char err[256];
	if (sieve_compile(src, len, &sc, err, sizeof err) < 0) {
		respond(s, "NO", NULL, "%s", err);
		return -1;
	}
	sieve_free(sc);
	return 0;
}

static void store_failed(struct ms *s, int rc, const char *name)
{
	switch (rc) {
	case ST_NOTFOUND: respond(s, "NO", "NONEXISTENT", "no script named %s", name); break;
	case ST_EXISTS: respond(s, "NO", "ALREADYEXISTS", "a script with that name exists"); break;
	case ST_LIMIT:
		respond(s, "NO", "QUOTA/MAXSCRIPTS", "at most %d scripts per account",
			STORE_SIEVE_SCRIPTS);
		break;
	case ST_INVALID: respond(s, "NO", NULL, "bad script name or size"); break;
	default: respond(s, "NO", "TRYLATER", "the store is busy, try again later"); break;
	}
}

/* ---- commands ---- */

static void cmd_capability(struct ms *s, struct ms_cmd *cmd)
{
	capabilities(s);
}

static void cmd_noop(struct ms *s, struct ms_cmd *cmd)
{
	/* RFC 5804 2.14: echo the tag in a TAG response code. */
	if (cmd->argc == 1) {
		conn_puts(s->c, "OK (TAG ");
		put_string(s, cmd->argv[0].s, cmd->argv[0].len);
		conn_puts(s->c, ") \"Done\"\r\n");
		return;
	}
	respond(s, "OK", NULL, "Done");
}

static void cmd_logout(struct ms *s, struct ms_cmd *cmd)
{
	respond(s, "OK", NULL, "bye");
	hang_up(s, "logout");
}

static void cmd_starttls(struct ms *s, struct ms_cmd *cmd)
{
	if (!starttls_available(s)) {
		respond(s, "NO", NULL, "STARTTLS not available");
		return;
	}
	/* RFC 5804 2.2 / RFC 3207 5: nothing pipelined after STARTTLS may be
	 * taken as a command inside TLS. */
	if (conn_pending(s->c) > 0) {
		respond(s, "BYE", NULL, "commands pipelined after STARTTLS");
		hang_up(s, "starttls-pipelined");
		return;
	}
	respond(s, "OK", NULL, "begin TLS negotiation");
	/* The second flush has nothing to send: it tells conn.c that the
	 * plaintext reply is out and everything from here is TLS. */
	if (conn_flush(s->c) < 0 || conn_starttls(s->c, s->srv->tls) < 0 || conn_flush(s->c) < 0) {
		hang_up(s, "starttls-failed");
		return;
	}
	/* RFC 5804 2.2: the server re-issues its capabilities after TLS. */
	capabilities(s);
}

static int account_get(struct ms *s, const char *name, struct account *a)
{
	char addr[STORE_ADDR_MAX + 1];
	const char *d = s->srv->cfg ? s->srv->cfg->domains : NULL;
	size_t dlen;
	/* a bare local part on a server with exactly one domain, as POP3/IMAP */
	if (strchr(name, '@') || !d) {
		if (str_copy(addr, name, sizeof addr) >= sizeof addr)
			return ST_NOTFOUND;
	} else {
		d += strspn(d, " ");
		dlen = strcspn(d, " ");
		if (dlen == 0 || d[dlen + strspn(d + dlen, " ")] != '\0') {
			if (str_copy(addr, name, sizeof addr) >= sizeof addr)
				return ST_NOTFOUND;
		} else if ((size_t)snprintf(addr, sizeof addr, "%s@%.*s", name, (int)dlen, d) >=
			   sizeof addr) {
			return ST_NOTFOUND;
		}
	}
	return store_user_get(s->st, addr, a);
}

static int sasl_lookup(void *arg, const char *user, struct cred *out)
{
	struct ms *s = arg;
	struct account a;
	str_copy(s->authname, user, sizeof s->authname);
	if (account_get(s, user, &a) != ST_OK)
		return -1;
	*out = a.cred;
	explicit_bzero(&a, sizeof a);
	return 0;
}

static void login_failed(struct ms *s, const char *name, const char *mech)
{
	s->failures++;
	log_info("managesieve login failed peer=%s user=%s mech=%s failures=%d", conn_peer(s->c),
		 name, mech, s->failures);
	if (s->failures >= MS_MAX_FAILURES) {
		respond(s, "BYE", NULL, "authentication failed; too many failures");
		hang_up(s, "auth-failures");
		return;
	}
	respond(s, "NO", NULL, "authentication failed");
}

/* RFC 5804 2.1: challenges are strings; the client answers each with a
 * string, or "*" to cancel. Returns an enum sasl_step_rc, or -1 when the
 * connection failed; *final gets the server's last data (SCRAM), which
 * goes into OK (SASL "...") rather than one more challenge. */
static int auth_exchange(struct ms *s, struct sasl_session *ss, const char *initial, char *out,
			 size_t outcap)
{
	const char *in = initial;
	for (int round = 0;; round++) {
		int rc = sasl_step(ss, in, out, outcap);
		struct ms_arg a;
		int r;
		if (rc != SASL_CONTINUE)
			return rc;
		if (round == MS_SASL_ROUNDS)
			return SASL_BAD;
		put_string(s, out, strlen(out));
		conn_puts(s->c, "\r\n");
		if (conn_flush(s->c) < 0) {
			hang_up(s, conn_reason(s->c));
			return -1;
		}
		r = read_command(s);
		if (r == RD_EOF)
			return -1;
		if (r != RD_OK || managesieve_parse_string(s->cmd.buf, s->cmd.len, &a) < 0 ||
		    strlen(a.s) != a.len)
			return SASL_BAD;
		if (!strcmp(a.s, "*"))
			return SASL_CANCEL;
		in = a.len ? a.s : "=";
	}
}

static void cmd_authenticate(struct ms *s, struct ms_cmd *cmd)
{
	struct sasl_session *ss;
	char out[SASL_OUT_MAX + 1];
	char mname[32];
	char initial[SASL_IN_MAX + 1], *init = NULL;
	int mech = sasl_mech_parse(cmd->argv[0].s), rc;

	if (mech < 0) {
		respond(s, "NO", NULL, "unsupported SASL mechanism");
		return;
	}
	/* a known mechanism, so short; copied: the exchange reuses the buffer */
	str_copy(mname, cmd->argv[0].s, sizeof mname);
	if ((mech == SASL_PLAIN || mech == SASL_LOGIN) && !plain_ok(s)) {
		respond(s, "NO", "ENCRYPT-NEEDED", "plaintext authentication needs STARTTLS");
		return;
	}
	if (cmd->argc == 2) {
		/* an empty initial response is "=" to sasl_step (RFC 4422 5) */
		if (cmd->argv[1].len > SASL_IN_MAX || strlen(cmd->argv[1].s) != cmd->argv[1].len) {
			respond(s, "NO", NULL, "malformed SASL response");
			return;
		}
		str_copy(initial, cmd->argv[1].len ? cmd->argv[1].s : "=", sizeof initial);
		init = initial;
	}
	s->authname[0] = '\0';
	ss = sasl_new(mech, hostname(s), sasl_lookup, s);
	sasl_set_peer(ss, conn_peer(s->c));
	out[0] = '\0';
	rc = auth_exchange(s, ss, init, out, sizeof out);
	if (rc == SASL_DONE) {
		struct account *a = xmalloc(sizeof *a);
		int g = account_get(s, sasl_user(ss), a);
		if (g == ST_OK) {
			s->user = a->id;
			str_copy(s->login, a->addr, sizeof s->login);
			s->state = MS_AUTH;
			conn_set_timeout(s->c, timeout_ms(s, 0));
			log_info("managesieve login peer=%s user=%s mech=%s tls=%s", conn_peer(s->c),
				 s->login, mname, conn_is_tls(s->c) ? "yes" : "no");
			if (out[0]) {
				conn_puts(s->c, "OK (SASL ");
				put_string(s, out, strlen(out));
				conn_puts(s->c, ") \"Logged in\"\r\n");
			} else {
				respond(s, "OK", NULL, "Logged in");
			}
		} else if (g == ST_TEMP) {
			respond(s, "NO", "TRYLATER", "try again later");
		} else {
			login_failed(s, sasl_user(ss), mname);
		}
		explicit_bzero(a, sizeof *a);
		free(a);
	} else if (rc == SASL_FAIL && sasl_throttled(ss)) {
		respond(s, "NO", "TRYLATER", "too many failed logins, try again later");
	} else if (rc == SASL_FAIL) {
		login_failed(s, s->authname[0] ? s->authname : "-", mname);
	} else if (rc == SASL_CANCEL) {
		respond(s, "NO", NULL, "authentication cancelled");
	} else if (rc == SASL_BAD) {
		respond(s, "NO", NULL, "malformed SASL response");
	}
	sasl_free(&ss);
	explicit_bzero(initial, sizeof initial);
}

static void cmd_unauthenticate(struct ms *s, struct ms_cmd *cmd)
{
	/* RFC 5804 2.14.1 (UNAUTHENTICATE): back to the non-authenticated state. */
	log_info("managesieve unauthenticate peer=%s user=%s", conn_peer(s->c), s->login);
	s->state = MS_NONAUTH;
	s->user = 0;
	s->login[0] = '\0';
	conn_set_timeout(s->c, timeout_ms(s, 1));
	respond(s, "OK", NULL, "unauthenticated");
}

/* A name argument: a string without NULs that the store accepts. */
static int name_arg(struct ms *s, const struct ms_arg *a, int quiet)
{
	if (strlen(a->s) != a->len || !store_sieve_name_ok(a->s)) {
		if (!quiet)
			respond(s, "NO", NULL, "bad script name");
		return -1;
	}
	return 0;
}

static void cmd_havespace(struct ms *s, struct ms_cmd *cmd)
{
	int rc;
	if (name_arg(s, &cmd->argv[0], 0) < 0)
		return;
	if (cmd->argv[1].num > STORE_SIEVE_SIZE) {
		respond(s, "NO", "QUOTA/MAXSIZE", "scripts are at most %d bytes", STORE_SIEVE_SIZE);
		return;
	}
	rc = store_sieve_space(s->st, s->user, cmd->argv[0].s, cmd->argv[1].num);
	if (rc == ST_OK)
		respond(s, "OK", NULL, "there is room");
	else
		store_failed(s, rc, cmd->argv[0].s);
}

static void cmd_putscript(struct ms *s, struct ms_cmd *cmd)
{
	const struct ms_arg *src = &cmd->argv[1];
	int rc;
	if (name_arg(s, &cmd->argv[0], 0) < 0)
		return;
	if (src->len > STORE_SIEVE_SIZE) {
		respond(s, "NO", "QUOTA/MAXSIZE", "scripts are at most %d bytes", STORE_SIEVE_SIZE);
		return;
	}
	/* the space first: a script that cannot be stored need not be compiled */
	if ((rc = store_sieve_space(s->st, s->user, cmd->argv[0].s, src->len)) != ST_OK) {
		store_failed(s, rc, cmd->argv[0].s);
		return;
	}
	if (script_check(s, src->s, src->len) < 0)
		return;
	rc = store_sieve_put(s->st, s->user, cmd->argv[0].s, src->s, src->len);
	if (rc != ST_OK) {
		store_failed(s, rc, cmd->argv[0].s);
		return;
	}
	s->nput++;
	log_info("managesieve putscript peer=%s user=%s name=%s size=%zu", conn_peer(s->c), s->login,
		 cmd->argv[0].s, src->len);
	respond(s, "OK", NULL, "stored");
}

static void cmd_checkscript(struct ms *s, struct ms_cmd *cmd)
{
	if (cmd->argv[0].len > STORE_SIEVE_SIZE) {
		respond(s, "NO", "QUOTA/MAXSIZE", "scripts are at most %d bytes", STORE_SIEVE_SIZE);
		return;
	}
	if (script_check(s, cmd->argv[0].s, cmd->argv[0].len) == 0)
		respond(s, "OK", NULL, "script is valid");
}

static void cmd_listscripts(struct ms *s, struct ms_cmd *cmd)
{
	struct sieve_script_info *l;
	size_t n;
	int rc = store_sieve_list(s->st, s->user, &l, &n);
	if (rc != ST_OK) {
		store_failed(s, rc, "");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		put_string(s, l[i].name, strlen(l[i].name));
		conn_puts(s->c, l[i].active ? " ACTIVE\r\n" : "\r\n");
	}
	free(l);
	respond(s, "OK", NULL, "listed");
}

static void cmd_setactive(struct ms *s, struct ms_cmd *cmd)
{
	int rc;
	/* RFC 5804 2.8: the empty name deactivates. */
	if (cmd->argv[0].len && name_arg(s, &cmd->argv[0], 1) < 0) {
		respond(s, "NO", "NONEXISTENT", "no such script");
		return;
	}
	rc = store_sieve_activate(s->st, s->user, cmd->argv[0].s);
	if (rc != ST_OK) {
		store_failed(s, rc, cmd->argv[0].s);
		return;
	}
	log_info("managesieve setactive peer=%s user=%s name=%s", conn_peer(s->c), s->login,
		 cmd->argv[0].len ? cmd->argv[0].s : "-");
	respond(s, "OK", NULL, cmd->argv[0].len ? "active" : "no script is active");
}

static void cmd_getscript(struct ms *s, struct ms_cmd *cmd)
{
	char *src;
	size_t len;
	int rc;
	if (name_arg(s, &cmd->argv[0], 1) < 0) {
		respond(s, "NO", "NONEXISTENT", "no such script");
		return;
	}
	rc = store_sieve_get(s->st, s->user, cmd->argv[0].s, &src, &len, NULL);
	if (rc != ST_OK) {
		store_failed(s, rc, cmd->argv[0].s);
		return;
	}
	/* RFC 5804 2.9: the script as a literal, then OK */
	conn_printf(s->c, "{%zu}\r\n", len);
	conn_write(s->c, src, len);
	conn_puts(s->c, "\r\n");
	free(src);
	respond(s, "OK", NULL, "got it");
}

static void cmd_deletescript(struct ms *s, struct ms_cmd *cmd)
{
	int rc;
	if (name_arg(s, &cmd->argv[0], 1) < 0) {
		respond(s, "NO", "NONEXISTENT", "no such script");
		return;
	}
	rc = store_sieve_delete(s->st, s->user, cmd->argv[0].s);
	if (rc == ST_INVALID)
		respond(s, "NO", "ACTIVE", "the active script cannot be deleted");
	else if (rc != ST_OK)
		store_failed(s, rc, cmd->argv[0].s);
	else
		respond(s, "OK", NULL, "deleted");
}

static void cmd_renamescript(struct ms *s, struct ms_cmd *cmd)
{
	int rc;
	if (name_arg(s, &cmd->argv[0], 1) < 0) {
		respond(s, "NO", "NONEXISTENT", "no such script");
		return;
	}
	if (name_arg(s, &cmd->argv[1], 0) < 0)
		return;
	rc = store_sieve_rename(s->st, s->user, cmd->argv[0].s, cmd->argv[1].s);
	if (rc != ST_OK)
		store_failed(s, rc, cmd->argv[0].s);
	else
		respond(s, "OK", NULL, "renamed");
}

static const struct {
	void (*fn)(struct ms *s, struct ms_cmd *cmd);
	unsigned states;
} commands[MS_NVERBS] = {
    [MS_AUTHENTICATE] = {cmd_authenticate, IN_NONAUTH},
    [MS_STARTTLS] = {cmd_starttls, IN_NONAUTH},
    [MS_LOGOUT] = {cmd_logout, IN_NONAUTH | IN_AUTH},
    [MS_CAPABILITY] = {cmd_capability, IN_NONAUTH | IN_AUTH},
    [MS_NOOP] = {cmd_noop, IN_NONAUTH | IN_AUTH},
    [MS_HAVESPACE] = {cmd_havespace, IN_AUTH},
    [MS_PUTSCRIPT] = {cmd_putscript, IN_AUTH},
    [MS_LISTSCRIPTS] = {cmd_listscripts, IN_AUTH},
    [MS_SETACTIVE] = {cmd_setactive, IN_AUTH},
    [MS_GETSCRIPT] = {cmd_getscript, IN_AUTH},
    [MS_DELETESCRIPT] = {cmd_deletescript, IN_AUTH},
    [MS_RENAMESCRIPT] = {cmd_renamescript, IN_AUTH},
    [MS_CHECKSCRIPT] = {cmd_checkscript, IN_AUTH},
    [MS_UNAUTHENTICATE] = {cmd_unauthenticate, IN_AUTH},
};

static void bad_command(struct ms *s, const char *text)
{
	if (++s->errors >= MS_MAX_ERRORS) {
		respond(s, "BYE", NULL, "%s; too many errors", text);
		hang_up(s, "too-many-errors");
		return;
	}
	respond(s, "NO", NULL, "%s", text);
}

static void dispatch(struct ms *s)
{
	struct ms_cmd cmd;
	int rc = managesieve_parse(s->cmd.buf, s->cmd.len, &cmd);
	if (rc == MS_PARSE_UNKNOWN) {
		bad_command(s, "unknown command");
		return;
	}
	if (rc != MS_PARSE_OK) {
		bad_command(s, "syntax error");
		return;
	}
	log_debug("managesieve peer=%s state=%s command=%s", conn_peer(s->c),
		  s->state == MS_AUTH ? "AUTH" : "NONAUTH", cmd.keyword);
	if (!(commands[cmd.verb].states & (1u << s->state))) {
		bad_command(s, s->state == MS_NONAUTH ? "not logged in" : "already logged in");
		return;
	}
	commands[cmd.verb].fn(s, &cmd);
	/* AUTHENTICATE's line may hold a password */
	explicit_bzero(s->cmd.buf, s->cmd.len);
}

void managesieve_serve(struct server *srv, struct conn *c, int kind)
{
	struct ms s = {.srv = srv, .st = srv->store, .c = c};
	s.cmd.buf = xmalloc(MS_CMD_MAX + 1); /* +1: the parser's NUL at buf[len] */
	conn_set_timeout(c, timeout_ms(&s, 1));
	log_debug("managesieve connect peer=%s port=%d", conn_peer(c), conn_peer_port(c));
	capabilities(&s); /* RFC 5804 1.7: the greeting is the capability list */
	while (!s.quit) {
		int r;
		if (atomic_load(&srv->stopping))
			conn_end_input(c); /* the BYE comes from net.c */
		if (conn_pending(c) == 0 && conn_flush(c) < 0) {
			hang_up(&s, conn_reason(c));
			break;
		}
		r = read_command(&s);
		if (r == RD_EOF)
			break;
		if (r == RD_TOOLONG)
			bad_command(&s, "command too long");
		else if (r == RD_TOOBIG)
			respond(&s, "NO", "QUOTA/MAXSIZE", "literal over %d bytes", MS_LITERAL_MAX);
		else
			dispatch(&s);
	}
	conn_flush(c);
	log_info("managesieve session end peer=%s tls=%s user=%s put=%u reason=%s", conn_peer(c),
		 conn_is_tls(c) ? conn_tls_version(c) : "no", s.login[0] ? s.login : "-", s.nput,
		 s.reason ? s.reason : "error");
	free(s.cmd.buf);
}
