/*
 * test_offline.c - what a device gets while it is away (docs/protocol.md, "Delivery guarantees"): a
 * persistent session subscribed at QoS 1 finds the events that came meanwhile queued, in seq order;
 * after a broker restart (queues are in memory) or beyond max_queued_messages it finds fewer, sees the
 * gap by seq, and catch-up closes it: every event exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"

#define WAIT_MS 5000
#define MAX_SEQ 64


/* Waits until the broker has logged the end of client_id's connection `nth` time (1: the first). The
 * broker acknowledges a disconnection to nobody, so this is how a test knows the device is away before
 * anything is sent to it. */
static void wait_gone(const struct th_broker *b, const char *client_id, int nth)
{
	char needle[160];

	snprintf(needle, sizeof(needle), "Client %s disconnected", client_id);
	for(long long deadline = th_now_ms() + WAIT_MS;;) {
		char *log = th_broker_log(b);
		int n = 0;

		for(const char *p = strstr(log, needle); p; p = strstr(p + 1, needle)) {
			n++;
		}
		free(log);
		if(n >= nth) {
			return;
		}
		TH_CHECKF(th_now_ms() < deadline, "the broker did not log \"%s\" %d times", needle, nth);
		th_sleep_ms(5);
	}
}


/* The next message on chat/<ch> must be the event with this seq (and body, if not NULL), at QoS 1. */
#define expect_event(c, ch, seq, body) expect_event_at(__FILE__, __LINE__, (c), (ch), (seq), (body))

static void expect_event_at(const char *file, int line, struct th_client *c, const char *ch, long long seq,
			    const char *body)
{
	char topic[128];
	struct th_msg *m;
	cJSON *ev;

	snprintf(topic, sizeof(topic), "chat/%s", ch);
	m = th_wait_msg(c, topic, WAIT_MS);
	if(m == NULL) {
		th_fail(file, line, "%s: no event on %s, expected seq %lld", th_client_id(c), topic, seq);
	}
	ev = th_json_parse((char *)m->payload);
	if(th_json_int(ev, "seq") != seq || m->qos != 1
	   || (body && (!th_json_str(ev, "body") || strcmp(th_json_str(ev, "body"), body) != 0))) {
		th_fail(file, line, "%s: expected seq %lld (%s) at QoS 1, got QoS %d: %s", th_client_id(c),
			seq, body ? body : "any body", m->qos, (char *)m->payload);
	}
	cJSON_Delete(ev);
	th_msg_free(m);
}


/* The recommended setup: a persistent session subscribed at QoS 1 that is briefly away gets what it
 * missed, in order, as soon as it is back, without subscribing again. */
static void queued_while_briefly_offline(int protocol)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	char cmid[16], body[32];

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	bo = th_connect(&b, "bo", "bo-phone", protocol, false);
	TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1);
	th_disconnect(bo);
	wait_gone(&b, "bo-phone", 1);

	for(int i = 1; i <= 5; i++) {
		snprintf(cmid, sizeof(cmid), "m%d", i);
		snprintf(body, sizeof(body), "while away %d", i);
		cJSON_Delete(tc_send(ada, "general", cmid, body));
	}
	bo = th_connect(&b, "bo", "bo-phone", protocol, false);
	for(int i = 1; i <= 5; i++) {
		snprintf(body, sizeof(body), "while away %d", i);
		expect_event(bo, "general", 2 + i, body);
	}
	/* and then live, with nothing in between */
	cJSON_Delete(tc_send(ada, "general", "live", "live"));
	expect_event(bo, "general", 8, "live");
	TH_EQ_INT(th_queued(bo, "#"), 0);
	th_disconnect(bo);
	th_disconnect(ada);
	th_broker_stop(&b);
}


static void test_queued_while_briefly_offline_mqtt5(void)
{
	queued_while_briefly_offline(5);
}


static void test_queued_while_briefly_offline_mqtt311(void)
{
	queued_while_briefly_offline(4);
}


/* After a restart the session and its queue are gone; catch-up from the last seq returns exactly what
 * was missed, from the same log (same epoch). */
static void test_restart_loses_the_queue_not_the_events(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *page, *events;
	char *epoch;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	bo = th_connect(&b, "bo", "bo-phone", 5, false);
	TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1);
	page = tc_sync(bo, "general", 0, 0);
	epoch = strdup(th_json_str(page, "epoch"));
	cJSON_Delete(page);
	cJSON_Delete(tc_send(ada, "general", "m3", "seen live"));
	expect_event(bo, "general", 3, "seen live"); /* bo's last seq: 3 */
	th_disconnect(bo);
	wait_gone(&b, "bo-phone", 1);
	cJSON_Delete(tc_send(ada, "general", "m4", "missed 4"));
	cJSON_Delete(tc_send(ada, "general", "m5", "missed 5"));
	cJSON_Delete(tc_send(ada, "general", "m6", "missed 6"));
	th_disconnect(ada);
	th_broker_restart(&b);

	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-phone", 5, false);
	page = tc_sync(bo, "general", 3, 0);
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":3,"
		      "\"next\":6,"
		      "\"head\":6,\"more\":false,\"events\":[\"*\",\"*\",\"*\"]}");
	TH_EQ_STR(th_json_str(page, "epoch"), epoch);
	events = cJSON_GetObjectItem(page, "events");
	for(int i = 0; i < 3; i++) {
		char body[16];
		snprintf(body, sizeof(body), "missed %d", 4 + i);
		TH_EQ_INT(th_json_int(cJSON_GetArrayItem(events, i), "seq"), 4 + i);
		TH_EQ_STR(th_json_str(cJSON_GetArrayItem(events, i), "body"), body);
	}
	cJSON_Delete(page);

	/* nothing was queued: once subscribed again, the first event is a new one */
	TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1);
	cJSON_Delete(tc_send(ada, "general", "m7", "after the restart"));
	expect_event(bo, "general", 7, "after the restart");
	TH_EQ_INT(th_queued(bo, "#"), 0);
	free(epoch);
	th_disconnect(bo);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* A client's copy of one channel, converging as docs/protocol.md says: apply the event with seq
 * last + 1, ignore those it has, catch up on a gap. */
struct replica {
	const char *channel;
	long long last;
	int copies[MAX_SEQ + 1];   /* times each seq was applied */
	int received[MAX_SEQ + 1]; /* times each seq arrived live */
	int gaps;
};


static void replica_apply(struct replica *r, const cJSON *ev)
{
	long long seq = th_json_int(ev, "seq");

	TH_EQ_INT(seq, r->last + 1);
	TH_CHECK(seq <= MAX_SEQ);
	r->copies[seq]++;
	r->last = seq;
}


static void replica_catch_up(struct replica *r, struct th_client *c)
{
	bool more = true;

	while(more) {
		cJSON *page = tc_sync(c, r->channel, r->last, 0);
		const cJSON *ev;

		TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(page, "ok")));
		cJSON_ArrayForEach(ev, cJSON_GetObjectItem(page, "events")) {
			replica_apply(r, ev);
		}
		TH_EQ_INT(th_json_int(page, "next"), r->last);
		more = cJSON_IsTrue(cJSON_GetObjectItem(page, "more"));
		cJSON_Delete(page);
	}
}


/* Takes the next live event of c; returns its seq. */
static long long replica_take_live(struct replica *r, struct th_client *c)
{
	char topic[128];
	struct th_msg *m;
	cJSON *ev;
	long long seq;

	snprintf(topic, sizeof(topic), "chat/%s", r->channel);
	m = th_wait_msg(c, topic, WAIT_MS);
	TH_CHECKF(m != NULL, "no live event after seq %lld", r->last);
	ev = th_json_parse((char *)m->payload);
	seq = th_json_int(ev, "seq");
	TH_CHECK(seq >= 1 && seq <= MAX_SEQ);
	r->received[seq]++;
	if(seq > r->last + 1) {
		r->gaps++;
		replica_catch_up(r, c);
	}
	if(seq == r->last + 1) {
		replica_apply(r, ev);
	}
	cJSON_Delete(ev);
	th_msg_free(m);
	return seq;
}


/* With max_queued_messages 5 the broker keeps 5 of the 12 events sent while bo is away; bo notices the
 * gap by seq at the next live event and catches up: every seq once, none missing. */
static void test_queue_overflow_is_closed_by_catch_up(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	struct replica r = {.channel = "general"};
	char cmid[16];
	int queued = 0;

	th_broker_start(&b, "max_queued_messages 5\n");
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	bo = th_connect(&b, "bo", "bo-phone", 5, false);
	TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1); /* subscribe, then catch up */
	replica_catch_up(&r, bo);
	TH_EQ_INT(r.last, 2);
	cJSON_Delete(tc_send(ada, "general", "m3", "live"));
	TH_EQ_INT(replica_take_live(&r, bo), 3);
	th_disconnect(bo);
	wait_gone(&b, "bo-phone", 1);

	for(int seq = 4; seq <= 15; seq++) {
		snprintf(cmid, sizeof(cmid), "m%d", seq);
		cJSON_Delete(tc_send(ada, "general", cmid, "while away"));
	}
	bo = th_connect(&b, "bo", "bo-phone", 5, false);
	cJSON_Delete(tc_send(ada, "general", "m16", "back"));
	while(r.received[16] == 0) { /* the live marker comes after whatever was queued */
		if(replica_take_live(&r, bo) < 16) {
			queued++;
		}
	}
	TH_EQ_INT(r.last, 16);
	th_log("%d of the 12 events sent while away were queued; %d gap(s) caught up", queued, r.gaps);
	TH_CHECKF(queued >= 1 && queued < 12, "%d of 12 queued", queued);
	TH_CHECK(r.gaps >= 1);
	for(int seq = 1; seq <= 16; seq++) {
		TH_EQ_INT(r.copies[seq], 1);
		TH_CHECK(r.received[seq] <= 1); /* the broker delivers each live event at most once */
	}
	TH_EQ_INT(r.copies[17], 0);
	TH_EQ_INT(th_queued(bo, "chat/general"), 0);
	th_disconnect(bo);
	th_disconnect(ada);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_queued_while_briefly_offline_mqtt5),
	     TH_TEST(test_queued_while_briefly_offline_mqtt311),
	     TH_TEST(test_restart_loses_the_queue_not_the_events),
	     TH_TEST(test_queue_overflow_is_closed_by_catch_up))
