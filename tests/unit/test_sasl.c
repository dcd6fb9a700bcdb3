/*
 * test_sasl.c — base64 (RFC 4648 vectors, every malformed class, cap),
 * credentials, the four mechanisms (RFC 2195 and RFC 7677 examples
 * reproduced exactly, plus a small SCRAM client written here over BearSSL
 * and, when python3 is present, an independent one in Python's hashlib),
 * and the failed-login throttle.
 */
/* deps: sasl util log */
#include "harness.h"

/* harness.h's CHECK_EQ_STR formats into 512 bytes; truncating a long
 * reply in a failure message is fine. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include "../../log.h"
#include "../../sasl.h"

#include <bearssl.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* ---- fixtures: a tiny user table for the lookup callback ---- */

struct user {
	const char *name;
	struct cred cred;
	int made;
};
static struct user users[] = {
	{"tim", {0}, 0},       /* password tanstaaftanstaaf (RFC 2195) */
	{"user", {0}, 0},      /* password pencil (RFC 7677) */
	{"a,b=c", {0}, 0},     /* password pencil: SCRAM saslname escapes */
	{"jos\xc3\xa9", {0}, 0}, /* password p\xc3\xa4ss: raw UTF-8 */
};
static int lookups;

static int lookup(void *arg, const char *name, struct cred *out)
{
	lookups++;
	for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
		if (users[i].made && strcmp(users[i].name, name) == 0) {
			*out = users[i].cred;
			return 0;
		}
	return -1;
}

static void setup(void)
{
	static int done;
	if (done)
		return;
	CHECK(cred_make(&users[0].cred, "tanstaaftanstaaf") == 0);
	CHECK(cred_make(&users[1].cred, "pencil") == 0);
	uint8_t salt[16];
	CHECK_EQ_INT(b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof salt), 16);
	CHECK(sasl_test_cred_scram(&users[1].cred, "pencil", salt, 4096) == 0);
	CHECK(cred_make(&users[2].cred, "pencil") == 0);
	CHECK(cred_make(&users[3].cred, "p\xc3\xa4ss") == 0);
	for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
		users[i].made = 1;
	done = 1;
}

/* Send raw bytes (base64'd here; raw NULL = no response) and decode the
 * challenge into reply. */
static int stepb(struct sasl_session *s, const char *raw, size_t n, char *reply)
{
	static char in[SASL_IN_MAX + 8];
	char out[SASL_OUT_MAX + 1];
	if (raw)
		b64_encode(raw, n, in);
	int rc = sasl_step(s, raw ? in : NULL, out, sizeof out);
	long k = b64_decode(out, strlen(out), reply, 2047);
	reply[k < 0 ? 0 : k] = 0;
	return rc;
}

static int steps(struct sasl_session *s, const char *raw, char *reply)
{
	return stepb(s, raw, raw ? strlen(raw) : 0, reply);
}

static struct sasl_session *new_session(int mech)
{
	setup();
	struct sasl_session *s = sasl_new(mech, "mail.example.org", lookup, NULL);
	CHECK(s != NULL);
	return s;
}

/* ---- base64 ---- */

static const char *const vec[][2] = {
	{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
	{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST(b64_rfc4648_vectors)
{
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		char enc[32], dec[32];
		size_t n = strlen(vec[i][0]);
		CHECK_EQ_INT(b64_encode(vec[i][0], n, enc), strlen(vec[i][1]));
		CHECK_EQ_STR(enc, vec[i][1]);
		CHECK_EQ_INT(b64_decode(vec[i][1], strlen(vec[i][1]), dec, sizeof dec), n);
		CHECK(memcmp(dec, vec[i][0], n) == 0);
	}
}

TEST(b64_round_trips)
{
	unsigned char in[300], back[300];
	char enc[B64_ENCLEN(300) + 1];
	srand(7);
	for (size_t n = 0; n <= sizeof in; n++) {
		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)rand();
		size_t e = b64_encode(in, n, enc);
		CHECK_EQ_INT(e, B64_ENCLEN(n));
		CHECK_EQ_INT(strlen(enc), e);
		CHECK_EQ_INT(b64_decode(enc, e, back, n), n); /* exact cap is enough */
		CHECK(memcmp(in, back, n) == 0);
	}
}

TEST(b64_malformed_rejected)
{
	static const char *const bad[] = {
		"Z", "Zg", "Zg=", "Zm9", "Zm9vY",         /* length not a multiple of 4 */
		"Zm9v!A==", "Zm-v", "Zm_v", "Zm9.",       /* outside the alphabet */
		"Zm9v Yg==", " Zm9", "Zm9v\r\n", "Zm9\t", /* white space */
		"Zg==Zg==", "Zg==Zm9v",                   /* padding in the middle */
		"====", "=Zg=", "Z===", "Zm=v",           /* padding in the wrong place */
		"Zh==", "Zm9=", "Zm8/", "Zm9vYh==",       /* non-zero trailing bits, "Zm8/" ok */
		"\xc3\xa9\xc3\xa9",                       /* 8-bit */
	};
	char out[64];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (strcmp(bad[i], "Zm8/") == 0) { /* control: valid */
			CHECK_EQ_INT(b64_decode(bad[i], 4, out, sizeof out), 3);
			continue;
		}
		long r = b64_decode(bad[i], strlen(bad[i]), out, sizeof out);
		if (r != -1)
			printf("accepted: \"%s\"\n", bad[i]);
		CHECK_EQ_INT(r, -1);
	}
	/* a NUL inside the counted text */
	CHECK_EQ_INT(b64_decode("Zm\0v", 4, out, sizeof out), -1);
}

TEST(b64_cap_respected)
{
	unsigned char buf[16];
	for (size_t cap = 0; cap < 6; cap++) {
		memset(buf, 0xa5, sizeof buf);
		CHECK_EQ_INT(b64_decode("Zm9vYmFy", 8, buf, cap), -1);
		for (size_t i = 0; i < sizeof buf; i++)
			CHECK(buf[i] == 0xa5);
	}
	memset(buf, 0xa5, sizeof buf);
	CHECK_EQ_INT(b64_decode("Zm9vYmE=", 8, buf, 5), 5);
	CHECK(memcmp(buf, "fooba", 5) == 0 && buf[5] == 0xa5);
	CHECK_EQ_INT(b64_decode("", 0, NULL, 0), 0);
}

/* ---- credentials ---- */

TEST(cred_make_and_check)
{
	struct cred c;
	CHECK(cred_make(&c, "correct horse") == 0);
	CHECK_EQ_INT(c.version, CRED_VERSION);
	CHECK(strncmp(c.crypt, "$y$", 3) == 0);
	CHECK(c.scram_iter >= 4096);
	CHECK(cred_check(&c, "correct horse") == 1);
	CHECK(cred_check(&c, "correct horsE") == 0);
	CHECK(cred_check(&c, "") == 0);
	CHECK(cred_check(&c, NULL) == 0);
	/* two credentials for one password differ (fresh salts) */
	struct cred d;
	CHECK(cred_make(&d, "correct horse") == 0);
	CHECK(strcmp(c.crypt, d.crypt) != 0);
	CHECK(memcmp(c.scram_salt, d.scram_salt, 16) != 0);
	CHECK(memcmp(c.cram_inner, d.cram_inner, 16) == 0); /* no salt in HMAC-MD5 */
	/* refused passwords */
	CHECK(cred_make(&c, "") == -1);
	CHECK(cred_make(&c, "tab\there") == -1);
	char longpw[1100];
	memset(longpw, 'x', sizeof longpw - 1);
	longpw[sizeof longpw - 1] = 0;
	CHECK(cred_make(&c, longpw) == -1);
	/* a damaged stored hash never matches */
	struct cred e = d;
	memset(e.crypt, 0, sizeof e.crypt);
	CHECK(cred_check(&e, "correct horse") == 0);
	memset(e.crypt, 'x', sizeof e.crypt); /* not NUL-terminated */
	CHECK(cred_check(&e, "correct horse") == 0);
}

TEST(cred_random_password_alphabet)
{
	char pw[64], prev[64] = "";
	for (int k = 0; k < 50; k++) {
		cred_random_password(pw, sizeof pw);
		CHECK_EQ_INT(strlen(pw), 20);
		CHECK(strpbrk(pw, "0O1lI") == NULL);
		for (const char *p = pw; *p; p++)
			CHECK((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '2' && *p <= '9'));
		CHECK(strcmp(pw, prev) != 0);
		strcpy(prev, pw);
	}
	char small[5];
	cred_random_password(small, sizeof small);
	CHECK_EQ_INT(strlen(small), 4);
}

/* ---- mechanism names ---- */

TEST(mech_names)
{
	CHECK_EQ_INT(sasl_mech_parse("plain"), SASL_PLAIN);
	CHECK_EQ_INT(sasl_mech_parse("LOGIN"), SASL_LOGIN);
	CHECK_EQ_INT(sasl_mech_parse("Cram-Md5"), SASL_CRAM_MD5);
	CHECK_EQ_INT(sasl_mech_parse("SCRAM-SHA-256"), SASL_SCRAM_SHA_256);
	CHECK_EQ_INT(sasl_mech_parse("SCRAM-SHA-256-PLUS"), -1);
	CHECK_EQ_INT(sasl_mech_parse("SCRAM-SHA-1"), -1);
	CHECK_EQ_INT(sasl_mech_parse(""), -1);
	CHECK_EQ_STR(sasl_mech_list(1), "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256");
	CHECK_EQ_STR(sasl_mech_list(0), "CRAM-MD5 SCRAM-SHA-256");
	CHECK(sasl_new(SASL_NMECH, "h", lookup, NULL) == NULL);
	CHECK(sasl_new(-1, "h", lookup, NULL) == NULL);
}

/* ---- PLAIN ---- */

TEST(plain_initial_response)
{
	char r[2048];
	struct sasl_session *s = new_session(SASL_PLAIN);
	CHECK(sasl_user(s) == NULL);
	CHECK_EQ_INT(stepb(s, "\0tim\0tanstaaftanstaaf", 21, r), SASL_DONE);
	CHECK_EQ_STR(sasl_user(s), "tim");
	/* the session is over: a stray empty response is fine, more is not */
	char out[16];
	CHECK_EQ_INT(sasl_step(s, "", out, sizeof out), SASL_DONE);
	CHECK_EQ_INT(sasl_step(s, "Zm9v", out, sizeof out), SASL_BAD);
	sasl_free(&s);
	CHECK(s == NULL);
	sasl_free(&s); /* harmless */
}

TEST(plain_without_initial_response)
{
	char r[2048];
	struct sasl_session *s = new_session(SASL_PLAIN);
	CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
	CHECK_EQ_STR(r, "");
	CHECK_EQ_INT(stepb(s, "tim\0tim\0tanstaaftanstaaf", 24, r), SASL_DONE);
	CHECK_EQ_STR(sasl_user(s), "tim");
	sasl_free(&s);
}

TEST(plain_authzid_must_match)
{
	char r[2048];
	struct sasl_session *s = new_session(SASL_PLAIN);
	CHECK_EQ_INT(stepb(s, "root\0tim\0tanstaaftanstaaf", 25, r), SASL_FAIL);
	CHECK(sasl_user(s) == NULL);
	sasl_free(&s);
	s = new_session(SASL_PLAIN);
	CHECK_EQ_INT(stepb(s, "timx\0tim\0tanstaaftanstaaf", 25, r), SASL_FAIL);
	sasl_free(&s);
}

TEST(plain_wrong_password_and_malformed)
{
	char r[2048];
	static const struct {
		const char *m;
		size_t n;
		int rc;
	} cases[] = {
		{"\0tim\0tanstaaftanstaafx", 22, SASL_FAIL},
		{"\0tim\0TANSTAAFTANSTAAF", 21, SASL_FAIL},
		{"\0nobody\0tanstaaftanstaaf", 24, SASL_FAIL},
		{"\0tim", 4, SASL_BAD},                     /* one NUL */
		{"tim tanstaaftanstaaf", 20, SASL_BAD},     /* none */
		{"\0tim\0pw\0", 8, SASL_BAD},               /* three */
		{"\0\0tanstaaftanstaaf", 18, SASL_BAD},     /* empty authcid */
		{"\0tim\0", 5, SASL_BAD},                   /* empty password */
		{"\0t\x01m\0tanstaaftanstaaf", 21, SASL_BAD}, /* control char */
		{"\0t\xffm\0tanstaaftanstaaf", 21, SASL_BAD}, /* not UTF-8 */
		{"", 0, SASL_BAD},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sasl_session *s = new_session(SASL_PLAIN);
		CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
		int rc = stepb(s, cases[i].m, cases[i].n, r);
		if (rc != cases[i].rc)
			printf("case %zu\n", i);
		CHECK_EQ_INT(rc, cases[i].rc);
		CHECK(sasl_user(s) == NULL);
		char out[16];
		CHECK_EQ_INT(sasl_step(s, "", out, sizeof out), SASL_BAD); /* over */
		sasl_free(&s);
	}
}

TEST(plain_bad_base64_long_input_empty_ir)
{
	char out[SASL_OUT_MAX + 1];
	struct sasl_session *s = new_session(SASL_PLAIN);
	CHECK_EQ_INT(sasl_step(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm!", out, sizeof out), SASL_BAD);
	sasl_free(&s);
	s = new_session(SASL_PLAIN);
	CHECK_EQ_INT(sasl_step(s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", out, sizeof out), SASL_BAD);
	sasl_free(&s);
	s = new_session(SASL_PLAIN);
	CHECK_EQ_INT(sasl_step(s, "=", out, sizeof out), SASL_BAD); /* empty IR */
	sasl_free(&s);
	/* longer than SASL_IN_MAX, even though valid base64 */
	char *big = malloc(SASL_IN_MAX + 5);
	memset(big, 'A', SASL_IN_MAX + 4);
	big[SASL_IN_MAX + 4] = 0;
	s = new_session(SASL_PLAIN);
	CHECK_EQ_INT(sasl_step(s, big, out, sizeof out), SASL_BAD);
	sasl_free(&s);
	/* exactly SASL_IN_MAX is decoded (and then refused as malformed PLAIN) */
	big[SASL_IN_MAX] = 0;
	s = new_session(SASL_PLAIN);
	CHECK_EQ_INT(sasl_step(s, big, out, sizeof out), SASL_BAD);
	sasl_free(&s);
	/* a user name over 255 octets */
	char m[400] = {0};
	memset(m + 1, 'u', 300);
	memcpy(m + 302, "pw", 2);
	s = new_session(SASL_PLAIN);
	CHECK_EQ_INT(stepb(s, m, 304, out), SASL_BAD);
	sasl_free(&s);
	free(big);
}

TEST(cancel_at_any_step)
{
	char out[SASL_OUT_MAX + 1], r[2048];
	for (int mech = 0; mech < SASL_NMECH; mech++) {
		struct sasl_session *s = new_session(mech);
		CHECK_EQ_INT(sasl_step(s, "*", out, sizeof out), SASL_CANCEL);
		CHECK_EQ_STR(out, "");
		CHECK_EQ_INT(sasl_step(s, "", out, sizeof out), SASL_BAD);
		sasl_free(&s);
		s = new_session(mech);
		CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
		CHECK_EQ_INT(sasl_step(s, "*", out, sizeof out), SASL_CANCEL);
		sasl_free(&s);
	}
	struct sasl_session *s = new_session(SASL_LOGIN);
	CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
	CHECK_EQ_INT(steps(s, "tim", r), SASL_CONTINUE);
	CHECK_EQ_INT(sasl_step(s, "*", out, sizeof out), SASL_CANCEL);
	sasl_free(&s);
	s = new_session(SASL_SCRAM_SHA_256);
	CHECK_EQ_INT(steps(s, "n,,n=user,r=abc", r), SASL_CONTINUE);
	CHECK_EQ_INT(sasl_step(s, "*", out, sizeof out), SASL_CANCEL);
	sasl_free(&s);
}

/* ---- LOGIN ---- */

TEST(login_exchange)
{
	char r[2048], out[SASL_OUT_MAX + 1];
	struct sasl_session *s = new_session(SASL_LOGIN);
	CHECK_EQ_INT(sasl_step(s, NULL, out, sizeof out), SASL_CONTINUE);
	CHECK_EQ_STR(out, "VXNlcm5hbWU6"); /* "Username:" */
	CHECK_EQ_INT(sasl_step(s, "dGlt", out, sizeof out), SASL_CONTINUE);
	CHECK_EQ_STR(out, "UGFzc3dvcmQ6"); /* "Password:" */
	CHECK_EQ_INT(steps(s, "tanstaaftanstaaf", r), SASL_DONE);
	CHECK_EQ_STR(sasl_user(s), "tim");
	sasl_free(&s);

	/* user name as initial response */
	s = new_session(SASL_LOGIN);
	CHECK_EQ_INT(steps(s, "tim", r), SASL_CONTINUE);
	CHECK_EQ_STR(r, "Password:");
	CHECK_EQ_INT(steps(s, "tanstaaftanstaaf", r), SASL_DONE);
	sasl_free(&s);

	s = new_session(SASL_LOGIN);
	CHECK_EQ_INT(steps(s, "tim", r), SASL_CONTINUE);
	CHECK_EQ_INT(steps(s, "tanstaaf", r), SASL_FAIL);
	CHECK(sasl_user(s) == NULL);
	sasl_free(&s);

	s = new_session(SASL_LOGIN); /* empty user name */
	CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
	CHECK_EQ_INT(steps(s, "", r), SASL_BAD);
	sasl_free(&s);

	s = new_session(SASL_LOGIN); /* empty password */
	CHECK_EQ_INT(steps(s, "tim", r), SASL_CONTINUE);
	CHECK_EQ_INT(steps(s, "", r), SASL_FAIL);
	sasl_free(&s);

	s = new_session(SASL_LOGIN); /* bad base64 at the password step */
	CHECK_EQ_INT(steps(s, "tim", r), SASL_CONTINUE);
	CHECK_EQ_INT(sasl_step(s, "dGFuc3RhYWZ0YW5zdGFhZg=", out, sizeof out), SASL_BAD);
	sasl_free(&s);

	s = new_session(SASL_LOGIN); /* NUL in the password */
	CHECK_EQ_INT(steps(s, "tim", r), SASL_CONTINUE);
	CHECK_EQ_INT(stepb(s, "tanstaaf\0tanstaaf", 17, r), SASL_BAD);
	sasl_free(&s);
}

/* ---- CRAM-MD5 ---- */

TEST(cram_md5_rfc2195_example)
{
	char out[SASL_OUT_MAX + 1], r[2048];
	struct sasl_session *s = new_session(SASL_CRAM_MD5);
	CHECK(sasl_test_set_nonce(s, "<1896.697170952@postoffice.reston.mci.net>") == 0);
	CHECK_EQ_INT(sasl_step(s, NULL, out, sizeof out), SASL_CONTINUE);
	/* the exact base64 lines printed in RFC 2195 section 3 */
	CHECK_EQ_STR(out, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");
	CHECK_EQ_INT(sasl_step(s, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", out,
			       sizeof out),
		     SASL_DONE);
	CHECK_EQ_STR(sasl_user(s), "tim");
	CHECK_EQ_STR(out, "");
	sasl_free(&s);

	/* upper-case hex is the same digest */
	s = new_session(SASL_CRAM_MD5);
	CHECK(sasl_test_set_nonce(s, "<1896.697170952@postoffice.reston.mci.net>") == 0);
	CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
	CHECK_EQ_INT(steps(s, "tim B913A602C7EDA7A495B4E6E7334D3890", r), SASL_DONE);
	sasl_free(&s);
}

TEST(cram_md5_failures)
{
	char r[2048], out[SASL_OUT_MAX + 1];
	static const struct {
		const char *m;
		int rc;
	} cases[] = {
		{"tim b913a602c7eda7a495b4e6e7334d3891", SASL_FAIL},
		{"tom b913a602c7eda7a495b4e6e7334d3890", SASL_FAIL},
		{"timb913a602c7eda7a495b4e6e7334d3890", SASL_BAD},
		{"tim  b913a602c7eda7a495b4e6e7334d389", SASL_BAD},
		{"tim b913a602c7eda7a495b4e6e7334d38", SASL_BAD},
		{"tim b913a602c7eda7a495b4e6e7334d389g", SASL_BAD},
		{" b913a602c7eda7a495b4e6e7334d3890", SASL_BAD},
		{"", SASL_BAD},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sasl_session *s = new_session(SASL_CRAM_MD5);
		CHECK(sasl_test_set_nonce(s, "<1896.697170952@postoffice.reston.mci.net>") == 0);
		CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
		CHECK_EQ_INT(steps(s, cases[i].m, r), cases[i].rc);
		CHECK(sasl_user(s) == NULL);
		sasl_free(&s);
	}
	/* server-first: a non-empty initial response is a protocol error,
	 * an empty one ("=") is tolerated */
	struct sasl_session *s = new_session(SASL_CRAM_MD5);
	CHECK_EQ_INT(steps(s, "tim", r), SASL_BAD);
	sasl_free(&s);
	s = new_session(SASL_CRAM_MD5);
	CHECK_EQ_INT(sasl_step(s, "=", out, sizeof out), SASL_CONTINUE);
	sasl_free(&s);
}

TEST(cram_md5_random_challenge)
{
	char r[2048], r2[2048];
	struct sasl_session *s = new_session(SASL_CRAM_MD5);
	CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
	size_t n = strlen(r);
	CHECK(r[0] == '<' && strchr(r, '.') != NULL);
	CHECK(n > 20 && strcmp(r + n - 18, "@mail.example.org>") == 0);
	sasl_free(&s);
	s = new_session(SASL_CRAM_MD5);
	CHECK_EQ_INT(steps(s, NULL, r2), SASL_CONTINUE);
	CHECK(strcmp(r, r2) != 0);
	sasl_free(&s);
}

/* ---- SCRAM-SHA-256 ---- */

TEST(scram_rfc7677_example)
{
	char out[SASL_OUT_MAX + 1], r[2048];
	struct sasl_session *s = new_session(SASL_SCRAM_SHA_256);
	CHECK(sasl_test_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0") == 0);
	CHECK_EQ_INT(steps(s, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", r), SASL_CONTINUE);
	CHECK_EQ_STR(r, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
	CHECK(sasl_user(s) == NULL);
	CHECK_EQ_INT(steps(s, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			 r),
		     SASL_DONE);
	CHECK_EQ_STR(r, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
	CHECK_EQ_STR(sasl_user(s), "user");
	/* RFC 5802 5: the client answers the server-final data with an empty
	 * response, which the protocol module may pass in */
	CHECK_EQ_INT(sasl_step(s, "", out, sizeof out), SASL_DONE);
	CHECK_EQ_STR(sasl_user(s), "user");
	sasl_free(&s);

	/* the same without an initial response */
	s = new_session(SASL_SCRAM_SHA_256);
	CHECK(sasl_test_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0") == 0);
	CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
	CHECK_EQ_STR(r, "");
	CHECK_EQ_INT(steps(s, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", r), SASL_CONTINUE);
	CHECK_EQ_INT(steps(s, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			 r),
		     SASL_DONE);
	CHECK_EQ_STR(r, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
	sasl_free(&s);
}

/* An independent SCRAM-SHA-256 client, straight from RFC 5802 3. */
static void t_hmac(const void *k, size_t kl, const void *d, size_t n, uint8_t out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, k, kl);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, d, n);
	br_hmac_out(&hc, out);
}

static void t_client_final(const char *pw, const char *bare, const char *sfirst,
			   const char *cbind, char *final, char *want_v)
{
	char nonce[512], saltb[64], amsg[4096], wo[1024];
	uint8_t salt[64], sp[32], u[32], ck[32], sk[32], cs[32], proof[32], srvk[32], ss[32];
	unsigned iter;
	const char *rr = strstr(sfirst, "r="), *ss_ = strstr(sfirst, ",s="), *ii = strstr(sfirst, ",i=");
	CHECK(rr == sfirst && ss_ && ii);
	snprintf(nonce, sizeof nonce, "%.*s", (int)(ss_ - rr - 2), rr + 2);
	snprintf(saltb, sizeof saltb, "%.*s", (int)(ii - ss_ - 3), ss_ + 3);
	iter = (unsigned)atoi(ii + 3);
	long sl = b64_decode(saltb, strlen(saltb), salt, sizeof salt - 4);
	CHECK(sl > 0 && iter > 0);
	memcpy(salt + sl, "\0\0\0\1", 4);
	t_hmac(pw, strlen(pw), salt, (size_t)sl + 4, u);
	memcpy(sp, u, 32);
	for (unsigned i = 1; i < iter; i++) {
		t_hmac(pw, strlen(pw), u, 32, u);
		for (int j = 0; j < 32; j++)
			sp[j] ^= u[j];
	}
	t_hmac(sp, 32, "Client Key", 10, ck);
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, ck, 32);
	br_sha256_out(&h, sk);
	snprintf(wo, sizeof wo, "c=%s,r=%s", cbind, nonce);
	snprintf(amsg, sizeof amsg, "%s,%s,%s", bare, sfirst, wo);
	t_hmac(sk, 32, amsg, strlen(amsg), cs);
	for (int j = 0; j < 32; j++)
		proof[j] = ck[j] ^ cs[j];
	t_hmac(sp, 32, "Server Key", 10, srvk);
	t_hmac(srvk, 32, amsg, strlen(amsg), ss);
	char pb[64], sb[64];
	b64_encode(proof, 32, pb);
	b64_encode(ss, 32, sb);
	snprintf(final, 1024, "%s,p=%s", wo, pb);
	snprintf(want_v, 128, "v=%s", sb);
}

/* Full exchange: gs2 header, user (as sent), password; returns the rc of
 * the final step (or of the first, if that did not continue). */
static int scram_login(const char *gs2, const char *cbind, const char *sent_user,
		       const char *pw, const char *ext)
{
	char r[2048], bare[600], first[700], final[1024], want[128];
	struct sasl_session *s = new_session(SASL_SCRAM_SHA_256);
	snprintf(bare, sizeof bare, "n=%s,r=fyko+d2lbbFgONRv9qkxdawL%s", sent_user, ext);
	snprintf(first, sizeof first, "%s%s", gs2, bare);
	int rc = steps(s, first, r);
	if (rc == SASL_CONTINUE) {
		CHECK(strncmp(r, "r=fyko+d2lbbFgONRv9qkxdawL", 26) == 0);
		CHECK(strchr(r, ',') && strchr(r, ',') - r - 26 >= 24); /* >= 18 random bytes */
		t_client_final(pw, bare, r, cbind, final, want);
		rc = steps(s, final, r);
		if (rc == SASL_DONE)
			CHECK_EQ_STR(r, want);
		else
			CHECK_EQ_STR(r, "");
	}
	sasl_free(&s);
	return rc;
}

TEST(scram_random_nonce_and_client)
{
	setup();
	CHECK_EQ_INT(scram_login("n,,", "biws", "user", "pencil", ""), SASL_DONE);
	CHECK_EQ_INT(scram_login("n,,", "biws", "tim", "tanstaaftanstaaf", ""), SASL_DONE);
	CHECK_EQ_INT(scram_login("n,,", "biws", "user", "pencil", ",x=ignored ext"), SASL_DONE);
	CHECK_EQ_INT(scram_login("n,,", "biws", "user", "Pencil", ""), SASL_FAIL);
	CHECK_EQ_INT(scram_login("n,,", "biws", "nobody", "pencil", ""), SASL_FAIL);
	/* saslname escapes and raw UTF-8 */
	CHECK_EQ_INT(scram_login("n,,", "biws", "a=2Cb=3Dc", "pencil", ""), SASL_DONE);
	CHECK_EQ_INT(scram_login("n,,", "biws", "jos\xc3\xa9", "p\xc3\xa4ss", ""), SASL_DONE);
	/* authzid equal to the user is fine, another one is refused */
	CHECK_EQ_INT(scram_login("n,a=user,", "bixhPXVzZXIs", "user", "pencil", ""), SASL_DONE);
	CHECK_EQ_INT(scram_login("n,a=root,", "bixhPXJvb3Qs", "user", "pencil", ""), SASL_FAIL);
	/* "y": the client supports channel binding but thinks we do not; we
	 * do not, so that is no downgrade (RFC 5802 6) */
	CHECK_EQ_INT(scram_login("y,,", "eSws", "user", "pencil", ""), SASL_DONE);
	/* c= must repeat the gs2 header exactly */
	CHECK_EQ_INT(scram_login("n,,", "eSws", "user", "pencil", ""), SASL_BAD);
	CHECK_EQ_INT(scram_login("y,,", "biws", "user", "pencil", ""), SASL_BAD);
}

TEST(scram_malformed_first)
{
	static const char *const bad[] = {
		"p=tls-unique,,n=user,r=abc", /* channel binding required: not offered */
		"n,,m=ext,n=user,r=abc",      /* mandatory extension */
		"n,,r=abc,n=user",            /* attribute order */
		"n,,n=user",                  /* no nonce */
		"n,,n=user,r=",               /* empty nonce */
		"n,,n=,r=abc",                /* empty name */
		"n,,n=us=er,r=abc",           /* bad escape */
		"n,,n=us=2cer,r=abc",         /* escapes are upper case */
		"n,,n=\xff,r=abc",            /* not UTF-8 */
		"n,,n=user,r=a\x01",          /* nonce not printable */
		"n,,n=user,r=abc,",           /* empty extension */
		"n,,n=user,r=abc,1=x",        /* extension name not ALPHA */
		"x,,n=user,r=abc",
		"n,n=user,r=abc",
		"n,b=user,n=user,r=abc",
		"n",
		"",
	};
	char r[2048];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct sasl_session *s = new_session(SASL_SCRAM_SHA_256);
		CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
		int rc = steps(s, bad[i], r);
		if (rc != SASL_BAD)
			printf("accepted: \"%s\"\n", bad[i]);
		CHECK_EQ_INT(rc, SASL_BAD);
		sasl_free(&s);
	}
	struct sasl_session *s = new_session(SASL_SCRAM_SHA_256);
	CHECK_EQ_INT(stepb(s, "n,,n=user\0,r=abc", 16, r), SASL_BAD);
	sasl_free(&s);
	s = new_session(SASL_SCRAM_SHA_256);
	char out[SASL_OUT_MAX + 1];
	CHECK_EQ_INT(sasl_step(s, "=", out, sizeof out), SASL_BAD);
	sasl_free(&s);
	/* an over-long client nonce */
	char m[800] = "n,,n=user,r=";
	memset(m + strlen(m), 'x', 600);
	s = new_session(SASL_SCRAM_SHA_256);
	CHECK_EQ_INT(steps(s, m, r), SASL_BAD);
	sasl_free(&s);
}

TEST(scram_malformed_final)
{
	static const char *const N = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
	static const char *const P = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	char fin[20][300];
	int k = 0;
	snprintf(fin[k++], 300, "r=%s,c=biws,%s", N, P);                  /* order */
	snprintf(fin[k++], 300, "c=biws,r=%sX,%s", N, P);                 /* nonce */
	snprintf(fin[k++], 300, "c=biws,r=rOprNGfwEbeRWgbNEkqO,%s", P);   /* nonce */
	snprintf(fin[k++], 300, "c=eSws,r=%s,%s", N, P);                  /* cbind */
	snprintf(fin[k++], 300, "c=biws,r=%s", N);                        /* no proof */
	snprintf(fin[k++], 300, "c=biws,r=%s,p=", N);                     /* empty proof */
	snprintf(fin[k++], 300, "c=biws,r=%s,p=dHzbZapWIk4jUhN+", N);     /* short proof */
	snprintf(fin[k++], 300, "c=biws,r=%s,%s!", N, P);                 /* bad base64 */
	snprintf(fin[k++], 300, "c=biws,r=%s,%s,x=y", N, P);              /* proof not last */
	snprintf(fin[k++], 300, "c=biws,r=%s,,%s", N, P);                 /* empty ext */
	char r[2048];
	for (int i = 0; i < k; i++) {
		struct sasl_session *s = new_session(SASL_SCRAM_SHA_256);
		CHECK(sasl_test_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0") == 0);
		CHECK_EQ_INT(steps(s, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", r), SASL_CONTINUE);
		int rc = steps(s, fin[i], r);
		if (rc != SASL_BAD)
			printf("accepted: \"%s\"\n", fin[i]);
		CHECK_EQ_INT(rc, SASL_BAD);
		CHECK(sasl_user(s) == NULL);
		sasl_free(&s);
	}
	/* a well-formed but wrong proof */
	struct sasl_session *s = new_session(SASL_SCRAM_SHA_256);
	CHECK(sasl_test_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0") == 0);
	CHECK_EQ_INT(steps(s, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", r), SASL_CONTINUE);
	snprintf(fin[0], 300, "c=biws,r=%s,p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", N);
	CHECK_EQ_INT(steps(s, fin[0], r), SASL_FAIL);
	CHECK(sasl_user(s) == NULL);
	sasl_free(&s);
	/* the forced nonce is checked */
	s = new_session(SASL_SCRAM_SHA_256);
	CHECK(sasl_test_set_nonce(s, "has,comma") == -1);
	sasl_free(&s);
}

TEST(scram_unknown_user_looks_known)
{
	char r1[2048], r2[2048], r3[2048];
	struct sasl_session *s = new_session(SASL_SCRAM_SHA_256);
	CHECK_EQ_INT(steps(s, "n,,n=ghost,r=abc", r1), SASL_CONTINUE);
	sasl_free(&s);
	s = new_session(SASL_SCRAM_SHA_256);
	CHECK_EQ_INT(steps(s, "n,,n=ghost,r=abc", r2), SASL_CONTINUE);
	sasl_free(&s);
	s = new_session(SASL_SCRAM_SHA_256);
	CHECK_EQ_INT(steps(s, "n,,n=ghost2,r=abc", r3), SASL_CONTINUE);
	sasl_free(&s);
	/* same salt and count for the same unknown name, another for another */
	CHECK(strcmp(strstr(r1, ",s="), strstr(r2, ",s=")) == 0);
	CHECK(strcmp(strstr(r1, ",s="), strstr(r3, ",s=")) != 0);
	CHECK(strstr(r1, ",i=8192") != NULL);
}

/* Unknown users cost a password check too: compare the time of "no such
 * user" with "wrong password". Only a generous bound (4x), never flaky. */
static double plain_time(const char *m, size_t n)
{
	char r[2048];
	double best = 1e9;
	for (int i = 0; i < 3; i++) {
		struct timespec a, b;
		struct sasl_session *s = new_session(SASL_PLAIN);
		clock_gettime(CLOCK_MONOTONIC, &a);
		CHECK_EQ_INT(stepb(s, m, n, r), SASL_FAIL);
		clock_gettime(CLOCK_MONOTONIC, &b);
		sasl_free(&s);
		double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		if (t < best)
			best = t;
	}
	return best;
}

TEST(unknown_user_does_the_work)
{
	plain_time("\0ghost\0tanstaaftanstaaf", 23); /* warm the dummy up */
	double known = plain_time("\0tim\0wrongwrong", 15);
	double unknown = plain_time("\0ghost\0tanstaaftanstaaf", 23);
	printf("# wrong password %.1f ms, unknown user %.1f ms\n", known * 1e3, unknown * 1e3);
	CHECK(unknown * 4 > known);
	CHECK(known * 4 > unknown);
	/* CRAM-MD5 and SCRAM do their HMACs for unknown users as well; the
	 * lookup is made once per attempt either way */
	char r[2048];
	lookups = 0;
	struct sasl_session *s = new_session(SASL_CRAM_MD5);
	CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
	CHECK_EQ_INT(steps(s, "ghost b913a602c7eda7a495b4e6e7334d3890", r), SASL_FAIL);
	sasl_free(&s);
	CHECK_EQ_INT(lookups, 1);
}

/* ---- an independent implementation: Python's hashlib/hmac ---- */

static const char pyscript[] =
	"import sys,hmac,hashlib,base64\n"
	"mode=sys.argv[1]\n"
	"if mode=='cram':\n"
	"    print(hmac.new(sys.argv[2].encode(),sys.argv[3].encode(),hashlib.md5).hexdigest())\n"
	"    sys.exit(0)\n"
	"pw,bare,sf=sys.argv[2:5]\n"
	"a=dict(kv.split('=',1) for kv in sf.split(','))\n"
	"sp=hashlib.pbkdf2_hmac('sha256',pw.encode(),base64.b64decode(a['s']),int(a['i']))\n"
	"ck=hmac.new(sp,b'Client Key',hashlib.sha256).digest()\n"
	"wo='c=biws,r='+a['r']\n"
	"am=(bare+','+sf+','+wo).encode()\n"
	"cs=hmac.new(hashlib.sha256(ck).digest(),am,hashlib.sha256).digest()\n"
	"pr=bytes(x^y for x,y in zip(ck,cs))\n"
	"sk=hmac.new(sp,b'Server Key',hashlib.sha256).digest()\n"
	"print(wo+',p='+base64.b64encode(pr).decode())\n"
	"print('v='+base64.b64encode(hmac.new(sk,am,hashlib.sha256).digest()).decode())\n";

static int python_run(const char *args, char *l1, char *l2)
{
	char path[] = "/tmp/brev-test-sasl-XXXXXX", cmd[2048];
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, pyscript, sizeof pyscript - 1) != (ssize_t)(sizeof pyscript - 1)) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof cmd, "python3 %s %s 2>/dev/null", path, args);
	FILE *p = popen(cmd, "r");
	int ok = p && fgets(l1, 1024, p) && (!l2 || fgets(l2, 1024, p));
	if (p)
		pclose(p);
	unlink(path);
	if (!ok)
		return -1;
	l1[strcspn(l1, "\n")] = 0;
	if (l2)
		l2[strcspn(l2, "\n")] = 0;
	return 0;
}

TEST(python_independent_check)
{
	if (system("python3 -c 'import hashlib' >/dev/null 2>&1") != 0)
		SKIP("python3 missing: no independent check (tools/deps.sh test installs it)");
	struct user u = {"rand", {0}, 1};
	char pw[32], r[2048], args[1024], l1[1024], l2[1024], m[128];
	struct cred save = users[1].cred;
	for (int round = 0; round < 3; round++) {
		cred_random_password(pw, sizeof pw);
		CHECK(cred_make(&u.cred, pw) == 0);
		users[1].cred = u.cred; /* "user" now has the random password */

		struct sasl_session *s = new_session(SASL_SCRAM_SHA_256);
		CHECK_EQ_INT(steps(s, "n,,n=user,r=pyNonce123", r), SASL_CONTINUE);
		snprintf(args, sizeof args, "scram '%s' 'n=user,r=pyNonce123' '%s'", pw, r);
		CHECK(python_run(args, l1, l2) == 0);
		CHECK_EQ_INT(steps(s, l1, r), SASL_DONE);
		CHECK_EQ_STR(r, l2);
		sasl_free(&s);

		s = new_session(SASL_CRAM_MD5);
		CHECK_EQ_INT(steps(s, NULL, r), SASL_CONTINUE);
		snprintf(args, sizeof args, "cram '%s' '%s'", pw, r);
		CHECK(python_run(args, l1, NULL) == 0);
		snprintf(m, sizeof m, "user %s", l1);
		CHECK_EQ_INT(steps(s, m, r), SASL_DONE);
		sasl_free(&s);

		s = new_session(SASL_PLAIN);
		snprintf(m, sizeof m, "%cuser%c%s", 0, 0, pw);
		CHECK_EQ_INT(stepb(s, m, 6 + strlen(pw), r), SASL_DONE);
		sasl_free(&s);
	}
	users[1].cred = save;
}

/* ---- throttle ---- */

TEST(throttle_grows_per_address_and_resets)
{
	auth_throttle_test_config(250, 5000);
	const char *a = "192.0.2.1", *b = "192.0.2.2";
	CHECK_EQ_INT(auth_throttle_delay_ms(a), 0);
	long prev = 0;
	for (int i = 0; i < 8; i++) {
		auth_throttle_fail(a);
		long d = auth_throttle_delay_ms(a);
		CHECK(d > prev || d == 5000);
		CHECK(d <= 5000);
		prev = d;
	}
	CHECK_EQ_INT(prev, 5000);
	CHECK_EQ_INT(auth_throttle_delay_ms(b), 0); /* another address is not slowed */
	auth_throttle_fail(b);
	CHECK_EQ_INT(auth_throttle_delay_ms(b), 250);
	auth_throttle_ok(a);
	CHECK_EQ_INT(auth_throttle_delay_ms(a), 0);
	CHECK_EQ_INT(auth_throttle_delay_ms(b), 250);
	auth_throttle_ok(b);
}

TEST(throttle_wait_sleeps_and_table_is_bounded)
{
	auth_throttle_test_config(2, 20);
	log_set_level(L_ERROR); /* 300 failure lines are not interesting here */
	const char *a = "2001:db8::1";
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	auth_throttle_wait(a); /* no failures: no sleep */
	for (int i = 0; i < 4; i++) {
		auth_throttle_fail(a);
		auth_throttle_wait(a); /* 2, 4, 8, 16 ms */
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(ms >= 29);   /* it did sleep */
	CHECK(ms < 5000);  /* generous */
	/* 300 other addresses push the oldest out of the 256-entry table */
	char addr[64];
	for (int i = 0; i < 300; i++) {
		snprintf(addr, sizeof addr, "198.51.100.%d:%d", i % 256, i);
		auth_throttle_fail(addr);
	}
	CHECK_EQ_INT(auth_throttle_delay_ms(a), 0);
	CHECK_EQ_INT(auth_throttle_delay_ms(addr), 2);
	auth_throttle_test_config(250, 5000);
	log_set_level(L_INFO);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

struct waiter {
	const char *peer;
	struct timespec t0;
	double done_ms;
	int rc;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	w->rc = auth_throttle_wait(w->peer);
	w->done_ms = ms_since(&w->t0);
	return NULL;
}

/* Security review finding 2: parallel connections from one address share
 * one "next allowed" time, so their attempts are serialised, not all let
 * through after the same pause. */
TEST(throttle_serialises_parallel_attempts)
{
	auth_throttle_test_config(40, 1000);
	log_set_level(L_ERROR);
	const char *a = "203.0.113.9";
	auth_throttle_fail(a); /* delay 40 ms from now on */
	struct waiter w[6];
	pthread_t th[6];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 6; i++) {
		w[i] = (struct waiter){.peer = a, .t0 = t0};
		CHECK(pthread_create(&th[i], NULL, wait_thread, &w[i]) == 0);
	}
	double last = 0;
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(w[i].rc, 0);
		if (w[i].done_ms > last)
			last = w[i].done_ms;
	}
	CHECK(last >= 6 * 40 - 5); /* one turn each: 40, 80, ... 240 ms, not all at 40 */
	auth_throttle_ok(a);
	/* Another /64 is another key; the same /64 shares one. */
	auth_throttle_fail("2001:db8:1:2::1");
	CHECK(auth_throttle_delay_ms("2001:db8:1:2:ffff::7") > 0);
	CHECK_EQ_INT(auth_throttle_delay_ms("2001:db8:1:3::1"), 0);
	auth_throttle_ok("2001:db8:1:2::99");
	CHECK_EQ_INT(auth_throttle_delay_ms("2001:db8:1:2::1"), 0);
	auth_throttle_test_config(250, 5000);
	log_set_level(L_INFO);
}

/* A queue longer than the bound is not joined: refused after a pause. */
TEST(throttle_queue_is_bounded)
{
	auth_throttle_test_config(60, 60);
	auth_throttle_test_queue(100);
	log_set_level(L_ERROR);
	const char *a = "203.0.113.10";
	auth_throttle_fail(a);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct waiter w[2] = {{.peer = a, .t0 = t0}, {.peer = a, .t0 = t0}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&th[i], NULL, wait_thread, &w[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	/* One took the turn at 60 ms; the other would be at 120 ms > 100. */
	CHECK_EQ_INT(w[0].rc + w[1].rc, -1);
	CHECK(w[0].done_ms >= 55 && w[1].done_ms >= 55); /* both slept */
	auth_throttle_ok(a);
	auth_throttle_test_queue(0);
	auth_throttle_test_config(250, 5000);
	log_set_level(L_INFO);
}

/* ---- the per-account part and known pairs (issue 22) ---- */

/* Failures against one account name from many addresses slow that name
 * everywhere (after a few free ones), and only that name. */
TEST(throttle_account_slows_from_many_addresses)
{
	auth_throttle_test_config(10, 1000);
	log_set_level(L_ERROR);
	const char *v = "victim@example.test";
	char a[64];
	for (int i = 0; i < 3; i++) {
		snprintf(a, sizeof a, "192.0.2.%d", 10 + i);
		auth_note(a, v, 0);
	}
	CHECK_EQ_INT(auth_gate_delay_ms("192.0.2.99", v), 0); /* three are free */
	for (int i = 3; i < 8; i++) {
		snprintf(a, sizeof a, "192.0.2.%d", 10 + i);
		auth_note(a, v, 0);
	}
	CHECK_EQ_INT(auth_gate_delay_ms("192.0.2.99", v), 160); /* 10 ms << (8-3-1) */
	CHECK_EQ_INT(auth_gate_delay_ms("192.0.2.99", "VICTIM@Example.Test"), 160);
	CHECK_EQ_INT(auth_gate_delay_ms("192.0.2.99", "other@example.test"), 0);
	/* Each of those addresses failed once: its address part is 10 ms. */
	CHECK_EQ_INT(auth_throttle_delay_ms("192.0.2.10"), 10);
	/* auth_gate sleeps that long. */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_INT(auth_gate("192.0.2.98", v), 0);
	CHECK(ms_since(&t0) >= 150);
	auth_throttle_test_config(250, 5000);
	log_set_level(L_INFO);
}

/* An address the owner has logged in from is not slowed by guesses at the
 * account from elsewhere; the owner's own typos there still count. */
TEST(throttle_known_pair_is_not_locked_out)
{
	auth_throttle_test_config(10, 1000);
	auth_throttle_test_queue(500);
	log_set_level(L_ERROR);
	const char *o = "owner@example.test", *home = "192.0.2.50";
	auth_note(home, o, 1);
	char a[64];
	for (int i = 0; i < 40; i++) {
		snprintf(a, sizeof a, "198.18.%d.1", i);
		auth_note(a, o, 0);
	}
	CHECK_EQ_INT(auth_gate_delay_ms("198.18.200.1", o), -1); /* the queue is full */
	CHECK_EQ_INT(auth_gate_delay_ms(home, o), 0);
	CHECK_EQ_INT(auth_gate(home, o), 0);
	auth_note(home, o, 0); /* a typo at home */
	CHECK_EQ_INT(auth_gate_delay_ms(home, o), 10);
	auth_note(home, o, 1);
	CHECK_EQ_INT(auth_gate_delay_ms(home, o), 0);
	/* Known per address: a /64 neighbour is the same client, not another. */
	auth_note("2001:db8:5:6::1", o, 1);
	CHECK_EQ_INT(auth_gate_delay_ms("2001:db8:5:6::abcd", o), 0);
	CHECK_EQ_INT(auth_gate_delay_ms("2001:db8:5:7::1", o), -1);
	auth_throttle_test_queue(0);
	auth_throttle_test_config(250, 5000);
	log_set_level(L_INFO);
}

/* A shared address (NAT, a local proxy) where someone guesses: its users
 * who logged in there before are not slowed, a new one is slowed but not
 * refused while the queue allows. */
TEST(throttle_shared_address_spares_its_users)
{
	auth_throttle_test_config(10, 1000);
	log_set_level(L_ERROR);
	const char *nat = "203.0.113.77";
	auth_note(nat, "bob@example.test", 1);
	char n[64];
	for (int i = 0; i < 12; i++) {
		snprintf(n, sizeof n, "guess%d@example.test", i);
		auth_note(nat, n, 0);
	}
	CHECK_EQ_INT(auth_throttle_delay_ms(nat), 1000);
	CHECK_EQ_INT(auth_gate_delay_ms(nat, "bob@example.test"), 0);
	long d = auth_gate_delay_ms(nat, "carol@example.test");
	CHECK(d >= 1000 && d < 2000);
	auth_throttle_ok(nat);
	auth_throttle_test_config(250, 5000);
	log_set_level(L_INFO);
}

TEST_MAIN()
