/* queue_net.c: notice when the machine's network may have become usable.
 *
 * A laptop that wakes up, or a Pi whose link comes back, should not wait
 * out a deferred entry's backoff (up to hours) before its mail leaves. The
 * kernel announces new addresses and routes on rtnetlink multicast groups;
 * the scheduler polls this socket beside its wake pipe and makes the queue
 * due when one arrives (queue.c rate-limits that). No privilege is needed
 * to listen, so this works after the privilege drop. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "queue.h"

int queue_net_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
				 .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
					      RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE};
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether one message says something may now be reachable: a new address,
 * or a new route in the main table (a link coming up re-adds its prefix
 * routes; DHCP adds the default route). Local-table routes (the kernel's
 * own entries for local addresses) and removals say nothing of the kind. */
static int usable(const struct nlmsghdr *h)
{
	if (h->nlmsg_type == RTM_NEWADDR)
		return 1;
	if (h->nlmsg_type == RTM_NEWROUTE && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct rtmsg))) {
		const struct rtmsg *r = NLMSG_DATA(h);
		return r->rtm_table == RT_TABLE_MAIN && r->rtm_type == RTN_UNICAST;
	}
	return 0;
}

int queue_net_read(int fd)
{
	/* Messages are small; a burst (a link with many routes) takes a few
	 * reads. Bounded: at most 64 reads per call, the rest next time. */
	char buf[8192] __attribute__((aligned(4)));
	int hit = 0;
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: drained. ENOBUFS: the kernel dropped some
			 * messages, so something changed: count it. */
			return hit || errno == ENOBUFS;
		}
		if (n == 0)
			return hit;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n))
			hit |= usable(h);
	}
	return hit;
}
