/* deps: conn tls spool util log */
/*
 * test_conn_deadline.c — the per-operation deadline in conn.c: a peer that
 * sends one byte now and then, each before the idle timeout, still cannot
 * make a line (or a DATA transfer) last longer than its total deadline
 * (slowloris). A peer that is merely slow but finishes in time is served.
 */
#include "harness.h"
#include "conn.h"
#include "spool.h"
#include "util.h"

#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct drip {
	int fd;
	int every_ms, count;
	const char *bytes; /* cycled */
};

static void *dripper(void *arg)
{
	struct drip *d = arg;
	size_t n = strlen(d->bytes);
	for (int i = 0; i < d->count; i++) {
		struct timespec ts = {0, (long)d->every_ms * 1000000L};
		if (send(d->fd, d->bytes + (size_t)i % n, 1, MSG_NOSIGNAL) != 1)
			break;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int64_t run_line(int timeout_ms, struct drip *d, ssize_t *len, int *err)
{
	int sv[2];
	pthread_t th;
	char *line;
	int64_t t0;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 1, "127.0.0.1");
	conn_set_timeout(c, timeout_ms);
	d->fd = sv[1];
	CHECK(pthread_create(&th, NULL, dripper, d) == 0);
	t0 = now_ms();
	*len = conn_getline(c, &line, 1000, NULL);
	*err = conn_error(c);
	t0 = now_ms() - t0;
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(th, NULL);
	close(sv[1]);
	conn_free(&c);
	return t0;
}

TEST(slow_line_cut_at_deadline)
{
	/* One byte every 50 ms, never a newline: each wait is far below the
	 * 300 ms idle timeout, but the line as a whole must end by 300 ms. */
	struct drip d = {.every_ms = 50, .count = 100, .bytes = "A"};
	ssize_t len;
	int err;
	int64_t took = run_line(300, &d, &len, &err);
	CHECK_EQ_INT(len, -1);
	CHECK_EQ_INT(err, CONN_TIMEOUT);
	CHECK(took >= 250 && took < 2000);
}

TEST(slow_but_complete_line_served)
{
	struct drip d = {.every_ms = 20, .count = 6, .bytes = "NOOP\r\n"};
	ssize_t len;
	int err;
	int64_t took = run_line(1000, &d, &len, &err);
	CHECK_EQ_INT(len, 4);
	CHECK_EQ_INT(err, CONN_OK);
	CHECK(took < 1000);
}

TEST(slow_data_cut_at_deadline)
{
	/* DATA gets six idle timeouts in all: 6 x 100 ms here. */
	int sv[2];
	pthread_t th;
	struct drip d = {.every_ms = 20, .count = 400, .bytes = "x"};
	struct spool *sp = spool_new(0);
	int64_t t0;
	int r;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 1, "127.0.0.1");
	conn_set_timeout(c, 100);
	d.fd = sv[1];
	CHECK(pthread_create(&th, NULL, dripper, &d) == 0);
	t0 = now_ms();
	r = conn_read_dot(c, sp, 1 << 20);
	t0 = now_ms() - t0;
	CHECK_EQ_INT(r, -1);
	CHECK_EQ_INT(conn_error(c), CONN_TIMEOUT);
	CHECK(t0 >= 500 && t0 < 3000);
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(th, NULL);
	close(sv[1]);
	conn_free(&c);
	spool_free(&sp);
}

TEST(deadline_cleared_between_lines)
{
	/* Two lines, each well within the timeout, the second arriving after
	 * the first line's deadline would have passed: both are read. */
	int sv[2];
	char *line;
	struct timespec ts = {0, 250 * 1000000L};
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct conn *c = conn_new(sv[0], "127.0.0.1", 1, "127.0.0.1");
	conn_set_timeout(c, 200);
	CHECK(write(sv[1], "ONE\r\n", 5) == 5);
	CHECK_EQ_INT(conn_getline(c, &line, 100, NULL), 3);
	nanosleep(&ts, NULL);
	CHECK(write(sv[1], "TWO\r\n", 5) == 5);
	CHECK_EQ_INT(conn_getline(c, &line, 100, NULL), 3);
	CHECK_EQ_STR(line, "TWO");
	close(sv[1]);
	conn_free(&c);
}

TEST_MAIN()
