/*
 * log.c — levelled logging to stderr, or to log.file when set (log.file is
 * made stderr, so nothing that writes to fd 2 is lost). Owns the log
 * format; knows nothing of sessions (protocol modules compose their own
 * "reason=" lines).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int threshold = L_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

void log_set_level(int level)
{
	threshold = level;
}

int log_get_level(void)
{
	return threshold;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

const char *log_level_name(int level)
{
	return level >= 0 && level < 4 ? names[level] : "?";
}

void log_msg(int level, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	if (level > threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof line - n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
		      names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	/* Never let a peer's bytes forge extra log lines. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r' || (unsigned char)line[i] < 0x20)
			line[i] = '?';
	if (n >= sizeof line - 1)
		n = sizeof line - 2;
	line[n++] = '\n';
	(void)!write(2, line, n);
}

int log_set_file(const char *path)
{
	/* dup2 swaps fd 2 atomically: a line being written lands in one of
	 * the two files, never nowhere */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (fd != 2 && dup2(fd, 2) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (fd != 2)
		close(fd);
	return 0;
}

void fatal(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = snprintf(line, sizeof line, "brev: ");
	vsnprintf(line + n, sizeof line - n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
	exit(1);
}
