/*
 * test_search_query.c - the search translator (wire/search_query.c): what each user query becomes in
 * FTS5's language, and what is refused. Every output is also run through a real FTS5 table, which must
 * accept it: the translator's whole point is that no user text is FTS5 syntax.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "search_query.h"
#include "th.h"

static sqlite3 *db;


/* The translation of query (a C string literal, NULs included), which must compile and run in FTS5. */
static void expect_fts(const char *query, size_t len, const char *expected)
{
	struct chat_error err = {0};
	sqlite3_stmt *stmt = NULL;
	char *out = NULL;
	int rc;

	TH_CHECKF(chat_search_query__translate(query, len, &out, &err) == CHAT_ERR_OK, "%s refused: %s",
		  query, err.message);
	TH_EQ_STR(out, expected);
	TH_EQ_INT(sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE t MATCH ?", -1, &stmt, NULL),
		  SQLITE_OK);
	sqlite3_bind_text(stmt, 1, out, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	TH_CHECKF(rc == SQLITE_ROW, "FTS5 refused %s: %s", out, sqlite3_errmsg(db));
	sqlite3_finalize(stmt);
	free(out);
}

#define FTS(query, expected) expect_fts((query), sizeof(query) - 1, (expected))


static void expect_refused(const char *query, size_t len, const char *message)
{
	struct chat_error err = {0};
	char *out = (char *)"untouched";

	TH_EQ_INT(chat_search_query__translate(query, len, &out, &err), CHAT_ERR_BAD_REQUEST);
	TH_CHECK(out == NULL);
	TH_EQ_INT(err.code, CHAT_ERR_BAD_REQUEST);
	TH_EQ_STR(err.message, message);
}

#define REFUSED(query, message) expect_refused((query), sizeof(query) - 1, (message))

#define NO_WORDS     "query has no words to search for"
#define SHORT_PREFIX "a prefix needs at least 3 letters or digits before the *"


static void open_fts(void)
{
	TH_EQ_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
	TH_EQ_INT(
		sqlite3_exec(
			db,
			"CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');"
			"INSERT INTO t VALUES ('hello world'), ('near and or not'), ('e mail');",
			NULL, NULL, NULL),
		SQLITE_OK);
}


static void test_words_and_phrases(void)
{
	open_fts();
	FTS("hello", "\"hello\"");
	FTS("  hello   world ", "\"hello\" \"world\"");
	FTS("\"hello world\"", "\"hello world\"");
	FTS("\"hello   world\" again", "\"hello world\" \"again\"");
	FTS("\"unterminated phrase", "\"unterminated phrase\"");
	FTS("\"a b\"c", "\"a b\" \"c\"");
	FTS("hel*", "\"hel\"*");
	FTS("hel***", "\"hel\"*");
	FTS("\"hello wor\"*", "\"hello wor\"*");
	FTS("e-mail", "\"e mail\"");
	FTS("caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd", "\"caf\xc3\xa9\" \"\xe4\xbd\xa0\xe5\xa5\xbd\"");
	FTS("\xf0\x9f\x8e\x89", "\"\xf0\x9f\x8e\x89\""); /* FTS5 finds no token in it: no match, no error */
	sqlite3_close(db);
}


/* FTS5's operators and special characters are words or separators, never syntax. */
static void test_syntax_is_defused(void)
{
	open_fts();
	FTS("AND", "\"AND\"");
	FTS("a OR b NOT c", "\"a\" \"OR\" \"b\" \"NOT\" \"c\"");
	FTS("NEAR(a b, 3)", "\"NEAR a\" \"b\" \"3\"");
	FTS("body:hello", "\"body hello\"");
	FTS("{body}: hello", "\"body\" \"hello\"");
	FTS("^hello", "\"hello\"");
	FTS("-hello +world", "\"hello\" \"world\"");
	FTS("(hello)", "\"hello\"");
	FTS("he*llo", "\"he llo\"");
	FTS("\"a\"\"b\"", "\"a\" \"b\"");
	FTS("hello\" OR \"x", "\"hello\" \"OR\" \"x\"");
	FTS("a\0b", "\"a b\"");
	FTS("x\x01y\x7f", "\"x y\"");
	FTS("* hello", "\"hello\"");
	FTS("hello -", "\"hello\"");
	sqlite3_close(db);
}


static void test_refused(void)
{
	char big[CHAT_SEARCH_QUERY_MAX_BYTES + 2];

	REFUSED("", NO_WORDS);
	REFUSED("   ", NO_WORDS);
	REFUSED("\"", NO_WORDS);
	REFUSED("\"\"", NO_WORDS);
	REFUSED("\"  \"*", NO_WORDS);
	REFUSED("*", NO_WORDS);
	REFUSED("-- : ^ ( ) { } + *", NO_WORDS);
	REFUSED("a*", SHORT_PREFIX);
	REFUSED("ab*", SHORT_PREFIX);
	REFUSED("\"hello wo\"*", SHORT_PREFIX);
	REFUSED("\xc3\xa9\xc3\xa9*", SHORT_PREFIX);
	REFUSED("\xff", "query must be UTF-8 text");
	REFUSED("ok \xed\xa0\x80", "query must be UTF-8 text");
	REFUSED("a b c d e f g h i j k l m n o p q", "a query has at most 16 words or phrases");
	memset(big, 'a', sizeof(big));
	expect_refused(big, sizeof(big) - 1, "query must be at most 1024 bytes");
}


/* The limits themselves are accepted: 16 terms, 1024 bytes, 3-character prefixes. */
static void test_limits(void)
{
	char big[CHAT_SEARCH_QUERY_MAX_BYTES + 1];
	struct chat_error err = {0};
	char *out = NULL;

	open_fts();
	FTS("a b c d e f g h i j k l m n o p",
	    "\"a\" \"b\" \"c\" \"d\" \"e\" \"f\" \"g\" \"h\" \"i\" \"j\" \"k\" \"l\" "
	    "\"m\" \"n\" \"o\" \"p\"");
	FTS("abc*", "\"abc\"*");
	FTS("\xc3\xa9\xc3\xa9\xc3\xa9*", "\"\xc3\xa9\xc3\xa9\xc3\xa9\"*");
	/* 1024 bytes of quotes, stars and colons: every term dropped */
	for(size_t i = 0; i < CHAT_SEARCH_QUERY_MAX_BYTES; i++) {
		big[i] = "\"*: "[i % 4];
	}
	expect_refused(big, CHAT_SEARCH_QUERY_MAX_BYTES, NO_WORDS);
	/* 204 three-letter prefixes: refused at the 17th, nothing overflows */
	for(size_t i = 0; i < CHAT_SEARCH_QUERY_MAX_BYTES; i++) {
		big[i] = "abc* "[i % 5];
	}
	expect_refused(big, CHAT_SEARCH_QUERY_MAX_BYTES, "a query has at most 16 words or phrases");
	memset(big, 'w', sizeof(big));
	TH_EQ_INT(chat_search_query__translate(big, CHAT_SEARCH_QUERY_MAX_BYTES, &out, &err), CHAT_ERR_OK);
	TH_EQ_INT(strlen(out), CHAT_SEARCH_QUERY_MAX_BYTES + 2);
	free(out);
	sqlite3_close(db);
}


TH_TEST_LIST(TH_TEST(test_words_and_phrases), TH_TEST(test_syntax_is_defused), TH_TEST(test_refused),
	     TH_TEST(test_limits))
