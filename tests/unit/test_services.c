/*
 * test_services.c - services driven without a broker: the send path and its group commit, catch-up,
 * membership through chat/_api.
 *
 * Each test builds a core's state on a fresh database (tests/stubs/fixture.h) and calls the services as
 * events.c and dispatch.c would; tests/stubs/broker_stub.h records what would have been published. The
 * tick (chat_batch__tick) is called where the broker would end its loop iteration, so a test sees what
 * the broker would be handed before and after the group commit.
 */
#include <sqlite3.h>

#include "alloc_fault.h"
#include "api.h"
#include "batch.h"
#include "broker_stub.h"
#include "catchup.h"
#include "fixture.h"
#include "membership.h"
#include "send.h"
#include "th.h"

static struct ts_fixture fx;


/* A core with ada, bo and cy connected (dee too, when all4), no rate limits in the way. */
static void open_fixture(const char *const *extra)
{
	const char *options[16] = {"send_rate=0", "request_rate=0"};
	char err[512] = "";
	size_t n = 2;

	for(size_t i = 0; extra != NULL && extra[i] != NULL && n < 15; i++) {
		options[n++] = extra[i];
	}
	options[n] = NULL;
	TH_CHECKF(ts_fixture_open(&fx, options, err, sizeof(err)) == 0, "%s", err);
	ts_broker_reset();
	TH_CHECK(ts_fixture_connect(&fx, "ada", "ada-phone") != NULL);
	TH_CHECK(ts_fixture_connect(&fx, "bo", "bo-laptop") != NULL);
	TH_CHECK(ts_fixture_connect(&fx, "cy", "cy-1") != NULL);
	TH_CHECK(ts_fixture_connect(&fx, "dee", "dee-1") != NULL);
}


static void close_fixture(void)
{
	ts_fixture_close(&fx);
	ts_broker_reset();
	TH_EQ_INT(ts_alloc_live(), 0); /* everything the plugin allocated was freed */
}


/* #general, public, created by ada with bo: joins 1 (ada) and 2 (bo), published at once. */
static struct chat_channel *create_general(void)
{
	static const char *const members[] = {"bo"};
	struct chat_requester ada = {"ada", "ada-phone"};
	struct chat_error err = {0};
	struct chat_channel *ch = NULL;

	TH_EQ_INT(chat_membership__create(fx.plugin, &ada, "general", CHAT_VISIBILITY_PUBLIC, "General",
					  members, 1, &ch, &err),
		  CHAT_ERR_OK);
	TH_CHECK(ch != NULL);
	TH_EQ_INT(ch->head, 2);
	return ch;
}


/* Publishes payload to chat/<channel> as user on device, as events.c does; returns what the service
 * returned. response_topic: the MQTT 5 Response Topic, or NULL. */
static enum chat_err send_as(const char *user, const char *device, const char *channel, const char *payload,
			     const char *response_topic)
{
	struct chat_requester who = {user, device};
	struct chat_reply_to rt;
	enum chat_err rc;

	TH_EQ_INT(ts_fixture_reply_to(&fx, &rt, device, response_topic), 0);
	rc = chat_send__serve_or_reply(fx.plugin, &who, &rt, channel, strlen(channel), payload,
				       strlen(payload));
	chat_reply_to__clear(&rt);
	return rc;
}


/* The i-th recorded message: queued as route, for client (NULL: every subscriber), on topic at qos, its
 * payload matching pattern (th_json_match). Returns its JSON; the caller deletes it. */
static cJSON *expect_msg(size_t i, enum ts_route route, const char *client, const char *topic, int qos,
			 const char *pattern)
{
	const struct ts_msg *m = ts_broker_msg(i);
	cJSON *json;

	TH_CHECKF(m != NULL, "message %zu of %zu", i, ts_broker_count());
	TH_EQ_INT(m->route, route);
	TH_CHECKF((client == NULL) == (m->client_id == NULL)
			  && (client == NULL || strcmp(client, m->client_id) == 0),
		  "message %zu is for %s, not %s", i, m->client_id ? m->client_id : "everyone",
		  client ? client : "everyone");
	TH_EQ_STR(m->topic, topic);
	TH_EQ_INT(m->qos, qos);
	json = ts_msg_json(m);
	TH_CHECKF(json != NULL, "message %zu is not JSON: %s", i, m->payload);
	TH_JSON(json, pattern);
	return json;
}


static void expect_no_msg(void)
{
	TH_CHECKF(ts_broker_count() == 0, "%zu messages recorded, the first on %s: %s", ts_broker_count(),
		  ts_broker_msg(0)->topic, ts_broker_msg(0)->payload);
}


/* ---- the send path -------------------------------------------------------------------------------- */

/* A send is appended in the open batch, and nothing goes out before the tick commits it: then the event
 * for every subscriber of chat/general, then the sender's ack, each once. A retry is recognised. */
static void test_send_commits_before_publishing(void)
{
	struct chat_channel *ch;
	cJSON *ev, *ack;

	open_fixture(NULL);
	ch = create_general();
	TH_EQ_INT(ts_broker_count(), 2);
	cJSON_Delete(expect_msg(
		0, TS_PUBLISH, NULL, "chat/general", 1,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":1,\"type\":\"join\",\"from\":\"ada\","
		"\"device\":\"ada-phone\",\"ts\":\"*\",\"user\":\"ada\"}"));
	cJSON_Delete(expect_msg(
		1, TS_PUBLISH, NULL, "chat/general", 1,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":2,\"type\":\"join\",\"from\":\"ada\","
		"\"device\":\"ada-phone\",\"ts\":\"*\",\"user\":\"bo\"}"));
	ts_broker_reset();

	TH_EQ_INT(send_as("ada", "ada-phone", "general", "{\"client_msg_id\":\"c-1\",\"body\":\"hello\"}",
			  NULL),
		  CHAT_ERR_OK);
	/* Appended, not committed: the head moved in memory, nothing was handed to the broker. */
	TH_CHECK(fx.plugin->batch->open);
	TH_EQ_INT(fx.plugin->batch->events, 1);
	TH_EQ_INT(ch->head, 3);
	expect_no_msg();

	ts_fixture_tick(&fx);
	TH_CHECK(!fx.plugin->batch->open);
	TH_EQ_INT(fx.plugin->batch->commits, 1);
	TH_EQ_INT(ts_broker_count(), 2);
	ev = expect_msg(
		0, TS_PUBLISH, NULL, "chat/general", 1,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":3,\"type\":\"message\",\"from\":\"ada\","
		"\"device\":\"ada-phone\",\"ts\":\"*\",\"client_msg_id\":\"c-1\",\"body\":\"hello\"}");
	ack = expect_msg(1, TS_REPLY_TO, "ada-phone", "chat/_reply/ada-phone", 0,
			 "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-1\","
			 "\"id\":\"*\","
			 "\"seq\":3,\"ts\":\"*\",\"duplicate\":false}");
	TH_EQ_STR(th_json_str(ack, "id"), th_json_str(ev, "id"));
	TH_EQ_INT(th_json_int(ack, "ts"), th_json_int(ev, "ts"));
	ts_broker_reset();

	/* The retry: answered at once (no batch is open) with the original ack; nothing stored or sent. */
	TH_EQ_INT(send_as("ada", "ada-phone", "general", "{\"client_msg_id\":\"c-1\",\"body\":\"hello\"}",
			  NULL),
		  CHAT_ERR_OK);
	TH_CHECK(!fx.plugin->batch->open);
	TH_EQ_INT(ts_broker_count(), 1);
	cJSON_Delete(
		expect_msg(0, TS_REPLY_TO, "ada-phone", "chat/_reply/ada-phone", 0,
			   "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-1\","
			   "\"id\":\"*\",\"seq\":3,\"ts\":\"*\",\"duplicate\":true}"));
	TH_EQ_INT(ch->head, 3);
	cJSON_Delete(ev);
	cJSON_Delete(ack);
	close_fixture();
}


/* Sends of one loop iteration share one commit; their events and answers go out in the order they were
 * queued. A plain-text send without a Response Topic gets no ack; one with gets it there. A retry of a
 * send still in the batch waits for the same commit. */
static void test_group_commit(void)
{
	struct chat_channel *ch;

	open_fixture(NULL);
	ch = create_general();
	ts_broker_reset();
	TH_EQ_INT(send_as("ada", "ada-phone", "general", "{\"client_msg_id\":\"a-1\",\"body\":\"one\"}",
			  NULL),
		  CHAT_ERR_OK);
	TH_EQ_INT(send_as("bo", "bo-laptop", "general", "two", NULL), CHAT_ERR_OK);
	TH_EQ_INT(send_as("bo", "bo-laptop", "general", "three", "resp/bo"), CHAT_ERR_OK);
	TH_EQ_INT(send_as("ada", "ada-phone", "general", "{\"client_msg_id\":\"a-1\",\"body\":\"one\"}",
			  NULL),
		  CHAT_ERR_OK);
	TH_EQ_INT(fx.plugin->batch->events, 3);
	TH_EQ_INT(ch->head, 5);
	expect_no_msg();

	ts_fixture_tick(&fx);
	TH_EQ_INT(fx.plugin->batch->commits, 1);
	TH_EQ_INT(fx.plugin->batch->committed, 3);
	TH_EQ_INT(ts_broker_count(), 6);
	cJSON_Delete(expect_msg(
		0, TS_PUBLISH, NULL, "chat/general", 1,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":3,\"type\":\"message\",\"from\":\"ada\","
		"\"device\":\"ada-phone\",\"ts\":\"*\",\"client_msg_id\":\"a-1\",\"body\":\"one\"}"));
	cJSON_Delete(
		expect_msg(1, TS_REPLY_TO, "ada-phone", "chat/_reply/ada-phone", 0,
			   "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"a-1\","
			   "\"id\":\"*\",\"seq\":3,\"ts\":\"*\",\"duplicate\":false}"));
	cJSON_Delete(expect_msg(
		2, TS_PUBLISH, NULL, "chat/general", 1,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":4,\"type\":\"message\",\"from\":\"bo\","
		"\"device\":\"bo-laptop\",\"ts\":\"*\",\"body\":\"two\"}"));
	cJSON_Delete(expect_msg(
		3, TS_PUBLISH, NULL, "chat/general", 1,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":5,\"type\":\"message\",\"from\":\"bo\","
		"\"device\":\"bo-laptop\",\"ts\":\"*\",\"body\":\"three\"}"));
	cJSON_Delete(
		expect_msg(4, TS_REPLY_TO, "bo-laptop", "resp/bo", 0,
			   "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"id\":\"*\",\"seq\":5,"
			   "\"ts\":\"*\",\"duplicate\":false}"));
	cJSON_Delete(
		expect_msg(5, TS_REPLY_TO, "ada-phone", "chat/_reply/ada-phone", 0,
			   "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"a-1\","
			   "\"id\":\"*\",\"seq\":3,\"ts\":\"*\",\"duplicate\":true}"));
	close_fixture();
}


/* A refused send stores nothing, publishes nothing, and its sender gets the error. */
static void test_send_refused(void)
{
	struct chat_channel *ch;

	open_fixture(NULL);
	ch = create_general();
	ts_broker_reset();
	TH_EQ_INT(send_as("dee", "dee-1", "general", "{\"client_msg_id\":\"d-1\",\"body\":\"let me in\"}",
			  NULL),
		  CHAT_ERR_NOT_MEMBER);
	TH_EQ_INT(send_as("ada", "ada-phone", "general", "{\"client_msg_id\":7}", NULL),
		  CHAT_ERR_BAD_REQUEST);
	TH_EQ_INT(send_as("ada", "ada-phone", "nowhere", "hi", NULL), CHAT_ERR_NO_SUCH_CHANNEL);
	TH_CHECK(!fx.plugin->batch->open);
	TH_EQ_INT(ch->head, 2);
	TH_EQ_INT(ts_broker_count(), 3);
	cJSON_Delete(expect_msg(
		0, TS_REPLY_TO, "dee-1", "chat/_reply/dee-1", 0,
		"{\"ok\":false,\"kind\":\"error\",\"code\":\"not_member\",\"message\":\"dee is not a "
		"member of #general\",\"channel\":\"general\",\"client_msg_id\":\"d-1\"}"));
	cJSON_Delete(expect_msg(1, TS_REPLY_TO, "ada-phone", "chat/_reply/ada-phone", 0,
				"{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_request\",\"message\":\"*\","
				"\"channel\":\"general\"}"));
	cJSON_Delete(expect_msg(
		2, TS_REPLY_TO, "ada-phone", "chat/_reply/ada-phone", 0,
		"{\"ok\":false,\"kind\":\"error\",\"code\":\"no_such_channel\",\"message\":\"there is "
		"no channel #nowhere\",\"channel\":\"nowhere\"}"));
	close_fixture();
}


/* The database locked by another process past busy_timeout_ms: the send is refused `unavailable` and
 * stores nothing; once the lock is gone a retry with the same client_msg_id is stored once. */
static void test_send_unavailable_then_retried(void)
{
	static const char *const options[] = {"busy_timeout_ms=0", NULL};
	struct chat_channel *ch;
	sqlite3 *other = NULL;

	open_fixture(options);
	ch = create_general();
	ts_broker_reset();
	TH_EQ_INT(sqlite3_open(fx.path, &other), SQLITE_OK);
	TH_EQ_INT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	TH_EQ_INT(send_as("ada", "ada-phone", "general", "{\"client_msg_id\":\"c-9\",\"body\":\"now?\"}",
			  NULL),
		  CHAT_ERR_UNAVAILABLE);
	TH_CHECK(!fx.plugin->batch->open);
	TH_EQ_INT(ch->head, 2);
	TH_EQ_INT(ts_broker_count(), 1);
	cJSON_Delete(expect_msg(0, TS_REPLY_TO, "ada-phone", "chat/_reply/ada-phone", 0,
				"{\"ok\":false,\"kind\":\"error\",\"code\":\"unavailable\",\"message\":\"*\","
				"\"channel\":\"general\",\"client_msg_id\":\"c-9\"}"));
	TH_EQ_INT(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);

	ts_broker_reset();
	TH_EQ_INT(send_as("ada", "ada-phone", "general", "{\"client_msg_id\":\"c-9\",\"body\":\"now?\"}",
			  NULL),
		  CHAT_ERR_OK);
	ts_fixture_tick(&fx);
	TH_EQ_INT(ts_broker_count(), 2);
	cJSON_Delete(expect_msg(
		0, TS_PUBLISH, NULL, "chat/general", 1,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":3,\"type\":\"message\",\"from\":\"ada\","
		"\"device\":\"ada-phone\",\"ts\":\"*\",\"client_msg_id\":\"c-9\",\"body\":\"now?\"}"));
	cJSON_Delete(
		expect_msg(1, TS_REPLY_TO, "ada-phone", "chat/_reply/ada-phone", 0,
			   "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-9\","
			   "\"id\":\"*\",\"seq\":3,\"ts\":\"*\",\"duplicate\":false}"));
	close_fixture();
}


/* An answer to a client that is not connected, or whose socket shows it stopped reading, is dropped. */
static void test_answers_only_to_readers(void)
{
	const void *bo;

	open_fixture(NULL);
	create_general();
	bo = ts_fixture_connect(&fx, "bo", "bo-slow");
	TH_CHECK(bo != NULL);
	ts_broker_reset();
	ts_broker_set_client(bo, &(struct ts_client){.fd = -1, .congested = true});
	TH_EQ_INT(send_as("bo", "bo-slow", "general", "{\"client_msg_id\":\"s-1\",\"body\":\"a\"}", NULL),
		  CHAT_ERR_OK);
	TH_EQ_INT(send_as("bo", "bo-gone", "general", "{\"client_msg_id\":\"s-2\",\"body\":\"b\"}", NULL),
		  CHAT_ERR_OK);
	ts_fixture_tick(&fx);
	TH_EQ_INT(ts_broker_count(), 2); /* the two events, no ack */
	TH_EQ_INT(ts_broker_count_on("chat/general"), 2);
	close_fixture();
}


/* ---- catch-up ------------------------------------------------------------------------------------- */

/* Publishes payload to chat/<channel>/sync as user on device; returns what the service returned.
 * dispatch.c commits the open batch before a catch-up: so does this. */
static enum chat_err catchup_as(const char *user, const char *device, const char *channel,
				const char *payload, const char *response_topic)
{
	struct chat_requester who = {user, device};
	struct chat_reply_to rt;
	enum chat_err rc;

	TH_EQ_INT(chat_batch__flush(fx.plugin), CHAT_ERR_OK);
	TH_EQ_INT(ts_fixture_reply_to(&fx, &rt, device, response_topic), 0);
	rc = chat_catchup__serve_or_reply(fx.plugin, &who, &rt, channel, strlen(channel), payload,
					  strlen(payload));
	chat_reply_to__clear(&rt);
	return rc;
}


/* Pages of the log after a cursor, to the requester only, holding the very bytes published live. */
static void test_catchup_pages(void)
{
	char live[4][1024];
	cJSON *page, *events;

	open_fixture(NULL);
	create_general();
	TH_EQ_INT(send_as("ada", "ada-phone", "general", "first", NULL), CHAT_ERR_OK);
	TH_EQ_INT(send_as("ada", "ada-phone", "general", "second", NULL), CHAT_ERR_OK);
	ts_fixture_tick(&fx);
	TH_EQ_INT(ts_broker_count_on("chat/general"), 4);
	for(size_t i = 0; i < 4; i++) {
		snprintf(live[i], sizeof(live[i]), "%s", ts_broker_on("chat/general", i)->payload);
	}
	ts_broker_reset();

	TH_EQ_INT(catchup_as("bo", "bo-laptop", "general", "{\"since\":0,\"limit\":3}", "resp/bo"),
		  CHAT_ERR_OK);
	TH_EQ_INT(catchup_as("bo", "bo-laptop", "general", "{\"since\":3}", "resp/bo"), CHAT_ERR_OK);
	TH_EQ_INT(ts_broker_count(), 2);
	page = expect_msg(0, TS_REPLY_TO, "bo-laptop", "resp/bo", 0,
			  "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":"
			  "0,\"next\":3,"
			  "\"head\":4,\"more\":true,\"events\":[\"*\",\"*\",\"*\"]}");
	events = cJSON_GetObjectItem(page, "events");
	for(int i = 0; i < 3; i++) {
		char *text = cJSON_PrintUnformatted(cJSON_GetArrayItem(events, i));
		TH_EQ_STR(text, live[i]); /* byte for byte what subscribers got */
		free(text);
	}
	cJSON_Delete(page);
	page = expect_msg(1, TS_REPLY_TO, "bo-laptop", "resp/bo", 0,
			  "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":"
			  "3,\"next\":4,"
			  "\"head\":4,\"more\":false,\"events\":[\"*\"]}");
	TH_CHECK(strstr(ts_broker_msg(1)->payload, live[3]) != NULL);
	cJSON_Delete(page);
	ts_broker_reset();

	/* Not a member: refused, nothing of the log sent. */
	TH_EQ_INT(catchup_as("dee", "dee-1", "general", "{}", NULL), CHAT_ERR_NOT_MEMBER);
	cJSON_Delete(expect_msg(
		0, TS_REPLY_TO, "dee-1", "chat/_reply/dee-1", 0,
		"{\"ok\":false,\"kind\":\"error\",\"code\":\"not_member\",\"message\":\"dee is not a "
		"member of #general\",\"channel\":\"general\"}"));
	close_fixture();
}


/* ---- membership ----------------------------------------------------------------------------------- */

static enum chat_err api_as(const char *user, const char *device, const char *request)
{
	struct chat_requester who = {user, device};
	struct chat_reply_to rt;
	enum chat_err rc;

	TH_EQ_INT(ts_fixture_reply_to(&fx, &rt, device, NULL), 0);
	rc = chat_api__serve_or_reply(fx.plugin, &who, &rt, request, strlen(request));
	chat_reply_to__clear(&rt);
	return rc;
}


/* create and join through chat/_api: the reply to the asker, the join events to the channel, the
 * index updated. A join commits the open batch first, so the sends before it keep their seqs and go
 * out first. A create naming someone who is not a user creates nothing. */
static void test_membership_api(void)
{
	struct chat_channel *ch;

	open_fixture(NULL);
	TH_EQ_INT(api_as("ada", "ada-phone",
			 "{\"op\":\"create\",\"channel\":\"general\",\"title\":\"General\"}"),
		  CHAT_ERR_OK);
	ch = chat_index__find(&fx.plugin->index, "general", 7);
	TH_CHECK(ch != NULL && ch->head == 1);
	TH_EQ_INT(ts_broker_count(), 2);
	cJSON_Delete(expect_msg(
		0, TS_PUBLISH, NULL, "chat/general", 1,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":1,\"type\":\"join\",\"from\":\"ada\","
		"\"device\":\"ada-phone\",\"ts\":\"*\",\"user\":\"ada\"}"));
	cJSON_Delete(expect_msg(
		1, TS_REPLY_TO, "ada-phone", "chat/_reply/ada-phone", 0,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"create\",\"channel\":\"general\",\"title\":"
		"\"General\",\"visibility\":\"public\",\"epoch\":\"*\",\"head\":1}"));
	ts_broker_reset();

	/* A send in the open batch, then cy joins: the send is committed and published first. */
	TH_EQ_INT(send_as("ada", "ada-phone", "general", "before the join", NULL), CHAT_ERR_OK);
	TH_EQ_INT(api_as("cy", "cy-1", "{\"op\":\"join\",\"channel\":\"general\"}"), CHAT_ERR_OK);
	TH_CHECK(!fx.plugin->batch->open);
	TH_CHECK(chat_index__member(ch, "cy") != NULL);
	TH_EQ_INT(ch->head, 3);
	TH_EQ_INT(ts_broker_count(), 3);
	cJSON_Delete(expect_msg(
		0, TS_PUBLISH, NULL, "chat/general", 1,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":2,\"type\":\"message\",\"from\":\"ada\","
		"\"device\":\"ada-phone\",\"ts\":\"*\",\"body\":\"before the join\"}"));
	cJSON_Delete(expect_msg(
		1, TS_PUBLISH, NULL, "chat/general", 1,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":3,\"type\":\"join\",\"from\":\"cy\","
		"\"device\":\"cy-1\",\"ts\":\"*\",\"user\":\"cy\"}"));
	cJSON_Delete(expect_msg(
		2, TS_REPLY_TO, "cy-1", "chat/_reply/cy-1", 0,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"join\",\"channel\":\"general\",\"title\":"
		"\"General\",\"visibility\":\"public\",\"epoch\":\"*\",\"head\":3,\"joined\":true}"));
	ts_broker_reset();

	TH_EQ_INT(api_as("ada", "ada-phone",
			 "{\"op\":\"create\",\"channel\":\"ops\",\"visibility\":\"private\",\"members\":["
			 "\"bo\","
			 "\"nobody\"]}"),
		  CHAT_ERR_NO_SUCH_USER);
	TH_CHECK(chat_index__find(&fx.plugin->index, "ops", 3) == NULL);
	TH_EQ_INT(ts_broker_count(), 1);
	cJSON_Delete(expect_msg(
		0, TS_REPLY_TO, "ada-phone", "chat/_reply/ada-phone", 0,
		"{\"ok\":false,\"kind\":\"error\",\"code\":\"no_such_user\",\"message\":\"there is no "
		"user nobody\",\"op\":\"create\",\"channel\":\"ops\"}"));
	close_fixture();
}


TH_TEST_LIST(TH_TEST(test_send_commits_before_publishing), TH_TEST(test_group_commit),
	     TH_TEST(test_send_refused), TH_TEST(test_send_unavailable_then_retried),
	     TH_TEST(test_answers_only_to_readers), TH_TEST(test_catchup_pages), TH_TEST(test_membership_api))
