/*
 * session_token.c - makes and reads session tokens (see session_token.h).
 *
 * The randomness comes straight from getrandom, not from ids.c's pool: the pool falls back to libuuid
 * when the kernel's source is not seeded, and holds bytes in memory until they are handed out; a
 * credential gets neither. 48 bytes per token (16 for the id, 32 for the secret), one call.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "session_token.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char hex[] = "0123456789abcdef";

#define ID_BYTES     16
#define SECRET_BYTES 32


/* SHA-256 of the secret's text, as it appears in the token. Returns 0 or -1. */
static int hash_secret(const char *secret, unsigned char hash[CHAT_TOKEN_HASH_LEN])
{
	unsigned int len = 0;

	if(EVP_Digest(secret, CHAT_TOKEN_SECRET_LEN, hash, &len, EVP_sha256(), NULL) != 1
	   || len != CHAT_TOKEN_HASH_LEN) {
		return -1;
	}
	return 0;
}


/* 32 bytes as 43 base64url characters (the last one carries 4 bits), NUL-terminated. */
static void encode_secret(const unsigned char *in, char *out)
{
	size_t o = 0;
	unsigned bits = 0, acc = 0;

	for(size_t i = 0; i < SECRET_BYTES; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while(bits >= 6) {
			bits -= 6;
			out[o++] = b64url[(acc >> bits) & 0x3F];
		}
	}
	if(bits > 0) {
		out[o++] = b64url[(acc << (6 - bits)) & 0x3F];
	}
	out[o] = '\0';
}


int chat_session_token__make(char token[CHAT_TOKEN_LEN + 1], char id[CHAT_TOKEN_ID_LEN + 1],
			     unsigned char hash[CHAT_TOKEN_HASH_LEN])
{
	unsigned char bytes[ID_BYTES + SECRET_BYTES];
	char secret[CHAT_TOKEN_SECRET_LEN + 1];
	size_t got = 0;
	int rc = 0;

	while(got < sizeof(bytes)) {
		/* never block the broker's thread: a kernel not seeded yet refuses, and so do we */
		ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, GRND_NONBLOCK);
		if(n < 0 && errno != EINTR) {
			rc = -1;
			break;
		}
		got += n > 0 ? (size_t)n : 0;
	}
	if(rc == 0) {
		for(size_t i = 0; i < ID_BYTES; i++) {
			id[2 * i] = hex[bytes[i] >> 4];
			id[2 * i + 1] = hex[bytes[i] & 0x0F];
		}
		id[CHAT_TOKEN_ID_LEN] = '\0';
		encode_secret(bytes + ID_BYTES, secret);
		rc = hash_secret(secret, hash);
	}
	if(rc == 0) {
		memcpy(token, CHAT_TOKEN_PREFIX, sizeof(CHAT_TOKEN_PREFIX) - 1);
		memcpy(token + sizeof(CHAT_TOKEN_PREFIX) - 1, id, CHAT_TOKEN_ID_LEN);
		token[sizeof(CHAT_TOKEN_PREFIX) - 1 + CHAT_TOKEN_ID_LEN] = '.';
		memcpy(token + sizeof(CHAT_TOKEN_PREFIX) + CHAT_TOKEN_ID_LEN, secret,
		       CHAT_TOKEN_SECRET_LEN + 1);
	}
	OPENSSL_cleanse(bytes, sizeof(bytes));
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}


bool chat_session_token__id_valid(const char *id)
{
	size_t i;

	for(i = 0; id != NULL && i < CHAT_TOKEN_ID_LEN; i++) {
		if(id[i] == '\0' || strchr(hex, id[i]) == NULL) {
			return false;
		}
	}
	return id != NULL && id[CHAT_TOKEN_ID_LEN] == '\0';
}


bool chat_session_token__parse(const char *password, char id[CHAT_TOKEN_ID_LEN + 1],
			       unsigned char hash[CHAT_TOKEN_HASH_LEN])
{
	const size_t prefix = sizeof(CHAT_TOKEN_PREFIX) - 1;
	const char *secret;

	if(password == NULL || strlen(password) != CHAT_TOKEN_LEN
	   || strncmp(password, CHAT_TOKEN_PREFIX, prefix) != 0
	   || password[prefix + CHAT_TOKEN_ID_LEN] != '.') {
		return false;
	}
	memcpy(id, password + prefix, CHAT_TOKEN_ID_LEN);
	id[CHAT_TOKEN_ID_LEN] = '\0';
	if(!chat_session_token__id_valid(id)) {
		return false;
	}
	secret = password + prefix + CHAT_TOKEN_ID_LEN + 1;
	for(size_t i = 0; i < CHAT_TOKEN_SECRET_LEN; i++) {
		if(strchr(b64url, secret[i]) == NULL) {
			return false;
		}
	}
	/* The last character carries 4 bits: only one spelling of each secret is a token. */
	if((strchr(b64url, secret[CHAT_TOKEN_SECRET_LEN - 1]) - b64url) & 0x3) {
		return false;
	}
	return hash_secret(secret, hash) == 0;
}


bool chat_session_token__hash_equal(const unsigned char *a, const unsigned char *b)
{
	return CRYPTO_memcmp(a, b, CHAT_TOKEN_HASH_LEN) == 0;
}
