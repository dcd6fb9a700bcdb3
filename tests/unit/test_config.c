/* Unit tests for config.c: defaults, every value type, every error path,
 * overrides, the file written by init. */
/* deps: config util log */
#include "harness.h"
#include "config.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/brev-test-config.XXXXXX";

static void write_conf(const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/brev.conf", dir);
	CHECK(file_write_atomic(path, text, strlen(text), 0600) == 0);
}

/* Load a config with text as brev.conf; returns rc and fills err. */
static int load(const char *text, struct config *c, char *err, size_t errlen)
{
	write_conf(text);
	return config_load(c, dir, NULL, 0, err, errlen);
}

static void expect_error(const char *text, const char *want)
{
	struct config c;
	char err[512] = "";
	int rc = load(text, &c, err, sizeof err);
	if (rc == 0 || !strstr(err, want)) {
		snprintf(test_why, sizeof test_why, "config '%.120s': rc %d err '%.200s', wanted '%.120s'", text,
			 rc, err, want);
		config_free(&c);
		longjmp(test_jmp, 1);
	}
	config_free(&c);
}

TEST(defaults)
{
	struct config c;
	char err[256];
	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ_INT(load("", &c, err, sizeof err), 0);
	CHECK_EQ_STR(c.domains, "localhost");
	CHECK_EQ_STR(c.listen_smtp, "127.0.0.1:2525");
	CHECK_EQ_STR(c.listen_imaps, "127.0.0.1:2993");
	CHECK_EQ_INT(c.delivery_port, 25);
	CHECK_EQ_INT(c.message_size, 50 << 20);
	CHECK_EQ_INT(c.connections, 200);
	CHECK_EQ_INT(c.quota_default, 0);
	CHECK_EQ_INT(c.nretry, 7);
	CHECK_EQ_INT(c.retry[0], 300);
	CHECK_EQ_INT(c.retry[6], 8 * 3600);
	CHECK_EQ_INT(c.delivery_max_age, 5 * 86400);
	CHECK_EQ_INT(c.dmarc_reject, 1);
	CHECK(c.hostname[0] != 0);
	if (sizeof(size_t) == 8)
		CHECK(c.map_size == 64ULL << 30);
	config_free(&c);
}

TEST(values)
{
	struct config c;
	char err[256];
	CHECK_EQ_INT(load("# comment\n\n  domains = Example.TEST other.test  \n"
			  "hostname = MX.example.test\n"
			  "listen.smtp = 0.0.0.0:25 [::]:25\n"
			  "listen.pop3 =\n"
			  "dns.resolver = 127.0.0.53:5353 ::1 10.0.0.1\n"
			  "delivery.retry = 30s 1m 2h\n"
			  "delivery.max_age = 1d\n"
			  "limits.message_size = 10M\n"
			  "quota.default = 1G\n"
			  "log.level = debug\n"
			  "auth.dmarc_reject = no\n"
			  "delivery.relay = smtp.example.net:587\n",
			  &c, err, sizeof err),
		     0);
	CHECK_EQ_STR(c.domains, "example.test other.test");
	CHECK_EQ_STR(c.hostname, "mx.example.test");
	CHECK_EQ_STR(c.listen_pop3, "");
	CHECK_EQ_INT(c.nretry, 3);
	CHECK_EQ_INT(c.retry[2], 7200);
	CHECK_EQ_INT(c.delivery_max_age, 86400);
	CHECK_EQ_INT(c.message_size, 10 << 20);
	CHECK(c.quota_default == 1ULL << 30);
	CHECK_EQ_INT(c.log_level, 3);
	CHECK_EQ_INT(c.dmarc_reject, 0);
	CHECK(config_domain_is_local(&c, "EXAMPLE.test"));
	CHECK(config_domain_is_local(&c, "other.test."));
	CHECK(!config_domain_is_local(&c, "example.tes"));
	CHECK(!config_domain_is_local(&c, "xexample.test"));
	CHECK(!config_domain_is_local(&c, ""));
	config_free(&c);
}

TEST(errors_name_the_line)
{
	expect_error("domains = a.test\nno.such.key = 1\n", "brev.conf:2: unknown key 'no.such.key'");
	expect_error("just words\n", "brev.conf:1: expected 'key = value'");
	expect_error("domains =\n", "needs at least one domain");
	expect_error("domains = bad..name\n", "not a domain name");
	expect_error("domains = a.test b_ad!.test\n", "not a domain name");
	expect_error("hostname = -\x01\n", "not a host name");
	expect_error("listen.smtp = 127.0.0.1\n", "expected ADDRESS:PORT");
	expect_error("listen.smtp = 127.0.0.1:0\n", "bad port");
	expect_error("listen.smtp = 127.0.0.1:65536\n", "bad port");
	expect_error("listen.smtp = localhost:25\n", "bad IPv4 address");
	expect_error("listen.imap = [::1:143\n", "expected [IPv6]:PORT");
	expect_error("listen.imap = [::g]:143\n", "bad IPv6 address");
	expect_error("dns.resolver = nameserver\n", "bad IPv4 address");
	expect_error("delivery.port = 0\n", "delivery.port = 0 is too small: at least 1");
	expect_error("delivery.port = 25x\n", "not a whole number");
	expect_error("delivery.port = \n", "not a whole number");
	expect_error("delivery.relay = relay.example.net\n", "expected HOST:PORT");
	expect_error("delivery.retry = 5m never\n", "'never' is not a duration");
	expect_error("delivery.retry =\n", "needs at least one interval");
	expect_error("delivery.max_age = 10q\n", "not a duration");
	expect_error("limits.message_size = 50X\n", "not a size");
	expect_error("limits.message_size = 99999999999999999999\n", "not a size");
	expect_error("limits.connections = -1\n", "is too small: at least 1");
	expect_error("quota.default = lots\n", "not a size");
	expect_error("store.map_size = 100\n", "at least 1M");
	expect_error("log.level = verbose\n", "not one of error, warn, info, debug");
	expect_error("auth.dmarc_reject = maybe\n", "not yes or no");
	expect_error("log.level = info\n\n\nfoo = bar\n", "brev.conf:4:");
}

/* Issue 23: a value of the right kind outside its key's bounds gets the
 * bound it broke and the whole range, in the key's own units, for every
 * ranged key of the table (T_INT, T_SIZE and T_DURATION with bounds). */
TEST(range_errors_say_the_range)
{
	expect_error("delivery.max_age = 1s\n",
		     "brev.conf:1: delivery.max_age = 1s is too short: at least 60s (the range is 60s to 60d)");
	expect_error("delivery.max_age = 59\n", "is too short: at least 60s");
	expect_error("delivery.max_age = 61d\n",
		     "delivery.max_age = 61d is too long: at most 60d (the range is 60s to 60d)");
	expect_error("delivery.port = 0\n",
		     "delivery.port = 0 is too small: at least 1 (the range is 1 to 65535)");
	expect_error("delivery.port = 65536\n", "delivery.port = 65536 is too large: at most 65535");
	expect_error("limits.message_size = 10\n",
		     "limits.message_size = 10 is too small: at least 1K (the range is 1K to 2G)");
	expect_error("limits.message_size = 3G\n", "limits.message_size = 3G is too large: at most 2G");
	expect_error("limits.connections = 0\n",
		     "limits.connections = 0 is too small: at least 1 (the range is 1 to 100000)");
	expect_error("limits.connections = 100001\n", "is too large: at most 100000");
	expect_error("store.map_size = 100\n", "at least 1M");
	/* the bounds themselves are accepted */
	{
		struct config c;
		char err[256] = "";
		CHECK_EQ_INT(load("delivery.max_age = 60\nlimits.message_size = 2G\ndelivery.port = 65535\n"
				  "limits.connections = 1\n", &c, err, sizeof err), 0);
		CHECK_EQ_INT(c.delivery_max_age, 60);
		config_free(&c);
	}
	/* and -o says the same */
	{
		struct config c;
		char err[256] = "";
		char *o[] = {"delivery.max_age=30s"};
		write_conf("");
		CHECK(config_load(&c, dir, o, 1, err, sizeof err) < 0);
		CHECK_EQ_STR(err, "-o delivery.max_age: delivery.max_age = 30s is too short: at least 60s "
				  "(the range is 60s to 60d)");
		config_free(&c);
	}
}

TEST(overrides)
{
	struct config c;
	char err[256];
	char *ok[] = {"delivery.port=2525", "listen.smtp = 127.0.0.1:3000"};
	char *bad[] = {"no.such.key=1"};
	char *noeq[] = {"log.level"};
	char *badval[] = {"limits.connections=many"};
	write_conf("delivery.port = 26\n");
	CHECK_EQ_INT(config_load(&c, dir, ok, 2, err, sizeof err), 0);
	CHECK_EQ_INT(c.delivery_port, 2525);
	CHECK_EQ_STR(c.listen_smtp, "127.0.0.1:3000");
	config_free(&c);
	CHECK_EQ_INT(config_load(&c, dir, bad, 1, err, sizeof err), -1);
	CHECK_EQ_STR(err, "-o no.such.key: unknown key 'no.such.key'");
	config_free(&c);
	CHECK_EQ_INT(config_load(&c, dir, noeq, 1, err, sizeof err), -1);
	CHECK(strstr(err, "expected KEY=VALUE") != NULL);
	config_free(&c);
	CHECK_EQ_INT(config_load(&c, dir, badval, 1, err, sizeof err), -1);
	CHECK(strstr(err, "-o limits.connections: ") == err);
	config_free(&c);
}

TEST(missing_file_is_defaults)
{
	struct config c;
	char err[256];
	char path[512];
	snprintf(path, sizeof path, "%s/brev.conf", dir);
	unlink(path);
	CHECK_EQ_INT(config_load(&c, dir, NULL, 0, err, sizeof err), 0);
	CHECK_EQ_STR(c.domains, "localhost");
	config_free(&c);
}

TEST(nul_byte_rejected)
{
	struct config c;
	char err[256];
	char path[512];
	snprintf(path, sizeof path, "%s/brev.conf", dir);
	CHECK(file_write_atomic(path, "log.level = info\0x\n", 19, 0600) == 0);
	CHECK_EQ_INT(config_load(&c, dir, NULL, 0, err, sizeof err), -1);
	CHECK(strstr(err, "NUL") != NULL);
	config_free(&c);
}

/* The file init writes must parse back to the same values, and list every
 * key (commented) so a user can see what exists. */
TEST(rendered_file_round_trips)
{
	struct config c;
	char err[256];
	char *text = config_render_default("example.test", "mx.example.test", 1);
	const char *every[] = {"hostname", "domains", "listen.smtp", "listen.submission",
			       "listen.submissions", "listen.imap", "listen.imaps", "listen.pop3",
			       "listen.pop3s", "listen.http", "listen.https", "listen.managesieve",
			       "tls.cert", "tls.key", "dns.resolver",
			       "delivery.port", "delivery.relay", "delivery.retry",
			       "delivery.max_age", "limits.message_size", "limits.connections",
			       "quota.default", "quota.messages", "store.map_size", "log.level", "user",
			       "auth.dmarc_reject", "delivery.relay_user",
			       "delivery.relay_password_file"};
	for (size_t i = 0; i < sizeof every / sizeof every[0]; i++) {
		char want[64];
		snprintf(want, sizeof want, "\n#%s = ", every[i]);
		CHECK(strstr(text, want) != NULL);
	}
	CHECK_EQ_INT(load(text, &c, err, sizeof err), 0);
	CHECK_EQ_STR(c.domains, "example.test");
	CHECK_EQ_STR(c.hostname, "mx.example.test");
	CHECK_EQ_STR(c.listen_smtp, "0.0.0.0:25 [::]:25");
	CHECK_EQ_STR(c.listen_imaps, "0.0.0.0:993 [::]:993");
	CHECK_EQ_STR(c.listen_managesieve, "0.0.0.0:4190 [::]:4190");
	config_free(&c);
	free(text);
}

TEST(parse_helpers)
{
	uint64_t sz;
	int64_t d;
	CHECK(parse_size("1k", &sz) == 0 && sz == 1024);
	CHECK(parse_size("2MB", &sz) == 0 && sz == 2 << 20);
	CHECK(parse_size("", &sz) < 0);
	CHECK(parse_size("-1", &sz) < 0);
	CHECK(parse_size("17179869184T", &sz) < 0);
	CHECK(parse_duration("2w", &d) == 0 && d == 14 * 86400);
	CHECK(parse_duration("m", &d) < 0);
	CHECK(parse_duration("5mm", &d) < 0);
}

/* Issue 14: the clamd socket and what to do without a verdict. */
TEST(virus_keys)
{
	struct config c;
	char err[256];
	CHECK_EQ_INT(load("", &c, err, sizeof err), 0);
	CHECK_EQ_STR(c.virus_clamd, "");
	CHECK_EQ_INT(c.virus_on_error, VIRUS_ON_ERROR_TEMPFAIL);
	config_free(&c);
	const char *ok[] = {"unix:/run/clamav/clamd.ctl", "127.0.0.1:3310", "[::1]:3310",
			    "localhost:3310"};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		char text[200];
		snprintf(text, sizeof text, "virus.clamd = %s\nvirus.on_error = accept\n", ok[i]);
		CHECK_EQ_INT(load(text, &c, err, sizeof err), 0);
		CHECK_EQ_STR(c.virus_clamd, ok[i]);
		CHECK_EQ_INT(c.virus_on_error, VIRUS_ON_ERROR_ACCEPT);
		config_free(&c);
	}
	CHECK_EQ_INT(load("virus.on_error = tempfail\n", &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.virus_on_error, VIRUS_ON_ERROR_TEMPFAIL);
	config_free(&c);
	expect_error("virus.clamd = unix:clamd.ctl\n", "expected unix:/absolute/path");
	expect_error("virus.clamd = clamd.example.test:3310\n", "names are not accepted");
	expect_error("virus.clamd = *:3310\n", "expected unix:/path, ADDRESS:PORT");
	expect_error("virus.clamd = 127.0.0.1\n", "expected ADDRESS:PORT");
	expect_error("virus.on_error = reject\n", "'reject' is not one of tempfail|accept");
	expect_error("virus.on_error = tempfai\n", "not one of");
	expect_error("virus.on_error = tempfail|accept\n", "not one of");
	expect_error("virus.on_error =\n", "not one of");
}

TEST(cleanup)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

TEST_MAIN()
