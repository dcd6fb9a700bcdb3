/*
 * net_limits.c — the connection-slot policy of net.c as pure functions, so
 * that the unit test (tests/unit/test_conn_limits.c) can check every case
 * without sockets: who counts as one client (IPv4 address, IPv6 /64), how
 * many slots one client may hold, and the slots kept for the MX and
 * submission. net.c holds the counts and the lock.
 */
#include "net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int net_peer_max(int cap)
{
	return cap / 8 > 8 ? cap / 8 : 8;
}

int net_reserved(int cap)
{
	return cap / 8;
}

int net_client_key(const char *ip, char *out, size_t cap)
{
	struct in6_addr a6;
	struct in_addr a4;
	if (inet_pton(AF_INET, ip, &a4) == 1)
		return snprintf(out, cap, "%s", ip) < (int)cap ? 0 : -1;
	if (inet_pton(AF_INET6, ip, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		char v4[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a6.s6_addr[12], v4, sizeof v4);
		return snprintf(out, cap, "%s", v4) < (int)cap ? 0 : -1;
	}
	memset(&a6.s6_addr[8], 0, 8);
	char p[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &a6, p, sizeof p);
	return snprintf(out, cap, "%s/64", p) < (int)cap ? 0 : -1;
}

int net_slot_free(int cap, int fam_max, int reserve, const int count[NET_FAMILIES], int fam)
{
	int total = 0;
	for (int f = 0; f < NET_FAMILIES; f++)
		total += count[f];
	int held = 0; /* reserved slots other families still have unused */
	for (int f = 0; f <= 1; f++)
		if (f != fam && count[f] < reserve)
			held += reserve - count[f];
	if (total >= cap)
		return 0;
	if (count[fam] >= fam_max)
		return -1;
	return cap - total > held ? 1 : -2;
}
