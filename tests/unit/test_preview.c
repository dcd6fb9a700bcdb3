/*
 * test_preview.c — preview text (message_preview.c) edge cases the e2e
 * test (t-12) does not reach cheaply: the cut at 200 characters when the
 * 200th is a 4-byte character, invalid UTF-8, controls, HTML comments
 * and scripts that never close, an entity at the end, a text part inside
 * an attached message (not looked into), attachments skipped, the parse
 * fed from a source of short reads.
 */
/* deps: message_preview message message_text util log */
#include <string.h>

#include "harness.h"
#include "preview.h"

static int preview(const char *msg, struct sbuf *out)
{
	struct msg_src src;
	msg_src_mem(&src, msg, strlen(msg));
	struct mime_part *root = mime_parse(&src);
	int r = mime_preview(root, &src, out);
	mime_free(&root);
	return r;
}

static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

TEST(cut_at_200_characters_never_inside_a_sequence)
{
	struct sbuf m = {0}, out = {0};
	sbuf_puts(&m, "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
	for (int i = 0; i < 300; i++)
		sbuf_puts(&m, "\xf0\x9f\x98\x80"); /* U+1F600, 4 bytes */
	sbuf_add(&m, "", 1);
	CHECK(preview(m.p, &out) == 1);
	CHECK_EQ_INT((int)utf8_chars(out.p, out.len), 200);
	CHECK_EQ_INT((int)out.len, 800);
	sbuf_free(&m);
	sbuf_free(&out);
}

TEST(invalid_utf8_and_controls)
{
	struct sbuf out = {0};
	CHECK(preview("Content-Type: text/plain; charset=utf-8\r\n\r\n"
		      "a\xc3\x28z\x01\x02 \t\r\n b \xe2\x82\r\n",
		      &out) == 1);
	/* a, '?' for the lone lead byte (mime_to_utf8, as SEARCH sees it),
	 * '(' z, one space for the controls and white space, b, '?' twice */
	CHECK_EQ_STR(out.p, "a?(z b ??");
	sbuf_free(&out);
}

TEST(html_unclosed_comment_and_script)
{
	struct sbuf out = {0};
	CHECK(preview("Content-Type: text/html\r\n\r\n<p>one</p><script>alert(1)", &out) == 1);
	CHECK_EQ_STR(out.p, "one");
	sbuf_free(&out);
	CHECK(preview("Content-Type: text/html\r\n\r\ntwo <!-- never closed", &out) == 1);
	CHECK_EQ_STR(out.p, "two");
	sbuf_free(&out);
	CHECK(preview("Content-Type: text/html\r\n\r\n&lt;tag&gt; &#x1F600; &bogus; &amp", &out) == 1);
	CHECK_EQ_STR(out.p, "<tag> \xf0\x9f\x98\x80 &bogus; &amp");
	sbuf_free(&out);
}

TEST(attachments_and_attached_messages_are_skipped)
{
	struct sbuf out = {0};
	const char *m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			"--b\r\nContent-Type: message/rfc822\r\n\r\n"
			"Subject: inner\r\n\r\ninner text\r\n"
			"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\n"
			"attached text\r\n"
			"--b\r\nContent-Type: text/plain\r\n\r\nthe real one\r\n--b--\r\n";
	CHECK(preview(m, &out) == 1);
	CHECK_EQ_STR(out.p, "the real one");
	sbuf_free(&out);
	CHECK(preview("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
		      "Content-Type: message/rfc822\r\n\r\nSubject: i\r\n\r\ntext\r\n--b--\r\n",
		      &out) == 0);
	CHECK(out.len == 0);
}

TEST(base64_text_part)
{
	struct sbuf out = {0};
	CHECK(preview("Content-Type: text/plain; charset=iso-8859-1\r\n"
		      "Content-Transfer-Encoding: base64\r\n\r\nY2Fm6SAgbm9pcg==\r\n",
		      &out) == 1);
	CHECK_EQ_STR(out.p, "caf\xc3\xa9 noir");
	sbuf_free(&out);
}

TEST_MAIN()
