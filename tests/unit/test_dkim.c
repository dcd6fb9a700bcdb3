/*
 * test_dkim.c — DKIM: the tag-list parser, canonicalisation against the
 * examples of RFC 6376 3.4.5 (whole and in every split), the header
 * section reader, and sign/verify round trips with RSA and Ed25519 keys
 * (tampered body and header fail, key-record errors are permerror, a
 * missing key is permerror, a DNS failure temperror). Interoperability with
 * dkimpy and opendkim is tested end to end (t-50-mailauth).
 */
/* deps: dkim dkim_keys dns sasl spool util log */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../dkim.h"
#include "../../dns.h"
#include "../../spool.h"
#include "../../util.h"
#include "harness.h"

struct cap {
	char buf[4096];
	size_t len;
};

static void cap_sink(void *arg, const char *p, size_t n)
{
	struct cap *c = arg;
	if (c->len + n <= sizeof c->buf) {
		memcpy(c->buf + c->len, p, n);
		c->len += n;
	}
}

static void body_canon(const char *in, size_t n, int canon, size_t split, struct cap *out)
{
	struct dkim_body b;
	memset(out, 0, sizeof *out);
	dkim_body_init(&b, canon, cap_sink, out);
	if (split == 0)
		split = 1;
	for (size_t i = 0; i < n; i += split)
		dkim_body_feed(&b, in + i, n - i < split ? n - i : split);
	dkim_body_end(&b);
	out->buf[out->len < sizeof out->buf ? out->len : sizeof out->buf - 1] = 0;
}

static int body_is(const char *in, int canon, const char *want)
{
	struct cap c;
	for (size_t split = 1; split <= strlen(in) + 1; split++) {
		body_canon(in, strlen(in), canon, split, &c);
		if (c.len != strlen(want) || memcmp(c.buf, want, c.len) != 0)
			return 0;
	}
	return 1;
}

TEST(rfc6376_example_header)
{
	char out[128];
	const char *a = "A: X\r\n", *b = "B : Y\t\r\n\tZ  \r\n";
	size_t n = dkim_canon_header(a, strlen(a), DKIM_RELAXED, out, sizeof out);
	CHECK(n == 5 && memcmp(out, "a:X\r\n", 5) == 0);
	n = dkim_canon_header(b, strlen(b), DKIM_RELAXED, out, sizeof out);
	CHECK(n == 7 && memcmp(out, "b:Y Z\r\n", 7) == 0);
	n = dkim_canon_header(b, strlen(b), DKIM_SIMPLE, out, sizeof out);
	CHECK(n == strlen(b) && memcmp(out, b, n) == 0);
	/* too small an output buffer: the needed length, nothing past cap */
	CHECK(dkim_canon_header(b, strlen(b), DKIM_RELAXED, out, 3) == 7);
}

TEST(rfc6376_example_body)
{
	const char *in = " C \r\nD \t E\r\n\r\n\r\n";
	CHECK(body_is(in, DKIM_RELAXED, " C\r\nD E\r\n"));
	CHECK(body_is(in, DKIM_SIMPLE, " C \r\nD \t E\r\n"));
}

TEST(body_edge_cases)
{
	/* 3.4.3: an empty body is CRLF (simple); 3.4.4: empty (relaxed) */
	CHECK(body_is("", DKIM_SIMPLE, "\r\n"));
	CHECK(body_is("", DKIM_RELAXED, ""));
	CHECK(body_is("\r\n\r\n", DKIM_SIMPLE, "\r\n"));
	CHECK(body_is("\r\n\r\n", DKIM_RELAXED, ""));
	/* a missing final CRLF is added */
	CHECK(body_is("abc", DKIM_SIMPLE, "abc\r\n"));
	CHECK(body_is("abc  ", DKIM_RELAXED, "abc\r\n"));
	/* white-space-only lines are empty lines in relaxed, kept in simple */
	CHECK(body_is("a\r\n \t\r\n\r\n", DKIM_RELAXED, "a\r\n"));
	CHECK(body_is("a\r\n \t\r\n\r\n", DKIM_SIMPLE, "a\r\n \t\r\n"));
	/* empty lines in the middle stay */
	CHECK(body_is("a\r\n\r\n\r\nb\r\n", DKIM_RELAXED, "a\r\n\r\n\r\nb\r\n"));
	/* bare CR is content */
	CHECK(body_is("a\rb\r\n", DKIM_SIMPLE, "a\rb\r\n"));
	/* leading white space becomes one SP */
	CHECK(body_is("  x\r\n", DKIM_RELAXED, " x\r\n"));
}

TEST(tags)
{
	struct dkim_tag t[DKIM_TAGS_MAX];
	size_t nt;
	const char *s = " v=1; a=rsa-sha256;\r\n\td = example.com ; h=From : To;b=ab c;\r\n d=;";
	CHECK(dkim_tags_parse(s, strlen(s), t, DKIM_TAGS_MAX, &nt) == -1); /* d twice */
	s = " v=1; a=rsa-sha256; b=ab c\r\n d=; x=;;";
	CHECK(dkim_tags_parse(s, strlen(s), t, DKIM_TAGS_MAX, &nt) == -1); /* empty tag-spec */
	s = " v=1; b=ab c\r\n d=";
	CHECK(dkim_tags_parse(s, strlen(s), t, DKIM_TAGS_MAX, &nt) == 0 && nt == 2);
	s = " v=1; a=rsa-sha256;\r\n\td = example.com ; h=From : To;b=ab c\r\n; d ; ";
	CHECK(dkim_tags_parse(s, strlen(s), t, DKIM_TAGS_MAX, &nt) == -1);
	s = " v=1; a=rsa-sha256;\r\n\td = example.com ; h=From : To;b= ab c\r\n d ;";
	CHECK(dkim_tags_parse(s, strlen(s), t, DKIM_TAGS_MAX, &nt) == 0);
	CHECK_EQ_INT(nt, 5);
	const struct dkim_tag *d = dkim_tag_get(t, nt, "d"), *b = dkim_tag_get(t, nt, "b");
	CHECK(d && d->vlen == 11 && memcmp(d->val, "example.com", 11) == 0);
	CHECK(b && b->vlen == 8 && memcmp(b->val, "ab c\r\n d", 8) == 0);
	/* b= removal range starts right after '=' and ends with the value */
	CHECK(s[b->voff - 1] == '=' && s[b->vend] == ' ');
	CHECK(dkim_tag_get(t, nt, "D") == NULL); /* names are case-sensitive */
	CHECK(dkim_tags_parse("", 0, t, DKIM_TAGS_MAX, &nt) == 0 && nt == 0);
	CHECK(dkim_tags_parse("1a=b", 4, t, DKIM_TAGS_MAX, &nt) == -1);
	CHECK(dkim_tags_parse("a=b\x01", 4, t, DKIM_TAGS_MAX, &nt) == -1);
	CHECK(dkim_tags_parse("a=b;c=d", 7, t, 1, &nt) == -1); /* over cap */
	CHECK(dkim_tags_parse("a_1=;", 5, t, DKIM_TAGS_MAX, &nt) == 0 && nt == 1 && t[0].vlen == 0);
}

static const char msg1[] = "From: Alice <alice@example.test>\r\n"
			   "To: bob@other.test\r\n"
			   "Subject: hello\r\n"
			   " folded\r\n"
			   "Date: Mon, 2 Jan 2006 15:04:05 +0000\r\n"
			   "Message-ID: <1@example.test>\r\n"
			   "X-Unsigned: yes\r\n"
			   "\r\n"
			   "Hello  Bob,\r\n"
			   "\r\n"
			   "bye\r\n"
			   "\r\n"
			   "\r\n";

static struct spool *spool_of(const char *s, size_t n)
{
	struct spool *sp = spool_new(1 << 20);
	spool_write(sp, s, n);
	return sp;
}

TEST(msg_load)
{
	struct dkim_msg m;
	struct spool *sp = spool_of(msg1, strlen(msg1));
	const char *pre = "Received: by x; now\r\n";
	char v[256];
	CHECK(dkim_msg_load(&m, pre, strlen(pre), sp) == 0);
	CHECK_EQ_INT(m.nf, 7);
	CHECK(dkim_field_is(&m, 0, "received"));
	CHECK(dkim_field_is(&m, 3, "Subject"));
	dkim_field_value(&m, 3, v, sizeof v);
	CHECK_EQ_STR(v, "hello folded");
	CHECK(m.body_off == (uint64_t)(strstr(msg1, "\r\n\r\n") - msg1 + 4));
	CHECK(m.hlen == strlen(pre) + (size_t)(strstr(msg1, "\r\n\r\n") - msg1) + 2);
	dkim_msg_free(&m);
	spool_free(&sp);
	/* no body at all */
	sp = spool_of("Subject: x\r\n", 12);
	CHECK(dkim_msg_load(&m, NULL, 0, sp) == 0);
	CHECK(m.nf == 1 && m.body_off == 12);
	dkim_msg_free(&m);
	spool_free(&sp);
	/* empty header */
	sp = spool_of("\r\nbody\r\n", 8);
	CHECK(dkim_msg_load(&m, NULL, 0, sp) == 0);
	CHECK(m.nf == 0 && m.body_off == 2);
	dkim_msg_free(&m);
	spool_free(&sp);
}

/* ---- sign and verify ---- */

static char tmpdir[64];
static char keyrec[3][DKIM_KEYREC_MAX];
static int dns_mode; /* 0 serve keyrec, 1 TEMP, 2 PERM */

static int fake_txt(void *arg, const char *name, char *out, size_t cap)
{
	int which = strncmp(name, "ed.", 3) == 0 ? 1 : strncmp(name, "bad.", 4) == 0 ? 2 : 0;
	if (dns_mode)
		return dns_mode == 1 ? DNS_TEMP : DNS_PERM;
	str_copy(out, keyrec[which], cap);
	return DNS_OK;
}

static struct dkim_key *make_key(int alg, const char *name)
{
	char path[128], err[256];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	unlink(path);
	CHECK(dkim_key_new(path, alg, err, sizeof err) == 0);
	struct dkim_key *k = dkim_key_load(path, err, sizeof err);
	CHECK(k != NULL);
	return k;
}

/* Sign msg with k, then verify the signed text; returns the result. */
static int sign_verify(struct dkim_key *k, const char *sel, const char *msg, size_t len,
		       const char *tamper_from, const char *tamper_to, struct dkim_result *r)
{
	struct dkim_msg m;
	char err[256];
	struct spool *sp = spool_of(msg, len);
	CHECK(dkim_msg_load(&m, NULL, 0, sp) == 0);
	char *sig = dkim_sign(&m, k, "example.test", sel, time(NULL), err, sizeof err);
	CHECK(sig != NULL);
	dkim_msg_free(&m);
	spool_free(&sp);
	size_t sl = strlen(sig);
	char *full = xmalloc(sl + len + 64);
	memcpy(full, sig, sl);
	memcpy(full + sl, msg, len);
	size_t fl = sl + len;
	if (tamper_from) {
		char *at = strstr(full + sl, tamper_from);
		CHECK(at && strlen(tamper_to) == strlen(tamper_from));
		memcpy(at, tamper_to, strlen(tamper_to));
	}
	free(sig);
	sp = spool_of(full, fl);
	free(full);
	CHECK(dkim_msg_load(&m, NULL, 0, sp) == 0);
	size_t n = dkim_verify(&m, r, 1, fake_txt, NULL, time(NULL));
	dkim_msg_free(&m);
	spool_free(&sp);
	CHECK(n == 1);
	return r->res;
}

TEST(sign_verify_rsa_ed25519)
{
	struct dkim_result r;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_dkim.XXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);
	struct dkim_key *rsa = make_key(DKIM_RSA_SHA256, "rsa.key");
	struct dkim_key *ed = make_key(DKIM_ED25519_SHA256, "ed.key");
	CHECK(dkim_key_record(rsa, keyrec[0], sizeof keyrec[0]) > 300);
	CHECK(strncmp(keyrec[0], "v=DKIM1; k=rsa; p=MII", 21) == 0);
	CHECK(dkim_key_record(ed, keyrec[1], sizeof keyrec[1]) > 0);
	CHECK(strncmp(keyrec[1], "v=DKIM1; k=ed25519; p=", 22) == 0);
	dns_mode = 0;
	CHECK_EQ_INT(sign_verify(rsa, "rs", msg1, strlen(msg1), NULL, NULL, &r), DKIM_PASS);
	CHECK_EQ_STR(r.d, "example.test");
	CHECK_EQ_STR(r.s, "rs");
	CHECK(strlen(r.b) == 8);
	CHECK_EQ_INT(sign_verify(ed, "ed", msg1, strlen(msg1), NULL, NULL, &r), DKIM_PASS);
	CHECK_EQ_INT(r.alg, DKIM_ED25519_SHA256);
	/* what relaxed canonicalisation forgives */
	CHECK_EQ_INT(sign_verify(rsa, "rs", msg1, strlen(msg1), "Hello  Bob", "Hello \tBob", &r),
		     DKIM_PASS);
	CHECK_EQ_INT(sign_verify(ed, "ed", msg1, strlen(msg1), "Subject: ", "Subject:\t", &r),
		     DKIM_PASS);
	/* what it does not */
	CHECK_EQ_INT(sign_verify(rsa, "rs", msg1, strlen(msg1), "bye", "BYE", &r), DKIM_FAIL);
	CHECK_EQ_STR(r.why, "body hash mismatch");
	CHECK_EQ_INT(sign_verify(ed, "ed", msg1, strlen(msg1), "hello", "HELLO", &r), DKIM_FAIL);
	CHECK_EQ_STR(r.why, "signature mismatch");
	CHECK_EQ_INT(sign_verify(rsa, "rs", msg1, strlen(msg1), "Alice", "Alicf", &r), DKIM_FAIL);
	/* unsigned fields may change */
	CHECK_EQ_INT(
	    sign_verify(rsa, "rs", msg1, strlen(msg1), "X-Unsigned: yes", "X-Unsigned: no!", &r),
	    DKIM_PASS);
	/* the key of the other algorithm */
	CHECK_EQ_INT(sign_verify(rsa, "ed", msg1, strlen(msg1), NULL, NULL, &r), DKIM_PERMERROR);
	/* revoked / broken key records, DNS failures */
	str_copy(keyrec[2], "v=DKIM1; k=rsa; p=", sizeof keyrec[2]);
	CHECK_EQ_INT(sign_verify(rsa, "bad", msg1, strlen(msg1), NULL, NULL, &r), DKIM_PERMERROR);
	CHECK_EQ_STR(r.why, "key revoked");
	str_copy(keyrec[2], "v=DKIM1; k=rsa; p=!!!", sizeof keyrec[2]);
	CHECK_EQ_INT(sign_verify(rsa, "bad", msg1, strlen(msg1), NULL, NULL, &r), DKIM_PERMERROR);
	dns_mode = 1;
	CHECK_EQ_INT(sign_verify(rsa, "rs", msg1, strlen(msg1), NULL, NULL, &r), DKIM_TEMPERROR);
	dns_mode = 2;
	CHECK_EQ_INT(sign_verify(rsa, "rs", msg1, strlen(msg1), NULL, NULL, &r), DKIM_PERMERROR);
	dns_mode = 0;
	/* an empty body and a header-only message sign and verify */
	const char *m2 = "From: a@example.test\r\n\r\n";
	CHECK_EQ_INT(sign_verify(rsa, "rs", m2, strlen(m2), NULL, NULL, &r), DKIM_PASS);
	const char *m3 = "From: a@example.test\r\n";
	CHECK_EQ_INT(sign_verify(ed, "ed", m3, strlen(m3), NULL, NULL, &r), DKIM_PASS);
	dkim_key_free(&rsa);
	dkim_key_free(&ed);
	CHECK(rsa == NULL);
}

/* A hand-made signature field with the given tags (b= and bh= junk). */
static int verify_field(const char *field)
{
	struct dkim_msg m;
	struct dkim_result r;
	char buf[2048];
	snprintf(buf, sizeof buf, "%s\r\nFrom: a@example.test\r\n\r\nbody\r\n", field);
	struct spool *sp = spool_of(buf, strlen(buf));
	CHECK(dkim_msg_load(&m, NULL, 0, sp) == 0);
	CHECK(dkim_verify(&m, &r, 1, fake_txt, NULL, time(NULL)) == 1);
	dkim_msg_free(&m);
	spool_free(&sp);
	return r.res;
}

TEST(signature_tag_checks)
{
	const char *bh = "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA";
	char f[512];
	snprintf(f, sizeof f, "DKIM-Signature: v=1; a=rsa-sha1; d=example.test; s=rs; h=from; %s",
		 bh);
	CHECK_EQ_INT(verify_field(f), DKIM_POLICY);
	snprintf(f, sizeof f, "DKIM-Signature: v=1; a=foo; d=example.test; s=rs; h=from; %s", bh);
	CHECK_EQ_INT(verify_field(f), DKIM_NEUTRAL);
	snprintf(f, sizeof f, "DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=rs; h=to; %s",
		 bh);
	CHECK_EQ_INT(verify_field(f), DKIM_PERMERROR); /* From not signed */
	snprintf(f, sizeof f,
		 "DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=rs; h=from; "
		 "i=a@other.test; %s",
		 bh);
	CHECK_EQ_INT(verify_field(f), DKIM_PERMERROR);
	snprintf(f, sizeof f,
		 "DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=rs; h=from; x=1000; %s", bh);
	CHECK_EQ_INT(verify_field(f), DKIM_PERMERROR); /* expired */
	snprintf(f, sizeof f, "DKIM-Signature: v=2; a=rsa-sha256; d=example.test; s=rs; h=from; %s",
		 bh);
	CHECK_EQ_INT(verify_field(f), DKIM_PERMERROR);
	snprintf(f, sizeof f, "DKIM-Signature: v=1; a=rsa-sha256; d=../x; s=rs; h=from; %s", bh);
	CHECK_EQ_INT(verify_field(f), DKIM_PERMERROR);
	snprintf(f, sizeof f, "DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=rs; h=from");
	CHECK_EQ_INT(verify_field(f), DKIM_PERMERROR);
	/* a well-formed signature that does not match */
	snprintf(f, sizeof f,
		 "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed; d=example.test; s=rs; h=from; "
		 "i=@sub.example.test; %s",
		 bh);
	CHECK_EQ_INT(verify_field(f), DKIM_FAIL);
}

TEST(key_files)
{
	char sel[64], sel2[64], err[256], rec[DKIM_KEYREC_MAX];
	CHECK(dkim_keys_active(tmpdir, "example.test", sel, sizeof sel) == -1);
	CHECK(dkim_keys_new(tmpdir, "example.test", sel, sizeof sel, err, sizeof err) == 0);
	CHECK(strncmp(sel, "brev", 4) == 0 && strlen(sel) == 10);
	CHECK(dkim_keys_active(tmpdir, "example.test", sel2, sizeof sel2) == 0);
	CHECK_EQ_STR(sel2, sel);
	CHECK(dkim_keys_new(tmpdir, "example.test", sel2, sizeof sel2, err, sizeof err) == 0);
	CHECK(strlen(sel2) == 12 && strcmp(sel2 + 10, "-2") == 0);
	CHECK(dkim_keys_active(tmpdir, "example.test", sel, sizeof sel) == 0);
	CHECK_EQ_STR(sel, sel2);
	CHECK(dkim_keys_record(tmpdir, "example.test", sel, rec, sizeof rec) > 300);
	char ed[80];
	snprintf(ed, sizeof ed, "%s-ed", sel);
	CHECK(dkim_keys_record(tmpdir, "example.test", ed, rec, sizeof rec) > 0);
	CHECK(strstr(rec, "k=ed25519") != NULL);
	CHECK(dkim_keys_new(tmpdir, "../etc", sel, sizeof sel, err, sizeof err) == -1);
	/* signing for the domain gives two fields that verify */
	struct dkim_msg m;
	struct spool *sp = spool_of(msg1, strlen(msg1));
	CHECK(dkim_msg_load(&m, NULL, 0, sp) == 0);
	char *f = dkim_sign_domain(tmpdir, &m, "example.test", time(NULL));
	CHECK(f != NULL);
	CHECK(strstr(f, "a=rsa-sha256") && strstr(f, "a=ed25519-sha256"));
	CHECK(dkim_sign_domain(tmpdir, &m, "nokey.test", time(NULL)) == NULL);
	free(f);
	dkim_msg_free(&m);
	spool_free(&sp);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	CHECK(system(cmd) == 0);
}

TEST_MAIN()
