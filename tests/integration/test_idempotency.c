/*
 * test_idempotency.c - a retried client_msg_id returns the original ack and is never delivered twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "th_chat.h"


static void setup(struct th_broker *b, struct th_client **ada, struct th_client **bo)
{
	th_broker_start(b, "");
	*ada = th_connect(b, "ada", "ada-laptop", 5, true);
	*bo = th_connect(b, "bo", "bo-phone", 5, true);
	tc_api_ok(*ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	tc_api_ok(*ada, "{\"op\":\"create\",\"channel\":\"random\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(*bo, "chat/general", 1), 1);
}


static void test_retry_returns_original_ack(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *phone;
	cJSON *first, *again, *ev;

	setup(&b, &ada, &bo);
	first = tc_send(ada, "general", "c-5f1e", "hello");
	TH_JSON(first, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-5f1e\","
		       "\"id\":\"*\","
		       "\"seq\":3,\"ts\":\"*\",\"duplicate\":false}");
	again = tc_send(ada, "general", "c-5f1e", "hello");
	TH_JSON(again, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-5f1e\","
		       "\"id\":\"*\","
		       "\"seq\":3,\"ts\":\"*\",\"duplicate\":true}");
	TH_EQ_STR(th_json_str(again, "id"), th_json_str(first, "id"));
	TH_EQ_INT(th_json_int(again, "ts"), th_json_int(first, "ts"));
	cJSON_Delete(again);

	/* the same user retrying from another device (a reconnect after a lost ack) is the same retry */
	phone = th_connect(&b, "ada", "ada-phone", 4, true);
	again = tc_send(phone, "general", "c-5f1e", "hello");
	TH_EQ_INT(th_json_int(again, "seq"), 3);
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(again, "duplicate")));
	cJSON_Delete(again);

	/* Bo got seq 3 once: the next thing after it is the marker, seq 4 */
	cJSON_Delete(tc_send(ada, "general", "marker", "marker"));
	ev = th_expect_json(bo, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 3);
	cJSON_Delete(ev);
	ev = th_expect_json(bo, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 4);
	TH_EQ_STR(th_json_str(ev, "body"), "marker");
	cJSON_Delete(ev);

	/* and the log holds it once */
	ev = tc_sync(bo, "general", 0, 0);
	TH_EQ_INT(th_json_int(ev, "head"), 4);
	cJSON_Delete(ev);
	cJSON_Delete(first);
	th_disconnect(phone);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* client_msg_id is scoped to its user: Bo may use the id Ada used. */
static void test_ids_are_per_user(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *ack;

	setup(&b, &ada, &bo);
	cJSON_Delete(tc_send(ada, "general", "same", "from ada"));
	ack = tc_send(bo, "general", "same", "from bo");
	TH_EQ_INT(th_json_int(ack, "seq"), 4);
	TH_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(ack, "duplicate")));
	cJSON_Delete(ack);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* Reusing an id for a different channel is refused rather than swallowing the new message. */
static void test_reuse_in_another_channel_conflicts(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *page;

	setup(&b, &ada, &bo);
	cJSON_Delete(tc_send(ada, "general", "c-1", "here"));
	tc_expect_error(tc_request(ada, "chat/random", "{\"client_msg_id\":\"c-1\",\"body\":\"there\"}"),
			"conflict", "client_msg_id c-1 was already used for an event in another channel");
	page = tc_sync(ada, "random", 0, 0);
	TH_EQ_INT(th_json_int(page, "head"), 2);
	cJSON_Delete(page);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* A retry after a restart is still recognised: the ids live in the log, not in memory. */
static void test_retry_after_restart(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *ack;

	setup(&b, &ada, &bo);
	cJSON_Delete(tc_send(ada, "general", "c-1", "before"));
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	ack = tc_send(ada, "general", "c-1", "before");
	TH_JSON(ack, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-1\",\"id\":"
		     "\"*\","
		     "\"seq\":3,\"ts\":\"*\",\"duplicate\":true}");
	cJSON_Delete(ack);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* The retry scenario: a client whose connection dies right after a send gets no ack later (answers
 * are never parked in a session's queue, where whoever connects next with the id would find them:
 * docs/security.md), and its retry with the same client_msg_id is answered with the original ack. */
static void test_ack_is_not_parked_for_a_gone_client(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *phone;
	cJSON *ack;
	int fd;

	setup(&b, &ada, &bo);
	/* an MQTT 3.1.1 client with a persistent session publishes once and vanishes without reading
	 * anything */
	fd = th_raw_connect(&b, "ada", "ada-phone", &(struct th_raw_options){.keepalive_s = 60});
	th_raw_publish(fd, "chat/general", "{\"client_msg_id\":\"q-1\",\"body\":\"bye\"}");
	close(fd);
	cJSON_Delete(tc_expect_event(bo, "general", true)); /* stored and delivered */
	phone = th_connect(&b, "ada", "ada-phone", 4, false);
	ack = tc_send(phone, "general", "q-1", "bye"); /* the retry: the first ack went nowhere */
	TH_JSON(ack, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"q-1\",\"id\":"
		     "\"*\","
		     "\"seq\":3,\"ts\":\"*\",\"duplicate\":true}");
	cJSON_Delete(ack);
	TH_EQ_INT(th_queued(phone, tc_reply_topic(phone)), 0); /* and nothing else, no stale answer */
	th_disconnect(phone);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* Group commit: sends pipelined by one client share a batch, and a retry of a send that is still in the
 * open batch is found there: answered with the original ack (only after the commit), stored once and
 * delivered once. Each pair below is a send and its immediate retry. */
static void test_retry_within_one_batch(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *reply;
	char payload[96];
	int mid;

	setup(&b, &ada, &bo);
	for(int i = 0; i < 40; i++) {
		snprintf(payload, sizeof(payload), "{\"client_msg_id\":\"p%d\",\"body\":\"b%d\"}", i / 2,
			 i / 2);
		TH_EQ_INT(th_publish_async(ada, "chat/general", payload, -1, 1, &mid), 0);
	}
	for(int i = 0; i < 40; i++) {
		reply = th_expect_json(ada, tc_reply_topic(ada));
		snprintf(payload, sizeof(payload), "p%d", i / 2);
		TH_EQ_STR(th_json_str(reply, "kind"), "ack");
		TH_EQ_STR(th_json_str(reply, "client_msg_id"), payload);
		TH_EQ_INT(th_json_int(reply, "seq"), 3 + i / 2);
		TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(reply, "duplicate")) == (i % 2 == 1));
		cJSON_Delete(reply);
	}
	for(int i = 0; i < 20; i++) {
		reply = th_expect_json(bo, "chat/general");
		snprintf(payload, sizeof(payload), "b%d", i);
		TH_EQ_INT(th_json_int(reply, "seq"), 3 + i);
		TH_EQ_STR(th_json_str(reply, "body"), payload);
		cJSON_Delete(reply);
	}
	reply = tc_sync(bo, "general", 0, 0);
	TH_EQ_INT(th_json_int(reply, "head"), 22);
	cJSON_Delete(reply);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_retry_returns_original_ack), TH_TEST(test_ids_are_per_user),
	     TH_TEST(test_ack_is_not_parked_for_a_gone_client),
	     TH_TEST(test_reuse_in_another_channel_conflicts), TH_TEST(test_retry_after_restart),
	     TH_TEST(test_retry_within_one_batch))
