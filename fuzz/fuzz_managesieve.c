/* fuzz_managesieve.c — the ManageSieve command parser (managesieve_parse.c).
 * The input is parsed whole as one command (as the session hands it over:
 * lines and literals in wire form) and as one SASL response string; the
 * literal-announcement test runs on every line. Oracles: no argument
 * reaches outside the buffer, lengths agree with the NUL the parser puts
 * after each string argument, quoted strings stay within their bound, and
 * HAVESPACE's number is what its digits say. */
/* deps: managesieve_parse */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../managesieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;
	struct ms_cmd cmd;
	struct ms_arg a;
	size_t start = 0;
	if (size > MS_CMD_MAX)
		return 0;
	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == '\n') {
			uint64_t n;
			int plus;
			int r = managesieve_literal_tail((const char *)data + start, i - start, &n, &plus);
			if (r == 1 && n > 0xffffffffu)
				abort();
			start = i + 1;
		}
	}
	buf = malloc(size + 1);
	memcpy(buf, data, size);
	if (managesieve_parse(buf, size, &cmd) == MS_PARSE_OK) {
		if (cmd.verb < 0 || cmd.verb >= MS_NVERBS || cmd.argc < 0 || cmd.argc > MS_ARGS_MAX)
			abort();
		for (int i = 0; i < cmd.argc; i++) {
			const struct ms_arg *g = &cmd.argv[i];
			if (g->s < buf || g->s + g->len > buf + size || g->s[g->len] != '\0')
				abort();
		}
		if (cmd.verb == MS_HAVESPACE && strtoull(cmd.argv[1].s, NULL, 10) != cmd.argv[1].num)
			abort();
	}
	memcpy(buf, data, size);
	if (managesieve_parse_string(buf, size, &a) == 0 &&
	    (a.s < buf || a.s + a.len > buf + size || a.s[a.len] != '\0'))
		abort();
	free(buf);
	return 0;
}
