/*
 * tls.c — what TLS needs besides the record engine: reading PEM certificate
 * chains and private keys, the server's refcounted certificate material and
 * its shared session cache, the client's trust anchors and its
 * "opportunistic" X.509 engine, and the keys and certificates brev makes:
 * the local CA and the server certificate it signs (older DATADIRs have one
 * self-signed certificate). BearSSL 0.6 has no certificate writer, so a
 * small DER encoder lives here.
 *
 * The per-connection engine, its buffer and all I/O belong to conn.c; the
 * two files meet through the internal declarations at the end of tls.h.
 * Protocol choices (TLS 1.2 only, the suite list) are explained in
 * docs/tls.md.
 */
#include <bearssl.h>

#include "tls.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEM_FILE_MAX   (1u << 20)  /* a certificate chain or a key */
#define CA_FILE_MAX    (16u << 20) /* the system CA bundle */
#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
/* ~100 bytes per entry in BearSSL's LRU: 2600 resumable sessions. */
#define SESSION_CACHE_BYTES (256 * 1024)

/* ---- cipher suites (docs/tls.md explains the choice and the order) ---- */

static const uint16_t suites_ec[] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
};

static const uint16_t suites_rsa[] = {
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
};

/* Outbound delivery is opportunistic: anything forward-secret beats the
 * plaintext fallback, so the client also offers the CBC-SHA1 suites that
 * older MTAs still pick. Never RC4, 3DES or static RSA. */
static const uint16_t suites_client[] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
};

static const struct {
	uint16_t id;
	const char *name; /* OpenSSL's names, as in Postfix's Received lines */
} suite_names[] = {
	{BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305"},
	{BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305"},
	{BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256"},
	{BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256"},
	{BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384"},
	{BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384"},
	{BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256"},
	{BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256"},
	{BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, "ECDHE-ECDSA-AES256-SHA384"},
	{BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, "ECDHE-RSA-AES256-SHA384"},
	{BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA"},
	{BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA"},
	{BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA"},
	{BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA"},
};

const char *tls_suite_name(unsigned id)
{
	for (size_t i = 0; i < ARRAY_LEN(suite_names); i++)
		if (suite_names[i].id == id)
			return suite_names[i].name;
	return "unknown";
}

const char *tls_version_name(unsigned v)
{
	switch (v) {
	case BR_TLS10:
		return "TLSv1";
	case BR_TLS11:
		return "TLSv1.1";
	case BR_TLS12:
		return "TLSv1.2";
	default:
		return "unknown";
	}
}

/* ---- PEM ---- */

struct pem_obj {
	char name[64];
	unsigned char *der;
	size_t len, cap;
};

struct pem_list {
	struct pem_obj *v;
	size_t n;
};

static void pem_list_free(struct pem_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].der)
			memset(l->v[i].der, 0, l->v[i].cap); /* may be a private key */
		free(l->v[i].der);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void pem_append(void *ctx, const void *buf, size_t len)
{
	struct pem_obj *o = ctx;
	if (o->len + len > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 2048;
		while (cap < o->len + len)
			cap *= 2;
		o->der = xrealloc(o->der, cap);
		o->cap = cap;
	}
	memcpy(o->der + o->len, buf, len);
	o->len += len;
}

/* Decode every PEM object in a buffer. 0, or -1 with err. */
static int pem_decode(const char *data, size_t len, struct pem_list *out, char *err,
		      size_t errlen)
{
	br_pem_decoder_context pc;
	int inobj = 0;
	const unsigned char *p = (const unsigned char *)data;
	int extra_nl = 1; /* the decoder needs a line end after the last END line */

	memset(out, 0, sizeof *out);
	br_pem_decoder_init(&pc);
	while (len > 0 || extra_nl) {
		if (len == 0) {
			p = (const unsigned char *)"\n";
			len = 1;
			extra_nl = 0;
		}
		size_t k = br_pem_decoder_push(&pc, p, len);
		p += k;
		len -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
			memset(&out->v[out->n], 0, sizeof out->v[0]);
			str_copy(out->v[out->n].name, br_pem_decoder_name(&pc),
				 sizeof out->v[0].name);
			br_pem_decoder_setdest(&pc, pem_append, &out->v[out->n]);
			out->n++;
			inobj = 1;
			break;
		case BR_PEM_END_OBJ:
			inobj = 0;
			break;
		case BR_PEM_ERROR:
			snprintf(err, errlen, "malformed PEM");
			pem_list_free(out);
			return -1;
		}
	}
	if (inobj) {
		snprintf(err, errlen, "truncated PEM object");
		pem_list_free(out);
		return -1;
	}
	return 0;
}

static int pem_read_file(const char *path, size_t max, struct pem_list *out, char *err,
			 size_t errlen)
{
	size_t len;
	char *data = file_read(path, max, &len);
	if (!data) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char why[128];
	int r = pem_decode(data, len, out, why, sizeof why);
	memset(data, 0, len);
	free(data);
	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	return r;
}

static int is_cert_name(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0;
}

/* ---- the server's certificate material ---- */

struct tls_material {
	atomic_int refs;
	br_x509_certificate *chain;
	size_t chain_len;
	int key_type; /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	br_rsa_private_key rsa;
	br_ec_private_key ec;
	unsigned char *keybuf;
	size_t keybuf_len;
};

static void material_free(struct tls_material *m)
{
	for (size_t i = 0; i < m->chain_len; i++)
		free(m->chain[i].data);
	free(m->chain);
	if (m->keybuf) {
		memset(m->keybuf, 0, m->keybuf_len);
		free(m->keybuf);
	}
	free(m);
}

void tls_material_put(struct tls_material **mp)
{
	struct tls_material *m = *mp;
	if (!m)
		return;
	if (atomic_fetch_sub(&m->refs, 1) == 1)
		material_free(m);
	*mp = NULL;
}

/* Copy the decoded key out of the decoder context into m->keybuf. */
static int material_take_key(struct tls_material *m, const br_skey_decoder_context *dc)
{
	m->key_type = br_skey_decoder_key_type(dc);
	if (m->key_type == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *k = br_skey_decoder_get_rsa(dc);
		size_t n = k->plen + k->qlen + k->dplen + k->dqlen + k->iqlen;
		unsigned char *b = m->keybuf = xmalloc(n);
		m->keybuf_len = n;
		m->rsa.n_bitlen = k->n_bitlen;
#define TAKE(f)                                                                                    \
	memcpy(b, k->f, k->f##len);                                                                \
	m->rsa.f = b;                                                                              \
	m->rsa.f##len = k->f##len;                                                                 \
	b += k->f##len;
		TAKE(p)
		TAKE(q)
		TAKE(dp)
		TAKE(dq)
		TAKE(iq)
#undef TAKE
		return 0;
	}
	if (m->key_type == BR_KEYTYPE_EC) {
		const br_ec_private_key *k = br_skey_decoder_get_ec(dc);
		m->keybuf = xmalloc(k->xlen);
		m->keybuf_len = k->xlen;
		memcpy(m->keybuf, k->x, k->xlen);
		m->ec.curve = k->curve;
		m->ec.x = m->keybuf;
		m->ec.xlen = k->xlen;
		return 0;
	}
	return -1;
}

static int load_key(struct tls_material *m, const char *path, char *err, size_t errlen)
{
	struct pem_list l;
	int ret = -1;

	if (pem_read_file(path, PEM_FILE_MAX, &l, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		const char *nm = l.v[i].name;
		if (strcmp(nm, "ENCRYPTED PRIVATE KEY") == 0) {
			snprintf(err, errlen, "%s: encrypted private keys are not supported", path);
			goto out;
		}
		if (strcmp(nm, "PRIVATE KEY") && strcmp(nm, "EC PRIVATE KEY") &&
		    strcmp(nm, "RSA PRIVATE KEY"))
			continue; /* e.g. "EC PARAMETERS" from openssl ecparam */
		br_skey_decoder_context *dc = xmalloc(sizeof *dc);
		br_skey_decoder_init(dc);
		br_skey_decoder_push(dc, l.v[i].der, l.v[i].len);
		int e = br_skey_decoder_last_error(dc);
		if (e == 0)
			e = material_take_key(m, dc);
		memset(dc, 0, sizeof *dc);
		free(dc);
		if (e != 0)
			snprintf(err, errlen, "%s: unsupported or damaged private key", path);
		else
			ret = 0;
		goto out;
	}
	snprintf(err, errlen, "%s: no private key found", path);
out:
	pem_list_free(&l);
	return ret;
}

static int load_chain(struct tls_material *m, const char *path, char *err, size_t errlen)
{
	struct pem_list l;
	if (pem_read_file(path, PEM_FILE_MAX, &l, err, errlen) < 0)
		return -1;
	m->chain = xcalloc(l.n ? l.n : 1, sizeof *m->chain);
	for (size_t i = 0; i < l.n; i++) {
		if (!is_cert_name(l.v[i].name))
			continue;
		m->chain[m->chain_len].data = l.v[i].der; /* take ownership */
		m->chain[m->chain_len].data_len = l.v[i].len;
		m->chain_len++;
		l.v[i].der = NULL;
	}
	pem_list_free(&l);
	if (!m->chain_len) {
		snprintf(err, errlen, "%s: no certificate found", path);
		return -1;
	}
	return 0;
}

static void strip_zeros(const unsigned char **p, size_t *n)
{
	while (*n > 0 && **p == 0) {
		(*p)++;
		(*n)--;
	}
}

/* The leaf's public key must belong to the private key, or every handshake
 * would fail later with a confusing client-side error. */
static int check_pair(struct tls_material *m, char *err, size_t errlen)
{
	br_x509_decoder_context *dc = xmalloc(sizeof *dc);
	int ok = 0;

	br_x509_decoder_init(dc, NULL, NULL);
	br_x509_decoder_push(dc, m->chain[0].data, m->chain[0].data_len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(dc);
	if (!pk || br_x509_decoder_last_error(dc) != 0) {
		snprintf(err, errlen, "cannot decode the first certificate (error %d)",
			 br_x509_decoder_last_error(dc));
		free(dc);
		return -1;
	}
	if (pk->key_type == BR_KEYTYPE_EC && m->key_type == BR_KEYTYPE_EC) {
		unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
		br_ec_public_key pub;
		size_t n = br_ec_compute_pub(br_ec_get_default(), &pub, q, &m->ec);
		ok = n && pub.curve == pk->key.ec.curve && n == pk->key.ec.qlen &&
		     memcmp(q, pk->key.ec.q, n) == 0;
	} else if (pk->key_type == BR_KEYTYPE_RSA && m->key_type == BR_KEYTYPE_RSA) {
		br_rsa_compute_modulus cm = br_rsa_compute_modulus_get_default();
		size_t n = cm(NULL, &m->rsa);
		unsigned char *mod = n ? xmalloc(n) : NULL;
		if (mod && cm(mod, &m->rsa) == n) {
			const unsigned char *a = mod, *b = pk->key.rsa.n;
			size_t al = n, bl = pk->key.rsa.nlen;
			strip_zeros(&a, &al);
			strip_zeros(&b, &bl);
			ok = al == bl && memcmp(a, b, al) == 0;
		}
		free(mod);
	}
	free(dc);
	if (!ok)
		snprintf(err, errlen, "the private key does not match the certificate");
	return ok ? 0 : -1;
}

static struct tls_material *material_load(const char *cert_path, const char *key_path,
					  char *err, size_t errlen)
{
	struct tls_material *m = xcalloc(1, sizeof *m);
	atomic_init(&m->refs, 1);
	if (load_chain(m, cert_path, err, errlen) < 0 || load_key(m, key_path, err, errlen) < 0 ||
	    check_pair(m, err, errlen) < 0) {
		material_free(m);
		return NULL;
	}
	return m;
}

/* ---- the session cache: BearSSL's LRU is not thread-safe ---- */

struct locked_cache {
	const br_ssl_session_cache_class *vtable; /* first: BearSSL passes &vtable */
	pthread_mutex_t mu;
	br_ssl_session_cache_lru lru;
	unsigned char *store;
};

static void lc_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
		    const br_ssl_session_parameters *params)
{
	struct locked_cache *lc = (struct locked_cache *)(void *)ctx;
	pthread_mutex_lock(&lc->mu);
	lc->lru.vtable->save(&lc->lru.vtable, sc, params);
	pthread_mutex_unlock(&lc->mu);
}

static int lc_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
		   br_ssl_session_parameters *params)
{
	struct locked_cache *lc = (struct locked_cache *)(void *)ctx;
	pthread_mutex_lock(&lc->mu);
	int r = lc->lru.vtable->load(&lc->lru.vtable, sc, params);
	pthread_mutex_unlock(&lc->mu);
	return r;
}

static const br_ssl_session_cache_class locked_cache_class = {
	sizeof(struct locked_cache),
	lc_save,
	lc_load,
};

/* ---- server ---- */

struct tls_server {
	char *cert_path, *key_path;
	pthread_mutex_t mu; /* guards cur */
	struct tls_material *cur;
	struct locked_cache cache;
};

struct tls_server *tls_server_new(const char *cert_path, const char *key_path, char *err,
				  size_t errlen)
{
	struct tls_material *m = material_load(cert_path, key_path, err, errlen);
	if (!m)
		return NULL;
	struct tls_server *t = xcalloc(1, sizeof *t);
	t->cert_path = xstrdup(cert_path);
	t->key_path = xstrdup(key_path);
	pthread_mutex_init(&t->mu, NULL);
	t->cur = m;
	t->cache.vtable = &locked_cache_class;
	pthread_mutex_init(&t->cache.mu, NULL);
	t->cache.store = xmalloc(SESSION_CACHE_BYTES);
	br_ssl_session_cache_lru_init(&t->cache.lru, t->cache.store, SESSION_CACHE_BYTES);
	return t;
}

int tls_server_reload(struct tls_server *t, char *err, size_t errlen)
{
	struct tls_material *m = material_load(t->cert_path, t->key_path, err, errlen);
	if (!m)
		return -1;
	pthread_mutex_lock(&t->mu);
	struct tls_material *old = t->cur;
	t->cur = m;
	pthread_mutex_unlock(&t->mu);
	tls_material_put(&old); /* running connections hold their own reference */
	return 0;
}

void tls_server_free(struct tls_server **tp)
{
	struct tls_server *t = *tp;
	if (!t)
		return;
	tls_material_put(&t->cur);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->cache.mu);
	free(t->cache.store);
	free(t->cert_path);
	free(t->key_path);
	free(t);
	*tp = NULL;
}

struct tls_material *tls_server_configure(struct tls_server *t, br_ssl_server_context *sc)
{
	pthread_mutex_lock(&t->mu);
	struct tls_material *m = t->cur;
	atomic_fetch_add(&m->refs, 1);
	pthread_mutex_unlock(&t->mu);

	if (m->key_type == BR_KEYTYPE_RSA) {
		br_ssl_server_init_full_rsa(sc, m->chain, m->chain_len, &m->rsa);
		br_ssl_engine_set_suites(&sc->eng, suites_rsa, ARRAY_LEN(suites_rsa));
	} else {
		br_ssl_server_init_full_ec(sc, m->chain, m->chain_len, BR_KEYTYPE_EC, &m->ec);
		br_ssl_engine_set_suites(&sc->eng, suites_ec, ARRAY_LEN(suites_ec));
	}
	/* TLS 1.2 only: 1.0/1.1 are deprecated (RFC 8996); 1.3 is not in BearSSL. */
	br_ssl_engine_set_versions(&sc->eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_add_flags(&sc->eng,
				BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION);
	br_ssl_server_set_cache(sc, &t->cache.vtable);
	return m;
}

/* ---- client ---- */

struct tls_client {
	br_x509_trust_anchor *tas;
	size_t ntas;
	/* delivery.relay_fingerprint: SHA-256 of the leaf certificates that
	 * are accepted as they are (npins 0: verify chain and name). */
	unsigned char pins[TLS_PINS_MAX][32];
	size_t npins;
};

struct dn_buf {
	unsigned char *p;
	size_t len, cap;
};

static void dn_append(void *ctx, const void *buf, size_t len)
{
	struct dn_buf *d = ctx;
	if (d->len + len > d->cap) {
		d->cap = (d->len + len) * 2;
		d->p = xrealloc(d->p, d->cap);
	}
	memcpy(d->p + d->len, buf, len);
	d->len += len;
}

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
	unsigned char *q = xmalloc(n ? n : 1);
	memcpy(q, p, n);
	return q;
}

/* One certificate -> one trust anchor (DN, CA flag, public key). */
static int make_anchor(br_x509_trust_anchor *ta, const unsigned char *der, size_t len)
{
	struct dn_buf dn = {0};
	br_x509_decoder_context *dc = xmalloc(sizeof *dc);

	br_x509_decoder_init(dc, dn_append, &dn);
	br_x509_decoder_push(dc, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(dc);
	if (!pk || br_x509_decoder_last_error(dc) != 0) {
		free(dc);
		free(dn.p);
		return -1;
	}
	memset(ta, 0, sizeof *ta);
	ta->dn.data = dn.p;
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	free(dc);
	return 0;
}

struct tls_client *tls_client_new_with_anchors(const char *path)
{
	struct tls_client *t = xcalloc(1, sizeof *t);
	struct pem_list l;
	char err[256];

	if (!path || pem_read_file(path, CA_FILE_MAX, &l, err, sizeof err) < 0) {
		if (path && errno != ENOENT)
			log_warn("tls: trust anchors: %s", err);
		return t; /* no anchors: nothing verifies, delivery still encrypts */
	}
	t->tas = xcalloc(l.n ? l.n : 1, sizeof *t->tas);
	for (size_t i = 0; i < l.n; i++)
		if (is_cert_name(l.v[i].name) &&
		    make_anchor(&t->tas[t->ntas], l.v[i].der, l.v[i].len) == 0)
			t->ntas++;
	pem_list_free(&l);
	return t;
}

struct tls_client *tls_client_new(void)
{
	return tls_client_new_with_anchors(SYSTEM_CA_FILE);
}

/* One fingerprint: 64 hex digits, a ':' allowed between pairs (as brev,
 * openssl x509 -fingerprint and browsers print it), any case. */
static int pin_parse(const char *s, size_t n, unsigned char out[32])
{
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		int hi, lo;
		if (k == 32)
			return -1;
		if (k && s[i] == ':' && ++i >= n)
			return -1;
		if (i + 1 >= n || (hi = hex_value((unsigned char)s[i])) < 0 ||
		    (lo = hex_value((unsigned char)s[i + 1])) < 0)
			return -1;
		out[k++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	return k == 32 ? 0 : -1;
}

struct tls_client *tls_client_new_relay(const char *ca_path, const char *pins, char *err,
					size_t errlen)
{
	struct tls_client *t;
	const char *p = pins ? pins : "";
	unsigned char pin[TLS_PINS_MAX][32];
	size_t npins = 0;

	while (*p) {
		size_t n;
		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (!n)
			break;
		if (npins == TLS_PINS_MAX || pin_parse(p, n, pin[npins]) < 0) {
			snprintf(err, errlen,
				 npins == TLS_PINS_MAX
				     ? "delivery.relay_fingerprint: more than %d fingerprints"
				     : "delivery.relay_fingerprint: '%.*s' is not a SHA-256 fingerprint "
				       "(64 hex digits, colons allowed)",
				 npins == TLS_PINS_MAX ? TLS_PINS_MAX : (int)(n > 100 ? 100 : n),
				 p);
			return NULL;
		}
		npins++;
		p += n;
	}
	if (ca_path && *ca_path) {
		struct pem_list l;
		char why[256];
		if (pem_read_file(ca_path, CA_FILE_MAX, &l, why, sizeof why) < 0) {
			snprintf(err, errlen, "delivery.relay_ca: %s", why);
			return NULL;
		}
		pem_list_free(&l);
		t = tls_client_new_with_anchors(ca_path);
		if (!t->ntas) {
			tls_client_free(&t);
			snprintf(err, errlen, "delivery.relay_ca: no certificate in %s", ca_path);
			return NULL;
		}
	} else {
		t = tls_client_new();
	}
	memcpy(t->pins, pin, sizeof pin);
	t->npins = npins;
	return t;
}

const char *tls_verify_reason(int err)
{
	switch (err) {
	case 0:
		return "verified";
	case TLS_VERIFY_NOT_PINNED:
		return "its fingerprint is not the one in delivery.relay_fingerprint";
	case TLS_VERIFY_NO_NAME:
		return "no host name to check it against";
	case BR_ERR_X509_NOT_TRUSTED:
		return "not issued by a trusted authority (self-signed, or an unknown CA)";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "issued for another host name";
	case BR_ERR_X509_EXPIRED:
		return "expired or not yet valid";
	case BR_ERR_X509_NOT_CA:
	case BR_ERR_X509_DN_MISMATCH:
		return "its chain does not link up to a trusted authority";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "a signature in its chain is wrong";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "its key is too weak";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
		return "its key may not be used for a TLS server";
	default:
		return "it could not be validated";
	}
}

void tls_client_free(struct tls_client **tp)
{
	struct tls_client *t = *tp;
	if (!t)
		return;
	for (size_t i = 0; i < t->ntas; i++) {
		br_x509_trust_anchor *ta = &t->tas[i];
		free(ta->dn.data);
		if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
			free(ta->pkey.key.rsa.n);
			free(ta->pkey.key.rsa.e);
		} else {
			free(ta->pkey.key.ec.q);
		}
	}
	free(t->tas);
	free(t);
	*tp = NULL;
}

/*
 * The opportunistic X.509 engine: br_x509_minimal does the real validation
 * (chain to an anchor, dates, server name); we remember its verdict and
 * report success to the TLS engine anyway. If minimal refuses to hand out
 * the key (expired, wrong name), the leaf's key comes from a plain decoder
 * that saw the same bytes. RFC 7435: encrypt even when we cannot
 * authenticate; conn_tls_verified() tells the caller which it was.
 */
static void xv_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_x509_verdict *v = (struct tls_x509_verdict *)(void *)ctx;
	v->ncerts = 0;
	v->named = server_name && *server_name;
	v->verified = 0;
	v->err = 0;
	br_x509_decoder_init(&v->leaf, NULL, NULL);
	br_sha256_init(&v->leaf_hash);
	v->minimal.vtable->start_chain(&v->minimal.vtable, server_name);
}

static void xv_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509_verdict *v = (struct tls_x509_verdict *)(void *)ctx;
	v->ncerts++;
	v->minimal.vtable->start_cert(&v->minimal.vtable, length);
}

static void xv_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509_verdict *v = (struct tls_x509_verdict *)(void *)ctx;
	if (v->ncerts == 1) {
		br_x509_decoder_push(&v->leaf, buf, len);
		br_sha256_update(&v->leaf_hash, buf, len);
	}
	v->minimal.vtable->append(&v->minimal.vtable, buf, len);
}

static void xv_end_cert(const br_x509_class **ctx)
{
	struct tls_x509_verdict *v = (struct tls_x509_verdict *)(void *)ctx;
	v->minimal.vtable->end_cert(&v->minimal.vtable);
}

static unsigned xv_end_chain(const br_x509_class **ctx)
{
	struct tls_x509_verdict *v = (struct tls_x509_verdict *)(void *)ctx;
	v->err = (int)v->minimal.vtable->end_chain(&v->minimal.vtable);
	if (v->client->npins) {
		/* A pin names the exact certificate (like DANE-EE 3 0 1): chain
		 * and name do not matter, the leaf's bytes do. */
		unsigned char h[32];
		br_sha256_out(&v->leaf_hash, h);
		v->err = TLS_VERIFY_NOT_PINNED;
		for (size_t i = 0; v->ncerts && i < v->client->npins; i++)
			if (memcmp(h, v->client->pins[i], 32) == 0)
				v->err = 0;
		v->verified = v->err == 0;
		return 0;
	}
	/* Without a name, minimal checks no name: that is not "verified". */
	if (v->err == 0 && !v->named)
		v->err = TLS_VERIFY_NO_NAME;
	v->verified = v->err == 0;
	return 0;
}

static const br_x509_pkey *xv_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_x509_verdict *v = (const struct tls_x509_verdict *)(const void *)ctx;
	const br_x509_pkey *pk = v->minimal.vtable->get_pkey(&v->minimal.vtable, usages);
	if (pk && v->err == 0)
		return pk;
	/* br_x509_decoder_get_pkey() takes a non-const context; it does not modify it. */
	br_x509_decoder_context *leaf = (br_x509_decoder_context *)&v->leaf;
	if (br_x509_decoder_last_error(leaf) != 0)
		return NULL;
	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return br_x509_decoder_get_pkey(leaf);
}

static const br_x509_class verdict_class = {
	sizeof(struct tls_x509_verdict), xv_start_chain, xv_start_cert, xv_append,
	xv_end_cert, xv_end_chain, xv_get_pkey,
};

void tls_client_configure(struct tls_client *t, br_ssl_client_context *cc,
			  struct tls_x509_verdict *v)
{
	br_ssl_client_init_full(cc, &v->minimal, t->tas, t->ntas);
	v->vtable = &verdict_class;
	v->client = t;
	br_ssl_engine_set_x509(&cc->eng, &v->vtable);
	br_ssl_engine_set_versions(&cc->eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(&cc->eng, suites_client, ARRAY_LEN(suites_client));
	br_ssl_engine_add_flags(&cc->eng, BR_OPT_NO_RENEGOTIATION);
}

/* ---- a small DER writer for the certificates brev makes ---- */

struct der {
	unsigned char *p;
	size_t len, cap;
};

static void der_raw(struct der *d, const void *s, size_t n)
{
	if (d->len + n > d->cap) {
		size_t cap = d->cap ? d->cap : 256;
		while (cap < d->len + n)
			cap *= 2;
		d->p = xrealloc(d->p, cap);
		d->cap = cap;
	}
	if (n)
		memcpy(d->p + d->len, s, n);
	d->len += n;
}

/* X.690 8.1.3: definite length, short or long form. */
static void der_tlv(struct der *d, unsigned char tag, const void *v, size_t n)
{
	unsigned char h[6];
	size_t hl = 0;
	h[hl++] = tag;
	if (n < 0x80) {
		h[hl++] = (unsigned char)n;
	} else if (n < 0x100) {
		h[hl++] = 0x81;
		h[hl++] = (unsigned char)n;
	} else if (n < 0x10000) {
		h[hl++] = 0x82;
		h[hl++] = (unsigned char)(n >> 8);
		h[hl++] = (unsigned char)n;
	} else {
		h[hl++] = 0x83;
		h[hl++] = (unsigned char)(n >> 16);
		h[hl++] = (unsigned char)(n >> 8);
		h[hl++] = (unsigned char)n;
	}
	der_raw(d, h, hl);
	der_raw(d, v, n);
}

/* Append inner as the content of a tag, and free inner. */
static void der_wrap(struct der *d, unsigned char tag, struct der *inner)
{
	der_tlv(d, tag, inner->p, inner->len);
	free(inner->p);
	memset(inner, 0, sizeof *inner);
}

#define DER_SEQ  0x30
#define DER_SET  0x31
#define DER_INT  0x02
#define DER_BITS 0x03
#define DER_OCTS 0x04
#define DER_OID  0x06
#define DER_BOOL 0x01
#define DER_UTF8 0x0c
#define DER_UTC  0x17
#define DER_GEN  0x18

static const unsigned char oid_ecdsa_sha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const unsigned char oid_ec_pubkey[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const unsigned char oid_p256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_cn[] = {0x55, 0x04, 0x03};
static const unsigned char oid_basic[] = {0x55, 0x1d, 0x13};
static const unsigned char oid_keyusage[] = {0x55, 0x1d, 0x0f};
static const unsigned char oid_eku[] = {0x55, 0x1d, 0x25};
static const unsigned char oid_san[] = {0x55, 0x1d, 0x11};
static const unsigned char oid_ski[] = {0x55, 0x1d, 0x0e};
static const unsigned char oid_aki[] = {0x55, 0x1d, 0x23};
static const unsigned char oid_server_auth[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};

static void der_sig_alg(struct der *d)
{
	struct der a = {0};
	der_tlv(&a, DER_OID, oid_ecdsa_sha256, sizeof oid_ecdsa_sha256);
	der_wrap(d, DER_SEQ, &a); /* RFC 5758 3.2: parameters absent */
}

static void der_name(struct der *d, const char *cn)
{
	struct der atv = {0}, rdn = {0}, seq = {0};
	der_tlv(&atv, DER_OID, oid_cn, sizeof oid_cn);
	der_tlv(&atv, DER_UTF8, cn, strlen(cn));
	der_wrap(&rdn, DER_SEQ, &atv);
	der_wrap(&seq, DER_SET, &rdn);
	der_wrap(d, DER_SEQ, &seq);
}

/* RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
static void der_time(struct der *d, const struct tm *tm)
{
	char s[32];
	int y = tm->tm_year + 1900;
	if (y < 2050) {
		snprintf(s, sizeof s, "%02d%02d%02d%02d%02d%02dZ", y % 100, tm->tm_mon + 1,
			 tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec);
		der_tlv(d, DER_UTC, s, strlen(s));
	} else {
		snprintf(s, sizeof s, "%04d%02d%02d%02d%02d%02dZ", y, tm->tm_mon + 1, tm->tm_mday,
			 tm->tm_hour, tm->tm_min, tm->tm_sec);
		der_tlv(d, DER_GEN, s, strlen(s));
	}
}

/* notBefore a day back (clients whose clock is a little behind), notAfter
 * days from now. */
static void der_validity(struct der *d, time_t now, long days)
{
	struct der v = {0};
	struct tm a, b;
	time_t nb = now - 86400, na = now + (time_t)days * 86400;
	gmtime_r(&nb, &a);
	gmtime_r(&na, &b);
	der_time(&v, &a);
	der_time(&v, &b);
	der_wrap(d, DER_SEQ, &v);
}

static void der_spki(struct der *d, const br_ec_public_key *pk)
{
	struct der alg = {0}, spki = {0}, bits = {0};
	der_tlv(&alg, DER_OID, oid_ec_pubkey, sizeof oid_ec_pubkey);
	der_tlv(&alg, DER_OID, oid_p256, sizeof oid_p256);
	der_wrap(&spki, DER_SEQ, &alg);
	der_raw(&bits, "", 1); /* no unused bits */
	der_raw(&bits, pk->q, pk->qlen);
	der_wrap(&spki, DER_BITS, &bits);
	der_wrap(d, DER_SEQ, &spki);
}

/* One Extension: SEQUENCE { OID, [critical TRUE], OCTET STRING { value } } */
static void der_ext(struct der *d, const unsigned char *oid, size_t oidlen, int critical,
		    struct der *value)
{
	static const unsigned char t = 0xff;
	struct der e = {0};
	der_tlv(&e, DER_OID, oid, oidlen);
	if (critical)
		der_tlv(&e, DER_BOOL, &t, 1);
	der_wrap(&e, DER_OCTS, value);
	der_wrap(d, DER_SEQ, &e);
}

static int der_san(struct der *d, const char *const *dns, size_t ndns, const char *const *ips,
		   size_t nip, char *err, size_t errlen)
{
	struct der names = {0};
	for (size_t i = 0; i < ndns; i++)
		der_tlv(&names, 0x82, dns[i], strlen(dns[i])); /* [2] dNSName IA5String */
	for (size_t i = 0; i < nip; i++) {
		unsigned char a[16];
		if (inet_pton(AF_INET, ips[i], a) == 1) {
			der_tlv(&names, 0x87, a, 4); /* [7] iPAddress */
		} else if (inet_pton(AF_INET6, ips[i], a) == 1) {
			der_tlv(&names, 0x87, a, 16);
		} else {
			snprintf(err, errlen, "not an IP address: %s", ips[i]);
			free(names.p);
			return -1;
		}
	}
	if (!names.len) {
		free(names.p);
		return 0;
	}
	struct der v = {0};
	der_wrap(&v, DER_SEQ, &names);
	der_ext(d, oid_san, sizeof oid_san, 0, &v);
	return 0;
}

/*
 * What a certificate is for. SELF: the one-certificate setup of DATADIRs
 * made before the local CA (CA:TRUE so OpenSSL accepts it as its own trust
 * anchor; Thunderbird refuses to import it as an authority for exactly that
 * reason). CA: brev's local certificate authority, which a person trusts
 * once per device. LEAF: the server certificate the CA signs.
 */
enum cert_kind { CERT_SELF, CERT_CA, CERT_LEAF };

/* The subject and issuer of one certificate to write. */
struct cert_spec {
	enum cert_kind kind;
	const char *cn;			/* subject CN */
	const br_ec_public_key *pk;	/* subject key */
	const unsigned char *issuer_dn; /* encoded issuer Name; NULL: the subject's */
	size_t issuer_dn_len;
	const unsigned char *issuer_keyid; /* NULL: the subject's own */
	long days;
	const char *const *dns, *const *ips;
	size_t ndns, nip;
};

static int der_extensions(struct der *d, const struct cert_spec *cs, const unsigned char keyid[20],
			  char *err, size_t errlen)
{
	/* RFC 5280 4.2.1.9: cA TRUE; the local CA signs only end entities
	 * (pathLenConstraint 0). A leaf's cA FALSE is the DEFAULT, so its
	 * SEQUENCE is empty in DER, and it is marked critical all the same. */
	static const unsigned char bc_self[] = {0x30, 0x03, 0x01, 0x01, 0xff};
	static const unsigned char bc_ca[] = {0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00};
	static const unsigned char bc_leaf[] = {0x30, 0x00};
	/* RFC 5280 4.2.1.3 KeyUsage BIT STRING: digitalSignature (0) and
	 * keyCertSign (5); keyCertSign and cRLSign (6); digitalSignature. */
	static const unsigned char ku_self[] = {0x03, 0x02, 0x02, 0x84};
	static const unsigned char ku_ca[] = {0x03, 0x02, 0x01, 0x06};
	static const unsigned char ku_leaf[] = {0x03, 0x02, 0x07, 0x80};
	struct der exts = {0}, v = {0}, t = {0};

	if (cs->kind == CERT_CA)
		der_raw(&v, bc_ca, sizeof bc_ca);
	else if (cs->kind == CERT_LEAF)
		der_raw(&v, bc_leaf, sizeof bc_leaf);
	else
		der_raw(&v, bc_self, sizeof bc_self);
	der_ext(&exts, oid_basic, sizeof oid_basic, 1, &v);
	if (cs->kind == CERT_CA)
		der_raw(&v, ku_ca, sizeof ku_ca);
	else if (cs->kind == CERT_LEAF)
		der_raw(&v, ku_leaf, sizeof ku_leaf);
	else
		der_raw(&v, ku_self, sizeof ku_self);
	der_ext(&exts, oid_keyusage, sizeof oid_keyusage, 1, &v);
	if (cs->kind != CERT_CA) {
		der_tlv(&t, DER_OID, oid_server_auth, sizeof oid_server_auth);
		der_wrap(&v, DER_SEQ, &t);
		der_ext(&exts, oid_eku, sizeof oid_eku, 0, &v);
		if (der_san(&exts, cs->dns, cs->ndns, cs->ips, cs->nip, err, errlen) < 0) {
			free(exts.p);
			return -1;
		}
	}
	der_tlv(&v, DER_OCTS, keyid, 20);
	der_ext(&exts, oid_ski, sizeof oid_ski, 0, &v);
	der_tlv(&t, 0x80, cs->issuer_keyid ? cs->issuer_keyid : keyid, 20); /* [0] keyIdentifier */
	der_wrap(&v, DER_SEQ, &t);
	der_ext(&exts, oid_aki, sizeof oid_aki, 0, &v);

	struct der seq = {0};
	der_wrap(&seq, DER_SEQ, &exts);
	der_wrap(d, 0xa3, &seq); /* [3] EXPLICIT */
	return 0;
}

/* RFC 5280 4.2.1.2 (1): the key identifier is the SHA-1 of the
 * subjectPublicKey bits. */
static void key_id(const br_ec_public_key *pk, unsigned char out[20])
{
	br_sha1_context sha1;
	br_sha1_init(&sha1);
	br_sha1_update(&sha1, pk->q, pk->qlen);
	br_sha1_out(&sha1, out);
}

static int build_tbs(struct der *tbs, const struct cert_spec *cs, char *err, size_t errlen)
{
	static const unsigned char v3[] = {0x02, 0x01, 0x02};
	unsigned char serial[16], keyid[20];
	struct der t = {0};

	der_tlv(&t, 0xa0, v3, sizeof v3); /* [0] EXPLICIT version v3 */
	/* RFC 5280 4.1.2.2: positive, at most 20 octets, unpredictable. */
	random_bytes(serial, sizeof serial);
	serial[0] &= 0x7f;
	if (serial[0] == 0)
		serial[0] = 0x01;
	der_tlv(&t, DER_INT, serial, sizeof serial);
	der_sig_alg(&t);
	if (cs->issuer_dn)
		der_raw(&t, cs->issuer_dn, cs->issuer_dn_len);
	else
		der_name(&t, cs->cn);
	der_validity(&t, time(NULL), cs->days);
	der_name(&t, cs->cn);
	der_spki(&t, cs->pk);
	key_id(cs->pk, keyid);
	if (der_extensions(&t, cs, keyid, err, errlen) < 0) {
		free(t.p);
		return -1;
	}
	der_wrap(tbs, DER_SEQ, &t);
	return 0;
}

static char *pem_encode(const void *der, size_t len, const char *banner, size_t *outlen)
{
	size_t n = br_pem_encode(NULL, der, len, banner, BR_PEM_LINE64);
	char *pem = xmalloc(n + 1);
	br_pem_encode(pem, der, len, banner, BR_PEM_LINE64);
	*outlen = n;
	return pem;
}

/* The certificate cs describes, signed with sk (ECDSA P-256, SHA-256), as
 * DER in *cert. 0 or -1 with err. */
static int cert_issue(const struct cert_spec *cs, const br_ec_private_key *sk, struct der *cert,
		      char *err, size_t errlen)
{
	const br_ec_impl *ec = br_ec_get_default();
	struct der tbs = {0}, body = {0}, bits = {0};
	unsigned char hash[32], sig[128];
	br_sha256_context h;
	size_t siglen;

	if (build_tbs(&tbs, cs, err, errlen) < 0)
		return -1;
	br_sha256_init(&h);
	br_sha256_update(&h, tbs.p, tbs.len);
	br_sha256_out(&h, hash);
	siglen = br_ecdsa_i31_sign_asn1(ec, &br_sha256_vtable, hash, sk, sig);
	if (!siglen) {
		snprintf(err, errlen, "ECDSA signing failed");
		free(tbs.p);
		return -1;
	}
	der_raw(&body, tbs.p, tbs.len);
	free(tbs.p);
	der_sig_alg(&body);
	der_raw(&bits, "", 1);
	der_raw(&bits, sig, siglen);
	der_wrap(&body, DER_BITS, &bits);
	der_wrap(cert, DER_SEQ, &body);
	return 0;
}

/* A fresh P-256 key pair into kbuf/pbuf. 0 or -1 with err. */
static int ec_keygen(br_ec_private_key *sk, unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE],
		     br_ec_public_key *pk, unsigned char pbuf[BR_EC_KBUF_PUB_MAX_SIZE], char *err,
		     size_t errlen)
{
	const br_ec_impl *ec = br_ec_get_default();
	unsigned char seed[48];
	br_hmac_drbg_context rng;
	int ok;

	random_bytes(seed, sizeof seed);
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, sizeof seed);
	ok = br_ec_keygen(&rng.vtable, ec, sk, kbuf, BR_EC_secp256r1) &&
	     br_ec_compute_pub(ec, pk, pbuf, sk);
	memset(&rng, 0, sizeof rng);
	memset(seed, 0, sizeof seed);
	if (!ok)
		snprintf(err, errlen, "EC key generation failed");
	return ok ? 0 : -1;
}

/* The private key as PKCS#8 PEM, mode 0600. */
static int write_key(const char *path, const br_ec_private_key *sk, const br_ec_public_key *pk,
		     char *err, size_t errlen)
{
	unsigned char p8[256];
	size_t p8len = br_encode_ec_pkcs8_der(NULL, sk, pk), pemlen;
	char *pem;
	int rc;

	if (!p8len || p8len > sizeof p8 || br_encode_ec_pkcs8_der(p8, sk, pk) != p8len) {
		snprintf(err, errlen, "cannot encode the private key");
		return -1;
	}
	pem = pem_encode(p8, p8len, BR_ENCODE_PEM_PKCS8, &pemlen);
	memset(p8, 0, sizeof p8);
	rc = file_write_atomic(path, pem, pemlen, 0600);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	memset(pem, 0, pemlen);
	free(pem);
	return rc;
}

/* Certificates (DER) as one PEM file, in the order given, mode 0644. */
static int write_certs(const char *path, const struct der *certs, size_t n, char *err,
		       size_t errlen)
{
	struct der all = {0};
	int rc;

	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *pem = pem_encode(certs[i].p, certs[i].len, "CERTIFICATE", &len);
		der_raw(&all, pem, len);
		free(pem);
	}
	rc = file_write_atomic(path, all.p, all.len, 0644);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	free(all.p);
	return rc;
}

int tls_make_selfsigned(const char *key_path, const char *cert_path, const char *hostname,
			const char *const *dns_names, size_t ndns, const char *const *ip_addrs,
			size_t nip, char *err, size_t errlen)
{
	unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_private_key sk;
	br_ec_public_key pk;
	struct der cert = {0};
	struct cert_spec cs = {.kind = CERT_SELF, .cn = hostname, .pk = &pk, .days = 3650,
			       .dns = dns_names, .ndns = ndns, .ips = ip_addrs, .nip = nip};
	int ret = -1;

	if (ec_keygen(&sk, kbuf, &pk, pbuf, err, errlen) < 0 ||
	    cert_issue(&cs, &sk, &cert, err, errlen) < 0)
		goto out;
	/* The key first: a certificate without its key is useless. */
	if (write_key(key_path, &sk, &pk, err, errlen) < 0 ||
	    write_certs(cert_path, &cert, 1, err, errlen) < 0)
		goto out;
	ret = 0;
out:
	memset(kbuf, 0, sizeof kbuf);
	free(cert.p);
	return ret;
}

/* ---- the local CA ---- */

/* The CA of an earlier `brev init` or `brev cert new`: its private key, its
 * public key recomputed from it, and its certificate's encoded subject
 * Name (the issuer of every certificate it signs). 0 or -1 with err. */
struct local_ca {
	struct tls_material *m; /* holds the private key */
	br_ec_public_key pk;
	unsigned char pbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	struct der cert; /* DER */
	struct der dn;
};

static void der_append(void *ctx, const void *buf, size_t len)
{
	der_raw(ctx, buf, len);
}

static void local_ca_free(struct local_ca *ca)
{
	if (ca->m) {
		ca->m->refs = 1;
		tls_material_put(&ca->m);
	}
	free(ca->cert.p);
	free(ca->dn.p);
	memset(ca, 0, sizeof *ca);
}

static int local_ca_load(struct local_ca *ca, const char *key_path, const char *cert_path,
			 char *err, size_t errlen)
{
	struct pem_list l;
	br_x509_decoder_context *dc;
	int ok;

	memset(ca, 0, sizeof *ca);
	ca->m = xcalloc(1, sizeof *ca->m);
	if (load_key(ca->m, key_path, err, errlen) < 0)
		goto fail;
	if (ca->m->key_type != BR_KEYTYPE_EC || ca->m->ec.curve != BR_EC_secp256r1 ||
	    !br_ec_compute_pub(br_ec_get_default(), &ca->pk, ca->pbuf, &ca->m->ec)) {
		snprintf(err, errlen, "%s: not a P-256 key", key_path);
		goto fail;
	}
	if (pem_read_file(cert_path, PEM_FILE_MAX, &l, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < l.n && !ca->cert.len; i++)
		if (is_cert_name(l.v[i].name))
			der_raw(&ca->cert, l.v[i].der, l.v[i].len);
	pem_list_free(&l);
	if (!ca->cert.len) {
		snprintf(err, errlen, "%s: no certificate found", cert_path);
		goto fail;
	}
	/* BearSSL hands over the subject Name as encoded, outer SEQUENCE
	 * included: byte for byte the issuer field certificates need. */
	dc = xmalloc(sizeof *dc);
	br_x509_decoder_init(dc, der_append, &ca->dn);
	br_x509_decoder_push(dc, ca->cert.p, ca->cert.len);
	const br_x509_pkey *cpk = br_x509_decoder_get_pkey(dc);
	ok = cpk && br_x509_decoder_last_error(dc) == 0 && br_x509_decoder_isCA(dc) &&
	     cpk->key_type == BR_KEYTYPE_EC && cpk->key.ec.qlen == ca->pk.qlen &&
	     memcmp(cpk->key.ec.q, ca->pk.q, ca->pk.qlen) == 0 && ca->dn.len > 2 &&
	     ca->dn.p[0] == DER_SEQ;
	free(dc);
	if (!ok) {
		snprintf(err, errlen, "%s is not the CA certificate of %s", cert_path, key_path);
		goto fail;
	}
	return 0;
fail:
	local_ca_free(ca);
	return -1;
}

int tls_make_ca(const char *ca_key_path, const char *ca_cert_path, const char *hostname,
		char *err, size_t errlen)
{
	unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pbuf[BR_EC_KBUF_PUB_MAX_SIZE], tag[4];
	br_ec_private_key sk;
	br_ec_public_key pk;
	struct der cert = {0};
	char cn[65];
	struct cert_spec cs = {.kind = CERT_CA, .cn = cn, .pk = &pk, .days = 20 * 365};
	int ret = -1;

	/* A distinct name for each installation: a device that trusts two
	 * brevs lists two authorities (X.520: a CN has at most 64 characters). */
	random_bytes(tag, sizeof tag);
	snprintf(cn, sizeof cn, "brev local CA %02x%02x%02x%02x %s", tag[0], tag[1], tag[2], tag[3],
		 hostname);
	if (ec_keygen(&sk, kbuf, &pk, pbuf, err, errlen) < 0 ||
	    cert_issue(&cs, &sk, &cert, err, errlen) < 0)
		goto out;
	if (write_key(ca_key_path, &sk, &pk, err, errlen) < 0 ||
	    write_certs(ca_cert_path, &cert, 1, err, errlen) < 0)
		goto out;
	ret = 0;
out:
	memset(kbuf, 0, sizeof kbuf);
	free(cert.p);
	return ret;
}

int tls_make_server_cert(const char *ca_key_path, const char *ca_cert_path, const char *key_path,
			 const char *cert_path, const char *hostname, const char *const *dns_names,
			 size_t ndns, const char *const *ip_addrs, size_t nip, char *err,
			 size_t errlen)
{
	unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pbuf[BR_EC_KBUF_PUB_MAX_SIZE], cakid[20];
	br_ec_private_key sk;
	br_ec_public_key pk;
	struct der certs[2] = {{0}};
	struct local_ca ca;
	char cn[65];
	int ret = -1;

	if (local_ca_load(&ca, ca_key_path, ca_cert_path, err, errlen) < 0)
		return -1;
	snprintf(cn, sizeof cn, "%s", hostname);
	key_id(&ca.pk, cakid);
	struct cert_spec cs = {.kind = CERT_LEAF, .cn = cn, .pk = &pk, .issuer_dn = ca.dn.p,
			       .issuer_dn_len = ca.dn.len, .issuer_keyid = cakid,
			       .days = TLS_SERVER_CERT_DAYS, .dns = dns_names, .ndns = ndns,
			       .ips = ip_addrs, .nip = nip};
	if (ec_keygen(&sk, kbuf, &pk, pbuf, err, errlen) < 0 ||
	    cert_issue(&cs, &ca.m->ec, &certs[0], err, errlen) < 0)
		goto out;
	/* cert.pem: the server's certificate, then the CA's (a client that is
	 * given cert.pem as its trust file then finds the root in it). */
	der_raw(&certs[1], ca.cert.p, ca.cert.len);
	if (write_key(key_path, &sk, &pk, err, errlen) < 0 ||
	    write_certs(cert_path, certs, 2, err, errlen) < 0)
		goto out;
	ret = 0;
out:
	memset(kbuf, 0, sizeof kbuf);
	free(certs[0].p);
	free(certs[1].p);
	local_ca_free(&ca);
	return ret;
}

int tls_cert_fingerprint(const char *cert_path, char out[96])
{
	struct pem_list l;
	char err[256];
	unsigned char h[32];

	if (pem_read_file(cert_path, PEM_FILE_MAX, &l, err, sizeof err) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		if (!is_cert_name(l.v[i].name))
			continue;
		br_sha256_context c;
		br_sha256_init(&c);
		br_sha256_update(&c, l.v[i].der, l.v[i].len);
		br_sha256_out(&c, h);
		for (int j = 0; j < 32; j++)
			snprintf(out + 3 * j, 4, j < 31 ? "%02X:" : "%02X", h[j]);
		pem_list_free(&l);
		return 0;
	}
	pem_list_free(&l);
	return -1;
}

/* ---- ACME's pieces (acme.c): P-256 keys, ES256, the CSR, certificate dates ---- */

struct tls_eckey {
	unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE];
	unsigned char pbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_private_key sk;
	br_ec_public_key pk;
};

struct tls_eckey *tls_eckey_load(const char *path, int create, char *err, size_t errlen)
{
	struct tls_eckey *k = xcalloc(1, sizeof *k);
	struct tls_material *m;

	if (create) {
		if (ec_keygen(&k->sk, k->kbuf, &k->pk, k->pbuf, err, errlen) < 0 ||
		    write_key(path, &k->sk, &k->pk, err, errlen) < 0)
			goto fail;
		return k;
	}
	m = xcalloc(1, sizeof *m);
	m->refs = 1;
	if (load_key(m, path, err, errlen) < 0 || m->key_type != BR_KEYTYPE_EC ||
	    m->ec.curve != BR_EC_secp256r1 || m->ec.xlen > sizeof k->kbuf) {
		if (!*err || m->key_type)
			snprintf(err, errlen, "%s: not a P-256 key", path);
		tls_material_put(&m);
		goto fail;
	}
	memcpy(k->kbuf, m->ec.x, m->ec.xlen);
	k->sk.curve = BR_EC_secp256r1;
	k->sk.x = k->kbuf;
	k->sk.xlen = m->ec.xlen;
	tls_material_put(&m);
	if (!br_ec_compute_pub(br_ec_get_default(), &k->pk, k->pbuf, &k->sk)) {
		snprintf(err, errlen, "%s: bad EC key", path);
		goto fail;
	}
	return k;
fail:
	memset(k, 0, sizeof *k);
	free(k);
	return NULL;
}

void tls_eckey_free(struct tls_eckey **kp)
{
	if (!*kp)
		return;
	memset(*kp, 0, sizeof **kp);
	free(*kp);
	*kp = NULL;
}

void tls_eckey_xy(const struct tls_eckey *k, unsigned char x[32], unsigned char y[32])
{
	/* uncompressed point: 0x04 || X || Y (SEC 1 2.3.3) */
	memcpy(x, k->pk.q + 1, 32);
	memcpy(y, k->pk.q + 33, 32);
}

int tls_eckey_sign(const struct tls_eckey *k, const void *data, size_t len, unsigned char sig[64])
{
	unsigned char hash[32];
	tls_sha256(data, len, hash);
	/* RFC 7518 3.4: R || S, 32 octets each (BearSSL's "raw" format) */
	return br_ecdsa_i31_sign_raw(br_ec_get_default(), &br_sha256_vtable, hash, &k->sk, sig) ==
		       64
		   ? 0
		   : -1;
}

void tls_sha256(const void *data, size_t len, unsigned char out[32])
{
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, data, len);
	br_sha256_out(&h, out);
}

/* RFC 2986 4: CertificationRequest { info { version 0, subject, SPKI,
 * [0] attributes { extensionRequest { subjectAltName } } }, algorithm,
 * signature }. RFC 8555 7.4: the names go in subjectAltName; CN is the
 * first one, for CAs that still look at it. */
int tls_make_csr(const struct tls_eckey *k, const char *const *names, size_t n, unsigned char **der,
		 size_t *len, char *err, size_t errlen)
{
	static const unsigned char v0[] = {0x00};
	static const unsigned char oid_ext_req[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
						    0x0d, 0x01, 0x09, 0x0e};
	struct der info = {0}, attr = {0}, set = {0}, exts = {0}, ext = {0}, attrs = {0};
	struct der body = {0}, csr = {0}, bits = {0};
	unsigned char hash[32], sig[128];
	size_t siglen;

	if (n == 0) {
		snprintf(err, errlen, "no names for the certificate");
		return -1;
	}
	der_tlv(&info, DER_INT, v0, 1);
	der_name(&info, names[0]);
	der_spki(&info, &k->pk);
	/* der_san writes one whole Extension (subjectAltName) */
	if (der_san(&ext, names, n, NULL, 0, err, errlen) < 0) {
		free(info.p);
		return -1;
	}
	der_wrap(&exts, DER_SEQ, &ext);	 /* Extensions */
	der_wrap(&set, DER_SET, &exts);	 /* the attribute's values */
	der_tlv(&attr, DER_OID, oid_ext_req, sizeof oid_ext_req);
	der_raw(&attr, set.p, set.len);
	free(set.p);
	der_wrap(&attrs, DER_SEQ, &attr); /* one Attribute */
	der_wrap(&info, 0xa0, &attrs); /* [0] IMPLICIT SET OF Attribute */
	der_wrap(&body, DER_SEQ, &info);
	tls_sha256(body.p, body.len, hash);
	siglen = br_ecdsa_i31_sign_asn1(br_ec_get_default(), &br_sha256_vtable, hash, &k->sk, sig);
	if (!siglen) {
		snprintf(err, errlen, "ECDSA signing failed");
		free(body.p);
		return -1;
	}
	der_sig_alg(&body);
	der_raw(&bits, "", 1);
	der_raw(&bits, sig, siglen);
	der_wrap(&body, DER_BITS, &bits);
	der_wrap(&csr, DER_SEQ, &body);
	*der = csr.p;
	*len = csr.len;
	return 0;
}

/* One DER TLV at *p (before end): tag, content and its length; advances
 * *p past it. 0 or -1 (truncated, indefinite or over-long length). */
static int der_next(const unsigned char **p, const unsigned char *end, unsigned char *tag,
		    const unsigned char **v, size_t *vlen)
{
	const unsigned char *q = *p;
	size_t n;
	if (end - q < 2)
		return -1;
	*tag = *q++;
	n = *q++;
	if (n & 0x80) {
		size_t k = n & 0x7f;
		if (k == 0 || k > 3 || (size_t)(end - q) < k)
			return -1;
		for (n = 0; k; k--)
			n = n << 8 | *q++;
	}
	if ((size_t)(end - q) < n)
		return -1;
	*v = q;
	*vlen = n;
	*p = q + n;
	return 0;
}

/* RFC 5280 4.1.2.5.1/2: YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ. */
static int der_time_parse(unsigned char tag, const unsigned char *v, size_t n, time_t *out)
{
	int d[7] = {0}, nd = tag == DER_UTC ? 6 : 7, i, j = 0; /* a 4-digit year is 2 fields */
	struct tm tm = {0};
	if ((tag != DER_UTC && tag != DER_GEN) || n != (size_t)(nd * 2 + 1) || v[n - 1] != 'Z')
		return -1;
	for (i = 0; i < nd; i++, j += 2) {
		if (v[j] < '0' || v[j] > '9' || v[j + 1] < '0' || v[j + 1] > '9')
			return -1;
		d[i] = (v[j] - '0') * 10 + (v[j + 1] - '0');
	}
	if (tag == DER_UTC) {
		tm.tm_year = (d[0] < 50 ? 2000 : 1900) + d[0] - 1900;
		i = 1;
	} else {
		tm.tm_year = d[0] * 100 + d[1] - 1900;
		i = 2;
	}
	tm.tm_mon = d[i] - 1;
	tm.tm_mday = d[i + 1];
	tm.tm_hour = d[i + 2];
	tm.tm_min = d[i + 3];
	tm.tm_sec = d[i + 4];
	*out = timegm(&tm);
	return 0;
}

int tls_cert_dates(const char *cert_path, time_t *not_before, time_t *not_after)
{
	struct pem_list l;
	char err[160];
	const unsigned char *p, *end, *v;
	unsigned char tag;
	size_t vlen;
	int ret = -1;

	if (pem_read_file(cert_path, PEM_FILE_MAX, &l, err, sizeof err) < 0)
		return -1;
	if (l.n == 0 || !is_cert_name(l.v[0].name))
		goto out;
	p = l.v[0].der;
	end = p + l.v[0].len;
	/* Certificate SEQUENCE -> TBSCertificate SEQUENCE */
	if (der_next(&p, end, &tag, &v, &vlen) < 0 || tag != DER_SEQ)
		goto out;
	p = v;
	end = v + vlen;
	if (der_next(&p, end, &tag, &v, &vlen) < 0 || tag != DER_SEQ)
		goto out;
	p = v;
	end = v + vlen;
	if (der_next(&p, end, &tag, &v, &vlen) < 0)
		goto out;
	if (tag == 0xa0 && der_next(&p, end, &tag, &v, &vlen) < 0) /* version, then serial */
		goto out;
	/* signature algorithm, issuer, then validity */
	if (der_next(&p, end, &tag, &v, &vlen) < 0 || der_next(&p, end, &tag, &v, &vlen) < 0 ||
	    der_next(&p, end, &tag, &v, &vlen) < 0 || tag != DER_SEQ)
		goto out;
	p = v;
	end = v + vlen;
	if (der_next(&p, end, &tag, &v, &vlen) < 0 ||
	    der_time_parse(tag, v, vlen, not_before) < 0 ||
	    der_next(&p, end, &tag, &v, &vlen) < 0 || der_time_parse(tag, v, vlen, not_after) < 0)
		goto out;
	ret = 0;
out:
	pem_list_free(&l);
	return ret;
}

int tls_server_set_files(struct tls_server *t, const char *cert_path, const char *key_path,
			 char *err, size_t errlen)
{
	struct tls_material *m = material_load(cert_path, key_path, err, errlen);
	if (!m)
		return -1;
	pthread_mutex_lock(&t->mu);
	struct tls_material *old = t->cur;
	char *oc = t->cert_path, *ok = t->key_path;
	t->cur = m;
	t->cert_path = xstrdup(cert_path);
	t->key_path = xstrdup(key_path);
	pthread_mutex_unlock(&t->mu);
	free(oc);
	free(ok);
	tls_material_put(&old);
	return 0;
}

int tls_pair_check(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	struct tls_material *m = material_load(cert_path, key_path, err, errlen);
	if (!m)
		return -1;
	tls_material_put(&m);
	return 0;
}
