/*
 * test_srs.c — the Sender Rewriting Scheme's address forms (srs.c):
 * round trips, the case-insensitive hash, forged and expired addresses,
 * SRS1 for senders another forwarder already rewrote, what is never
 * rewritten, key rotation, and the secret file (created once, mode 600,
 * the same for two loads). The whole path through SMTP, with SPF checked
 * by a second brev and a bounce returned, is t-28-srs-forward.
 */
/* deps: srs util log */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../mailbox.h"
#include "../../srs.h"
#include "harness.h"

static struct srs_keys keys(const char *a, const char *b)
{
	struct srs_keys k = {0};
	k.key[k.n] = a;
	k.len[k.n++] = strlen(a);
	if (b) {
		k.key[k.n] = b;
		k.len[k.n++] = strlen(b);
	}
	return k;
}

enum { DAY = 20000 };

TEST(srs0_round_trip)
{
	struct srs_keys k = keys("secret-one", NULL);
	char out[STORE_ADDR_MAX + 1], back[STORE_ADDR_MAX + 1];
	CHECK_EQ_INT(srs_forward_k(&k, "Carol.X@Sender.test", "alice.test", DAY, out, sizeof out),
		     SRS_OK);
	CHECK(strncmp(out, "SRS0=", 5) == 0);
	CHECK(strstr(out, "=Sender.test=Carol.X@alice.test") != NULL);
	CHECK_EQ_INT(strlen(out), strlen("SRS0=HHHHHH=TT=Sender.test=Carol.X@alice.test"));
	CHECK_EQ_INT(srs_reverse_k(&k, out, DAY, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "Carol.X@Sender.test");
	/* the same input signs the same way (no randomness in the address) */
	char again[STORE_ADDR_MAX + 1];
	srs_forward_k(&k, "Carol.X@Sender.test", "alice.test", DAY, again, sizeof again);
	CHECK_EQ_STR(again, out);
	/* a local part containing '=' survives: only the first fields split */
	CHECK_EQ_INT(srs_forward_k(&k, "a=b=c@x.test", "alice.test", DAY, out, sizeof out), SRS_OK);
	CHECK_EQ_INT(srs_reverse_k(&k, out, DAY, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "a=b=c@x.test");
}

TEST(case_insensitive)
{
	/* Some MTAs lower-case (or upper-case) the local part on the way
	 * back: the hash, the date and the prefix still match. */
	struct srs_keys k = keys("secret-one", NULL);
	char out[STORE_ADDR_MAX + 1], back[STORE_ADDR_MAX + 1];
	CHECK_EQ_INT(srs_forward_k(&k, "Carol@Sender.test", "alice.test", DAY, out, sizeof out),
		     SRS_OK);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	CHECK_EQ_INT(srs_reverse_k(&k, out, DAY, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "carol@sender.test");
	for (char *p = out; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	CHECK_EQ_INT(srs_reverse_k(&k, out, DAY, back, sizeof back), SRS_OK);
	/* the other separators of the scheme are read too */
	out[4] = '+';
	CHECK_EQ_INT(srs_reverse_k(&k, out, DAY, back, sizeof back), SRS_OK);
}

TEST(forged)
{
	struct srs_keys k = keys("secret-one", NULL), other = keys("secret-two", NULL);
	char out[STORE_ADDR_MAX + 1], back[STORE_ADDR_MAX + 1];
	CHECK_EQ_INT(srs_forward_k(&k, "carol@sender.test", "alice.test", DAY, out, sizeof out),
		     SRS_OK);
	/* another key's address, every single-character change of the hash,
	 * another original address under the same hash, a made-up one */
	CHECK_EQ_INT(srs_reverse_k(&other, out, DAY, back, sizeof back), SRS_BADHASH);
	for (int i = 5; i < 5 + SRS_HASH_LEN; i++) {
		char f[STORE_ADDR_MAX + 1];
		strcpy(f, out);
		f[i] = f[i] == 'A' || f[i] == 'a' ? 'B' : 'A';
		CHECK_EQ_INT(srs_reverse_k(&k, f, DAY, back, sizeof back), SRS_BADHASH);
	}
	char f[STORE_ADDR_MAX + 1];
	strcpy(f, out);
	memcpy(strstr(f, "carol@"), "karol", 5);
	CHECK_EQ_INT(srs_reverse_k(&k, f, DAY, back, sizeof back), SRS_BADHASH);
	CHECK_EQ_INT(
	    srs_reverse_k(&k, "SRS0=AAAAAA=AA=victim.test=bob@alice.test", DAY, back, sizeof back),
	    SRS_BADHASH);
	/* no key at all: nothing is ours */
	struct srs_keys none = {0};
	CHECK_EQ_INT(srs_reverse_k(&none, out, DAY, back, sizeof back), SRS_BADHASH);
	CHECK_EQ_INT(
	    srs_forward_k(&none, "carol@sender.test", "alice.test", DAY, back, sizeof back),
	    SRS_NOKEY);
}

TEST(expiry)
{
	struct srs_keys k = keys("secret-one", NULL);
	char out[STORE_ADDR_MAX + 1], back[STORE_ADDR_MAX + 1];
	CHECK_EQ_INT(srs_forward_k(&k, "carol@sender.test", "alice.test", DAY, out, sizeof out),
		     SRS_OK);
	CHECK_EQ_INT(srs_reverse_k(&k, out, DAY + SRS_MAX_AGE_DAYS, back, sizeof back), SRS_OK);
	CHECK_EQ_INT(srs_reverse_k(&k, out, DAY + SRS_MAX_AGE_DAYS + 1, back, sizeof back),
		     SRS_EXPIRED);
	/* dated tomorrow: not ours to believe either */
	CHECK_EQ_INT(srs_reverse_k(&k, out, DAY - 1, back, sizeof back), SRS_EXPIRED);
	/* the 1024-day wrap of TT: signed on day 1023 of a cycle, checked
	 * on day 3 of the next */
	CHECK_EQ_INT(srs_forward_k(&k, "carol@sender.test", "alice.test", 1023, out, sizeof out),
		     SRS_OK);
	CHECK_EQ_INT(srs_reverse_k(&k, out, 1024 + 3, back, sizeof back), SRS_OK);
	/* a forged date with a wrong hash is forged, not expired */
	out[13] = out[13] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(srs_reverse_k(&k, out, 1024 + 3, back, sizeof back), SRS_BADHASH);
}

TEST(rotation)
{
	/* a new first line signs; the old line still verifies */
	struct srs_keys old = keys("old-secret", NULL), both = keys("new-secret", "old-secret");
	char a[STORE_ADDR_MAX + 1], b[STORE_ADDR_MAX + 1], back[STORE_ADDR_MAX + 1];
	CHECK_EQ_INT(srs_forward_k(&old, "carol@sender.test", "alice.test", DAY, a, sizeof a),
		     SRS_OK);
	CHECK_EQ_INT(srs_forward_k(&both, "carol@sender.test", "alice.test", DAY, b, sizeof b),
		     SRS_OK);
	CHECK(strcmp(a, b) != 0);
	CHECK_EQ_INT(srs_reverse_k(&both, a, DAY, back, sizeof back), SRS_OK);
	CHECK_EQ_INT(srs_reverse_k(&both, b, DAY, back, sizeof back), SRS_OK);
	CHECK_EQ_INT(srs_reverse_k(&old, b, DAY, back, sizeof back), SRS_BADHASH);
}

TEST(srs1_chain)
{
	/* first forwarder f1.test, then us (alice.test), then b2.test */
	struct srs_keys k1 = keys("first", NULL), k = keys("ours", NULL), k2 = keys("third", NULL);
	char s0[STORE_ADDR_MAX + 1], s1[STORE_ADDR_MAX + 1], s1b[STORE_ADDR_MAX + 1];
	char back[STORE_ADDR_MAX + 1], back2[STORE_ADDR_MAX + 1];
	CHECK_EQ_INT(srs_forward_k(&k1, "carol@sender.test", "f1.test", DAY, s0, sizeof s0),
		     SRS_OK);
	CHECK_EQ_INT(srs_forward_k(&k, s0, "alice.test", DAY, s1, sizeof s1), SRS_OK);
	CHECK(strncmp(s1, "SRS1=", 5) == 0);
	CHECK(strstr(s1, "=f1.test==") != NULL);
	CHECK(strstr(s1, "@alice.test") != NULL);
	/* a third forwarder keeps the first forwarder's domain */
	CHECK_EQ_INT(srs_forward_k(&k2, s1, "b2.test", DAY, s1b, sizeof s1b), SRS_OK);
	CHECK(strncmp(s1b, "SRS1=", 5) == 0);
	CHECK(strstr(s1b, "=f1.test==") != NULL);
	CHECK(strstr(s1b, "@b2.test") != NULL);
	/* the bounce: b2 -> straight to f1 (skipping us), f1 -> carol */
	CHECK_EQ_INT(srs_reverse_k(&k2, s1b, DAY, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, s0);
	CHECK_EQ_INT(srs_reverse_k(&k, s1, DAY, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, s0);
	CHECK_EQ_INT(srs_reverse_k(&k1, back, DAY, back2, sizeof back2), SRS_OK);
	CHECK_EQ_STR(back2, "carol@sender.test");
	/* SRS1 has no date of its own: the first forwarder's SRS0 has one */
	CHECK_EQ_INT(srs_reverse_k(&k, s1, DAY + 500, back, sizeof back), SRS_OK);
	/* and a forged one is refused */
	CHECK_EQ_INT(srs_reverse_k(&k1, s1, DAY, back, sizeof back), SRS_BADHASH);
	char f[STORE_ADDR_MAX + 1];
	strcpy(f, s1);
	memcpy(strstr(f, "f1.test"), "ev.test", 7);
	CHECK_EQ_INT(srs_reverse_k(&k, f, DAY, back, sizeof back), SRS_BADHASH);
}

TEST(not_rewritten)
{
	struct srs_keys k = keys("secret-one", NULL);
	char out[STORE_ADDR_MAX + 1];
	CHECK_EQ_INT(srs_forward_k(&k, "", "alice.test", DAY, out, sizeof out), SRS_NOT);
	CHECK_EQ_INT(srs_forward_k(&k, "\"a b\"@x.test", "alice.test", DAY, out, sizeof out),
		     SRS_NOT);
	CHECK_EQ_INT(srs_forward_k(&k, "a@[127.0.0.1]", "alice.test", DAY, out, sizeof out),
		     SRS_NOT);
	CHECK_EQ_INT(srs_forward_k(&k, "j\xc3\xb6rg@x.test", "alice.test", DAY, out, sizeof out),
		     SRS_NOT);
	CHECK_EQ_INT(srs_forward_k(&k, "nodomain", "alice.test", DAY, out, sizeof out), SRS_NOT);
	/* found by fuzz_srs: a domain with '=' would split wrongly on the
	 * way back; an SRS1 sender with nothing after its fields */
	CHECK_EQ_INT(srs_forward_k(&k, "SR0@S1=s", "alice.test", DAY, out, sizeof out), SRS_NOT);
	CHECK_EQ_INT(
	    srs_forward_k(&k, "SRS1=ABCDEF=f.test=@x.test", "alice.test", DAY, out, sizeof out),
	    SRS_NOT);
	/* a local part that would pass 64 octets (RFC 5321 4.5.3.1.1) */
	char longish[80];
	memset(longish, 'a', 40);
	strcpy(longish + 40, "@some-long-domain.test");
	CHECK_EQ_INT(srs_forward_k(&k, longish, "alice.test", DAY, out, sizeof out), SRS_TOOLONG);
	/* the output buffer is respected */
	char small[20];
	CHECK_EQ_INT(srs_forward_k(&k, "a@x.test", "alice.test", DAY, small, sizeof small),
		     SRS_TOOLONG);
}

TEST(reverse_syntax)
{
	struct srs_keys k = keys("secret-one", NULL);
	char back[STORE_ADDR_MAX + 1];
	const char *notsrs[] = {"bob@alice.test",  "srs@alice.test",	 "SRS2=x@alice.test",
				"SRS0@alice.test", "SRS0x=a@alice.test", "",
				"@alice.test",	   "SRS0=AAAAAA=AA=d=l@"};
	for (size_t i = 0; i < sizeof notsrs / sizeof *notsrs; i++)
		CHECK_EQ_INT(srs_reverse_k(&k, notsrs[i], DAY, back, sizeof back), SRS_NOT);
	const char *bad[] = {"SRS0=@alice.test",
			     "SRS0=AAAAAA@alice.test",
			     "SRS0=AAAAAA=AA@alice.test",
			     "SRS0=AAAAAA=AA=d.test@alice.test",
			     "SRS0=AAAAAA=AA=d.test=@alice.test",
			     "SRS0=AAAAAA=A1=d.test=l@alice.test",
			     "SRS0=AAAAA=AA=d.test=l@alice.test",
			     "SRS0=AAAAAA=AAA=d.test=l@alice.test",
			     "SRS0=AAAAAA=AA==l@alice.test",
			     "SRS1=AAAAAA=@alice.test",
			     "SRS1=AAAAAA=f.test=@alice.test",
			     "SRS1=AAAAAA==x@alice.test"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK_EQ_INT(srs_reverse_k(&k, bad[i], DAY, back, sizeof back), SRS_SYNTAX);
}

TEST(secret_file)
{
	char dir[] = "/tmp/test_srs.XXXXXX", path[600];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/%s", dir, SRS_SECRET_FILE);
	struct srs_keys *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	char out[STORE_ADDR_MAX + 1], back[STORE_ADDR_MAX + 1];
	/* reading never creates it, and then nothing verifies */
	CHECK_EQ_INT(srs_keys_load(dir, 0, a), -1);
	CHECK(access(path, F_OK) != 0);
	CHECK_EQ_INT(srs_reverse(dir, "SRS0=AAAAAA=AA=d.test=l@alice.test", back, sizeof back),
		     SRS_BADHASH);
	/* the first forward creates it: mode 600, 64 hex digits */
	CHECK_EQ_INT(srs_forward(dir, "carol@sender.test", "alice.test", out, sizeof out), SRS_OK);
	struct stat sb;
	CHECK(stat(path, &sb) == 0);
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
	CHECK_EQ_INT(srs_keys_load(dir, 0, a), 0);
	CHECK_EQ_INT(a->n, 1);
	CHECK_EQ_INT(a->len[0], 64);
	CHECK_EQ_INT(srs_keys_load(dir, 1, b), 0);
	CHECK(a->len[0] == b->len[0] && memcmp(a->key[0], b->key[0], a->len[0]) == 0);
	CHECK_EQ_INT(srs_reverse(dir, out, back, sizeof back), SRS_OK);
	CHECK_EQ_STR(back, "carol@sender.test");
	/* the at-RCPT answers */
	char reply[600];
	CHECK_EQ_INT(srs_rcpt(dir, out, 1, back, sizeof back, reply, sizeof reply), 1);
	CHECK_EQ_INT(srs_rcpt(dir, out, 0, back, sizeof back, reply, sizeof reply), -1);
	CHECK(strncmp(reply, "550 5.7.1 ", 10) == 0);
	CHECK_EQ_INT(srs_rcpt(dir, "bob@alice.test", 1, back, sizeof back, reply, sizeof reply), 0);
	CHECK_EQ_INT(srs_rcpt(dir, "SRS0=AAAAAA=AA=d.test=l@alice.test", 1, back, sizeof back,
			      reply, sizeof reply),
		     -1);
	CHECK(strncmp(reply, "550 5.1.1 ", 10) == 0);
	/* comment and empty lines are skipped; several lines are several keys */
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("# rotated\n\nnew-key\r\nold-key\n", f);
	fclose(f);
	CHECK_EQ_INT(srs_keys_load(dir, 0, a), 0);
	CHECK_EQ_INT(a->n, 2);
	CHECK(a->len[0] == 7 && memcmp(a->key[0], "new-key", 7) == 0);
	CHECK(a->len[1] == 7 && memcmp(a->key[1], "old-key", 7) == 0);
	unlink(path);
	rmdir(dir);
	free(a);
	free(b);
}

TEST_MAIN()
