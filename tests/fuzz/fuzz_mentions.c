/*
 * fuzz_mentions.c - libFuzzer target: the mention rule (services/mentions.c) on any body, with an
 * explicit list cut from the same input. Oracle: every name returned is a member, written "@name" in
 * the body or listed; the names are strictly sorted (so unique); "everyone" only when the body says
 * "@channel" or "@here"; and, with every allocation succeeding, the call never fails. ASan and UBSan
 * watch the scanning.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mentions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const members[] = {"a", "ab", "a.b", "a-b", "bo", "b_", "\xc3\xa9", "channel", NULL};


static bool is_member(const char *name, void *ctx)
{
	(void)ctx;
	for(size_t i = 0; members[i] != NULL; i++) {
		if(strcmp(members[i], name) == 0) {
			return true;
		}
	}
	return false;
}


static bool listed(const char *name, char *const *list, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		if(strcmp(list[i], name) == 0) {
			return true;
		}
	}
	return false;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* body, then after the first '\n' a list of names separated by '\n' */
	char *text = malloc(size + 1), *list[64], *nl;
	size_t n = 0;
	struct chat_mentions m;

	if(text == NULL) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	nl = strchr(text, '\n');
	if(nl != NULL) {
		*nl = '\0';
		for(char *p = nl + 1; n < 64 && p != NULL;) {
			char *next = strchr(p, '\n');
			if(next != NULL) {
				*next++ = '\0';
			}
			list[n++] = p;
			p = next;
		}
	}
	assert(chat_mentions__compute(text, (const char *const *)list, n, is_member, NULL, &m) == 0);
	for(size_t i = 0; i < m.count; i++) {
		char at[300] = "@";
		assert(is_member(m.names[i], NULL));
		assert(i == 0 || strcmp(m.names[i - 1], m.names[i]) < 0);
		strncat(at, m.names[i], sizeof(at) - 2);
		assert(strstr(text, at) != NULL || listed(m.names[i], list, n));
	}
	assert(!m.all || strstr(text, "@channel") != NULL || strstr(text, "@here") != NULL);
	chat_mentions__clear(&m);
	free(text);
	return 0;
}
