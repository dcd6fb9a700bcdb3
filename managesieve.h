/*
 * managesieve.h — the connection-free part of the ManageSieve server
 * (RFC 5804), managesieve_parse.c: the command parser, and the test for a
 * literal announced at the end of a line. The session (managesieve_serve,
 * server.h) reads a command's lines and literals into one buffer, in wire
 * form, and hands it to managesieve_parse, so the unit tests and the fuzz
 * target drive the very parser the server uses without a socket.
 */
#ifndef BREV_MANAGESIEVE_H
#define BREV_MANAGESIEVE_H

#include <stddef.h>
#include <stdint.h>

#define MS_LINE_MAX    8192   /* one line of a command, literals apart */
#define MS_QUOTED_MAX  1024   /* RFC 5804 4: a quoted string is at most 1024 octets */
#define MS_LITERAL_MAX (64 * 1024) /* one literal (STORE_SIEVE_SIZE: a whole script) */
#define MS_CMD_MAX     (MS_LITERAL_MAX + 4 * MS_LINE_MAX) /* a whole command */
#define MS_ARGS_MAX    3

enum ms_verb {
	MS_AUTHENTICATE,
	MS_STARTTLS,
	MS_LOGOUT,
	MS_CAPABILITY,
	MS_HAVESPACE,
	MS_PUTSCRIPT,
	MS_LISTSCRIPTS,
	MS_SETACTIVE,
	MS_GETSCRIPT,
	MS_DELETESCRIPT,
	MS_RENAMESCRIPT,
	MS_CHECKSCRIPT,
	MS_NOOP,
	MS_UNAUTHENTICATE,
	MS_NVERBS
};

enum ms_parse_rc {
	MS_PARSE_OK = 0,
	MS_PARSE_UNKNOWN, /* a well-formed atom that is no command */
	MS_PARSE_SYNTAX,  /* bad bytes, bad string, wrong arguments for the command */
};

/* A string argument (quoted, unescaped; or a literal, as sent) or a number. */
struct ms_arg {
	const char *s; /* NUL-terminated inside the parsed buffer (a literal may
			* itself contain NULs: use len) */
	size_t len;
	uint32_t num;  /* HAVESPACE's size */
};

struct ms_cmd {
	int verb; /* enum ms_verb when MS_PARSE_OK */
	int argc;
	struct ms_arg argv[MS_ARGS_MAX];
	char keyword[16]; /* upper-cased, for logs ("" when not an atom) */
};

/*
 * Parse one command in wire form: the command line, and for each literal
 * "{n+}" or "{n}" at a line's end, CRLF, its n octets and the line that
 * follows, up to the final CRLF (LF alone is accepted too). buf[len] must
 * be writable (a NUL goes there) and buf is changed in place: quoted
 * strings are unescaped and every argument NUL-terminated. The argument
 * count and kinds are checked against the command (RFC 5804 2):
 * AUTHENTICATE mech [initial], HAVESPACE name number, PUTSCRIPT name
 * script, RENAMESCRIPT old new, NOOP [tag], SETACTIVE/GETSCRIPT/
 * DELETESCRIPT/CHECKSCRIPT one string, the rest none.
 */
int managesieve_parse(char *buf, size_t len, struct ms_cmd *cmd);

/*
 * Parse exactly one string (a SASL response in AUTHENTICATE), in the same
 * wire form and with the same in-place rules. 0 with *out set, or -1.
 */
int managesieve_parse_string(char *buf, size_t len, struct ms_arg *out);

/*
 * Whether line (len octets, without its line end) ends with a literal's
 * announcement "{n+}" or "{n}": 1 with *n (at most 10 digits, up to
 * 4294967295) and *plus; 0 if not; -1 if it ends in a malformed one ("{",
 * digits then "}" but too many digits).
 */
int managesieve_literal_tail(const char *line, size_t len, uint64_t *n, int *plus);

/* The printable name of a verb, "?" if out of range. */
const char *managesieve_verb_name(int verb);

#endif
