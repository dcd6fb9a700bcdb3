/* fuzz_jmap.c — a JMAP API request from its raw bytes (jmap.c): the
 * nesting bound before parsing, jansson, the request's shape, result
 * references with their JSON Pointer paths and "*", Core/echo, and every
 * error path. Oracles: the reply is always JSON with status 200 or 400, and
 * a 400 is always problem details. */
/* deps: jmap util log */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../config.h"
#include "../jmap.h"
#include "../mailbox.h"
#include "../server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	static struct server srv;
	static struct account a;
	struct jmap_reply r;
	json_t *j;

	cfg.message_size = 1 << 20;
	srv.cfg = &cfg;
	a.id = 7;
	strcpy(a.addr, "alice@example.test");
	if (size > (1 << 20))
		return 0;
	jmap_api(&srv, &a, (const char *)data, size, &r);
	if (!r.body || (r.status != 200 && r.status != 400))
		abort();
	j = json_loadb(r.body, r.len, 0, NULL);
	if (!j)
		abort();
	if (r.status == 400 && (strcmp(r.type, "application/problem+json") != 0 ||
				!json_is_string(json_object_get(j, "type"))))
		abort();
	if (r.status == 200 && !json_is_array(json_object_get(j, "methodResponses")))
		abort();
	json_decref(j);
	free(r.body);
	return 0;
}
