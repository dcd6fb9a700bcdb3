/* fuzz_pop3.c — the POP3 command parser and the RETR/TOP filter
 * (pop3_parse.c). The input is split into lines, each parsed as a command;
 * the whole input is also run through the filter as a message, with TOP's
 * line count taken from its first byte, checking that the output never
 * holds the terminator line and that the octet count matches. */
/* deps: pop3_parse */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../pop3.h"

struct out {
	uint64_t n;
	int bol, dotline; /* state of a ".\r\n" line detector */
	char prev[2];
};

static int emit(void *arg, const void *buf, size_t n)
{
	struct out *o = arg;
	const unsigned char *p = buf;

	for (size_t i = 0; i < n; i++) {
		/* A line that is exactly "." would end the response early. */
		if (o->bol == 1 && p[i] == '.')
			o->bol = 2;
		else if (o->bol == 2 && p[i] == '\r')
			o->bol = 3;
		else if (o->bol == 3 && p[i] == '\n')
			o->dotline = 1;
		else
			o->bol = 0;
		if (p[i] == '\n')
			o->bol = 1;
	}
	o->n += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t start = 0;
	struct pop3_cmd cmd;
	struct pop3_filter f;
	struct out o = {.bol = 1};
	uint32_t num;

	for (size_t i = 0; i <= size; i++) {
		if (i == size || s[i] == '\n') {
			if (pop3_parse(s + start, i - start, &cmd) == POP3_PARSE_OK) {
				if ((unsigned)cmd.verb >= POP3_NVERBS || cmd.argc > POP3_ARG_MAX)
					abort();
				for (int a = 0; a < cmd.argc; a++)
					if (strlen(cmd.argv[a]) > POP3_LINE_MAX)
						abort();
				if (cmd.argc > 0)
					(void)pop3_parse_num(cmd.argv[0], UINT32_MAX, &num);
			}
			start = i + 1;
		}
	}

	pop3_filter_init(&f, size ? (int64_t)data[0] % 8 - 1 : -1);
	for (size_t off = 0; off < size;) {
		size_t n = (size - off) < 7 ? size - off : 7;
		pop3_filter_feed(&f, data + off, n, emit, &o);
		off += n;
	}
	pop3_filter_end(&f, emit, &o);
	if (o.dotline || o.n != f.out)
		abort();
	if (f.out && !(f.last[0] == '\r' && f.last[1] == '\n'))
		abort();
	return 0;
}
