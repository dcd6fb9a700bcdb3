/*
 * fuzz_config.c — brev.conf parsing (config.c): the input is the file.
 * config_load either accepts it or names the first bad line; either way
 * nothing may crash or leak, and loading an accepted file again must
 * accept it again (the answer depends on the text alone).
 */
/* deps: config util log */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char dir[] = "/tmp/brev-fuzz-config.XXXXXX";
static char path[sizeof dir + 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[512];
	FILE *f;

	if (!path[0]) {
		if (!mkdtemp(dir))
			abort();
		snprintf(path, sizeof path, "%s/brev.conf", dir);
	}
	if (!(f = fopen(path, "wb")))
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	err[0] = 0;
	int rc = config_load(&c, dir, NULL, 0, err, sizeof err);
	config_free(&c);
	if (rc != 0 && !err[0])
		abort(); /* refused without saying why */
	if (rc == 0) {
		if (config_load(&c, dir, NULL, 0, err, sizeof err) != 0)
			abort(); /* accepted once, refused the second time */
		config_free(&c);
	}
	return 0;
}
