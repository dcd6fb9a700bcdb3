/*
 * fetch.c — the sources of `brev fetch`, their progress, the command line
 * and the schedule inside `brev serve` (fetch.h, docs/migrate.md).
 *
 * A source is DATADIR/fetch/N.src, "key value" lines, mode 0600 (its
 * password is there: the issue asks for DATADIR readable only by brev, and
 * `brev backup` takes the directory with the rest). Its progress is
 * N.state, replaced atomically: per IMAP folder "F UIDVALIDITY LASTUID
 * INFLIGHT NAME", for POP3 "P INFLIGHT" and one "U UIDL" per stored
 * message. INFLIGHT 1 means a batch may have been committed to the store
 * after the line was written: the next run then loads that mailbox's
 * message digests (import.c's duplicate check) before going on, so a crash
 * between the commit and the record copies nothing twice.
 */
#include "fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "dns.h"
#include "log.h"
#include "mailbox.h"
#include "migrate.h"
#include "thread.h"
#include "tls.h"
#include "util.h"

#define FETCH_DIR	  "fetch"
#define FETCH_FILE_MAX	  (4u << 20) /* N.state: ~200,000 POP3 UIDLs */
#define CONNECT_MS	  15000
#define IO_MS		  120000
#define SCHED_TICK_S	  5

volatile int fetch_stopping;

/* Progress of `brev fetch run` (never inside serve): on a terminal a line
 * redrawn four times a second, else one every five seconds. */
static int progress_on, progress_tty, progress_drawn;
static int64_t progress_t0, progress_last;

void fetch_progress(const char *folder, uint64_t done, uint64_t total, uint64_t bytes, int force)
{
	int64_t now = now_ms();
	if (!progress_on || (!force && now - progress_last < (progress_tty ? 250 : 5000)))
		return;
	progress_last = now;
	double secs = (double)(now - progress_t0) / 1000.0;
	fprintf(stderr, "%sfetch: %s %llu/%llu messages, %.1f MB, %.0f msg/s%s",
		progress_tty ? "\r" : "", folder, (unsigned long long)done,
		(unsigned long long)total, (double)bytes / 1e6, secs > 0 ? (double)done / secs : 0,
		progress_tty ? "\033[K" : "\n");
	progress_drawn = progress_tty;
}

/* The socket of the run in progress, so that stop can cut it at once
 * instead of waiting out a read's time-out. */
static pthread_mutex_t active_mu = PTHREAD_MUTEX_INITIALIZER;
static int active_fd = -1;

static char fetch_dir[PATH_MAX - 32] = FETCH_DIR;

/* ---- sources ---- */

void fetch_set_dir(const char *datadir)
{
	path_join(fetch_dir, sizeof fetch_dir, datadir, FETCH_DIR);
}

static void src_path(int id, const char *ext, char *out, size_t cap)
{
	snprintf(out, cap, "%.*s/%d.%.8s", (int)(PATH_MAX - 64), fetch_dir, id, ext);
}

/* URL: imaps://user@host[:port], imap://, pop3s://, pop3://. The user may
 * hold '@' (an address): the host is after the last one. */
static int parse_url(const char *url, struct fetch_src *s, char *err, size_t errlen)
{
	static const struct {
		const char *scheme;
		int pop3, implicit, port;
	} sch[] = {{"imaps://", 0, 1, 993}, {"imap://", 0, 0, 143}, {"pop3s://", 1, 1, 995},
		   {"pop3://", 1, 0, 110}};
	const char *p = NULL, *at, *colon;
	for (size_t i = 0; i < sizeof sch / sizeof sch[0]; i++)
		if (!strncmp(url, sch[i].scheme, strlen(sch[i].scheme))) {
			p = url + strlen(sch[i].scheme);
			s->pop3 = sch[i].pop3;
			s->implicit = sch[i].implicit;
			s->port = sch[i].port;
		}
	if (!p || !(at = strrchr(p, '@')) || at == p) {
		snprintf(err, errlen, "%s: expected imaps://USER@HOST[:PORT] (or imap://, pop3s://, "
			 "pop3://)", url);
		return -1;
	}
	if ((size_t)(at - p) >= sizeof s->user) {
		snprintf(err, errlen, "user name too long");
		return -1;
	}
	memcpy(s->user, p, (size_t)(at - p));
	s->user[at - p] = '\0';
	const char *h = at + 1, *end = h + strcspn(h, "/");
	if (*h == '[') { /* [IPv6]:port */
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb)
			goto bad;
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if ((size_t)(rb - h - 1) >= sizeof s->host)
			goto bad;
		memcpy(s->host, h + 1, (size_t)(rb - h - 1));
		s->host[rb - h - 1] = '\0';
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		size_t hl = (size_t)((colon ? colon : end) - h);
		if (hl == 0 || hl >= sizeof s->host)
			goto bad;
		memcpy(s->host, h, hl);
		s->host[hl] = '\0';
	}
	if (colon) {
		long long port;
		char num[8];
		size_t nl = (size_t)(end - colon - 1);
		if (nl == 0 || nl >= sizeof num)
			goto bad;
		memcpy(num, colon + 1, nl);
		num[nl] = '\0';
		if (parse_int(num, 1, 65535, &port) < 0)
			goto bad;
		s->port = (int)port;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: bad host or port", url);
	return -1;
}

static void src_url(const struct fetch_src *s, char *out, size_t cap)
{
	int v6 = strchr(s->host, ':') != NULL;
	snprintf(out, cap, "%s://%s@%s%s%s:%d", s->pop3 ? (s->implicit ? "pop3s" : "pop3") :
			   (s->implicit ? "imaps" : "imap"),
		 s->user, v6 ? "[" : "", s->host, v6 ? "]" : "", s->port);
}

static int src_save(const struct fetch_src *s)
{
	char path[PATH_MAX], url[700];
	struct sbuf b = {0};
	src_url(s, url, sizeof url);
	sbuf_printf(&b, "account %s\nurl %s\nfolders %s\nmode %s\nevery %lld\n", s->account, url,
		    s->all_folders ? "all" : "INBOX", s->delete ? "delete" : "keep",
		    (long long)s->every);
	if (s->fingerprint[0])
		sbuf_printf(&b, "fingerprint %s\n", s->fingerprint);
	if (s->ca[0])
		sbuf_printf(&b, "ca %s\n", s->ca);
	if (s->insecure)
		sbuf_puts(&b, "insecure yes\n");
	sbuf_printf(&b, "password %s\n", s->password);
	src_path(s->id, "src", path, sizeof path);
	int rc = file_write_atomic(path, b.p, b.len, 0600);
	explicit_bzero(b.p, b.len);
	sbuf_free(&b);
	return rc;
}

static int src_load(int id, struct fetch_src *s, char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t len;
	src_path(id, "src", path, sizeof path);
	char *data = file_read(path, 65536, &len);
	memset(s, 0, sizeof *s);
	s->id = id;
	if (!data) {
		snprintf(err, errlen, "%.160s: %.60s", path, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (char *line = data, *next; line && *line && !rc; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *v = strchr(line, ' ');
		if (!v)
			continue;
		*v++ = '\0';
		if (!strcmp(line, "account"))
			str_copy(s->account, v, sizeof s->account);
		else if (!strcmp(line, "url"))
			rc = parse_url(v, s, err, errlen);
		else if (!strcmp(line, "folders"))
			s->all_folders = !strcmp(v, "all");
		else if (!strcmp(line, "mode"))
			s->delete = !strcmp(v, "delete");
		else if (!strcmp(line, "every"))
			s->every = strtoll(v, NULL, 10);
		else if (!strcmp(line, "fingerprint"))
			str_copy(s->fingerprint, v, sizeof s->fingerprint);
		else if (!strcmp(line, "ca"))
			str_copy(s->ca, v, sizeof s->ca);
		else if (!strcmp(line, "insecure"))
			s->insecure = !strcmp(v, "yes");
		else if (!strcmp(line, "password"))
			str_copy(s->password, v, sizeof s->password);
	}
	explicit_bzero(data, len);
	free(data);
	if (!rc && (!s->account[0] || !s->host[0])) {
		snprintf(err, errlen, "%.200s: incomplete", path);
		rc = -1;
	}
	return rc;
}

/* The ids of the sources, ascending; n of them. */
static size_t src_ids(int *ids, size_t cap)
{
	size_t n = 0;
	for (int id = 1; id <= FETCH_SOURCES_MAX && n < cap; id++) {
		char path[PATH_MAX];
		src_path(id, "src", path, sizeof path);
		if (access(path, F_OK) == 0)
			ids[n++] = id;
	}
	return n;
}

/* ---- progress ---- */

static void state_free(struct fetch_state *st)
{
	for (size_t i = 0; i < st->nuidl; i++)
		free(st->uidl[i]);
	free(st->uidl);
	free(st->f);
	memset(st, 0, sizeof *st);
}

struct fetch_folder *fetch_state_folder(struct fetch_state *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->f[i].name, name))
			return &st->f[i];
	if (st->n >= FETCH_FOLDERS_MAX)
		return NULL;
	st->f = xrealloc(st->f, (st->n + 1) * sizeof *st->f);
	memset(&st->f[st->n], 0, sizeof *st->f);
	str_copy(st->f[st->n].name, name, sizeof st->f[st->n].name);
	return &st->f[st->n++];
}

static int cmp_pstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void state_load(const struct fetch_src *src, struct fetch_state *st)
{
	char path[PATH_MAX];
	size_t len;
	memset(st, 0, sizeof *st);
	src_path(src->id, "state", path, sizeof path);
	char *data = file_read(path, FETCH_FILE_MAX, &len);
	if (!data) {
		/* No record (a new source, or a restored backup, which leaves it
		 * out): the first batch checks what the account already has. */
		st->inflight = 1;
		return;
	}
	for (char *line = data, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		unsigned long uv, last;
		int infl, off = 0;
		if (line[0] == 'F' && sscanf(line, "F %lu %lu %d %n", &uv, &last, &infl, &off) == 3 &&
		    off > 0) {
			struct fetch_folder *f = fetch_state_folder(st, line + off);
			if (f) {
				f->uidvalidity = (uint32_t)uv;
				f->last_uid = (uint32_t)last;
				f->inflight = infl;
			}
		} else if (line[0] == 'P' && sscanf(line, "P %d", &infl) == 1) {
			st->inflight = infl;
		} else if (line[0] == 'U' && line[1] == ' ' && st->nuidl < FETCH_POP3_MAX) {
			if ((st->nuidl & (st->nuidl + 1)) == 0 || st->nuidl == 0)
				st->uidl = xrealloc(st->uidl, (st->nuidl * 2 + 16) * sizeof *st->uidl);
			st->uidl[st->nuidl++] = xstrdup(line + 2);
		}
	}
	free(data);
	if (st->nuidl > 1)
		qsort(st->uidl, st->nuidl, sizeof *st->uidl, cmp_pstr);
}

int fetch_state_save(const struct fetch_src *src, const struct fetch_state *st)
{
	char path[PATH_MAX];
	struct sbuf b = {0};
	for (size_t i = 0; i < st->n; i++)
		sbuf_printf(&b, "F %lu %lu %d %s\n", (unsigned long)st->f[i].uidvalidity,
			    (unsigned long)st->f[i].last_uid, st->f[i].inflight, st->f[i].name);
	if (src->pop3) {
		sbuf_printf(&b, "P %d\n", st->inflight);
		for (size_t i = 0; i < st->nuidl; i++)
			sbuf_printf(&b, "U %s\n", st->uidl[i]);
	}
	src_path(src->id, "state", path, sizeof path);
	int rc = file_write_atomic(path, b.p ? b.p : "", b.len, 0600);
	sbuf_free(&b);
	return rc;
}

/* ---- connecting ---- */

static int connect_to(const struct sockaddr_storage *ss, socklen_t sl, char *err, size_t errlen)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)ss, sl) < 0 && errno != EINPROGRESS) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	struct pollfd p = {fd, POLLOUT, 0};
	int soerr = 0;
	socklen_t el = sizeof soerr;
	int r = poll(&p, 1, CONNECT_MS);
	if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) < 0 || soerr) {
		snprintf(err, errlen, "connect: %s", r == 0 ? "timed out" : strerror(soerr ? soerr : errno));
		close(fd);
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

struct conn *fetch_connect(const struct fetch_src *src, char *err, size_t errlen)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	char peer[INET6_ADDRSTRLEN] = "";
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET6, src->host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)src->port);
		sl = sizeof *s6;
	} else {
		uint32_t a[4];
		size_t n = 0;
		char why[128];
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)src->port);
		sl = sizeof *s4;
		if (inet_pton(AF_INET, src->host, &s4->sin_addr) != 1) {
			if (!strcmp(src->host, "localhost")) {
				s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			} else if (dns_a(src->host, 5000, a, 4, &n, why, sizeof why) != 0 || n == 0) {
				snprintf(err, errlen, "%s: no address: %s", src->host,
					 n == 0 && !why[0] ? "no A record" : why);
				return NULL;
			} else {
				s4->sin_addr.s_addr = htonl(a[0]);
			}
		}
	}
	int fd = connect_to(&ss, sl, err, errlen);
	if (fd < 0)
		return NULL;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &s4->sin_addr, peer, sizeof peer);
	else
		inet_ntop(AF_INET6, &s6->sin6_addr, peer, sizeof peer);
	struct conn *c = conn_new(fd, peer, src->port, "");
	conn_set_timeout(c, IO_MS);
	pthread_mutex_lock(&active_mu);
	active_fd = fd;
	if (fetch_stopping)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&active_mu);
	return c;
}

void fetch_close(struct conn **c)
{
	pthread_mutex_lock(&active_mu);
	active_fd = -1;
	pthread_mutex_unlock(&active_mu);
	conn_free(c);
}

int fetch_tls(struct conn *c, const struct fetch_src *src, char *err, size_t errlen)
{
	char why[160] = "";
	struct tls_client *tc = tls_client_new_relay(src->ca[0] ? src->ca : NULL,
						     src->fingerprint[0] ? src->fingerprint : NULL,
						     why, sizeof why);
	if (!tc) {
		snprintf(err, errlen, "TLS: %s", why);
		return -1;
	}
	int rc = conn_tls_connect(c, tc, src->host);
	tls_client_free(&tc);
	if (rc != 0) {
		snprintf(err, errlen, "TLS handshake with %s failed", src->host);
		return -1;
	}
	if (!conn_tls_verified(c) && !src->insecure) {
		snprintf(err, errlen,
			 "the certificate of %s is not trusted (%s); give --fingerprint (its SHA-256) "
			 "or --ca FILE, or --insecure",
			 src->host, tls_verify_reason(conn_tls_verify_error(c)));
		return -1;
	}
	return 0;
}

/* ---- Received: dates (POP3 has none of its own) ---- */

/* The value of the first field called name in head (unfolded into out). */
static int header_value(const char *head, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), i = 0;
	while (i < len) {
		const char *line = head + i;
		const char *eol = memchr(line, '\n', len - i);
		size_t ll = eol ? (size_t)(eol - line) : len - i;
		if (ll == 0 || (ll == 1 && line[0] == '\r'))
			return -1; /* end of the header */
		if (ll > nl && line[nl] == ':' && str_ncasecmp_ascii(line, name, nl) == 0) {
			size_t o = 0, j = i + nl + 1;
			for (; j < len && o + 1 < cap; j++) {
				if (head[j] == '\n') {
					if (j + 1 < len && (head[j + 1] == ' ' || head[j + 1] == '\t'))
						continue;
					break;
				}
				out[o++] = head[j] == '\r' || head[j] == '\t' ? ' ' : head[j];
			}
			out[o] = '\0';
			return 0;
		}
		i += ll + 1;
	}
	return -1;
}

int64_t fetch_received_date(const char *head, size_t len)
{
	char v[2048];
	int64_t t;
	if (header_value(head, len, "Received", v, sizeof v) == 0) {
		char *semi = strrchr(v, ';');
		if (semi && thread_parse_date(str_trim(semi + 1), &t) == 0)
			return t;
	}
	if (header_value(head, len, "Date", v, sizeof v) == 0 &&
	    thread_parse_date(str_trim(v), &t) == 0)
		return t;
	return 0;
}

/* ---- one run of a source ---- */

static int run_source(struct store *store, const struct config *cfg, const struct fetch_src *src,
		      struct fetch_stats *out)
{
	struct account acct;
	struct fetch_state st;
	memset(out, 0, sizeof *out);
	int rc = store_user_get(store, src->account, &acct);
	if (rc != ST_OK) {
		snprintf(out->err, sizeof out->err, "%.180s: %.60s", src->account, store_strerror(rc));
		return -1;
	}
	if (src->insecure)
		log_warn("fetch %d: %s: the server's certificate is NOT checked (--insecure)", src->id,
			 src->host);
	/* One run of a source at a time (serve's schedule and `fetch run`). */
	char lpath[PATH_MAX];
	src_path(src->id, "lock", lpath, sizeof lpath);
	int lfd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(out->err, sizeof out->err, "%s",
			 lfd < 0 ? strerror(errno) : "already running (brev serve or another fetch)");
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	state_load(src, &st);
	struct import_sink *sink = import_sink_new(store, acct.id, cfg->message_size);
	/* A continuous source's INBOX arrives as new mail (fetch_deliver.c). */
	struct fetch_dl dl = {store, cfg, acct.id, acct.addr, src->host, src->pop3};
	const struct fetch_dl *d = src->every > 0 ? &dl : NULL;
	rc = src->pop3 ? fetch_pop3_run(src, sink, d, &st, out) : fetch_imap_run(src, sink, d, &st, out);
	uint64_t stored, dups, refused;
	import_sink_counts(sink, &stored, &dups, &refused);
	out->stored = stored + out->delivered;
	out->dups = dups;
	out->refused += refused;
	import_sink_free(&sink);
	state_free(&st);
	close(lfd); /* the lock goes with it */
	return rc;
}

/* ---- the command line ---- */

static int usage(void)
{
	fprintf(stderr, "brev: usage: brev fetch add ADDRESS imaps://USER@HOST[:PORT] "
			"[--folders all|INBOX] [--keep|--delete] [--every DURATION] "
			"[--fingerprint SHA256] [--ca FILE] [--insecure]  (password on stdin)\n"
			"       brev fetch list | del ID | run [ID]\n");
	return 2;
}

static int cmd_add(struct store *store, int argc, char **argv)
{
	struct fetch_src s = {0};
	struct account acct;
	const char *url = NULL;
	char err[256];
	int folders_set = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--folders") && v) {
			if (strcmp(v, "all") && strcasecmp(v, "INBOX"))
				return usage();
			s.all_folders = !strcmp(v, "all");
			folders_set = 1;
			i++;
		} else if (!strcmp(a, "--keep")) {
			s.delete = 0;
		} else if (!strcmp(a, "--delete")) {
			s.delete = 1;
		} else if (!strcmp(a, "--every") && v) {
			if (parse_duration(v, &s.every) < 0 || s.every < 60) {
				fprintf(stderr, "brev: fetch: --every %s: a duration of at least 1m\n", v);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--fingerprint") && v) {
			str_copy(s.fingerprint, v, sizeof s.fingerprint);
			i++;
		} else if (!strcmp(a, "--ca") && v) {
			if (v[0] != '/') {
				fprintf(stderr, "brev: fetch: --ca needs an absolute path\n");
				return 2;
			}
			str_copy(s.ca, v, sizeof s.ca);
			i++;
		} else if (!strcmp(a, "--insecure")) {
			s.insecure = 1;
		} else if (a[0] == '-') {
			return usage();
		} else if (!s.account[0]) {
			str_copy(s.account, a, sizeof s.account);
		} else if (!url) {
			url = a;
		} else {
			return usage();
		}
	}
	if (!s.account[0] || !url)
		return usage();
	if (parse_url(url, &s, err, sizeof err) < 0) {
		fprintf(stderr, "brev: fetch: %s\n", err);
		return 2;
	}
	if (!folders_set)
		s.all_folders = !s.pop3;
	if (s.pop3 && s.all_folders) {
		fprintf(stderr, "brev: fetch: POP3 has only the INBOX\n");
		return 2;
	}
	int rc = store_user_get(store, s.account, &acct);
	if (rc != ST_OK) {
		fprintf(stderr, "brev: fetch: %s: %s\n", s.account, store_strerror(rc));
		return 1;
	}
	str_copy(s.account, acct.addr, sizeof s.account);
	/* The password: one line on stdin, never on the command line (ps). */
	if (!fgets(s.password, sizeof s.password, stdin) || !s.password[0]) {
		fprintf(stderr, "brev: fetch: give the password on stdin\n");
		return 2;
	}
	s.password[strcspn(s.password, "\r\n")] = '\0';
	if (!s.password[0]) {
		fprintf(stderr, "brev: fetch: empty password\n");
		return 2;
	}
	int ids[FETCH_SOURCES_MAX];
	size_t n = src_ids(ids, FETCH_SOURCES_MAX);
	s.id = 1;
	for (size_t i = 0; i < n && ids[i] == s.id; i++)
		s.id++;
	if (s.id > FETCH_SOURCES_MAX) {
		fprintf(stderr, "brev: fetch: at most %d sources\n", FETCH_SOURCES_MAX);
		return 1;
	}
	mkdir_p(fetch_dir, 0700);
	char spath[PATH_MAX];
	src_path(s.id, "state", spath, sizeof spath);
	unlink(spath);
	if (src_save(&s) < 0) {
		fprintf(stderr, "brev: fetch: saving the source: %s\n", strerror(errno));
		return 1;
	}
	explicit_bzero(s.password, sizeof s.password);
	src_url(&s, spath, sizeof spath);
	printf("fetch %d: %s from %s%s%s\n", s.id, s.account, spath,
	       s.every ? " (also inside brev serve)" : "", s.insecure ? " — certificate NOT checked" : "");
	return 0;
}

static int cmd_list(void)
{
	int ids[FETCH_SOURCES_MAX];
	size_t n = src_ids(ids, FETCH_SOURCES_MAX);
	for (size_t i = 0; i < n; i++) {
		struct fetch_src s;
		char err[256], url[700];
		if (src_load(ids[i], &s, err, sizeof err) < 0) {
			printf("%d  (%s)\n", ids[i], err);
			continue;
		}
		src_url(&s, url, sizeof url);
		printf("%d  %s  %s  folders=%s  %s  every=%llds%s%s\n", s.id, s.account, url,
		       s.all_folders ? "all" : "INBOX", s.delete ? "delete" : "keep",
		       (long long)s.every, s.fingerprint[0] ? "  fingerprint" : "",
		       s.insecure ? "  INSECURE" : "");
		explicit_bzero(s.password, sizeof s.password);
	}
	if (n == 0)
		printf("no sources (brev fetch add)\n");
	return 0;
}

static int cmd_del(const char *arg)
{
	long long id;
	char path[PATH_MAX];
	if (parse_int(arg, 1, FETCH_SOURCES_MAX, &id) < 0)
		return usage();
	src_path((int)id, "src", path, sizeof path);
	if (unlink(path) < 0) {
		fprintf(stderr, "brev: fetch: no source %lld\n", id);
		return 1;
	}
	src_path((int)id, "state", path, sizeof path);
	unlink(path);
	printf("fetch %lld deleted\n", id);
	return 0;
}

static int cmd_run(struct store *store, const struct config *cfg, const char *arg)
{
	int ids[FETCH_SOURCES_MAX], bad = 0;
	size_t n = src_ids(ids, FETCH_SOURCES_MAX);
	long long only = 0;
	if (arg && parse_int(arg, 1, FETCH_SOURCES_MAX, &only) < 0)
		return usage();
	for (size_t i = 0; i < n; i++) {
		struct fetch_src s;
		struct fetch_stats fs;
		char err[256];
		if (only && ids[i] != only)
			continue;
		if (src_load(ids[i], &s, err, sizeof err) < 0) {
			fprintf(stderr, "brev: fetch %d: %s\n", ids[i], err);
			bad = 1;
			continue;
		}
		progress_on = 1;
		progress_tty = isatty(2);
		progress_t0 = progress_last = now_ms();
		int rc = run_source(store, cfg, &s, &fs);
		if (progress_drawn)
			fputs("\r\033[K", stderr);
		progress_on = progress_drawn = 0;
		explicit_bzero(s.password, sizeof s.password);
		printf("fetch %d: %llu stored, %llu already there, %llu refused%s%s\n", s.id,
		       (unsigned long long)fs.stored, (unsigned long long)fs.dups,
		       (unsigned long long)fs.refused, fs.err[0] ? "; stopped: " : "", fs.err);
		if (rc < 0 || fs.refused)
			bad = 1;
		only = only ? -1 : 0;
	}
	if (only > 0) {
		fprintf(stderr, "brev: fetch: no source %lld\n", only);
		return 1;
	}
	return bad;
}

int fetch_main(struct store *store, const struct config *cfg, int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "add"))
		return cmd_add(store, argc, argv);
	if (!strcmp(argv[1], "list") && argc == 2)
		return cmd_list();
	if (!strcmp(argv[1], "del") && argc == 3)
		return cmd_del(argv[2]);
	if (!strcmp(argv[1], "run") && argc <= 3)
		return cmd_run(store, cfg, argc == 3 ? argv[2] : NULL);
	return usage();
}

/* ---- inside serve ---- */

static struct {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running, stop;
	struct store *st;
	const struct config *cfg;
	int64_t last[FETCH_SOURCES_MAX + 1];
} sched = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *sched_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sched.mu);
	while (!sched.stop) {
		pthread_mutex_unlock(&sched.mu);
		int ids[FETCH_SOURCES_MAX];
		size_t n = src_ids(ids, FETCH_SOURCES_MAX);
		for (size_t i = 0; i < n && !fetch_stopping; i++) {
			struct fetch_src s;
			struct fetch_stats fs;
			char err[256];
			int64_t now = now_ms() / 1000;
			if (src_load(ids[i], &s, err, sizeof err) < 0 || s.every <= 0 ||
			    (sched.last[s.id] && now - sched.last[s.id] < s.every))
				continue;
			sched.last[s.id] = now;
			int rc = run_source(sched.st, sched.cfg, &s, &fs);
			explicit_bzero(s.password, sizeof s.password);
			if (rc < 0 || fs.stored || fs.refused)
				log_info("fetch %d: %s from %s: %llu stored, %llu refused%s%s", s.id,
					 s.account, s.host, (unsigned long long)fs.stored,
					 (unsigned long long)fs.refused, fs.err[0] ? "; " : "", fs.err);
		}
		pthread_mutex_lock(&sched.mu);
		if (!sched.stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += SCHED_TICK_S;
			pthread_cond_timedwait(&sched.cv, &sched.mu, &ts);
		}
	}
	pthread_mutex_unlock(&sched.mu);
	return NULL;
}

int fetch_start(struct store *st, const struct config *cfg)
{
	sched.st = st;
	sched.cfg = cfg;
	fetch_stopping = 0;
	if (pthread_create(&sched.th, NULL, sched_main, NULL) != 0)
		return -1;
	sched.running = 1;
	return 0;
}

void fetch_stop(void)
{
	if (!sched.running)
		return;
	fetch_stopping = 1;
	pthread_mutex_lock(&active_mu);
	if (active_fd >= 0)
		shutdown(active_fd, SHUT_RDWR);
	pthread_mutex_unlock(&active_mu);
	pthread_mutex_lock(&sched.mu);
	sched.stop = 1;
	pthread_cond_signal(&sched.cv);
	pthread_mutex_unlock(&sched.mu);
	pthread_join(sched.th, NULL);
	sched.running = 0;
}
