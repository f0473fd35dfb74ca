/*
 * test_ids.c - event ids and hex ids: well-formed version 4 UUIDs, no repeats across many refills of
 * ids.c's random pool.
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "ids.h"
#include "th.h"

struct seen {
	UT_hash_handle hh;
	char id[CHAT_UUID_LEN + 1];
};


static void test_uuids_are_version_4_and_distinct(void)
{
	enum { COUNT = 20000 }; /* about 80 refills of the pool */
	struct seen *all = NULL, *s, *tmp;
	int dashes[] = {8, 13, 18, 23};

	for(int i = 0; i < COUNT; i++) {
		s = calloc(1, sizeof(*s));
		TH_CHECK(s != NULL);
		chat_ids__uuid(s->id);
		TH_EQ_INT(strlen(s->id), CHAT_UUID_LEN);
		for(int k = 0; k < CHAT_UUID_LEN; k++) {
			bool dash = k == dashes[0] || k == dashes[1] || k == dashes[2] || k == dashes[3];
			TH_CHECKF(dash ? s->id[k] == '-' : strchr("0123456789abcdef", s->id[k]) != NULL,
				  "%s: character %d", s->id, k);
		}
		TH_CHECKF(s->id[14] == '4', "%s: not version 4", s->id);
		TH_CHECKF(strchr("89ab", s->id[19]) != NULL, "%s: not the RFC 4122 variant", s->id);
		struct seen *dup = NULL;
		HASH_FIND_STR(all, s->id, dup);
		TH_CHECKF(dup == NULL, "%s twice", s->id);
		HASH_ADD_STR(all, id, s);
	}
	HASH_ITER(hh, all, s, tmp) {
		HASH_DEL(all, s);
		free(s);
	}
}


static void test_hex_ids(void)
{
	char a[33], b[33];

	chat_ids__hex(a, 8);
	chat_ids__hex(b, 8);
	TH_EQ_INT(strlen(a), 16);
	TH_CHECK(strspn(a, "0123456789abcdef") == 16);
	TH_CHECK(strcmp(a, b) != 0);
	chat_ids__hex(a, 99); /* at most 16 bytes */
	TH_EQ_INT(strlen(a), 32);
}


int main(int argc, char **argv)
{
	static const struct th_test tests[] = {
		{"uuids_are_version_4_and_distinct", test_uuids_are_version_4_and_distinct},
		{"hex_ids", test_hex_ids},
	};

	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
