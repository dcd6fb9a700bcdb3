/*
 * test_virus.c — the clamd client's INSTREAM framing and answer parsing
 * (virus.h), against a small peer on the other end of a socketpair that
 * reads the frames as clamd(8) describes them. What clamd itself does
 * with them (verdicts, StreamMaxLength) is shown against a real clamd in
 * tests/e2e/t-17-virus-clamd.
 */
/* deps: virus spool util log */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "spool.h"
#include "util.h"
#include "virus.h"

static const struct virus_timeouts quick = {1000, 2000, 10000, 2000};

TEST(answer_ok)
{
	struct virus_result r;
	CHECK_EQ_INT(virus_parse_answer("stream: OK", 11, &r), VIRUS_CLEAN);
	CHECK_EQ_INT(virus_parse_answer("stream: OK\n", 11, &r), VIRUS_CLEAN);
	CHECK_EQ_INT(virus_parse_answer("stream: OK", 10, &r), VIRUS_CLEAN);
	/* what follows the NUL is not part of the answer */
	CHECK_EQ_INT(virus_parse_answer("stream: OK\0garbage", 18, &r), VIRUS_CLEAN);
	CHECK_EQ_INT(virus_parse_answer("stream: OKAY", 12, &r), VIRUS_ERROR);
	CHECK_EQ_INT(virus_parse_answer("OK", 2, &r), VIRUS_ERROR);
}

TEST(answer_found)
{
	struct virus_result r;
	const char a[] = "stream: Win.Test.EICAR_HDB-1 FOUND";
	CHECK_EQ_INT(virus_parse_answer(a, sizeof a, &r), VIRUS_FOUND);
	CHECK_EQ_STR(r.name, "Win.Test.EICAR_HDB-1");
	/* a name cannot smuggle CRLF, spaces or parentheses into the reply */
	const char b[] = "stream: Evil\r\n250 (x) FOUND";
	CHECK_EQ_INT(virus_parse_answer(b, sizeof b - 1, &r), VIRUS_FOUND);
	CHECK_EQ_STR(r.name, "Evil__250__x_");
	/* an empty name is no verdict */
	CHECK_EQ_INT(virus_parse_answer("stream:  FOUND", 14, &r), VIRUS_ERROR);
	CHECK_EQ_INT(virus_parse_answer("stream: FOUND", 13, &r), VIRUS_ERROR);
	/* a long name is cut to VIRUS_NAME_MAX */
	char big[600];
	memcpy(big, "stream: ", 8);
	memset(big + 8, 'A', 500);
	memcpy(big + 508, " FOUND", 6);
	CHECK_EQ_INT(virus_parse_answer(big, 514, &r), VIRUS_FOUND);
	CHECK_EQ_INT(strlen(r.name), VIRUS_NAME_MAX);
}

TEST(answer_error)
{
	struct virus_result r;
	const char a[] = "INSTREAM size limit exceeded. ERROR";
	CHECK_EQ_INT(virus_parse_answer(a, sizeof a, &r), VIRUS_ERROR);
	CHECK_EQ_STR(r.why, "clamd: INSTREAM size limit exceeded. ERROR");
	const char b[] = "stream: Can't allocate memory ERROR";
	CHECK_EQ_INT(virus_parse_answer(b, sizeof b, &r), VIRUS_ERROR);
	CHECK(strstr(r.why, "allocate memory"));
	CHECK_EQ_INT(virus_parse_answer("", 0, &r), VIRUS_ERROR);
	CHECK_EQ_INT(virus_parse_answer("\0", 1, &r), VIRUS_ERROR);
	/* control characters and parentheses never reach the header comment */
	const char c[] = "junk\x01(\x7f)\\ ERROR";
	CHECK_EQ_INT(virus_parse_answer(c, sizeof c, &r), VIRUS_ERROR);
	for (const char *p = r.why; *p; p++)
		CHECK(*p >= 0x20 && *p < 0x7f && *p != '(' && *p != ')' && *p != '\\');
}

/* ---- a peer that reads INSTREAM as clamd does ---- */

struct peer {
	int fd;
	int mode;	      /* 0 answer after the end; 1 answer early and close; 2 never answer;
			       * 3 close; 4 read nothing for 3 s, then close */
	size_t stop_after;    /* mode 1: bytes of data taken first */
	const char *answer;
	unsigned char *got;   /* the data reassembled */
	size_t got_len, max_chunk;
	int framing_ok, ended;
};

static int read_full(int fd, void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n) {
		ssize_t k = read(fd, p, n);
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void *peer_run(void *arg)
{
	struct peer *pe = arg;
	char cmd[10];
	if (pe->mode == 4) {
		sleep(3);
		close(pe->fd);
		return NULL;
	}
	pe->framing_ok = read_full(pe->fd, cmd, 10) == 0 && memcmp(cmd, "zINSTREAM\0", 10) == 0;
	while (pe->framing_ok) {
		unsigned char h[4];
		if (read_full(pe->fd, h, 4) < 0) {
			pe->framing_ok = 0;
			break;
		}
		uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		if (len == 0) {
			pe->ended = 1;
			break;
		}
		if (len > pe->max_chunk)
			pe->max_chunk = len;
		pe->got = realloc(pe->got, pe->got_len + len);
		if (read_full(pe->fd, pe->got + pe->got_len, len) < 0) {
			pe->framing_ok = 0;
			break;
		}
		pe->got_len += len;
		if (pe->mode == 1 && pe->got_len >= pe->stop_after)
			break;
	}
	if (pe->mode == 2) {
		sleep(3);
	} else if (pe->mode != 3 && pe->answer) {
		ssize_t w = send(pe->fd, pe->answer, strlen(pe->answer) + 1, MSG_NOSIGNAL);
		(void)w;
	}
	close(pe->fd);
	return NULL;
}

/* A message of n bytes in a spool that spills to a file past 4 KiB. */
static struct spool *message(size_t n)
{
	struct spool *sp = spool_new(4096);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)(i * 7 + i / 251);
		spool_write(sp, &ch, 1);
	}
	return sp;
}

static int64_t scan_ms; /* how long the last scan_with's virus_scan_fd took */

static int scan_with(struct peer *pe, struct spool *sp, const struct virus_timeouts *t,
		     struct virus_result *r)
{
	int sv[2];
	pthread_t th;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	pe->fd = sv[1];
	pthread_create(&th, NULL, peer_run, pe);
	int64_t t0 = now_ms();
	int v = virus_scan_fd(sv[0], sp, t, r);
	scan_ms = now_ms() - t0;
	close(sv[0]); /* a peer still waiting for frames sees the end */
	pthread_join(th, NULL);
	return v;
}

TEST(framing)
{
	/* 0 bytes, one short chunk, exactly one chunk, several with a short last */
	size_t sizes[] = {0, 100, VIRUS_CHUNK, 3 * VIRUS_CHUNK + 17};
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		struct spool *sp = message(sizes[i]);
		struct peer pe = {.answer = "stream: OK"};
		struct virus_result r;
		CHECK_EQ_INT(scan_with(&pe, sp, &quick, &r), VIRUS_CLEAN);
		CHECK(pe.framing_ok && pe.ended);
		CHECK_EQ_INT(pe.got_len, sizes[i]);
		CHECK(pe.max_chunk <= VIRUS_CHUNK);
		for (size_t k = 0; k < sizes[i]; k++)
			CHECK(pe.got[k] == (unsigned char)(k * 7 + k / 251));
		free(pe.got);
		spool_free(&sp);
	}
}

TEST(found_answer)
{
	struct spool *sp = message(5000);
	struct peer pe = {.answer = "stream: Brev.Test FOUND"};
	struct virus_result r;
	CHECK_EQ_INT(scan_with(&pe, sp, &quick, &r), VIRUS_FOUND);
	CHECK_EQ_STR(r.name, "Brev.Test");
	free(pe.got);
	spool_free(&sp);
}

/* clamd at StreamMaxLength: it answers and closes while we still send; the
 * answer is what counts. */
TEST(size_limit_answer_while_sending)
{
	struct spool *sp = message(8 << 20);
	struct peer pe = {.mode = 1, .stop_after = 1 << 20,
			  .answer = "INSTREAM size limit exceeded. ERROR"};
	struct virus_result r;
	CHECK_EQ_INT(scan_with(&pe, sp, &quick, &r), VIRUS_ERROR);
	CHECK_EQ_STR(r.why, "clamd: INSTREAM size limit exceeded. ERROR");
	free(pe.got);
	spool_free(&sp);
}

TEST(no_answer_times_out)
{
	struct spool *sp = message(100);
	struct peer pe = {.mode = 2};
	struct virus_timeouts t = {1000, 1000, 10000, 300};
	struct virus_result r;
	int64_t t0 = now_ms();
	CHECK_EQ_INT(scan_with(&pe, sp, &t, &r), VIRUS_ERROR);
	CHECK(strstr(r.why, "no answer from clamd"));
	/* the peer closes after 3 s: had the wait not been bounded, the
	 * verdict would be "closed without an answer" */
	CHECK(now_ms() - t0 >= 300);
	free(pe.got);
	spool_free(&sp);
}

/* A clamd that stops reading: each stall is bounded, and so is the whole
 * message however slowly it is read. */
TEST(stalled_send_times_out)
{
	struct spool *sp = message(8 << 20);
	struct peer pe = {.mode = 4};
	struct virus_timeouts t = {1000, 300, 10000, 2000};
	struct virus_result r;
	CHECK_EQ_INT(scan_with(&pe, sp, &t, &r), VIRUS_ERROR);
	CHECK(strstr(r.why, "sending to clamd"));
	CHECK(scan_ms >= 300 && scan_ms < 2500); /* the peer closes at 3 s */
	struct virus_timeouts total = {1000, 5000, 400, 2000};
	pe = (struct peer){.mode = 4};
	CHECK_EQ_INT(scan_with(&pe, sp, &total, &r), VIRUS_ERROR);
	CHECK(strstr(r.why, "sending to clamd"));
	CHECK(scan_ms >= 400 && scan_ms < 2500);
	spool_free(&sp);
}

TEST(closed_without_answer)
{
	struct spool *sp = message(100);
	struct peer pe = {.mode = 3};
	struct virus_result r;
	CHECK_EQ_INT(scan_with(&pe, sp, &quick, &r), VIRUS_ERROR);
	CHECK(strstr(r.why, "without an answer"));
	free(pe.got);
	spool_free(&sp);
}

TEST(unreachable)
{
	struct spool *sp = message(10);
	struct virus_result r;
	CHECK_EQ_INT(virus_scan("unix:/nonexistent/clamd.sock", sp, &quick, &r), VIRUS_ERROR);
	CHECK(strstr(r.why, "cannot connect to clamd"));
	CHECK_EQ_INT(virus_scan("nonsense", sp, &quick, &r), VIRUS_ERROR);
	spool_free(&sp);
}

TEST_MAIN()
