/*
 * test_acl.c - members only: on subscribe, on every delivery (also through wildcards), on publish and
 * on catch-up; removal takes effect at once; reply topics belong to their client; anonymous
 * connections get nothing under chat/; topics outside chat/ are left alone.
 */
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"

/* #general: ada (owner), bo. #ops (private): ada. dee belongs to neither but to #lobby with ada. */
struct fixture {
	struct th_broker b;
	struct th_client *ada, *bo, *dee;
};


static void setup(struct fixture *f)
{
	th_broker_start(&f->b, "");
	f->ada = th_connect(&f->b, "ada", "ada-laptop", 5, true);
	f->bo = th_connect(&f->b, "bo", "bo-phone", 5, true);
	f->dee = th_connect(&f->b, "dee", "dee-1", 5, true);
	tc_api_ok(f->ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	tc_api_ok(f->ada, "{\"op\":\"create\",\"channel\":\"ops\",\"visibility\":\"private\"}");
	tc_api_ok(f->ada, "{\"op\":\"create\",\"channel\":\"lobby\",\"members\":[\"dee\",\"bo\"]}");
}


static void teardown(struct fixture *f)
{
	th_disconnect(f->ada);
	th_disconnect(f->bo);
	th_disconnect(f->dee);
	th_broker_stop(&f->b);
}


/* Asserts that the next message c (subscribed to chat/lobby) receives on chat/# is a new lobby marker:
 * nothing of another channel slipped in before it. The broker writes to one client in order, so
 * this needs no sleep. */
static void expect_marker_next(struct fixture *f, struct th_client *c, const char *marker)
{
	struct th_msg *m;
	cJSON *ev;

	cJSON_Delete(tc_send(f->ada, "lobby", marker, marker));
	m = th_wait_msg(c, "chat/#", 5000);
	TH_CHECK(m != NULL);
	TH_EQ_STR(m->topic, "chat/lobby");
	ev = th_json_parse((char *)m->payload);
	TH_EQ_STR(th_json_str(ev, "body"), marker);
	cJSON_Delete(ev);
	th_msg_free(m);
}


static void test_subscribe_is_for_members(void)
{
	struct fixture f;
	struct th_client *v3;

	setup(&f);
	TH_EQ_INT(th_subscribe(f.dee, "chat/general", 1), 0x87);
	TH_EQ_INT(th_subscribe(f.dee, "chat/general/#", 1), 0x87);
	TH_EQ_INT(th_subscribe(f.dee, "chat/general/typing", 0), 0x87);
	TH_EQ_INT(th_subscribe(f.dee, "$share/g/chat/general", 1), 0x87);
	TH_EQ_INT(th_subscribe(f.dee, "chat/nope", 1), 0x87);
	TH_EQ_INT(th_subscribe(f.dee, "chat/_api", 1), 0x87);
	TH_EQ_INT(th_subscribe(f.dee, "chat/general/sync", 1), 0x87);
	TH_EQ_INT(th_subscribe(f.bo, "chat/ops", 1), 0x87);
	TH_EQ_INT(th_subscribe(f.bo, "chat/general", 1), 1);
	TH_EQ_INT(th_subscribe(f.ada, "chat/ops", 1), 1);
	v3 = th_connect(&f.b, "dee", "dee-v3", 4, true);
	TH_EQ_INT(th_subscribe(v3, "chat/general", 1), 0x80);
	th_disconnect(v3);
	teardown(&f);
}


/* A non-member subscribed to chat/# or # receives nothing of the channel. */
static void test_wildcards_deliver_only_what_one_may_read(void)
{
	struct fixture f;

	setup(&f);
	TH_EQ_INT(th_subscribe(f.dee, "chat/#", 1), 1);
	TH_EQ_INT(th_subscribe(f.dee, "#", 1), 1);
	TH_EQ_INT(th_subscribe(f.dee, "+/+", 1), 1);
	cJSON_Delete(tc_send(f.ada, "general", "g1", "secret to dee"));
	cJSON_Delete(tc_send(f.ada, "ops", "o1", "private"));
	expect_marker_next(&f, f.dee, "marker-1");
	TH_EQ_INT(th_queued(f.dee, "chat/general"), 0);
	TH_EQ_INT(th_queued(f.dee, "chat/ops"), 0);
	teardown(&f);
}


static void test_non_members_cannot_send_or_catch_up(void)
{
	struct fixture f;
	cJSON *page;

	setup(&f);
	TH_EQ_INT(th_publish(f.dee, "chat/general", "{\"client_msg_id\":\"x\",\"body\":\"hi\"}", -1, 1, NULL),
		  0x87);
	tc_expect_error(th_expect_json(f.dee, tc_reply_topic(f.dee)), "not_member",
			"dee is not a member of #general");
	tc_expect_error(tc_request(f.dee, "chat/general/sync", "{\"since\":0}"), "not_member",
			"dee is not a member of #general");
	/* a private channel is, to a non-member, one that does not exist: the same answer as #nowhere */
	tc_expect_error(tc_request(f.bo, "chat/ops/sync", "{}"), "no_such_channel",
			"there is no channel #ops");
	tc_expect_error(tc_request(f.bo, "chat/nowhere/sync", "{}"), "no_such_channel",
			"there is no channel #nowhere");
	page = tc_sync(f.bo, "general", 0, 0);
	TH_EQ_INT(th_json_int(page, "head"), 2); /* nothing stored */
	cJSON_Delete(page);
	teardown(&f);
}


/* A removed member stops receiving at once, although its subscription remains. */
static void test_removed_member_stops_at_once(void)
{
	struct fixture f;
	cJSON *ev;

	setup(&f);
	TH_EQ_INT(th_subscribe(f.bo, "chat/general", 1), 1);
	TH_EQ_INT(th_subscribe(f.bo, "chat/lobby", 1), 1);
	cJSON_Delete(tc_send(f.ada, "general", "before", "before"));
	ev = th_expect_json(f.bo, "chat/general");
	TH_EQ_STR(th_json_str(ev, "body"), "before");
	cJSON_Delete(ev);

	tc_api_ok(f.ada, "{\"op\":\"remove\",\"channel\":\"general\",\"user\":\"bo\"}");
	/* the removed member is told (docs/protocol.md, "Account requests"), and that is the last of it */
	ev = th_expect_json(f.bo, "chat/#");
	TH_EQ_STR(th_json_str(ev, "type"), "leave");
	TH_EQ_STR(th_json_str(ev, "user"), "bo");
	cJSON_Delete(ev);
	cJSON_Delete(tc_send(f.ada, "general", "after", "after removal"));
	expect_marker_next(&f, f.bo, "marker-2"); /* not "after removal" */
	tc_expect_error(tc_request(f.bo, "chat/general/sync", "{}"), "not_member", NULL);
	TH_EQ_INT(th_publish(f.bo, "chat/general", "still here?", -1, 1, NULL), 0x87);
	tc_expect_error(th_expect_json(f.bo, tc_reply_topic(f.bo)), "not_member", NULL);
	teardown(&f);
}


static void test_reply_topics_belong_to_their_client(void)
{
	struct fixture f;
	struct th_client *ada_phone;

	setup(&f);
	TH_EQ_INT(th_subscribe(f.bo, "chat/_reply/bo-phone", 1), 1);
	TH_EQ_INT(th_subscribe(f.bo, "chat/_reply/ada-laptop", 1), 0x87);
	TH_EQ_INT(th_subscribe(f.bo, "chat/_reply/+", 1), 0x87);
	/* even another device of the same user may not read them */
	ada_phone = th_connect(&f.b, "ada", "ada-phone", 5, true);
	TH_EQ_INT(th_subscribe(ada_phone, "chat/_reply/ada-laptop", 1), 0x87);
	/* nor may anyone write them */
	TH_EQ_INT(th_publish(f.bo, "chat/_reply/ada-laptop", "{\"ok\":true}", -1, 1, NULL), 0x87);
	tc_expect_error(th_expect_json(f.bo, tc_reply_topic(f.bo)), "bad_topic",
			"reply topics are written by the server only");
	TH_EQ_INT(th_queued(f.ada, "#"), 0);
	th_disconnect(ada_phone);
	teardown(&f);
}


static void test_anonymous_gets_nothing(void)
{
	struct fixture f;
	struct th_client *anon;
	cJSON *page;

	setup(&f);
	anon = th_connect(&f.b, NULL, "anon-1", 5, true);
	TH_EQ_INT(th_subscribe(anon, "chat/#", 1), 0x87);
	TH_EQ_INT(th_subscribe(anon, "chat/general", 1), 0x87);
	TH_EQ_INT(th_subscribe(anon, "#", 1), 1); /* allowed, but filtered on every delivery */
	TH_EQ_INT(th_publish(anon, "chat/general", "hi", -1, 1, NULL), 0x87);
	TH_EQ_INT(th_publish(anon, "chat/_api", "{\"op\":\"channels\"}", -1, 1, NULL), 0x87);
	cJSON_Delete(tc_send(f.ada, "general", "g1", "members only"));
	TH_EQ_INT(th_publish(f.ada, "anon/barrier", "b", -1, 1, NULL), 0);
	{
		struct th_msg *m = th_wait_msg(anon, "#", 5000);
		TH_CHECK(m != NULL);
		TH_EQ_STR(m->topic, "anon/barrier");
		th_msg_free(m);
	}
	page = tc_sync(f.ada, "general", 0, 0);
	TH_EQ_INT(th_json_int(page, "head"), 3);
	cJSON_Delete(page);
	th_disconnect(anon);
	teardown(&f);
}


/* Topics outside chat/ behave as on a broker without mqchat. */
static void test_other_topics_untouched(void)
{
	struct fixture f;
	struct th_client *anon;
	struct th_msg *m;

	setup(&f);
	anon = th_connect(&f.b, NULL, "anon-2", 4, true);
	TH_EQ_INT(th_subscribe(anon, "sensors/#", 1), 1);
	TH_EQ_INT(th_publish(f.dee, "sensors/1", "21.5", -1, 1, NULL), 0);
	m = th_wait_msg(anon, "sensors/#", 5000);
	TH_CHECK(m != NULL);
	TH_EQ_INT(m->len, 4);
	TH_CHECK(memcmp(m->payload, "21.5", 4) == 0);
	th_msg_free(m);
	th_disconnect(anon);
	teardown(&f);
}


TH_TEST_LIST(TH_TEST(test_subscribe_is_for_members), TH_TEST(test_wildcards_deliver_only_what_one_may_read),
	     TH_TEST(test_non_members_cannot_send_or_catch_up), TH_TEST(test_removed_member_stops_at_once),
	     TH_TEST(test_reply_topics_belong_to_their_client), TH_TEST(test_anonymous_gets_nothing),
	     TH_TEST(test_other_topics_untouched))
