/*
 * fuzz_clamd_answer.c — clamd's answer to INSTREAM (virus.c
 * virus_parse_answer): the input is the bytes clamd sent.
 *
 * Properties beyond no crash or overrun (ASan): the verdict is one of the
 * three; a FOUND name is non-empty, at most VIRUS_NAME_MAX and only
 * [A-Za-z0-9._:/+-] (it goes into the 554 reply and the log); an ERROR
 * reason is non-empty printable ASCII without ( ) \ (it goes into a header
 * comment and the 451 reply); CLEAN only for exactly "stream: OK" before
 * the first NUL (less trailing CR/LF).
 */
/* deps: virus spool util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("._:/+-", c) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > VIRUS_ANSWER_MAX)
		return 0;
	/* a copy exactly as long as the input, so ASan sees any over-read */
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	struct virus_result r;
	int v = virus_parse_answer(buf, size, &r);
	if (v != r.verdict)
		abort();
	size_t n = size;
	const char *nul = memchr(buf, 0, size);
	if (nul)
		n = (size_t)(nul - buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	switch (v) {
	case VIRUS_CLEAN:
		if (n != 10 || memcmp(buf, "stream: OK", 10) != 0)
			abort();
		break;
	case VIRUS_FOUND:
		if (!r.name[0] || strlen(r.name) > VIRUS_NAME_MAX)
			abort();
		for (const char *p = r.name; *p; p++)
			if (!name_char((unsigned char)*p))
				abort();
		break;
	case VIRUS_ERROR:
		if (!r.why[0] || strlen(r.why) > VIRUS_WHY_MAX)
			abort();
		for (const char *p = r.why; *p; p++)
			if (*p < 0x20 || *p >= 0x7f || *p == '(' || *p == ')' || *p == '\\')
				abort();
		break;
	default:
		abort();
	}
	free(buf);
	return 0;
}
