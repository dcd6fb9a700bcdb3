/*
 * pop3.h — the connection-free parts of the POP3 server (pop3_parse.c):
 * the command-line parser (RFC 1939, RFC 2449, RFC 5034) and the byte filter
 * that turns a stored message into what RETR and TOP send (dot-stuffing,
 * TOP's line limit, the final CRLF). Both are pure functions of their input,
 * so the unit tests and the fuzz target drive them without a socket, and
 * LIST sizes are computed by the very code that RETR streams with.
 *
 * The session itself (pop3_serve) is declared in server.h.
 */
#ifndef BREV_POP3_H
#define BREV_POP3_H

#include <stddef.h>
#include <stdint.h>

/* RFC 2449 section 4: a command line is at most 255 octets with its CRLF. */
#define POP3_LINE_MAX 255
#define POP3_ARG_MAX  2

enum pop3_verb {
	POP3_USER,
	POP3_PASS,
	POP3_APOP,
	POP3_QUIT,
	POP3_STAT,
	POP3_LIST,
	POP3_RETR,
	POP3_DELE,
	POP3_NOOP,
	POP3_RSET,
	POP3_TOP,
	POP3_UIDL,
	POP3_CAPA,
	POP3_STLS,
	POP3_AUTH,
	POP3_NVERBS
};

enum pop3_parse_rc {
	POP3_PARSE_OK = 0,
	POP3_PARSE_UNKNOWN, /* well-formed keyword that is not a command we know */
	POP3_PARSE_SYNTAX,  /* bad bytes, bad keyword, wrong number of arguments */
};

struct pop3_cmd {
	int verb; /* enum pop3_verb when POP3_PARSE_OK */
	int argc;
	const char *argv[POP3_ARG_MAX]; /* point into buf */
	char keyword[5];		/* upper-cased, for logs */
	char buf[POP3_LINE_MAX + 1];
};

/* Parse one command line (without its line end; len bytes, may contain
 * NULs, which are refused). Fills *cmd; its pointers are valid as long as
 * cmd is. PASS keeps the rest of the line verbatim as its one argument
 * (RFC 1939 section 7: a password may contain spaces). */
int pop3_parse(const char *line, size_t len, struct pop3_cmd *cmd);
/* The printable name of a verb ("RETR"), "?" if out of range. */
const char *pop3_verb_name(int verb);

/* A decimal number of 1-10 digits, no sign, no spaces, at most max.
 * 0 and *out set, or -1. */
int pop3_parse_num(const char *s, uint32_t max, uint32_t *out);

/*
 * The RETR/TOP filter: feed the stored message in pieces of any size; the
 * output goes to emit(arg, bytes, n) (which returns 0, or -1 to stop). The
 * output is the message with every line that starts with '.' given one more
 * '.' (RFC 1939 section 3), cut after the header, the blank line and `top`
 * body lines when top >= 0 (RFC 1939 section 7, TOP), and ended with a CRLF
 * if it does not end with one already. The terminating ".\r\n" is the
 * caller's. The filter never allocates.
 */
typedef int (*pop3_emit_fn)(void *arg, const void *buf, size_t n);

struct pop3_filter {
	int64_t top; /* body lines to pass; -1 = the whole message */
	int in_header;
	int bol;	     /* next byte starts a line */
	int done;	     /* TOP's limit reached: ignore the rest */
	uint64_t body_lines; /* body lines completed */
	uint64_t linelen;    /* bytes of the current line so far */
	int cr;		     /* the previous input byte was CR */
	char last[2];	     /* the last two bytes emitted */
	uint64_t out;	     /* bytes emitted so far */
};

void pop3_filter_init(struct pop3_filter *f, int64_t top);
/* 1 when TOP's limit has been reached (the caller may stop reading). */
int pop3_filter_done(const struct pop3_filter *f);
int pop3_filter_feed(struct pop3_filter *f, const void *in, size_t n, pop3_emit_fn emit, void *arg);
/* The final CRLF if needed. After it f->out is the exact octet count. */
int pop3_filter_end(struct pop3_filter *f, pop3_emit_fn emit, void *arg);

#endif
