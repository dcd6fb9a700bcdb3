/*
 * http_autoconfig.h — what mail clients and other mail servers fetch over
 * the web listener to configure themselves: Thunderbird's autoconfig
 * (Mozilla ISPDB clientConfig v1.1), Outlook's Autodiscover (the POX XML
 * form) and the MTA-STS policy (RFC 8461 3.2). Pure builders from the
 * configuration: no I/O, no state; http.c routes to them, dnsrec.c prints
 * the policy's id. docs/http.md lists the endpoints.
 */
#ifndef BREV_HTTP_AUTOCONFIG_H
#define BREV_HTTP_AUTOCONFIG_H

#include <stddef.h>

#include "config.h"

/* Largest Autodiscover request body read (413 beyond). */
#define AUTOCONF_BODY_MAX 16384

/* The port of a listen.* value's first address; 0 when it is off or bad. */
unsigned autoconf_listen_port(const char *listen);

/* Thunderbird's clientConfig XML for brev's listeners that are on.
 * Returns malloc'ed text (caller frees), its length in *len. */
char *autoconf_thunderbird(const struct config *cfg, size_t *len);

/* Outlook's POX Autodiscover answer for the <EMailAddress> of the request
 * body (len bytes, not NUL-terminated, at most AUTOCONF_BODY_MAX). NULL
 * when the body names no usable address (the caller answers 400);
 * otherwise malloc'ed text, its length in *outlen. */
char *autoconf_autodiscover(const struct config *cfg, const char *body, size_t len, size_t *outlen);

/* Apple's configuration profile (a plist, unsigned) for the account addr:
 * IMAP (implicit TLS preferred) and SMTP submission on `hostname`, the
 * address as user name, no password (the device asks for it). Returns
 * malloc'ed text, its length in *len. */
char *autoconf_mobileconfig(const struct config *cfg, const char *addr, size_t *len);

/* The MTA-STS policy text into buf (cap >= 1024 is always enough); its
 * length, 0 when tls.mta_sts is none (nothing is published). */
size_t autoconf_mta_sts_policy(const struct config *cfg, char *buf, size_t cap);

/* The policy's id for the _mta-sts TXT record (RFC 8461 3.1: 1-32
 * alphanumerics): a hash of the policy text, so it changes exactly when
 * the policy does. out needs 17 bytes. */
void autoconf_mta_sts_id(const struct config *cfg, char *out, size_t cap);

#endif
