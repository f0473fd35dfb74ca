/*
 * test_session_token.c - the token's text (core/session_token.c): what make produces parses back to
 * the same id and hash; every variation of it does not parse or hashes differently; ids and secrets
 * do not repeat.
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "session_token.h"
#include "th.h"

struct seen {
	UT_hash_handle hh;
	char text[CHAT_TOKEN_LEN + 1];
};


static void test_made_tokens_parse_back(void)
{
	char token[CHAT_TOKEN_LEN + 1], id[CHAT_TOKEN_ID_LEN + 1], parsed_id[CHAT_TOKEN_ID_LEN + 1];
	unsigned char hash[CHAT_TOKEN_HASH_LEN], parsed[CHAT_TOKEN_HASH_LEN];

	TH_EQ_INT(chat_session_token__make(token, id, hash), 0);
	TH_EQ_INT(strlen(token), CHAT_TOKEN_LEN);
	TH_CHECK(CHAT_TOKEN_LEN <= 200); /* the contract's bound */
	TH_CHECK(strncmp(token, CHAT_TOKEN_PREFIX, strlen(CHAT_TOKEN_PREFIX)) == 0);
	TH_CHECK(chat_session_token__id_valid(id));
	TH_CHECK(strstr(token, id) == token + strlen(CHAT_TOKEN_PREFIX));
	TH_CHECK(chat_session_token__parse(token, parsed_id, parsed));
	TH_EQ_STR(parsed_id, id);
	TH_CHECK(chat_session_token__hash_equal(parsed, hash));
}


static void test_variations_are_not_the_token(void)
{
	char token[CHAT_TOKEN_LEN + 1], id[CHAT_TOKEN_ID_LEN + 1], other_id[CHAT_TOKEN_ID_LEN + 1];
	char v[CHAT_TOKEN_LEN + 8];
	unsigned char hash[CHAT_TOKEN_HASH_LEN], other[CHAT_TOKEN_HASH_LEN];
	size_t secret_at = CHAT_TOKEN_LEN - CHAT_TOKEN_SECRET_LEN;

	TH_EQ_INT(chat_session_token__make(token, id, hash), 0);
	TH_CHECK(!chat_session_token__parse(NULL, other_id, other));
	TH_CHECK(!chat_session_token__parse("", other_id, other));
	TH_CHECK(!chat_session_token__parse("ada-pw", other_id, other));
	snprintf(v, sizeof(v), "%.*s", (int)CHAT_TOKEN_LEN - 1, token); /* cut */
	TH_CHECK(!chat_session_token__parse(v, other_id, other));
	snprintf(v, sizeof(v), "%sA", token); /* longer */
	TH_CHECK(!chat_session_token__parse(v, other_id, other));
	snprintf(v, sizeof(v), "%s", token); /* another prefix */
	v[2] = 'x';
	TH_CHECK(!chat_session_token__parse(v, other_id, other));
	snprintf(v, sizeof(v), "%s", token); /* upper-case hex in the id */
	v[strlen(CHAT_TOKEN_PREFIX)] = 'A';
	TH_CHECK(!chat_session_token__parse(v, other_id, other));
	snprintf(v, sizeof(v), "%s", token); /* no dot before the secret */
	v[secret_at - 1] = '-';
	TH_CHECK(!chat_session_token__parse(v, other_id, other));
	snprintf(v, sizeof(v), "%s", token); /* a character outside base64url */
	v[secret_at + 3] = '+';
	TH_CHECK(!chat_session_token__parse(v, other_id, other));
	snprintf(v, sizeof(v), "%s", token); /* the last character's two unused bits set */
	v[CHAT_TOKEN_LEN - 1] = 'B';
	TH_CHECK(!chat_session_token__parse(v, other_id, other));
	/* each secret character changed: still a token, another hash */
	for(size_t i = secret_at; i < CHAT_TOKEN_LEN; i++) {
		snprintf(v, sizeof(v), "%s", token);
		v[i] = v[i] == 'A' ? 'Q' : 'A'; /* both keep the last character's unused bits clear */
		TH_CHECKF(chat_session_token__parse(v, other_id, other), "position %zu", i);
		TH_CHECKF(!chat_session_token__hash_equal(other, hash), "position %zu", i);
	}
	TH_CHECK(!chat_session_token__id_valid("0123"));
	TH_CHECK(!chat_session_token__id_valid("0123456789abcdef0123456789abcdef0"));
	TH_CHECK(chat_session_token__id_valid("0123456789abcdef0123456789abcdef"));
}


static void test_tokens_do_not_repeat(void)
{
	enum { COUNT = 5000 };
	struct seen *all = NULL, *s, *tmp, *dup;
	char id[CHAT_TOKEN_ID_LEN + 1];
	unsigned char hash[CHAT_TOKEN_HASH_LEN];

	for(int i = 0; i < COUNT; i++) {
		s = calloc(1, sizeof(*s));
		TH_CHECK(s != NULL);
		TH_EQ_INT(chat_session_token__make(s->text, id, hash), 0);
		dup = NULL;
		HASH_FIND_STR(all, s->text, dup);
		TH_CHECKF(dup == NULL, "%s twice", s->text);
		HASH_ADD_STR(all, text, s);
	}
	TH_EQ_INT(HASH_COUNT(all), COUNT);
	HASH_ITER(hh, all, s, tmp) {
		HASH_DEL(all, s);
		free(s);
	}
}


TH_TEST_LIST(TH_TEST(test_made_tokens_parse_back), TH_TEST(test_variations_are_not_the_token),
	     TH_TEST(test_tokens_do_not_repeat))
