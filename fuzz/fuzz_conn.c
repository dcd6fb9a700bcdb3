/*
 * fuzz_conn.c — conn.c's readers on hostile bytes: conn_getline bounds,
 * conn_read_n, and conn_read_dot's smuggling/size/line-length state
 * machine. The input is a tiny protocol: "DATA" lines start a dot-terminated
 * body (limit 1000 bytes), "LIT n" reads n bytes, anything else is a line.
 * Checks: no crash, results in range, the spool never exceeds the limit.
 */
/* deps: conn tls spool util log */
#include "../conn.h"
#include "../spool.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int p[2];
	if (size > 60000 || pipe(p) < 0)
		return 0;
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	if (write(p[1], data, size) != (ssize_t)size) {
		close(p[0]);
		close(p[1]);
		return 0;
	}
	close(p[1]);
	struct conn *c = conn_new(p[0], "127.0.0.1", 1, "127.0.0.1");
	struct spool *sp = spool_new(512);
	conn_set_timeout(c, 1000);
	for (;;) {
		char *line;
		ssize_t n = conn_getline(c, &line, 200, NULL);
		if (n == -1)
			break;
		if (n < -2 || n > 200 || (n >= 0 && strlen(line) > (size_t)n))
			abort();
		if (n == 4 && memcmp(line, "DATA", 4) == 0) {
			spool_reset(sp);
			int r = conn_read_dot(c, sp, 1000);
			if (r < -1 || r > DOT_LONGLINE || spool_size(sp) > 1000)
				abort();
		} else if (n > 4 && memcmp(line, "LIT ", 4) == 0) {
			char buf[4096];
			size_t k = (size_t)atoi(line + 4) % sizeof buf;
			conn_read_n(c, buf, k);
		}
	}
	spool_free(&sp);
	conn_free(&c);
	return 0;
}
