/*
 * log.h — levelled logging to stderr.
 *
 * One line per event, prefixed with a UTC timestamp and the level. Safe to
 * call from any thread: each line is written with one write(2).
 */
#ifndef BREV_LOG_H
#define BREV_LOG_H

enum log_level { L_ERROR = 0, L_WARN, L_INFO, L_DEBUG };

/* Set the threshold; messages above it are dropped. Default L_INFO. */
void log_set_level(int level);
int log_get_level(void);

/* Parse "error", "warn", "info", "debug"; returns -1 for anything else. */
int log_level_parse(const char *s);
const char *log_level_name(int level);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Send the log lines (and everything else written to stderr) to path,
 * appended, created mode 0640 when missing. Called again (SIGHUP), it
 * reopens path: a rotated file is let go. 0, or -1 with errno set and
 * stderr left as it was. Not thread-safe against itself: one caller. */
int log_set_file(const char *path);

#define log_error(...) log_msg(L_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(L_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(L_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= L_DEBUG)                                                    \
			log_msg(L_DEBUG, __VA_ARGS__);                                             \
	} while (0)

/*
 * Print "brev: MESSAGE" to stderr and exit(1). Only for start-up errors and
 * broken invariants, never for anything a peer sent.
 */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
