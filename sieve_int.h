/*
 * sieve_int.h — what sieve_parse.c, sieve.c and sieve_match.c share: the
 * syntax tree of a compiled script, the command/test table, and the
 * comparators and match types. Not for use outside the sieve_* files.
 */
#ifndef BREV_SIEVE_INT_H
#define BREV_SIEVE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sieve.h"

/* Extensions a script may require; bit numbers. */
enum {
	SX_FILEINTO,
	SX_REJECT,
	SX_EREJECT,
	SX_ENVELOPE,
	SX_ENCODED,
	SX_COPY,
	SX_IMAP4FLAGS,
	SX_VARIABLES,
	SX_BODY,
	SX_RELATIONAL,
	SX_SUBADDRESS,
	SX_VACATION,
	SX_VACSECONDS,
	SX_DATE,
	SX_INDEX,
	SX_REGEX,
	SX_ENVIRONMENT,
	SX_DUPLICATE,
	SX_INCLUDE,
	SX_MAILBOX,
	SX_NUMERIC,
	SX_EDITHEADER,
	SX_COUNT
};

/* Commands and tests. */
enum {
	SC_REQUIRE,
	SC_IF,
	SC_ELSIF,
	SC_ELSE,
	SC_STOP,
	SC_KEEP,
	SC_DISCARD,
	SC_REDIRECT,
	SC_FILEINTO,
	SC_REJECT,
	SC_EREJECT,
	SC_SETFLAG,
	SC_ADDFLAG,
	SC_REMOVEFLAG,
	SC_SET,
	SC_VACATION,
	SC_INCLUDE,
	SC_RETURN,
	SC_ADDHEADER,
	SC_DELETEHEADER,
	ST_ADDRESS,
	ST_ENVELOPE,
	ST_HEADER,
	ST_EXISTS,
	ST_SIZE,
	ST_ALLOF,
	ST_ANYOF,
	ST_NOT,
	ST_TRUE,
	ST_FALSE,
	ST_HASFLAG,
	ST_STRING,
	ST_BODY,
	ST_DATE,
	ST_CURRENTDATE,
	ST_MAILBOXEXISTS,
	ST_ENVIRONMENT,
	ST_DUPLICATE
};

enum { SA_TAG, SA_NUM, SA_STR };

struct sv_arg {
	int type, line;
	char *tag;	      /* SA_TAG: without the ':' */
	struct sv_arg *param; /* SA_TAG taking an argument: it */
	int64_t num;	      /* SA_NUM */
	char **s;	      /* SA_STR: NUL-terminated strings */
	int ns, islist;
	struct sv_arg *next;
};

struct sv_node {
	int id, line;
	struct sv_arg *args;   /* as written, tag parameters moved under their tag */
	struct sv_arg *pos[4]; /* positional arguments, in order */
	int npos;
	struct sv_node *tests; /* test list (allof/anyof), the test (if/not) */
	struct sv_node *block; /* commands of a block */
	struct sv_node *next;
};

struct sv_arena;
struct sieve_script {
	struct sv_arena *arena;
	struct sv_node *cmds;
	uint32_t ext; /* required extensions, bit per SX_* */
};

/* sieve_parse.c */
struct sv_arg *sv_tag(const struct sv_node *n, const char *tag);

/* sieve_match.c — comparators and match types. */
enum { CMP_OCTET, CMP_CASEMAP, CMP_NUMERIC };
enum { MT_IS, MT_CONTAINS, MT_MATCHES, MT_REGEX, MT_COUNT, MT_VALUE };
enum { REL_GT, REL_GE, REL_LT, REL_LE, REL_EQ, REL_NE };
#define SV_GROUPS 10
struct sv_groups {
	char *g[SV_GROUPS]; /* malloc'ed captures, NULL = unset */
	int n;
};
/* Order of a and b under the comparator: <0, 0, >0. */
int sv_cmp(int cmp, const char *a, const char *b);
/* Does value match key? 1 yes, 0 no, -1 error (err set: bad regex, limit).
 * Groups (may be NULL) receive the captures of :matches / :regex. */
int sv_match(int mt, int rel, int cmp, const char *value, const char *key, struct sv_groups *gr,
	     char *err, size_t errlen);
/* Compile-time check of a literal :regex key (0 ok, -1 err). */
int sv_regex_check(const char *re, char *err, size_t errlen);
void sv_groups_clear(struct sv_groups *g);

#endif
