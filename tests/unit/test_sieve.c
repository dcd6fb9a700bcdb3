/*
 * test_sieve.c — the Sieve parser and interpreter (sieve_parse.c, sieve.c,
 * sieve_match.c): grammar corners, every limit with its "line N:" error,
 * run-time failures ending in exactly one implicit keep, vacation's RFC
 * 5230 4.5 conditions, and what the Pigeonhole differential test
 * (t-76) cannot see: ereject, duplicate, include, mailboxexists,
 * environment, currentdate, and the documented differences.
 */
/* deps: sieve sieve_parse sieve_match message message_text util log */
#include "harness.h"
#include "sieve.h"

#include <time.h>

#include "util.h"

static const char msg_plain[] = "Date: Mon, 07 Dec 2026 09:15:02 +0100\r\n"
				"From: Alice <alice@a.test>\r\n"
				"To: User <user@example.test>\r\n"
				"Subject: Meeting tomorrow\r\n"
				"Message-ID: <p1@a.test>\r\n"
				"\r\n"
				"Hello, shall we meet?\r\n";

static char out[4096];

/* The actions as one line: "store INBOX; redirect x@y" ... */
static void fmt(const struct sieve_result *r)
{
	struct sbuf b = {0};
	for (size_t i = 0; i < r->n; i++) {
		const struct sieve_action *a = &r->a[i];
		if (i)
			sbuf_puts(&b, "; ");
		switch (a->kind) {
		case SIEVE_KEEP:
		case SIEVE_FILEINTO:
			sbuf_printf(&b, "store %s", a->mailbox ? a->mailbox : "INBOX");
			for (size_t k = 0; k < a->nflags; k++)
				sbuf_printf(&b, "%s%s", k ? " " : " [", a->flags[k]);
			if (a->nflags)
				sbuf_puts(&b, "]");
			if (a->create)
				sbuf_puts(&b, " create");
			break;
		case SIEVE_REDIRECT:
			sbuf_printf(&b, "redirect %s%s", a->address, a->copy ? " copy" : "");
			break;
		case SIEVE_REJECT:
			sbuf_printf(&b, "reject %s", a->text);
			break;
		case SIEVE_EREJECT:
			sbuf_printf(&b, "ereject %s", a->text);
			break;
		case SIEVE_VACATION:
			sbuf_printf(&b, "vacation %s %lld \"%s\"", a->vac_to,
				    (long long)a->vac_seconds, a->vac_subject);
			break;
		case SIEVE_DISCARD:
			sbuf_puts(&b, "discard");
			break;
		}
	}
	if (!r->n)
		sbuf_puts(&b, "discard");
	snprintf(out, sizeof out, "%s", b.p ? b.p : "");
	sbuf_free(&b);
}

static char errbuf[256];

/* Compile and run; returns sieve_run's status, out = the actions,
 * errbuf = the run-time error. Compile failure fails the test. */
static int run_env(const char *script, const char *msg, const char *from, const char *to,
		   const struct sieve_env *env)
{
	struct sieve_script *s;
	char e[256];
	if (sieve_compile(script, strlen(script), &s, e, sizeof e)) {
		snprintf(out, sizeof out, "COMPILE: %s", e);
		return -2;
	}
	struct sieve_msg m = {.data = msg,
			      .len = strlen(msg),
			      .env_from = from,
			      .env_to = to,
			      .user = "user@example.test"};
	struct sieve_result r;
	int rc = sieve_run(s, &m, env, &r);
	fmt(&r);
	snprintf(errbuf, sizeof errbuf, "%s", r.err);
	sieve_result_free(&r);
	sieve_free(s);
	return rc;
}

static int run(const char *script, const char *msg)
{
	return run_env(script, msg, "alice@a.test", "user@example.test", NULL);
}

/* The compile error of a script ("" if it compiles). */
static const char *cerr(const char *script, size_t len)
{
	static char e[256];
	struct sieve_script *s;
	if (sieve_compile(script, len, &s, e, sizeof e) == 0) {
		sieve_free(s);
		return "";
	}
	CHECK(s == NULL);
	return e;
}
#define CERR(script) cerr(script, strlen(script))

TEST(implicit_keep_and_basics)
{
	CHECK_EQ_INT(run("", msg_plain), 0);
	CHECK_EQ_STR(out, "store INBOX");
	run("discard;", msg_plain);
	CHECK_EQ_STR(out, "discard");
	run("require \"fileinto\"; if header :contains \"subject\" \"MEETING\" { fileinto \"M\"; }",
	    msg_plain);
	CHECK_EQ_STR(out, "store M");
	run("require \"fileinto\"; fileinto \"A\"; fileinto \"A\"; keep; fileinto \"INBOX\";",
	    msg_plain);
	CHECK_EQ_STR(out, "store A; store INBOX"); /* duplicates merged */
	run("if size :over 1K { discard; } elsif size :under 1k { redirect \"x@y.test\"; }",
	    msg_plain);
	CHECK_EQ_STR(out, "redirect x@y.test");
	run("if size :over 100M { discard; } stop; discard;", msg_plain);
	CHECK_EQ_STR(out, "store INBOX");
}

TEST(grammar_corners)
{
	/* text: with dot-stuffing, a hash comment after text:, bracket comments */
	run("require [\"variables\", \"fileinto\"];\r\n"
	    "set \"t\" text: # comment\r\n..x\r\nline\r\n.\r\n;\r\n"
	    "/* c */ if string :is \"${t}\" \".x\r\nline\r\n\" { fileinto \"ok\"; }",
	    msg_plain);
	CHECK_EQ_STR(out, "store ok");
	/* quoted strings: \" and \\ and an undefined escape */
	run("require \"fileinto\"; fileinto \"a\\\"b\\\\c\\d\";", msg_plain);
	CHECK_EQ_STR(out, "store a\"b\\cd");
	/* encoded-character: hex and unicode; malformed stays as written */
	run("require [\"encoded-character\", \"fileinto\"]; fileinto \"${hex:41 "
	    "42}${unicode:e9}${hex:zz}\";",
	    msg_plain);
	CHECK_EQ_STR(out, "store AB\xc3\xa9${hex:zz}");
	/* without the extension it stays literal */
	run("require \"fileinto\"; fileinto \"${hex:41}\";", msg_plain);
	CHECK_EQ_STR(out, "store ${hex:41}");
}

TEST(compile_errors_have_lines)
{
	CHECK_EQ_STR(CERR("keep;\nkeep"), "line 2: expected ';' after keep");
	CHECK_EQ_STR(CERR("keep;\n\nfoo;"), "line 3: unknown command \"foo\"");
	CHECK_EQ_STR(
	    CERR("fileinto \"x\";"),
	    "line 1: fileinto requires the \"fileinto\" extension (require \"fileinto\";)");
	CHECK_EQ_STR(CERR("require \"nosuch\";"), "line 1: unsupported extension \"nosuch\"");
	CHECK_EQ_STR(CERR("keep;\nrequire \"fileinto\";"),
		     "line 2: require must come before other commands");
	CHECK_EQ_STR(CERR("if true { keep; }\nelse { discard; }\nelse { keep; }"),
		     "line 3: else without a preceding if");
	CHECK_EQ_STR(CERR("\n\"abc"), "line 2: unterminated string");
	CHECK_EQ_STR(CERR("set \"a\" text:\nabc\n"),
		     "line 1: text: block without the ending \".\" line");
	CHECK_EQ_STR(CERR("/* open"), "line 1: unterminated /* comment");
	CHECK_EQ_STR(CERR("if header :contains \"subject\" { keep; }"),
		     "line 1: header: expected 2 arguments, got 1");
	CHECK_EQ_STR(CERR("if size 10 { keep; }"),
		     "line 1: size needs exactly one of :over and :under");
	CHECK_EQ_STR(CERR("if header :is :contains \"a\" \"b\" { keep; }"),
		     "line 1: header: conflicting tags");
	CHECK_EQ_STR(CERR("if header :comparator \"i;nope\" \"a\" \"b\" { keep; }"),
		     "line 1: unknown comparator \"i;nope\"");
	CHECK_EQ_STR(CERR("if header :regex \"a\" \"b\" { keep; }"),
		     "line 1: tag :regex requires the \"regex\" extension (require \"regex\";)");
	CHECK_EQ_STR(CERR("if true keep;"),
		     "line 1: unknown test \"keep\""); /* test := id args [test] */
	CHECK_EQ_STR(CERR("if true;"), "line 1: if needs a block { ... }");
	/* found by fuzz_sieve_run: an empty or blank operator overran the word list */
	CHECK_EQ_STR(CERR("require \"relational\"; if header :value \"\" \"a\" \"b\" { keep; }"),
		     "line 1: unknown relational operator \"\"");
	CHECK_EQ_STR(CERR("require \"relational\"; if header :value \" ge\" \"a\" \"b\" { keep; }"),
		     "line 1: unknown relational operator \" ge\"");
	CHECK_EQ_STR(CERR("keep }"), "line 1: expected ';' after keep");
	CHECK_EQ_STR(CERR("if true { keep;"), "line 1: missing '}'");
	CHECK_EQ_STR(CERR("if allof(true false) { keep; }"), "line 1: true takes no test");
	CHECK_EQ_STR(CERR("if allof(true; false) { keep; }"),
		     "line 1: expected ',' or ')' in the test list");
}

/* Hostile scripts: every limit ends compilation with a clear error. */
TEST(hostile_scripts_bounded)
{
	struct sbuf b = {0};
	/* deep nesting: 40 nested ifs, then 40 nested not */
	for (int i = 0; i < 40; i++)
		sbuf_puts(&b, "if true {\n");
	for (int i = 0; i < 40; i++)
		sbuf_puts(&b, "}\n");
	CHECK_EQ_STR(cerr(b.p, b.len), "line 33: nested deeper than 32");
	b.len = 0;
	sbuf_puts(&b, "if ");
	for (int i = 0; i < 40; i++)
		sbuf_puts(&b, "not ");
	sbuf_puts(&b, "true { keep; }");
	CHECK_EQ_STR(cerr(b.p, b.len), "line 1: nested deeper than 32");
	/* a huge string */
	b.len = 0;
	sbuf_puts(&b, "\n\nredirect \"");
	for (int i = 0; i < SIEVE_STRING_MAX + 10; i++)
		sbuf_add(&b, "a", 1);
	sbuf_puts(&b, "\";");
	CHECK_EQ_STR(cerr(b.p, b.len), "line 3: string longer than 65536 bytes");
	/* 10,000 tests compile (bounded work), 30,000 are refused */
	b.len = 0;
	sbuf_puts(&b, "if anyof(");
	for (int i = 0; i < 10000; i++)
		sbuf_puts(&b, i ? ",false" : "false");
	sbuf_puts(&b, ") { discard; }");
	CHECK_EQ_STR(cerr(b.p, b.len), "");
	b.len = 0;
	for (int i = 0; i < 30000; i++)
		sbuf_puts(&b, "keep;\n");
	CHECK_EQ_STR(cerr(b.p, b.len),
		     "line 20001: script has more than 20000 commands, tests and arguments");
	/* a script over the size limit */
	b.len = 0;
	while (b.len <= SIEVE_SCRIPT_MAX)
		sbuf_puts(&b, "# padding padding padding padding padding padding\n");
	CHECK_EQ_STR(cerr(b.p, b.len), "line 1: script longer than 1048576 bytes");
	sbuf_free(&b);
	/* catastrophic regexes and back-references */
	CHECK_EQ_STR(CERR("require \"regex\";\nif header :regex \"s\" \"^(a+)+$\" { keep; }"),
		     "line 2: regex with a quantified group that holds a quantifier or '|' "
		     "(catastrophic backtracking) is not allowed");
	CHECK_EQ_STR(CERR("require \"regex\";\nif header :regex \"s\" \"(a|aa)*b\" { keep; }"),
		     "line 2: regex with a quantified group that holds a quantifier or '|' "
		     "(catastrophic backtracking) is not allowed");
	CHECK_EQ_STR(CERR("require \"regex\";\nif header :regex \"s\" \"(a)\\\\1\" { keep; }"),
		     "line 2: regex back-references are not allowed");
	/* found by fuzz_sieve_parse: "x\\+++...+" took 2 GB in glibc's regcomp */
	CHECK_EQ_STR(CERR("require \"regex\";\nif header :regex \"s\" "
			  "\"x\\\\+++++++++++++++++++++\" { keep; }"),
		     "line 2: regex with a quantifier on a quantifier is not allowed");
	CHECK_EQ_STR(CERR("require \"regex\";\nif header :regex \"s\" \"a{1,1000}\" { keep; }"),
		     "line 2: regex repetition bounds above 100 in all");
	CHECK_EQ_STR(CERR("require \"regex\";\nif header :regex \"s\" \"a{1,60}b{60}\" { keep; }"),
		     "line 2: regex repetition bounds above 100 in all");
	CHECK_EQ_STR(CERR("require \"regex\";\nif header :regex \"s\" \"a(\" { keep; }"),
		     "line 2: bad regex: Unmatched ( or \\(");
	CHECK_EQ_STR(
	    CERR("require \"regex\";\nif header :regex \"s\" \"^(ab)+[0-9]{2,3}(x|y)$\" { keep; }"),
	    "");
}

/* Every prefix of a valid script either compiles or fails with a line
 * number: no crash, no leak (under ASan). */
TEST(prefixes_never_crash)
{
	const char *s = "require [\"fileinto\", \"variables\", \"regex\"];\n"
			"if anyof (header :matches \"subject\" \"*x*\", not exists \"a\") {\n"
			"  set :lower \"v\" text:\nA\n..b\n.\n;\n fileinto \"${v}\"; }\n"
			"elsif header :regex \"s\" \"^a+$\" { discard; } else { keep; }\n";
	size_t n = strlen(s);
	for (size_t i = 0; i <= n; i++) {
		const char *e = cerr(s, i);
		CHECK(e[0] == 0 || !strncmp(e, "line ", 5));
	}
}

TEST(matches_groups_and_bounds)
{
	run("require [\"variables\", \"fileinto\"];"
	    "if header :matches \"subject\" \"M?e*t?ng *\" { fileinto "
	    "\"${1}|${2}|${3}|${4}|${0}\"; }",
	    msg_plain);
	CHECK_EQ_STR(out, "store e||i|tomorrow|Meeting tomorrow");
	/* RFC 5228 2.7.1: "?" is exactly one character. Pigeonhole 0.5.19
	 * also matches "??? *" here (documented difference). */
	run("require \"fileinto\"; if header :matches \"subject\" \"??? *\" { fileinto \"wrong\"; "
	    "}",
	    msg_plain);
	CHECK_EQ_STR(out, "store INBOX");
	/* '?' takes one UTF-8 character */
	run("require [\"variables\", \"fileinto\"]; set \"s\" \"\xc3\xa9t\xc3\xa9\";"
	    "if string :matches \"${s}\" \"?t?\" { fileinto \"${1}-${2}\"; }",
	    msg_plain);
	CHECK_EQ_STR(out, "store \xc3\xa9-\xc3\xa9");
	/* many stars on a long value: bounded by the memo, not exponential */
	struct sbuf b = {0};
	sbuf_puts(&b, "require [\"variables\", \"fileinto\"]; set \"v\" \"");
	for (int i = 0; i < 5000; i++)
		sbuf_add(&b, "a", 1);
	sbuf_puts(&b,
		  "\"; if string :matches \"${v}\" \"*a*a*a*a*a*a*a*a*a*a*b\" { fileinto \"x\"; }");
	clock_t t0 = clock();
	run(b.p, msg_plain);
	CHECK_EQ_STR(out, "store INBOX");
	CHECK((clock() - t0) / CLOCKS_PER_SEC < 20);
	sbuf_free(&b);
	/* more than 64 stars: a run-time error, implicit keep */
	b = (struct sbuf){0};
	sbuf_puts(&b, "require \"fileinto\"; if header :matches \"subject\" \"");
	for (int i = 0; i < 70; i++)
		sbuf_add(&b, "*", 1);
	sbuf_puts(&b, "\" { fileinto \"x\"; }");
	CHECK_EQ_INT(run(b.p, msg_plain), -1);
	CHECK_EQ_STR(out, "store INBOX");
	CHECK_EQ_STR(errbuf, "line 1: :matches pattern with more than 64 '*'");
	sbuf_free(&b);
}

TEST(runtime_errors_keep)
{
	/* a regex built at run time is checked too */
	CHECK_EQ_INT(run("require [\"regex\", \"variables\", \"fileinto\"]; set \"r\" \"(a+)+\";\n"
			 "if header :regex \"subject\" \"${r}\" { fileinto \"x\"; }",
			 msg_plain),
		     -1);
	CHECK_EQ_STR(out, "store INBOX");
	CHECK(!strncmp(errbuf, "line 2: regex with a quantified group", 37));
	/* too many redirects */
	CHECK_EQ_INT(run("redirect \"a@x.test\"; redirect \"b@x.test\"; redirect \"c@x.test\";\n"
			 "redirect \"d@x.test\"; redirect \"e@x.test\";",
			 msg_plain),
		     -1);
	CHECK_EQ_STR(out, "store INBOX");
	CHECK_EQ_STR(errbuf, "line 2: more than 4 redirects");
	/* reject with fileinto (RFC 5429 2.1) */
	CHECK_EQ_INT(
	    run("require [\"reject\", \"fileinto\"]; fileinto \"A\";\nreject \"no\";", msg_plain),
	    -1);
	CHECK_EQ_STR(out, "store INBOX");
	CHECK_EQ_STR(errbuf, "line 2: reject conflicts with keep/fileinto");
	/* a bad redirect address built from variables */
	CHECK_EQ_INT(
	    run("require \"variables\"; set \"a\" \"nobody\"; redirect \"${a}\";", msg_plain), -1);
	CHECK_EQ_STR(errbuf, "line 1: redirect: invalid address");
	/* too many actions */
	struct sbuf b = {0};
	sbuf_puts(&b, "require [\"fileinto\", \"copy\"];\n");
	for (int i = 0; i < 70; i++)
		sbuf_printf(&b, "fileinto :copy \"box%d\";\n", i);
	CHECK_EQ_INT(run(b.p, msg_plain), -1);
	CHECK_EQ_STR(out, "store INBOX");
	CHECK_EQ_STR(errbuf, "line 66: more than 64 actions");
	sbuf_free(&b);
}

/* SIEVE_STEPS_MAX: 250 fields x 1,000 keys is more comparisons than allowed */
TEST(steps_bounded)
{
	struct sbuf m = {0}, s = {0};
	for (int i = 0; i < 250; i++)
		sbuf_puts(&m, "X-A: value\r\n");
	sbuf_puts(&m, "\r\nbody\r\n");
	sbuf_puts(&s, "require \"fileinto\";\nif header :contains \"x-a\" [");
	for (int i = 0; i < 1000; i++)
		sbuf_puts(&s, i ? ", \"zz\"" : "\"zz\"");
	sbuf_puts(&s, "] { fileinto \"never\"; }");
	CHECK_EQ_INT(run(s.p, m.p), -1);
	CHECK_EQ_STR(errbuf, "line 2: more than 200000 evaluation steps");
	CHECK_EQ_STR(out, "store INBOX");
	/* a comparison costs with the value's length: 100 regexes on a
	 * 64 KiB body are over the budget (each about 4,000 steps) */
	m.len = 0;
	sbuf_puts(&m, "Subject: x\r\n\r\n");
	for (int i = 0; i < 64 * 1024; i++)
		sbuf_add(&m, "a", 1);
	s.len = 0;
	sbuf_puts(&s, "require [\"regex\", \"body\"];\nif body :raw :regex [");
	for (int i = 0; i < 100; i++)
		sbuf_printf(&s, "%s\"a{%d}[yz]\"", i ? ", " : "", i % 90 + 1);
	sbuf_puts(&s, "] { discard; }");
	clock_t t0 = clock();
	CHECK_EQ_INT(run(s.p, m.p), -1);
	CHECK_EQ_STR(errbuf, "line 2: more than 200000 evaluation steps");
	CHECK((clock() - t0) / CLOCKS_PER_SEC < 30);
	sbuf_free(&m);
	sbuf_free(&s);
}

TEST(more_limits)
{
	struct sbuf s = {0};
	/* a string list longer than SIEVE_LIST_MAX */
	sbuf_puts(&s, "if header :is \"a\" [");
	for (int i = 0; i < 1100; i++)
		sbuf_puts(&s, i ? ",\"k\"" : "\"k\"");
	sbuf_puts(&s, "] { keep; }");
	CHECK_EQ_STR(cerr(s.p, s.len), "line 1: string list longer than 1024");
	/* a :regex pattern longer than SIEVE_REGEX_MAX */
	s.len = 0;
	sbuf_puts(&s, "require \"regex\"; if header :regex \"a\" \"");
	for (int i = 0; i < 600; i++)
		sbuf_add(&s, "a", 1);
	sbuf_puts(&s, "\" { keep; }");
	CHECK_EQ_STR(cerr(s.p, s.len), "line 1: regex longer than 512 bytes");
	/* more than SIEVE_VARS_MAX variables */
	s.len = 0;
	sbuf_puts(&s, "require \"variables\";\n");
	for (int i = 0; i < 130; i++)
		sbuf_printf(&s, "set \"v%d\" \"x\";\n", i);
	CHECK_EQ_INT(run(s.p, msg_plain), -1);
	CHECK_EQ_STR(errbuf, "line 130: more than 128 variables");
	sbuf_free(&s);
	/* :regex sees the first SIEVE_REGEX_INPUT_MAX bytes of a value (:contains all) */
	struct sbuf m = {0};
	sbuf_puts(&m, "Subject: x\r\n\r\n");
	for (int i = 0; i < SIEVE_REGEX_INPUT_MAX + 10; i++)
		sbuf_add(&m, "a", 1);
	sbuf_puts(&m, "b");
	run("require [\"regex\", \"body\", \"fileinto\"];"
	    "if body :raw :regex \"b$\" { fileinto \"seen\"; }"
	    "if body :raw :regex \"^a+$\" { fileinto \"cut\"; }"
	    "if body :raw :contains \"ab\" { fileinto \"contains-sees-all\"; }",
	    m.p);
	CHECK_EQ_STR(out, "store cut; store contains-sees-all");
	/* the body test looks at SIEVE_BODY_MAX bytes */
	m.len = 0;
	sbuf_puts(&m, "Subject: x\r\n\r\n");
	for (int i = 0; i < SIEVE_BODY_MAX + 10; i++)
		sbuf_add(&m, "a", 1);
	sbuf_puts(&m, "needle");
	run("require [\"body\", \"fileinto\"]; if body :raw :contains \"needle\" { fileinto "
	    "\"found\"; }",
	    m.p);
	CHECK_EQ_STR(out, "store INBOX");
	sbuf_free(&m);
}

TEST(reject_ereject)
{
	run("require \"reject\"; reject \"go away\";", msg_plain);
	CHECK_EQ_STR(out, "reject go away");
	run("require \"ereject\"; ereject \"no thanks\";", msg_plain);
	CHECK_EQ_STR(out, "ereject no thanks");
}

TEST(flags_copy_create)
{
	run("require [\"imap4flags\", \"fileinto\", \"mailbox\", \"copy\", \"variables\"];"
	    "setflag \"\\\\Seen a\"; addflag [\"b\", \"A\"]; removeflag \"b\";"
	    "fileinto :create :copy \"X\"; fileinto :flags \"only\" \"Y\";"
	    "setflag \"myvar\" \"q r\"; if hasflag \"myvar\" \"r\" { fileinto \"Z\"; }",
	    msg_plain);
	CHECK_EQ_STR(out, "store X [\\Seen a] create; store Y [only]; store Z [\\Seen a]");
}

static int dup_calls;
static int dup_check(void *ctx, const char *id, int64_t secs)
{
	dup_calls++;
	return strstr(id, "<p1@a.test>") != NULL && secs == 3600;
}
static int mbox_exists(void *ctx, const char *m)
{
	return !strcmp(m, "Here");
}
static const char *script_cb(void *ctx, const char *name, size_t *len)
{
	static const char sub[] =
	    "require [\"fileinto\", \"include\"]; fileinto \"from-sub\"; return; discard;";
	static const char loop[] = "require \"include\"; include :personal \"loop\";";
	const char *s = !strcmp(name, "sub") ? sub : !strcmp(name, "loop") ? loop : NULL;
	if (s)
		*len = strlen(s);
	return s;
}

TEST(env_callbacks)
{
	struct sieve_env env = {.mailbox_exists = mbox_exists,
				.duplicate_check = dup_check,
				.script = script_cb,
				.now = 1796688000 /* 2026-12-08 00:00 UTC */,
				.domain = "example.test",
				.host = "mx.example.test"};
	run_env("require [\"duplicate\", \"fileinto\"]; if duplicate :seconds 3600 { fileinto "
		"\"dup\"; }",
		msg_plain, "a@a.test", "user@example.test", &env);
	CHECK_EQ_STR(out, "store dup");
	CHECK_EQ_INT(dup_calls, 1);
	struct sieve_script *s;
	char e[200];
	const char *sc =
	    "require \"duplicate\"; if duplicate :handle \"h\" :uniqueid \"u1\" { discard; }";
	CHECK_EQ_INT(sieve_compile(sc, strlen(sc), &s, e, sizeof e), 0);
	struct sieve_msg m = {.data = msg_plain,
			      .len = strlen(msg_plain),
			      .env_from = "a@a.test",
			      .env_to = "user@example.test",
			      .user = "user@example.test"};
	struct sieve_result r;
	CHECK_EQ_INT(sieve_run(s, &m, &env, &r), 0);
	CHECK_EQ_INT(r.ndup, 1);
	CHECK_EQ_STR(r.dup_ids[0], "h\nu1");
	CHECK_EQ_INT(r.dup_secs[0], 14 * 86400);
	sieve_result_free(&r);
	sieve_free(s);

	run_env(
	    "require [\"mailbox\", \"fileinto\"]; if mailboxexists \"Here\" { fileinto \"Here\"; }"
	    "if mailboxexists [\"Here\", \"Gone\"] { fileinto \"Gone\"; }",
	    msg_plain, "a@a.test", "user@example.test", &env);
	CHECK_EQ_STR(out, "store Here");
	run_env("require [\"include\", \"fileinto\"]; include :personal \"sub\"; include :once "
		":personal \"sub\";"
		"include :optional :personal \"missing\"; fileinto \"after\";",
		msg_plain, "a@a.test", "user@example.test", &env);
	CHECK_EQ_STR(out, "store from-sub; store after");
	CHECK_EQ_INT(run_env("require \"include\"; include :personal \"loop\";", msg_plain,
			     "a@a.test", "user@example.test", &env),
		     -1);
	CHECK_EQ_STR(errbuf, "line 1: include nested deeper than 4");
	/* each include compiles a script: their number is bounded too */
	struct sbuf b = {0};
	sbuf_puts(&b, "require \"include\";\n");
	for (int i = 0; i < 20; i++)
		sbuf_puts(&b, "include :personal \"sub\";\n");
	CHECK_EQ_INT(run_env(b.p, msg_plain, "a@a.test", "user@example.test", &env), -1);
	CHECK_EQ_STR(errbuf, "line 18: more than 16 includes in one run");
	CHECK_EQ_STR(out, "store INBOX");
	sbuf_free(&b);
	CHECK_EQ_INT(run_env("require \"include\"; include :personal \"missing\";", msg_plain,
			     "a@a.test", "user@example.test", &env),
		     -1);
	CHECK_EQ_STR(out, "store INBOX");
	run_env("require [\"environment\", \"variables\", \"fileinto\"];"
		"if environment :matches \"host\" \"mx.*\" { fileinto \"${1}\"; }"
		"if environment :is \"location\" \"MDA\" { fileinto \"mda\"; }",
		msg_plain, "a@a.test", "user@example.test", &env);
	CHECK_EQ_STR(out, "store example.test; store mda");
	run_env("require [\"date\", \"variables\", \"fileinto\"];"
		"if currentdate :matches \"iso8601\" \"*\" { fileinto \"${1}\"; }"
		"if currentdate :zone \"-0100\" :is \"date\" \"2026-12-07\" { fileinto \"west\"; }",
		msg_plain, "a@a.test", "user@example.test", &env);
	CHECK_EQ_STR(out, "store 2026-12-08T00:00:00+00:00; store west");
	/* no callbacks at all: "no" everywhere, never a crash */
	run("require [\"mailbox\", \"duplicate\", \"fileinto\"];"
	    "if anyof(mailboxexists \"x\", duplicate) { fileinto \"no\"; }",
	    msg_plain);
	CHECK_EQ_STR(out, "store INBOX");
}

static const char vac[] = "require \"vacation\"; vacation :days 2 \"away\";";

static int vac_sent(const char *headers, const char *from, const char *to)
{
	char m[2048];
	snprintf(m, sizeof m, "%sSubject: hi\r\n\r\nbody\r\n", headers);
	run_env(vac, m, from, to, NULL);
	return strstr(out, "vacation ") != NULL;
}

/* RFC 5230 4.5 and RFC 3834 2: when a reply may go out. */
TEST(vacation_conditions)
{
	CHECK(vac_sent("To: user@example.test\r\n", "a@a.test", "user@example.test"));
	CHECK_EQ_STR(out, "vacation a@a.test 172800 \"Auto: hi\"; store INBOX");
	CHECK(vac_sent("Cc: x@y.test, \"U\" <USER@example.test>\r\n", "a@a.test",
		       "user@example.test"));
	CHECK(vac_sent("To: user@example.test\r\n", "a@a.test", "user+tag@example.test"));
	CHECK(!vac_sent("To: other@example.test\r\n", "a@a.test", "user@example.test"));
	CHECK(!vac_sent("To: user@example.test\r\nAuto-Submitted: auto-replied\r\n", "a@a.test",
			"user@example.test"));
	CHECK(vac_sent("To: user@example.test\r\nAuto-Submitted: no\r\n", "a@a.test",
		       "user@example.test"));
	CHECK(!vac_sent("To: user@example.test\r\nPrecedence: bulk\r\n", "a@a.test",
			"user@example.test"));
	CHECK(!vac_sent("To: user@example.test\r\nPrecedence: junk\r\n", "a@a.test",
			"user@example.test"));
	CHECK(!vac_sent("To: user@example.test\r\nList-Unsubscribe: <mailto:u@l.test>\r\n",
			"a@a.test", "user@example.test"));
	CHECK(!vac_sent("To: user@example.test\r\n", "MAILER-DAEMON@a.test", "user@example.test"));
	CHECK(!vac_sent("To: user@example.test\r\n", "owner-list@a.test", "user@example.test"));
	CHECK(!vac_sent("To: user@example.test\r\n", "list-request@a.test", "user@example.test"));
	CHECK(!vac_sent("To: user@example.test\r\n", "", "user@example.test"));
	CHECK(!vac_sent("To: user@example.test\r\n", "user@example.test", "user@example.test"));
	/* :addresses, :seconds (not raised to a day: documented), :subject, :handle */
	run_env("require [\"vacation-seconds\"]; vacation :seconds 60 :subject \"S\" :addresses "
		"\"team@x.test\" \"r\";",
		"To: team@x.test\r\n\r\nb\r\n", "a@a.test", "user@example.test", NULL);
	CHECK_EQ_STR(out, "vacation a@a.test 60 \"S\"; store INBOX");
	CHECK_EQ_STR(CERR("require \"vacation\"; vacation :seconds 60 \"r\";"),
		     "line 1: tag :seconds requires the \"vacation-seconds\" extension (require "
		     "\"vacation-seconds\";)");
	CHECK(!vac_sent("To: user@example.test\r\n", "LISTSERV@a.test", "user@example.test"));
	CHECK(!vac_sent("To: user@example.test\r\n", "majordomo@a.test", "user@example.test"));
	CHECK(vac_sent("To: x@y.test\r\nBcc: user@example.test\r\n", "a@a.test",
		       "user@example.test"));
	CHECK(vac_sent("Resent-To: user@example.test\r\n", "a@a.test", "user@example.test"));
	run_env("require \"vacation\"; vacation :days 0 \"r\";",
		"To: user@example.test\r\n\r\nb\r\n", "a@a.test", "user@example.test", NULL);
	CHECK_EQ_STR(out, "vacation a@a.test 86400 \"Automated reply\"; store INBOX");
	CHECK_EQ_INT(run("require \"vacation\"; vacation \"a\"; vacation \"b\";", msg_plain), -1);
	CHECK_EQ_STR(errbuf, "line 1: more than one vacation action");
}

TEST(body_and_decoding)
{
	static const char mime[] =
	    "From: c@c.test\r\nTo: user@example.test\r\nSubject: =?ISO-8859-1?Q?caf=E9?=\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
	    "--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
	    "base64\r\n\r\n"
	    "aGlkZGVuIHdvcmQ=\r\n"
	    "--B\r\nContent-Type: text/html\r\n\r\n<b>bold</b>\r\n--B--\r\n";
	run("require [\"body\", \"fileinto\"];"
	    "if body :contains \"hidden word\" { fileinto \"a\"; }"
	    "if body :raw :contains \"aGlkZGVu\" { fileinto \"b\"; }"
	    "if body :content \"text/html\" :contains \"<b>\" { fileinto \"c\"; }"
	    "if body :content \"text/html\" :contains \"hidden\" { fileinto \"no\"; }"
	    "if header :is \"subject\" \"caf\xc3\xa9\" { fileinto \"d\"; }",
	    mime);
	CHECK_EQ_STR(out, "store a; store b; store c; store d");
}

TEST(strings_dates_limits)
{
	/* ${hex:00} ends the string */
	run("require [\"encoded-character\", \"fileinto\"]; fileinto \"ab${hex:00}cd\";",
	    msg_plain);
	CHECK_EQ_STR(out, "store ab");
	/* a variable longer than SIEVE_VAR_MAX is cut */
	struct sbuf b = {0};
	sbuf_puts(&b, "require [\"variables\", \"fileinto\"]; set \"v\" \"");
	for (int i = 0; i < SIEVE_VAR_MAX + 100; i++)
		sbuf_add(&b, "x", 1);
	sbuf_puts(&b, "\"; set :length \"n\" \"${v}\"; fileinto \"${n}\";");
	run(b.p, msg_plain);
	CHECK_EQ_STR(out, "store 16384");
	sbuf_free(&b);
	/* obsolete zone names; an unparsable Date is skipped */
	run("require [\"date\", \"fileinto\", \"variables\"];"
	    "if date :matches \"date\" \"std11\" \"*\" { fileinto \"${1}\"; }",
	    "Date: Tue, 1 Dec 2026 23:00:00 EST\r\n\r\nx\r\n");
	CHECK_EQ_STR(out, "store Wed, 02 Dec 2026 04:00:00 +0000");
	run("require [\"date\", \"fileinto\"]; if date :matches \"date\" \"year\" \"*\" { fileinto "
	    "\"y\"; }",
	    "Date: yesterday\r\n\r\nx\r\n");
	CHECK_EQ_STR(out, "store INBOX");
}

/* Broken messages: no empty line, a field without a colon, a NUL byte,
 * bare LF, an endless folded field: the script runs, nothing crashes. */
TEST(broken_messages)
{
	static const char nul[] = "Subject: a\0b\r\nTo: user@example.test\r\n\r\n";
	static const char *const msgs[] = {
	    "Subject: no body and no newline",
	    "garbage line without colon\nSubject: after garbage\n\nbody",
	    nul,
	    "To: <unterminated@x.test, \"quote never closed\r\nFrom: (comment (nested\r\n\r\n",
	    "",
	    "\r\n\r\nSubject: in the body\r\n",
	};
	const char *script =
	    "require [\"fileinto\", \"body\", \"variables\", \"date\"];"
	    "if header :matches \"subject\" \"*\" { fileinto \"s-${1}\"; }"
	    "if address :all :contains [\"to\", \"from\"] \"x\" { keep; }"
	    "if body :contains \"body\" { fileinto \"b\"; }"
	    "if date :is \"date\" \"year\" \"2026\" { discard; }"
	    "if body :raw :matches \"??Subject: in the body??\" { fileinto \"raw\"; }";
	for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
		size_t len = i == 2 ? sizeof nul - 1 : strlen(msgs[i]);
		struct sieve_script *s;
		char e[200];
		CHECK_EQ_INT(sieve_compile(script, strlen(script), &s, e, sizeof e), 0);
		struct sieve_msg m = {.data = msgs[i],
				      .len = len,
				      .env_from = "",
				      .env_to = "u@x.test",
				      .user = "u@x.test"};
		struct sieve_result r;
		CHECK_EQ_INT(sieve_run(s, &m, NULL, &r), 0);
		CHECK(r.n >= 1);
		fmt(&r);
		if (i == 0)
			CHECK_EQ_STR(out, "store s-no body and no newline");
		if (i == 1)
			CHECK_EQ_STR(out, "store s-after garbage; store b");
		if (i == 5) /* the header is empty: all of it is body */
			CHECK_EQ_STR(out, "store b; store raw");
		sieve_result_free(&r);
		sieve_free(s);
	}
}

/* editheader (RFC 5293): the edited message comes back whole in
 * result.edited; the original stays untouched. */
static char *edited(const char *script, const char *msg, int *rc)
{
	struct sieve_script *s;
	char e[200];
	if (sieve_compile(script, strlen(script), &s, e, sizeof e)) {
		snprintf(out, sizeof out, "COMPILE: %s", e);
		*rc = -2;
		return NULL;
	}
	struct sieve_msg m = {.data = msg,
			      .len = strlen(msg),
			      .env_from = "a@a.test",
			      .env_to = "user@example.test",
			      .user = "user@example.test"};
	struct sieve_result r;
	*rc = sieve_run(s, &m, NULL, &r);
	fmt(&r);
	snprintf(errbuf, sizeof errbuf, "%s", r.err);
	char *res = r.edited ? xstrndup(r.edited, r.edited_len) : NULL;
	if (r.edited)
		CHECK_EQ_INT(strlen(res), r.edited_len);
	sieve_result_free(&r);
	sieve_free(s);
	return res;
}

TEST(editheader)
{
	static const char m[] =
	    "Received: from a\r\nSubject: s\r\nX-A: 1\r\nX-A: 2\r\n\r\nbody\r\n";
	int rc;
	char *e = edited("require \"editheader\"; addheader \"X-Top\" \"t\"; addheader :last "
			 "\"X-End\" \"Gr\xc3\xbc\xc3\x9f\x65\r\nX-Evil: 1\";"
			 "deleteheader :index 2 \"x-a\"; deleteheader \"Received\"; deleteheader "
			 "\"auto-submitted\";",
			 m, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_STR(e, "X-Top: t\r\nReceived: from a\r\nSubject: s\r\nX-A: 1\r\n"
			"X-End: =?UTF-8?B?R3LDvMOfZSAgWC1FdmlsOiAx?=\r\n\r\nbody\r\n");
	free(e);
	/* nothing edited: NULL */
	e = edited("require \"editheader\"; deleteheader \"nosuch\";", m, &rc);
	CHECK(e == NULL);
	/* value patterns with a match type; :last */
	e = edited("require \"editheader\"; deleteheader :is \"x-a\" \"2\"; deleteheader :index 1 "
		   ":last \"x-a\";",
		   m, &rc);
	CHECK_EQ_STR(e, "Received: from a\r\nSubject: s\r\n\r\nbody\r\n");
	free(e);
	/* a header without a final line end */
	e = edited("require \"editheader\"; addheader :last \"X-B\" \"b\";", "Subject: x", &rc);
	CHECK_EQ_STR(e, "Subject: x\r\nX-B: b\r\n");
	free(e);
	/* a bad name at run time; too many edits: implicit keep, no edit */
	e = edited(
	    "require [\"editheader\", \"variables\"]; set \"n\" \"a b\"; addheader \"${n}\" \"v\";",
	    m, &rc);
	CHECK(e == NULL);
	CHECK_EQ_INT(rc, -1);
	CHECK_EQ_STR(errbuf, "line 1: addheader: invalid field name");
	struct sbuf b = {0};
	sbuf_puts(&b, "require \"editheader\";\n");
	for (int i = 0; i < 40; i++)
		sbuf_puts(&b, "addheader \"X-N\" \"v\";\n");
	e = edited(b.p, m, &rc);
	CHECK(e == NULL);
	CHECK_EQ_STR(errbuf, "line 34: more than 32 header edits");
	CHECK_EQ_STR(out, "store INBOX");
	sbuf_free(&b);
	CHECK_EQ_STR(
	    CERR("addheader \"a\" \"b\";"),
	    "line 1: addheader requires the \"editheader\" extension (require \"editheader\";)");
	CHECK_EQ_STR(CERR("require \"editheader\"; deleteheader;"),
		     "line 1: deleteheader: expected 2 arguments, got 0");
}

TEST(relational_numeric)
{
	run("require [\"relational\", \"comparator-i;ascii-numeric\", \"fileinto\", \"variables\"];"
	    "set \"n\" \"10\";"
	    "if string :value \"gt\" :comparator \"i;ascii-numeric\" \"${n}\" \"9\" { fileinto "
	    "\"num\"; }"
	    "if string :value \"gt\" \"${n}\" \"9\" { fileinto \"text\"; }"
	    "if string :value \"eq\" :comparator \"i;ascii-numeric\" \"abc\" \"xyz\" { fileinto "
	    "\"inf\"; }",
	    msg_plain);
	CHECK_EQ_STR(out, "store num; store inf");
}

TEST_MAIN()
