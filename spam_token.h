/*
 * spam_token.h — the Bayesian classifier's tokenizer (issue 14): a message
 * in, the words a person or a spammer chose out. Pure functions over a
 * buffer; no allocation survives a call except the hash array the caller
 * frees. Thread-safe.
 *
 * Tokens (all ASCII letters lower-cased; UTF-8 bytes kept as they are):
 *   - "field:NAME" for every header field (which fields a message has
 *     tells the software that wrote it);
 *   - the words of Subject, From, To, Cc, Reply-To, Content-Type, X-Mailer,
 *     User-Agent, Received and Message-ID, RFC 2047 decoded, each prefixed
 *     with the field's name ("subject:cheap", "received:mx.example");
 *   - the words of every text part, with its transfer encoding and charset
 *     decoded (message_text.c) and HTML reduced to its text (tags, comments,
 *     script and style dropped; a few entities decoded);
 *   - "url:HOST" and "url:DOMAIN" (its last two labels) for every http(s)
 *     link, in text and in HTML attributes;
 *   - "part:TYPE/SUBTYPE" for every non-text part, "ext:EXT" for file names;
 * A word is a run of letters, digits, bytes >= 0x80, and the characters
 * ' $ - _ inside it; words of 3 to SPAM_WORD_MAX bytes are tokens, longer
 * ones become "long:C:N" (first byte, length in tens) so a base64 blob or a
 * random string is one token, not thousands. Only the first SPAM_PREFIX_MAX
 * bytes of the message are read (the caller bounds len) and at most
 * SPAM_TOKENS_MAX tokens are produced.
 */
#ifndef BREV_SPAM_TOKEN_H
#define BREV_SPAM_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define SPAM_WORD_MAX	24
#define SPAM_TOKENS_MAX 20000

typedef void (*spam_token_fn)(void *arg, const char *tok, size_t n);

/* cb(arg, tok, n) for every token in order (duplicates included); tok is
 * not NUL-terminated and lives only during the call. */
void spam_tokenize(const char *msg, size_t len, spam_token_fn cb, void *arg);

/* 64-bit hash of a token (what the token database keys on). */
uint64_t spam_token_hash(const char *tok, size_t n);

/* The distinct tokens' hashes, ascending, in *out (malloc'ed, free it; NULL
 * when none). Returns their number. */
size_t spam_token_hashes(const char *msg, size_t len, uint64_t **out);

#endif
