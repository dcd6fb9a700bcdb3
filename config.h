/*
 * config.h — DATADIR/brev.conf: every key of DESIGN §3, one table (config.c)
 * drives parsing, defaults, validation, and the commented file `brev init`
 * writes. Read once at start-up; read-only afterwards (shared by threads).
 */
#ifndef BREV_CONFIG_H
#define BREV_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_RETRY_MAX 32

struct config {
	char datadir[PATH_MAX];
	char hostname[256];
	char *domains;              /* space separated, lower case */
	char *listen_smtp, *listen_submission, *listen_submissions;
	char *listen_imap, *listen_imaps, *listen_pop3, *listen_pop3s;
	char *listen_http, *listen_https; /* the web listener (http.c) */
	char *listen_managesieve;         /* managesieve.c */
	char *submission_shared;    /* submission.shared_senders */
	char *tls_cert, *tls_key;   /* as written (relative to datadir) */
	char *tls_acme;             /* ACME directory URL, "" off (acme.c) */
	char *tls_acme_email, *tls_acme_ca, *tls_acme_names;
	char *delivery_tls_ca;      /* MX and MTA-STS trust anchors, "" the system store */
	char *dns_resolver;
	long long delivery_port;
	char *delivery_relay, *delivery_relay_user, *delivery_relay_password_file;
	char *delivery_relay_ca, *delivery_relay_fingerprint; /* "" = system CAs, no pin */
	int64_t retry[CFG_RETRY_MAX];   /* delivery.retry, seconds */
	int nretry;
	int64_t delivery_max_age;   /* seconds */
	int64_t delivery_delay_notice; /* seconds; 0 = no delay notice */
	uint64_t message_size;      /* limits.message_size */
	long long connections;      /* limits.connections */
	int64_t timeout_preauth;    /* limits.timeout_preauth, seconds */
	int64_t timeout_imap;       /* limits.timeout_imap: IMAP autologout, seconds */
	int64_t timeout_pop3;       /* limits.timeout_pop3: POP3 after login, seconds */
	int64_t session_idle;       /* http.session_idle: a browser session's idle life, seconds */
	uint64_t quota_default;     /* 0 = none */
	long long quota_messages;   /* quota.messages: messages per account, 0 = none */
	uint64_t map_size;          /* store.map_size */
	int log_level;
	int64_t log_keep;           /* log.keep, seconds */
	char *log_file;             /* log.file, as written; "" = stderr */
	char *user;                 /* unprivileged user; "" = none */
	int dmarc_reject;
	int spam_strength;           /* spam.strength: enum spam_strength, never SPAM_DEFAULT */
	char *spam_dnsbl;           /* spam.dnsbl: "zone[=points] ..." (dnsbl.h); "" = none */
	char *spam_uribl;           /* spam.uribl: the same for link host names */
	long long spam_pregreet;    /* spam.pregreet: ms before the inbound greeting; 0 = none */
	int spam_check_loopback;    /* spam.check_loopback: loopback clients get those checks too */
	int64_t spam_greylist_delay; /* spam.greylist_delay: seconds; 0 = no greylisting */
	char *virus_clamd;          /* virus.clamd; "" = no scanning (virus.h) */
	int virus_on_error;         /* virus.on_error: enum below */
	int tls_mta_sts;            /* tls.mta_sts: 0 none, 1 testing, 2 enforce (http_autoconfig.c) */
	long long lists_bounce_limit; /* lists.bounce_limit: bounces that disable a list member */
};

enum { VIRUS_ON_ERROR_TEMPFAIL = 0, VIRUS_ON_ERROR_ACCEPT = 1 }; /* order of config.c's choices */

/* Set every key to its default; datadir is copied. */
void config_defaults(struct config *c, const char *datadir);
/* Read DATADIR/brev.conf (missing file = all defaults) then apply the
 * "-o KEY=VALUE" overrides. -1 with "brev.conf:LINE: ..." or
 * "-o KEY: ..." in err on the first bad line. */
int config_load(struct config *c, const char *datadir, char *const *overrides, int noverrides,
		char *err, size_t errlen);
/* Set one key from text. -1 with a reason in err. */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);
void config_free(struct config *c);

/* The commented brev.conf `brev init` writes: every key with its default
 * commented out, then the given settings. Returns malloc'ed text. */
char *config_render_default(const char *domain, const char *hostname, int public);

/* 1 if domain (any case, no trailing dot) is one of `domains`. */
int config_domain_is_local(const struct config *c, const char *domain);
/* Absolute path of a DATADIR-relative file key (tls.cert...). */
int config_path(const struct config *c, const char *rel, char *out, size_t cap);

#endif
