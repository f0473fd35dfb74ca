/*
 * test_search_faults.c - the search op under allocation failure (tests/stubs/alloc_fault.h): for every
 * allocation a search makes (the plugin's and cJSON's, then SQLite's, FTS5's included), a run in which
 * that one fails must answer the asker with exactly one message, either the same reply as without the
 * failure (SQLite sometimes recovers) or an `unavailable` error (or none, logged, when the reply itself
 * cannot be printed), and must leave no memory behind. The search runs on the search worker's thread
 * (services/search_worker.c): each run waits for its answer, so the walk covers both threads' allocations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc_fault.h"
#include "broker_stub.h"
#include "dispatch.h"
#include "search.h"
#include "fixture.h"
#include "th.h"
#include "topic.h"

#define WALK_MAX 20000

static struct ts_fixture fx;

static const char *const options[] = {"send_rate=100000",     "send_burst=100000",  "request_rate=100000",
				      "request_burst=100000", "synchronous=normal", NULL};


/* What tick.c does for search: starts the worker, reports commits, sends the answers it finished;
 * here until every search handed to it is answered (the worker runs on its own thread: a bounded
 * wait, a few ms per search). */
static void wait_for_searches(void)
{
	const struct timespec pause = {0, 100000};
	int rounds = 0;

	chat_search__tick(fx.plugin, NULL);
	while(chat_search__pending(fx.plugin) > 0 && rounds++ < 100000) {
		nanosleep(&pause, NULL);
		chat_search__tick(fx.plugin, NULL);
	}
	TH_EQ_INT(chat_search__pending(fx.plugin), 0);
}


/* user publishes payload to topic as the broker's message callback would hand it over; with fail_at
 * > 0, the fail_at-th allocation from sources fails. Returns the dispatch's result. */
static enum chat_err publish(const char *user, const char *device, const char *topic, const char *payload,
			     unsigned long fail_at, unsigned sources)
{
	struct chat_requester who = {user, device};
	struct chat_reply_to rt;
	struct chat_topic t;
	enum chat_err rc;

	chat_topic__parse(topic, &t);
	TH_EQ_INT(ts_fixture_reply_to(&fx, &rt, device, NULL), 0);
	if(fail_at > 0) {
		ts_alloc_arm_only(fail_at, false, sources);
	}
	rc = chat_dispatch__serve_or_reply(fx.plugin, &who, &rt, &t, payload, strlen(payload));
	ts_fixture_tick(&fx);
	wait_for_searches();
	ts_alloc_disarm();
	chat_reply_to__clear(&rt);
	return rc;
}


/* s without the hit markers « and », in a static buffer. */
static const char *unmarked(const char *s)
{
	static char out[8192];
	size_t len = 0;

	while(*s && len + 1 < sizeof(out)) {
		if(strncmp(s, "«", strlen("«")) == 0 || strncmp(s, "»", strlen("»")) == 0) {
			s += strlen("«");
			continue;
		}
		out[len++] = *s++;
	}
	out[len] = '\0';
	return out;
}


static const char search[] = "{\"op\":\"search\",\"query\":\"\\\"quarterly road\\\"* review\",\"limit\":3}";


/* Walks every allocation of the search from sources; returns how many runs failed one. */
static unsigned long walk(const char *reference, unsigned sources)
{
	unsigned long n;

	for(n = 1; n < WALK_MAX; n++) {
		size_t live = ts_alloc_live();
		const char *payload;
		ts_broker_reset();
		publish("bo", "bo-1", "chat/_api", search, n, sources);
		if(ts_alloc_failures() == 0) {
			break; /* the search made fewer than n allocations: all walked */
		}
		if(ts_broker_count() == 0) {
			/* the reply could not be printed: reply.c drops it and logs, as reply.h allows */
			TH_CHECKF(ts_broker_log_count(CHAT_LOG_WARNING) > 0,
				  "allocation %lu: no answer, no log", n);
			TH_EQ_INT(ts_alloc_live(), live);
			continue;
		}
		TH_CHECKF(ts_broker_count() == 1, "allocation %lu failed: %zu answers", n, ts_broker_count());
		payload = ts_broker_msg(0)->payload;
		if(strcmp(payload, reference) != 0 && strncmp(payload, "{\"ok\":true", 10) == 0) {
			/* FTS5's snippet() gives up its highlighting, not the text, when SQLite's allocator
			 * fails under it: the same reply with fewer « » is right enough */
			char *mine = strdup(unmarked(payload));
			TH_EQ_STR(mine, unmarked(reference));
			free(mine);
			TH_EQ_INT(ts_alloc_live(), live);
			continue;
		}
		/* "malformed JSON": cJSON's parse of the request ran out of memory, which it cannot tell
		 * from bad syntax (KNOWN_PARSE_OOM in test_alloc_faults.c, not the search's) */
		TH_CHECKF(strcmp(payload, reference) == 0
				  || strstr(payload, "\"code\":\"unavailable\"") != NULL
				  || strstr(payload,
					    "\"code\":\"bad_request\",\"message\":\"malformed JSON\"")
					     != NULL,
			  "allocation %lu failed: %s", n, payload);
		TH_EQ_INT(ts_alloc_live(), live);
	}
	TH_CHECK(n < WALK_MAX);
	return n - 1;
}


static void test_search_under_allocation_failures(void)
{
	static const char *const suffixes[] = {"-search", "-search-wal", "-search-shm"};
	char err[512] = "", *reference, dir[512], index[512];
	unsigned long ours, sqlite;

	TH_CHECKF(ts_fixture_open(&fx, options, err, sizeof(err)) == 0, "%s", err);
	TH_CHECK(ts_fixture_connect(&fx, "ada", "ada-1") != NULL);
	TH_CHECK(ts_fixture_connect(&fx, "bo", "bo-1") != NULL);
	TH_EQ_INT(publish("ada", "ada-1", "chat/_api",
			  "{\"op\":\"create\",\"channel\":\"design\",\"members\":[\"bo\"]}", 0, 0),
		  CHAT_ERR_OK);
	for(int i = 0; i < 6; i++) {
		char body[128];
		snprintf(body, sizeof(body),
			 "{\"client_msg_id\":\"m-%d\",\"body\":\"the quarterly roadmap review %d\"}", i, i);
		TH_EQ_INT(publish("ada", "ada-1", "chat/design", body, 0, 0), CHAT_ERR_OK);
	}
	ts_broker_reset();
	TH_EQ_INT(publish("bo", "bo-1", "chat/_api", search, 0, 0), CHAT_ERR_OK);
	TH_EQ_INT(ts_broker_count(), 1);
	reference = strdup(ts_broker_msg(0)->payload);
	TH_CHECKF(strstr(reference, "\"snippet\":\"the «quarterly roadmap» «review» 5\"") != NULL
			  && strstr(reference, "\"cursor\":\"v1:") != NULL,
		  "%s", reference);
	ours = walk(reference, TS_ALLOC_FROM(TS_ALLOC_LIBC) | TS_ALLOC_FROM(TS_ALLOC_CJSON));
	sqlite = walk(reference, TS_ALLOC_FROM(TS_ALLOC_SQLITE));
	th_log("walked %lu allocations of ours and cJSON's, %lu of SQLite's", ours, sqlite);
	TH_CHECK(ours > 10 && sqlite > 10);
	free(reference);
	snprintf(dir, sizeof(dir), "%s", fx.dir);
	snprintf(index, sizeof(index), "%s", fx.path);
	ts_fixture_close(&fx);
	/* the search index beside the fixture's database (ts_fixture_close knows only the log's files) */
	for(size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char file[sizeof(index) + 16];
		snprintf(file, sizeof(file), "%s%s", index, suffixes[i]);
		unlink(file);
	}
	rmdir(dir);
	ts_broker_reset();
	TH_EQ_INT(ts_alloc_live(), 0);
}


TH_TEST_LIST(TH_TEST(test_search_under_allocation_failures))
