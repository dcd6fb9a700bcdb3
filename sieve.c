/*
 * sieve.c — STUB: every script compiles to "implicit keep". Replaced by the
 * real interpreter on branch sieve-lang.
 */
#include <stdlib.h>
#include <string.h>

#include "sieve.h"

struct sieve_script {
	int dummy;
};

int sieve_compile(const char *src, size_t len, struct sieve_script **out, char *err,
		  size_t errlen)
{
	(void)src;
	(void)len;
	if (errlen)
		err[0] = 0;
	*out = calloc(1, sizeof **out);
	return *out ? 0 : -1;
}

void sieve_free(struct sieve_script *s)
{
	free(s);
}

int sieve_run(const struct sieve_script *s, const struct sieve_msg *m, const struct sieve_env *env,
	      struct sieve_result *out)
{
	(void)s;
	(void)m;
	(void)env;
	memset(out, 0, sizeof *out);
	out->a = calloc(1, sizeof *out->a);
	if (!out->a)
		return -1;
	out->a[0].kind = SIEVE_KEEP;
	out->n = 1;
	return 0;
}

void sieve_result_free(struct sieve_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct sieve_action *a = &r->a[i];
		free(a->mailbox);
		for (size_t j = 0; j < a->nflags; j++)
			free(a->flags[j]);
		free(a->flags);
		free(a->address);
		free(a->text);
		free(a->vac_to);
		free(a->vac_from);
		free(a->vac_subject);
		free(a->vac_reason);
		free(a->vac_handle);
		free(a->dup_id);
	}
	free(r->a);
	for (size_t i = 0; i < r->ndup; i++)
		free(r->dup_ids[i]);
	free(r->dup_ids);
	free(r->dup_secs);
	memset(r, 0, sizeof *r);
}
