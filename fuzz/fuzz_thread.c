/*
 * fuzz_thread.c — thread.c on arbitrary bytes: the msg-id parser behind
 * Message-ID/References/In-Reply-To, the base-subject rules, the date
 * parser and both threading algorithms.
 *
 * Input: messages separated by NUL bytes; in each, up to five fields
 * separated by LF: Message-ID, References, In-Reply-To, Subject, Date.
 * Message keys are 1, 2, ... in order.
 *
 * The oracle: in both algorithms' results every message appears exactly
 * once; a dummy (key 0) only at the top and only over two or more
 * children; siblings in sent-date order (a dummy by its first child);
 * and a base subject is never longer than its input.
 */
/* deps: thread util log */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thread.h"

#define MSGS_MAX 2000

static int64_t dates[MSGS_MAX + 1];

static int64_t node_date(const struct thread_node *n)
{
	while (n && !n->key)
		n = n->child;
	return n ? dates[n->key] : INT64_MIN;
}

static void check_tree(const struct thread_node *top, uint32_t nmsg)
{
	static unsigned char seen[MSGS_MAX + 1];
	memset(seen, 0, sizeof seen);
	size_t cap = 64, n = 0;
	const struct thread_node **st = malloc(cap * sizeof *st);
	for (const struct thread_node *t = top; t; t = t->next) {
		if (t->next && node_date(t) > node_date(t->next))
			abort(); /* top level out of date order */
		if (!t->key && (!t->child || !t->child->next))
			abort(); /* a dummy over fewer than two */
		if (n == cap)
			st = realloc(st, (cap *= 2) * sizeof *st);
		st[n++] = t;
	}
	while (n) {
		const struct thread_node *x = st[--n];
		if (x->key) {
			if (x->key > nmsg || seen[x->key]++)
				abort(); /* unknown or twice */
		}
		for (const struct thread_node *c = x->child; c; c = c->next) {
			if (!c->key)
				abort(); /* a dummy below the top */
			if (c->next && dates[c->key] > dates[c->next->key])
				abort();
			if (n == cap)
				st = realloc(st, (cap *= 2) * sizeof *st);
			st[n++] = c;
		}
	}
	free(st);
	for (uint32_t k = 1; k <= nmsg; k++)
		if (!seen[k])
			abort(); /* lost */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = 0;
	struct thread_set *ts[2] = {thread_new(THREAD_ORDEREDSUBJECT),
				    thread_new(THREAD_REFERENCES)};
	uint32_t nmsg = 0;
	char *p = buf, *end = buf + size;
	while (p <= end && nmsg < MSGS_MAX) {
		char *f[5] = {NULL, NULL, NULL, NULL, NULL};
		char *e = p + strlen(p); /* the NUL ending this message */
		for (int i = 0; i < 5 && p <= e; i++) {
			f[i] = p;
			char *nl = memchr(p, '\n', (size_t)(e - p));
			if (!nl) {
				p = e + 1;
				break;
			}
			*nl = 0;
			p = nl + 1;
		}
		if (p <= e)
			p = e + 1;
		nmsg++;
		int64_t t;
		dates[nmsg] = thread_parse_date(f[4], &t) == 0 ? t : (int64_t)nmsg * 1000;
		if (f[3]) {
			int reply;
			char *b = thread_base_subject(f[3], strlen(f[3]), &reply);
			if (strlen(b) > strlen(f[3]))
				abort();
			free(b);
		}
		struct thread_msg m = {nmsg, f[0], f[1], f[2], f[3], dates[nmsg]};
		thread_add(ts[0], &m);
		thread_add(ts[1], &m);
	}
	for (int i = 0; i < 2; i++) {
		check_tree(thread_run(ts[i]), nmsg);
		thread_free(&ts[i]);
	}
	free(buf);
	return 0;
}
