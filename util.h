/*
 * util.h — small helpers every module uses: checked allocation, bounded
 * strings, random bytes, number/size/duration parsing, files, and the
 * /etc/passwd reader that replaces getpwnam() (no NSS in a static binary).
 */
#ifndef BREV_UTIL_H
#define BREV_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that cannot fail: on exhaustion fatal(). Only for sizes the
 * program chooses or has already bounded, never for a peer's length. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Copy with truncation; always NUL-terminates (cap > 0). Returns strlen(src);
 * a result >= cap means it was truncated. */
size_t str_copy(char *dst, const char *src, size_t cap);
void str_lower(char *s);
/* Trim ASCII white space at both ends in place; returns s. */
char *str_trim(char *s);
int str_casecmp_ascii(const char *a, const char *b);
/* The value of a base64 alphabet character (RFC 4648 table 1), or -1:
 * shared by SASL's strict decoder and MIME's lenient one. */
int b64_value(int c);
/* The value of a hexadecimal digit, either case, or -1 (quoted-printable,
 * CRAM-MD5 digests, certificate fingerprints). */
int hex_value(int c);
int str_ncasecmp_ascii(const char *a, const char *b, size_t n);
int str_has_prefix_ci(const char *s, const char *prefix);

/* Fill buf with n bytes from getrandom(2); fatal() if the kernel refuses. */
void random_bytes(void *buf, size_t n);
/* Random value in [0, n). */
uint32_t random_uniform(uint32_t n);

/* Parse "123", "50M", "1G", "64k" (powers of 1024). 0 on success. */
int parse_size(const char *s, uint64_t *out);
/* Parse "30s", "5m", "2h", "5d", "1w" or plain seconds. 0 on success. */
int parse_duration(const char *s, int64_t *out_seconds);
/* Parse a decimal integer in [min, max]. 0 on success. */
int parse_int(const char *s, long long min, long long max, long long *out);

/* Milliseconds from CLOCK_MONOTONIC. */
int64_t now_ms(void);

/* mkdir -p with mode; 0 on success. */
int mkdir_p(const char *path, mode_t mode);
/* Read a whole file (at most max bytes) into a NUL-terminated malloc'ed
 * buffer. Returns NULL with errno set on failure. */
char *file_read(const char *path, size_t max, size_t *len_out);
/* Write a file atomically: temp file, fsync, rename, fsync dir. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
int path_join(char *out, size_t cap, const char *dir, const char *name);

/* One /etc/passwd entry, looked up by parsing the file (no NSS). */
struct pw_entry {
	char name[64];
	uid_t uid;
	gid_t gid;
	char home[256];
};
/* 0 and *out filled when found; -1 otherwise. */
int pw_by_name(const char *name, struct pw_entry *out);
int pw_by_uid(uid_t uid, struct pw_entry *out);

/* The local user's login name: $USER, else /etc/passwd by uid, else "user". */
void local_username(char *out, size_t cap);
/* The machine's host name (uname), lower case. */
void local_hostname(char *out, size_t cap);



/* A growable byte buffer with a hard cap: max bytes of content (0 = no cap
 * but memory). The content stays NUL-terminated. An add that would pass max
 * sets `over` and is dropped, as are all later adds: check `over` once at
 * the end. After any add, p is a string (possibly ""). Zero-initialise
 * ({.max = N}); sbuf_free() releases it. */
struct sbuf {
	char *p;
	size_t len, cap, max;
	int over;
};
void sbuf_add(struct sbuf *b, const void *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_free(struct sbuf *b);

/* Parse a listen address "IPv4:PORT", "[IPv6]:PORT" or "*:PORT" (= all
 * IPv4 interfaces). Fills ss/len; 0 on success, -1 with a reason in err. */
struct sockaddr_storage;
int addr_parse(const char *s, struct sockaddr_storage *ss, unsigned *len, char *err,
	       size_t errlen);
/* Parse a socket to connect to: "unix:/absolute/path", or an address
 * addr_parse takes ("IPv4:PORT", "[IPv6]:PORT"; not "*"), or
 * "localhost:PORT" (127.0.0.1: the one name, there is no resolver here).
 * 0 on success, -1 with a reason in err. */
int sock_spec_parse(const char *s, struct sockaddr_storage *ss, unsigned *len, char *err,
		    size_t errlen);
/* Print an address as "1.2.3.4:25" or "[::1]:25". */
void addr_format(const struct sockaddr_storage *ss, char *out, size_t cap);
#endif
