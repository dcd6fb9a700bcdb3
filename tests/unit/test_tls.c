/*
 * test_tls.c — TLS through conn.c and tls.c, checked by independent
 * implementations: `openssl s_client`/`s_server`/`x509`/`verify` and
 * python3's ssl module (OpenSSL underneath, with its own defaults). Covers
 * the self-signed certificate and key files, implicit TLS and STARTTLS, the
 * STARTTLS injection refusal, TLS 1.1 refusal, pipelining through TLS,
 * certificate reload under a live connection, keys in the formats openssl
 * writes, and the opportunistic client (verified or not).
 */
/* deps: conn tls spool util log */
#include "harness.h"

#include "../../conn.h"
#include "../../tls.h"
#include "../../util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- temp dir, shell helpers ---- */

static char tmpdir[128];

static void cleanup_dir(void)
{
	char cmd[256];
	if (tmpdir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
}

static const char *P(const char *name)
{
	static char bufs[8][512];
	static int i;
	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/brev-tls-test.XXXXXX");
		if (!mkdtemp(tmpdir))
			abort();
		atexit(cleanup_dir);
	}
	char *b = bufs[i++ % 8];
	snprintf(b, 512, "%s/%s", tmpdir, name);
	return b;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* Run a command, return its stdout+stderr (malloc'ed). */
static char *sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh_out(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	char full[4200];
	snprintf(full, sizeof full, "( %s ) 2>&1", cmd);
	FILE *f = popen(full, "r");
	size_t len = 0, cap = 65536;
	char *out = xmalloc(cap);
	if (f) {
		size_t n;
		while (len + 1 < cap && (n = fread(out + len, 1, cap - 1 - len, f)) > 0)
			len += n;
		pclose(f);
	}
	out[len] = '\0';
	return out;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static const char *const san_dns[] = {"localhost"};
static const char *const san_ip[] = {"127.0.0.1", "::1"};

static int make_cert(const char *key, const char *cert)
{
	char err[256];
	int r = tls_make_selfsigned(key, cert, "localhost", san_dns, 1, san_ip, 2, err, sizeof err);
	if (r < 0)
		fprintf(stderr, "tls_make_selfsigned: %s\n", err);
	return r;
}

/* ---- a small line-echo server on 127.0.0.1, one thread per connection ---- */

enum { MODE_TLS, MODE_STARTTLS, MODE_WAIT };

struct srv {
	int ls, port, mode;
	int wakefd; /* MODE_WAIT: read end of a pipe */
	struct tls_server *t;
	char cert[512], key[512], next_cert[512], next_key[512];
	atomic_int stop, active, refused;
	pthread_t th;
};

struct worker {
	struct srv *s;
	int fd;
};

static void echo_loop(struct srv *s, struct conn *c)
{
	char *line;
	ssize_t n;
	while ((n = conn_getline(c, &line, 4096, NULL)) != -1) {
		if (n == -2) {
			conn_puts(c, "TOOLONG\r\n");
		} else if (strcmp(line, "QUIT") == 0) {
			conn_puts(c, "BYE\r\n");
			break;
		} else if (strcmp(line, "INFO") == 0) {
			conn_printf(c, "%s %s\r\n", conn_tls_version(c), conn_tls_cipher(c));
		} else if (strcmp(line, "RELOAD") == 0) {
			char err[256];
			int ok = rename(s->next_cert, s->cert) == 0 && rename(s->next_key, s->key) == 0 &&
				 tls_server_reload(s->t, err, sizeof err) == 0;
			conn_puts(c, ok ? "RELOADED\r\n" : "RELOADFAIL\r\n");
		} else {
			conn_printf(c, "%s\r\n", line);
		}
	}
	conn_flush(c);
}

/* A minimal SMTP-ish STARTTLS dialogue, enough for `openssl s_client
 * -starttls smtp`. */
static void starttls_dialogue(struct srv *s, struct conn *c)
{
	char *line;
	conn_puts(c, "220 test ESMTP\r\n");
	while (conn_getline(c, &line, 4096, NULL) >= 0) {
		if (str_has_prefix_ci(line, "EHLO")) {
			conn_puts(c, "250-test\r\n250 STARTTLS\r\n");
		} else if (strcmp(line, "STARTTLS") == 0) {
			if (conn_starttls(c, s->t) < 0) {
				s->refused++;
				/* Nothing changed: still plaintext, the injected line still there. */
				int n = conn_getline(c, &line, 4096, NULL);
				conn_printf(c, "454 refused tls=%d next=%s\r\n", conn_is_tls(c),
					    n >= 0 ? line : "-");
				conn_flush(c);
				return;
			}
			conn_puts(c, "220 2.0.0 go ahead\r\n"); /* still plaintext */
			return;
		} else if (strcmp(line, "QUIT") == 0) {
			conn_puts(c, "221 bye\r\n");
			conn_flush(c);
			return;
		} else {
			conn_puts(c, "500 what\r\n");
		}
	}
}

/* IDLE-like: report every conn_wait() result as a line. */
static void wait_loop(struct srv *s, struct conn *c)
{
	char *line, ch;
	for (;;) {
		int r = conn_wait(c, s->wakefd, 5000);
		if (r == 1) {
			if (conn_getline(c, &line, 512, NULL) < 0)
				return;
			conn_printf(c, "W1 %s pending=%zu\r\n", line, conn_pending(c));
		} else if (r == 2) {
			if (read(s->wakefd, &ch, 1) != 1)
				return;
			conn_puts(c, "W2\r\n");
		} else if (r == 0) {
			conn_puts(c, "W0\r\n");
		} else {
			return;
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct srv *s = w->s;
	struct conn *c = conn_new(w->fd, "127.0.0.1", 0, "127.0.0.1");
	conn_set_timeout(c, 10000);
	if (s->mode == MODE_TLS) {
		if (conn_tls_accept(c, s->t) == 0)
			echo_loop(s, c);
	} else if (s->mode == MODE_WAIT) {
		if (conn_tls_accept(c, s->t) == 0)
			wait_loop(s, c);
	} else {
		starttls_dialogue(s, c);
		if (conn_is_tls(c))
			echo_loop(s, c);
	}
	conn_free(&c);
	free(w);
	s->active--;
	return NULL;
}

static void *acceptor_main(void *arg)
{
	struct srv *s = arg;
	while (!s->stop) {
		struct pollfd p = {.fd = s->ls, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept(s->ls, NULL, NULL);
		if (fd < 0)
			continue;
		struct worker *w = xcalloc(1, sizeof *w);
		w->s = s;
		w->fd = fd;
		pthread_t th;
		s->active++;
		pthread_create(&th, NULL, worker_main, w);
		pthread_detach(th);
	}
	return NULL;
}

static int listen_any(int *port)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 16) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
		close(ls);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return ls;
}

static struct srv *srv_start(const char *cert, const char *key, int mode)
{
	char err[256];
	struct srv *s = xcalloc(1, sizeof *s);
	s->mode = mode;
	str_copy(s->cert, cert, sizeof s->cert);
	str_copy(s->key, key, sizeof s->key);
	s->t = tls_server_new(cert, key, err, sizeof err);
	if (!s->t) {
		fprintf(stderr, "tls_server_new: %s\n", err);
		free(s);
		return NULL;
	}
	s->ls = listen_any(&s->port);
	pthread_create(&s->th, NULL, acceptor_main, s);
	return s;
}

static void srv_stop(struct srv **sp)
{
	struct srv *s = *sp;
	if (!s)
		return;
	s->stop = 1;
	pthread_join(s->th, NULL);
	for (int i = 0; i < 200 && s->active > 0; i++)
		usleep(50000);
	close(s->ls);
	if (s->active == 0)
		tls_server_free(&s->t); /* else leak it rather than pull it away */
	free(s);
	*sp = NULL;
}

/* ---- the self-signed certificate ---- */

TEST(selfsigned_files)
{
	struct stat st;
	char fp[96], *out;
	CHECK_EQ_INT(make_cert(P("key.pem"), P("cert.pem")), 0);
	CHECK(stat(P("key.pem"), &st) == 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0600);
	/* OpenSSL reads both and agrees the key is sound. */
	CHECK_EQ_INT(sh("openssl pkey -in %s -noout -check >/dev/null 2>&1", P("key.pem")), 0);
	CHECK_EQ_INT(sh("openssl verify -x509_strict -CAfile %s %s >/dev/null 2>&1", P("cert.pem"),
			P("cert.pem")),
		     0);
	out = sh_out("openssl x509 -in %s -noout -text -fingerprint -sha256", P("cert.pem"));
	CHECK(strstr(out, "Version: 3 (0x2)"));
	CHECK(strstr(out, "Subject: CN = localhost"));
	CHECK(strstr(out, "ecdsa-with-SHA256"));
	CHECK(strstr(out, "CA:TRUE"));
	CHECK(strstr(out, "Digital Signature, Certificate Sign"));
	CHECK(strstr(out, "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"));
	CHECK(strstr(out, "X509v3 Subject Key Identifier"));
	CHECK(strstr(out, "X509v3 Authority Key Identifier"));
	CHECK(strstr(out, "TLS Web Server Authentication"));
	CHECK(tls_cert_fingerprint(P("cert.pem"), fp) == 0);
	CHECK_EQ_INT(strlen(fp), 95);
	char want[160];
	snprintf(want, sizeof want, "Fingerprint=%s", fp); /* "sha256 Fingerprint=" in OpenSSL 3 */
	if (!strstr(out, want))
		fprintf(stderr, "%s\nwant %s\n", out, want);
	CHECK(strstr(out, want));
	free(out);
	/* Ten years, the far end as GeneralizedTime when it is past 2049. */
	CHECK_EQ_INT(sh("openssl x509 -in %s -noout -checkend %d >/dev/null", P("cert.pem"),
			9 * 365 * 86400),
		     0);
	out = sh_out("openssl asn1parse -in %s", P("cert.pem"));
	CHECK(strstr(out, "UTCTIME"));
	free(out);
	/* Our own loader reads what we wrote. */
	char err[256];
	struct tls_server *t = tls_server_new(P("cert.pem"), P("key.pem"), err, sizeof err);
	CHECK(t != NULL);
	tls_server_free(&t);
	CHECK(t == NULL);
}

TEST(selfsigned_bad_ip)
{
	char err[256] = "";
	const char *const ips[] = {"not-an-ip"};
	CHECK_EQ_INT(tls_make_selfsigned(P("k2.pem"), P("c2.pem"), "x", NULL, 0, ips, 1, err,
					 sizeof err),
		     -1);
	CHECK(strstr(err, "not-an-ip"));
}

/* ---- the local CA and the server certificate it signs ---- */

TEST(local_ca_and_server_cert)
{
	char err[256] = "", *out;
	const char *const dns[] = {"mail.example.test", "localhost"};
	const char *const ips[] = {"127.0.0.1", "192.0.2.7"};
	struct stat st;

	CHECK_EQ_INT(tls_make_ca(P("ca-key.pem"), P("ca.pem"), "mail.example.test", err, sizeof err), 0);
	CHECK(stat(P("ca-key.pem"), &st) == 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0600);
	CHECK_EQ_INT(tls_make_server_cert(P("ca-key.pem"), P("ca.pem"), P("srv-key.pem"), P("srv.pem"),
					  "mail.example.test", dns, 2, ips, 2, err, sizeof err),
		     0);
	/* OpenSSL, strict: the chain verifies with the CA alone, for the names. */
	CHECK_EQ_INT(sh("openssl verify -x509_strict -CAfile %s -verify_hostname mail.example.test "
			"-purpose sslserver %s >/dev/null 2>&1",
			P("ca.pem"), P("srv.pem")),
		     0);
	CHECK_EQ_INT(sh("openssl verify -x509_strict -CAfile %s -verify_ip 192.0.2.7 %s >/dev/null 2>&1",
			P("ca.pem"), P("srv.pem")),
		     0);
	CHECK(sh("openssl verify -CAfile %s -verify_hostname other.test %s >/dev/null 2>&1", P("ca.pem"),
		 P("srv.pem")) != 0);
	out = sh_out("openssl x509 -in %s -noout -text", P("ca.pem"));
	CHECK(strstr(out, "Subject: CN = brev local CA "));
	CHECK(strstr(out, "CA:TRUE, pathlen:0"));
	CHECK(strstr(out, "Certificate Sign, CRL Sign"));
	CHECK(!strstr(out, "Subject Alternative Name"));
	free(out);
	out = sh_out("openssl x509 -in %s -noout -text", P("srv.pem"));
	CHECK(strstr(out, "Subject: CN = mail.example.test"));
	CHECK(strstr(out, "Issuer: CN = brev local CA "));
	CHECK(strstr(out, "CA:FALSE"));
	CHECK(strstr(out, "Key Usage: critical\n                Digital Signature\n"));
	CHECK(strstr(out, "TLS Web Server Authentication"));
	CHECK(strstr(out, "DNS:mail.example.test, DNS:localhost, IP Address:127.0.0.1, IP Address:192.0.2.7"));
	free(out);
	/* srv.pem holds the server certificate, then the CA's. */
	out = sh_out("grep -c 'BEGIN CERTIFICATE' %s", P("srv.pem"));
	CHECK_EQ_INT(atoi(out), 2);
	free(out);
	/* Our loader pairs the key with the first certificate. */
	struct tls_server *t = tls_server_new(P("srv.pem"), P("srv-key.pem"), err, sizeof err);
	CHECK(t != NULL);
	tls_server_free(&t);
}

TEST(server_cert_refuses_a_wrong_ca)
{
	char err[256] = "";
	const char *const dns[] = {"localhost"};

	/* The key of one CA with the certificate of another. */
	CHECK_EQ_INT(tls_make_ca(P("ca2-key.pem"), P("ca2.pem"), "x", err, sizeof err), 0);
	CHECK_EQ_INT(tls_make_server_cert(P("ca2-key.pem"), P("ca.pem"), P("k3.pem"), P("c3.pem"),
					  "localhost", dns, 1, NULL, 0, err, sizeof err),
		     -1);
	CHECK(strstr(err, "is not the CA certificate of"));
	/* A certificate that is not a CA cannot sign. */
	CHECK_EQ_INT(tls_make_server_cert(P("srv-key.pem"), P("srv.pem"), P("k3.pem"), P("c3.pem"),
					  "localhost", dns, 1, NULL, 0, err, sizeof err),
		     -1);
	CHECK(access(P("c3.pem"), F_OK) != 0);
	CHECK_EQ_INT(tls_make_server_cert(P("none.pem"), P("ca.pem"), P("k3.pem"), P("c3.pem"),
					  "localhost", dns, 1, NULL, 0, err, sizeof err),
		     -1);
}

/* ---- implicit TLS, driven by openssl s_client and python ---- */

TEST(openssl_s_client_handshake)
{
	CHECK_EQ_INT(make_cert(P("key.pem"), P("cert.pem")), 0);
	struct srv *s = srv_start(P("cert.pem"), P("key.pem"), MODE_TLS);
	CHECK(s != NULL);
	char *out = sh_out("printf 'hello\\nINFO\\nQUIT\\n' | timeout 20 openssl s_client -connect "
			   "127.0.0.1:%d -CAfile %s -verify_return_error -servername localhost "
			   "-crlf -ign_eof",
			   s->port, P("cert.pem"));
	int ok = strstr(out, "Verify return code: 0 (ok)") && strstr(out, "\nhello\r\n") &&
		 strstr(out, "TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305") && strstr(out, "BYE");
	if (!ok)
		fprintf(stderr, "%s\n", out);
	char *cipher = strstr(out, "Cipher is ");
	if (cipher)
		printf("# negotiated: %.*s\n", (int)strcspn(cipher, "\n"), cipher);
	free(out);
	/* TLS 1.1 is refused (seclevel 0 so that OpenSSL itself is willing). */
	out = sh_out("echo | timeout 20 openssl s_client -connect 127.0.0.1:%d -tls1_1 -cipher "
		     "DEFAULT@SECLEVEL=0; echo rc=$?",
		     s->port);
	int refused11 = strstr(out, "rc=0") == NULL && strstr(out, "Cipher is (NONE)") != NULL;
	if (!refused11)
		fprintf(stderr, "%s\n", out);
	free(out);
	/* Server preference: a client that prefers AES-256 still gets ChaCha20. */
	out = sh_out("echo QUIT | timeout 20 openssl s_client -connect 127.0.0.1:%d -cipher "
		     "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305 -CAfile %s",
		     s->port, P("cert.pem"));
	int pref = strstr(out, "Cipher is ECDHE-ECDSA-CHACHA20-POLY1305") != NULL;
	free(out);
	/* Nothing weak is accepted. */
	out = sh_out("echo | timeout 20 openssl s_client -connect 127.0.0.1:%d -cipher "
		     "'AES128-SHA:ECDHE-ECDSA-AES128-SHA:DES-CBC3-SHA:@SECLEVEL=0'",
		     s->port);
	int noweak = strstr(out, "Cipher is (NONE)") != NULL;
	free(out);
	srv_stop(&s);
	CHECK(ok);
	CHECK(refused11);
	CHECK(pref);
	CHECK(noweak);
}

TEST(session_resumption)
{
	CHECK_EQ_INT(make_cert(P("key.pem"), P("cert.pem")), 0);
	struct srv *s = srv_start(P("cert.pem"), P("key.pem"), MODE_TLS);
	CHECK(s != NULL);
	/* -reconnect: one full handshake, then five attempts to resume it. */
	char *out = sh_out("echo | timeout 30 openssl s_client -connect 127.0.0.1:%d -CAfile %s "
			   "-reconnect -no_ticket",
			   s->port, P("cert.pem"));
	int reused = 0;
	for (char *p = out; (p = strstr(p, "\nReused, ")); p++)
		reused++;
	if (reused < 5)
		fprintf(stderr, "%s\n", out);
	free(out);
	srv_stop(&s);
	CHECK(reused >= 5);
}

static const char *py_client =
	"import ssl, socket, sys, hashlib\n"
	"port, cafile, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]\n"
	"ctx = ssl.create_default_context(cafile=cafile)\n"
	"ctx.verify_flags |= ssl.VERIFY_X509_STRICT\n"
	"assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED\n"
	"def conn():\n"
	"    s = socket.create_connection(('127.0.0.1', port), timeout=10)\n"
	"    return ctx.wrap_socket(s, server_hostname='localhost')\n"
	"def lines(t, n):\n"
	"    f = t.makefile('rb')\n"
	"    return [f.readline() for _ in range(n)]\n"
	"def fp(t):\n"
	"    h = hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest().upper()\n"
	"    return ':'.join(h[i:i+2] for i in range(0, 64, 2))\n"
	"if mode == 'echo':\n"
	"    t = conn()\n"
	"    t.sendall(b'hello python\\r\\nINFO\\r\\n')\n"
	"    print(*[l.decode().strip() for l in lines(t, 2)], t.version(), t.cipher()[0], sep='|')\n"
	"elif mode == 'pipeline':\n"
	"    t = conn()\n"
	"    t.sendall(b''.join(b'line %d %s\\r\\n' % (i, b'x' * (i % 300)) for i in range(200)))\n"
	"    got = lines(t, 200)\n"
	"    bad = [i for i in range(200) if got[i] != b'line %d %s\\r\\n' % (i, b'x' * (i % 300))]\n"
	"    print('pipeline ok' if not bad else 'pipeline bad %r' % bad[:3])\n"
	"elif mode == 'reload':\n"
	"    newca = sys.argv[4]\n"
	"    t1 = conn()\n"
	"    t1.sendall(b'one\\r\\nRELOAD\\r\\n')\n"
	"    r = lines(t1, 2)\n"
	"    ctx = ssl.create_default_context(cafile=newca)\n"
	"    t2 = conn()\n"
	"    t2.sendall(b'two\\r\\n')\n"
	"    r += lines(t2, 1)\n"
	"    t1.sendall(b'still here\\r\\n')\n"
	"    r += lines(t1, 1)\n"
	"    print('|'.join(l.decode().strip() for l in r), fp(t1), fp(t2), sep='\\n')\n";

TEST(python_ssl_client)
{
	CHECK_EQ_INT(make_cert(P("key.pem"), P("cert.pem")), 0);
	write_file(P("client.py"), py_client);
	struct srv *s = srv_start(P("cert.pem"), P("key.pem"), MODE_TLS);
	CHECK(s != NULL);
	char *out = sh_out("timeout 20 python3 %s %d %s echo", P("client.py"), s->port,
			   P("cert.pem"));
	int ok = strstr(out, "hello python|TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305|TLSv1.2|"
			     "ECDHE-ECDSA-CHACHA20-POLY1305") != NULL;
	if (!ok)
		fprintf(stderr, "%s\n", out);
	free(out);
	/* A client that writes 200 lines before reading a single reply. */
	out = sh_out("timeout 20 python3 %s %d %s pipeline", P("client.py"), s->port,
		     P("cert.pem"));
	int piped = strstr(out, "pipeline ok") != NULL;
	if (!piped)
		fprintf(stderr, "%s\n", out);
	free(out);
	srv_stop(&s);
	CHECK(ok);
	CHECK(piped);
}

TEST(reload_keeps_running_connections)
{
	char fa[96], fb[96], *out;
	CHECK_EQ_INT(make_cert(P("key.pem"), P("cert.pem")), 0);
	CHECK_EQ_INT(make_cert(P("next-key.pem"), P("next-cert.pem")), 0);
	CHECK_EQ_INT(sh("cp %s %s", P("next-cert.pem"), P("ca-b.pem")), 0);
	CHECK(tls_cert_fingerprint(P("cert.pem"), fa) == 0);
	CHECK(tls_cert_fingerprint(P("next-cert.pem"), fb) == 0);
	CHECK(strcmp(fa, fb) != 0);
	write_file(P("client.py"), py_client);
	struct srv *s = srv_start(P("cert.pem"), P("key.pem"), MODE_TLS);
	CHECK(s != NULL);
	str_copy(s->next_cert, P("next-cert.pem"), sizeof s->next_cert);
	str_copy(s->next_key, P("next-key.pem"), sizeof s->next_key);
	out = sh_out("timeout 20 python3 %s %d %s reload %s", P("client.py"), s->port, P("cert.pem"),
		     P("ca-b.pem"));
	char want[400];
	snprintf(want, sizeof want, "one|RELOADED|two|still here\n%s\n%s\n", fa, fb);
	int ok = strcmp(out, want) == 0;
	if (!ok)
		fprintf(stderr, "got:\n%s\nwant:\n%s\n", out, want);
	free(out);
	/* A reload that fails keeps the current material. */
	char err[256];
	write_file(P("next-cert.pem"), "garbage\n");
	write_file(P("cert.pem"), "garbage\n");
	int bad = tls_server_reload(s->t, err, sizeof err);
	srv_stop(&s);
	CHECK(ok);
	CHECK_EQ_INT(bad, -1);
	CHECK(strstr(err, "cert.pem"));
}

/* ---- STARTTLS ---- */

static int connect_port(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST(starttls_injection_refused)
{
	CHECK_EQ_INT(make_cert(P("key.pem"), P("cert.pem")), 0);
	struct srv *s = srv_start(P("cert.pem"), P("key.pem"), MODE_STARTTLS);
	CHECK(s != NULL);
	int fd = connect_port(s->port);
	CHECK(fd >= 0);
	struct conn *c = conn_new(fd, "127.0.0.1", s->port, "127.0.0.1");
	conn_set_timeout(c, 10000);
	char *line;
	CHECK(conn_getline(c, &line, 512, NULL) > 0);
	conn_puts(c, "EHLO x\r\n");
	CHECK(conn_getline(c, &line, 512, NULL) > 0);
	CHECK(conn_getline(c, &line, 512, NULL) > 0);
	CHECK_EQ_STR(line, "250 STARTTLS");
	/* One packet: the NOOP must never be read as if it came through TLS. */
	conn_puts(c, "STARTTLS\r\nNOOP\r\n");
	CHECK(conn_getline(c, &line, 512, NULL) > 0);
	CHECK_EQ_STR(line, "454 refused tls=0 next=NOOP");
	conn_free(&c);
	srv_stop(&s);
}

TEST(starttls_openssl_smtp)
{
	CHECK_EQ_INT(make_cert(P("key.pem"), P("cert.pem")), 0);
	struct srv *s = srv_start(P("cert.pem"), P("key.pem"), MODE_STARTTLS);
	CHECK(s != NULL);
	char *out = sh_out("printf 'upgraded\\nINFO\\nQUIT\\n' | timeout 20 openssl s_client "
			   "-starttls smtp -connect 127.0.0.1:%d -CAfile %s -verify_return_error "
			   "-servername localhost -crlf -ign_eof",
			   s->port, P("cert.pem"));
	int ok = strstr(out, "Verify return code: 0 (ok)") && strstr(out, "\nupgraded\r\n") &&
		 strstr(out, "TLSv1.2 ECDHE-ECDSA-") && strstr(out, "BYE");
	if (!ok)
		fprintf(stderr, "%s\n", out);
	free(out);
	srv_stop(&s);
	CHECK(ok);
	CHECK_EQ_INT(s == NULL, 1);
}

/* ---- the client side against openssl s_server ---- */

static int free_port(void)
{
	int port = 0, ls = listen_any(&port);
	if (ls >= 0)
		close(ls);
	return port;
}

/* openssl s_server -rev on 127.0.0.1:port: answers each line reversed. */
static pid_t s_server_start(int port, const char *cert, const char *key)
{
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	pid_t pid = fork();
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);
		dup2(dn, 0);
		dup2(dn, 1);
		dup2(dn, 2);
		execlp("openssl", "openssl", "s_server", "-accept", addr, "-cert", cert, "-key", key,
		       "-rev", "-quiet", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		int fd = connect_port(port);
		if (fd >= 0) {
			close(fd);
			return pid;
		}
		usleep(50000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static void s_server_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

struct client_result {
	int connect_rc, verified;
	char echo[64], version[32], cipher[64];
};

static void client_run(int port, struct tls_client *tc, const char *name,
		       struct client_result *r)
{
	char *line;
	memset(r, 0, sizeof *r);
	int fd = connect_port(port);
	struct conn *c = conn_new(fd, "127.0.0.1", port, "127.0.0.1");
	conn_set_timeout(c, 10000);
	r->connect_rc = conn_tls_connect(c, tc, name);
	if (r->connect_rc == 0) {
		r->verified = conn_tls_verified(c);
		str_copy(r->version, conn_tls_version(c), sizeof r->version);
		str_copy(r->cipher, conn_tls_cipher(c), sizeof r->cipher);
		conn_puts(c, "hello brev\n");
		if (conn_getline(c, &line, 512, NULL) >= 0)
			str_copy(r->echo, line, sizeof r->echo);
	}
	conn_free(&c);
}

TEST(client_opportunistic_selfsigned)
{
	struct client_result r;
	CHECK_EQ_INT(make_cert(P("key.pem"), P("cert.pem")), 0);
	int port = free_port();
	pid_t pid = s_server_start(port, P("cert.pem"), P("key.pem"));
	CHECK(pid > 0);
	struct tls_client *sys = tls_client_new(); /* the system store: not trusted */
	struct tls_client *none = tls_client_new_with_anchors(P("missing.pem"));
	struct tls_client *self = tls_client_new_with_anchors(P("cert.pem"));
	struct client_result a, b, cc, d, e;
	client_run(port, self, NULL, &e); /* no name to check: never "verified" */
	client_run(port, sys, "localhost", &a);
	client_run(port, none, "localhost", &b);
	client_run(port, self, "localhost", &cc);
	client_run(port, self, "wrong.example", &d);
	s_server_stop(pid);
	tls_client_free(&sys);
	tls_client_free(&none);
	tls_client_free(&self);
	CHECK(sys == NULL);
	r = a;
	CHECK_EQ_INT(r.connect_rc, 0);
	CHECK_EQ_INT(r.verified, 0);
	CHECK_EQ_STR(r.echo, "verb olleh");
	CHECK_EQ_STR(r.version, "TLSv1.2");
	CHECK(strncmp(r.cipher, "ECDHE-ECDSA-", 12) == 0);
	CHECK_EQ_INT(b.connect_rc, 0);
	CHECK_EQ_INT(b.verified, 0);
	CHECK_EQ_STR(b.echo, "verb olleh");
	/* The self-signed certificate as its own trust anchor. */
	CHECK_EQ_INT(cc.connect_rc, 0);
	CHECK_EQ_INT(cc.verified, 1);
	CHECK_EQ_INT(d.connect_rc, 0);
	CHECK_EQ_INT(d.verified, 0);
	CHECK_EQ_STR(d.echo, "verb olleh");
	CHECK_EQ_INT(e.connect_rc, 0);
	CHECK_EQ_INT(e.verified, 0);
}

static int make_ca_and_leaf(void)
{
	P("x"); /* creates tmpdir */
	write_file(P("leaf.ext"), "subjectAltName=DNS:localhost,DNS:mx.brev.test\n"
				  "basicConstraints=critical,CA:FALSE\n"
				  "keyUsage=critical,digitalSignature,keyEncipherment\n"
				  "extendedKeyUsage=serverAuth\n");
	return sh("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
		  "-subj '/CN=brev test CA' -days 2 >/dev/null 2>&1 && "
		  "openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr "
		  "-subj /CN=localhost >/dev/null 2>&1 && "
		  "openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		  "-out leaf.pem -days 2 -extfile leaf.ext >/dev/null 2>&1 && "
		  "cat leaf.pem ca.pem > chain.pem",
		  tmpdir);
}

TEST(client_verified_by_test_ca)
{
	CHECK_EQ_INT(make_ca_and_leaf(), 0);
	int port = free_port();
	pid_t pid = s_server_start(port, P("leaf.pem"), P("leaf.key"));
	CHECK(pid > 0);
	struct tls_client *ca = tls_client_new_with_anchors(P("ca.pem"));
	struct client_result a, b, cc;
	client_run(port, ca, "localhost", &a);
	client_run(port, ca, "mx.brev.test", &b);
	client_run(port, ca, "other.test", &cc);
	s_server_stop(pid);
	tls_client_free(&ca);
	CHECK_EQ_INT(a.connect_rc, 0);
	CHECK_EQ_INT(a.verified, 1);
	CHECK_EQ_STR(a.echo, "verb olleh");
	CHECK(strncmp(a.cipher, "ECDHE-RSA-", 10) == 0);
	CHECK_EQ_INT(b.verified, 1);
	CHECK_EQ_INT(cc.connect_rc, 0); /* wrong name: still encrypted, not verified */
	CHECK_EQ_INT(cc.verified, 0);
	CHECK_EQ_STR(cc.echo, "verb olleh");
}

TEST(wait_through_tls)
{
	int pp[2];
	char *line;
	CHECK_EQ_INT(make_cert(P("key.pem"), P("cert.pem")), 0);
	CHECK(pipe(pp) == 0);
	struct srv *s = srv_start(P("cert.pem"), P("key.pem"), MODE_WAIT);
	CHECK(s != NULL);
	s->wakefd = pp[0];
	struct tls_client *tc = tls_client_new_with_anchors(P("cert.pem"));
	int fd = connect_port(s->port);
	struct conn *c = conn_new(fd, "127.0.0.1", s->port, "127.0.0.1");
	conn_set_timeout(c, 10000);
	CHECK_EQ_INT(conn_tls_connect(c, tc, "localhost"), 0);
	CHECK_EQ_INT(conn_tls_verified(c), 1);
	/* Two commands in one TLS record: the second is buffered when the
	 * server waits again, and must be seen without the socket. */
	conn_puts(c, "DONE\r\nA1 NOOP\r\n");
	CHECK(conn_getline(c, &line, 512, NULL) > 0);
	CHECK_EQ_STR(line, "W1 DONE pending=9");
	CHECK(conn_getline(c, &line, 512, NULL) > 0);
	CHECK_EQ_STR(line, "W1 A1 NOOP pending=0");
	CHECK(write(pp[1], "x", 1) == 1);
	CHECK(conn_getline(c, &line, 512, NULL) > 0);
	CHECK_EQ_STR(line, "W2");
	conn_puts(c, "later\r\n");
	CHECK(conn_getline(c, &line, 512, NULL) > 0);
	CHECK_EQ_STR(line, "W1 later pending=0");
	/* Our own wait on the client side: nothing comes, then a timeout. */
	CHECK_EQ_INT(conn_wait(c, -1, 100), 0);
	conn_free(&c);
	tls_client_free(&tc);
	srv_stop(&s);
	close(pp[0]);
	close(pp[1]);
}

/* ---- keys and certificates as openssl and certbot write them ---- */

static int server_loads(const char *cert, const char *key, char *err, size_t errlen)
{
	struct tls_server *t = tls_server_new(cert, key, err, errlen);
	if (!t)
		return -1;
	tls_server_free(&t);
	return 0;
}

TEST(load_openssl_key_formats)
{
	char err[256];
	CHECK_EQ_INT(make_ca_and_leaf(), 0);
	int made = sh("cd %s && "
			"openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa8.key -out rsa.pem "
			"-subj /CN=localhost -days 2 >/dev/null 2>&1 && "
			"openssl rsa -in rsa8.key -traditional -out rsa1.key >/dev/null 2>&1 && "
			"openssl ecparam -name prime256v1 -genkey -out ec1.key >/dev/null 2>&1 && "
			"openssl req -x509 -key ec1.key -out ec.pem -subj /CN=localhost -days 2 "
			">/dev/null 2>&1 && "
			"openssl pkey -in ec1.key -out ec8.key >/dev/null 2>&1 && "
			"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out ec384.key "
			">/dev/null 2>&1 && "
			"openssl req -x509 -key ec384.key -out ec384.pem -subj /CN=localhost -days 2 "
			">/dev/null 2>&1 && "
			"openssl pkey -in ec8.key -aes256 -passout pass:x -out enc.key >/dev/null 2>&1",
			tmpdir);
	CHECK_EQ_INT(made, 0);
	CHECK_EQ_INT(sh("grep -q 'BEGIN PRIVATE KEY' %s && grep -q 'BEGIN RSA PRIVATE KEY' %s && "
			"grep -q 'BEGIN EC PARAMETERS' %s && grep -q 'BEGIN EC PRIVATE KEY' %s",
			P("rsa8.key"), P("rsa1.key"), P("ec1.key"), P("ec1.key")),
		     0);
	CHECK_EQ_INT(server_loads(P("rsa.pem"), P("rsa8.key"), err, sizeof err), 0);
	CHECK_EQ_INT(server_loads(P("rsa.pem"), P("rsa1.key"), err, sizeof err), 0);
	CHECK_EQ_INT(server_loads(P("ec.pem"), P("ec1.key"), err, sizeof err), 0);
	CHECK_EQ_INT(server_loads(P("ec.pem"), P("ec8.key"), err, sizeof err), 0);
	CHECK_EQ_INT(server_loads(P("ec384.pem"), P("ec384.key"), err, sizeof err), 0);
	CHECK_EQ_INT(server_loads(P("chain.pem"), P("leaf.key"), err, sizeof err), 0);
	/* Failures come back as one line. */
	CHECK_EQ_INT(server_loads(P("rsa.pem"), P("ec1.key"), err, sizeof err), -1);
	CHECK(strstr(err, "does not match"));
	CHECK_EQ_INT(server_loads(P("ec.pem"), P("enc.key"), err, sizeof err), -1);
	CHECK(strstr(err, "encrypted"));
	CHECK_EQ_INT(server_loads(P("nothere.pem"), P("ec1.key"), err, sizeof err), -1);
	CHECK(strstr(err, "nothere.pem") && strstr(err, "No such file"));
	CHECK_EQ_INT(server_loads(P("ec1.key"), P("ec1.key"), err, sizeof err), -1);
	CHECK(strstr(err, "no certificate"));
	CHECK(strchr(err, '\n') == NULL);
}

TEST(handshake_rsa_key_and_chain)
{
	CHECK_EQ_INT(make_ca_and_leaf(), 0);
	CHECK_EQ_INT(sh("cd %s && openssl rsa -in leaf.key -traditional -out leaf1.key "
			">/dev/null 2>&1",
			tmpdir),
		     0);
	struct srv *s = srv_start(P("chain.pem"), P("leaf1.key"), MODE_TLS);
	CHECK(s != NULL);
	char *out = sh_out("printf 'INFO\\nQUIT\\n' | timeout 20 openssl s_client -connect "
			   "127.0.0.1:%d -CAfile %s -verify_return_error -servername localhost "
			   "-crlf -ign_eof -showcerts",
			   s->port, P("ca.pem"));
	int ncerts = 0;
	for (char *p = out; (p = strstr(p, "BEGIN CERTIFICATE")); p++)
		ncerts++;
	int ok = strstr(out, "Verify return code: 0 (ok)") &&
		 strstr(out, "TLSv1.2 ECDHE-RSA-CHACHA20-POLY1305") && ncerts == 2;
	if (!ok)
		fprintf(stderr, "%s\n", out);
	free(out);
	srv_stop(&s);
	CHECK(ok);
}

/* ---- ACME's pieces (acme.c), checked by openssl ---- */

static int write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(p, 1, n, f);
	fclose(f);
	return w == n ? 0 : -1;
}

/* R || S (32 octets each) as DER ECDSA-Sig-Value, what openssl dgst reads */
static size_t sig_der(const unsigned char rs[64], unsigned char out[80])
{
	size_t n = 2;
	for (int h = 0; h < 2; h++) {
		const unsigned char *v = rs + 32 * h;
		int k = 0;
		while (k < 31 && v[k] == 0 && !(v[k + 1] & 0x80))
			k++;
		int pad = (v[k] & 0x80) != 0;
		out[n++] = 0x02;
		out[n++] = (unsigned char)(32 - k + pad);
		if (pad)
			out[n++] = 0;
		memcpy(out + n, v + k, (size_t)(32 - k));
		n += (size_t)(32 - k);
	}
	out[0] = 0x30;
	out[1] = (unsigned char)(n - 2);
	return n;
}

TEST(acme_key_es256_csr)
{
	char err[256] = "";
	unsigned char x[32], y[32], x2[32], y2[32], sig[64], der[80];
	struct tls_eckey *k = tls_eckey_load(P("acct.pem"), 1, err, sizeof err);
	CHECK(k != NULL);
	struct stat st;
	CHECK(stat(P("acct.pem"), &st) == 0 && (st.st_mode & 0777) == 0600);
	tls_eckey_xy(k, x, y);
	/* read back: the same key */
	struct tls_eckey *k2 = tls_eckey_load(P("acct.pem"), 0, err, sizeof err);
	CHECK(k2 != NULL);
	tls_eckey_xy(k2, x2, y2);
	CHECK(memcmp(x, x2, 32) == 0 && memcmp(y, y2, 32) == 0);
	tls_eckey_free(&k2);
	CHECK(k2 == NULL);
	/* ES256 over some bytes verifies with openssl */
	const char *msg = "eyJhbGciOiJFUzI1NiJ9.e30";
	CHECK_EQ_INT(tls_eckey_sign(k, msg, strlen(msg), sig), 0);
	CHECK_EQ_INT(write_bytes(P("msg"), msg, strlen(msg)), 0);
	CHECK_EQ_INT(write_bytes(P("sig.der"), der, sig_der(sig, der)), 0);
	CHECK_EQ_INT(sh("openssl pkey -in %s -pubout -out %s 2>/dev/null", P("acct.pem"), P("pub.pem")),
		     0);
	CHECK_EQ_INT(sh("openssl dgst -sha256 -verify %s -signature %s %s >/dev/null 2>&1",
			P("pub.pem"), P("sig.der"), P("msg")),
		     0);
	/* a flipped bit does not */
	sig[5] ^= 1;
	CHECK_EQ_INT(write_bytes(P("sig.der"), der, sig_der(sig, der)), 0);
	CHECK(sh("openssl dgst -sha256 -verify %s -signature %s %s >/dev/null 2>&1", P("pub.pem"),
		 P("sig.der"), P("msg")) != 0);
	/* the CSR: self-signature, subject, names, key */
	const char *names[] = {"mail.acme.test", "mta-sts.acme.test"};
	unsigned char *csr = NULL;
	size_t csrlen = 0;
	CHECK_EQ_INT(tls_make_csr(k, names, 2, &csr, &csrlen, err, sizeof err), 0);
	CHECK_EQ_INT(write_bytes(P("csr.der"), csr, csrlen), 0);
	free(csr);
	char *out = sh_out("openssl req -inform DER -in %s -noout -verify -text", P("csr.der"));
	int ok = strstr(out, "verify OK") && strstr(out, "Subject: CN = mail.acme.test") &&
		 strstr(out, "DNS:mail.acme.test, DNS:mta-sts.acme.test") &&
		 strstr(out, "ecdsa-with-SHA256") && strstr(out, "NIST CURVE: P-256");
	if (!ok)
		fprintf(stderr, "%s\n", out);
	free(out);
	CHECK(ok);
	CHECK(tls_make_csr(k, names, 0, &csr, &csrlen, err, sizeof err) == -1);
	tls_eckey_free(&k);
	/* not a P-256 key: refused with a reason */
	CHECK_EQ_INT(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out %s "
			"2>/dev/null",
			P("p384.pem")),
		     0);
	err[0] = 0;
	CHECK(tls_eckey_load(P("p384.pem"), 0, err, sizeof err) == NULL);
	CHECK(strstr(err, "not a P-256 key"));
}

/* notBefore/notAfter as openssl prints them, UTCTime and GeneralizedTime */
TEST(acme_cert_dates)
{
	time_t nb, na;
	char *out;
	CHECK_EQ_INT(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			"-subj /CN=d -days %d -keyout %s -out %s 2>/dev/null",
			40 * 365, P("d.key"), P("d.pem")),
		     0);
	CHECK_EQ_INT(tls_cert_dates(P("d.pem"), &nb, &na), 0);
	out = sh_out("date -u -d \"$(openssl x509 -in %s -noout -startdate | cut -d= -f2)\" +%%s; "
		     "date -u -d \"$(openssl x509 -in %s -noout -enddate | cut -d= -f2)\" +%%s",
		     P("d.pem"), P("d.pem"));
	long long a = 0, b = 0;
	CHECK(sscanf(out, "%lld %lld", &a, &b) == 2);
	free(out);
	CHECK_EQ_INT((long long)nb, a);
	CHECK_EQ_INT((long long)na, b); /* past 2049: GeneralizedTime */
	out = sh_out("openssl asn1parse -in %s", P("d.pem"));
	CHECK(strstr(out, "GENERALIZEDTIME"));
	free(out);
	/* not a certificate */
	write_file(P("junk.pem"), "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n");
	CHECK(tls_cert_dates(P("junk.pem"), &nb, &na) == -1);
	CHECK(tls_cert_dates(P("missing.pem"), &nb, &na) == -1);
}

TEST_MAIN()
