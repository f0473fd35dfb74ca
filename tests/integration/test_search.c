/*
 * test_search.c - the search op (docs/protocol.md, "Search") against a real broker: words, phrases,
 * prefixes; edits found by their new text only; deletes never found, and gone from the index's table;
 * only channels the asker is a member of now, whatever the query tries; paging that returns every
 * match once while messages arrive; the filters; every kind of bad query; through an edge; a search
 * right after an ack (found) or a delete's ack (never found); the index built at start for a log it
 * never saw; a kill -9 while it is being built.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "th_chat.h"
#include "th_gateway.h"

/* {"op":"search","query":<query, JSON-escaped><extra>}: extra is "" or more fields (",\"limit\":5").
 * Returns the reply (caller deletes). */
static cJSON *search(struct th_client *c, const char *query, const char *extra)
{
	cJSON *q = cJSON_CreateString(query);
	char *text = cJSON_PrintUnformatted(q);
	cJSON *reply;

	TH_CHECK(text != NULL);
	reply = tc_api(c, "{\"op\":\"search\",\"query\":%s%s}", text, extra);
	free(text);
	cJSON_Delete(q);
	return reply;
}


/* The hits of a successful search reply as "channel:seq,channel:seq" (static buffer). */
static const char *hits_of(const cJSON *reply)
{
	static char out[4096];
	const cJSON *r;
	size_t len = 0;

	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")), "search failed: %s", th_json_print(reply));
	out[0] = '\0';
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(reply, "results")) {
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s:%lld", len ? "," : "",
					th_json_str(r, "channel"), th_json_int(r, "seq"));
		TH_CHECK(len < sizeof(out));
	}
	return out;
}


/* Searches and asserts the hits, newest first, and that there is no further page. */
#define EXPECT_HITS(c, query, extra, expected)                                                               \
	do {                                                                                                 \
		cJSON *reply_ = search((c), (query), (extra));                                               \
		TH_EQ_STR(hits_of(reply_), (expected));                                                      \
		TH_CHECK(cJSON_IsNull(cJSON_GetObjectItem(reply_, "cursor")));                               \
		cJSON_Delete(reply_);                                                                        \
	} while(0)


static void test_words_phrases_prefixes(void)
{
	struct tc_team f;
	cJSON *reply;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"design\",\"members\":[\"bo\"]}");
	TH_EQ_INT(tc_post(f.ada, "design", "the quarterly roadmap review is on friday"), 3);
	TH_EQ_INT(tc_post(f.bo, "design", "Roadmap draft attached"), 4);
	TH_EQ_INT(tc_post(f.ada, "design", "lunch on friday?"), 5);
	TH_EQ_INT(tc_post(f.bo, "design", "Résumé of the review: ship it"), 6);
	TH_EQ_INT(tc_post(f.ada, "design", "会议 你好世界 🎉 done"), 7);

	reply = search(f.bo, "roadmap", "");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"search\",\"results\":["
		       "{\"channel\":\"design\",\"seq\":4,\"id\":\"*\",\"from\":\"bo\",\"ts\":\"*\","
		       "\"body\":\"Roadmap draft attached\",\"snippet\":\"«Roadmap» draft attached\"},"
		       "{\"channel\":\"design\",\"seq\":3,\"id\":\"*\",\"from\":\"ada\",\"ts\":\"*\","
		       "\"body\":\"the quarterly roadmap review is on friday\","
		       "\"snippet\":\"the quarterly «roadmap» review is on friday\"}],\"cursor\":null}");
	cJSON_Delete(reply);
	EXPECT_HITS(f.bo, "friday roadmap", "", "design:3");  /* every word */
	EXPECT_HITS(f.bo, "FRIDAY", "", "design:5,design:3"); /* any case */
	EXPECT_HITS(f.bo, "\"review is on friday\"", "", "design:3");
	EXPECT_HITS(f.bo, "\"friday is on review\"", "", "");     /* a phrase keeps its order */
	EXPECT_HITS(f.bo, "road*", "", "design:4,design:3");      /* a prefix */
	EXPECT_HITS(f.bo, "\"quarterly road\"*", "", "design:3"); /* a phrase ending in a prefix */
	EXPECT_HITS(f.bo, "resume", "", "design:6");              /* accents do not matter */
	EXPECT_HITS(f.bo, "你好世界", "", "design:7");            /* CJK: a run of it is one word */
	EXPECT_HITS(f.bo, "🎉", "", "");                           /* not a word: nothing, no error */
	EXPECT_HITS(f.bo, "review ship", "", "design:6");
	tc_team_stop(&f);
}


/* An edit is found by its new text only, in its message's place; a delete is never found again, and
 * its text leaves the index's table in the same transaction. */
static void test_edits_and_deletes(void)
{
	struct tc_team f;
	char index_path[512];
	cJSON *reply;
	sqlite3 *db;
	sqlite3_stmt *stmt;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	TH_EQ_INT(tc_post(f.ada, "general", "alphaword betaword"), 3);
	TH_EQ_INT(tc_post(f.ada, "general", "unrelated"), 4);
	cJSON_Delete(tc_request(f.ada, "chat/general",
				"{\"type\":\"edit\",\"target\":3,\"body\":\"gammaword deltaword\","
				"\"client_msg_id\":\"e1\"}"));
	EXPECT_HITS(f.bo, "alphaword", "", "");
	reply = search(f.bo, "gammaword", "");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"search\",\"results\":["
		       "{\"channel\":\"general\",\"seq\":3,\"id\":\"*\",\"from\":\"ada\",\"ts\":\"*\","
		       "\"body\":\"gammaword deltaword\",\"snippet\":\"«gammaword» deltaword\"}],"
		       "\"cursor\":null}");
	cJSON_Delete(reply);
	cJSON_Delete(tc_request(
		f.ada, "chat/general",
		"{\"type\":\"edit\",\"target\":3,\"body\":\"epsilonword\",\"client_msg_id\":\"e2\"}"));
	EXPECT_HITS(f.bo, "gammaword", "", "");
	EXPECT_HITS(f.bo, "epsilonword", "", "general:3");

	cJSON_Delete(tc_request(f.ada, "chat/general",
				"{\"type\":\"delete\",\"target\":3,\"client_msg_id\":\"d1\"}"));
	EXPECT_HITS(f.bo, "epsilonword", "", "");
	EXPECT_HITS(f.bo, "alphaword", "", "");
	EXPECT_HITS(f.ada, "epsi*", "", "");
	EXPECT_HITS(f.bo, "unrelated", "", "general:4");
	/* and after a restart, from the file */
	th_disconnect(f.bo);
	th_broker_restart(&f.b);
	f.bo = th_connect(&f.b, "bo", "bo-1", 5, true);
	EXPECT_HITS(f.bo, "epsilonword", "", "");
	EXPECT_HITS(f.bo, "unrelated", "", "general:4");
	tc_team_stop(&f);

	/* the index's file holds no text of the deleted message, and FTS5 finds none of its words */
	snprintf(index_path, sizeof(index_path), "%s-search", f.b.db_path);
	TH_EQ_INT(sqlite3_open(index_path, &db), SQLITE_OK);
	TH_EQ_INT(sqlite3_prepare_v2(db,
				     "SELECT (SELECT count(*) FROM docs WHERE seq = 3),"
				     " (SELECT count(*) FROM fts WHERE fts MATCH"
				     " 'alphaword OR betaword OR gammaword OR deltaword OR epsilonword'),"
				     " (SELECT count(*) FROM docs)",
				     -1, &stmt, NULL),
		  SQLITE_OK);
	TH_EQ_INT(sqlite3_step(stmt), SQLITE_ROW);
	TH_EQ_INT(sqlite3_column_int(stmt, 0), 0);
	TH_EQ_INT(sqlite3_column_int(stmt, 1), 0);
	TH_EQ_INT(sqlite3_column_int(stmt, 2), 1);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}


/* Only channels the asker is a member of now: not a private channel it was never in, not one it was
 * removed from or left, whatever the query string tries. */
static void test_access(void)
{
	static const char *tricks[] = {
		"zebra",
		"zebra*",
		"\"launch codes\"",
		"zebra OR *",
		"body:zebra",
		"search_fts:zebra",
		"{body}:zebra",
		"NEAR(zebra launch)",
		"zebra channel:secret",
		"#secret zebra",
		"in:#secret zebra",
		"zebra\" OR \"x",
		"zebra) OR (x",
		"* OR zebra",
		"- zebra",
		"^zebra",
		"zeb* OR abc*",
	};
	struct tc_team f;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"secret\",\"visibility\":\"private\","
			 "\"members\":[\"bo\"]}");
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"open\",\"members\":[\"dee\"]}");
	TH_EQ_INT(tc_post(f.ada, "secret", "the launch codes are zebra"), 3);
	TH_EQ_INT(tc_post(f.ada, "open", "zebra crossing in the lobby"), 3);

	EXPECT_HITS(f.bo, "zebra", "", "secret:3");
	EXPECT_HITS(f.ada, "zebra", "", "open:3,secret:3");
	EXPECT_HITS(f.dee, "zebra", "", "open:3");
	for(size_t i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
		cJSON *reply = search(f.cy, tricks[i], "");
		TH_CHECKF(strcmp(hits_of(reply), "") == 0, "cy found %s with %s", hits_of(reply), tricks[i]);
		cJSON_Delete(reply);
		reply = search(f.dee, tricks[i], "");
		TH_CHECKF(strstr(hits_of(reply), "secret") == NULL, "dee found %s with %s", hits_of(reply),
			  tricks[i]);
		cJSON_Delete(reply);
	}
	/* naming the channel: to a non-member a private channel does not exist */
	tc_expect_error(search(f.cy, "zebra", ",\"channel\":\"secret\""), "no_such_channel",
			"there is no channel #secret");
	tc_expect_error(search(f.cy, "zebra", ",\"channel\":\"open\""), "not_member",
			"cy is not a member of #open");

	/* removed: nothing from #secret any more, not even what was posted while bo was in it */
	tc_api_ok(f.ada, "{\"op\":\"remove\",\"channel\":\"secret\",\"user\":\"bo\"}");
	EXPECT_HITS(f.bo, "zebra", "", "");
	EXPECT_HITS(f.bo, "launch codes", "", "");
	tc_expect_error(search(f.bo, "zebra", ",\"channel\":\"secret\""), "no_such_channel",
			"there is no channel #secret");
	/* left a public channel: not searched either, until joined again */
	tc_api_ok(f.dee, "{\"op\":\"leave\",\"channel\":\"open\"}");
	EXPECT_HITS(f.dee, "zebra", "", "");
	tc_api_ok(f.dee, "{\"op\":\"join\",\"channel\":\"open\"}");
	EXPECT_HITS(f.dee, "zebra", "", "open:3");
	tc_team_stop(&f);
}


/* Paging with the cursor returns every match exactly once, newest first, while new matches arrive. */
static void test_paging(void)
{
	struct tc_team f;
	char seen[64] = {0};
	char extra[96];
	const char *cursor_text = NULL;
	char *cursor = NULL;
	int pages = 0, total = 0;
	long long previous = 1LL << 40;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	for(int i = 0; i < 25; i++) {
		char body[64];
		snprintf(body, sizeof(body), "paging message number %d", i);
		TH_EQ_INT(tc_post(f.ada, "general", body), 3 + 2 * i);
		tc_post(f.bo, "general", "noise");
	}
	do {
		cJSON *reply, *r;
		snprintf(extra, sizeof(extra), ",\"limit\":7%s%s%s", cursor ? ",\"cursor\":\"" : "",
			 cursor ? cursor : "", cursor ? "\"" : "");
		reply = search(f.bo, "paging", extra);
		TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
		cJSON_ArrayForEach(r, cJSON_GetObjectItem(reply, "results")) {
			long long seq = th_json_int(r, "seq");
			TH_CHECKF(seq < previous, "seq %lld after %lld: not newest first", seq, previous);
			previous = seq;
			TH_CHECK(seq >= 3 && seq < 3 + 50);
			TH_CHECKF(!seen[seq], "seq %lld returned twice", seq);
			seen[seq] = 1;
			total++;
		}
		free(cursor);
		cursor_text = th_json_str(reply, "cursor");
		cursor = cursor_text ? strdup(cursor_text) : NULL;
		TH_CHECK(cursor != NULL || cJSON_IsNull(cJSON_GetObjectItem(reply, "cursor")));
		cJSON_Delete(reply);
		/* new matches between pages are newer than every cursor: later pages do not show them */
		tc_post(f.ada, "general", "paging arrives late");
		TH_CHECK(++pages <= 5);
	} while(cursor != NULL);
	TH_EQ_INT(total, 25);
	TH_EQ_INT(pages, 4);
	/* a fresh search sees them all */
	{
		cJSON *reply = search(f.bo, "paging", ",\"limit\":100");
		TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "results")), 25 + 4);
		cJSON_Delete(reply);
	}
	tc_expect_error(search(f.bo, "paging", ",\"cursor\":\"nonsense\""), "bad_request",
			"cursor must be one a search reply gave");
	tc_expect_error(search(f.bo, "paging", ",\"cursor\":\"v1:-5\""), "bad_request",
			"cursor must be one a search reply gave");
	tc_expect_error(search(f.bo, "paging", ",\"cursor\":7"), "bad_request", NULL);
	tc_team_stop(&f);
}


static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void test_filters(void)
{
	struct tc_team f;
	cJSON *reply, *ack;
	long long t_mid;
	char extra[128];

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"one\",\"members\":[\"bo\"]}");
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"two\",\"members\":[\"bo\"]}");
	TH_EQ_INT(tc_post(f.ada, "one", "filter test from ada in one"), 3);
	TH_EQ_INT(tc_post(f.bo, "one", "filter test from bo in one"), 4);
	ack = tc_send(f.ada, "two", "t-3", "filter test from ada in two");
	t_mid = th_json_int(ack, "ts");
	cJSON_Delete(ack);
	/* the server's clock (wall time in ms) moves past the third message's before the fourth */
	th_wait_until(wall_ms() > t_mid + 1, 1000);
	TH_EQ_INT(tc_post(f.bo, "two", "filter test from bo in two"), 4);

	EXPECT_HITS(f.bo, "filter", "", "two:4,two:3,one:4,one:3");
	EXPECT_HITS(f.bo, "filter", ",\"channel\":\"one\"", "one:4,one:3");
	EXPECT_HITS(f.bo, "filter", ",\"from\":\"ada\"", "two:3,one:3");
	EXPECT_HITS(f.bo, "filter", ",\"from\":\"bo\",\"channel\":\"two\"", "two:4");
	EXPECT_HITS(f.bo, "filter", ",\"from\":\"nobody\"", "");
	snprintf(extra, sizeof(extra), ",\"after_ts\":%lld", t_mid);
	EXPECT_HITS(f.bo, "filter", extra, "two:4");
	snprintf(extra, sizeof(extra), ",\"before_ts\":%lld", t_mid + 1);
	EXPECT_HITS(f.bo, "filter", extra, "two:3,one:4,one:3");
	snprintf(extra, sizeof(extra), ",\"after_ts\":%lld,\"before_ts\":%lld", t_mid, t_mid + 1);
	EXPECT_HITS(f.bo, "filter", extra, "");

	/* limit: default 20, at most 100 */
	for(int i = 0; i < 22; i++) {
		tc_post(f.ada, "one", "many many");
	}
	reply = search(f.bo, "many", "");
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "results")), 20);
	TH_CHECK(cJSON_IsString(cJSON_GetObjectItem(reply, "cursor")));
	cJSON_Delete(reply);
	reply = search(f.bo, "many", ",\"limit\":100");
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "results")), 22);
	TH_CHECK(cJSON_IsNull(cJSON_GetObjectItem(reply, "cursor")));
	cJSON_Delete(reply);
	tc_expect_error(search(f.bo, "many", ",\"limit\":101"), "bad_request", NULL);
	tc_expect_error(search(f.bo, "many", ",\"limit\":0"), "bad_request", NULL);
	tc_expect_error(search(f.bo, "many", ",\"limit\":\"5\""), "bad_request", NULL);
	tc_expect_error(search(f.bo, "many", ",\"after_ts\":-1"), "bad_request", NULL);
	tc_expect_error(search(f.bo, "many", ",\"from\":5"), "bad_request", NULL);
	tc_expect_error(search(f.bo, "many", ",\"channel\":\"nope\""), "no_such_channel", NULL);
	/* with no channel at all, nothing, and no error */
	EXPECT_HITS(f.dee, "many", "", "");
	tc_team_stop(&f);
}


/* Any query string: results or bad_request, never an internal error, and the broker stays up. */
static void test_bad_queries(void)
{
	static const struct {
		const char *query;
		const char *message; /* NULL: results (maybe none) */
	} cases[] = {
		{"", NULL /* refused by the field check: see below */},
		{"   ", "query has no words to search for"},
		{"\"", "query has no words to search for"},
		{"\"\"", "query has no words to search for"},
		{"*", "query has no words to search for"},
		{"***", "query has no words to search for"},
		{"-", "query has no words to search for"},
		{":", "query has no words to search for"},
		{"^", "query has no words to search for"},
		{"()", "query has no words to search for"},
		{"a*", "a prefix needs at least 3 letters or digits before the *"},
		{"ab*", "a prefix needs at least 3 letters or digits before the *"},
		{"\"x\"*", "a prefix needs at least 3 letters or digits before the *"},
		{"one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
		 "sixteen seventeen",
		 "a query has at most 16 words or phrases"},
		{"AND", NULL},
		{"OR NOT", NULL},
		{"NEAR", NULL},
		{"NEAR(a b, 3)", NULL},
		{"\"unterminated phrase", NULL},
		{"col:word", NULL},
		{"word)", NULL},
		{"(word", NULL},
		{"-word", NULL},
		{"^word", NULL},
		{"+word", NULL},
		{"wo*rd", NULL},
		{"\"a\"\"b\"", NULL},
		{"🎉🎉", NULL},
		{"你好", NULL},
		{"x\x01y", NULL},
	};
	struct tc_team f;
	char *big;
	cJSON *reply;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	tc_post(f.ada, "general", "word and near or not");
	for(size_t i = 1; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reply = search(f.bo, cases[i].query, "");
		if(cases[i].message) {
			tc_expect_error(reply, "bad_request", cases[i].message);
		} else {
			TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")), "query %s: %s",
				  cases[i].query, th_json_print(reply));
			cJSON_Delete(reply);
		}
	}
	EXPECT_HITS(f.bo, "AND", "", "general:3");
	EXPECT_HITS(f.bo, "NEAR(or not)", "", "general:3");
	tc_expect_error(search(f.bo, "", ""), "bad_request", NULL);
	tc_expect_error(tc_api(f.bo, "{\"op\":\"search\"}"), "bad_request", "query is required");
	tc_expect_error(tc_api(f.bo, "{\"op\":\"search\",\"query\":42}"), "bad_request", NULL);
	tc_expect_error(tc_api(f.bo, "{\"op\":\"search\",\"query\":null}"), "bad_request", NULL);
	/* a lone surrogate is not text: the JSON is refused */
	tc_expect_error(tc_api(f.bo, "{\"op\":\"search\",\"query\":\"\\ud800\"}"), "bad_request", NULL);
	/* raw bytes that are not UTF-8 fail the payload check every request passes */
	tc_expect_error(tc_api(f.bo, "{\"op\":\"search\",\"query\":\"\xff\xfe\"}"), "bad_utf8", NULL);
	/* 10 KB */
	big = malloc(10241);
	TH_CHECK(big != NULL);
	for(int i = 0; i < 10240; i++) {
		big[i] = i % 5 == 4 ? ' ' : 'a';
	}
	big[10240] = '\0';
	tc_expect_error(search(f.bo, big, ""), "bad_request", NULL);
	free(big);
	EXPECT_HITS(f.bo, "word", "", "general:3");
	tc_team_stop(&f);
}


/* A page is bounded in bytes like a catch-up page: long messages make shorter pages (never an empty
 * one), and the cursor still returns every match once. */
static void test_page_bytes(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	char body[1601];
	char extra[64] = "";
	int pages = 0, total = 0, first_page = -1;
	char *cursor = NULL;

	th_broker_start(&b, "plugin_opt_catchup_page_bytes 4096\n");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	for(int i = 0; i < 1600; i++) {
		body[i] = i % 8 == 7 ? ' ' : 'a' + i % 7;
	}
	memcpy(body, "bulky ", 6);
	body[1600] = '\0';
	for(int i = 0; i < 5; i++) {
		TH_EQ_INT(tc_post(ada, "general", body), 3 + i);
	}
	do {
		cJSON *reply = search(bo, "bulky", extra);
		const char *next = th_json_str(reply, "cursor");
		int n = cJSON_GetArraySize(cJSON_GetObjectItem(reply, "results"));
		TH_CHECK(n >= 1);
		if(first_page < 0) {
			first_page = n;
		}
		total += n;
		free(cursor);
		cursor = next ? strdup(next) : NULL;
		snprintf(extra, sizeof(extra), ",\"cursor\":\"%s\"", cursor ? cursor : "");
		cJSON_Delete(reply);
		TH_CHECK(++pages <= 5);
	} while(cursor != NULL);
	TH_EQ_INT(total, 5);
	TH_CHECKF(first_page < 5, "a first page of %d results of 3 KB each in 4 KB", first_page);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* Through a gateway edge, search is a chat/_api request like any other, answered by the core. */
static void test_through_an_edge(void)
{
	struct th_broker core, e1;
	struct th_client *ada, *bo;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	ada = th_connect(&core, "ada", "ada-1", 5, true);
	bo = th_connect(&e1, "bo", "bo-1", 4, true);
	tc_api_ok(bo, "{\"op\":\"channels\"}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"ops\",\"visibility\":\"private\","
		       "\"members\":[\"bo\"]}");
	TH_EQ_INT(tc_post(ada, "ops", "deploy window tonight"), 3);
	EXPECT_HITS(bo, "deploy", "", "ops:3");
	tc_api_ok(ada, "{\"op\":\"remove\",\"channel\":\"ops\",\"user\":\"bo\"}");
	EXPECT_HITS(bo, "deploy", "", "");
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&e1);
	th_broker_stop(&core);
}


/* Read-your-writes: a search sent right after a send's ack finds the message, and one sent right
 * after a delete's ack never returns it (the index lags the log by up to a batch: the worker waits
 * for the commit the request came after, and every hit is checked against the log). No waits here. */
static void test_right_after_the_ack(void)
{
	struct tc_team f;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	for(int i = 0; i < 40; i++) {
		char body[64], query[32], expected[32], del[96];
		long long seq;

		snprintf(body, sizeof(body), "fresh%dword and more", i);
		snprintf(query, sizeof(query), "fresh%dword", i);
		seq = tc_post(f.ada, "general", body);
		snprintf(expected, sizeof(expected), "general:%lld", seq);
		EXPECT_HITS(f.bo, query, "", expected);
		snprintf(del, sizeof(del),
			 "{\"type\":\"delete\",\"target\":%lld,\"client_msg_id\":\"rd-%d\"}", seq, i);
		cJSON_Delete(tc_request(f.ada, "chat/general", "%s", del));
		EXPECT_HITS(f.bo, query, "", "");
		EXPECT_HITS(f.ada, query, "", "");
	}
	tc_team_stop(&f);
}


static void remove_index(const struct th_broker *b)
{
	static const char *const suffixes[] = {"-search", "-search-wal", "-search-shm"};
	char path[512];

	for(size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", b->db_path, suffixes[i]);
		unlink(path);
	}
}


/* A log the index has never seen (an existing database, or the index file deleted) is indexed by the
 * worker at start, and the first search waits for it. */
static void test_catch_up_at_start(void)
{
	struct tc_team f;
	char expected[64];
	long long first = 0, edited, deleted;
	cJSON *reply;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"other\",\"members\":[\"bo\"]}");
	for(int i = 0; i < 30; i++) {
		long long seq = tc_post(f.ada, i % 2 ? "other" : "general", "catchup item");
		first = first ? first : seq;
	}
	edited = tc_post(f.ada, "general", "catchup before");
	deleted = tc_post(f.ada, "general", "catchup gone");
	cJSON_Delete(tc_request(
		f.ada, "chat/general",
		"{\"type\":\"edit\",\"target\":3,\"body\":\"rewritten text\",\"client_msg_id\":\"ce\"}"));
	cJSON_Delete(tc_request(f.ada, "chat/general",
				"{\"type\":\"delete\",\"target\":%lld,\"client_msg_id\":\"cd\"}", deleted));
	th_disconnect(f.bo);
	th_broker_stop(&f.b);
	remove_index(&f.b);
	th_broker_restart(&f.b);
	f.bo = th_connect(&f.b, "bo", "bo-1", 5, true);
	reply = search(f.bo, "catchup", ",\"limit\":100");
	TH_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "results")), 30 - 1 + 1);
	cJSON_Delete(reply);
	EXPECT_HITS(f.bo, "rewritten", "", "general:3");
	snprintf(expected, sizeof(expected), "general:%lld", edited);
	EXPECT_HITS(f.bo, "before", "", expected);
	EXPECT_HITS(f.bo, "gone", "", "");
	TH_CHECK(first == 3);
	tc_team_stop(&f);
}


static long long index_docs(const struct th_broker *b)
{
	char path[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long long n = -1;

	snprintf(path, sizeof(path), "file:%s-search?mode=ro", b->db_path);
	if(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK
	   && sqlite3_prepare_v2(db, "SELECT count(*) FROM docs", -1, &stmt, NULL) == SQLITE_OK
	   && sqlite3_step(stmt) == SQLITE_ROW) {
		n = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}


/* Without any search asking for it, the worker indexes what each commit stored (the channels the
 * tick names to it) within a batch; and a message deleted is gone from the index file too. */
static void test_indexed_in_the_background(void)
{
	struct tc_team f;
	long long seq;
	int rounds;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	seq = tc_post(f.ada, "general", "background words");
	for(rounds = 0; rounds < 100000 && index_docs(&f.b) != 1; rounds++) {
	}
	TH_EQ_INT(index_docs(&f.b), 1);
	cJSON_Delete(tc_request(f.ada, "chat/general",
				"{\"type\":\"delete\",\"target\":%lld,\"client_msg_id\":\"bd\"}", seq));
	for(rounds = 0; rounds < 100000 && index_docs(&f.b) != 0; rounds++) {
	}
	TH_EQ_INT(index_docs(&f.b), 0);
	tc_team_stop(&f);
}


#define GENERATED 12000

/* kill -9 while the worker indexes a large log from scratch, then a restart: every message is found,
 * exactly once (the watermarks are committed with the documents, so a pass is applied whole or not at
 * all, and the next start resumes after the last one). */
static void test_kill9_while_indexing(void)
{
	struct tc_team f;
	char sql[1024], seen_partial = 0;
	sqlite3 *db;
	long long docs = -1;
	int rounds = 0;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	TH_EQ_INT(tc_post(f.ada, "general", "generated item zero"), 3);
	th_disconnect(f.ada);
	th_disconnect(f.bo);
	th_disconnect(f.cy);
	th_disconnect(f.dee);
	th_broker_stop(&f.b);
	/* GENERATED more messages like seq 3, written straight into the stopped broker's log */
	TH_EQ_INT(sqlite3_open(f.b.db_path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < %d)"
		 " INSERT INTO events (channel_id, seq, id, type, author, ts, client_msg_id, target, json, "
		 "msg_no,"
		 " author_msg_no)"
		 " SELECT e.channel_id, 3 + k, 'gen-' || k, 'message', e.author, e.ts + k, NULL, NULL,"
		 " json_set(e.json, '$.seq', 3 + k, '$.id', 'gen-' || k, '$.body', 'generated item ' || k,"
		 " '$.ts', e.ts + k), e.msg_no + k, e.author_msg_no + k"
		 " FROM n, events AS e WHERE e.seq = 3 AND e.type = 'message' ORDER BY k",
		 GENERATED);
	TH_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	remove_index(&f.b);
	th_broker_restart(&f.b);
	/* as soon as a pass has committed and before the last one has */
	while(rounds++ < 200000) {
		docs = index_docs(&f.b);
		if(docs > 0) {
			break;
		}
	}
	seen_partial = docs > 0 && docs < GENERATED + 1;
	th_broker_kill9(&f.b);
	th_log("killed with %lld of %d documents indexed%s", docs, GENERATED + 1,
	       seen_partial ? "" : " (indexing was already done: the test only checks the restart)");
	th_broker_restart(&f.b);
	f.ada = th_connect(&f.b, "ada", "ada-1", 5, true);
	f.bo = th_connect(&f.b, "bo", "bo-1", 5, true);
	f.cy = th_connect(&f.b, "cy", "cy-1", 4, true);
	f.dee = th_connect(&f.b, "dee", "dee-1", 5, true);
	/* the first search waits for the catch-up (up to its bound), so wait for the index first */
	for(rounds = 0; rounds < 300000 && index_docs(&f.b) != GENERATED + 1; rounds++) {
	}
	TH_EQ_INT(index_docs(&f.b), GENERATED + 1);
	{
		char extra[96], *cursor = NULL;
		static char seen[GENERATED + 8];
		long long total = 0;
		int pages = 0;

		memset(seen, 0, sizeof(seen));
		do {
			cJSON *reply, *r;
			const char *next;
			snprintf(extra, sizeof(extra), ",\"limit\":100%s%s%s", cursor ? ",\"cursor\":\"" : "",
				 cursor ? cursor : "", cursor ? "\"" : "");
			reply = search(f.bo, "generated item", extra);
			TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")), "%s", th_json_print(reply));
			cJSON_ArrayForEach(r, cJSON_GetObjectItem(reply, "results")) {
				long long seq = th_json_int(r, "seq");
				TH_CHECK(seq >= 3 && seq < 3 + GENERATED + 1);
				TH_CHECKF(!seen[seq - 3], "seq %lld returned twice", seq);
				seen[seq - 3] = 1;
				total++;
			}
			free(cursor);
			next = th_json_str(reply, "cursor");
			cursor = next ? strdup(next) : NULL;
			cJSON_Delete(reply);
			TH_CHECK(++pages <= GENERATED / 100 + 2);
		} while(cursor != NULL);
		TH_EQ_INT(total, GENERATED + 1);
	}
	tc_team_stop(&f);
}


TH_TEST_LIST(TH_TEST(test_words_phrases_prefixes), TH_TEST(test_edits_and_deletes), TH_TEST(test_access),
	     TH_TEST(test_paging), TH_TEST(test_filters), TH_TEST(test_bad_queries), TH_TEST(test_page_bytes),
	     TH_TEST(test_through_an_edge), TH_TEST(test_right_after_the_ack),
	     TH_TEST(test_catch_up_at_start), TH_TEST(test_indexed_in_the_background),
	     TH_TEST(test_kill9_while_indexing))
