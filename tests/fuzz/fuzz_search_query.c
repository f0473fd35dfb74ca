/*
 * fuzz_search_query.c - libFuzzer target: the search translator (wire/search_query.c).
 *
 * Oracle: any input is either refused with bad_request, or translated into an expression that
 * (1) has exactly the translator's shape, terms "..." or "..."* separated by single spaces, with no
 *     quote, control byte or NUL inside a term, so that no byte of the user's is FTS5 syntax; and
 * (2) compiles and runs as an FTS5 MATCH on a real FTS5 table in an in-memory SQLite.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "search_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sqlite3 *db;
static sqlite3_stmt *stmt;


static void open_once(void)
{
	int rc;

	if(db != NULL) {
		return;
	}
	rc = sqlite3_open(":memory:", &db);
	assert(rc == SQLITE_OK);
	rc = sqlite3_exec(
		db,
		"CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');"
		"INSERT INTO t VALUES ('hello world'), ('near and or not'), ('caf\xc3\xa9 "
		"\xe4\xbd\xa0\xe5\xa5\xbd'),"
		" ('e mail x y z'), ('abc abd abe');",
		NULL, NULL, NULL);
	assert(rc == SQLITE_OK);
	rc = sqlite3_prepare_v2(db, "SELECT rowid, snippet(t, 0, '[', ']', '...', 8) FROM t WHERE t MATCH ?",
				-1, &stmt, NULL);
	assert(rc == SQLITE_OK);
}


/* True if s is "t" or "t"* terms separated by one space, t non-empty, without '"' or bytes < 0x20. */
static bool well_shaped(const char *s)
{
	size_t i = 0;
	int terms = 0;

	for(;;) {
		size_t start;
		if(s[i++] != '"') {
			return false;
		}
		start = i;
		while(s[i] != '"') {
			if(s[i] == '\0' || (unsigned char)s[i] < 0x20) {
				return false;
			}
			i++;
		}
		if(i == start || s[start] == ' ' || s[i - 1] == ' ') {
			return false;
		}
		i++;
		if(s[i] == '*') {
			i++;
		}
		terms++;
		if(s[i] == '\0') {
			return terms <= CHAT_SEARCH_TERMS_MAX;
		}
		if(s[i++] != ' ') {
			return false;
		}
	}
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chat_error err = {0};
	char *out = NULL;
	enum chat_err rc;
	int step;

	open_once();
	rc = chat_search_query__translate((const char *)data, size, &out, &err);
	if(rc != CHAT_ERR_OK) {
		assert(rc == CHAT_ERR_BAD_REQUEST && err.code == CHAT_ERR_BAD_REQUEST && out == NULL);
		assert(err.message[0] != '\0');
		return 0;
	}
	assert(out != NULL && well_shaped(out));
	assert(strlen(out) <= size + 4 * CHAT_SEARCH_TERMS_MAX);
	sqlite3_reset(stmt);
	sqlite3_bind_text(stmt, 1, out, -1, SQLITE_STATIC);
	while((step = sqlite3_step(stmt)) == SQLITE_ROW) {
	}
	assert(step == SQLITE_DONE);
	sqlite3_reset(stmt);
	free(out);
	return 0;
}
