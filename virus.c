/*
 * virus.c — the clamd client: INSTREAM over a unix or TCP socket, and the
 * policy that turns clamd's verdict into an SMTP reply or a header
 * (virus.h, docs/virus.md).
 *
 * clamd is a local daemon the operator trusts, but its answer still goes
 * into an SMTP reply, a header and the log: it is parsed as hostile bytes
 * (bounded, sanitised). Every wait is bounded by poll(2) on a
 * non-blocking socket, so a hung clamd costs a session at most the
 * time-outs of virus.h, never the thread for ever.
 */
#include "virus.h"
#include "config.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the answer ---- */

/* Copy s[0..n) into out (cap > 0) keeping only what keep() allows; others
 * become repl. Cut at cap - 1. */
static void copy_clean(char *out, size_t cap, const char *s, size_t n, int (*keep)(int), char repl)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		out[k++] = keep((unsigned char)s[i]) ? s[i] : repl;
	out[k] = 0;
}

static int name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '/' || c == '+' || c == '-';
}

/* Safe inside a header comment and an SMTP reply. */
static int why_char(int c)
{
	return c >= 0x20 && c < 0x7f && c != '(' && c != ')' && c != '\\';
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static int set_error(struct virus_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int set_error(struct virus_result *r, const char *fmt, ...)
{
	char buf[VIRUS_WHY_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	copy_clean(r->why, sizeof r->why, buf, strlen(buf), why_char, '?');
	r->name[0] = 0;
	return r->verdict = VIRUS_ERROR;
}

int virus_parse_answer(const char *buf, size_t n, struct virus_result *r)
{
	static const char prefix[] = "stream: ";
	const size_t pl = sizeof prefix - 1;
	const char *nul = memchr(buf, 0, n);
	memset(r, 0, sizeof *r);
	if (nul)
		n = (size_t)(nul - buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 0)
		return set_error(r, "empty answer from clamd");
	if (n >= pl && memcmp(buf, prefix, pl) == 0) {
		const char *v = buf + pl;
		size_t vn = n - pl;
		if (vn == 2 && memcmp(v, "OK", 2) == 0)
			return r->verdict = VIRUS_CLEAN;
		if (ends_with(v, vn, " FOUND") && vn > 6) {
			copy_clean(r->name, sizeof r->name, v, vn - 6, name_char, '_');
			return r->verdict = VIRUS_FOUND;
		}
	}
	char words[VIRUS_WHY_MAX + 1];
	copy_clean(words, sizeof words, buf, n, why_char, '?');
	if (ends_with(buf, n, " ERROR"))
		return set_error(r, "clamd: %s", words);
	return set_error(r, "unexpected answer from clamd: %s", words);
}

/* ---- the exchange ---- */

/* Wait for events on fd for at most ms. 1 ready, 0 time-out, -1 error. */
static int wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	for (;;) {
		int rc = poll(&p, 1, ms < 0 ? 0 : ms);
		if (rc < 0 && errno == EINTR)
			continue;
		return rc < 0 ? -1 : rc;
	}
}

/* Send all of buf. 0, or -1 with errno (ETIMEDOUT after a stall of ms,
 * or at the deadline). */
static int send_all(int fd, const void *buf, size_t n, int ms, int64_t deadline)
{
	const unsigned char *p = buf;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int64_t left = deadline - now_ms();
			int rc = left <= 0 ? 0 : wait_fd(fd, POLLOUT, left < ms ? (int)left : ms);
			if (rc == 0)
				errno = ETIMEDOUT;
			if (rc <= 0)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

/* The message as INSTREAM chunks, then the zero-length end. 0, or -1 with
 * what failed in *what and errno set. */
static int send_stream(int fd, struct spool *sp, int ms, int64_t deadline, const char **what)
{
	unsigned char *buf = xmalloc(4 + VIRUS_CHUNK);
	uint64_t off = 0, size = spool_size(sp);
	int rc = 0;
	*what = "send";
	if (send_all(fd, "zINSTREAM", 10, ms, deadline) < 0) /* the NUL ends the command */
		rc = -1;
	while (rc == 0 && off < size) {
		long k = spool_read_at(sp, off, buf + 4, VIRUS_CHUNK);
		if (k <= 0) {
			*what = "reading the spool";
			if (k == 0)
				errno = EIO; /* shorter than its size */
			rc = -1;
			break;
		}
		buf[0] = (unsigned char)((uint32_t)k >> 24);
		buf[1] = (unsigned char)((uint32_t)k >> 16);
		buf[2] = (unsigned char)((uint32_t)k >> 8);
		buf[3] = (unsigned char)k;
		if (send_all(fd, buf, 4 + (size_t)k, ms, deadline) < 0)
			rc = -1;
		off += (uint64_t)k;
	}
	if (rc == 0) {
		memset(buf, 0, 4);
		rc = send_all(fd, buf, 4, ms, deadline);
	}
	free(buf);
	return rc;
}

/* Read clamd's answer up to its NUL, EOF or VIRUS_ANSWER_MAX bytes, within
 * ms. The count, or -1 with errno (ETIMEDOUT). */
static long read_answer(int fd, char *buf, size_t cap, int ms)
{
	size_t n = 0;
	int64_t deadline = now_ms() + ms;
	while (n < cap && !memchr(buf, 0, n)) {
		ssize_t k = recv(fd, buf + n, cap - n, 0);
		if (k > 0) {
			n += (size_t)k;
			continue;
		}
		if (k == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return n ? (long)n : -1;
		int64_t left = deadline - now_ms();
		int rc = left > 0 ? wait_fd(fd, POLLIN, (int)left) : 0;
		if (rc == 0)
			errno = ETIMEDOUT;
		if (rc <= 0)
			return n ? (long)n : -1;
	}
	return (long)n;
}

int virus_scan_fd(int fd, struct spool *sp, const struct virus_timeouts *t,
		  struct virus_result *r)
{
	char ans[VIRUS_ANSWER_MAX];
	const char *what;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return set_error(r, "clamd socket: %s", strerror(errno));
	int sent = send_stream(fd, sp, t->send_ms, now_ms() + t->send_total_ms, &what) == 0;
	int send_errno = errno;
	if (!sent && strcmp(what, "send") != 0)
		return set_error(r, "%s: %s", what, strerror(send_errno));
	/* clamd closes at StreamMaxLength after saying why: read that. A
	 * stalled send gets no more waiting. */
	long n = read_answer(fd, ans, sizeof ans,
			     sent ? t->answer_ms : send_errno == ETIMEDOUT ? 0 : 1000);
	if (n > 0)
		return virus_parse_answer(ans, (size_t)n, r);
	if (!sent)
		return set_error(r, "sending to clamd: %s", strerror(send_errno));
	if (n < 0 && errno == ETIMEDOUT)
		return set_error(r, "no answer from clamd within %ds", t->answer_ms / 1000);
	if (n < 0)
		return set_error(r, "reading clamd's answer: %s", strerror(errno));
	return set_error(r, "clamd closed the connection without an answer");
}

/* Connect to clamd within ms. The socket, or -1 with a reason in r. */
static int clamd_connect(const char *spec, int ms, struct virus_result *r)
{
	struct sockaddr_storage ss;
	unsigned len;
	char err[200];
	if (sock_spec_parse(spec, &ss, &len, err, sizeof err) < 0) {
		set_error(r, "virus.clamd: %s", err);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		set_error(r, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;
		if (e == EINPROGRESS) {
			int rc = wait_fd(fd, POLLOUT, ms);
			socklen_t el = sizeof e;
			if (rc == 0)
				e = ETIMEDOUT;
			else if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
				e = errno;
		}
		if (e) {
			/* A unix socket whose backlog is full says EAGAIN. */
			set_error(r, "cannot connect to clamd: %s", strerror(e));
			close(fd);
			return -1;
		}
	}
	return fd;
}

int virus_scan(const char *spec, struct spool *sp, const struct virus_timeouts *t,
	       struct virus_result *r)
{
	int fd = clamd_connect(spec, t->connect_ms, r);
	if (fd < 0)
		return VIRUS_ERROR;
	virus_scan_fd(fd, sp, t, r);
	close(fd);
	return r->verdict;
}

/* ---- the policy ---- */

int virus_check(const struct config *cfg, struct spool *sp, const char *id,
		struct virus_check *out)
{
	static const struct virus_timeouts t = {VIRUS_CONNECT_MS, VIRUS_SEND_MS, VIRUS_SEND_TOTAL_MS,
						VIRUS_ANSWER_MS};
	struct virus_result r;
	memset(out, 0, sizeof *out);
	if (!cfg->virus_clamd || !cfg->virus_clamd[0])
		return out->action = VIRUS_DELIVER;
	int64_t t0 = now_ms();
	virus_scan(cfg->virus_clamd, sp, &t, &r);
	long long ms = (long long)(now_ms() - t0);
	switch (r.verdict) {
	case VIRUS_CLEAN:
		log_info("virus id=%s clean size=%llu ms=%lld", id,
			 (unsigned long long)spool_size(sp), ms);
		snprintf(out->header, sizeof out->header, "X-Virus-Scanned: clamd\r\n");
		return out->action = VIRUS_DELIVER;
	case VIRUS_FOUND:
		log_info("virus id=%s found=%s refused ms=%lld", id, r.name, ms);
		snprintf(out->reply, sizeof out->reply,
			 "554 5.7.1 message refused: virus found (%s)", r.name);
		return out->action = VIRUS_REFUSE;
	default:
		break;
	}
	if (cfg->virus_on_error == VIRUS_ON_ERROR_ACCEPT) {
		log_warn("virus id=%s not scanned: %s; delivered (virus.on_error = accept) clamd=%s",
			 id, r.why, cfg->virus_clamd);
		snprintf(out->header, sizeof out->header, "X-Virus-Scanned: no (%s)\r\n", r.why);
		return out->action = VIRUS_DELIVER;
	}
	log_warn("virus id=%s not scanned: %s; 451 (virus.on_error = tempfail) clamd=%s", id,
		 r.why, cfg->virus_clamd);
	snprintf(out->reply, sizeof out->reply,
		 "451 4.7.1 Virus scanner unavailable (%s); try again later", r.why);
	return out->action = VIRUS_TEMPFAIL;
}
