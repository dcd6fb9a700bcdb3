/*
 * virus.h — the clamd client (issue 14, docs/virus.md). When virus.clamd
 * names a clamd socket, every message received over SMTP is streamed to
 * clamd with INSTREAM (clamd(8)) after its last byte and before the reply:
 * a hit is refused with 554 5.7.1 and never stored; a clean message gets
 * "X-Virus-Scanned: clamd"; when clamd cannot give a verdict (down, time
 * out, an ERROR answer such as a message over its StreamMaxLength)
 * virus.on_error decides: 451 4.7.1, or delivery with
 * "X-Virus-Scanned: no (REASON)".
 *
 * The message is read from its spool in bounded pieces (never held whole
 * in memory). Every call blocks the calling thread for at most the
 * time-outs below (connect + send total + answer: 7 minutes 10 seconds,
 * within the 10 minutes an SMTP client waits for its reply, RFC 5321
 * 4.5.3.2.6); thread-safe (no shared state).
 */
#ifndef BREV_VIRUS_H
#define BREV_VIRUS_H

#include <stddef.h>

struct config;
struct spool;

#define VIRUS_NAME_MAX	 128 /* signature name kept (longer ones are cut) */
#define VIRUS_WHY_MAX	 160 /* why there is no verdict, in words */
#define VIRUS_ANSWER_MAX 1024 /* clamd's answer read (bytes, NUL included) */
#define VIRUS_CHUNK	 65536 /* INSTREAM chunk size */

/* Bounds of one scan, in milliseconds. */
#define VIRUS_CONNECT_MS 10000	/* connect(2) to clamd */
#define VIRUS_SEND_MS	 30000	/* any one stall while sending the message */
#define VIRUS_SEND_TOTAL_MS 300000 /* the whole message, however slowly clamd reads */
#define VIRUS_ANSWER_MS	 120000 /* from the end of the stream to the answer */

enum virus_verdict {
	VIRUS_CLEAN = 0, /* "stream: OK" */
	VIRUS_FOUND,	 /* "stream: NAME FOUND": name set */
	VIRUS_ERROR,	 /* no verdict: why set */
};

struct virus_result {
	int verdict;			/* enum virus_verdict */
	char name[VIRUS_NAME_MAX + 1];	/* FOUND: the signature, [A-Za-z0-9._:/+-] only */
	char why[VIRUS_WHY_MAX + 1];	/* ERROR: printable ASCII without ( ) \ */
};

struct virus_timeouts {
	int connect_ms, send_ms, send_total_ms, answer_ms;
};

/* Parse clamd's answer to INSTREAM, buf[0..n) as received (the trailing
 * NUL or newline may be there or not; anything after a NUL is ignored).
 * Always fills r and returns r->verdict: OK -> CLEAN, "NAME FOUND" ->
 * FOUND, "... ERROR" or anything else -> ERROR with clamd's words. Every
 * byte is treated as hostile: r's strings are sanitised and bounded. */
int virus_parse_answer(const char *buf, size_t n, struct virus_result *r);

/* The INSTREAM exchange over fd, already connected to clamd (any socket
 * type; it is made non-blocking): "zINSTREAM\0", the message in sp in
 * chunks of at most VIRUS_CHUNK bytes, each after its length as 4 bytes
 * big-endian, a zero length, then the answer up to its NUL or EOF. When
 * clamd stops reading (it closes the connection at StreamMaxLength) its
 * answer is still read and reported. Returns r->verdict; does not close
 * fd. */
int virus_scan_fd(int fd, struct spool *sp, const struct virus_timeouts *t,
		  struct virus_result *r);

/* Connect to spec ("unix:/path", "IPv4:PORT", "[IPv6]:PORT",
 * "localhost:PORT"; util.h sock_spec_parse) and run virus_scan_fd. */
int virus_scan(const char *spec, struct spool *sp, const struct virus_timeouts *t,
	       struct virus_result *r);

/* What the SMTP session does with a message. */
enum virus_action {
	VIRUS_DELIVER = 0, /* go on; add header[] (may be "") */
	VIRUS_REFUSE,	   /* send reply[] (554), store nothing */
	VIRUS_TEMPFAIL,	   /* send reply[] (451), store nothing */
};

struct virus_check {
	int action;		/* enum virus_action */
	char header[VIRUS_WHY_MAX + 64]; /* "X-Virus-Scanned: ...\r\n" or "" */
	char reply[VIRUS_NAME_MAX + VIRUS_WHY_MAX + 64]; /* the SMTP reply line */
};

/* The policy: scan the message in sp when cfg->virus_clamd is set (off:
 * VIRUS_DELIVER with no header) and map the verdict through
 * cfg->virus_on_error. Logs one line per verdict with the tracking id. */
int virus_check(const struct config *cfg, struct spool *sp, const char *id,
		struct virus_check *out);

#endif
