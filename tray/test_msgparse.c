/*
 * tray/test_msgparse.c — unit tests for brev-tray's text helpers (msgparse.c):
 * RFC 2047 words, From: forms, the first line of text through MIME
 * (multipart, base64, quoted-printable, charsets, a body cut off at 2 KiB),
 * fingerprints, and hostile input (every prefix of a message, random bytes)
 * that must always give bounded, valid UTF-8. Built by tray/tray.mk, run by
 * tests/e2e/t-60-tray-notify (it needs GLib, which the server's unit tests
 * do not link).
 */
#include "tray.h"

#include "../tests/unit/harness.h"

static char *dec(const char *s)
{
	return tray_decode_header(s, strlen(s));
}

TEST(decode_plain_and_words)
{
	char *s = dec("Hello world");
	CHECK_EQ_STR(s, "Hello world");
	g_free(s);
	s = dec("=?UTF-8?B?R3LDvMOfZQ==?= aus =?iso-8859-1?Q?K=F6ln?=");
	CHECK_EQ_STR(s, "Grüße aus Köln");
	g_free(s);
	/* RFC 2047 6.2: space between adjacent encoded-words disappears */
	s = dec("=?utf-8?q?a?= =?utf-8?q?b?=");
	CHECK_EQ_STR(s, "ab");
	g_free(s);
	s = dec("=?utf-8?q?hello_there?=");
	CHECK_EQ_STR(s, "hello there");
	g_free(s);
	/* malformed words stay as they are */
	s = dec("=?utf-8?x?abc?= =?broken");
	CHECK_EQ_STR(s, "=?utf-8?x?abc?= =?broken");
	g_free(s);
	/* unknown charset: still valid UTF-8 */
	s = dec("=?x-unknown?q?caf=E9?=");
	CHECK(g_utf8_validate(s, -1, NULL));
	g_free(s);
}

TEST(decode_controls_and_length)
{
	char *s = dec("a\tb\r\n c\x01\x7f d");
	CHECK_EQ_STR(s, "a b c d");
	g_free(s);
	GString *g = g_string_new(NULL);
	for (int i = 0; i < 1000; i++)
		g_string_append(g, "xy ");
	s = tray_decode_header(g->str, g->len);
	CHECK(g_utf8_strlen(s, -1) <= TRAY_FIELD_MAX + 1);
	CHECK(g_str_has_suffix(s, "…"));
	g_free(s);
	g_string_free(g, TRUE);
}

TEST(header_get_unfolds)
{
	const char *h = "From: Alice\r\n <a@b.example>\r\nsubject: Hi\r\n\tthere\r\nX: y\r\n\r\n";
	char *v = tray_header_get(h, strlen(h), "From");
	CHECK_EQ_STR(v, "Alice <a@b.example>");
	g_free(v);
	v = tray_header_get(h, strlen(h), "Subject");
	CHECK_EQ_STR(v, "Hi\tthere");
	g_free(v);
	CHECK(tray_header_get(h, strlen(h), "To") == NULL);
	CHECK(tray_header_get(h, strlen(h), "Fro") == NULL);
}

static void from_is(const char *in, const char *name, const char *addr)
{
	char *n, *a;
	tray_parse_from(in, &n, &a);
	CHECK_EQ_STR(n, name);
	CHECK_EQ_STR(a, addr);
	g_free(n);
	g_free(a);
}

TEST(from_forms)
{
	from_is("\"Doe, Jane\" <jane@example.org>", "Doe, Jane", "jane@example.org");
	from_is("Jane Doe <jane@example.org>", "Jane Doe", "jane@example.org");
	from_is("jane@example.org (Jane Doe)", "Jane Doe", "jane@example.org");
	from_is("jane@example.org", "", "jane@example.org");
	from_is("<jane@example.org>", "", "jane@example.org");
	from_is("a@x.example, b@y.example", "", "a@x.example");
	from_is("\"Q \\\"uoted\\\"\" <q@x.example>", "Q \"uoted\"", "q@x.example");
	from_is("", "", "");
	from_is("<<<>", "<<", "");
}

static void line_is(const char *ct, const char *cte, const char *text, const char *want)
{
	char *l = tray_first_line(ct, cte, text, strlen(text));
	CHECK_EQ_STR(l, want);
	g_free(l);
}

TEST(first_line_plain)
{
	line_is(NULL, NULL, "\r\n\r\n  Hello there  \r\nsecond\r\n", "Hello there");
	line_is("text/plain; charset=iso-8859-1", "8bit",
		"Gr\xfc\xdf"
		"e\r\n",
		"Grüße");
	line_is("text/plain", "quoted-printable", "caf=C3=A9 =\r\nau lait\r\n", "café au lait");
	line_is("text/plain; charset=utf-8", "base64", "SGVsbG8sIHfDtnJsZCEKbmV4dA==\r\n",
		"Hello, wörld!");
	line_is("text/plain", NULL, "> quoted\r\nreply\r\n", "reply");
	line_is("image/png", "base64", "iVBORw0KGgo=", "");
	line_is("text/plain", NULL, "", "");
}

TEST(first_line_multipart)
{
	const char *m = "This is a multi-part message in MIME format.\r\n"
			"--XyZ\r\n"
			"Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
			"--inner\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
			"Gr=C3=BC=C3=9Fe from inside\r\n"
			"--inner\r\n"
			"Content-Type: text/html\r\n\r\n<p>html</p>\r\n"
			"--inner--\r\n"
			"--XyZ--\r\n";
	line_is("multipart/mixed; boundary=XyZ", NULL, m, "Grüße from inside");
	/* html first, plain second: the plain one */
	const char *m2 = "--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b\r\n"
			 "Content-Type: text/plain\r\n\r\nplain one\r\n--b--\r\n";
	line_is("multipart/alternative; boundary=b", NULL, m2, "plain one");
	/* cut off inside the first part's header: nothing, no crash */
	line_is("multipart/mixed; boundary=b", NULL, "--b\r\nContent-Ty", "");
	/* no boundary parameter */
	line_is("multipart/mixed", NULL, "--b\r\n\r\nhi\r\n", "");
	/* a part without header lines is text/plain */
	line_is("multipart/mixed; boundary=b", NULL, "--b\r\n\r\nbare part\r\n--b--\r\n",
		"bare part");
}

TEST(fingerprint_forms)
{
	char out[65];
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	CHECK(tray_fingerprint_norm(hex, out) == 0);
	CHECK_EQ_STR(out, hex);
	CHECK(tray_fingerprint_norm("01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:"
				    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF",
				    out) == 0);
	CHECK_EQ_STR(out, hex);
	CHECK(tray_fingerprint_norm("0123", out) < 0);
	CHECK(tray_fingerprint_norm(
		  "zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", out) < 0);
	CHECK(tray_fingerprint_norm(
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef00", out) < 0);
}

/* Every prefix of a MIME message (what a 2 KiB peek can leave) and random
 * bytes: always valid, bounded UTF-8. Run under ASan by `make tray-asan`. */
TEST(hostile_prefixes_and_noise)
{
	const char *m = "--b\r\nContent-Type: text/plain; charset=\"windows-1252\"\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8gd29ybGQ=\r\n--b--\r\n";
	size_t n = strlen(m);
	for (size_t i = 0; i <= n; i++) {
		char *l = tray_first_line("multipart/mixed; boundary=b", NULL, m, i);
		CHECK(g_utf8_validate(l, -1, NULL));
		g_free(l);
	}
	GRand *r = g_rand_new_with_seed(8);
	char buf[600];
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)g_rand_int_range(r, 0, sizeof buf);
		for (size_t i = 0; i < len; i++) {
			/* bias towards the characters the parsers look at */
			static const char alpha[] = "=?Bb Qq_-\r\n\"<>()\\:;,@abc01";
			buf[i] = g_rand_boolean(r) ? alpha[g_rand_int_range(r, 0, sizeof alpha - 1)]
						   : (char)g_rand_int_range(r, 0, 256);
		}
		char *s = tray_decode_header(buf, len);
		CHECK(g_utf8_validate(s, -1, NULL) && g_utf8_strlen(s, -1) <= TRAY_FIELD_MAX + 1);
		g_free(s);
		char *nul = g_strndup(buf, len), *nm, *ad;
		tray_parse_from(nul, &nm, &ad);
		CHECK(g_utf8_validate(nm, -1, NULL) && g_utf8_validate(ad, -1, NULL));
		g_free(nm);
		g_free(ad);
		g_free(nul);
		s = tray_first_line(round % 2 ? "multipart/mixed; boundary=b" : "text/plain",
				    round % 3 ? "base64" : "quoted-printable", buf, len);
		if (!g_utf8_validate(s, -1, NULL) || g_utf8_strlen(s, -1) > TRAY_FIELD_MAX + 1)
			fprintf(stderr, "round %d: [%s] %ld\n", round, s,
				(long)g_utf8_strlen(s, -1));
		CHECK(g_utf8_validate(s, -1, NULL) && g_utf8_strlen(s, -1) <= TRAY_FIELD_MAX + 1);
		g_free(s);
	}
	g_rand_free(r);
}

TEST_MAIN()
