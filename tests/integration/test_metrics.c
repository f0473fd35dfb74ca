/*
 * test_metrics.c - $SYS/broker/mqchat/... (docs/operations.md): published retained every sys_interval
 * (1 s here), and the values move as sends, refusals and catch-ups happen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"

#define PREFIX "$SYS/broker/mqchat/"


/* Waits up to 10 s for a value of metric name that is at least min (each sys_interval brings one);
 * returns the value seen. */
static long long wait_metric_at(const char *file, int line, struct th_client *c, const char *name,
				long long min)
{
	char topic[128];
	long long deadline = th_now_ms() + 10000, last = -1;

	snprintf(topic, sizeof(topic), PREFIX "%s", name);
	while(th_now_ms() < deadline) {
		struct th_msg *m = th_wait_msg(c, topic, (int)(deadline - th_now_ms()));
		if(m == NULL) {
			break;
		}
		last = strtoll(m->payload, NULL, 10);
		th_msg_free(m);
		if(last >= min) {
			return last;
		}
	}
	th_fail(file, line, "%s stayed at %lld, below %lld", name, last, min);
	return last;
}
#define wait_metric(c, name, min) wait_metric_at(__FILE__, __LINE__, (c), (name), (min))


static void test_values_move(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *ops;
	cJSON *reply;
	struct th_msg *m;

	th_broker_start(&b, "sys_interval 1\n");
	tc_sign_in(&b, "bo", NULL);
	ops = th_connect(&b, "dee", "dee-metrics", 5, true);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 4, true);
	TH_EQ_INT(th_subscribe(ops, PREFIX "#", 0), 0);
	/* retained: the first values come at once, then one set a second */
	m = th_wait_msg(ops, PREFIX "events/stored", 5000);
	TH_CHECK(m != NULL);
	th_msg_free(m);
	TH_EQ_INT(wait_metric(ops, "users/online", 3), 3);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"ops\",\"members\":[\"bo\"]}");
	TH_EQ_INT(wait_metric(ops, "channels", 1), 1);
	for(int i = 0; i < 10; i++) {
		char cmid[16];
		snprintf(cmid, sizeof(cmid), "m%d", i);
		cJSON_Delete(tc_send(ada, "ops", cmid, "hello"));
	}
	TH_CHECK(wait_metric(ops, "events/stored", 10) >= 10);
	TH_CHECK(wait_metric(ops, "commits", 1) >= 1);
	TH_CHECK(wait_metric(ops, "db/bytes", 1) > 0);
	/* a refused send: mallory is no member */
	{
		struct th_client *mallory = th_connect(&b, "mallory", "mallory-1", 5, true);
		reply = tc_request(mallory, "chat/ops", "{\"client_msg_id\":\"x\",\"body\":\"hi\"}");
		TH_JSON(reply, "{\"ok\":false,\"kind\":\"error\",\"code\":\"not_member\",\"message\":\"*\","
			       "\"request\":\"send\",\"channel\":\"ops\","
			       "\"client_msg_id\":\"x\"}");
		cJSON_Delete(reply);
		th_disconnect(mallory);
	}
	TH_EQ_INT(wait_metric(ops, "sends/refused", 1), 1);
	/* catch-up pages */
	cJSON_Delete(tc_sync(bo, "ops", 0, 5));
	cJSON_Delete(tc_sync(bo, "ops", 5, 5));
	TH_EQ_INT(wait_metric(ops, "catchup/pages", 2), 2);
	/* commit latency: some microseconds in the interval that had commits */
	cJSON_Delete(tc_send(ada, "ops", "late", "one more"));
	TH_CHECK(wait_metric(ops, "commit/latency/p99", 1) > 0);
	th_disconnect(bo);
	TH_EQ_INT(wait_metric(ops, "users/online", 0) <= 3, 1);
	/* the rest are there, retained, for a subscriber that comes later */
	{
		const char *names[] = {"push/pending", "push/failed",     "media/bytes",
				       "wal/bytes",    "checkpoint/last", "edges/connected"};
		struct th_client *late = th_connect(&b, "eve", "eve-metrics", 5, true);
		for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			char topic[128];
			snprintf(topic, sizeof(topic), PREFIX "%s", names[i]);
			TH_EQ_INT(th_subscribe(late, topic, 0), 0);
			m = th_wait_msg(late, topic, 5000);
			TH_CHECKF(m != NULL, "no %s", topic);
			th_msg_free(m);
		}
		th_disconnect(late);
	}
	th_disconnect(ada);
	th_disconnect(ops);
	th_broker_stop(&b);
}


static void test_sys_interval_zero_publishes_nothing(void)
{
	struct th_broker b;
	struct th_client *ops;

	th_broker_start(&b, "sys_interval 0\n");
	ops = th_connect(&b, "dee", "dee-metrics", 5, true);
	TH_EQ_INT(th_subscribe(ops, PREFIX "#", 0), 0);
	cJSON_Delete(tc_api(ops, "{\"op\":\"create\",\"channel\":\"x\"}")); /* a round trip: ticks have run */
	TH_EQ_INT(th_queued(ops, PREFIX "#"), 0);
	th_disconnect(ops);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_values_move), TH_TEST(test_sys_interval_zero_publishes_nothing))
