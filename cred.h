/*
 * cred.h — what the store keeps to check a password, per account.
 *
 * Made and checked by sasl.c; stored as an opaque fixed-size blob by
 * mailbox.c. No plaintext password is kept. The trade-off (docs/auth.md):
 * CRAM-MD5 needs the HMAC-MD5 inner/outer states, which are password-
 * equivalent for CRAM-MD5 only; SCRAM-SHA-256 keeps StoredKey/ServerKey
 * (RFC 5802), which let nobody log in with another mechanism; PLAIN, LOGIN
 * and USER/PASS are checked against a yescrypt hash.
 */
#ifndef BREV_CRED_H
#define BREV_CRED_H

#include <stdint.h>

#define CRED_VERSION 1

struct cred {
	uint8_t version;           /* CRED_VERSION */
	char crypt[128];           /* crypt(3) string, "$y$..." (yescrypt) */
	uint8_t cram_inner[16];    /* MD5 state after (key ^ ipad), RFC 2104 */
	uint8_t cram_outer[16];    /* MD5 state after (key ^ opad) */
	uint8_t scram_salt[16];
	uint32_t scram_iter;       /* PBKDF2 iterations for SCRAM-SHA-256 */
	uint8_t scram_stored[32];  /* H(HMAC(SaltedPassword, "Client Key")) */
	uint8_t scram_server[32];  /* HMAC(SaltedPassword, "Server Key") */
};

#endif
