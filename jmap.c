/*
 * jmap.c — the JMAP core (RFC 8620): the session resource, and one API
 * request from its bytes to its response: the bounds checked before the
 * JSON is parsed (size in http.c, nesting here), the request object's
 * shape (3.3), the capabilities it uses, the method calls in order with
 * their result references (3.7), one table of methods, and one error path
 * for the request-level errors (3.6.1, as RFC 7807 problem details) and
 * one for the method-level ones (3.6.2).
 *
 * What this file leaves to others: HTTP and authentication (http.c); the
 * data types' methods (jmap_*.c, by concern, as they come).
 */
#include "jmap.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jmap_int.h"
#include "mailbox.h"
#include "server.h"
#include "util.h"

#define CAP_CORE      JMAP_CAP_CORE
#define ERR_URN	      "urn:ietf:params:jmap:error:"
#define PTR_TOKEN_MAX 256 /* one token of a result reference's path */

/* All the method responses of one request together, serialized, at most
 * this: a request of result references to result references could
 * otherwise ask for exponentially large output from a small input. */
#define JMAP_RESPONSE_MAX (2 * JMAP_MAX_SIZE_REQUEST)

static atomic_int in_flight;

uint64_t jmap_max_size_request(const struct server *srv)
{
	uint64_t m = srv->cfg->message_size;
	return m < JMAP_MAX_SIZE_REQUEST ? m : JMAP_MAX_SIZE_REQUEST;
}

static void reply_json(struct jmap_reply *out, json_t *j, int status, const char *type)
{
	out->body = json_dumps(j, JSON_COMPACT);
	if (!out->body)
		out->body = xstrdup("{}");
	out->len = strlen(out->body);
	out->status = status;
	out->type = type;
	json_decref(j);
}

/* RFC 8620 3.6.1: a request-level error, as problem details (RFC 7807). */
static void problem(struct jmap_reply *out, const char *type, const char *detail, const char *limit)
{
	char urn[96], text[256];
	json_t *j;

	/* detail may quote the request (jansson's error text quotes the bad
	 * bytes; a capability name cut short may end inside a character):
	 * printable ASCII only, so it is always a valid JSON string. */
	snprintf(text, sizeof text, "%s", detail);
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p > '~')
			*p = '?';
	snprintf(urn, sizeof urn, ERR_URN "%s", type);
	j = json_pack("{s:s, s:i, s:s}", "type", urn, "status", 400, "detail", text);
	if (limit)
		json_object_set_new(j, "limit", json_string(limit));
	reply_json(out, j, 400, "application/problem+json");
}

int jmap_enter(struct jmap_reply *out)
{
	if (atomic_fetch_add(&in_flight, 1) < JMAP_MAX_CONCURRENT)
		return 0;
	atomic_fetch_sub(&in_flight, 1);
	problem(out, "limit", "Too many requests at once", "maxConcurrentRequests");
	return -1;
}

void jmap_leave(void)
{
	atomic_fetch_sub(&in_flight, 1);
}

void jmap_too_large(struct jmap_reply *out)
{
	problem(out, "limit", "The request is larger than maxSizeRequest", "maxSizeRequest");
}

/* The account's id as JMAP shows it ("A" and the store's id in hex) and
 * the session state: it changes only when what the session resource says
 * changes (the capabilities, with brev's version). */
void jmap_account_id(const struct account *a, char *buf, size_t cap)
{
	snprintf(buf, cap, "A%x", a->id);
}

void jmap_account_id_of(const struct account *a, char *buf, size_t cap)
{
	jmap_account_id(a, buf, cap);
}

int jmap_check_account(struct jreq *r, json_t *args)
{
	char id[16];
	json_t *v = json_object_get(args, "accountId");
	if (!json_is_string(v))
		return jmap_error(r, "invalidArguments", "accountId is required");
	jmap_account_id(r->a, id, sizeof id);
	if (strcmp(json_string_value(v), id) != 0)
		return jmap_error(r, "accountNotFound", "");
	return 0;
}

static const char *session_state(void)
{
	return "core-mail-2";
}

void jmap_session(const struct server *srv, const struct account *a, struct jmap_reply *out)
{
	char id[16];
	json_t *core, *accounts, *j;

	jmap_account_id(a, id, sizeof id);
	core = json_pack("{s:I, s:i, s:I, s:i, s:i, s:i, s:i, s:[]}", "maxSizeUpload",
			 (json_int_t)srv->cfg->message_size, "maxConcurrentUpload", JMAP_MAX_CONCURRENT,
			 "maxSizeRequest", (json_int_t)jmap_max_size_request(srv),
			 "maxConcurrentRequests", JMAP_MAX_CONCURRENT, "maxCallsInRequest",
			 JMAP_MAX_CALLS, "maxObjectsInGet", JMAP_MAX_OBJECTS, "maxObjectsInSet",
			 JMAP_MAX_OBJECTS, "collationAlgorithms");
	accounts = json_object();
	/* RFC 8621 1.3.2: nothing can be delayed (maxDelayedSend 0), no SMTP
	 * extensions are offered to the client */
	json_object_set_new(accounts, id,
			    json_pack("{s:s, s:b, s:b, s:{s:o, s:{s:i, s:{}}}}", "name", a->addr,
				      "isPersonal", 1, "isReadOnly", 0, "accountCapabilities",
				      JMAP_CAP_MAIL, jmap_mail_account_capability(srv),
				      JMAP_CAP_SUBMISSION, "maxDelayedSend", 0,
				      "submissionExtensions"));
	/* RFC 8621 8: VacationResponse's capability object is empty, in the
	 * session and in the account */
	json_object_set_new(json_object_get(json_object_get(accounts, id), "accountCapabilities"),
			    JMAP_CAP_VACATION, json_object());
	j = json_pack("{s:{s:o, s:{}, s:{}, s:{}}, s:o, s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:s, "
		      "s:s, s:s}",
		      "capabilities", CAP_CORE, core, JMAP_CAP_MAIL, JMAP_CAP_SUBMISSION,
		      JMAP_CAP_VACATION, "accounts", accounts, "primaryAccounts", JMAP_CAP_MAIL, id,
		      JMAP_CAP_SUBMISSION, id, JMAP_CAP_VACATION, id,
		      "username", a->addr, "apiUrl", "/jmap/api/", "downloadUrl",
		      "/jmap/download/{accountId}/{blobId}/{name}?accept={type}", "uploadUrl",
		      "/jmap/upload/{accountId}/", "eventSourceUrl",
		      "/jmap/eventsource/?types={types}&closeafter={closeafter}&ping={ping}",
		      "state", session_state());
	reply_json(out, j, 200, "application/json");
}

/* ---- bounds before parsing ---- */

/* Before the parser runs, on the raw bytes (outside strings): 1 if arrays
 * and objects nest deeper than JMAP_MAX_DEPTH (the parser would recurse
 * that deep), 2 if there are more than JMAP_MAX_VALUES values (what the
 * parsed request would cost), else 0. */
static int too_deep(const char *p, size_t len)
{
	int depth = 0, in_str = 0;
	size_t values = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];
		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = 0;
		} else if (ch == '"') {
			in_str = 1;
		} else if (ch == '[' || ch == '{') {
			if (++depth > JMAP_MAX_DEPTH)
				return 1;
			values++;
		} else if (ch == ']' || ch == '}') {
			depth--;
		} else if (ch == ',') {
			values++;
		}
		if (values > JMAP_MAX_VALUES)
			return 2;
	}
	return 0;
}

/* ---- result references (RFC 8620 3.7) ---- */

/* One token of a JSON Pointer (RFC 6901): ~1 is '/', ~0 is '~'. */
static int ptr_token(const char *p, size_t n, char *tok)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (o + 1 >= PTR_TOKEN_MAX)
			return -1;
		if (p[i] == '~') {
			if (i + 1 == n || (p[i + 1] != '0' && p[i + 1] != '1'))
				return -1;
			tok[o++] = p[++i] == '1' ? '/' : '~';
		} else
			tok[o++] = p[i];
	}
	tok[o] = 0;
	return 0;
}

/* Evaluate path on v with JMAP's "*" (map over an array, flattening
 * arrays that come back). A new reference, or NULL if the path does not
 * resolve. Recursion follows the value's depth, which the request's
 * nesting bound limits. */
static json_t *ptr_eval(json_t *v, const char *path)
{
	char tok[PTR_TOKEN_MAX];
	const char *rest;
	size_t n;

	if (*path == 0)
		return json_incref(v);
	if (*path != '/')
		return NULL;
	path++;
	n = strcspn(path, "/");
	rest = path + n;
	if (ptr_token(path, n, tok) < 0)
		return NULL;
	if (json_is_array(v)) {
		size_t i, len = json_array_size(v);
		if (strcmp(tok, "*") == 0) {
			json_t *out = json_array(), *item;
			json_array_foreach(v, i, item)
			{
				json_t *r = ptr_eval(item, rest);
				if (!r) {
					json_decref(out);
					return NULL;
				}
				if (json_is_array(r))
					json_array_extend(out, r);
				else
					json_array_append(out, r);
				json_decref(r);
			}
			return out;
		}
		/* an index: digits, no leading zero */
		if (!tok[0] || (tok[0] == '0' && tok[1]) ||
		    strspn(tok, "0123456789") != strlen(tok) || strlen(tok) > 9)
			return NULL;
		i = (size_t)strtoul(tok, NULL, 10);
		return i < len ? ptr_eval(json_array_get(v, i), rest) : NULL;
	}
	if (json_is_object(v)) {
		json_t *child = json_object_get(v, tok);
		return child ? ptr_eval(child, rest) : NULL;
	}
	return NULL;
}

int jmap_error(struct jreq *r, const char *type, const char *desc)
{
	r->err = type;
	snprintf(r->desc, sizeof r->desc, "%s", desc);
	for (char *p = r->desc; *p; p++) /* as problem(): may quote the request */
		if ((unsigned char)*p < ' ' || (unsigned char)*p > '~')
			*p = '?';
	return -1;
}

/* The value of one reference, or NULL with r->err set. */
static json_t *resolve_one(struct jreq *r, json_t *ref)
{
	const char *of, *name, *path;
	size_t i;
	json_t *resp;

	if (json_unpack(ref, "{s:s, s:s, s:s !}", "resultOf", &of, "name", &name, "path", &path) <
	    0) {
		jmap_error(r, "invalidResultReference",
			   "a ResultReference has resultOf, name and path");
		return NULL;
	}
	/* RFC 8620 3.7: the first response with that call id, and its name
	 * must be name. Only earlier responses exist: a reference to the call
	 * itself, to a later one, or in a loop finds nothing. */
	json_array_foreach(r->responses, i, resp)
	{
		const char *rname = json_string_value(json_array_get(resp, 0));
		const char *rid = json_string_value(json_array_get(resp, 2));
		if (!rid || strcmp(rid, of) != 0)
			continue;
		if (!rname || strcmp(rname, name) != 0) {
			jmap_error(r, "invalidResultReference", "the response has another name");
			return NULL;
		}
		json_t *v = ptr_eval(json_array_get(resp, 1), path);
		if (!v)
			jmap_error(r, "invalidResultReference", "the path does not resolve");
		return v;
	}
	jmap_error(r, "invalidResultReference", "no earlier response with that method call id");
	return NULL;
}

/* The arguments with every "#name" reference replaced by its value. A
 * new reference, or NULL with r->err set. */
static json_t *resolve_args(struct jreq *r, json_t *args)
{
	json_t *out = json_object(), *v;
	const char *key;
	size_t cost = 0;

	json_object_foreach(args, key, v)
	{
		if (key[0] != '#') {
			json_object_set(out, key, v);
			continue;
		}
		if (json_object_get(args, key + 1)) {
			jmap_error(r, "invalidArguments",
				   "an argument is given both as a value and as a reference");
			goto bad;
		}
		json_t *val = resolve_one(r, v);
		if (!val)
			goto bad;
		cost += json_dumpb(val, NULL, 0, JSON_COMPACT);
		if (r->used + cost > JMAP_RESPONSE_MAX) {
			json_decref(val);
			jmap_error(r, "requestTooLarge", "the responses would be too large");
			goto bad;
		}
		json_object_set_new(out, key + 1, val);
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

/* ---- methods ---- */

/* RFC 8620 4: Core/echo answers with its arguments. */
static json_t *core_echo(struct jreq *r, json_t *args)
{
	(void)r;
	return json_incref(args);
}

static const struct {
	const char *name;
	const char *capability;
	jmap_fn fn;
} methods[] = {
    {"Core/echo", CAP_CORE, core_echo},
    {"Mailbox/get", JMAP_CAP_MAIL, jmap_mailbox_get},
    {"Mailbox/query", JMAP_CAP_MAIL, jmap_mailbox_query},
    {"Mailbox/set", JMAP_CAP_MAIL, jmap_mailbox_set},
    {"Mailbox/changes", JMAP_CAP_MAIL, jmap_mailbox_changes},
    {"Thread/get", JMAP_CAP_MAIL, jmap_thread_get},
    {"Email/changes", JMAP_CAP_MAIL, jmap_email_changes},
    {"SearchSnippet/get", JMAP_CAP_MAIL, jmap_snippet_get},
    {"Email/query", JMAP_CAP_MAIL, jmap_email_query},
    {"Email/get", JMAP_CAP_MAIL, jmap_email_get},
    {"Email/set", JMAP_CAP_MAIL, jmap_email_set},
    {"Email/import", JMAP_CAP_MAIL, jmap_email_import},
    {"Identity/get", JMAP_CAP_SUBMISSION, jmap_identity_get},
    {"EmailSubmission/set", JMAP_CAP_SUBMISSION, jmap_submission_set},
    {"VacationResponse/get", JMAP_CAP_VACATION, jmap_vacation_get},
    {"VacationResponse/set", JMAP_CAP_VACATION, jmap_vacation_set},
};

static int uses(const struct jreq *r, const char *cap)
{
	size_t i;
	json_t *v;
	json_array_foreach(r->using, i, v) if (strcmp(json_string_value(v), cap) == 0) return 1;
	return 0;
}

static void method_error(struct jreq *r, const char *call_id)
{
	json_t *e = json_pack("{s:s}", "type", r->err);
	if (r->desc[0])
		json_object_set_new(e, "description", json_string(r->desc));
	json_array_append_new(r->responses, json_pack("[s, o, s]", "error", e, call_id));
	r->used += strlen(r->err) + strlen(r->desc) + strlen(call_id) + 48;
	r->err = NULL;
	r->desc[0] = 0;
}

static void run_call(struct jreq *r, const char *name, json_t *args, const char *call_id)
{
	jmap_fn fn = NULL;
	json_t *a, *res;

	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (strcmp(methods[i].name, name) == 0 && uses(r, methods[i].capability))
			fn = methods[i].fn;
	if (!fn) {
		jmap_error(r, "unknownMethod", "");
		method_error(r, call_id);
		return;
	}
	a = resolve_args(r, args);
	if (!a) {
		method_error(r, call_id);
		return;
	}
	res = fn(r, a);
	json_decref(a);
	if (!res) {
		method_error(r, call_id);
		return;
	}
	size_t sz = json_dumpb(res, NULL, 0, JSON_COMPACT) + strlen(name) + strlen(call_id) + 8;
	if (r->used + sz > JMAP_RESPONSE_MAX) {
		json_decref(res);
		jmap_error(r, "requestTooLarge", "the responses would be too large");
		method_error(r, call_id);
		return;
	}
	r->used += sz;
	json_array_append_new(r->responses, json_pack("[s, o, s]", name, res, call_id));
	/* RFC 8621 7.5: onSuccessUpdateEmail's implicit Email/set response
	 * comes right after, under the same call id */
	if (r->follow) {
		r->used += json_dumpb(r->follow, NULL, 0, JSON_COMPACT) + strlen(call_id) + 20;
		json_array_append_new(r->responses,
				      json_pack("[s, o, s]", r->follow_name, r->follow, call_id));
		r->follow = NULL;
	}
}

/* ---- the request ---- */

static int known_capability(const char *cap)
{
	return strcmp(cap, CAP_CORE) == 0 || strcmp(cap, JMAP_CAP_MAIL) == 0 ||
	       strcmp(cap, JMAP_CAP_SUBMISSION) == 0 || strcmp(cap, JMAP_CAP_VACATION) == 0;
}

static void process(const struct server *srv, const struct account *a, json_t *req,
		    struct jmap_reply *out)
{
	json_t *using, *calls, *created = NULL, *call, *v;
	struct jreq r;
	size_t i;
	char detail[200];

	/* RFC 8620 3.3: {using: [String], methodCalls: [Invocation], createdIds?} */
	if (!json_is_object(req) ||
	    json_unpack(req, "{s:o, s:o, s?o}", "using", &using, "methodCalls", &calls,
			"createdIds", &created) < 0 ||
	    !json_is_array(using) || !json_is_array(calls) ||
	    (created && !json_is_object(created))) {
		problem(out, "notRequest", "Not a JMAP Request object", NULL);
		return;
	}
	json_array_foreach(using, i, v) if (!json_is_string(v))
	{
		problem(out, "notRequest", "using holds a non-string", NULL);
		return;
	}
	if (json_array_size(calls) > JMAP_MAX_CALLS) {
		snprintf(detail, sizeof detail, "%zu method calls; maxCallsInRequest is %d",
			 json_array_size(calls), JMAP_MAX_CALLS);
		problem(out, "limit", detail, "maxCallsInRequest");
		return;
	}
	json_array_foreach(calls, i, call)
	{
		if (!json_is_array(call) || json_array_size(call) != 3 ||
		    !json_is_string(json_array_get(call, 0)) ||
		    !json_is_object(json_array_get(call, 1)) ||
		    !json_is_string(json_array_get(call, 2))) {
			problem(out, "notRequest",
				"an Invocation is [name, arguments, methodCallId]", NULL);
			return;
		}
	}
	json_array_foreach(using, i, v) if (!known_capability(json_string_value(v)))
	{
		snprintf(detail, sizeof detail, "unknown capability: %.120s", json_string_value(v));
		problem(out, "unknownCapability", detail, NULL);
		return;
	}
	memset(&r, 0, sizeof r);
	r.srv = srv;
	r.a = a;
	r.using = using;
	r.responses = json_array();
	/* RFC 8620 5.3: creation ids of this request (and those given) */
	r.created_ids = created ? json_deep_copy(created) : json_object();
	json_array_foreach(calls, i, call)
	    run_call(&r, json_string_value(json_array_get(call, 0)), json_array_get(call, 1),
		     json_string_value(json_array_get(call, 2)));
	json_t *resp = json_pack("{s:o, s:s}", "methodResponses", r.responses, "sessionState",
				 session_state());
	if (created)
		json_object_set(resp, "createdIds", r.created_ids);
	json_decref(r.created_ids);
	reply_json(out, resp, 200, "application/json");
}

void jmap_api(const struct server *srv, const struct account *a, const char *body, size_t len,
	      struct jmap_reply *out)
{
	json_error_t jerr;
	json_t *req;

	memset(out, 0, sizeof *out);
	switch (too_deep(body, len)) {
	case 1:
		problem(out, "limit", "Arrays and objects nested too deeply", "maxDepth");
		return;
	case 2:
		problem(out, "limit", "More than 200000 JSON values", "maxSizeRequest");
		return;
	}
	req = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		char d[200];
		snprintf(d, sizeof d, "Not valid JSON: %s (line %d)", jerr.text, jerr.line);
		problem(out, "notJSON", d, NULL);
		return;
	}
	process(srv, a, req, out);
	json_decref(req);
}
