/*
 * test_errors.c - every error code of the contract, each from a malformed input; after each the
 * broker is up and the log unchanged. Storage failure and floods included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "th_chat.h"

struct bad_input {
	const char *user;
	const char *topic;
	const char *payload;
	const char *code;
	const char *message;
};


/* The log of #general as text, to compare before and after. */
static char *log_text(struct th_client *c)
{
	cJSON *history = tc_history(c, "general");
	char *text = th_json_print(history);

	cJSON_Delete(history);
	return text;
}


static void test_every_error_leaves_the_log_unchanged(void)
{
	char too_large[16384 + 64];
	const struct bad_input inputs[] = {
		{"ada", "chat/general", "{\"body\":", "bad_request", "malformed JSON"},
		{"ada", "chat/general", "{\"body\":\"x\",\"thread\":\"4\"}", "bad_request",
		 "thread must be an integer from 1 to 9007199254740992"},
		{"ada", "chat/general", "{\"type\":\"join\",\"body\":\"x\"}", "bad_request",
		 "type must be message, edit, delete or reaction"},
		{"ada", "chat/general", "\xff\xfe not text", "bad_utf8", "payload is not valid UTF-8"},
		{"ada", "chat/general", "{\"body\":\"\xc0\xaf\"}", "bad_utf8", "payload is not valid UTF-8"},
		{"ada", "chat/general", too_large, "too_large", "body is 16385 bytes, the limit is 16384"},
		{"ada", "chat/general/bogus", "hi", "bad_topic",
		 "no such topic; publish to chat/<channel>, chat/<channel>/sync or chat/_api"},
		{"ada", "chat/_secret", "hi", "bad_topic", NULL},
		{"ada", "chat/general/presence", "{}", "bad_topic",
		 "presence is published by the server only"},
		{"ada", "chat/nope", "hi", "no_such_channel", "there is no channel #nope"},
		{"dee", "chat/general", "hi", "not_member", "dee is not a member of #general"},
		{"bo", "chat/general", "{\"type\":\"delete\",\"target\":3}", "forbidden",
		 "only the author may delete message 3"},
		{"ada", "chat/_api", "{\"op\":\"create\",\"channel\":\"general\"}", "conflict",
		 "channel #general already exists"},
		{"ada", "chat/_api", "{\"op\":\"fly\"}", "bad_request",
		 "unknown op fly: use create, join, leave, invite, remove, dm, channels or members"},
		{"ada", "chat/_api", "create general", "bad_request",
		 "a chat/_api request is a JSON object with an op"},
		{"ada", "chat/_api", "{\"op\":\"create\",\"channel\":\"_x\"}", "bad_request",
		 "channel ids are 1-64 characters of A-Z a-z 0-9 . _ - not starting with _"},
		{"ada", "chat/_api", "{\"op\":\"join\",\"channel\":\"nope\"}", "no_such_channel",
		 "there is no channel #nope"},
		/* to a non-member a private channel does not exist */
		{"dee", "chat/_api", "{\"op\":\"members\",\"channel\":\"ops\"}", "no_such_channel",
		 "there is no channel #ops"},
		{"dee", "chat/_api", "{\"op\":\"join\",\"channel\":\"ops\"}", "no_such_channel",
		 "there is no channel #ops"},
		{"dee", "chat/ops", "hi", "no_such_channel", "there is no channel #ops"},
		/* only users can be named; a create naming one made-up name creates nothing */
		{"ada", "chat/_api", "{\"op\":\"create\",\"channel\":\"new\",\"members\":[\"bo\",\"ghost\"]}",
		 "no_such_user", "there is no user ghost"},
		{"ada", "chat/_api", "{\"op\":\"invite\",\"channel\":\"general\",\"user\":\"ghost\"}",
		 "no_such_user", "there is no user ghost"},
		{"ada", "chat/_api", "{\"op\":\"dm\",\"user\":\"ghost\"}", "no_such_user",
		 "there is no user ghost"},
	};
	struct th_broker b;
	struct th_client *clients[3];
	const char *users[3] = {"ada", "bo", "dee"};
	char *before, *after;

	snprintf(too_large, sizeof(too_large), "{\"body\":\"%016385d\"}", 0);
	th_broker_start(&b, "");
	for(int i = 0; i < 3; i++) {
		char id[32];
		snprintf(id, sizeof(id), "%s-1", users[i]);
		clients[i] = th_connect(&b, users[i], id, 5, true);
	}
	tc_api_ok(clients[0], "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	tc_api_ok(clients[0], "{\"op\":\"create\",\"channel\":\"ops\",\"visibility\":\"private\"}");
	cJSON_Delete(tc_send(clients[0], "general", "m1", "the only message"));
	before = log_text(clients[1]);

	for(size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		const struct bad_input *in = &inputs[i];
		struct th_client *c = clients[strcmp(in->user, "ada") == 0  ? 0
					      : strcmp(in->user, "bo") == 0 ? 1
									    : 2];
		int rc = th_publish(c, in->topic, in->payload, -1, 1, NULL);

		th_log("%s on %s -> %s", in->user, in->topic, in->code);
		TH_EQ_INT(rc, 0x87);
		tc_expect_error(th_expect_json(c, tc_reply_topic(c)), in->code, in->message);
		TH_CHECK(th_broker_alive(&b));
	}
	after = log_text(clients[1]);
	TH_EQ_STR(after, before);
	/* the refused create left no channel behind */
	tc_expect_error(tc_api(clients[0], "{\"op\":\"members\",\"channel\":\"new\"}"), "no_such_channel",
			"there is no channel #new");
	free(before);
	free(after);
	for(int i = 0; i < 3; i++) {
		th_disconnect(clients[i]);
	}
	th_broker_stop(&b);
}


/* A flood is throttled per user with rate_limited; other users go on; the broker survives. */
static void test_rate_limited(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	int refused = 0, mid;
	cJSON *page;

	th_broker_start(&b, "plugin_opt_send_rate 1\nplugin_opt_send_burst 3\n"
			    "plugin_opt_request_rate 1\nplugin_opt_request_burst 3");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	for(int i = 0; i < 3; i++) {
		char cmid[16];
		snprintf(cmid, sizeof(cmid), "ok-%d", i);
		cJSON_Delete(tc_send(ada, "general", cmid, "within the burst"));
	}
	tc_expect_error(tc_request(ada, "chat/general", "{\"client_msg_id\":\"over\",\"body\":\"x\"}"),
			"rate_limited", "ada is sending messages too fast; slow down");
	cJSON_Delete(tc_send(bo, "general", "bo-1", "bo is not limited by ada"));

	/* a flood of 2000 QoS 0 sends: refused, and answered with at most one rate_limited error per
	 * second (each error is a message too: answering error for error would amplify the flood) */
	long long started = th_now_ms();
	for(int i = 0; i < 2000; i++) {
		TH_EQ_INT(th_publish_async(ada, "chat/general", "flood", -1, 0, &mid), 0);
	}
	cJSON_Delete(tc_send(bo, "general", "bo-2", "after the flood")); /* the flood has been read */
	long long seconds = (th_now_ms() - started) / 1000 + 1;
	for(cJSON *reply; (reply = th_wait_json(ada, tc_reply_topic(ada), 1200)) != NULL;) {
		if(strcmp(th_json_str(reply, "code"), "rate_limited") == 0) {
			refused++;
		}
		cJSON_Delete(reply);
	}
	TH_CHECKF(refused <= seconds + 1, "%d rate_limited errors in %lld s", refused, seconds);
	TH_CHECK(th_broker_alive(&b));

	/* catch-up has its own budget: Bo's third request within the second is refused */
	page = tc_sync(bo, "general", 0, 0);          /* bo's request budget: 2 left after this */
	TH_CHECK(th_json_int(page, "head") >= 6);     /* 2 joins, ada's 3, bo's 1 */
	TH_CHECK(th_json_int(page, "head") < 6 + 50); /* the flood got a handful through at most */
	cJSON_Delete(page);
	cJSON_Delete(tc_sync(bo, "general", 0, 0));
	cJSON_Delete(tc_sync(bo, "general", 0, 0));
	tc_expect_error(tc_sync(bo, "general", 0, 0), "rate_limited",
			"bo is sending requests too fast; slow down");
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* Storage failure: nothing is stored or delivered, the sender is told `unavailable`, and a retry with
 * the same client_msg_id once storage is back yields exactly one event. */
static void test_unavailable_then_retry(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	sqlite3 *locker = NULL;
	cJSON *ack, *ev, *history;
	int count = 0;

	th_broker_start(&b, "plugin_opt_busy_timeout_ms 50");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1);

	/* another process holds the database's write lock */
	TH_EQ_INT(sqlite3_open(b.db_path, &locker), SQLITE_OK);
	TH_EQ_INT(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	TH_EQ_INT(th_publish(ada, "chat/general", "{\"client_msg_id\":\"u1\",\"body\":\"important\"}", -1, 1,
			     NULL),
		  0x87);
	ev = th_expect_json(ada, tc_reply_topic(ada));
	TH_JSON(ev, "{\"ok\":false,\"kind\":\"error\",\"code\":\"unavailable\",\"message\":\"*\",\"request\":"
		    "\"send\",\"channel\":"
		    "\"general\","
		    "\"client_msg_id\":\"u1\"}");
	TH_CHECKF(strstr(th_json_str(ev, "message"), "locked") != NULL, "%s", th_json_str(ev, "message"));
	cJSON_Delete(ev);
	tc_expect_error(tc_api(ada, "{\"op\":\"create\",\"channel\":\"later\"}"), "unavailable", NULL);
	/* reads still work while writes fail */
	ev = tc_sync(bo, "general", 0, 0);
	TH_EQ_INT(th_json_int(ev, "head"), 2);
	cJSON_Delete(ev);
	TH_EQ_INT(sqlite3_exec(locker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(locker);

	ack = tc_send(ada, "general", "u1", "important");
	TH_EQ_INT(th_json_int(ack, "seq"), 3);
	TH_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(ack, "duplicate")));
	cJSON_Delete(ack);
	ack = tc_send(ada, "general", "u1", "important");
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(ack, "duplicate")));
	cJSON_Delete(ack);
	ev = th_expect_json(bo, "chat/general"); /* the refused attempt was never delivered */
	TH_EQ_INT(th_json_int(ev, "seq"), 3);
	cJSON_Delete(ev);
	history = tc_history(bo, "general");
	for(int i = 0; i < cJSON_GetArraySize(history); i++) {
		const char *cmid = th_json_str(cJSON_GetArrayItem(history, i), "client_msg_id");
		count += cmid != NULL && strcmp(cmid, "u1") == 0;
	}
	TH_EQ_INT(count, 1);
	cJSON_Delete(history);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_every_error_leaves_the_log_unchanged), TH_TEST(test_rate_limited),
	     TH_TEST(test_unavailable_then_retry))
