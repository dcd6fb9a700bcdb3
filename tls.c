/*
 * tls.c — BearSSL contexts, PEM loading, key and self-signed certificate
 * creation. (Placeholder until the TLS commit.)
 */
#include "tls.h"
#include "util.h"

#include <stdio.h>

struct tls_server *tls_server_new(const char *cert_path, const char *key_path, char *err,
				  size_t errlen)
{
	snprintf(err, errlen, "TLS not implemented yet");
	return NULL;
}

int tls_server_reload(struct tls_server *t, char *err, size_t errlen)
{
	snprintf(err, errlen, "TLS not implemented yet");
	return -1;
}

void tls_server_free(struct tls_server **tp)
{
	*tp = NULL;
}

struct tls_client *tls_client_new(void)
{
	return NULL;
}

void tls_client_free(struct tls_client **tp)
{
	*tp = NULL;
}

int tls_make_selfsigned(const char *key_path, const char *cert_path, const char *hostname,
			const char *const *dns_names, size_t ndns, const char *const *ip_addrs,
			size_t nip, char *err, size_t errlen)
{
	snprintf(err, errlen, "TLS not implemented yet");
	return -1;
}

int tls_cert_fingerprint(const char *cert_path, char out[96])
{
	return -1;
}
