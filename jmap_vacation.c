/*
 * jmap_vacation.c — JMAP VacationResponse (RFC 8621 8) kept as the
 * account's Sieve rules, so the settings a JMAP client shows and the
 * script that runs at delivery cannot disagree silently (issue 19;
 * docs/jmap.md "Vacation", docs/sieve.md "Vacation over JMAP").
 *
 * The object is not stored anywhere else: VacationResponse/set writes the
 * script VAC_SCRIPT, generated from the object, whose first line is a
 * comment holding the object as JSON (and the name of the script that was
 * active before, which the generated script includes so its rules still
 * run). isEnabled is "VAC_SCRIPT is the active script". /get reads the
 * comment back and regenerates the script from it: when that is not
 * byte for byte the stored script, it was edited by hand, and /get says
 * isEnabled false with every other property null rather than guess what
 * the edited script does. Enabling activates VAC_SCRIPT; disabling
 * activates the remembered script again (none, if it is gone).
 *
 * htmlBody is kept in the comment and given back, but the reply is the
 * plain textBody (sieve_deliver.c's vacation replies are text/plain).
 * Read-modify-write without a lock: two clients setting the vacation at
 * the same moment may lose one's change (ifInState guards against that).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jmap_int.h"
#include "mailbox.h"
#include "server.h"
#include "sieve.h"
#include "util.h"

#define VAC_SCRIPT  "jmap-vacation"
#define VAC_MAGIC   "# brev jmap-vacation "
#define VAC_SUBJECT 998 /* bytes of subject: one header line */

static const char *const props[] = {"fromDate", "toDate", "subject", "textBody", "htmlBody"};

/* A Sieve quoted string (RFC 5228 2.4.2): '"' and '\' escaped. */
static void quoted(struct sbuf *b, const char *s)
{
	sbuf_puts(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_puts(b, "\\");
		sbuf_add(b, s, 1);
	}
	sbuf_puts(b, "\"");
}

/* currentdate's iso8601 (UTC, sieve.c) for the UTCDate s, so the
 * relational :value compares strings of one form. */
static void iso8601(const char *s, char out[40])
{
	int64_t t = 0;
	struct tm tm;
	time_t tt;
	jmap_utc_date(s, &t); /* checked by the caller */
	tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
}

static const char *str_of(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The script for the object o (the properties of props and "previous"):
 * malloc'ed, NUL-terminated. The same o always gives the same bytes.
 * *len > STORE_SIEVE_SIZE: it would be too large (the text is cut). */
static char *generate(json_t *o, size_t *len)
{
	struct sbuf b = {.max = STORE_SIEVE_SIZE + 1};
	char *js = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS), d[40];
	const char *from = str_of(o, "fromDate"), *to = str_of(o, "toDate");
	const char *subj = str_of(o, "subject"), *text = str_of(o, "textBody");
	const char *prev = str_of(o, "previous");

	sbuf_printf(&b, "%s%s\n", VAC_MAGIC, js ? js : "{}");
	free(js);
	sbuf_puts(&b,
		  "# Written by brev for JMAP VacationResponse/set (docs/jmap.md \"Vacation\").\n"
		  "# Edited by hand, JMAP shows the vacation as off.\n"
		  "require [\"vacation\", \"include\", \"date\", \"relational\"];\n");
	if (from || to) {
		sbuf_puts(&b, "if allof (");
		if (from) {
			iso8601(from, d);
			sbuf_printf(&b, "currentdate :value \"ge\" \"iso8601\" \"%s\"%s", d,
				    to ? ", " : "");
		}
		if (to) {
			iso8601(to, d);
			sbuf_printf(&b, "currentdate :value \"lt\" \"iso8601\" \"%s\"", d);
		}
		sbuf_puts(&b, ") {\n\t");
	}
	sbuf_puts(&b, "vacation ");
	if (subj) {
		sbuf_puts(&b, ":subject ");
		quoted(&b, subj);
		sbuf_puts(&b, " ");
	}
	quoted(&b, text ? text : "");
	sbuf_puts(&b, ";\n");
	if (from || to)
		sbuf_puts(&b, "}\n");
	if (prev) {
		sbuf_puts(&b, "include :personal :optional ");
		quoted(&b, prev);
		sbuf_puts(&b, ";\n");
	}
	*len = b.over ? STORE_SIEVE_SIZE + 1 : b.len; /* over: too large, and never equal */
	return b.p;
}

static int bad_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s == 0x7f)
			return 1;
	return 0;
}

/* Whether the property props[i] may have the value v (a string). */
static int prop_ok(size_t i, json_t *v)
{
	const char *s = json_string_value(v);
	int64_t t;
	if (!s)
		return 0;
	if (i < 2)
		return jmap_utc_date(s, &t) == 0;
	if (i == 2)
		return strlen(s) <= VAC_SUBJECT && !bad_char(s);
	return 1;
}

/* Whether o, read from a script's first line, is what /set writes: an
 * object of props (string values /set takes) and "previous". */
static int valid(json_t *o)
{
	const char *k;
	json_t *v;
	if (!json_is_object(o))
		return 0;
	json_object_foreach(o, k, v)
	{
		size_t i = 0;
		while (i < ARRAY_LEN(props) && strcmp(k, props[i]))
			i++;
		if (i < ARRAY_LEN(props) ? !prop_ok(i, v)
					 : strcmp(k, "previous") || !json_is_string(v))
			return 0;
	}
	return 1;
}

/* What the store says: the object's properties (and "previous") from the
 * generated script, or NULL when there is none or it was edited by hand;
 * *active: it is the active script; *state: the /get state. 0, or -1 with
 * serverFail set. */
static int load(struct jreq *r, json_t **obj, int *active, char state[24], char **active_name)
{
	char *src = NULL, *name = NULL, *nl;
	size_t len = 0, glen;
	int act = 0, rc;
	uint64_t h = 0xcbf29ce484222325ULL;

	*obj = NULL;
	*active = 0;
	rc = store_sieve_active(r->srv->store, r->a->id, &name, &src, &len);
	free(src);
	src = NULL;
	if (rc != ST_OK && rc != ST_NOTFOUND)
		return jmap_error(r, "serverFail", "cannot read the Sieve scripts");
	if (active_name)
		*active_name = name;
	else
		free(name);
	rc = store_sieve_get(r->srv->store, r->a->id, VAC_SCRIPT, &src, &len, &act);
	if (rc == ST_NOTFOUND) {
		snprintf(state, 24, "v0");
		return 0;
	}
	if (rc != ST_OK) {
		if (active_name) {
			free(*active_name);
			*active_name = NULL;
		}
		return jmap_error(r, "serverFail", "cannot read the Sieve scripts");
	}
	h ^= (uint64_t)act;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)src[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(state, 24, "v%016llx", (unsigned long long)h);
	*active = act;
	nl = memchr(src, '\n', len);
	if (nl && len > strlen(VAC_MAGIC) && !memcmp(src, VAC_MAGIC, strlen(VAC_MAGIC))) {
		json_t *o =
		    json_loadb(src + strlen(VAC_MAGIC), (size_t)(nl - src) - strlen(VAC_MAGIC),
			       JSON_REJECT_DUPLICATES, NULL);
		char *again = valid(o) ? generate(o, &glen) : NULL;
		if (again && glen == len && !memcmp(again, src, len))
			*obj = o;
		else
			json_decref(o);
		free(again);
	}
	free(src);
	return 0;
}

static json_t *object_json(json_t *o, int active)
{
	json_t *v = json_pack("{s:s, s:b}", "id", "singleton", "isEnabled", o && active);
	for (size_t i = 0; i < ARRAY_LEN(props); i++) {
		json_t *p = o ? json_object_get(o, props[i]) : NULL;
		json_object_set(v, props[i], json_is_string(p) ? p : json_null());
	}
	return v;
}

json_t *jmap_vacation_get(struct jreq *r, json_t *args)
{
	json_t *ids = json_object_get(args, "ids"), *list, *notfound, *v, *o;
	char acc[16], state[24];
	int active, want = 1;
	size_t i;

	if (jmap_check_account(r, args) < 0)
		return NULL;
	if (ids && !json_is_null(ids) && !json_is_array(ids))
		return jmap_error(r, "invalidArguments", "ids"), NULL;
	json_array_foreach(ids, i, v) if (!json_is_string(v)) return jmap_error(
	    r, "invalidArguments", "ids holds a non-string"),
	    NULL;
	if (json_array_size(ids) > JMAP_MAX_OBJECTS)
		return jmap_error(r, "requestTooLarge", "more than maxObjectsInGet"), NULL;
	if (load(r, &o, &active, state, NULL) < 0)
		return NULL;
	list = json_array();
	notfound = json_array();
	if (json_is_array(ids)) {
		want = 0;
		json_array_foreach(ids, i, v)
		{
			if (strcmp(json_string_value(v), "singleton"))
				json_array_append(notfound, v);
			else
				want = 1;
		}
	}
	if (want) {
		v = object_json(o, active);
		json_t *pl = json_object_get(args, "properties");
		if (json_is_array(pl)) { /* only those, and always id */
			json_t *w = json_pack("{s:s}", "id", "singleton"), *p;
			size_t k;
			json_array_foreach(pl, k, p) if (json_is_string(p) &&
							 json_object_get(v, json_string_value(p)))
			    json_object_set(w, json_string_value(p),
					    json_object_get(v, json_string_value(p)));
			json_decref(v);
			v = w;
		}
		json_array_append_new(list, v);
	}
	json_decref(o);
	jmap_account_id(r->a, acc, sizeof acc);
	return json_pack("{s:s, s:s, s:o, s:o}", "accountId", acc, "state", state, "list", list,
			 "notFound", notfound);
}

/* The patch's properties onto n (the stored object or an empty one) and
 * *enable: NULL, or the SetError. */
static json_t *apply(json_t *patch, json_t *n, int *enable)
{
	json_t *v, *badp = json_array();
	const char *k;

	json_object_foreach(patch, k, v)
	{
		int ok = 0;
		if (!strcmp(k, "id"))
			ok = json_is_string(v) && !strcmp(json_string_value(v), "singleton");
		else if (!strcmp(k, "isEnabled")) {
			ok = json_is_boolean(v);
			if (ok)
				*enable = json_is_true(v);
		} else
			for (size_t i = 0; i < ARRAY_LEN(props); i++) {
				if (strcmp(k, props[i]))
					continue;
				ok = json_is_null(v) || prop_ok(i, v);
				if (ok) {
					if (json_is_null(v))
						json_object_del(n, k);
					else
						json_object_set(n, k, v);
				}
			}
		if (!ok)
			json_array_append_new(badp, json_string(k));
	}
	if (json_array_size(badp))
		return json_pack("{s:s, s:o}", "type", "invalidProperties", "properties", badp);
	json_decref(badp);
	return NULL;
}

/* Update the singleton: NULL, or the SetError. */
static json_t *update(struct jreq *r, json_t *patch, json_t *cur, int active, const char *act_name)
{
	json_t *n = cur ? json_deep_copy(cur) : json_object(), *err;
	int enable = cur && active, rc;
	char *src, cerr[160];
	size_t len;
	struct sieve_script *s;

	if (!json_is_object(patch)) {
		json_decref(n);
		return json_pack("{s:s}", "type", "invalidPatch");
	}
	if ((err = apply(patch, n, &enable))) {
		json_decref(n);
		return err;
	}
	/* the script whose rules keep running under the vacation: the one
	 * active now, or the one remembered when the vacation is active */
	if (act_name && strcmp(act_name, VAC_SCRIPT))
		json_object_set_new(n, "previous", json_string(act_name));
	else if (!act_name || !cur)
		json_object_del(n, "previous");
	src = generate(n, &len);
	if (len > STORE_SIEVE_SIZE) {
		free(src);
		json_decref(n);
		return json_pack("{s:s}", "type", "tooLarge");
	}
	if (sieve_compile(src, len, &s, cerr, sizeof cerr) < 0) {
		free(src);
		json_decref(n);
		return json_pack("{s:s, s:s}", "type", "invalidProperties", "description", cerr);
	}
	sieve_free(s);
	rc = store_sieve_put(r->srv->store, r->a->id, VAC_SCRIPT, src, len);
	free(src);
	if (rc == ST_OK && enable)
		rc = store_sieve_activate(r->srv->store, r->a->id, VAC_SCRIPT);
	else if (rc == ST_OK && act_name && !strcmp(act_name, VAC_SCRIPT)) {
		/* turning it off: the remembered script again, if it is still there */
		const char *prev = str_of(n, "previous");
		char *ps = NULL;
		size_t pl;
		if (prev && store_sieve_get(r->srv->store, r->a->id, prev, &ps, &pl, NULL) == ST_OK)
			rc = store_sieve_activate(r->srv->store, r->a->id, prev);
		else
			rc = store_sieve_activate(r->srv->store, r->a->id, NULL);
		free(ps);
	}
	json_decref(n);
	if (rc == ST_LIMIT)
		return json_pack("{s:s, s:s}", "type", "overQuota", "description",
				 "the account has the most Sieve scripts it may have");
	if (rc != ST_OK)
		return json_pack("{s:s}", "type", "serverFail");
	return NULL;
}

json_t *jmap_vacation_set(struct jreq *r, json_t *args)
{
	json_t *create = json_object_get(args, "create"), *upd = json_object_get(args, "update");
	json_t *destroy = json_object_get(args, "destroy"), *v, *cur, *res;
	json_t *nc = json_object(), *nu = json_object(), *nd = json_object(),
	       *updated = json_null();
	char acc[16], old[24], now[24], *act_name = NULL;
	const char *k, *ifs = json_string_value(json_object_get(args, "ifInState"));
	int active;
	size_t i;

	if (jmap_check_account(r, args) < 0)
		goto fail;
	if ((create && !json_is_null(create) && !json_is_object(create)) ||
	    (upd && !json_is_null(upd) && !json_is_object(upd)) ||
	    (destroy && !json_is_null(destroy) && !json_is_array(destroy))) {
		jmap_error(r, "invalidArguments", "create, update or destroy");
		goto fail;
	}
	if (json_object_size(create) + json_object_size(upd) + json_array_size(destroy) >
	    JMAP_MAX_OBJECTS) {
		jmap_error(r, "requestTooLarge", "more than maxObjectsInSet");
		goto fail;
	}
	if (load(r, &cur, &active, old, &act_name) < 0)
		goto fail;
	if (ifs && strcmp(ifs, old)) {
		json_decref(cur);
		free(act_name);
		jmap_error(r, "stateMismatch", "");
		goto fail;
	}
	/* RFC 8621 8: there is one VacationResponse; it cannot be made or removed */
	json_object_foreach(create, k, v)
	    json_object_set_new(nc, k, json_pack("{s:s}", "type", "singleton"));
	json_array_foreach(destroy, i, v) if (json_is_string(v))
	    json_object_set_new(nd, json_string_value(v), json_pack("{s:s}", "type", "singleton"));
	json_object_foreach(upd, k, v)
	{
		if (strcmp(k, "singleton")) {
			json_object_set_new(nu, k, json_pack("{s:s}", "type", "notFound"));
			continue;
		}
		json_t *e = update(r, v, cur, active, act_name);
		if (e)
			json_object_set_new(nu, k, e);
		else {
			if (json_is_null(updated))
				updated = json_object();
			json_object_set_new(updated, k, json_null());
		}
	}
	json_decref(cur);
	free(act_name);
	if (load(r, &cur, &active, now, NULL) < 0)
		snprintf(now, sizeof now, "%s", old);
	json_decref(cur);
	jmap_account_id(r->a, acc, sizeof acc);
	res = json_pack("{s:s, s:s, s:s, s:n, s:o, s:n}", "accountId", acc, "oldState", old,
			"newState", now, "created", "updated", updated, "destroyed");
	r->err = NULL; /* a failed re-read above is not the call's failure */
	r->desc[0] = 0;
	json_object_set_new(res, "notCreated", json_object_size(nc) ? nc : json_null());
	json_object_set_new(res, "notUpdated", json_object_size(nu) ? nu : json_null());
	json_object_set_new(res, "notDestroyed", json_object_size(nd) ? nd : json_null());
	if (!json_object_size(nc))
		json_decref(nc);
	if (!json_object_size(nu))
		json_decref(nu);
	if (!json_object_size(nd))
		json_decref(nd);
	return res;
fail:
	json_decref(nc);
	json_decref(nu);
	json_decref(nd);
	json_decref(updated);
	return NULL;
}
