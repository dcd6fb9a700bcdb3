/*
 * bench/yescrypt.c — a password hash for Dovecot's bench users at the same
 * cost as brev's own: the same libxcrypt calls as make_crypt() in sasl.c
 * (crypt_gensalt_rn("$y$", 0, ...), i.e. yescrypt at libcrypt's default
 * cost, a fresh salt from the kernel, then crypt_r). Dovecot's {CRYPT}
 * scheme verifies it with crypt(3) from the same libxcrypt. Built by
 * bench/run.sh; not part of brev.
 *
 *   bench_yescrypt < password-line      prints the $y$... hash
 */
#include <crypt.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	char pw[256], setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *h;
	if (!fgets(pw, sizeof pw, stdin)) {
		fprintf(stderr, "bench_yescrypt: no password on stdin\n");
		return 2;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof setting)) {
		perror("crypt_gensalt_rn");
		return 1;
	}
	memset(&cd, 0, sizeof cd);
	h = crypt_r(pw, setting, &cd);
	if (!h || strncmp(h, "$y$", 3) != 0) {
		fprintf(stderr, "bench_yescrypt: crypt_r failed\n");
		return 1;
	}
	puts(h);
	return 0;
}
