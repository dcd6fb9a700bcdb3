/*
 * util.c — helpers with no policy of their own. Nothing here touches the
 * network or the store.
 */
#include "util.h"
#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		fatal("out of memory");
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

size_t str_copy(char *dst, const char *src, size_t cap)
{
	size_t n = strlen(src);
	if (cap) {
		size_t k = n < cap - 1 ? n : cap - 1;
		memcpy(dst, src, k);
		dst[k] = 0;
	}
	return n;
}

void str_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

char *str_trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = 0;
	return s;
}

static int lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int str_casecmp_ascii(const char *a, const char *b)
{
	for (;; a++, b++) {
		int d = lc((unsigned char)*a) - lc((unsigned char)*b);
		if (d || !*a)
			return d;
	}
}

int str_ncasecmp_ascii(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		int d = lc((unsigned char)*a) - lc((unsigned char)*b);
		if (d || !*a)
			return d;
	}
	return 0;
}

int str_has_prefix_ci(const char *s, const char *prefix)
{
	return str_ncasecmp_ascii(s, prefix, strlen(prefix)) == 0;
}

void random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom: %s", strerror(errno));
		}
		p += r;
		n -= (size_t)r;
	}
}

uint32_t random_uniform(uint32_t n)
{
	uint32_t x, lim;
	if (n < 2)
		return 0;
	lim = -n % n; /* reject the biased low range */
	do
		random_bytes(&x, sizeof x);
	while (x < lim);
	return x % n;
}

int parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;
	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;
	if (!*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	case 't': case 'T': mul = 1ULL << 40; end++; break;
	default: return -1;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || (v && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

int parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mul = 1;
	if (!*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 0: break;
	case 's': end++; break;
	case 'm': mul = 60; end++; break;
	case 'h': mul = 3600; end++; break;
	case 'd': mul = 86400; end++; break;
	case 'w': mul = 7 * 86400; end++; break;
	default: return -1;
	}
	if (*end || (v && mul > INT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (str_copy(buf, path, sizeof buf) >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

char *file_read(const char *path, size_t max, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, len = 0;
	char *buf;
	if (fd < 0)
		return NULL;
	buf = xmalloc(cap);
	for (;;) {
		ssize_t r;
		if (len + 1 >= cap) {
			if (cap > max) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return NULL;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			free(buf);
			close(fd);
			errno = EFBIG;
			return NULL;
		}
	}
	close(fd);
	buf[len] = 0;
	if (len_out)
		*len_out = len;
	return buf;
}

int path_join(char *out, size_t cap, const char *dir, const char *name)
{
	int n;
	if (name[0] == '/')
		n = snprintf(out, cap, "%s", name);
	else
		n = snprintf(out, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *p = data;
	char *slash;
	int fd, dfd;

	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
		goto fail;
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	str_copy(dir, path, sizeof dir);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	else
		strcpy(dir, ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

/* name:passwd:uid:gid:gecos:home:shell */
static int pw_parse(char *line, struct pw_entry *out)
{
	char *f[7];
	int n = 0;
	long long v;
	f[n++] = line;
	for (char *p = line; *p && n < 7; p++)
		if (*p == ':') {
			*p = 0;
			f[n++] = p + 1;
		}
	if (n < 7)
		return -1;
	if (str_copy(out->name, f[0], sizeof out->name) >= sizeof out->name)
		return -1;
	if (parse_int(f[2], 0, 0xfffffffeLL, &v))
		return -1;
	out->uid = (uid_t)v;
	if (parse_int(f[3], 0, 0xfffffffeLL, &v))
		return -1;
	out->gid = (gid_t)v;
	str_copy(out->home, f[5], sizeof out->home);
	return 0;
}

static int pw_find(const char *name, uid_t uid, struct pw_entry *out)
{
	char *buf = file_read("/etc/passwd", 16 << 20, NULL), *line, *save = NULL;
	int found = -1;
	if (!buf)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct pw_entry e;
		if (line[0] == '#' || line[0] == '+' || line[0] == '-')
			continue;
		if (pw_parse(line, &e))
			continue;
		if ((name && strcmp(e.name, name) == 0) || (!name && e.uid == uid)) {
			*out = e;
			found = 0;
			break;
		}
	}
	free(buf);
	return found;
}

int pw_by_name(const char *name, struct pw_entry *out)
{
	return pw_find(name, 0, out);
}

int pw_by_uid(uid_t uid, struct pw_entry *out)
{
	return pw_find(NULL, uid, out);
}

void local_username(char *out, size_t cap)
{
	const char *u = getenv("USER");
	struct pw_entry e;
	if (u && *u) {
		str_copy(out, u, cap);
		return;
	}
	if (pw_by_uid(getuid(), &e) == 0) {
		str_copy(out, e.name, cap);
		return;
	}
	str_copy(out, "user", cap);
}

void local_hostname(char *out, size_t cap)
{
	struct utsname u;
	if (uname(&u) == 0 && u.nodename[0])
		str_copy(out, u.nodename, cap);
	else
		str_copy(out, "localhost", cap);
	str_lower(out);
}

int addr_parse(const char *s, struct sockaddr_storage *ss, unsigned *len, char *err,
	       size_t errlen)
{
	char host[64];
	const char *colon;
	long long port;
	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host) {
			snprintf(err, errlen, "'%s': expected [IPv6]:PORT", s);
			return -1;
		}
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = 0;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof host) {
			snprintf(err, errlen, "'%s': expected ADDRESS:PORT", s);
			return -1;
		}
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = 0;
	}
	if (parse_int(colon + 1, 1, 65535, &port)) {
		snprintf(err, errlen, "'%s': bad port", s);
		return -1;
	}
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			snprintf(err, errlen, "'%s': bad IPv6 address", s);
			return -1;
		}
		*len = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (strcmp(host, "*") == 0 || host[0] == 0)
			a->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			snprintf(err, errlen, "'%s': bad IPv4 address (names are not accepted)", s);
			return -1;
		}
		*len = sizeof *a;
	}
	return 0;
}

int sock_spec_parse(const char *s, struct sockaddr_storage *ss, unsigned *len, char *err,
		    size_t errlen)
{
	char buf[80];
	memset(ss, 0, sizeof *ss);
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *a = (struct sockaddr_un *)ss;
		const char *path = s + 5;
		if (path[0] != '/' || strlen(path) >= sizeof a->sun_path) {
			snprintf(err, errlen, "'%s': expected unix:/absolute/path (under %zu bytes)",
				 s, sizeof a->sun_path);
			return -1;
		}
		a->sun_family = AF_UNIX;
		memcpy(a->sun_path, path, strlen(path) + 1);
		*len = (unsigned)sizeof *a;
		return 0;
	}
	/* No resolver for a socket address: "localhost" is the one name. */
	if (strncmp(s, "localhost:", 10) == 0) {
		snprintf(buf, sizeof buf, "127.0.0.1:%.20s", s + 10);
		s = buf;
	}
	if (s[0] == '*' || s[0] == ':') {
		snprintf(err, errlen, "'%s': expected unix:/path, ADDRESS:PORT or localhost:PORT", s);
		return -1;
	}
	return addr_parse(s, ss, len, err, errlen);
}

void addr_format(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		snprintf(out, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
	}
}

void sbuf_add(struct sbuf *b, const void *s, size_t n)
{
	if (b->over)
		return;
	if (n == 0) {
		/* Even an empty add leaves a string behind: callers hand p on. */
		if (!b->p) {
			b->p = xmalloc(256);
			b->cap = 256;
			b->p[0] = 0;
		}
		return;
	}
	if (b->max && n > b->max - b->len) {
		b->over = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 256;
		while (c < b->len + n + 1)
			c *= 2;
		b->p = xrealloc(b->p, c);
		b->cap = c;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char small[256];
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		sbuf_add(b, small, (size_t)n);
	} else {
		char *big = xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		sbuf_add(b, big, (size_t)n);
		free(big);
	}
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->over = 0;
}

int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}
