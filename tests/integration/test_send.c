/*
 * test_send.c - the send path: gapless seqs, stamped fields, event types, reason codes, ordering.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "th_chat.h"

/* A broker with #general (ada owner; bo, cy members) and clients for the three of them. */
struct fixture {
	struct th_broker b;
	struct th_client *ada, *bo, *cy;
};


static void setup(struct fixture *f, const char *extra)
{
	th_broker_start(&f->b, "%s", extra);
	f->ada = th_connect(&f->b, "ada", "ada-laptop", 5, true);
	f->bo = th_connect(&f->b, "bo", "bo-phone", 5, true);
	f->cy = th_connect(&f->b, "cy", "cy-tablet", 4, true);
	tc_api_ok(f->ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
}


static void teardown(struct fixture *f)
{
	th_disconnect(f->ada);
	th_disconnect(f->bo);
	th_disconnect(f->cy);
	th_broker_stop(&f->b);
}


/* Two senders interleave 300 sends at QoS 0, 1 and 2; a subscriber sees seqs 4..303 in order with no
 * gap, and catch-up returns exactly the same events. */
static void test_gapless_and_identical(void)
{
	struct fixture f;
	cJSON *live = cJSON_CreateArray(), *history;
	char body[64];
	const int sends = 300;

	setup(&f, "plugin_opt_send_rate 0");
	TH_EQ_INT(th_subscribe(f.cy, "chat/general", 1), 1);
	for(int i = 0; i < sends; i++) {
		struct th_client *sender = i % 2 ? f.bo : f.ada;
		snprintf(body, sizeof(body), "message %d", i);
		TH_CHECK(th_publish(sender, "chat/general", body, -1, i % 3, NULL) >= 0);
	}
	for(int i = 0; i < sends; i++) {
		cJSON *ev = th_expect_json(f.cy, "chat/general");
		TH_EQ_INT(th_json_int(ev, "seq"), i + 4);
		cJSON_AddItemToArray(live, ev);
	}
	history = tc_history(f.cy, "general");
	TH_EQ_INT(cJSON_GetArraySize(history), sends + 3);
	for(int i = 0; i < sends; i++) {
		cJSON *a = cJSON_GetArrayItem(live, i), *h = cJSON_GetArrayItem(history, i + 3);
		TH_CHECKF(cJSON_Compare(a, h, true), "event %d differs between live and catch-up", i + 4);
	}
	/* each sender's messages kept their relative order */
	for(int i = 0, last_ada = 0, last_bo = 0; i < sends; i++) {
		cJSON *ev = cJSON_GetArrayItem(live, i);
		int n = atoi(th_json_str(ev, "body") + strlen("message "));
		int *last = strcmp(th_json_str(ev, "from"), "ada") == 0 ? &last_ada : &last_bo;
		TH_CHECK(n >= *last);
		*last = n;
	}
	cJSON_Delete(live);
	cJSON_Delete(history);
	teardown(&f);
}


/* from, device, seq, id, ts and channel are the server's, whatever the payload says. */
static void test_server_stamps_fields(void)
{
	struct fixture f;
	cJSON *ev, *ack;

	setup(&f, "");
	TH_EQ_INT(th_subscribe(f.bo, "chat/general", 1), 1);
	ack = tc_request(
		f.ada, "chat/general",
		"{\"client_msg_id\":\"c-1\",\"body\":\"hi\",\"from\":\"mallory\",\"device\":\"x\",\"seq\":1,"
		"\"id\":\"forged\",\"ts\":5,\"channel\":\"ops\",\"type\":\"message\"}");
	TH_JSON(ack, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-1\",\"id\":"
		     "\"*\","
		     "\"seq\":4,\"ts\":\"*\",\"duplicate\":false}");
	ev = th_expect_json(f.bo, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":4,\"type\":\"message\",\"from\":\"ada\","
		    "\"device\":\"ada-laptop\",\"ts\":\"*\",\"client_msg_id\":\"c-1\",\"body\":\"hi\"}");
	TH_EQ_STR(th_json_str(ev, "id"), th_json_str(ack, "id"));
	TH_CHECK(strcmp(th_json_str(ev, "id"), "forged") != 0);
	TH_CHECK(th_json_int(ev, "ts") > 1700000000000LL);
	cJSON_Delete(ev);
	cJSON_Delete(ack);
	teardown(&f);
}


static void test_plain_text_from_the_cli(void)
{
	struct fixture f;
	int status = -1;
	cJSON *ev;
	char *out;

	setup(&f, "");
	TH_EQ_INT(th_subscribe(f.bo, "chat/general", 1), 1);
	out = th_run(
		&status,
		"mosquitto_pub -h 127.0.0.1 -p %d -u ada -P ada-pw -i ada-cli -t chat/general -m 'hi there'",
		f.b.port);
	TH_EQ_INT(status, 0);
	free(out);
	ev = th_expect_json(f.bo, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":4,\"type\":\"message\",\"from\":\"ada\","
		    "\"device\":\"ada-cli\",\"ts\":\"*\",\"body\":\"hi there\"}");
	cJSON_Delete(ev);
	/* a blank message is refused, as text and as JSON, and stores nothing */
	tc_expect_error(tc_request(f.ada, "chat/general", "  \n "), "bad_request", "the message is blank");
	tc_expect_error(tc_request(f.ada, "chat/general", "{\"body\":\" \\t\"}"), "bad_request",
			"body is blank");
	tc_expect_error(tc_request(f.ada, "chat/general", "{\"body\":\"\"}"), "bad_request",
			"body must not be empty");
	ev = tc_sync(f.bo, "general", 0, 0);
	TH_EQ_INT(th_json_int(ev, "head"), 4);
	cJSON_Delete(ev);
	teardown(&f);
}


/* Edits, deletes, reactions and thread replies are events; only the author edits or deletes. */
static void test_event_types(void)
{
	struct fixture f;
	cJSON *ev, *ack;

	setup(&f, "");
	TH_EQ_INT(th_subscribe(f.cy, "chat/general", 1), 1);
	cJSON_Delete(tc_send(f.ada, "general", "m1", "first")); /* seq 4 */
	cJSON_Delete(th_expect_json(f.cy, "chat/general"));

	ack = tc_request(f.bo, "chat/general",
			 "{\"type\":\"reaction\",\"target\":4,\"emoji\":\":+1:\",\"client_msg_id\":\"r1\"}");
	TH_JSON(ack,
		"{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"r1\",\"id\":\"*\","
		"\"seq\":5,\"ts\":\"*\",\"duplicate\":false}");
	cJSON_Delete(ack);
	ev = th_expect_json(f.cy, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":5,\"type\":\"reaction\",\"from\":\"bo\","
		    "\"device\":\"bo-phone\",\"ts\":\"*\",\"client_msg_id\":\"r1\",\"target\":4,\"emoji\":\":"
		    "+1:\","
		    "\"on\":true}");
	cJSON_Delete(ev);

	tc_expect_error(tc_request(f.bo, "chat/general",
				   "{\"type\":\"edit\",\"target\":4,\"body\":\"mine now\"}"),
			"forbidden", "only the author may edit message 4");
	tc_expect_error(tc_request(f.bo, "chat/general", "{\"type\":\"delete\",\"target\":4}"), "forbidden",
			"only the author may delete message 4");

	cJSON_Delete(
		tc_request(f.ada, "chat/general",
			   "{\"type\":\"edit\",\"target\":4,\"body\":\"first!\",\"client_msg_id\":\"e1\"}"));
	ev = th_expect_json(f.cy, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":6,\"type\":\"edit\",\"from\":\"ada\","
		    "\"device\":\"ada-laptop\",\"ts\":\"*\",\"client_msg_id\":\"e1\",\"target\":4,\"body\":"
		    "\"first!\"}");
	cJSON_Delete(ev);

	cJSON_Delete(tc_request(f.bo, "chat/general",
				"{\"body\":\"a reply\",\"thread\":4,\"client_msg_id\":\"t1\"}"));
	ev = th_expect_json(f.cy, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":7,\"type\":\"message\",\"from\":\"bo\","
		    "\"device\":\"bo-phone\",\"ts\":\"*\",\"client_msg_id\":\"t1\",\"body\":\"a "
		    "reply\",\"thread\":4}");
	cJSON_Delete(ev);
	tc_expect_error(tc_request(f.bo, "chat/general", "{\"body\":\"nested\",\"thread\":7}"), "bad_request",
			"message 7 is a thread reply; reply to its root instead");
	tc_expect_error(tc_request(f.bo, "chat/general", "{\"body\":\"x\",\"thread\":1}"), "bad_request",
			"event 1 of #general is not a message");
	tc_expect_error(tc_request(f.bo, "chat/general",
				   "{\"type\":\"reaction\",\"target\":99,\"emoji\":\"x\"}"),
			"bad_request", "#general has no message 99");

	cJSON_Delete(tc_request(f.ada, "chat/general",
				"{\"type\":\"delete\",\"target\":4,\"client_msg_id\":\"d1\"}"));
	ev = th_expect_json(f.cy, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":8,\"type\":\"delete\",\"from\":\"ada\","
		    "\"device\":\"ada-laptop\",\"ts\":\"*\",\"client_msg_id\":\"d1\",\"target\":4}");
	cJSON_Delete(ev);
	tc_expect_error(tc_request(f.ada, "chat/general",
				   "{\"type\":\"edit\",\"target\":4,\"body\":\"again\"}"),
			"conflict", "message 4 of #general was deleted");
	tc_expect_error(tc_request(f.bo, "chat/general",
				   "{\"type\":\"reaction\",\"target\":4,\"emoji\":\"x\"}"),
			"conflict", "message 4 of #general was deleted");

	/* the refused requests stored nothing */
	ev = tc_sync(f.cy, "general", 0, 0);
	TH_EQ_INT(th_json_int(ev, "head"), 8);
	cJSON_Delete(ev);
	teardown(&f);
}


/* True if the file at path holds needle anywhere (a missing file holds nothing). */
static bool file_holds(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	size_t len = 0, cap = 1 << 20, n;
	char *bytes = malloc(cap);
	bool found = false;

	TH_CHECK(bytes != NULL);
	if(f != NULL) {
		while((n = fread(bytes + len, 1, cap - len, f)) > 0) {
			len += n;
			if(len == cap) {
				cap *= 2;
				bytes = realloc(bytes, cap);
				TH_CHECK(bytes != NULL);
			}
		}
		fclose(f);
		found = memmem(bytes, len, needle, strlen(needle)) != NULL;
	}
	free(bytes);
	return found;
}


/* Delete erases (protocol version 2): once Ada deletes her message, catch-up serves it and its edit
 * without a body and with "deleted":true (seqs, ids and the delete event stay), the inbox's `last`
 * preview has no body either, and after the broker stopped (its WAL checkpointed into the file) the
 * text is nowhere in the database file. */
static void test_delete_erases(void)
{
	struct fixture f;
	cJSON *page, *events, *inbox;
	const cJSON *last;
	char wal[320];

	setup(&f, "");
	cJSON_Delete(tc_send(f.bo, "general", "s0", "noted, thanks"));           /* seq 4: stays */
	cJSON_Delete(tc_send(f.ada, "general", "s1", "the code is 7215-ZEBRA")); /* seq 5 */
	cJSON_Delete(tc_request(f.ada, "chat/general",
				"{\"type\":\"edit\",\"target\":5,\"body\":\"the code is 9932-OKAPI\","
				"\"client_msg_id\":\"e1\"}")); /* seq 6 */
	cJSON_Delete(tc_request(f.ada, "chat/general",
				"{\"type\":\"delete\",\"target\":5,\"client_msg_id\":\"d1\"}"));

	page = tc_sync(f.cy, "general", 3, 0);
	events = cJSON_GetObjectItem(page, "events");
	TH_EQ_INT(cJSON_GetArraySize(events), 4);
	TH_EQ_STR(th_json_str(cJSON_GetArrayItem(events, 0), "body"), "noted, thanks");
	TH_JSON(cJSON_GetArrayItem(events, 1),
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":5,\"type\":\"message\","
		"\"from\":\"ada\",\"device\":\"ada-laptop\",\"ts\":\"*\","
		"\"client_msg_id\":\"s1\",\"deleted\":true}");
	TH_JSON(cJSON_GetArrayItem(events, 2),
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":6,\"type\":\"edit\","
		"\"from\":\"ada\",\"device\":\"ada-laptop\",\"ts\":\"*\","
		"\"client_msg_id\":\"e1\",\"target\":5,\"deleted\":true}");
	TH_JSON(cJSON_GetArrayItem(events, 3),
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":7,\"type\":\"delete\","
		"\"from\":\"ada\",\"device\":\"ada-laptop\",\"ts\":\"*\","
		"\"client_msg_id\":\"d1\",\"target\":5}");
	cJSON_Delete(page);
	last = cJSON_GetObjectItem(tc_inbox_entry(f.cy, "general", &inbox), "last");
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(last, "deleted")));
	TH_CHECK(cJSON_GetObjectItem(last, "body") == NULL);
	cJSON_Delete(inbox);

	th_disconnect(f.ada);
	th_disconnect(f.bo);
	th_disconnect(f.cy);
	th_broker_stop(&f.b);
	snprintf(wal, sizeof(wal), "%s-wal", f.b.db_path);
	TH_CHECK(file_holds(f.b.db_path, "noted, thanks")); /* the right file, and SQLite stores text as is */
	TH_CHECK(!file_holds(f.b.db_path, "7215-ZEBRA"));
	TH_CHECK(!file_holds(f.b.db_path, "9932-OKAPI"));
	TH_CHECK(!file_holds(wal, "7215-ZEBRA"));
}


/* A client id with characters a topic name cannot hold (+ # %) still gets its answers, on its reply
 * topic with those characters escaped, which it alone may subscribe to. */
static void test_any_client_id_has_a_reply_topic(void)
{
	struct fixture f;
	struct th_client *odd;

	setup(&f, "");
	odd = th_connect(&f.b, "ada", "ada+x#1%", 4, true);
	TH_EQ_STR(tc_reply_topic(odd), "chat/_reply/ada%2Bx%231%25");
	TH_EQ_INT(th_subscribe(odd, "chat/_reply/ada%2Bx%231%25", 0), 0);
	TH_EQ_INT(th_subscribe(f.bo, "chat/_reply/ada%2Bx%231%25", 0), 0x87);
	cJSON_Delete(tc_send(odd, "general", "odd-1", "from an odd client id")); /* the ack arrives */
	th_disconnect(odd);
	teardown(&f);
}


/* An MQTT v5 sender learns the outcome from the PUBACK/PUBREC reason code too. */
static void test_reason_codes(void)
{
	struct fixture f;
	struct th_client *dee;
	int rc;

	setup(&f, "");
	dee = th_connect(&f.b, "dee", "dee-1", 5, true);
	rc = th_publish(f.ada, "chat/general", "accepted", -1, 1, NULL);
	TH_CHECKF(rc >= 0 && rc < 0x80, "accepted send got reason code 0x%02x", rc);
	rc = th_publish(f.ada, "chat/general", "accepted", -1, 2, NULL);
	TH_CHECKF(rc >= 0 && rc < 0x80, "accepted QoS 2 send got reason code 0x%02x", rc);
	TH_EQ_INT(th_publish(dee, "chat/general", "refused", -1, 1, NULL), 0x87);
	tc_expect_error(th_expect_json(dee, tc_reply_topic(dee)), "not_member",
			"dee is not a member of #general");
	TH_EQ_INT(th_publish(dee, "chat/general", "refused", -1, 2, NULL), 0x87);
	tc_expect_error(th_expect_json(dee, tc_reply_topic(dee)), "not_member", NULL);
	/* QoS 0 has no acknowledgement: the error topic is the only answer */
	TH_EQ_INT(th_publish(dee, "chat/general", "refused", -1, 0, NULL), 0);
	tc_expect_error(th_expect_json(dee, tc_reply_topic(dee)), "not_member", NULL);
	/* MQTT 3.1.1 has no reason codes: the error topic is the answer */
	TH_EQ_INT(th_publish(f.cy, "chat/general", "{\"body\":", -1, 1, NULL), 0);
	tc_expect_error(th_expect_json(f.cy, tc_reply_topic(f.cy)), "bad_request", "malformed JSON");
	th_disconnect(dee);
	teardown(&f);
}


/* Whatever the QoS of each send, subscribers receive events in seq order: a QoS 2 send that the
 * broker would deliver only at PUBREL does not overtake, nor get overtaken by, later sends. */
static void test_live_order_follows_seq_across_qos(void)
{
	struct fixture f;
	int mid;

	setup(&f, "plugin_opt_send_rate 0");
	TH_EQ_INT(th_subscribe(f.cy, "chat/general", 2), 2);
	for(int i = 0; i < 50; i++) {
		TH_EQ_INT(th_publish_async(f.ada, "chat/general", "two", -1, 2, &mid), 0);
		TH_EQ_INT(th_publish_async(f.bo, "chat/general", "zero", -1, 0, &mid), 0);
		TH_EQ_INT(th_publish_async(f.bo, "chat/general", "one", -1, 1, &mid), 0);
	}
	for(int seq = 4; seq < 4 + 150; seq++) {
		cJSON *ev = th_expect_json(f.cy, "chat/general");
		TH_EQ_INT(th_json_int(ev, "seq"), seq);
		cJSON_Delete(ev);
	}
	teardown(&f);
}


/* A retained publish is stored as an ordinary event, never kept as the broker's retained message. */
static void test_retain_is_ignored(void)
{
	struct fixture f;
	cJSON *ev;
	int status;
	char *out;

	setup(&f, "");
	/* QoS 1: mosquitto_pub exits after its PUBACK, when the event is stored and queued, so Bo's
	 * subscription comes after it (at QoS 0 a busy broker may read the publish after it and deliver
	 * the event live: a flaky test) */
	out = th_run(&status,
		     "mosquitto_pub -h 127.0.0.1 -p %d -u ada -P ada-pw -t chat/general -q 1 -r -m retained",
		     f.b.port);
	TH_EQ_INT(status, 0);
	free(out);
	/* Stored as event 4 (catch-up commits the group commit's batch first, so it is out by now) */
	ev = tc_sync(f.bo, "general", 3, 1);
	TH_EQ_STR(th_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "events"), 0), "body"), "retained");
	cJSON_Delete(ev);
	TH_EQ_INT(th_subscribe(f.bo, "chat/general", 1), 1);
	cJSON_Delete(tc_send(f.ada, "general", "after", "after"));
	ev = th_expect_json(
		f.bo, "chat/general"); /* the first thing Bo sees is the next event, not a retained copy */
	TH_EQ_INT(th_json_int(ev, "seq"), 5);
	TH_EQ_STR(th_json_str(ev, "body"), "after");
	cJSON_Delete(ev);
	teardown(&f);
}


/* MQTT 5 topic aliases: the plugin rewrites an accepted publish's topic in place, which must not touch
 * the alias table, so a second send through the alias still reaches #general. */
static void test_topic_alias(void)
{
	struct fixture f;
	mosquitto_property *props = NULL;
	cJSON *ev;

	setup(&f, "");
	TH_EQ_INT(th_subscribe(f.bo, "chat/general", 1), 1);
	mosquitto_property_add_int16(&props, MQTT_PROP_TOPIC_ALIAS, 3);
	TH_CHECK(th_publish(f.ada, "chat/general", "through the alias, first", -1, 1, props) < 0x80);
	TH_CHECK(th_publish(f.ada, "", "through the alias, again", -1, 1, props) < 0x80);
	mosquitto_property_free_all(&props);
	ev = th_expect_json(f.bo, "chat/general");
	TH_EQ_STR(th_json_str(ev, "body"), "through the alias, first");
	cJSON_Delete(ev);
	ev = th_expect_json(f.bo, "chat/general");
	TH_EQ_STR(th_json_str(ev, "body"), "through the alias, again");
	TH_EQ_INT(th_json_int(ev, "seq"), 5);
	cJSON_Delete(ev);
	teardown(&f);
}


TH_TEST_LIST(TH_TEST(test_gapless_and_identical), TH_TEST(test_topic_alias), TH_TEST(test_delete_erases),
	     TH_TEST(test_any_client_id_has_a_reply_topic), TH_TEST(test_server_stamps_fields),
	     TH_TEST(test_plain_text_from_the_cli), TH_TEST(test_event_types), TH_TEST(test_reason_codes),
	     TH_TEST(test_live_order_follows_seq_across_qos), TH_TEST(test_retain_is_ignored))
