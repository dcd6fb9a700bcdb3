/* deps: managesieve_parse */
/*
 * test_managesieve.c — the ManageSieve command parser (managesieve_parse.c):
 * quoted strings with escapes and their bound, literals {n+} and {n} in the
 * middle and at the end of a command, numbers, argument counts per command,
 * and the literal announcement at a line's end.
 */
#include "harness.h"
#include "managesieve.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *wire, struct ms_cmd *cmd, char **keep)
{
	size_t n = strlen(wire);
	char *b = malloc(n + 1);
	memcpy(b, wire, n);
	*keep = b;
	return managesieve_parse(b, n, cmd);
}

TEST(commands_and_arguments)
{
	struct ms_cmd c;
	char *b;
	CHECK_EQ_INT(parse("capability\r\n", &c, &b), MS_PARSE_OK);
	CHECK(c.verb == MS_CAPABILITY && c.argc == 0);
	free(b);
	CHECK_EQ_INT(parse("PUTSCRIPT \"my \\\"s\\\\\" {6+}\r\nkeep;\n\r\n", &c, &b), MS_PARSE_OK);
	CHECK(c.verb == MS_PUTSCRIPT && c.argc == 2);
	CHECK_EQ_STR(c.argv[0].s, "my \"s\\");
	CHECK(c.argv[0].len == 6);
	CHECK(c.argv[1].len == 6 && !memcmp(c.argv[1].s, "keep;\n", 6));
	free(b);
	/* a literal first, then a quoted string; a synchronizing literal */
	CHECK_EQ_INT(parse("RENAMESCRIPT {3}\r\nold \"new\"\r\n", &c, &b), MS_PARSE_OK);
	CHECK_EQ_STR(c.argv[0].s, "old");
	CHECK_EQ_STR(c.argv[1].s, "new");
	free(b);
	CHECK_EQ_INT(parse("HAVESPACE \"a\" 4294967295\r\n", &c, &b), MS_PARSE_OK);
	CHECK(c.argv[1].num == 4294967295u);
	free(b);
	CHECK_EQ_INT(parse("AUTHENTICATE \"PLAIN\" \"AGEAYg==\"\n", &c, &b), MS_PARSE_OK);
	CHECK(c.argc == 2);
	free(b);
	CHECK_EQ_INT(parse("NOOP \"tag\"\r\n", &c, &b), MS_PARSE_OK);
	CHECK(c.argc == 1);
	free(b);
}

TEST(refused)
{
	struct ms_cmd c;
	char *b, big[MS_QUOTED_MAX + 16];
	const char *bad[] = {
	    "PUTSCRIPT \"a\"\r\n",			 /* too few */
	    "LOGOUT \"x\"\r\n",			 /* too many */
	    "GETSCRIPT a\r\n",			 /* an atom is no string */
	    "GETSCRIPT \"a\r\n",			 /* unterminated */
	    "GETSCRIPT \"a\\n\"\r\n",			 /* bad escape */
	    "HAVESPACE \"a\" 4294967296\r\n",		 /* number too large */
	    "HAVESPACE \"a\" \"1\"\r\n",		 /* a string is no number */
	    "GETSCRIPT {5+}\r\nab\r\n",		 /* literal longer than what is there */
	    "GETSCRIPT {99999999999}\r\n",		 /* 11 digits */
	    "GETSCRIPT \"a\"",				 /* no line end */
	    "GETSCRIPT \"a\"  \r\n",			 /* trailing space */
	    "GETSCRIPT \"a\"\r\nNOOP\r\n",		 /* two commands */
	    "GET\x01SCRIPT\r\n",			 /* not an atom */
	    "\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(parse(bad[i], &c, &b) == MS_PARSE_SYNTAX);
		free(b);
	}
	CHECK_EQ_INT(parse("FROBNICATE\r\n", &c, &b), MS_PARSE_UNKNOWN);
	free(b);
	/* the quoted bound: 1024 octets pass, 1025 do not */
	big[0] = 'N', big[1] = 'O', big[2] = 'O', big[3] = 'P', big[4] = ' ', big[5] = '"';
	memset(big + 6, 'x', MS_QUOTED_MAX);
	memcpy(big + 6 + MS_QUOTED_MAX, "\"\r\n", 4);
	CHECK_EQ_INT(parse(big, &c, &b), MS_PARSE_OK);
	free(b);
	memcpy(big + 6 + MS_QUOTED_MAX, "x\"\r\n", 5);
	CHECK_EQ_INT(parse(big, &c, &b), MS_PARSE_SYNTAX);
	free(b);
}

TEST(literal_tail)
{
	uint64_t n = 0;
	int plus = -1;
	CHECK(managesieve_literal_tail("PUTSCRIPT \"a\" {12+}", 19, &n, &plus) == 1 && n == 12 && plus);
	CHECK(managesieve_literal_tail("X {0}", 5, &n, &plus) == 1 && n == 0 && !plus);
	CHECK(managesieve_literal_tail("X \"{5}\"", 7, &n, &plus) == 0);
	CHECK(managesieve_literal_tail("X {}", 4, &n, &plus) == 0);
	CHECK(managesieve_literal_tail("X {12345678901+}", 16, &n, &plus) == -1);
	CHECK(managesieve_literal_tail("X {4294967296}", 14, &n, &plus) == -1);
}

TEST(sasl_string)
{
	struct ms_arg a;
	char b1[] = "\"dGVzdA==\"\r\n", b2[] = "{4+}\r\nabcd\r\n", b3[] = "\"a\" \"b\"\r\n";
	CHECK(managesieve_parse_string(b1, strlen(b1), &a) == 0);
	CHECK_EQ_STR(a.s, "dGVzdA==");
	CHECK(managesieve_parse_string(b2, strlen(b2), &a) == 0);
	CHECK(a.len == 4 && !strcmp(a.s, "abcd"));
	CHECK(managesieve_parse_string(b3, strlen(b3), &a) < 0);
}

TEST_MAIN()
