/*
 * test_push.c - push hand-off (docs/protocol.md, "Push") against a real broker and a real HTTP
 * receiver standing in for a Matrix Push Gateway (harness/th_http.c): the notification's JSON, full
 * and minimal; who gets one (levels all/mentions/none, online members none, coming online stops
 * them); one waiting per pusher and channel; the gateway refusing connections, hanging, answering
 * slowly, 500, 400 and "rejected"; a kill -9 while notifications wait; sends acked while the gateway
 * hangs; the queue's bound; the pushers ops and pusher_set's validation.
 *
 * "Nothing more was sent" is checked once the queue is empty: every hand-off is committed before
 * its send's ack, and a row leaves push_queue only after its post was answered (or dropped), so an
 * empty queue after the acks means every post there will be was made.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"
#include "th_http.h"

#define NOTIFY_PATH "/_matrix/push/v1/notify"

struct fixture {
	struct th_broker b;
	struct th_http *gw;
	struct th_client *ada;
};


static long long db_int(struct th_broker *b, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long long v;

	TH_EQ_INT(sqlite3_open_v2(b->db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	TH_EQ_INT(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	TH_EQ_INT(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}


static long long queue_len(struct th_broker *b)
{
	return db_int(b, "SELECT count(*) FROM push_queue");
}


/* user connects, registers pushkey "<user>-key" (app "org.mqchat.test"), and leaves. */
static void add_pusher(struct fixture *f, const char *user)
{
	char id[64];
	struct th_client *c;

	snprintf(id, sizeof(id), "%s-phone", user);
	c = th_connect(&f->b, user, id, 5, true);
	tc_api_ok(c,
		  "{\"op\":\"pusher_set\",\"app_id\":\"org.mqchat.test\",\"pushkey\":\"%s-key\","
		  "\"data\":{\"url\":\"https://push.example/%s\"}}",
		  user, user);
	th_disconnect(c);
}


/* Waits until the server counts user offline in ch (the members op's "online"). */
static bool offline(struct fixture *f, const char *ch, const char *user)
{
	cJSON *reply = tc_api(f->ada, "{\"op\":\"members\",\"channel\":\"%s\"}", ch);
	const cJSON *m;
	bool off = false;

	cJSON_ArrayForEach(m, cJSON_GetObjectItem(reply, "members")) {
		if(strcmp(th_json_str(m, "user"), user) == 0) {
			off = !cJSON_IsTrue(cJSON_GetObjectItem(m, "online"));
		}
	}
	cJSON_Delete(reply);
	return off;
}


/* A broker pushing to a fresh receiver; bo, cy and dee have a pusher each and are offline; ada is
 * online and owns #team with all of them. */
static void setup(struct fixture *f, const char *extra)
{
	f->gw = th_http_start();
	th_broker_start(
		&f->b,
		"plugin_opt_push_gateway http://127.0.0.1:%d" NOTIFY_PATH "\n"
		"plugin_opt_push_timeout_ms 1000\nplugin_opt_request_rate 0\nplugin_opt_send_rate 0\n%s",
		th_http_port(f->gw), extra);
	add_pusher(f, "bo");
	add_pusher(f, "cy");
	add_pusher(f, "dee");
	f->ada = th_connect(&f->b, "ada", "ada-1", 5, true);
	tc_api_ok(f->ada, "{\"op\":\"create\",\"channel\":\"team\",\"members\":[\"bo\",\"cy\",\"dee\"]}");
	th_wait_until(offline(f, "team", "bo") && offline(f, "team", "cy") && offline(f, "team", "dee"),
		      5000);
}


static void teardown(struct fixture *f)
{
	th_disconnect(f->ada);
	th_broker_stop(&f->b);
	th_http_stop(f->gw);
}


/* Ada posts body to #team; returns its seq. */
static long long send_msg(struct fixture *f, const char *body)
{
	return tc_post(f->ada, "team", body);
}


/* Waits until every handed-off notification has been posted (or dropped), then checks how many
 * requests the receiver got in all. */
static void expect_posts(struct fixture *f, int total)
{
	th_wait_until(th_http_count(f->gw) >= total && queue_len(&f->b) == 0, 10000);
	TH_EQ_INT(th_http_count(f->gw), total);
}


/* The pushkey of request i. */
static const char *pushkey_of(struct fixture *f, int i)
{
	static char key[64];
	cJSON *body = th_http_body(f->gw, i);
	const cJSON *dev =
		cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "notification"), "devices"),
				   0);

	TH_CHECK(dev != NULL);
	snprintf(key, sizeof(key), "%s", th_json_str(dev, "pushkey"));
	cJSON_Delete(body);
	return key;
}


/* How many of the requests went to pushkey. */
static int posts_to(struct fixture *f, const char *pushkey)
{
	int n = 0;

	for(int i = 0; i < th_http_count(f->gw); i++) {
		n += strcmp(pushkey_of(f, i), pushkey) == 0;
	}
	return n;
}


static void test_delivery_format(void)
{
	struct fixture f;
	char path[128];
	cJSON *body;

	setup(&f, "");
	send_msg(&f, "hello team");
	expect_posts(&f, 3); /* bo, cy, dee: one each */
	for(int i = 0; i < 3; i++) {
		char pattern[1024];
		const char *key = pushkey_of(&f, i);
		char user[16];

		snprintf(user, sizeof(user), "%.*s", (int)(strlen(key) - 4), key);
		th_http_path(f.gw, i, path, sizeof(path));
		TH_EQ_STR(path, NOTIFY_PATH);
		snprintf(pattern, sizeof(pattern),
			 "{\"notification\":{\"event_id\":\"*\",\"room_id\":\"team\",\"type\":\"m.room."
			 "message\","
			 "\"sender\":\"ada\",\"room_name\":\"team\",\"prio\":\"high\","
			 "\"content\":{\"msgtype\":\"m.text\",\"body\":\"hello "
			 "team\"},\"counts\":{\"unread\":1},"
			 "\"devices\":[{\"app_id\":\"org.mqchat.test\",\"pushkey\":\"%s\",\"pushkey_ts\":\"*"
			 "\","
			 "\"data\":{\"url\":\"https://push.example/%s\"}}]}}",
			 key, user);
		body = th_http_body(f.gw, i);
		TH_JSON(body, pattern);
		cJSON_Delete(body);
	}
	TH_EQ_INT(posts_to(&f, "bo-key"), 1);
	TH_EQ_INT(posts_to(&f, "cy-key"), 1);
	TH_EQ_INT(posts_to(&f, "dee-key"), 1);
	teardown(&f);
}


static void test_minimal_content(void)
{
	struct fixture f;
	cJSON *body;

	setup(&f, "plugin_opt_push_content minimal\n");
	send_msg(&f, "secret plans");
	expect_posts(&f, 3);
	body = th_http_body(f.gw, 0);
	TH_JSON(body,
		"{\"notification\":{\"event_id\":\"*\",\"room_id\":\"team\",\"type\":\"m.room.message\","
		"\"room_name\":\"team\",\"prio\":\"high\",\"counts\":{\"unread\":1},"
		"\"devices\":[{\"app_id\":\"org.mqchat.test\",\"pushkey\":\"*\",\"pushkey_ts\":\"*\","
		"\"data\":\"*\"}]}}");
	cJSON_Delete(body);
	teardown(&f);
}


/* Levels are set by their owners; cy mutes, dee wants mentions only. */
static void set_level(struct fixture *f, const char *user, const char *level)
{
	char id[64];
	struct th_client *c;

	snprintf(id, sizeof(id), "%s-laptop", user);
	c = th_connect(&f->b, user, id, 5, true);
	tc_api_ok(c, "{\"op\":\"notify\",\"channel\":\"team\",\"level\":\"%s\"}", level);
	th_disconnect(c);
	th_wait_until(offline(f, "team", user), 5000);
}


static void test_levels(void)
{
	struct fixture f;

	setup(&f, "");
	set_level(&f, "cy", "none");
	set_level(&f, "dee", "mentions");
	send_msg(&f, "plain news");
	expect_posts(&f, 1); /* bo only */
	TH_EQ_INT(posts_to(&f, "bo-key"), 1);
	send_msg(&f, "@dee have a look");
	expect_posts(&f, 3); /* bo (all) and dee (mentioned) */
	TH_EQ_INT(posts_to(&f, "dee-key"), 1);
	send_msg(&f, "@channel all hands");
	expect_posts(&f, 5); /* bo and dee; cy is muted even for @channel */
	TH_EQ_INT(posts_to(&f, "cy-key"), 0);
	TH_EQ_INT(posts_to(&f, "dee-key"), 2);
	teardown(&f);
}


static void test_online_members_get_none(void)
{
	struct fixture f;
	struct th_client *bo;

	setup(&f, "");
	send_msg(&f, "first");
	expect_posts(&f, 3);
	bo = th_connect(&f.b, "bo", "bo-phone", 5, false); /* a device comes online */
	th_wait_until(!offline(&f, "team", "bo"), 5000);
	send_msg(&f, "second");
	expect_posts(&f, 5); /* cy and dee */
	TH_EQ_INT(posts_to(&f, "bo-key"), 1);
	th_disconnect(bo);
	th_wait_until(offline(&f, "team", "bo"), 5000);
	send_msg(&f, "third");
	expect_posts(&f, 8); /* offline again: bo too */
	TH_EQ_INT(posts_to(&f, "bo-key"), 2);
	teardown(&f);
}


/* The gateway refuses connections: notifications wait, a newer one replacing the older per
 * (pusher, channel); when it listens again exactly one per pusher arrives, the latest. */
static void test_refused_then_replaced_and_delivered(void)
{
	struct fixture f;
	cJSON *body;

	setup(&f, "");
	th_http_refuse(f.gw, true);
	for(int i = 0; i < 5; i++) {
		char text[32];
		snprintf(text, sizeof(text), "update %d", i);
		send_msg(&f, text);
	}
	TH_EQ_INT(queue_len(&f.b), 3); /* one per pusher, whatever the number of messages */
	th_wait_until(db_int(&f.b, "SELECT min(attempts) FROM push_queue") >= 1, 10000); /* tried, failed */
	th_http_refuse(f.gw, false);
	expect_posts(&f, 3);
	TH_EQ_INT(posts_to(&f, "bo-key"), 1);
	body = th_http_body(f.gw, 0);
	TH_EQ_STR(th_json_str(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "notification"), "content"),
			      "body"),
		  "update 4");
	cJSON_Delete(body);
	teardown(&f);
}


static void test_500_retried_until_it_answers(void)
{
	struct fixture f;

	setup(&f, "");
	set_level(&f, "cy", "none");
	set_level(&f, "dee", "none");
	th_http_answer(f.gw, 500, "{\"error\":\"down\"}", 0);
	send_msg(&f, "are you there");
	th_wait_until(th_http_count(f.gw) >= 2, 10000); /* the first try and a retry */
	TH_EQ_INT(th_http_answered_ok(f.gw), 0);
	TH_EQ_INT(queue_len(&f.b), 1);
	th_http_answer(f.gw, 200, "{}", 0);
	th_wait_until(th_http_answered_ok(f.gw) == 1 && queue_len(&f.b) == 0, 15000);
	TH_EQ_INT(posts_to(&f, "bo-key"), th_http_count(f.gw)); /* all of them the one notification */
	teardown(&f);
}


static void test_400_dropped(void)
{
	struct fixture f;
	int before;

	setup(&f, "");
	set_level(&f, "cy", "none");
	set_level(&f, "dee", "none");
	th_http_answer(f.gw, 400, "{\"error\":\"bad\"}", 0);
	send_msg(&f, "not for you");
	expect_posts(&f, 1); /* dropped, not retried */
	th_http_answer(f.gw, 200, "{}", 0);
	before = th_http_count(f.gw);
	send_msg(&f, "this one");
	expect_posts(&f, before + 1);
	TH_EQ_INT(th_http_answered_ok(f.gw), 1);
	teardown(&f);
}


static void test_rejected_pushkey_deleted(void)
{
	struct fixture f;

	setup(&f, "");
	set_level(&f, "cy", "none");
	th_http_answer(f.gw, 200, "{\"rejected\":[\"bo-key\"]}", 0);
	send_msg(&f, "one");
	expect_posts(&f, 2); /* bo (rejected) and dee */
	TH_EQ_INT(db_int(&f.b, "SELECT count(*) FROM pushers WHERE pushkey = 'bo-key'"), 0);
	TH_EQ_INT(db_int(&f.b, "SELECT count(*) FROM pushers WHERE pushkey = 'dee-key'"), 1);
	th_http_answer(f.gw, 200, "{}", 0);
	send_msg(&f, "two");
	expect_posts(&f, 3); /* dee only: bo's pusher is gone */
	TH_EQ_INT(posts_to(&f, "bo-key"), 1);
	teardown(&f);
}


/* Sends go on being acked while the gateway hangs; the waiting notification is then the last. */
static void test_hanging_gateway_does_not_stop_sends(void)
{
	struct fixture f;
	char last[32] = "";
	cJSON *body;

	setup(&f, "");
	set_level(&f, "cy", "none");
	set_level(&f, "dee", "none");
	th_http_hang(f.gw);
	send_msg(&f, "hello?");
	th_wait_until(th_http_count(f.gw) >= 1, 10000); /* the worker is stuck in that post now */
	for(int i = 0; i < 200; i++) {
		snprintf(last, sizeof(last), "while hanging %d", i);
		send_msg(&f, last); /* tc_send fails the test unless it is acked */
	}
	th_http_answer(f.gw, 200, "{}", 0);
	th_wait_until(th_http_answered_ok(f.gw) >= 1 && queue_len(&f.b) == 0, 20000);
	TH_EQ_INT(th_http_answered_ok(f.gw), 1);
	body = th_http_body(f.gw, th_http_count(f.gw) - 1);
	TH_EQ_STR(th_json_str(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "notification"), "content"),
			      "body"),
		  last);
	cJSON_Delete(body);
	teardown(&f);
}


/* The body of the last request to pushkey ("" if none; static buffer). */
static const char *last_body_to(struct fixture *f, const char *pushkey)
{
	static char text[256];

	text[0] = '\0';
	for(int i = 0; i < th_http_count(f->gw); i++) {
		if(strcmp(pushkey_of(f, i), pushkey) == 0) {
			cJSON *body = th_http_body(f->gw, i);
			const cJSON *n = cJSON_GetObjectItem(body, "notification");
			snprintf(text, sizeof(text), "%s",
				 th_json_str(cJSON_GetObjectItem(n, "content"), "body"));
			cJSON_Delete(body);
		}
	}
	return text;
}


/* A gateway that takes its time: sends are acked meanwhile; what came during a post follows it in
 * one more post (per pusher), never one per message, and the newest is what arrives last. */
static void test_slow_gateway(void)
{
	struct fixture f;

	setup(&f, "");
	th_http_answer(f.gw, 200, "{}", 400);
	send_msg(&f, "slowly");
	th_wait_until(th_http_count(f.gw) >= 1, 10000); /* a post is waiting for its answer */
	for(int i = 0; i < 20; i++) {
		char text[32];
		snprintf(text, sizeof(text), "meanwhile %d", i);
		send_msg(&f, text); /* acked while the post waits */
	}
	th_wait_until(queue_len(&f.b) == 0 && th_http_answered_ok(f.gw) == th_http_count(f.gw), 20000);
	TH_CHECK(th_http_count(f.gw) <= 9); /* 3 pushers: the first, and at most two for the 20 others */
	TH_EQ_STR(last_body_to(&f, "bo-key"), "meanwhile 19");
	TH_EQ_STR(last_body_to(&f, "cy-key"), "meanwhile 19");
	TH_EQ_STR(last_body_to(&f, "dee-key"), "meanwhile 19");
	teardown(&f);
}


/* kill -9 while notifications wait: after the restart they are all delivered. */
static void test_kill9_loses_none(void)
{
	struct fixture f;

	setup(&f, "");
	th_http_refuse(f.gw, true);
	send_msg(&f, "before the crash");
	th_broker_kill9(&f.b);
	TH_EQ_INT(queue_len(&f.b), 3);
	th_http_refuse(f.gw, false);
	th_disconnect(f.ada);
	th_broker_restart(&f.b);
	f.ada = th_connect(&f.b, "ada", "ada-1", 5, true);
	expect_posts(&f, 3);
	TH_EQ_INT(posts_to(&f, "bo-key"), 1);
	TH_EQ_INT(posts_to(&f, "cy-key"), 1);
	TH_EQ_INT(posts_to(&f, "dee-key"), 1);
	teardown(&f);
}


/* Waits (10 s at most) for metric $SYS/broker/mqchat/<name> to be published with value want. */
static void wait_metric(struct th_client *c, const char *name, long long want)
{
	char topic[128];
	long long deadline = th_now_ms() + 10000, last = -1;

	snprintf(topic, sizeof(topic), "$SYS/broker/mqchat/%s", name);
	while(last != want && th_now_ms() < deadline) {
		struct th_msg *m = th_wait_msg(c, topic, (int)(deadline - th_now_ms()));
		if(m == NULL) {
			break;
		}
		last = strtoll(m->payload, NULL, 10);
		th_msg_free(m);
	}
	TH_CHECKF(last == want, "%s: %lld, not %lld", name, last, want);
}


/* $SYS/broker/mqchat/push/pending and push/failed follow the queue. */
static void test_metrics(void)
{
	struct fixture f;
	struct th_client *ops;

	setup(&f, "sys_interval 1\n");
	ops = th_connect(&f.b, "eve", "eve-ops", 5, true);
	TH_EQ_INT(th_subscribe(ops, "$SYS/broker/mqchat/push/#", 0), 0);
	th_http_refuse(f.gw, true);
	send_msg(&f, "waiting");
	wait_metric(ops, "push/pending", 3);
	th_http_answer(f.gw, 400, "{}", 0);
	th_http_refuse(f.gw, false);
	wait_metric(ops, "push/failed", 3); /* retried, then dropped by the 400 */
	wait_metric(ops, "push/pending", 0);
	th_disconnect(ops);
	teardown(&f);
}


/* A full queue: the hand-offs over the bound are not written, and the log says so. */
static void test_queue_bound(void)
{
	struct fixture f;

	setup(&f, "plugin_opt_push_queue_max 1\n");
	th_http_refuse(f.gw, true);
	send_msg(&f, "three want it, one fits");
	TH_EQ_INT(queue_len(&f.b), 1);
	th_wait_until(th_broker_log_contains(&f.b, "push: queue full (push_queue_max 1): 2 notifications"),
		      5000);
	th_http_refuse(f.gw, false);
	expect_posts(&f, 1);
	teardown(&f);
}


static void test_pusher_ops_and_validation(void)
{
	struct fixture f;
	char long_app[80], long_key[600];
	cJSON *reply;
	struct th_client *bo;

	setup(&f, "");
	bo = th_connect(&f.b, "bo", "bo-laptop", 5, true);
	memset(long_app, 'a', 65);
	long_app[65] = '\0';
	memset(long_key, 'k', 513);
	long_key[513] = '\0';
	reply = tc_api(bo, "{\"op\":\"pusher_set\",\"app_id\":\"%s\",\"pushkey\":\"x\"}", long_app);
	tc_expect_error(reply, "bad_request", NULL);
	reply = tc_api(bo, "{\"op\":\"pusher_set\",\"app_id\":\"a\",\"pushkey\":\"%s\"}", long_key);
	tc_expect_error(reply, "bad_request", NULL);
	reply = tc_api(bo, "{\"op\":\"pusher_set\",\"app_id\":\"a\"}");
	tc_expect_error(reply, "bad_request", NULL);
	reply = tc_api(bo, "{\"op\":\"pusher_set\",\"app_id\":\"\",\"pushkey\":\"x\"}");
	tc_expect_error(reply, "bad_request", NULL);
	reply = tc_api(bo, "{\"op\":\"pusher_set\",\"app_id\":\"a\",\"pushkey\":\"x\",\"data\":[1]}");
	tc_expect_error(reply, "bad_request", NULL);
	reply = tc_api(bo, "{\"op\":\"pushers\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"pushers\",\"pushers\":[{\"app_id\":\"org."
		       "mqchat.test\","
		       "\"pushkey\":\"bo-key\",\"pushkey_ts\":\"*\",\"data\":{\"url\":\"https://push.example/"
		       "bo\"}}]}");
	cJSON_Delete(reply);
	reply = tc_api(bo, "{\"op\":\"pusher_delete\",\"pushkey\":\"bo-key\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"pusher_delete\",\"pushkey\":\"bo-key\","
		       "\"deleted\":true}");
	cJSON_Delete(reply);
	reply = tc_api(bo, "{\"op\":\"pushers\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"pushers\",\"pushers\":[]}");
	cJSON_Delete(reply);
	th_disconnect(bo);
	teardown(&f);
}


TH_TEST_LIST(TH_TEST(test_delivery_format), TH_TEST(test_minimal_content), TH_TEST(test_levels),
	     TH_TEST(test_online_members_get_none), TH_TEST(test_refused_then_replaced_and_delivered),
	     TH_TEST(test_500_retried_until_it_answers), TH_TEST(test_400_dropped),
	     TH_TEST(test_rejected_pushkey_deleted), TH_TEST(test_hanging_gateway_does_not_stop_sends),
	     TH_TEST(test_slow_gateway), TH_TEST(test_kill9_loses_none), TH_TEST(test_queue_bound),
	     TH_TEST(test_metrics), TH_TEST(test_pusher_ops_and_validation))
