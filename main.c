/*
 * main.c — the command line (DESIGN §2): finds DATADIR, loads the config,
 * and dispatches to the commands. `serve` wires the server together; the
 * other commands open the store directly and poke a running server through
 * control.sock so that IMAP IDLE sessions see their changes.
 *
 * Every failure ends as one line "brev: ..." on stderr and exit status 1.
 */
#include "config.h"
#include "control.h"
#include "authres.h"
#include "dkim.h"
#include "dns.h"
#include "journal.h"
#include "log.h"
#include "mailbox.h"
#include "net.h"
#include "queue.h"
#include "queue_cli.h"
#include "sasl.h"
#include "sendmail.h"
#include "server.h"
#include "smtp.h"
#include "spool.h"
#include "tls.h"
#include "util.h"

#include <errno.h>
#include <grp.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void usage(void)
{
	fputs("usage: brev [-d DATADIR] [-o KEY=VALUE]... COMMAND [ARGS]\n"
	      "\n"
	      "  serve                          run every listener in the foreground\n"
	      "  init [--domain D] [--hostname H] [--public]\n"
	      "                                 create DATADIR (config, TLS key and certificate, store)\n"
	      "  user add ADDRESS [--random]    password from stdin, or prompted twice\n"
	      "  user passwd ADDRESS | user del ADDRESS | user list\n"
	      "  alias add ADDRESS TARGET... | alias del ADDRESS | alias list\n"
	      "  queue [list] | queue flush | queue del ID\n"
	      "  sendmail [-t] [-f FROM] [RCPT...]  submit one message read on stdin\n"
	      "  dns DOMAIN                     DNS records to publish (MX, SPF, DKIM, DMARC), checked\n"
	      "  dkim new DOMAIN                a new DKIM key and selector for DOMAIN\n"
	      "  status                         listeners, accounts, mailbox sizes, queue\n"
	      "  log [--since T] [ADDRESS|MESSAGE-ID|ID]\n"
	      "                                 delivery history: acceptance, attempts, delivery or bounce\n"
	      "  version\n"
	      "\n"
	      "DATADIR: -d, else $BREV_HOME, else $XDG_DATA_HOME/brev, else ~/.local/share/brev\n",
	      stderr);
	exit(1);
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
 * if /etc/passwd has it). 0 and *pw filled, or -1 to stay root. */
static int run_user(struct pw_entry *pw)
{
	if (getuid() != 0)
		return -1;
	if (cfg.user[0]) {
		if (pw_by_name(cfg.user, pw) < 0)
			fatal("user = %s: no such user in /etc/passwd", cfg.user);
		return 0;
	}
	return pw_by_name("brev", pw);
}

static void fix_ownership(const struct pw_entry *pw)
{
	chown_uid = pw->uid;
	chown_gid = pw->gid;
	nftw(datadir, chown_one, 16, FTW_PHYS);
}

static void drop_privileges(const struct pw_entry *pw)
{
	if (setgroups(0, NULL) < 0 || setgid(pw->gid) < 0 || setuid(pw->uid) < 0)
		fatal("cannot drop privileges to %s: %s", pw->name, strerror(errno));
	if (setuid(0) == 0)
		fatal("privileges not dropped");
	log_info("running as %s (uid %u)", pw->name, (unsigned)pw->uid);
}

/* ---- init ---- */

static void do_init(const char *domain, const char *hostname, int public, int quiet)
{
	char path[PATH_MAX], key[PATH_MAX], cert[PATH_MAX], err[512], host[256];
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

	path_join(key, sizeof key, datadir, "key.pem");
	path_join(cert, sizeof cert, datadir, "cert.pem");
	if (access(cert, F_OK) != 0) {
		const char *dns[] = {host, "localhost"};
		const char *ips[] = {"127.0.0.1", "::1"};
		size_t ndns = strcmp(host, "localhost") ? 2 : 1;
		if (tls_make_selfsigned(key, cert, host, dns, ndns, ips, 2, err, sizeof err) < 0)
			fatal("certificate: %s", err);
	}
	path_join(path, sizeof path, datadir, "tmp");
	mkdir_p(path, 0700);

	text = config_render_default(domain, host, public);
	path_join(path, sizeof path, datadir, "brev.conf");
	if (file_write_atomic(path, text, strlen(text), 0600) < 0)
		fatal("cannot write %s: %s", path, strerror(errno));
	free(text);

	load_config();
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
	fputs(prompt, tty);
	fflush(tty);
	tcgetattr(fileno(tty), &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	if (!fgets(out, (int)cap, tty))
		out[0] = 0;
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputs("\n", tty);
	fclose(tty);
	out[strcspn(out, "\r\n")] = 0;
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
	if (!pw[0])
		fatal("empty password");
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
	printf("%-40s %8u messages %12llu bytes  quota %s\n", a->addr, a->messages,
	       (unsigned long long)a->used, quota);
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
			fatal("%s already exists (as an account or an alias)", argv[2]);
		if (rc)
			fatal("user add %s: %s", argv[2], store_strerror(rc));
		if (random)
			printf("password for %s: %s\n", argv[2], pw);
		else
			printf("added %s\n", argv[2]);
	} else if (!strcmp(sub, "passwd")) {
		struct cred c;
		get_password(0, pw, sizeof pw);
		if (cred_make(&c, pw) < 0)
			fatal("cannot hash the password");
		st = open_store(1);
		rc = store_user_set_cred(st, argv[2], &c);
		store_close(&st);
		if (rc)
			fatal("user passwd %s: %s", argv[2], store_strerror(rc));
		printf("password changed for %s\n", argv[2]);
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
	if (!strcmp(sub, "add") && argc >= 4) {
		const char *at = strrchr(argv[2], '@');
		if (!at || !config_domain_is_local(&cfg, at + 1))
			fatal("'%s': an alias must be user@domain or @domain of a local domain (domains = %s)",
			      argv[2], cfg.domains);
		for (int i = 3; i < argc; i++)
			if (!strchr(argv[i], '@'))
				fatal("'%s': a target must be an address like user@domain", argv[i]);
		st = open_store(1);
		rc = store_alias_add(st, argv[2], (const char *const *)argv + 3, (size_t)argc - 3);
		store_close(&st);
		if (rc == ST_EXISTS)
			fatal("%s is an account; an alias cannot have its name", argv[2]);
		if (rc)
			fatal("alias add %s: %s", argv[2], store_strerror(rc));
		printf("alias %s added\n", argv[2]);
	} else if (!strcmp(sub, "del") && argc == 3) {
		st = open_store(1);
		rc = store_alias_del(st, argv[2]);
		store_close(&st);
		if (rc)
			fatal("alias del %s: %s", argv[2], store_strerror(rc));
		printf("alias %s deleted\n", argv[2]);
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

static void cmd_status(void)
{
	struct store *st;
	struct store_stats stats;
	int queued = 0;
	const char *names[] = {"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"};
	const char *vals[7];

	load_config();
	vals[0] = cfg.listen_smtp;
	vals[1] = cfg.listen_submission;
	vals[2] = cfg.listen_submissions;
	vals[3] = cfg.listen_imap;
	vals[4] = cfg.listen_imaps;
	vals[5] = cfg.listen_pop3;
	vals[6] = cfg.listen_pop3s;
	printf("data directory %s\n", datadir);
	printf("server         %s\n", control_send(datadir, "ping") == 0 ? "running" : "not running");
	printf("domains        %s\n", cfg.domains);
	printf("listeners\n");
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		printf("  %-12s %s\n", names[i], vals[i][0] ? vals[i] : "(off)");
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

static void print_client_settings(const char *user, const char *password)
{
	char a[80], b[80], cert[PATH_MAX], fp[96];
	const char *p1, *p2;
	printf("\nbrev is set up. Settings for your mail client:\n\n");
	printf("  server       %s\n", strncmp(cfg.listen_imap, "127.", 4) ? cfg.hostname : "localhost");
	p1 = first_port(cfg.listen_imap, a, sizeof a);
	p2 = first_port(cfg.listen_imaps, b, sizeof b);
	printf("  IMAP         port %s STARTTLS, or port %s SSL/TLS\n", p1 ? p1 : "-", p2 ? p2 : "-");
	p1 = first_port(cfg.listen_pop3, a, sizeof a);
	p2 = first_port(cfg.listen_pop3s, b, sizeof b);
	printf("  POP3         port %s STARTTLS, or port %s SSL/TLS\n", p1 ? p1 : "-", p2 ? p2 : "-");
	p1 = first_port(cfg.listen_submission, a, sizeof a);
	p2 = first_port(cfg.listen_submissions, b, sizeof b);
	printf("  SMTP (send)  port %s STARTTLS, or port %s SSL/TLS; authentication: normal password\n",
	       p1 ? p1 : "-", p2 ? p2 : "-");
	printf("  user name    %s\n", user);
	if (password)
		printf("  password     %s   (shown once; change it with: brev user passwd %s)\n",
		       password, user);
	config_path(&cfg, cfg.tls_cert, cert, sizeof cert);
	if (tls_cert_fingerprint(cert, fp) == 0) {
		printf("  certificate  self-signed: %s\n", cert);
		printf("               SHA-256 %s\n", fp);
		printf("               (accept it once in your client after checking this fingerprint)\n");
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
	print_client_settings(addr, pw);
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
	char err[512], cert[PATH_MAX], key[PATH_MAX];
	struct pw_entry pw;
	int have_user, left;
	sigset_t sigs;
	struct tls_server *tls;

	if (!datadir_initialised()) {
		/* Check -o before creating anything. */
		load_config();
		config_free(&cfg);
		first_run();
	}
	load_config();
	open_log_file(0);

	/* Block the signals in every thread; this one waits for them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	have_user = run_user(&pw) == 0;
	if (getuid() == 0 && !have_user)
		log_warn("running as root: no user 'brev' in /etc/passwd and no `user` configured");
	if (have_user)
		fix_ownership(&pw);

	config_path(&cfg, cfg.tls_cert, cert, sizeof cert);
	config_path(&cfg, cfg.tls_key, key, sizeof key);
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
	if (control_start(datadir, srv.store, queue_flush, err, sizeof err) < 0)
		fatal("%s", err);
	if (queue_start(&srv) < 0)
		fatal("cannot start outbound delivery");
	if (journal_start(srv.store, cfg.log_keep) < 0)
		fatal("cannot start the delivery journal's pruning");
	if (net_start() < 0)
		fatal("cannot start the accept thread");

	printf("brev %s serving %s (%s) for %s\n", BREV_VERSION, datadir, cfg.hostname, cfg.domains);
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
	const char *dopt = NULL, *cmd;
	int opt;

	/* The static binary must not read an OpenSSL config file (ldns brings
	 * libcrypto along): it could load modules through dlopen. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	umask(077);

	while ((opt = getopt(argc, argv, "+d:o:h")) != -1) {
		switch (opt) {
		case 'd':
			dopt = optarg;
			break;
		case 'o':
			if (noverrides == OVERRIDES_MAX)
				fatal("too many -o options");
			overrides[noverrides++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	cmd = argv[optind];
	argc -= optind;
	argv += optind;

	if (!strcmp(cmd, "version")) {
		printf("brev %s\n", BREV_VERSION);
		return 0;
	}
	find_datadir(dopt);
	if (!strcmp(cmd, "serve"))
		cmd_serve();
	if (!strcmp(cmd, "init")) {
		cmd_init(argc, argv);
		return 0;
	}
	if (!datadir_initialised())
		fatal("%s is not initialised: run `brev init` (or `brev serve` once)", datadir);
	if (!strcmp(cmd, "user"))
		cmd_user(argc, argv);
	else if (!strcmp(cmd, "alias"))
		cmd_alias(argc, argv);
	else if (!strcmp(cmd, "queue"))
		cmd_queue(argc, argv);
	else if (!strcmp(cmd, "status"))
		cmd_status();
	else if (!strcmp(cmd, "log"))
		return cmd_log(argc, argv);
	else if (!strcmp(cmd, "sendmail"))
		return cmd_sendmail(argc, argv);
	else if (!strcmp(cmd, "dns"))
		return cmd_dns(argc, argv);
	else if (!strcmp(cmd, "dkim"))
		return cmd_dkim(argc, argv);
	else
		fatal("unknown command '%s' (try `brev` for the list)", cmd);
	config_free(&cfg);
	return 0;
}
