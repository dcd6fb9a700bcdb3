/*
 * main.c — the command line (DESIGN §2): finds DATADIR, loads the config,
 * and dispatches to the commands. `serve` wires the server together; the
 * other commands open the store directly and poke a running server through
 * control.sock so that IMAP IDLE sessions see their changes.
 *
 * Every failure ends as one line "brev: ..." on stderr and exit status 1.
 */
#include "backup.h"
#include "acme.h"
#include "config.h"
#include "control.h"
#include "authres.h"
#include "dkim.h"
#include "dns.h"
#include "dnsbl.h"
#include "journal.h"
#include "list_cli.h"
#include "log.h"
#include "migrate.h"
#include "fetch.h"
#include "mailbox.h"
#include "net.h"
#include "queue.h"
#include "queue_cli.h"
#include "sasl.h"
#include "sendmail.h"
#include "server.h"
#include "smtp.h"
#include "spam.h"
#include "spam_learn.h"
#include "sieve_cli.h"
#include "spool.h"
#include "tls.h"
#include "util.h"

#include <errno.h>
#include <grp.h>
#include <ftw.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef BREV_VERSION
#define BREV_VERSION "0.1.0"
#endif
#define OVERRIDES_MAX 64

static char datadir[PATH_MAX];
static char *overrides[OVERRIDES_MAX];
static int noverrides;
static struct config cfg;

/* The usage text: on stdout with status 0 when asked for (-h, --help,
 * `brev help`), on stderr with status 1 after a command line it cannot
 * read. */
static _Noreturn void usage_to(FILE *f, int status)
{
	fputs("usage: brev [-d DATADIR] [-o KEY=VALUE]... COMMAND [ARGS]\n"
	      "\n"
	      "  serve                          run every listener in the foreground\n"
	      "  init [--domain D] [--hostname H] [--public]\n"
	      "                                 create DATADIR (config, local CA, TLS key and certificate, store)\n"
	      "  user add ADDRESS [--random]    password from stdin, or prompted twice (at least 8 characters)\n"
	      "  user passwd ADDRESS [--random] | user del ADDRESS | user list\n"
	      "  user set ADDRESS spam=off|lenient|normal|strict|default\n"
	      "  spam learn --spam|--ham ADDRESS FILE|MBOX|MAILDIR...  train the account's spam classifier\n"
	      "  spam status ADDRESS | spam why ADDRESS UID [MAILBOX]\n"
	      "  sieve test SCRIPT MESSAGE [--from A] [--to A] [--user A] [--mailbox M]...\n"
	      "                                 the actions a Sieve script takes on a message file\n"
	      "  sieve put ADDRESS NAME [FILE] | sieve get|delete ADDRESS NAME | sieve list ADDRESS\n"
	      "  sieve activate ADDRESS [NAME] | sieve check ADDRESS [FILE]  an account's Sieve scripts\n"
	      "  spam allow|block|unlist ADDRESS SENDER|DOMAIN  the account's allow and block lists\n"
	      "  alias add ADDRESS TARGET...    create an alias, or add members to an existing one\n"
	      "  alias set ADDRESS TARGET...    create an alias, or replace its members\n"
	      "  alias del ADDRESS [MEMBER] | alias list\n"
	      "  list add LIST@DOMAIN [--owner ADDRESS] [--policy open|confirm|closed]\n"
	      "           [--posting members|moderated|anyone|announce]   a mailing list\n"
	      "  list del LIST | list show [LIST] | list members LIST | list sub|unsub LIST ADDRESS\n"
	      "  list held LIST | list approve|reject LIST ID   posts waiting for the owner\n"
	      "  queue [list] | queue flush | queue del ID\n"
	      "  sendmail [-t] [-f FROM] [RCPT...]  submit one message read on stdin\n"
	      "  dns DOMAIN                     DNS records to publish (MX, SPF, DKIM, DMARC), checked\n"
	      "  dkim new DOMAIN                a new DKIM key and selector for DOMAIN\n"
	      "  cert new                       a new server certificate from the local CA (made if missing)\n"
	      "  cert renew                     the running server renews its ACME certificate now (tls.acme)\n"
	      "  cert status                    the ACME certificate's dates and when it is due for renewal\n"
	      "  status                         what the running server serves, accounts, mailbox sizes, queue, client settings\n"
	      "  import ADDRESS PATH [--mailbox NAME]\n"
	      "                                 mbox files, a Maildir(++) tree or .eml files into an account; resumable\n"
	      "  export ADDRESS DEST [--format mbox|maildir] [--mailbox NAME]\n"
	      "                                 an account's mail as mbox files or a Maildir++ tree, flags and dates kept\n"
	      "  fetch add ADDRESS imaps://USER@HOST[:PORT] [--folders all|INBOX] [--keep|--delete]\n"
	      "        [--every DURATION] [--fingerprint SHA256] [--ca FILE] [--insecure]\n"
	      "                                 pull mail from another server (IMAP, POP3: pop3s://); password on stdin\n"
	      "  fetch list | fetch del ID | fetch run [ID]\n"
	      "  log [--since T] [ADDRESS|MESSAGE-ID|ID]\n"
	      "                                 delivery history: acceptance, attempts, delivery or bounce\n"
	      "  backup DEST|- [--encrypt [--passphrase-file FILE]]\n"
	      "                                 the store (a consistent copy, also while serving), brev.conf,\n"
	      "                                 keys and certificates in one tar file with a manifest\n"
	      "  restore FILE|- NEWDATADIR [--passphrase-file FILE]\n"
	      "                                 a backup into a new, empty DATADIR, every checksum checked first\n"
	      "  verify [DATADIR] | verify --backup FILE\n"
	      "                                 the store's consistency, or a backup's checksums\n"
	      "  help | version\n"
	      "\n"
	      "DATADIR: -d, else $BREV_HOME, else $XDG_DATA_HOME/brev, else ~/.local/share/brev\n",
	      f);
	exit(status);
}

static _Noreturn void usage(void)
{
	usage_to(stderr, 1);
}

static void find_datadir(const char *opt)
{
	const char *e;
	struct pw_entry pw;
	char buf[PATH_MAX];
	int n;

	if (opt)
		n = snprintf(buf, sizeof buf, "%s", opt);
	else if ((e = getenv("BREV_HOME")) && *e)
		n = snprintf(buf, sizeof buf, "%s", e);
	else if ((e = getenv("XDG_DATA_HOME")) && *e)
		n = snprintf(buf, sizeof buf, "%s/brev", e);
	else if ((e = getenv("HOME")) && *e)
		n = snprintf(buf, sizeof buf, "%s/.local/share/brev", e);
	else if (pw_by_uid(getuid(), &pw) == 0)
		n = snprintf(buf, sizeof buf, "%s/.local/share/brev", pw.home);
	else
		fatal("cannot find a data directory: use -d DATADIR or set BREV_HOME");
	if (n < 0 || (size_t)n >= sizeof buf)
		fatal("data directory path too long");
	/* Keep it absolute: the server and its children may chdir. */
	if (buf[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd) ||
		    snprintf(datadir, sizeof datadir, "%s/%s", cwd, buf) >= (int)sizeof datadir)
			fatal("data directory path too long");
	} else {
		str_copy(datadir, buf, sizeof datadir);
	}
}

static int datadir_initialised(void)
{
	char p[PATH_MAX];
	path_join(p, sizeof p, datadir, "brev.conf");
	return access(p, F_OK) == 0;
}

static void load_config(void)
{
	char err[512];
	if (config_load(&cfg, datadir, overrides, noverrides, err, sizeof err) < 0)
		fatal("%s", err);
	log_set_level(cfg.log_level);
}

static struct store *open_store(int notify_server)
{
	struct store *st;
	char err[512];
	if (store_open(&st, datadir, cfg.map_size, err, sizeof err) < 0)
		fatal("%s", err);
	store_set_default_quota(st, cfg.quota_default);
	store_set_msg_quota(st, (uint32_t)cfg.quota_messages);
	if (notify_server)
		store_set_commit_hook(st, control_commit_hook, datadir);
	return st;
}

/* ---- privileges ---- */

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (lchown(path, chown_uid, chown_gid) < 0)
		log_warn("chown %s: %s", path, strerror(errno));
	return 0;
}

/* When root: which unprivileged user to become (config `user`, else `brev`
 * if /etc/passwd has it). 0 and *pw filled, or -1 (not root, or no such
 * user: `init` then leaves the files to root). */
static int run_user(struct pw_entry *pw)
{
	if (geteuid() != 0 && getuid() != 0)
		return -1;
	if (cfg.user[0]) {
		if (pw_by_name(cfg.user, pw) < 0)
			fatal("user = %s: no such user in /etc/passwd (create it: "
			      "useradd --system --no-create-home --shell /usr/sbin/nologin %s)",
			      cfg.user, cfg.user);
		return 0;
	}
	return pw_by_name("brev", pw);
}

/* run_user for `serve`: root with no such user, or one that is itself uid
 * or gid 0, is refused (issue 22: brev used to keep serving as root with a
 * warning); a server that faces the Internet must not fail open. 1 and *pw
 * filled when started as root, 0 when not root. */
static int serve_user(struct pw_entry *pw)
{
	if (geteuid() != 0 && getuid() != 0)
		return 0;
	if (run_user(pw) < 0)
		fatal("refusing to serve as root: no user 'brev' in /etc/passwd and no `user` "
		      "configured; create one (useradd --system --no-create-home --shell "
		      "/usr/sbin/nologin brev) or set `user = NAME` in brev.conf (-o user=NAME)");
	if (pw->uid == 0 || pw->gid == 0)
		fatal("refusing to serve as root: user = %s has uid or gid 0; name an "
		      "unprivileged user", pw->name);
	return 1;
}

static void fix_ownership(const struct pw_entry *pw)
{
	chown_uid = pw->uid;
	chown_gid = pw->gid;
	nftw(datadir, chown_one, 16, FTW_PHYS);
}

/* A command run by root in a DATADIR that serve has handed to its
 * unprivileged user (fix_ownership) leaves what it created to that owner
 * too: a certificate from `cert new`, a DKIM key from `dkim new`, root's
 * mode-600 files would be unreadable to the server at its next reload. */
static void keep_datadir_owner(void)
{
	struct stat st;
	if (geteuid() != 0 || stat(datadir, &st) < 0 || st.st_uid == 0)
		return;
	chown_uid = st.st_uid;
	chown_gid = st.st_gid;
	nftw(datadir, chown_one, 16, FTW_PHYS);
}

/* Before dropping: enter DATADIR and name it "." from then on, so the
 * unprivileged user needs no search permission on the directories above it
 * (root's own DATADIR sits under /root, mode 0700, in `make run`), also for
 * what it opens later (SIGHUP's certificate reload, DKIM keys). */
static void enter_datadir(void)
{
	if (chdir(datadir) < 0)
		fatal("cannot enter %s: %s", datadir, strerror(errno));
	str_copy(datadir, ".", sizeof datadir);
	str_copy(cfg.datadir, ".", sizeof cfg.datadir);
}

/* Become pw for good. No-new-privs after the drop: nothing this process
 * ever executes can gain privileges again through a set-uid file or file
 * capabilities. */
static void drop_privileges(const struct pw_entry *pw)
{
	if (setgroups(0, NULL) < 0 || setgid(pw->gid) < 0 || setuid(pw->uid) < 0)
		fatal("cannot drop privileges to %s: %s", pw->name, strerror(errno));
	if (setuid(0) == 0 || seteuid(0) == 0)
		fatal("privileges not dropped");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	log_info("running as %s (uid %u)", pw->name, (unsigned)pw->uid);
}

/* ---- init ---- */

/* ---- the local CA and the server certificate (docs/tls.md) ---- */

#define CERT_NAMES_MAX 24

struct cert_names {
	const char *dns[3];
	size_t ndns;
	char ipbuf[CERT_NAMES_MAX][INET6_ADDRSTRLEN];
	const char *ips[CERT_NAMES_MAX];
	size_t nip;
};

static void cert_add_ip(struct cert_names *n, const char *ip)
{
	for (size_t i = 0; i < n->nip; i++)
		if (!strcmp(n->ips[i], ip))
			return;
	if (n->nip < CERT_NAMES_MAX) {
		str_copy(n->ipbuf[n->nip], ip, sizeof n->ipbuf[0]);
		n->ips[n->nip] = n->ipbuf[n->nip];
		n->nip++;
	}
}

/* The names a client may use to reach the client-facing listeners: the
 * host name, localhost, the loopback addresses, every address the
 * submission, IMAP and POP3 listeners name, and, when one of them listens
 * on every address (0.0.0.0, [::]), the machine's own addresses (a phone
 * on the LAN typed one of those). */
static void cert_names_from_config(struct cert_names *n)
{
	const char *lists[] = {cfg.listen_submission, cfg.listen_submissions, cfg.listen_imap,
			       cfg.listen_imaps, cfg.listen_pop3, cfg.listen_pop3s, cfg.listen_https,
			       cfg.listen_managesieve};
	int wildcard = 0;

	memset(n, 0, sizeof *n);
	n->dns[n->ndns++] = cfg.hostname;
	if (strcmp(cfg.hostname, "localhost"))
		n->dns[n->ndns++] = "localhost";
	cert_add_ip(n, "127.0.0.1");
	cert_add_ip(n, "::1");
	for (size_t i = 0; i < ARRAY_LEN(lists); i++) {
		char *copy = xstrdup(lists[i]), *save = NULL, *w;
		for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
			char *colon = strrchr(w, ':');
			unsigned char a[16];
			if (!colon)
				continue;
			*colon = 0;
			if (w[0] == '[' && colon[-1] == ']') {
				colon[-1] = 0;
				w++;
			}
			if (!strcmp(w, "0.0.0.0") || !strcmp(w, "::"))
				wildcard = 1;
			else if (inet_pton(strchr(w, ':') ? AF_INET6 : AF_INET, w, a) == 1)
				cert_add_ip(n, w);
		}
		free(copy);
	}
	if (wildcard) {
		struct ifaddrs *ifs, *i;
		if (getifaddrs(&ifs) == 0) {
			for (i = ifs; i; i = i->ifa_next) {
				char buf[INET6_ADDRSTRLEN];
				if (!i->ifa_addr)
					continue;
				if (i->ifa_addr->sa_family == AF_INET &&
				    inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf,
					      sizeof buf))
					cert_add_ip(n, buf);
				else if (i->ifa_addr->sa_family == AF_INET6 &&
					 !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr) &&
					 inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
						   buf, sizeof buf))
					cert_add_ip(n, buf);
			}
			freeifaddrs(ifs);
		}
	}
}

/* A new server key and certificate signed by the local CA in DATADIR,
 * creating the CA first when there is none (new_ca says whether one was
 * made). Fatal on error. */
static void make_certificates(int quiet)
{
	char cakey[PATH_MAX], cacert[PATH_MAX], key[PATH_MAX], cert[PATH_MAX], err[512];
	struct cert_names n;
	int new_ca = 0;

	path_join(cakey, sizeof cakey, datadir, "ca-key.pem");
	path_join(cacert, sizeof cacert, datadir, "ca.pem");
	config_path(&cfg, cfg.tls_key, key, sizeof key);
	config_path(&cfg, cfg.tls_cert, cert, sizeof cert);
	if (access(cakey, F_OK) != 0 || access(cacert, F_OK) != 0) {
		if (tls_make_ca(cakey, cacert, cfg.hostname, err, sizeof err) < 0)
			fatal("local CA: %s", err);
		new_ca = 1;
	}
	cert_names_from_config(&n);
	if (tls_make_server_cert(cakey, cacert, key, cert, cfg.hostname, n.dns, n.ndns, n.ips, n.nip,
				 err, sizeof err) < 0)
		fatal("certificate: %s", err);
	if (quiet)
		return;
	if (new_ca)
		printf("created the local CA %s: trust it once on each device (docs/tls.md)\n", cacert);
	printf("new server certificate %s, signed by %s, for %s", cert, cacert, n.dns[0]);
	for (size_t i = 1; i < n.ndns; i++)
		printf(", %s", n.dns[i]);
	for (size_t i = 0; i < n.nip; i++)
		printf(", %s", n.ips[i]);
	printf("\nvalid %d days; a running server picks it up on SIGHUP or restart\n",
	       TLS_SERVER_CERT_DAYS);
}

/* brev cert new: a new server certificate from the local CA. It also moves
 * a DATADIR from before the CA (one self-signed cert.pem) to a CA. */
static int cmd_cert(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "renew") == 0) {
		/* the running server does the work: it owns the ACME state */
		load_config();
		if (!cfg.tls_acme[0])
			fatal("tls.acme is not set: nothing to renew (see docs/tls.md)");
		if (control_send(datadir, "acme-renew") < 0)
			fatal("no running server: the ACME client runs inside `brev serve`");
		printf("renewal requested; the server's log shows its progress\n");
		config_free(&cfg);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "status") == 0) {
		char when[3][32], fp[96], path[PATH_MAX];
		time_t t[3];
		load_config();
		path_join(path, sizeof path, datadir, "acme/cert.pem");
		if (acme_dates(datadir, &t[0], &t[1], &t[2]) < 0) {
			printf("tls.acme: %s\nno ACME certificate (%s): serving tls.cert\n",
			       cfg.tls_acme[0] ? cfg.tls_acme : "(off)", path);
		} else {
			for (int i = 0; i < 3; i++)
				strftime(when[i], sizeof when[i], "%Y-%m-%d %H:%M:%S UTC", gmtime(&t[i]));
			if (tls_cert_fingerprint(path, fp) < 0)
				str_copy(fp, "?", sizeof fp);
			printf("tls.acme: %s\nACME certificate: %s\n  valid from %s\n  valid until %s\n"
			       "  renewal due %s\n  SHA-256 %s\n",
			       cfg.tls_acme[0] ? cfg.tls_acme : "(off)", path, when[0], when[1], when[2],
			       fp);
		}
		config_free(&cfg);
		return 0;
	}
	if (argc != 2 || strcmp(argv[1], "new") != 0)
		fatal("usage: brev cert new | brev cert renew | brev cert status");
	load_config();
	make_certificates(0);
	config_free(&cfg);
	return 0;
}

static void do_init(const char *domain, const char *hostname, int public, int quiet)
{
	char path[PATH_MAX], cert[PATH_MAX], err[512], host[256];
	char dkdom[256], dksel[80];
	char *text;
	struct store *st;
	struct pw_entry pw;

	if (datadir_initialised())
		fatal("%s is already initialised (brev.conf exists)", datadir);
	if (mkdir_p(datadir, 0700) < 0)
		fatal("cannot create %s: %s", datadir, strerror(errno));
	if (hostname)
		str_copy(host, hostname, sizeof host);
	else
		local_hostname(host, sizeof host);
	/* Validate what we are about to write with the same rules serve uses. */
	config_defaults(&cfg, datadir);
	if ((domain && config_set(&cfg, "domains", domain, err, sizeof err) < 0) ||
	    config_set(&cfg, "hostname", host, err, sizeof err) < 0)
		fatal("%s", err);
	config_free(&cfg);

	path_join(path, sizeof path, datadir, "tmp");
	mkdir_p(path, 0700);

	text = config_render_default(domain, host, public);
	path_join(path, sizeof path, datadir, "brev.conf");
	if (file_write_atomic(path, text, strlen(text), 0600) < 0)
		fatal("cannot write %s: %s", path, strerror(errno));
	free(text);

	load_config();
	/* The local CA and the server certificate it signs, unless a
	 * certificate was put there before init (docs/tls.md). */
	path_join(cert, sizeof cert, datadir, "cert.pem");
	if (access(cert, F_OK) != 0)
		make_certificates(1);
	st = open_store(0);
	store_close(&st);
	/* The DKIM key of the first domain (docs/auth-mail.md). */
	smtp_first_domain(cfg.domains, dkdom, sizeof dkdom);
	if (dkdom[0] && dkim_keys_active(datadir, dkdom, dksel, sizeof dksel) < 0 &&
	    dkim_keys_new(datadir, dkdom, dksel, sizeof dksel, err, sizeof err) < 0)
		fatal("DKIM key: %s", err);
	if (run_user(&pw) == 0)
		fix_ownership(&pw);
	if (!quiet)
		printf("initialised %s for %s (host name %s)\n", datadir, domain ? domain : "localhost",
		       host);
}

static void cmd_init(int argc, char **argv)
{
	const char *domain = NULL, *hostname = NULL;
	int public = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--domain") && i + 1 < argc)
			domain = argv[++i];
		else if (!strcmp(argv[i], "--hostname") && i + 1 < argc)
			hostname = argv[++i];
		else if (!strcmp(argv[i], "--public"))
			public = 1;
		else
			fatal("init: unexpected argument '%s'", argv[i]);
	}
	do_init(domain, hostname, public, 0);
	config_free(&cfg);
}

/* ---- users ---- */

static void read_password_stdin(char *out, size_t cap)
{
	size_t n;
	if (!fgets(out, (int)cap, stdin))
		fatal("no password on standard input");
	n = strlen(out);
	if (n && out[n - 1] == '\n')
		out[--n] = 0;
	else if (n == cap - 1)
		fatal("password too long");
	if (n && out[n - 1] == '\r')
		out[--n] = 0;
}

static void prompt_password(const char *prompt, char *out, size_t cap)
{
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		fatal("no terminal to ask for a password; pipe it on standard input");
	/* Echo off before the prompt shows: what is typed (or pasted) once
	 * the prompt is there must be neither echoed nor flushed away. */
	tcgetattr(fileno(tty), &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	fputs(prompt, tty);
	fflush(tty);
	if (!fgets(out, (int)cap, tty))
		out[0] = 0;
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputs("\n", tty);
	fclose(tty);
	out[strcspn(out, "\r\n")] = 0;
}

/* The shortest password `user add`/`user passwd` accept: a user-chosen
 * secret shorter than 8 characters falls to a guessing attack on the
 * network login (NIST SP 800-63B 5.1.1.1 asks for at least 8). Counted in
 * characters, not bytes, so a UTF-8 password is not held to a lower bar. */
#define PASSWORD_MIN 8

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Password for `user add`/`user passwd`: --random, stdin, or the terminal. */
static void get_password(int random, char *pw, size_t cap)
{
	char again[256];
	if (random) {
		cred_random_password(pw, cap);
		return;
	}
	if (!isatty(0)) {
		read_password_stdin(pw, cap);
	} else {
		prompt_password("New password: ", pw, cap);
		prompt_password("Again: ", again, sizeof again);
		if (strcmp(pw, again) != 0)
			fatal("the passwords do not match");
	}
	if (utf8_chars(pw) < PASSWORD_MIN)
		fatal("the password is too short: at least %d characters (or use --random for a generated one)",
		      PASSWORD_MIN);
}

static void check_local_address(const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (!at || at == addr || !at[1])
		fatal("'%s' is not an address like user@domain", addr);
	if (!config_domain_is_local(&cfg, at + 1))
		fatal("%s is not one of this server's domains (domains = %s); add it to brev.conf",
		      at + 1, cfg.domains);
}

static int user_add(struct store *st, const char *addr, const char *password)
{
	struct cred c;
	int rc;
	if (cred_make(&c, password) < 0)
		fatal("cannot hash the password");
	rc = store_user_add(st, addr, &c);
	memset(&c, 0, sizeof c);
	return rc;
}

static void print_account(void *arg, const struct account *a)
{
	char quota[32];
	if (a->quota_effective)
		snprintf(quota, sizeof quota, "%llu", (unsigned long long)a->quota_effective);
	else
		snprintf(quota, sizeof quota, "none");
	printf("%-40s %8u messages %12llu bytes  quota %s%s%s\n", a->addr, a->messages,
	       (unsigned long long)a->used, quota, a->spam ? "  spam " : "",
	       a->spam ? spam_strength_name(a->spam) : "");
}

/* `user set ADDRESS KEY=VALUE...`: per-account settings; today spam=
 * (off, lenient, normal, strict, or default: brev.conf's spam.strength). */
static void user_set(int argc, char **argv)
{
	struct store *st;
	int spam = -1, rc;
	if (argc < 4)
		usage();
	for (int i = 3; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (eq && eq - argv[i] == 4 && !strncmp(argv[i], "spam", 4)) {
			if ((spam = spam_strength_parse(eq + 1, 1)) < 0)
				fatal("user set: spam=%s is not one of off, lenient, normal, strict, "
				      "default",
				      eq + 1);
		} else {
			fatal("user set: unknown setting '%s' (known: spam=off|lenient|normal|strict|"
			      "default)",
			      argv[i]);
		}
	}
	st = open_store(1);
	rc = store_user_set_spam(st, argv[2], spam);
	store_close(&st);
	if (rc == ST_NOTFOUND)
		fatal("user set: no account %s", argv[2]);
	if (rc)
		fatal("user set %s: %s", argv[2], store_strerror(rc));
	printf("%s: spam=%s\n", argv[2], spam_strength_name(spam));
}

static void cmd_user(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	struct store *st;
	char pw[256];
	int rc;

	load_config();
	if (!strcmp(sub, "list")) {
		st = open_store(0);
		store_user_list(st, print_account, NULL);
		store_close(&st);
		return;
	}
	if (argc < 3)
		usage();
	if (!strcmp(sub, "add")) {
		int random = argc > 3 && !strcmp(argv[3], "--random");
		if (argc > 3 && !random)
			fatal("user add: unexpected argument '%s'", argv[3]);
		check_local_address(argv[2]);
		get_password(random, pw, sizeof pw);
		st = open_store(1);
		rc = user_add(st, argv[2], pw);
		store_close(&st);
		if (rc == ST_EXISTS)
			fatal("%s already exists (as an account, an alias or a mailing list)", argv[2]);
		if (rc)
			fatal("user add %s: %s", argv[2], store_strerror(rc));
		if (random)
			printf("password for %s: %s\n", argv[2], pw);
		else
			printf("added %s\n", argv[2]);
	} else if (!strcmp(sub, "passwd")) {
		struct cred c;
		int random = argc > 3 && !strcmp(argv[3], "--random");
		if (argc > 3 && !random)
			fatal("user passwd: unexpected argument '%s'", argv[3]);
		get_password(random, pw, sizeof pw);
		if (cred_make(&c, pw) < 0)
			fatal("cannot hash the password");
		st = open_store(1);
		rc = store_user_set_cred(st, argv[2], &c);
		store_close(&st);
		if (rc)
			fatal("user passwd %s: %s", argv[2], store_strerror(rc));
		if (random)
			printf("new password for %s: %s\n", argv[2], pw);
		else
			printf("password changed for %s\n", argv[2]);
	} else if (!strcmp(sub, "set")) {
		user_set(argc, argv);
	} else if (!strcmp(sub, "del")) {
		st = open_store(1);
		rc = store_user_del(st, argv[2]);
		store_close(&st);
		if (rc)
			fatal("user del %s: %s", argv[2], store_strerror(rc));
		printf("deleted %s and all its mail\n", argv[2]);
	} else {
		usage();
	}
	memset(pw, 0, sizeof pw);
}

/* ---- aliases ---- */

static void print_alias(void *arg, const char *addr, const char *const *t, size_t n)
{
	printf("%s ->", addr);
	for (size_t i = 0; i < n; i++)
		printf(" %s", t[i]);
	printf("\n");
}

static void cmd_alias(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	struct store *st;
	int rc;

	load_config();
	if (!strcmp(sub, "list")) {
		st = open_store(0);
		store_alias_list(st, print_alias, NULL);
		store_close(&st);
		return;
	}
	if ((!strcmp(sub, "add") || !strcmp(sub, "set")) && argc >= 4) {
		struct alias_change chg;
		int set = !strcmp(sub, "set");
		const char *at = strrchr(argv[2], '@');
		if (!at || !config_domain_is_local(&cfg, at + 1))
			fatal("'%s': an alias must be user@domain or @domain of a local domain (domains = %s)",
			      argv[2], cfg.domains);
		for (int i = 3; i < argc; i++)
			if (!strchr(argv[i], '@'))
				fatal("'%s': a target must be an address like user@domain", argv[i]);
		st = open_store(1);
		rc = store_alias_update(st, argv[2], (const char *const *)argv + 3, (size_t)argc - 3,
					set ? ALIAS_SET : ALIAS_ADD, &chg);
		store_close(&st);
		if (rc == ST_EXISTS)
			fatal("%s is an account or a mailing list's address; an alias cannot have its name",
			      argv[2]);
		if (rc == ST_INVALID && chg.cycle[0])
			fatal("alias %s: that would make a loop: %s; nothing changed", argv[2], chg.cycle);
		if (rc == ST_INVALID)
			fatal("alias %s: a target is not an address, or more than %d members", argv[2],
			      STORE_ALIAS_MAX);
		if (rc)
			fatal("alias %s %s: %s", sub, argv[2], store_strerror(rc));
		if (!chg.existed)
			printf("alias %s created with %zu member%s\n", argv[2], chg.after,
			       chg.after == 1 ? "" : "s");
		else if (set)
			printf("alias %s now has %zu member%s (it had %zu)\n", argv[2], chg.after,
			       chg.after == 1 ? "" : "s", chg.before);
		else if (chg.added)
			printf("alias %s already existed: added %zu member%s, now %zu "
			       "(`brev alias set` replaces the members)\n",
			       argv[2], chg.added, chg.added == 1 ? "" : "s", chg.after);
		else
			printf("alias %s already has %s; nothing changed\n", argv[2],
			       argc == 4 ? "that member" : "these members");
	} else if (!strcmp(sub, "del") && argc == 3) {
		st = open_store(1);
		rc = store_alias_del(st, argv[2]);
		store_close(&st);
		if (rc == ST_NOTFOUND)
			fatal("alias del: there is no alias %s", argv[2]);
		if (rc)
			fatal("alias del %s: %s", argv[2], store_strerror(rc));
		printf("alias %s deleted\n", argv[2]);
	} else if (!strcmp(sub, "del") && argc == 4) {
		struct alias_change chg;
		st = open_store(1);
		rc = store_alias_del_member(st, argv[2], argv[3], &chg);
		store_close(&st);
		if (rc == ST_NOTFOUND && !chg.existed)
			fatal("alias del: there is no alias %s", argv[2]);
		if (rc == ST_NOTFOUND)
			fatal("alias del: %s is not a member of %s", argv[3], argv[2]);
		if (rc)
			fatal("alias del %s %s: %s", argv[2], argv[3], store_strerror(rc));
		if (chg.after)
			printf("removed %s from alias %s (%zu member%s left)\n", argv[3], argv[2],
			       chg.after, chg.after == 1 ? "" : "s");
		else
			printf("removed %s, the last member of %s: the alias is deleted\n", argv[3],
			       argv[2]);
	} else {
		usage();
	}
}

/* ---- queue ---- */

/* `brev log`: the delivery journal (journal.c). */
static int cmd_log(int argc, char **argv)
{
	load_config();
	struct store *st = open_store(0);
	int rc = journal_log_cmd(st, argc, argv);
	store_close(&st);
	config_free(&cfg);
	return rc;
}

static void cmd_queue(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "list";
	struct store *st;
	load_config();
	if (!strcmp(sub, "list")) {
		st = open_store(0);
		int rc = queue_cli_list(st);
		store_close(&st);
		if (rc)
			fatal("queue list: %s", store_strerror(rc));
	} else if (!strcmp(sub, "del") && argc == 3) {
		st = open_store(1);
		int rc = queue_cli_del(st, argv[2]);
		store_close(&st);
		if (rc)
			fatal("queue del %s: %s", argv[2], store_strerror(rc));
		printf("deleted %s from the queue\n", argv[2]);
	} else if (!strcmp(sub, "flush") && argc == 2) {
		if (control_send(datadir, "flush") == 0) {
			printf("flush sent to the running server\n");
		} else {
			/* No server: make everything due for the next start. */
			size_t n = 0;
			st = open_store(0);
			store_queue_due_now(st, 0, &n);
			store_close(&st);
			printf("no server is running: %zu message%s will be tried when it starts\n",
			       n, n == 1 ? "" : "s");
		}
	} else {
		usage();
	}
}

/* ---- sendmail ---- */

static int cmd_sendmail(int argc, char **argv)
{
	struct store *st;
	char tmp[PATH_MAX];
	int rc;
	load_config();
	path_join(tmp, sizeof tmp, datadir, "tmp");
	mkdir_p(tmp, 0700);
	spool_set_dir(tmp);
	st = open_store(1);
	rc = sendmail_main(&cfg, st, argc, argv);
	store_close(&st);
	config_free(&cfg);
	return rc;
}

/* ---- import, export (import.c, export.c) ---- */

/* Both run beside a running server: the commit hook wakes its IMAP
 * sessions (IDLE) after each batch. */
static int cmd_migrate(int argc, char **argv, int import)
{
	struct store *st;
	char tmp[PATH_MAX];
	int rc;
	load_config();
	path_join(tmp, sizeof tmp, datadir, "tmp");
	mkdir_p(tmp, 0700);
	spool_set_dir(tmp);
	st = open_store(import);
	rc = import ? import_main(st, cfg.message_size, argc, argv) : export_main(st, argc, argv);
	store_close(&st);
	config_free(&cfg);
	return rc;
}

/* `brev fetch` (fetch.c): like import, beside a running server. */
static int cmd_fetch(int argc, char **argv)
{
	struct store *st;
	char tmp[PATH_MAX], err[512];
	int rc;
	load_config();
	path_join(tmp, sizeof tmp, datadir, "tmp");
	mkdir_p(tmp, 0700);
	spool_set_dir(tmp);
	fetch_set_dir(datadir);
	if (argc >= 2 && !strcmp(argv[1], "run") &&
	    dns_init(cfg.dns_resolver, err, sizeof err) < 0)
		fatal("dns.resolver: %s", err);
	st = open_store(1);
	rc = fetch_main(st, &cfg, argc, argv);
	store_close(&st);
	config_free(&cfg);
	return rc;
}

/* ---- status ---- */

static int count_queue(void *arg, const struct queue_entry *e)
{
	(*(int *)arg)++;
	return 0;
}

/* ---- mail authentication: brev dns, brev dkim new (dnsrec.c) ---- */

static int cmd_dns(int argc, char **argv)
{
	char err[512];
	int rc;
	if (argc != 2)
		fatal("usage: brev dns DOMAIN");
	load_config();
	if (dns_init(cfg.dns_resolver, err, sizeof err) < 0)
		fatal("dns.resolver: %s", err);
	/* A person is waiting: one try of 2 s per resolver, not delivery's
	 * patient 2 x 3 s (dnsrec.c stops asking once the resolver is dead). */
	dns_set_timeout(2000, 1);
	rc = dnsrec_main(&cfg, argv[1], stdout);
	config_free(&cfg);
	return rc;
}

static int cmd_dkim(int argc, char **argv)
{
	int rc;
	if (argc != 3 || strcmp(argv[1], "new") != 0)
		fatal("usage: brev dkim new DOMAIN");
	load_config();
	rc = dkim_cmd_new(&cfg, argv[2], stdout);
	config_free(&cfg);
	return rc;
}

/* The config keys whose running values `brev status` shows and builds the
 * client settings from: what the server bound, after -o overrides. */
/* `brev sieve` subcommands that work on the store (sieve_cli_store.c). */
static const char *const sieve_store_cmds[] = {"put", "get", "list", "activate", "check", "delete"};

static const char *const status_keys[] = {
    "hostname",	  "domains",	  "listen.smtp", "listen.submission", "listen.submissions",
    "listen.imap", "listen.imaps", "listen.pop3", "listen.pop3s",	  "listen.http",
    "listen.https", "listen.managesieve", "tls.cert"};

static const char *status_value(const char *key)
{
	if (!strcmp(key, "hostname"))
		return cfg.hostname;
	if (!strcmp(key, "domains"))
		return cfg.domains;
	if (!strcmp(key, "listen.smtp"))
		return cfg.listen_smtp;
	if (!strcmp(key, "listen.submission"))
		return cfg.listen_submission;
	if (!strcmp(key, "listen.submissions"))
		return cfg.listen_submissions;
	if (!strcmp(key, "listen.imap"))
		return cfg.listen_imap;
	if (!strcmp(key, "listen.imaps"))
		return cfg.listen_imaps;
	if (!strcmp(key, "listen.pop3"))
		return cfg.listen_pop3;
	if (!strcmp(key, "listen.pop3s"))
		return cfg.listen_pop3s;
	if (!strcmp(key, "listen.http"))
		return cfg.listen_http;
	if (!strcmp(key, "listen.https"))
		return cfg.listen_https;
	if (!strcmp(key, "listen.managesieve"))
		return cfg.listen_managesieve;
	return cfg.tls_cert;
}

/* serve's answer to "status" (control.c adds pid and uptime): runs on the
 * control thread and reads only what serve set up before it started. */
static void serve_status(char *buf, size_t cap)
{
	size_t len = 0;
	int n = snprintf(buf, cap, "version %s\nconnections %d\n", BREV_VERSION, net_active());

	for (size_t i = 0; n >= 0 && (size_t)n < cap - len && i < ARRAY_LEN(status_keys); i++) {
		len += (size_t)n;
		n = snprintf(buf + len, cap - len, "%s %s\n", status_keys[i], status_value(status_keys[i]));
	}
}

static void format_uptime(long long s, char *buf, size_t cap)
{
	if (s >= 86400)
		snprintf(buf, cap, "%lldd %lldh %lldm", s / 86400, s % 86400 / 3600, s % 3600 / 60);
	else if (s >= 3600)
		snprintf(buf, cap, "%lldh %lldm %llds", s / 3600, s % 3600 / 60, s % 60);
	else if (s >= 60)
		snprintf(buf, cap, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(buf, cap, "%llds", s);
}

/* Take the running server's values from its "status" answer into cfg, so
 * that everything printed after is what the server serves. The server's
 * own pid, uptime and connections go to the server line. */
static void apply_status(char *answer, char *line, size_t cap)
{
	long long pid = 0, up = 0, conns = 0;
	char version[32] = "?", upbuf[48], err[256];

	for (char *save = NULL, *l = strtok_r(answer, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');
		const char *v = sp ? sp + 1 : "";
		if (sp)
			*sp = 0;
		if (!strcmp(l, "pid"))
			parse_int(v, 0, LLONG_MAX, &pid);
		else if (!strcmp(l, "uptime"))
			parse_int(v, 0, LLONG_MAX, &up);
		else if (!strcmp(l, "connections"))
			parse_int(v, 0, LLONG_MAX, &conns);
		else if (!strcmp(l, "version"))
			str_copy(version, v, sizeof version);
		else
			for (size_t i = 0; i < ARRAY_LEN(status_keys); i++)
				if (!strcmp(l, status_keys[i]) && config_set(&cfg, l, v, err, sizeof err) < 0)
					log_warn("status: the server's %s: %s", l, err);
	}
	format_uptime(up, upbuf, sizeof upbuf);
	snprintf(line, cap, "running: pid %lld, brev %s, up %s, %lld connection%s", pid, version, upbuf,
		 conns, conns == 1 ? "" : "s");
}

static void print_client_settings(const char *title, const char *user, const char *password);

static void cmd_status(void)
{
	struct store *st;
	struct store_stats stats;
	char answer[8192], server[256];
	int queued = 0;

	load_config();
	if (control_status(datadir, answer, sizeof answer, 2000) > 0)
		apply_status(answer, server, sizeof server);
	else if (control_send(datadir, "ping") == 0)
		snprintf(server, sizeof server, "running, but it did not answer; the settings below are "
						"brev.conf's");
	else
		snprintf(server, sizeof server, "not running; the settings below are brev.conf's");
	printf("data directory %s\n", datadir);
	printf("server         %s\n", server);
	printf("hostname       %s\n", cfg.hostname);
	printf("domains        %s\n", cfg.domains);
	printf("listeners\n");
	for (size_t i = 2; i < ARRAY_LEN(status_keys) - 1; i++) {
		const char *v = status_value(status_keys[i]);
		printf("  %-18s %s\n", status_keys[i] + 7, v[0] ? v : "(off)");
	}
	st = open_store(0);
	printf("accounts\n");
	store_user_list(st, print_account, NULL);
	store_queue_list(st, count_queue, &queued);
	printf("queue          %d message%s\n", queued, queued == 1 ? "" : "s");
	if (store_stats(st, &stats) == ST_OK)
		printf("store          %llu messages in %llu mailboxes, %llu distinct bodies; "
		       "%.1f of %.1f MiB of the map in use\n",
		       (unsigned long long)stats.messages, (unsigned long long)stats.mailboxes,
		       (unsigned long long)stats.blobs, stats.map_used / 1048576.0,
		       stats.map_size / 1048576.0);
	store_close(&st);
	print_client_settings("Settings for your mail client", "your full address", NULL);
}

/* ---- serve ---- */

/* The port of the first address in a listen list, for the settings text. */
static const char *first_port(const char *list, char *buf, size_t cap)
{
	const char *colon;
	size_t n = strcspn(list, " \t");
	if (!n)
		return NULL;
	snprintf(buf, cap, "%.*s", (int)n, list);
	colon = strrchr(buf, ':');
	return colon ? colon + 1 : NULL;
}

/* One protocol's line of the client settings: its STARTTLS and implicit
 * TLS ports, whichever are on. */
static void print_ports(const char *name, const char *starttls, const char *implicit,
			const char *tail)
{
	char a[80], b[80];
	const char *p1 = first_port(starttls, a, sizeof a), *p2 = first_port(implicit, b, sizeof b);

	if (p1 && p2)
		printf("  %-12s port %s STARTTLS, or port %s SSL/TLS%s\n", name, p1, p2, tail);
	else if (p1 || p2)
		printf("  %-12s port %s %s%s\n", name, p1 ? p1 : p2, p1 ? "STARTTLS" : "SSL/TLS", tail);
	else
		printf("  %-12s off\n", name);
}

static void print_client_settings(const char *title, const char *user, const char *password)
{
	char cert[PATH_MAX], ca[PATH_MAX], fp[96], cafp[96];
	printf("\n%s:\n\n", title);
	printf("  server       %s\n", strncmp(cfg.listen_imap, "127.", 4) ? cfg.hostname : "localhost");
	print_ports("IMAP", cfg.listen_imap, cfg.listen_imaps, "");
	print_ports("POP3", cfg.listen_pop3, cfg.listen_pop3s, "");
	print_ports("SMTP (send)", cfg.listen_submission, cfg.listen_submissions,
		    "; authentication: normal password");
	printf("  user name    %s\n", user);
	if (password)
		printf("  password     %s   (shown once; change it with: brev user passwd %s)\n",
		       password, user);
	config_path(&cfg, cfg.tls_cert, cert, sizeof cert);
	path_join(ca, sizeof ca, datadir, "ca.pem");
	if (tls_cert_fingerprint(cert, fp) == 0 && tls_cert_fingerprint(ca, cafp) == 0) {
		printf("  certificate  signed by brev's local CA %s\n", ca);
		printf("               trust that CA once on each device (docs/tls.md); its\n");
		printf("               SHA-256 %s\n", cafp);
		printf("               or accept the server certificate in the client after checking its\n");
		printf("               SHA-256 %s\n", fp);
	} else if (tls_cert_fingerprint(cert, fp) == 0) {
		printf("  certificate  self-signed: %s\n", cert);
		printf("               SHA-256 %s\n", fp);
		printf("               (accept it once in your client after checking this fingerprint;\n");
		printf("               `brev cert new` replaces it with one from a local CA)\n");
	}
	printf("\n");
	fflush(stdout);
}

/* First run on an empty DATADIR: initialise for localhost, make the local
 * user an account with a random password, show what to type into a client. */
static void first_run(void)
{
	char user[64], addr[STORE_ADDR_MAX + 1], pw[64];
	struct store *st;
	int rc;

	do_init(NULL, NULL, 0, 1);
	local_username(user, sizeof user);
	str_lower(user);
	snprintf(addr, sizeof addr, "%s@localhost", user);
	cred_random_password(pw, sizeof pw);
	st = open_store(0);
	rc = user_add(st, addr, pw);
	store_close(&st);
	if (rc)
		fatal("creating %s: %s", addr, store_strerror(rc));
	printf("brev: first run: initialised %s\n", datadir);
	print_client_settings("brev is set up. Settings for your mail client", addr, pw);
	memset(pw, 0, sizeof pw);
	config_free(&cfg);
}

static struct server srv;

/* log.file: (re)open it as stderr; at start-up a failure stops serve. */
static void open_log_file(int reopen)
{
	char path[PATH_MAX];
	if (!cfg.log_file[0])
		return;
	config_path(&cfg, cfg.log_file, path, sizeof path);
	if (log_set_file(path) == 0)
		log_info("%s: log file %s", reopen ? "SIGHUP" : "start", path);
	else if (reopen)
		log_warn("SIGHUP: keeping the old log file: %s: %s", path, strerror(errno));
	else
		fatal("log.file: %s: %s", path, strerror(errno));
}

static void cmd_serve(void)
{
	char err[512], cert[PATH_MAX], key[PATH_MAX], shown[PATH_MAX];
	struct pw_entry pw;
	int have_user, left;
	sigset_t sigs;
	struct tls_server *tls;

	if (!datadir_initialised()) {
		/* Check -o (and, as root, the user to run as) before creating
		 * anything. */
		load_config();
		serve_user(&pw);
		config_free(&cfg);
		first_run();
	}
	load_config();
	str_copy(shown, datadir, sizeof shown); /* the drop renames it "." */
	open_log_file(0);

	/* Block the signals in every thread; this one waits for them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	have_user = serve_user(&pw);
	if (have_user) {
		enter_datadir();
		fix_ownership(&pw);
	}

	config_path(&cfg, cfg.tls_cert, cert, sizeof cert);
	config_path(&cfg, cfg.tls_key, key, sizeof key);
	/* A certificate ACME obtained earlier wins over tls.cert, which stays
	 * the fallback until there is one (docs/tls.md). */
	if (cfg.tls_acme[0] && acme_current(datadir, cert, key, sizeof cert))
		log_info("tls: serving the ACME certificate %s", cert);
	tls = tls_server_new(cert, key, err, sizeof err);
	if (!tls)
		log_warn("TLS disabled: %s", err);

	srv.cfg = &cfg;
	srv.tls = tls;
	srv.hostname = cfg.hostname;
	if (net_bind(&srv, err, sizeof err) < 0)
		fatal("%s", err);
	if (have_user)
		drop_privileges(&pw);

	path_join(key, sizeof key, datadir, "tmp");
	mkdir_p(key, 0700);
	spool_set_dir(key);
	srv.store = open_store(0);
	if (dns_init(cfg.dns_resolver, err, sizeof err) < 0)
		fatal("dns.resolver: %s", err);
	if (dnsbl_list_check(cfg.spam_dnsbl, err, sizeof err) < 0)
		fatal("spam.dnsbl: %s", err);
	if (dnsbl_list_check(cfg.spam_uribl, err, sizeof err) < 0)
		fatal("spam.uribl: %s", err);
	control_set_status(serve_status);
	if (cfg.tls_acme[0])
		control_set_renew(acme_renew_now);
	if (control_start(datadir, srv.store, queue_flush, err, sizeof err) < 0)
		fatal("%s", err);
	if (queue_start(&srv) < 0)
		fatal("cannot start outbound delivery");
	if (journal_start(srv.store, cfg.log_keep) < 0)
		fatal("cannot start the delivery journal's pruning");
	if (net_start() < 0)
		fatal("cannot start the accept thread");
	fetch_set_dir(datadir);
	if (fetch_start(srv.store, &cfg) < 0)
		fatal("cannot start the fetch schedule");
	if (acme_start(&srv, datadir) < 0)
		fatal("cannot start the ACME client (tls.acme)");

	printf("brev %s serving %s (%s) for %s\n", BREV_VERSION, shown, cfg.hostname, cfg.domains);
	net_print_listeners();
	log_info("ready");

	for (;;) {
		int sig = sigwaitinfo(&sigs, NULL);
		if (sig == SIGHUP) {
			open_log_file(1);
			if (tls && tls_server_reload(tls, err, sizeof err) < 0)
				log_warn("SIGHUP: keeping the old certificate: %s", err);
			else
				log_info("SIGHUP: certificate reloaded");
		} else if (sig == SIGUSR1) {
			log_info("SIGUSR1: queue flush requested");
			queue_flush();
		} else if (sig == SIGTERM || sig == SIGINT) {
			break;
		}
	}
	log_info("stopping");
	fetch_stop();
	acme_stop();
	queue_stop_begin();
	left = net_stop(5000);
	if (left)
		log_warn("%d session(s) still running at exit", left);
	control_stop();
	queue_stop();
	journal_stop();
	if (left == 0) {
		store_close(&srv.store);
		tls_server_free(&tls);
	}
	log_info("stopped");
	config_free(&cfg);
	exit(0);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *dopt = NULL, *cmd;
	int opt;

	/* The static binary must not read an OpenSSL config file (ldns brings
	 * libcrypto along): it could load modules through dlopen. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	umask(077);

	while ((opt = getopt_long(argc, argv, "+d:o:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dopt = optarg;
			break;
		case 'o':
			if (noverrides == OVERRIDES_MAX)
				fatal("too many -o options");
			overrides[noverrides++] = optarg;
			break;
		case 'h':
			usage_to(stdout, 0);
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	cmd = argv[optind];
	argc -= optind;
	argv += optind;

	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help"))
		usage_to(stdout, 0);
	if (!strcmp(cmd, "version")) {
		printf("brev %s\n", BREV_VERSION);
		return 0;
	}
	{
		static const char *const known[] = {"serve", "init", "user", "alias", "list", "queue", "status",
						    "sendmail", "dns", "dkim", "cert", "log",
						    "spam", "import", "export", "backup", "restore", "verify",
						    "fetch", "sieve"};
		size_t i = 0;
		while (i < ARRAY_LEN(known) && strcmp(cmd, known[i]) != 0)
			i++;
		if (i == ARRAY_LEN(known))
			fatal("unknown command '%s' (try `brev help`)", cmd);
	}
	if (!strcmp(cmd, "sieve") && argc >= 2 && !strcmp(argv[1], "test"))
		return sieve_cli_test(argc - 1, argv + 1); /* needs no data directory */
	/* the other `sieve` subcommands (sieve_cli_store.c) need the store;
	 * a wrong one is a usage error before any DATADIR is looked for */
	int sieve_sub = 0;
	for (size_t k = 0; argc >= 2 && k < ARRAY_LEN(sieve_store_cmds); k++)
		sieve_sub |= !strcmp(argv[1], sieve_store_cmds[k]);
	if (!strcmp(cmd, "sieve") && !sieve_sub)
		fatal("usage: brev sieve test SCRIPT MESSAGE [...] | sieve put|get|list|activate|check|"
		      "delete ADDRESS [NAME] [FILE]");
	find_datadir(dopt);
	if (!strcmp(cmd, "backup") || !strcmp(cmd, "restore") || !strcmp(cmd, "verify")) {
		int brc = backup_cli(cmd, argc, argv, datadir, BREV_VERSION);
		if (argc == 1 || !strcmp(cmd, "backup"))
			keep_datadir_owner(); /* LMDB's lock file, if root's open made it */
		return brc;
	}
	if (!strcmp(cmd, "serve"))
		cmd_serve();
	if (!strcmp(cmd, "init")) {
		cmd_init(argc, argv);
		return 0;
	}
	if (!datadir_initialised())
		fatal("%s is not initialised: run `brev init` (or `brev serve` once)", datadir);
	int rc = 0;
	if (!strcmp(cmd, "user"))
		cmd_user(argc, argv);
	else if (!strcmp(cmd, "alias"))
		cmd_alias(argc, argv);
	else if (!strcmp(cmd, "list")) {
		load_config();
		struct store *st = open_store(1);
		rc = list_cli(st, &cfg, argc, argv);
		store_close(&st);
	}
	else if (!strcmp(cmd, "queue"))
		cmd_queue(argc, argv);
	else if (!strcmp(cmd, "status"))
		cmd_status();
	else if (!strcmp(cmd, "log"))
		rc = cmd_log(argc, argv);
	else if (!strcmp(cmd, "spam")) {
		load_config();
		struct store *st = open_store(0);
		rc = spam_cli(st, argc, argv);
		store_close(&st);
	}
	else if (!strcmp(cmd, "sieve")) {
		load_config();
		struct store *st = open_store(1);
		rc = sieve_cli_store(st, argc, argv);
		store_close(&st);
	}
	else if (!strcmp(cmd, "sendmail"))
		rc = cmd_sendmail(argc, argv);
	else if (!strcmp(cmd, "dns"))
		rc = cmd_dns(argc, argv);
	else if (!strcmp(cmd, "import") || !strcmp(cmd, "export"))
		rc = cmd_migrate(argc, argv, !strcmp(cmd, "import"));
	else if (!strcmp(cmd, "fetch"))
		rc = cmd_fetch(argc, argv);
	else if (!strcmp(cmd, "cert"))
		rc = cmd_cert(argc, argv);
	else
		rc = cmd_dkim(argc, argv);
	keep_datadir_owner();
	config_free(&cfg);
	return rc;
}
