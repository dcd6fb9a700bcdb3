/*
 * control.c — the server's control socket and the client that pokes it.
 * Only short, fixed-format datagrams are accepted, and only from the same
 * machine (the socket file is mode 0600 inside DATADIR).
 */
#include "control.h"
#include "log.h"
#include "mailbox.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/select.h>
#include <poll.h>
#include <time.h>

static int ctl_fd = -1;
static int ctl_stop_pipe[2] = {-1, -1};
static pthread_t ctl_thread;
static struct store *ctl_store;
static void (*ctl_on_flush)(void);
static void (*ctl_on_renew)(void);

void control_set_renew(void (*fn)(void))
{
	ctl_on_renew = fn;
}
static char ctl_path[PATH_MAX];
static void (*ctl_status)(char *buf, size_t cap);
static time_t ctl_started;

/* The answer to "status" fits one datagram; a Unix datagram of this size
 * never needs more than the default socket buffer. */
#define STATUS_MAX 8192

static int sock_addr(const char *datadir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (snprintf(sa->sun_path, sizeof sa->sun_path, "%s/control.sock", datadir) >=
	    (int)sizeof sa->sun_path)
		return -1;
	return 0;
}

void control_set_status(void (*fn)(char *buf, size_t cap))
{
	ctl_status = fn;
}

/* "status": answer to the sender's address. An unbound sender (no address
 * to answer to) gets nothing; the answer is sent without blocking, so a
 * sender that stopped reading cannot stall the control thread. */
static void answer_status(const struct sockaddr_un *peer, socklen_t peerlen)
{
	char *buf;
	int n;

	if (peerlen <= (socklen_t)sizeof(sa_family_t))
		return;
	buf = xmalloc(STATUS_MAX);
	n = snprintf(buf, STATUS_MAX, "pid %ld\nuptime %lld\n", (long)getpid(),
		     (long long)(time(NULL) - ctl_started));
	if (ctl_status && n > 0 && n < STATUS_MAX)
		ctl_status(buf + n, STATUS_MAX - (size_t)n);
	(void)!sendto(ctl_fd, buf, strlen(buf), MSG_DONTWAIT, (const struct sockaddr *)peer, peerlen);
	free(buf);
}

static void handle(const char *msg)
{
	long long id;
	if (strncmp(msg, "changed ", 8) == 0 && parse_int(msg + 8, 0, UINT32_MAX, &id) == 0) {
		store_notify(ctl_store, (uint32_t)id);
	} else if (strcmp(msg, "flush") == 0) {
		if (ctl_on_flush)
			ctl_on_flush();
	} else if (strncmp(msg, "sendmail id=", 12) == 0) {
		log_info("%s", msg);
	} else if (strcmp(msg, "acme-renew") == 0) {
		if (ctl_on_renew)
			ctl_on_renew();
		else
			log_warn("control: acme-renew, but tls.acme is not set");
	} else if (strcmp(msg, "ping") == 0) {
		/* liveness probe from `brev status` */
	} else {
		log_warn("control: ignoring unknown message");
	}
}

static void *ctl_main(void *unused)
{
	char buf[CONTROL_MSG_MAX];
	struct sockaddr_un peer;
	socklen_t peerlen;

	for (;;) {
		fd_set rd;
		int maxfd = ctl_fd > ctl_stop_pipe[0] ? ctl_fd : ctl_stop_pipe[0];
		ssize_t n;
		FD_ZERO(&rd);
		FD_SET(ctl_fd, &rd);
		FD_SET(ctl_stop_pipe[0], &rd);
		if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (FD_ISSET(ctl_stop_pipe[0], &rd))
			return NULL;
		peerlen = sizeof peer;
		n = recvfrom(ctl_fd, buf, sizeof buf - 1, MSG_DONTWAIT, (struct sockaddr *)&peer, &peerlen);
		if (n <= 0)
			continue;
		buf[n] = 0;
		buf[strcspn(buf, "\r\n")] = 0;
		if (strcmp(buf, "status") == 0)
			answer_status(&peer, peerlen);
		else
			handle(buf);
	}
}

int control_start(const char *datadir, struct store *st, void (*on_flush)(void), char *err,
		  size_t errlen)
{
	struct sockaddr_un sa;
	if (sock_addr(datadir, &sa) < 0) {
		snprintf(err, errlen, "control socket path too long");
		return -1;
	}
	/* A socket file nobody answers on is left over from a crash. */
	if (control_send(datadir, "ping") == 0) {
		snprintf(err, errlen, "another brev serve is already running on %s", datadir);
		return -1;
	}
	unlink(sa.sun_path);
	ctl_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ctl_fd < 0 || bind(ctl_fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		snprintf(err, errlen, "%s: %s", sa.sun_path, strerror(errno));
		return -1;
	}
	chmod(sa.sun_path, 0600);
	str_copy(ctl_path, sa.sun_path, sizeof ctl_path);
	ctl_store = st;
	ctl_on_flush = on_flush;
	ctl_started = time(NULL);
	if (pipe2(ctl_stop_pipe, O_CLOEXEC) < 0 ||
	    pthread_create(&ctl_thread, NULL, ctl_main, NULL) != 0) {
		snprintf(err, errlen, "control thread: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void control_stop(void)
{
	if (ctl_fd < 0)
		return;
	(void)!write(ctl_stop_pipe[1], "x", 1);
	pthread_join(ctl_thread, NULL);
	close(ctl_fd);
	ctl_fd = -1;
	unlink(ctl_path);
}

int control_send(const char *datadir, const char *msg)
{
	struct sockaddr_un sa;
	int fd, rc;
	if (sock_addr(datadir, &sa) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = sendto(fd, msg, strlen(msg), MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof sa) < 0
		     ? -1
		     : 0;
	close(fd);
	return rc;
}

long control_status(const char *datadir, char *buf, size_t cap, int timeout_ms)
{
	struct sockaddr_un sa, self = {.sun_family = AF_UNIX};
	struct pollfd pfd;
	long n = -1;
	int fd;

	if (cap < 2 || sock_addr(datadir, &sa) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Autobind: an address of only the family gets a unique abstract name. */
	if (bind(fd, (struct sockaddr *)&self, sizeof(sa_family_t)) == 0 &&
	    sendto(fd, "status", 6, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof sa) == 6) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout_ms) == 1) {
			ssize_t r = recv(fd, buf, cap - 1, MSG_DONTWAIT);
			if (r > 0) {
				buf[r] = 0;
				n = (long)r;
			}
		}
	}
	close(fd);
	return n;
}

void control_commit_hook(void *datadir, uint32_t user)
{
	char msg[32];
	snprintf(msg, sizeof msg, "changed %u", user);
	control_send(datadir, msg);
}
