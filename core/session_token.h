/*
 * session_token.h - the "stay signed in" token: its text, its randomness and its hash.
 *
 * A token is "mqs1.<id>.<secret>": `id` is the session's public id (32 lower-case hex digits, 128
 * random bits), which the owner sees in `sessions` and names in `logout`, and which the store looks the
 * token up by; `secret` is 43 base64url characters (256 random bits from getrandom). Only SHA-256 of
 * the secret is stored, so a copy of the database signs nobody in. The secret is compared with
 * CRYPTO_memcmp, in constant time; the id is not secret, so looking it up by index leaks nothing.
 *
 * A password that does not have exactly this shape is not a token and is never looked up: any other
 * password goes to the broker's other authentication sources unchanged.
 *
 * Pure: no broker, no SQLite (OpenSSL's libcrypto for SHA-256 and the comparison).
 */
#ifndef CHAT_SESSION_TOKEN_H
#define CHAT_SESSION_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_TOKEN_PREFIX     "mqs1."
#define CHAT_TOKEN_ID_LEN     32 /* hex digits of the public id */
#define CHAT_TOKEN_SECRET_LEN 43 /* base64url characters of 32 random bytes, no padding */
#define CHAT_TOKEN_HASH_LEN   32 /* SHA-256 */
#define CHAT_TOKEN_LEN        (sizeof(CHAT_TOKEN_PREFIX) - 1 + CHAT_TOKEN_ID_LEN + 1 + CHAT_TOKEN_SECRET_LEN)

/* A new token: its text (NUL-terminated) in token, its public id in id, the SHA-256 of its secret in
 * hash. Returns 0, or -1 when the kernel's random source cannot give 48 bytes now (not seeded yet):
 * no token is made from weaker randomness. */
int chat_session_token__make(char token[CHAT_TOKEN_LEN + 1], char id[CHAT_TOKEN_ID_LEN + 1],
			     unsigned char hash[CHAT_TOKEN_HASH_LEN]);

/* True if password is shaped as a token; then id gets its public id and hash the SHA-256 of its secret.
 * False for anything else (NULL, another length, a wrong character): not a token. */
bool chat_session_token__parse(const char *password, char id[CHAT_TOKEN_ID_LEN + 1],
			       unsigned char hash[CHAT_TOKEN_HASH_LEN]);

/* True if the two hashes are equal, in time independent of where they differ. */
bool chat_session_token__hash_equal(const unsigned char *a, const unsigned char *b);

/* True if id is a public id as chat_session_token__make makes them (32 lower-case hex digits). */
bool chat_session_token__id_valid(const char *id);

#endif
