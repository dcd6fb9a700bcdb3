/*
 * acme.c — an ACME client (RFC 8555) for the server certificate: account,
 * order, http-01 challenges answered by brev's own http listener
 * (http.c asks acme_challenge()), finalize with a CSR, download the chain,
 * install it and switch the listeners to it, renew at two thirds of the
 * lifetime.
 *
 * What this file owns: the JWS (RFC 7515, ES256 with a "jwk" or "kid"
 * header), the state machine, the files in DATADIR/acme and the renewal
 * thread. The cryptography
 * (keys, signatures, the CSR, certificate dates) is tls.c's, the HTTPS
 * requests httpc.c's (every answer bounded by ACME_BODY_MAX, the host name
 * resolved through dns.c: the static binary has no NSS).
 *
 * The ACME server is not trusted with anything but its answers: every
 * field read from it is checked for type and length, and a failure at any
 * step leaves the certificate in use where it was.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acme.h"
#include "config.h"
#include "dns.h"
#include "httpc.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "util.h"

#define ACME_POLLS	 30    /* status polls of an authorization or order */
#define ACME_NONCE_TRIES 3     /* badNonce: retry with the fresh nonce (RFC 8555 6.5) */
#define ACME_NAMES_MAX	 16
#define ACME_RETRY_MIN	 60
#define ACME_RETRY_MAX	 86400

/* ---- base64url (RFC 4648 5, no padding) ---- */

static char *b64url(const void *in, size_t n)
{
	static const char al[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	char *out = xmalloc(n / 3 * 4 + 5), *o = out;
	size_t i;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = al[p[i] >> 2];
		*o++ = al[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = al[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		*o++ = al[p[i + 2] & 63];
	}
	if (n - i == 1) {
		*o++ = al[p[i] >> 2];
		*o++ = al[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		*o++ = al[p[i] >> 2];
		*o++ = al[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = al[(p[i + 1] & 15) << 2];
	}
	*o = 0;
	return out;
}

struct acme {
	struct server *srv;
	char dir[4096]; /* DATADIR/acme */
	struct tls_client *tlsc;
	struct tls_eckey *akey;
	char *thumb; /* RFC 7638 thumbprint of the account key, base64url */
	char *jwk;   /* the account key as JSON */
	char kid[2048];
	char nonce[256];
	json_t *directory;
};

/* A request to the ACME server; the nonce of every answer is kept. */
static int https(struct acme *a, const char *method, const char *url, const char *body,
		 struct httpc_resp *r, char *err, size_t errlen)
{
	if (httpc_request(a->tlsc, method, url, body, "application/jose+json", ACME_BODY_MAX, r,
			  err, errlen) < 0)
		return -1;
	/* RFC 8555 6.5.1: a nonce is base64url; anything else is not kept
	 * (it would also not survive into the JSON of the next request) */
	if (r->nonce[0] && strspn(r->nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					   "0123456789-_") == strlen(r->nonce))
		str_copy(a->nonce, r->nonce, sizeof a->nonce);
	return 0;
}

/* ---- JWS (RFC 7515 flattened JSON, RFC 8555 6.2) ---- */

static int account_key(struct acme *a, char *err, size_t errlen)
{
	char path[4200];
	unsigned char x[32], y[32], h[32];
	struct stat st;
	char *xs, *ys;

	path_join(path, sizeof path, a->dir, "account-key.pem");
	a->akey = tls_eckey_load(path, stat(path, &st) != 0, err, errlen);
	if (!a->akey)
		return -1;
	tls_eckey_xy(a->akey, x, y);
	xs = b64url(x, 32);
	ys = b64url(y, 32);
	/* RFC 7638 3.2: the required members, in lexical order, no white space */
	a->jwk = xmalloc(160);
	snprintf(a->jwk, 160, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", xs,
		 ys);
	tls_sha256(a->jwk, strlen(a->jwk), h);
	a->thumb = b64url(h, 32);
	free(xs);
	free(ys);
	return 0;
}

static char *jws(struct acme *a, const char *url, const char *payload, int use_jwk)
{
	char *prot, *p64, *b64, *s64, *out;
	unsigned char sig[64];
	json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", a->nonce, "url", url);
	struct sbuf in = {0};

	if (!h)
		return NULL;
	if (json_object_set_new(h, use_jwk ? "jwk" : "kid",
				use_jwk ? json_loads(a->jwk, 0, NULL) : json_string(a->kid)) < 0) {
		json_decref(h); /* a kid that is not UTF-8 */
		return NULL;
	}
	prot = json_dumps(h, JSON_COMPACT);
	json_decref(h);
	if (!prot)
		return NULL;
	p64 = b64url(prot, strlen(prot));
	b64 = b64url(payload, strlen(payload));
	sbuf_printf(&in, "%s.%s", p64, b64);
	if (tls_eckey_sign(a->akey, in.p, in.len, sig) < 0)
		memset(sig, 0, sizeof sig);
	s64 = b64url(sig, sizeof sig);
	h = json_pack("{s:s, s:s, s:s}", "protected", p64, "payload", b64, "signature", s64);
	out = json_dumps(h, JSON_COMPACT);
	json_decref(h);
	free(prot);
	free(p64);
	free(b64);
	free(s64);
	sbuf_free(&in);
	return out;
}

static int get_nonce(struct acme *a, char *err, size_t errlen)
{
	struct httpc_resp r;
	const char *u = json_string_value(json_object_get(a->directory, "newNonce"));
	if (https(a, "HEAD", u, NULL, &r, err, errlen) < 0)
		return -1;
	httpc_resp_clear(&r);
	if (!a->nonce[0]) {
		snprintf(err, errlen, "newNonce: no Replay-Nonce");
		return -1;
	}
	return 0;
}

/* The problem document of an error answer (RFC 8555 6.7), in words. */
static void problem(const struct httpc_resp *r, const char *what, char *err, size_t errlen)
{
	json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
	const char *t = json_string_value(json_object_get(j, "type"));
	const char *d = json_string_value(json_object_get(j, "detail"));
	snprintf(err, errlen, "%s: HTTP %d%s%.100s%s%.200s", what, r->status, t ? " " : "",
		 t ? t : "", d ? ": " : "", d ? d : "");
	json_decref(j);
}

/* A signed POST; retried with the fresh nonce on badNonce. Any 2xx is 0. */
static int post(struct acme *a, const char *url, const char *payload, int use_jwk,
		struct httpc_resp *r, const char *what, char *err, size_t errlen)
{
	for (int i = 0; i < ACME_NONCE_TRIES; i++) {
		char *body;
		int rc;
		if (!a->nonce[0] && get_nonce(a, err, errlen) < 0)
			return -1;
		body = jws(a, url, payload, use_jwk);
		a->nonce[0] = 0; /* used; the answer brings the next */
		if (!body) {
			snprintf(err, errlen, "%s: cannot build the request (bad URL or account URL)",
				 what);
			return -1;
		}
		rc = https(a, "POST", url, body, r, err, errlen);
		free(body);
		if (rc < 0)
			return -1;
		if (r->status >= 200 && r->status < 300)
			return 0;
		problem(r, what, err, errlen);
		if (r->status != 400 || !strstr(err, "badNonce")) {
			httpc_resp_clear(r);
			return -1;
		}
		httpc_resp_clear(r);
	}
	return -1;
}

/* A JSON object body, or NULL with err. */
static json_t *json_body(const struct httpc_resp *r, const char *what, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		snprintf(err, errlen, "%s: not a JSON object (%s)", what, j ? "wrong type" : je.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s && strlen(s) < 2048 ? s : NULL;
}

/* ---- the pending http-01 challenges, for http.c ---- */

#define PENDING_MAX ACME_NAMES_MAX
static pthread_mutex_t pend_mu = PTHREAD_MUTEX_INITIALIZER;
static char pend_token[PENDING_MAX][ACME_TOKEN_MAX + 1];
static char pend_auth[PENDING_MAX][ACME_KEYAUTH_MAX + 1];

static int token_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > ACME_TOKEN_MAX)
		return 0;
	for (; *t; t++) /* RFC 8555 8.3: base64url characters only */
		if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') ||
		      (*t >= '0' && *t <= '9') || *t == '-' || *t == '_'))
			return 0;
	return 1;
}

static int pend_add(const char *token, const char *thumb)
{
	int ret = -1;
	pthread_mutex_lock(&pend_mu);
	for (int i = 0; i < PENDING_MAX; i++)
		if (!pend_token[i][0]) {
			str_copy(pend_token[i], token, sizeof pend_token[i]);
			snprintf(pend_auth[i], sizeof pend_auth[i], "%s.%s", token, thumb);
			ret = 0;
			break;
		}
	pthread_mutex_unlock(&pend_mu);
	return ret;
}

static void pend_clear(void)
{
	pthread_mutex_lock(&pend_mu);
	memset(pend_token, 0, sizeof pend_token);
	memset(pend_auth, 0, sizeof pend_auth);
	pthread_mutex_unlock(&pend_mu);
}

size_t acme_challenge(const char *token, char *out, size_t cap)
{
	size_t n = 0;
	if (!token_ok(token))
		return 0;
	pthread_mutex_lock(&pend_mu);
	for (int i = 0; i < PENDING_MAX; i++)
		if (pend_token[i][0] && strcmp(pend_token[i], token) == 0) {
			n = str_copy(out, pend_auth[i], cap);
			break;
		}
	pthread_mutex_unlock(&pend_mu);
	return n;
}

/* ---- the protocol ---- */

static atomic_int stop_flag;

static void pause_s(int s)
{
	for (int i = 0; i < s * 10 && !stop_flag; i++)
		usleep(100000);
}

/* POST-as-GET url until its status leaves "pending"/"processing"
 * (RFC 8555 7.5.1, 7.4). The object, or NULL with err. */
static json_t *poll_status(struct acme *a, const char *url, const char *want, const char *what,
			   char *err, size_t errlen)
{
	for (int i = 0; i < ACME_POLLS && !stop_flag; i++) {
		struct httpc_resp r;
		json_t *o;
		const char *st;
		if (post(a, url, "", 0, &r, what, err, errlen) < 0)
			return NULL;
		o = json_body(&r, what, err, errlen);
		httpc_resp_clear(&r);
		if (!o)
			return NULL;
		st = jstr(o, "status");
		if (st && strcmp(st, want) == 0)
			return o;
		if (!st || (strcmp(st, "pending") && strcmp(st, "processing") &&
			    strcmp(st, "ready"))) {
			json_t *e = json_object_get(o, "error");
			const char *d = jstr(e, "detail");
			if (!d) { /* an authorization's error sits in its challenge */
				json_t *ch;
				size_t k;
				json_array_foreach(json_object_get(o, "challenges"), k, ch)
				    if ((d = jstr(json_object_get(ch, "error"), "detail")))
					break;
			}
			snprintf(err, errlen, "%s: status %.20s%s%.300s", what, st ? st : "(none)",
				 d ? ": " : "", d ? d : "");
			json_decref(o);
			return NULL;
		}
		json_decref(o);
		pause_s(1);
	}
	snprintf(err, errlen, "%s: still not %s after %d polls", what, want, ACME_POLLS);
	return NULL;
}

/* The account for this directory: account.url holds "DIRECTORY KID", so
 * a changed tls.acme (staging to production) makes a new account. */
static int do_account(struct acme *a, const char *diru, const char *email, char *err,
		      size_t errlen)
{
	char path[4200], payload[600];
	struct httpc_resp r;
	size_t n, dl = strlen(diru);
	char *saved;

	path_join(path, sizeof path, a->dir, "account.url");
	saved = file_read(path, 8192, &n);
	if (saved) {
		char *t = str_trim(saved);
		if (strncmp(t, diru, dl) == 0 && t[dl] == ' ')
			str_copy(a->kid, t + dl + 1, sizeof a->kid);
		free(saved);
		if (a->kid[0])
			return 0;
	}
	if (email && *email && strlen(email) < 256 && !strpbrk(email, "\"\\"))
		snprintf(payload, sizeof payload,
			 "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:%s\"]}", email);
	else
		snprintf(payload, sizeof payload, "{\"termsOfServiceAgreed\":true}");
	if (post(a, jstr(a->directory, "newAccount"), payload, 1, &r, "newAccount", err, errlen) <
	    0)
		return -1;
	if (!r.location[0] || strncmp(r.location, "https://", 8) != 0) {
		snprintf(err, errlen, "newAccount: no account URL");
		httpc_resp_clear(&r);
		return -1;
	}
	str_copy(a->kid, r.location, sizeof a->kid);
	httpc_resp_clear(&r);
	{
		struct sbuf b = {0};
		sbuf_printf(&b, "%s %s\n", diru, a->kid);
		file_write_atomic(path, b.p, b.len, 0600);
		sbuf_free(&b);
	}
	log_info("acme: account %s", a->kid);
	return 0;
}

/* Answer one authorization with its http-01 challenge. */
static int do_authz(struct acme *a, const char *url, char *err, size_t errlen)
{
	struct httpc_resp r;
	json_t *o, *ch, *done;
	size_t i;
	const char *token = NULL, *curl = NULL, *st;

	if (post(a, url, "", 0, &r, "authorization", err, errlen) < 0)
		return -1;
	o = json_body(&r, "authorization", err, errlen);
	httpc_resp_clear(&r);
	if (!o)
		return -1;
	st = jstr(o, "status");
	if (st && strcmp(st, "valid") == 0) { /* reused (RFC 8555 7.1.4) */
		json_decref(o);
		return 0;
	}
	json_array_foreach(json_object_get(o, "challenges"), i, ch)
	{
		const char *t = jstr(ch, "type");
		if (t && strcmp(t, "http-01") == 0) {
			token = jstr(ch, "token");
			curl = jstr(ch, "url");
			break;
		}
	}
	if (!token || !curl || !token_ok(token)) {
		snprintf(err, errlen, "authorization: no usable http-01 challenge");
		json_decref(o);
		return -1;
	}
	if (pend_add(token, a->thumb) < 0) {
		snprintf(err, errlen, "too many challenges");
		json_decref(o);
		return -1;
	}
	/* RFC 8555 7.5.1: an empty object tells the server to validate */
	if (post(a, curl, "{}", 0, &r, "challenge", err, errlen) < 0) {
		json_decref(o);
		return -1;
	}
	httpc_resp_clear(&r);
	json_decref(o);
	done = poll_status(a, url, "valid", "authorization", err, errlen);
	json_decref(done);
	return done ? 0 : -1;
}

/* Write the chain and the key next to their final names, check that they
 * belong together, move them in place, serve them. */
static int install(struct acme *a, const struct httpc_resp *chain, const char *newkey, char *err,
		   size_t errlen)
{
	char cert_new[4200], cert[4200], key[4200];
	path_join(cert_new, sizeof cert_new, a->dir, "cert.pem.new");
	path_join(cert, sizeof cert, a->dir, "cert.pem");
	path_join(key, sizeof key, a->dir, "key.pem");
	if (!strstr(chain->body, "-----BEGIN CERTIFICATE-----")) {
		snprintf(err, errlen, "certificate: the answer is not a PEM chain");
		return -1;
	}
	if (file_write_atomic(cert_new, chain->body, chain->len, 0644) < 0) {
		snprintf(err, errlen, "%.300s: %s", cert_new, strerror(errno));
		return -1;
	}
	if (tls_pair_check(cert_new, newkey, err, errlen) < 0) {
		unlink(cert_new);
		return -1;
	}
	/* The key first: a reload between the two renames fails its pair check
	 * and keeps the old material. */
	if (rename(newkey, key) < 0 || rename(cert_new, cert) < 0) {
		snprintf(err, errlen, "installing %.300s: %s", cert, strerror(errno));
		return -1;
	}
	if (a->srv && a->srv->tls && tls_server_set_files(a->srv->tls, cert, key, err, errlen) < 0)
		return -1;
	return 0;
}

static int names_of(const struct config *cfg, char names[ACME_NAMES_MAX][DNS_NAME_MAX + 1],
		    size_t *n)
{
	const char *p = cfg->tls_acme_names ? cfg->tls_acme_names : "";
	*n = 0;
	str_copy(names[(*n)++], cfg->hostname, DNS_NAME_MAX + 1);
	while (*p) {
		size_t k;
		p += strspn(p, " \t,");
		k = strcspn(p, " \t,");
		if (!k)
			break;
		if (k > DNS_NAME_MAX || *n == ACME_NAMES_MAX)
			return -1;
		memcpy(names[*n], p, k);
		names[*n][k] = 0;
		str_lower(names[*n]);
		if (strcmp(names[*n], names[0]) != 0)
			(*n)++;
		p += k;
	}
	return 0;
}

/* One whole issuance. 0, or -1 with err and nothing changed. */
static int obtain(struct acme *a, char *err, size_t errlen)
{
	const struct config *cfg = a->srv->cfg;
	char names[ACME_NAMES_MAX][DNS_NAME_MAX + 1], keypath[4200];
	const char *np[ACME_NAMES_MAX];
	size_t nn, i;
	struct httpc_resp r;
	json_t *order = NULL, *authz, *v, *done = NULL;
	struct tls_eckey *ckey = NULL;
	unsigned char *csr = NULL;
	size_t csrlen;
	char *csr64 = NULL, order_url[2048], *payload;
	const char *fin, *certurl;
	int ret = -1;

	if (names_of(cfg, names, &nn) < 0) {
		snprintf(err, errlen, "tls.acme_names: too many or too long names");
		return -1;
	}
	if (https(a, "GET", cfg->tls_acme, NULL, &r, err, errlen) < 0)
		return -1;
	json_decref(a->directory);
	a->directory = r.status == 200 ? json_body(&r, "directory", err, errlen) : NULL;
	if (r.status != 200)
		snprintf(err, errlen, "directory: HTTP %d", r.status);
	httpc_resp_clear(&r);
	if (!a->directory)
		return -1;
	if (!jstr(a->directory, "newNonce") || !jstr(a->directory, "newAccount") ||
	    !jstr(a->directory, "newOrder")) {
		snprintf(err, errlen, "directory: newNonce, newAccount or newOrder missing");
		return -1;
	}
	a->kid[0] = 0;
	if (do_account(a, cfg->tls_acme, cfg->tls_acme_email, err, errlen) < 0)
		return -1;

	/* RFC 8555 7.4: the order */
	json_t *ids = json_array();
	for (i = 0; i < nn; i++) {
		json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns", "value", names[i]));
		np[i] = names[i];
	}
	json_t *req = json_pack("{s:o}", "identifiers", ids);
	payload = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	int rc = post(a, jstr(a->directory, "newOrder"), payload, 0, &r, "newOrder", err, errlen);
	free(payload);
	if (rc < 0)
		return -1;
	str_copy(order_url, r.location, sizeof order_url);
	order = json_body(&r, "newOrder", err, errlen);
	httpc_resp_clear(&r);
	if (!order)
		return -1;
	if (strncmp(order_url, "https://", 8) != 0) {
		snprintf(err, errlen, "newOrder: no order URL");
		goto out;
	}
	log_info("acme: order %s for %zu name(s)", order_url, nn);
	if (!json_is_array(json_object_get(order, "authorizations")) ||
	    json_array_size(json_object_get(order, "authorizations")) > ACME_NAMES_MAX) {
		snprintf(err, errlen, "newOrder: bad authorizations");
		goto out;
	}
	json_array_foreach(json_object_get(order, "authorizations"), i, authz)
	{
		const char *u = json_string_value(authz);
		if (!u || do_authz(a, u, err, errlen) < 0) {
			if (!u)
				snprintf(err, errlen, "newOrder: bad authorization URL");
			goto out;
		}
	}
	log_info("acme: %zu authorization(s) valid", nn);

	/* RFC 8555 7.4: finalize with a CSR for a fresh key */
	path_join(keypath, sizeof keypath, a->dir, "key.pem.new");
	ckey = tls_eckey_load(keypath, 1, err, errlen);
	if (!ckey || tls_make_csr(ckey, np, nn, &csr, &csrlen, err, errlen) < 0)
		goto out;
	csr64 = b64url(csr, csrlen);
	fin = jstr(order, "finalize");
	v = json_pack("{s:s}", "csr", csr64);
	payload = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	if (!fin || post(a, fin, payload, 0, &r, "finalize", err, errlen) < 0) {
		if (!fin)
			snprintf(err, errlen, "order: no finalize URL");
		free(payload);
		goto out;
	}
	free(payload);
	httpc_resp_clear(&r);
	done = poll_status(a, order_url, "valid", "order", err, errlen);
	if (!done)
		goto out;
	certurl = jstr(done, "certificate");
	if (!certurl) {
		snprintf(err, errlen, "order: no certificate URL");
		goto out;
	}
	if (post(a, certurl, "", 0, &r, "certificate", err, errlen) < 0)
		goto out;
	ret = install(a, &r, keypath, err, errlen);
	httpc_resp_clear(&r);
out:
	if (ret < 0)
		unlink(keypath);
	pend_clear();
	json_decref(order);
	json_decref(done);
	tls_eckey_free(&ckey);
	free(csr);
	free(csr64);
	return ret;
}

/* ---- the renewal thread ---- */

static pthread_t thr;
static int started;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int renew_asked;

int acme_current(const char *datadir, char *cert, char *key, size_t cap)
{
	char dir[4096], err[256], c[4200], k[4200];
	path_join(dir, sizeof dir, datadir, "acme");
	if (path_join(c, sizeof c, dir, "cert.pem") < 0 || path_join(k, sizeof k, dir, "key.pem") < 0 ||
	    strlen(c) >= cap || strlen(k) >= cap || tls_pair_check(c, k, err, sizeof err) < 0)
		return 0; /* cert and key untouched: tls.cert stays */
	str_copy(cert, c, cap);
	str_copy(key, k, cap);
	return 1;
}

/* When an ACME certificate is due: at two thirds of its life (RFC 8555
 * does not say; Let's Encrypt asks for renewal with a third left). */
static int dates_of(const char *dir, time_t *nb, time_t *na, time_t *due)
{
	char cert[4200];
	path_join(cert, sizeof cert, dir, "cert.pem");
	if (tls_cert_dates(cert, nb, na) < 0 || *na <= *nb)
		return -1;
	*due = *nb + (*na - *nb) / 3 * 2;
	return 0;
}

/* 0 (now) when there is none */
static time_t due_at(struct acme *a)
{
	time_t nb, na, due;
	return dates_of(a->dir, &nb, &na, &due) < 0 ? 0 : due;
}

int acme_dates(const char *datadir, time_t *not_before, time_t *not_after, time_t *due)
{
	char dir[4096];
	path_join(dir, sizeof dir, datadir, "acme");
	return dates_of(dir, not_before, not_after, due);
}

static void *acme_main(void *arg)
{
	struct acme *a = arg;
	long backoff = ACME_RETRY_MIN;
	time_t wake = 0;

	for (;;) {
		char err[1024] = "";
		time_t due = due_at(a), now = time(NULL);
		pthread_mutex_lock(&mu);
		while (!stop_flag && !renew_asked && now < (wake > due ? wake : due)) {
			struct timespec ts = {.tv_sec = wake > due ? wake : due};
			pthread_cond_timedwait(&cv, &mu, &ts);
			now = time(NULL);
			due = due_at(a);
		}
		renew_asked = 0;
		pthread_mutex_unlock(&mu);
		if (stop_flag)
			break;
		log_info("acme: %s certificate from %s", due ? "renewing the" : "requesting a",
			 a->srv->cfg->tls_acme);
		if (!a->akey && account_key(a, err, sizeof err) < 0) {
			log_error("acme: account key: %s", err);
		} else if (obtain(a, err, sizeof err) == 0) {
			char cert[4200];
			time_t nb = 0, na = 0;
			path_join(cert, sizeof cert, a->dir, "cert.pem");
			tls_cert_dates(cert, &nb, &na);
			log_info("acme: new certificate installed, valid until %lld, renewal at %lld",
				 (long long)na, (long long)due_at(a));
			backoff = ACME_RETRY_MIN;
			wake = 0;
			continue;
		}
		if (stop_flag)
			break;
		log_warn("acme: %s; keeping the current certificate, next try in %lds", err,
			 backoff);
		wake = time(NULL) + backoff;
		backoff = backoff * 2 > ACME_RETRY_MAX ? ACME_RETRY_MAX : backoff * 2;
	}
	return NULL;
}

static struct acme *the;

int acme_start(struct server *srv, const char *datadir)
{
	const struct config *cfg = srv->cfg;
	char err[256], ca[4096];
	struct httpc_url u;

	if (!cfg->tls_acme || !cfg->tls_acme[0])
		return 0;
	if (httpc_url_parse(cfg->tls_acme, &u) < 0) {
		log_error("tls.acme: not an https URL: %s", cfg->tls_acme);
		return -1;
	}
	the = xcalloc(1, sizeof *the);
	the->srv = srv;
	path_join(the->dir, sizeof the->dir, datadir, "acme");
	if (mkdir_p(the->dir, 0700) < 0) {
		log_error("acme: %s: %s", the->dir, strerror(errno));
		return -1;
	}
	if (cfg->tls_acme_ca && cfg->tls_acme_ca[0]) {
		config_path(cfg, cfg->tls_acme_ca, ca, sizeof ca);
		the->tlsc = tls_client_new_relay(ca, NULL, err, sizeof err);
		if (!the->tlsc) {
			log_error("tls.acme_ca: %s", err);
			return -1;
		}
	} else
		the->tlsc = tls_client_new();
	stop_flag = 0;
	if (pthread_create(&thr, NULL, acme_main, the) != 0)
		return -1;
	started = 1;
	return 0;
}

void acme_renew_now(void)
{
	pthread_mutex_lock(&mu);
	renew_asked = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

void acme_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&mu);
	stop_flag = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thr, NULL);
	started = 0;
	tls_client_free(&the->tlsc);
	tls_eckey_free(&the->akey);
	free(the->thumb);
	free(the->jwk);
	json_decref(the->directory);
	free(the);
	the = NULL;
}
