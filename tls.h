/*
 * tls.h — BearSSL contexts, PEM loading, key and self-signed certificate
 * creation. tls.c and conn.c are the only files that include <bearssl.h>.
 *
 * A tls_server holds the certificate chain and private key shared by every
 * connection (read-only after load; tls_server_reload() swaps in new ones
 * for new handshakes without disturbing running connections).
 */
#ifndef BREV_TLS_H
#define BREV_TLS_H

#include <stddef.h>
#include <time.h>

struct tls_server;
struct tls_client;

/* Load a PEM chain (leaf first) and an RSA or EC key (PKCS#8, "EC PRIVATE
 * KEY", "RSA PRIVATE KEY"). NULL with a one-line reason in err. */
struct tls_server *tls_server_new(const char *cert_path, const char *key_path, char *err,
				  size_t errlen);
/* Re-read the files (SIGHUP). On failure keeps the old ones, returns -1. */
int tls_server_reload(struct tls_server *t, char *err, size_t errlen);
void tls_server_free(struct tls_server **tp);

/* Client context for outbound delivery: trust anchors from
 * /etc/ssl/certs/ca-certificates.crt when present. Never fails the
 * handshake on an untrusted certificate (opportunistic TLS) but records it. */
struct tls_client *tls_client_new(void);
void tls_client_free(struct tls_client **tp);

/* The one-certificate setup of DATADIRs made before the local CA (kept for
 * them, and for tests): ECDSA P-256 key (PKCS#8 PEM, mode 0600) and a self-signed
 * X.509 v3 certificate, valid 10 years, CN=hostname, subjectAltName with
 * dns_names and ip_addrs (textual IPv4/IPv6). 0 or -1 with err. */
int tls_make_selfsigned(const char *key_path, const char *cert_path, const char *hostname,
			const char *const *dns_names, size_t ndns, const char *const *ip_addrs,
			size_t nip, char *err, size_t errlen);

/* The local CA (docs/tls.md): a new ECDSA P-256 key (PKCS#8 PEM, mode 0600)
 * and a self-signed X.509 v3 CA certificate, valid 20 years, CN "brev local
 * CA <8 hex digits> <hostname>", basicConstraints cA TRUE pathLen 0 and
 * keyUsage keyCertSign + cRLSign, both critical. 0 or -1 with err. */
int tls_make_ca(const char *ca_key_path, const char *ca_cert_path, const char *hostname,
		char *err, size_t errlen);

/* Apple's platforms refuse a TLS server certificate valid longer than this,
 * even under a CA the user installed (iOS 13 / macOS 10.15). */
#define TLS_SERVER_CERT_DAYS 825

/* A new server key (PKCS#8 PEM, mode 0600) and a certificate the local CA
 * at ca_key_path/ca_cert_path signs: CN=hostname, subjectAltName dns_names
 * and ip_addrs, basicConstraints cA FALSE and keyUsage digitalSignature
 * (critical), extendedKeyUsage serverAuth, valid TLS_SERVER_CERT_DAYS.
 * cert_path gets the server certificate followed by the CA's. The CA's
 * files are only read. 0 or -1 with err (also when the CA files do not
 * belong together or the certificate is not a CA). */
int tls_make_server_cert(const char *ca_key_path, const char *ca_cert_path, const char *key_path,
			 const char *cert_path, const char *hostname, const char *const *dns_names,
			 size_t ndns, const char *const *ip_addrs, size_t nip, char *err,
			 size_t errlen);

/* SHA-256 fingerprint of the first certificate in a PEM file, as
 * "AB:CD:..." (95 chars + NUL). 0 or -1. */
int tls_cert_fingerprint(const char *cert_path, char out[96]);

/* A client context whose trust anchors come from the PEM file at path
 * (tests use their own CA); a missing file gives an empty trust store. */
struct tls_client *tls_client_new_with_anchors(const char *path);

/* The smarthost's context (delivery.relay, docs/tls.md): trust anchors from
 * the PEM file ca_path (delivery.relay_ca, an absolute path) or, when it is
 * NULL or "", the system store; pins (delivery.relay_fingerprint) is a list
 * of SHA-256 certificate fingerprints ("AB:CD:..." as tls_cert_fingerprint
 * prints them, or 64 hex digits), separated by spaces or commas, at most
 * TLS_PINS_MAX. With pins, a peer is verified when its leaf certificate is
 * one of them (chain and name are then not looked at); without, when the
 * chain leads to an anchor and the name given to conn_tls_connect matches.
 * Like every client context it never fails a handshake on the certificate:
 * the caller asks conn_tls_verified() and decides. NULL with a one-line
 * reason in err when ca_path cannot be read or holds no certificate, or a
 * pin does not parse. */
#define TLS_PINS_MAX 4
struct tls_client *tls_client_new_relay(const char *ca_path, const char *pins, char *err,
					size_t errlen);

/* Why a client-side certificate did not verify, in plain words, from
 * conn_tls_verify_error(): 0, a BR_ERR_X509_* code, or one of these. */
#define TLS_VERIFY_NOT_PINNED (-1) /* pins given, the leaf is none of them */
#define TLS_VERIFY_NO_NAME (-2)    /* no server name to check */
const char *tls_verify_reason(int err);

/* ---- for ACME (acme.c): tls.c keeps every BearSSL call ---- */

/* An ECDSA P-256 key pair. create: make a new one and write it to path
 * (PKCS#8 PEM, mode 0600, atomically); else read path (any PEM form
 * tls_server_new takes; refused unless P-256). NULL with err. */
struct tls_eckey;
struct tls_eckey *tls_eckey_load(const char *path, int create, char *err, size_t errlen);
void tls_eckey_free(struct tls_eckey **kp);
/* The public point's coordinates, 32 octets each (a JWK's x and y). */
void tls_eckey_xy(const struct tls_eckey *k, unsigned char x[32], unsigned char y[32]);
/* ES256 (RFC 7518 3.4): ECDSA P-256 over SHA-256(data), R || S. 0 or -1. */
int tls_eckey_sign(const struct tls_eckey *k, const void *data, size_t len, unsigned char sig[64]);
void tls_sha256(const void *data, size_t len, unsigned char out[32]);
/* A PKCS#10 request (RFC 2986) signed by k: CN = names[0], subjectAltName
 * dNSName for each of the n names. *der is malloc'ed (the caller frees).
 * 0 or -1 with err. */
int tls_make_csr(const struct tls_eckey *k, const char *const *names, size_t n, unsigned char **der,
		 size_t *len, char *err, size_t errlen);
/* notBefore and notAfter of the first certificate in a PEM file. 0 or -1. */
int tls_cert_dates(const char *cert_path, time_t *not_before, time_t *not_after);
/* Would tls_server_new accept this pair? 0 or -1 with err. */
int tls_pair_check(const char *cert_path, const char *key_path, char *err, size_t errlen);
/* Serve another pair from now on (and on every later reload); on failure
 * nothing changes. 0 or -1 with err. Thread-safe against handshakes. */
int tls_server_set_files(struct tls_server *t, const char *cert_path, const char *key_path,
			 char *err, size_t errlen);

/*
 * Internal to conn.c and tls.c, the only files that include <bearssl.h>
 * (before this header). Everything else sees only the opaque API above.
 */
#ifdef BR_BEARSSL_H__
/* The certificate chain and key a connection was configured with. */
struct tls_material;

/* Take a reference to the current certificate material and set up sc
 * (TLS 1.2 only, the suite list, server preference, the shared session
 * cache) for it. The caller still sets the buffer and calls
 * br_ssl_server_reset(). Drop the reference with tls_material_put() when the
 * connection ends; t itself must outlive every connection using it. */
struct tls_material *tls_server_configure(struct tls_server *t, br_ssl_server_context *sc);
void tls_material_put(struct tls_material **mp);

/* The opportunistic X.509 engine: validates with br_x509_minimal (or
 * against the client's pins), records the verdict, never fails the
 * handshake. Lives inside the connection. */
struct tls_x509_verdict {
	const br_x509_class *vtable; /* first */
	br_x509_minimal_context minimal;
	br_x509_decoder_context leaf;
	br_sha256_context leaf_hash; /* of the first certificate, for pins */
	const struct tls_client *client;
	int ncerts;
	int named;    /* a server name was given to check */
	int verified; /* pinned leaf, or chain verified and name matched */
	int err;      /* 0 if verified, else BR_ERR_X509_* or TLS_VERIFY_* */
};
void tls_client_configure(struct tls_client *t, br_ssl_client_context *cc,
			  struct tls_x509_verdict *v);

/* "ECDHE-ECDSA-AES128-GCM-SHA256" (OpenSSL's names), "TLSv1.2". */
const char *tls_suite_name(unsigned id);
const char *tls_version_name(unsigned v);
#endif

#endif
