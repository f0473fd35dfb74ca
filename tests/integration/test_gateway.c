/*
 * test_gateway.c - the gateway tier: a core and edges (plugin_opt_role edge), separate mosquitto
 * processes on loopback ports, bridged with Mosquitto's own bridge.
 *
 * Members on different edges chat both ways; the worked example with Ada, Bo and Cy on three edges;
 * kill -9 of the core mid-traffic keeps every edge client connected, answers unavailable while it is
 * away and loses no acknowledged event; killing an edge moves its clients to another without a gap;
 * a member removed at the core stops receiving on every edge; a non-member on any edge gets nothing;
 * presence counts devices on every edge, and survives a stalled core; typing is per (edge, device);
 * a snapshot the core could not build whole is not sent, and the edge asks again; v5
 * request/response works through an edge.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mqtt_protocol.h>

#include "th_chat.h"
#include "th_gateway.h"

#define MAX_SEQ 512


/* Subscribes c, a member, to filter at QoS 1. Membership reaches each edge through its bridge, so an
 * edge other than the one that carried the request may see a new member a few milliseconds after the
 * requester got its reply; until then a named subscription is refused there. */
static void subscribe_member(struct th_client *c, const char *filter)
{
	th_wait_until(th_subscribe(c, filter, 1) == 1, 5000);
}


/* Catches c up on ch from since to the head, marking each seq in seen[]; fails on a duplicate
 * page entry or a broken chain. Returns the head. */
static long long catch_up(struct th_client *c, const char *ch, long long since, bool *seen)
{
	long long head = 0;

	for(int pages = 0; pages < 100; pages++) {
		cJSON *page = tc_sync(c, ch, since, 100), *ev;
		TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(page, "ok")), "sync failed: %s",
			  th_json_print(page));
		TH_EQ_INT(th_json_int(page, "since"), since);
		cJSON_ArrayForEach(ev, cJSON_GetObjectItem(page, "events")) {
			long long seq = th_json_int(ev, "seq");
			TH_EQ_INT(seq, since + 1);
			TH_CHECK(seq < MAX_SEQ);
			seen[seq] = true;
			since = seq;
		}
		head = th_json_int(page, "head");
		if(!cJSON_IsTrue(cJSON_GetObjectItem(page, "more"))) {
			cJSON_Delete(page);
			return head;
		}
		cJSON_Delete(page);
	}
	th_fail(__FILE__, __LINE__, "more than 100 pages");
}


/* Marks the seq of every live event of chat/<ch> queued for c in seen[]; returns the highest. */
static long long drain_live(struct th_client *c, const char *ch, bool *seen, int wait_ms)
{
	char topic[128];
	long long top = 0;
	cJSON *ev;

	snprintf(topic, sizeof(topic), "chat/%s", ch);
	while((ev = th_wait_json(c, topic, wait_ms)) != NULL) {
		long long seq = th_json_int(ev, "seq");
		TH_CHECK(seq > 0 && seq < MAX_SEQ);
		seen[seq] = true;
		top = seq > top ? seq : top;
		cJSON_Delete(ev);
	}
	return top;
}


/* Members on different edges chat both ways; acks go to the sender only, events to every member. */
static void test_members_on_two_edges_chat_both_ways(void)
{
	struct th_broker core, e1, e2;
	struct th_client *ada, *bo;
	cJSON *ack, *ev;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	bo = th_connect(&e2, "bo", "bo-phone", 4, true);
	/* bo is a user once the core has heard of his connection to edge-2: a request of his, which
	 * follows that report up the same bridge, proves it has */
	tc_api_ok(bo, "{\"op\":\"channels\"}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	subscribe_member(ada, "chat/general");
	subscribe_member(bo, "chat/general");

	ack = tc_send(ada, "general", "c-1", "hi bo");
	TH_JSON(ack, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-1\",\"id\":"
		     "\"*\","
		     "\"seq\":3,\"ts\":\"*\",\"duplicate\":false}");
	cJSON_Delete(ack);
	ev = th_expect_json(bo, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":3,\"type\":\"message\",\"from\":\"ada\","
		    "\"device\":\"ada-laptop\",\"ts\":\"*\",\"client_msg_id\":\"c-1\",\"body\":\"hi bo\"}");
	cJSON_Delete(ev);
	ev = th_expect_json(ada, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 3);
	cJSON_Delete(ev);

	ack = tc_send(bo, "general", "c-2", "hi ada");
	TH_EQ_INT(th_json_int(ack, "seq"), 4);
	cJSON_Delete(ack);
	ev = th_expect_json(ada, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":4,\"type\":\"message\",\"from\":\"bo\","
		    "\"device\":\"bo-phone\",\"ts\":\"*\",\"client_msg_id\":\"c-2\",\"body\":\"hi ada\"}");
	cJSON_Delete(ev);
	ev = th_expect_json(bo, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 4);
	cJSON_Delete(ev);
	/* typing and read cursors cross the edges too */
	TH_EQ_INT(th_subscribe(ada, "chat/general/typing", 0), 0);
	TH_EQ_INT(th_subscribe(ada, "chat/general/read", 1), 1);
	TH_EQ_INT(th_publish(bo, "chat/general/typing", "{\"typing\":true}", -1, 0, NULL), 0);
	ev = th_expect_json(ada, "chat/general/typing");
	TH_JSON(ev, "{\"channel\":\"general\",\"user\":\"bo\",\"device\":\"bo-phone\",\"typing\":true,"
		    "\"ts\":\"*\"}");
	cJSON_Delete(ev);
	TH_EQ_INT(th_publish(bo, "chat/general/read", "{\"seq\":4}", -1, 1, NULL), 0);
	ev = th_expect_json(ada, "chat/general/read");
	TH_JSON(ev, "{\"channel\":\"general\",\"user\":\"bo\",\"seq\":4,\"ts\":\"*\"}");
	cJSON_Delete(ev);
	/* nothing else reached either of them: no duplicate, no other client's reply */
	th_sleep_ms(200);
	TH_EQ_INT(th_queued(ada, "#"), 0);
	TH_EQ_INT(th_queued(bo, "#"), 0);

	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&e1);
	th_broker_stop(&e2);
	th_broker_stop(&core);
}


/* The seeds' worked example with Ada, Bo and Cy each on their own edge. */
static void test_worked_example_on_three_edges(void)
{
	struct th_broker core, e1, e2, e3;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	th_edge_start(&e3, &core, 3);
	tc_worked_example(&e1, &e2, &e3);
}


/* Takes the replies queued for c, waiting up to wait_ms for each next one: marks each acked seq in
 * acked and counts it in *nacked; errors are dropped. */
static void collect_acks(struct th_client *c, int wait_ms, bool acked[MAX_SEQ], int *nacked)
{
	cJSON *reply;

	while((reply = th_wait_json(c, tc_reply_topic(c), wait_ms)) != NULL) {
		if(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok"))) {
			acked[th_json_int(reply, "seq")] = true;
			(*nacked)++;
		}
		cJSON_Delete(reply);
	}
}


/* kill -9 of the core in the middle of a stream of sends: edge clients keep their connections; while
 * the core is away a send is answered unavailable (JSON error and v5 PUBACK 0x87); once it is back,
 * every event that was acknowledged is in the log, and a live subscriber that kept its socket sees the
 * head re-sent and catches up with no gap. */
static void test_core_kill9_keeps_edge_clients_and_loses_no_acked_event(void)
{
	struct th_broker core, e1, e2;
	struct th_client *ada, *bo;
	bool acked[MAX_SEQ] = {false}, bo_seen[MAX_SEQ] = {false}, logged[MAX_SEQ] = {false};
	char cmid[32];
	cJSON *reply;
	int sent = 0, ready1, ready2, nacked = 0, killed_after = 0;
	long long head, top;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	bo = th_connect(&e2, "bo", "bo-phone", 4, true);
	/* bo is a user once the core has heard of his connection to edge-2: a request of his, which
	 * follows that report up the same bridge, proves it has */
	tc_api_ok(bo, "{\"op\":\"channels\"}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	subscribe_member(bo, "chat/general");

	/* a stream of sends, about one every 5 ms; the core is killed once 10 of them are acknowledged,
	 * and 20 more follow (at whatever pace the machine allows: under valgrind, slowly) */
	for(sent = 1; killed_after == 0 || sent <= killed_after + 20; sent++) {
		char body[128];
		TH_CHECKF(sent < MAX_SEQ - 10, "only %d of %d sends acknowledged", nacked, sent);
		snprintf(cmid, sizeof(cmid), "k-%d", sent);
		snprintf(body, sizeof(body), "{\"client_msg_id\":\"%s\",\"body\":\"n%d\"}", cmid, sent);
		TH_EQ_INT(th_publish_async(ada, "chat/general", body, -1, 1, NULL), MOSQ_ERR_SUCCESS);
		collect_acks(ada, 5, acked, &nacked);
		if(nacked >= 10 && killed_after == 0) {
			th_broker_kill9(&core);
			killed_after = sent;
		}
	}
	TH_CHECK(killed_after > 0);
	/* acks of what the core committed before it died */
	collect_acks(ada, 1500, acked, &nacked);
	th_wait_until(th_broker_log_contains(&e1, "no heartbeat from core"), 5000);
	th_wait_until(th_broker_log_contains(&e2, "no heartbeat from core"), 5000);

	/* the core is down: sockets stay, sends are refused with unavailable */
	{
		mosquitto_property *props = NULL;
		TH_EQ_INT(th_publish(ada, "chat/general", "{\"client_msg_id\":\"down-1\",\"body\":\"x\"}", -1,
				     1, props),
			  0x87);
		reply = th_expect_json(ada, tc_reply_topic(ada));
		TH_JSON(reply, "{\"ok\":false,\"kind\":\"error\",\"code\":\"unavailable\",\"message\":\"*\","
			       "\"request\":\"send\",\"channel\":\"general\",\"client_msg_id\":\"down-1\"}");
		cJSON_Delete(reply);
		reply = tc_sync(bo, "general", 0, 10);
		tc_expect_error(reply, "unavailable", NULL);
	}
	TH_CHECK(!th_disconnected(ada));
	TH_CHECK(!th_disconnected(bo));

	/* the core comes back on the same port; edges re-snapshot; nobody reconnected */
	ready1 = th_edge_ready_count(&e1);
	ready2 = th_edge_ready_count(&e2);
	th_broker_restart(&core);
	th_edge_wait_ready(&e1, ready1, 10000);
	th_edge_wait_ready(&e2, ready2, 10000);
	TH_CHECK(!th_disconnected(ada));
	TH_CHECK(!th_disconnected(bo));

	/* Bo saw events live before the crash and the re-sent head after it; then fills the gaps */
	top = drain_live(bo, "general", bo_seen, 1000);
	head = catch_up(bo, "general", 0, logged);
	TH_EQ_INT(top, head); /* the head was re-sent to the clients that kept their sockets */
	for(long long seq = 1; seq <= head; seq++) {
		TH_CHECKF(logged[seq], "seq %lld missing from the log", seq);
	}
	for(int seq = 0; seq < MAX_SEQ; seq++) {
		TH_CHECKF(!acked[seq] || (seq <= head && logged[seq]), "acked seq %d lost", seq);
	}
	/* what was published after the kill was refused or lost, never stored late */
	TH_CHECK(head <= killed_after + 2);
	th_log("core killed after %d of %d sends, %d acknowledged; head %lld after restart", killed_after,
	       sent - 1, nacked, head);

	/* and chat goes on */
	reply = tc_send(ada, "general", "after", "back");
	TH_EQ_INT(th_json_int(reply, "seq"), head + 1);
	cJSON_Delete(reply);
	reply = th_expect_json(bo, "chat/general");
	TH_EQ_INT(th_json_int(reply, "seq"), head + 1);
	cJSON_Delete(reply);
	th_disconnect(ada);
	th_disconnect(bo);
}


/* An edge dies: its clients connect to another edge and catch up from their cursor without a gap;
 * the core takes the dead edge's devices offline. */
static void test_edge_kill_moves_clients_without_gap(void)
{
	struct th_broker core, e1, e2;
	struct th_client *ada, *bo;
	bool seen[MAX_SEQ] = {false};
	long long last, head;
	char cmid[32];
	cJSON *ack;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	bo = th_connect(&e2, "bo", "bo-phone", 4, true);
	/* bo is a user once the core has heard of his connection to edge-2: a request of his, which
	 * follows that report up the same bridge, proves it has */
	tc_api_ok(bo, "{\"op\":\"channels\"}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/general/presence", 1), 1);
	subscribe_member(bo, "chat/general");
	for(int i = 0; i < 5; i++) {
		snprintf(cmid, sizeof(cmid), "b-%d", i);
		cJSON_Delete(tc_send(ada, "general", cmid, "before"));
	}
	th_wait_until(th_queued(bo, "chat/general") == 5, 5000);
	last = drain_live(bo, "general", seen, 0);
	TH_EQ_INT(last, 7);

	th_broker_kill9(&e2);
	TH_CHECK(th_wait_disconnect(bo, 5000) >= 0);
	th_disconnect(bo);
	tc_expect_presence(ada, "general", "bo", false); /* the core saw e2's bridge go */
	for(int i = 0; i < 5; i++) {
		snprintf(cmid, sizeof(cmid), "w-%d", i);
		cJSON_Delete(tc_send(ada, "general", cmid, "while bo moves"));
	}

	/* Bo's client moves to edge-1 and catches up from its cursor */
	bo = th_connect(&e1, "bo", "bo-phone", 4, true);
	tc_expect_presence(ada, "general", "bo", true);
	subscribe_member(bo, "chat/general");
	head = catch_up(bo, "general", last, seen);
	TH_EQ_INT(head, 12);
	for(long long seq = 3; seq <= head; seq++) {
		TH_CHECKF(seen[seq], "seq %lld never reached bo", seq);
	}
	ack = tc_send(ada, "general", "c-live", "live again");
	cJSON_Delete(ack);
	ack = th_expect_json(bo, "chat/general");
	TH_EQ_INT(th_json_int(ack, "seq"), 13);
	cJSON_Delete(ack);
	th_disconnect(ada);
	th_disconnect(bo);
}


/* A member removed at the core stops receiving on every edge, on every device, at once. */
static void test_removed_member_stops_on_every_edge(void)
{
	struct th_broker core, e1, e2, e3;
	struct th_client *ada, *bo, *cy2, *cy3;
	cJSON *ev;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	th_edge_start(&e3, &core, 3);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	bo = th_connect(&e1, "bo", "bo-phone", 5, true);
	cy2 = th_connect(&e2, "cy", "cy-phone", 5, true);
	cy3 = th_connect(&e3, "cy", "cy-laptop", 4, true);
	tc_api_ok(cy2, "{\"op\":\"channels\"}"); /* the core has counted cy, a user from now on */
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"ops\",\"visibility\":\"private\","
		       "\"members\":[\"bo\",\"cy\"]}");
	subscribe_member(bo, "chat/ops");
	subscribe_member(cy2, "chat/ops");
	TH_EQ_INT(th_subscribe(cy3, "chat/#", 1), 1);
	cJSON_Delete(tc_send(ada, "ops", "c-1", "before"));
	ev = tc_expect_event(cy2, "ops", true);
	TH_EQ_INT(th_json_int(ev, "seq"), 4);
	cJSON_Delete(ev);
	ev = tc_expect_event(cy3, "ops", true);
	TH_EQ_INT(th_json_int(ev, "seq"), 4);
	cJSON_Delete(ev);

	tc_api_ok(ada, "{\"op\":\"remove\",\"channel\":\"ops\",\"user\":\"cy\"}");
	cJSON_Delete(tc_send(ada, "ops", "c-2", "after"));
	/* bo, on the same edge as the sender, sees the leave and the message ... */
	ev = th_expect_json(bo, "chat/ops");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"ops\",\"seq\":4,\"type\":\"message\",\"from\":\"ada\","
		    "\"device\":\"ada-laptop\",\"ts\":\"*\",\"client_msg_id\":\"c-1\",\"body\":\"before\"}");
	cJSON_Delete(ev);
	ev = th_expect_json(bo, "chat/ops");
	TH_EQ_STR(th_json_str(ev, "type"), "leave");
	cJSON_Delete(ev);
	ev = th_expect_json(bo, "chat/ops");
	TH_EQ_INT(th_json_int(ev, "seq"), 6);
	cJSON_Delete(ev);
	/* ... and each device of cy's, on either edge, gets its own leave (it is told) but not the
	 * message after it */
	ev = th_expect_json(cy2, "chat/ops");
	TH_EQ_STR(th_json_str(ev, "type"), "leave");
	TH_EQ_INT(th_json_int(ev, "seq"), 5);
	cJSON_Delete(ev);
	ev = th_expect_json(cy3, "chat/ops");
	TH_EQ_STR(th_json_str(ev, "type"), "leave");
	cJSON_Delete(ev);
	th_sleep_ms(300); /* what would arrive comes with bo's, through the same core publish */
	TH_EQ_INT(th_queued(cy2, "#"), 0);
	TH_EQ_INT(th_queued(cy3, "chat/ops"), 0); /* (presence from before the removal may be queued) */
	/* and a named subscription is refused now */
	TH_EQ_INT(th_subscribe(cy2, "chat/ops/typing", 0), 0x87);
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy2);
	th_disconnect(cy3);
}


/* A non-member on any edge gets nothing of a channel, not through # either, and nobody but a bridge
 * user may touch chat/_edge/. */
static void test_non_member_on_any_edge_gets_nothing(void)
{
	struct th_broker core, e1, e2;
	struct th_client *ada, *m1, *m2, *mc;
	cJSON *ev;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	m1 = th_connect(&e1, "mallory", "m-1", 5, true);
	m2 = th_connect(&e2, "mallory", "m-2", 5, true);
	mc = th_connect(&core, "mallory", "m-core", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"secret\",\"visibility\":\"private\"}");
	subscribe_member(ada, "chat/secret");
	TH_EQ_INT(th_subscribe(m1, "chat/secret", 1), 0x87);
	TH_EQ_INT(th_subscribe(m1, "chat/#", 1), 1);
	TH_EQ_INT(th_subscribe(m2, "#", 1), 1);
	TH_EQ_INT(th_subscribe(m2, "chat/_edge/#", 1), 0x87);
	TH_EQ_INT(th_subscribe(mc, "chat/_edge/#", 1), 0x87);
	TH_EQ_INT(th_subscribe(mc, "#", 1), 1);

	cJSON_Delete(tc_send(ada, "secret", "s-1", "the plan"));
	ev = th_expect_json(ada, "chat/secret");
	TH_EQ_INT(th_json_int(ev, "seq"), 2);
	cJSON_Delete(ev);
	/* a non-member's send is refused by the core, through the edge */
	ev = tc_request(m2, "chat/secret", "{\"client_msg_id\":\"m\",\"body\":\"let me in\"}");
	tc_expect_error(ev, "no_such_channel", "there is no channel #secret"); /* as if there were none */
	/* forging envelopes: refused at the edge and at the core */
	ev = tc_request(m1, "chat/_edge/up/edge-1",
			"{\"v\":1,\"kind\":\"publish\",\"user\":\"ada\",\"device\":\"x\","
			"\"topic\":\"chat/secret\",\"payload\":\"aGk=\"}");
	tc_expect_error(ev, "bad_topic", NULL);
	ev = tc_request(mc, "chat/_edge/up/edge-1",
			"{\"v\":1,\"kind\":\"publish\",\"user\":\"ada\",\"device\":\"x\","
			"\"topic\":\"chat/secret\",\"payload\":\"aGk=\"}");
	tc_expect_error(ev, "bad_topic", NULL);
	th_sleep_ms(300);
	TH_EQ_INT(th_queued(m1, "#"), 0);
	TH_EQ_INT(th_queued(m2, "#"), 0);
	TH_EQ_INT(th_queued(mc, "chat/#"), 0);
	ev = tc_sync(ada, "secret", 0, 0);
	TH_EQ_INT(th_json_int(ev, "head"), 2); /* the forged envelopes stored nothing */
	cJSON_Delete(ev);

	/* posing as a bridge: on an edge, the id of its bridge to the core (whose publishes the edge
	 * takes for the core's word); on the core, an edge's bridge id (where that edge's answers go).
	 * Both refused at CONNECT, with a password or without, and the real bridges stay up. */
	{
		struct th_client *impostor = NULL;
		TH_CHECK(th_connect_rc(&e1, "mallory", "mallory-pw", "core-link.edge-1", 5, &impostor) != 0);
		TH_CHECK(th_connect_rc(&e1, NULL, NULL, "core-link.edge-1", 5, &impostor) != 0);
		TH_CHECK(th_connect_rc(&core, "mallory", "mallory-pw", "edge-1", 5, &impostor) != 0);
		TH_CHECK(th_connect_rc(&core, "mallory", "mallory-pw", "edge-2", 4, &impostor) != 0);
		TH_CHECK(impostor == NULL);
		TH_CHECK(th_broker_log_contains(&e1, "the core's bridge id"));
		TH_CHECK(th_broker_log_contains(&core, "an edge's bridge id"));
	}
	cJSON_Delete(tc_send(ada, "secret", "s-2", "still here"));
	ev = th_expect_json(ada, "chat/secret");
	TH_EQ_INT(th_json_int(ev, "seq"), 3);
	cJSON_Delete(ev);
	th_disconnect(ada);
	th_disconnect(m1);
	th_disconnect(m2);
	th_disconnect(mc);
}


/* A user is online while any device anywhere is connected: on any edge or on the core itself. */
static void test_presence_aggregates_devices_across_edges(void)
{
	struct th_broker core, e1, e2;
	struct th_client *ada, *bo1, *bo2, *boc;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	tc_sign_in(&core, "bo", "cy", NULL);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/general/presence", 0), 0);

	bo1 = th_connect(&e1, "bo", "bo-1", 4, true);
	tc_expect_presence(ada, "general", "bo", true);
	bo2 = th_connect(&e2, "bo", "bo-2", 4, true);
	/* Each edge reports its own devices over its own bridge: a request of bo-2's answered by the
	 * core means its connect, sent before, has been counted there. */
	tc_api_ok(bo2, "{\"op\":\"channels\"}");
	boc = th_connect(&core, "bo", "bo-c", 4, true);
	th_disconnect(bo1);
	th_disconnect(boc);
	th_sleep_ms(300);
	TH_EQ_INT(th_queued(ada, "chat/general/presence"), 0); /* still online on edge-2 */
	th_disconnect(bo2);
	tc_expect_presence(ada, "general", "bo", false);

	/* Another user cannot take a client id over on an edge (docs/security.md): bo keeps his session
	 * and his presence; once his clean session ended, the id is free for cy. */
	{
		struct th_client *shared_bo, *shared_cy = NULL;
		tc_api_ok(ada, "{\"op\":\"invite\",\"channel\":\"general\",\"user\":\"cy\"}");
		shared_bo = th_connect(&e2, "bo", "shared-1", 4, true);
		tc_expect_presence(ada, "general", "bo", true);
		TH_CHECK(th_connect_rc(&e2, "cy", "cy-pw", "shared-1", 4, &shared_cy) != 0);
		th_sleep_ms(300);
		TH_EQ_INT(th_queued(ada, "chat/general/presence"), 0); /* bo stays online, cy never came */
		th_disconnect(shared_bo);
		tc_expect_presence(ada, "general", "bo", false);
		shared_cy = th_connect(&e2, "cy", "shared-1", 4, true);
		tc_expect_presence(ada, "general", "cy", true);
		th_disconnect(shared_cy);
		tc_expect_presence(ada, "general", "cy", false);
	}
	th_disconnect(ada);
}


/* An MQTT v5 client on an edge gets its answer on its Response Topic with its Correlation Data. */
static void test_response_topic_through_edge(void)
{
	struct th_broker core, e1;
	struct th_client *ada;
	mosquitto_property *props = NULL;
	struct th_msg *m;
	const mosquitto_property *p;
	void *corr = NULL;
	uint16_t corr_len = 0;
	cJSON *reply;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "my/answers");
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "\x00\x01req", 5);
	TH_EQ_INT(th_publish(ada, "chat/_api", "{\"op\":\"channels\",\"ref\":7}", -1, 1, props), 0x10);
	mosquitto_property_free_all(&props);
	m = th_wait_msg(ada, "my/answers", 5000);
	TH_CHECK(m != NULL);
	reply = th_json_parse((char *)m->payload);
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"channels\",\"ref\":7,\"channels\":[]}");
	p = mosquitto_property_read_binary(m->props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
	TH_CHECK(p != NULL);
	TH_EQ_INT(corr_len, 5);
	TH_CHECK(memcmp(corr, "\x00\x01req", 5) == 0);
	free(corr);
	cJSON_Delete(reply);
	th_msg_free(m);
	th_disconnect(ada);
}


/* A core that stalls (SIGSTOP) without dropping its bridges: the edges answer unavailable while it
 * is silent and, when it answers again with the same boot id, go back to forwarding at once without
 * a new snapshot, since no event was lost in between. */
static void test_core_stall_answers_unavailable_then_recovers(void)
{
	struct th_broker core, e1;
	struct th_client *ada;
	cJSON *reply;
	int ready;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	ready = th_edge_ready_count(&e1);
	TH_CHECK(kill(core.pid, SIGSTOP) == 0);
	th_wait_until(th_broker_log_contains(&e1, "no heartbeat from core"), 5000);
	reply = tc_request(ada, "chat/general", "{\"client_msg_id\":\"s-1\",\"body\":\"x\"}");
	tc_expect_error(reply, "unavailable",
			"the chat core is unreachable: nothing was stored, safe to retry");
	TH_CHECK(kill(core.pid, SIGCONT) == 0);
	th_wait_until(th_broker_log_contains(&e1, "answers again; its view is intact"), 5000);
	TH_EQ_INT(th_edge_ready_count(&e1), ready); /* no new snapshot */
	reply = tc_send(ada, "general", "s-2", "back");
	TH_EQ_INT(th_json_int(reply, "seq"), 2);
	cJSON_Delete(reply);
	TH_CHECK(!th_disconnected(ada));
	th_disconnect(ada);
}


/* The online state of user in ch as the core's `members` answer gives it: 1 online, 0 offline. */
static int member_online(struct th_client *c, const char *ch, const char *user)
{
	cJSON *reply = tc_api(c, "{\"op\":\"members\",\"channel\":\"%s\"}", ch), *m;
	int online = -1;

	cJSON_ArrayForEach(m, cJSON_GetObjectItem(reply, "members")) {
		if(strcmp(th_json_str(m, "user"), user) == 0) {
			online = cJSON_IsTrue(cJSON_GetObjectItem(m, "online"));
		}
	}
	TH_CHECKF(online >= 0, "%s is not in the members of #%s: %s", user, ch, th_json_print(reply));
	cJSON_Delete(reply);
	return online;
}


/* The edge answers c's request itself with unavailable: it has read everything c sent before, and
 * the tick of the loop iteration that handled an earlier connect or disconnect has run. */
static void expect_edge_unavailable(struct th_client *c)
{
	tc_expect_error(tc_api(c, "{\"op\":\"channels\"}"), "unavailable",
			"the chat core is unreachable: nothing was stored, safe to retry");
}


/* While the core is stalled (SIGSTOP, its bridges stay up) an edge cannot report its clients'
 * connects and disconnects; when the core answers again with its view intact, what happened in
 * between reaches it: Cy, who connected during the stall, is online, and Bo, who left during it, is
 * not left behind as a ghost. */
static void test_core_stall_keeps_presence_of_the_edge(void)
{
	struct th_broker core, e1;
	struct th_client *ada, *bo, *cy;
	cJSON *ev;
	bool bo_offline = false, cy_online = false;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	tc_sign_in(&core, "bo", "cy", NULL);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/general/presence", 1), 1);
	bo = th_connect(&e1, "bo", "bo-phone", 4, true);
	tc_expect_presence(ada, "general", "bo", true);

	TH_CHECK(kill(core.pid, SIGSTOP) == 0);
	th_wait_until(th_broker_log_contains(&e1, "no heartbeat from core"), 5000);
	th_disconnect(bo);
	th_wait_until(th_broker_log_contains(&e1, "Client bo-phone disconnected"), 5000);
	expect_edge_unavailable(ada);
	cy = th_connect(&e1, "cy", "cy-phone", 4, true);
	expect_edge_unavailable(cy);
	TH_CHECK(kill(core.pid, SIGCONT) == 0);

	/* Ada hears both transitions, in either order */
	for(int i = 0; i < 2; i++) {
		ev = th_expect_json(ada, "chat/general/presence");
		if(strcmp(th_json_str(ev, "user"), "bo") == 0) {
			bo_offline = !cJSON_IsTrue(cJSON_GetObjectItem(ev, "online"));
		} else if(strcmp(th_json_str(ev, "user"), "cy") == 0) {
			cy_online = cJSON_IsTrue(cJSON_GetObjectItem(ev, "online"));
		}
		cJSON_Delete(ev);
	}
	TH_CHECK(bo_offline);
	TH_CHECK(cy_online);
	TH_EQ_INT(member_online(ada, "general", "bo"), 0);
	TH_EQ_INT(member_online(ada, "general", "cy"), 1);
	th_disconnect(cy);
	tc_expect_presence(ada, "general", "cy", false);
	th_disconnect(ada);
}


/* The next typing signal of #general that c receives is user's on device. */
static void expect_typing(struct th_client *c, const char *user, const char *device, bool typing)
{
	cJSON *ev = th_expect_json(c, "chat/general/typing");

	TH_EQ_STR(th_json_str(ev, "user"), user);
	TH_EQ_STR(th_json_str(ev, "device"), device);
	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(ev, "typing")) == typing, "%s typing should be %d: %s",
		  user, typing, th_json_print(ev));
	cJSON_Delete(ev);
}


/* Typing is kept per (edge, device), as presence is: the same client id on two edges is two devices
 * (one broker refuses a second user's connection with a held id; two edges cannot know of each
 * other's). One of them stopping, leaving or expiring ends its own typing, never the other's. */
static void test_same_client_id_types_on_two_edges(void)
{
	struct th_broker core, e1, e2;
	struct th_client *ada, *bo, *cy;
	bool bo_ended = false, cy_ended = false;

	/* long enough that nothing expires before the last part, which waits for it */
	th_core_start(&core, "plugin_opt_typing_timeout_ms 2500\nplugin_opt_typing_rate 0\n");
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	tc_sign_in(&core, "bo", "cy", NULL);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	th_wait_until(th_subscribe(ada, "chat/general/typing", 0) == 0, 5000);
	bo = th_connect(&e1, "bo", "shared-id", 4, true);
	cy = th_connect(&e2, "cy", "shared-id", 4, true);

	/* both type; cy's device leaves: only cy stops */
	TH_EQ_INT(th_publish(bo, "chat/general/typing", "{\"typing\":true}", -1, 1, NULL), 0);
	expect_typing(ada, "bo", "shared-id", true);
	TH_EQ_INT(th_publish(cy, "chat/general/typing", "{\"typing\":true}", -1, 1, NULL), 0);
	expect_typing(ada, "cy", "shared-id", true);
	th_disconnect(cy);
	expect_typing(ada, "cy", "shared-id", false);
	/* bo still types, and says when he stops */
	TH_EQ_INT(th_publish(bo, "chat/general/typing", "{\"typing\":false}", -1, 1, NULL), 0);
	expect_typing(ada, "bo", "shared-id", false);

	/* both type again and stop refreshing: each expires on its own */
	cy = th_connect(&e2, "cy", "shared-id", 4, true);
	TH_EQ_INT(th_publish(bo, "chat/general/typing", "{\"typing\":true}", -1, 1, NULL), 0);
	expect_typing(ada, "bo", "shared-id", true);
	TH_EQ_INT(th_publish(cy, "chat/general/typing", "{\"typing\":true}", -1, 1, NULL), 0);
	expect_typing(ada, "cy", "shared-id", true);
	for(int i = 0; i < 2; i++) {
		cJSON *ev = th_wait_json(ada, "chat/general/typing", 10000);
		TH_CHECK(ev != NULL); /* it expires */
		TH_CHECKF(!cJSON_IsTrue(cJSON_GetObjectItem(ev, "typing")), "%s", th_json_print(ev));
		bo_ended |= strcmp(th_json_str(ev, "user"), "bo") == 0;
		cy_ended |= strcmp(th_json_str(ev, "user"), "cy") == 0;
		cJSON_Delete(ev);
	}
	TH_CHECK(bo_ended && cy_ended);
	th_disconnect(bo);
	th_disconnect(cy);
	th_sleep_ms(300); /* nothing more: neither leaving device was still typing */
	TH_EQ_INT(th_queued(ada, "chat/general/typing"), 0);
	th_disconnect(ada);
}


static void write_file(const char *file, const char *text)
{
	FILE *f = fopen(file, "w");

	TH_CHECKF(f != NULL, "cannot write %s", file);
	TH_CHECK(fputs(text, f) >= 0);
	TH_CHECK(fclose(f) == 0);
}


/* A library to preload into a broker: its cJSON_CreateString returns NULL, as when out of memory,
 * for the string $TH_OOM_STRING, once, when the file $TH_OOM_ARMED exists (it removes the file).
 * Built with the system's cc into dir, which must outlive the broker. Returns the path (malloc'd). */
static char *build_oom_shim(const char *dir)
{
	static const char source[] =
		"#define _GNU_SOURCE\n"
		"#include <dlfcn.h>\n"
		"#include <stdlib.h>\n"
		"#include <string.h>\n"
		"#include <unistd.h>\n"
		"struct cJSON;\n"
		"struct cJSON *cJSON_CreateString(const char *s)\n"
		"{\n"
		"	static struct cJSON *(*real)(const char *);\n"
		"	const char *victim = getenv(\"TH_OOM_STRING\"), *armed = getenv(\"TH_OOM_ARMED\");\n"
		"	if(real == NULL) {\n"
		"		*(void **)&real = dlsym(RTLD_NEXT, \"cJSON_CreateString\");\n"
		"	}\n"
		"	if(s != NULL && victim != NULL && armed != NULL && strcmp(s, victim) == 0\n"
		"	   && unlink(armed) == 0) {\n"
		"		return NULL;\n"
		"	}\n"
		"	return real(s);\n"
		"}\n";
	char src[320], so[320], *out;
	int status = -1;

	snprintf(src, sizeof(src), "%s/oomshim.c", dir);
	snprintf(so, sizeof(so), "%s/oomshim.so", dir);
	write_file(src, source);
	out = th_run(&status, "cc -shared -fPIC -o %s %s -ldl", so, src);
	TH_CHECKF(status == 0, "cannot build the out-of-memory shim with cc: %s", out);
	free(out);
	return strdup(so);
}


/* Out of memory while the core builds an edge's snapshot, on one member's name: the snapshot is not
 * sent without that member (the edge's read ACL would refuse it everything in the channel until
 * the next snapshot); the edge, still waiting, says hello again and gets a whole one. */
static void test_snapshot_out_of_memory_is_retried_whole(void)
{
	struct th_broker core, e1;
	struct th_client *ada, *eve;
	char *shim, *armed;
	cJSON *ev;
	int ready;

	th_core_start(&core, NULL);
	shim = build_oom_shim(core.dir);
	armed = th_tmpfile(&core, "oom-armed");
	setenv("MQCHAT_BROKER_PRELOAD_EXTRA", shim, 1);
	setenv("TH_OOM_STRING", "eve", 1);
	setenv("TH_OOM_ARMED", armed, 1);
	th_broker_restart(&core);
	unsetenv("MQCHAT_BROKER_PRELOAD_EXTRA"); /* the core has them; the edges start without */
	unsetenv("TH_OOM_STRING");
	unsetenv("TH_OOM_ARMED");
	th_edge_start(&e1, &core, 1);
	tc_sign_in(&core, "eve", NULL);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"eve\"]}");

	/* the edge restarts: its view is the next snapshot, whose "eve" fails once */
	write_file(armed, "");
	ready = th_edge_ready_count(&e1);
	th_broker_restart(&e1);
	th_edge_wait_ready(&e1, ready, 10000);
	TH_CHECK(access(armed, F_OK) != 0); /* the failure happened */
	TH_CHECK(th_broker_log_contains(&core, "out of memory answering the hello of edge edge-1"));
	TH_EQ_INT(th_edge_ready_count(&e1), ready + 1); /* one snapshot: the whole one */

	eve = th_connect(&e1, "eve", "eve-1", 5, true);
	TH_EQ_INT(th_subscribe(eve, "chat/general", 1), 1);
	th_disconnect(ada); /* its connection ended with the edge */
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	cJSON_Delete(tc_send(ada, "general", "c-1", "hi eve"));
	ev = th_expect_json(eve, "chat/general");
	TH_EQ_STR(th_json_str(ev, "body"), "hi eve");
	cJSON_Delete(ev);
	th_disconnect(eve);
	th_disconnect(ada);
	free(shim);
	free(armed);
}


/* A bridge user that cannot name an edge's topics stops the core at start, naming it; an edge
 * without its id stops too. */
static void test_bad_gateway_options_stop_the_broker(void)
{
	struct th_broker core, edge;

	TH_CHECK(th_broker_try_start(&core, "plugin_opt_bridge_users edge-1,edge/2\n") > 0);
	TH_CHECK(th_broker_log_contains(&core, "plugin_opt_bridge_users: 'edge/2' is not 1-64 characters"));
	TH_CHECK(th_broker_try_start(&edge, "plugin_opt_role edge\n") > 0);
	TH_CHECK(th_broker_log_contains(&edge, "plugin_opt_role edge needs plugin_opt_edge_id"));
}


/* Connects through the balancer, retrying while it still routes to an edge that just died. */
static struct th_client *connect_via(struct th_broker *via, const char *user, const char *id)
{
	char password[64];
	struct th_client *c = NULL;
	long long deadline = th_now_ms() + 10000;

	snprintf(password, sizeof(password), "%s-pw", user);
	while(th_connect_rc(via, user, password, id, 4, &c) != 0) {
		TH_CHECKF(th_now_ms() < deadline, "%s cannot connect through the balancer", id);
		th_sleep_ms(100);
	}
	return c;
}


/* Clients behind a TCP load balancer (HAProxy) chat across the edges it spreads them over; when the
 * edge holding Bo dies, Bo reconnects through the balancer, lands on the other edge and catches up
 * with no gap. */
static void test_load_balancer_moves_clients_to_a_live_edge(void)
{
	struct th_broker core, e1, e2, via, *victim, *survivor;
	struct th_broker *const edges[] = {&e1, &e2};
	struct th_lb lb;
	struct th_client *ada, *bo;
	bool seen[MAX_SEQ] = {false}, ada_moves;
	long long last, head;
	char cmid[32];
	cJSON *ev;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	th_edge_start(&e2, &core, 2);
	th_lb_start(&lb, edges, 2);
	via = e1; /* a client only needs the port */
	via.port = lb.port;
	ada = connect_via(&via, "ada", "ada-laptop");
	bo = connect_via(&via, "bo", "bo-phone");
	/* each client is on exactly one edge (leastconn usually spreads them, not always) */
	TH_CHECK(th_broker_log_contains(&e1, "as ada-laptop")
		 != th_broker_log_contains(&e2, "as ada-laptop"));
	TH_CHECK(th_broker_log_contains(&e1, "as bo-phone") != th_broker_log_contains(&e2, "as bo-phone"));
	victim = th_broker_log_contains(&e1, "as bo-phone") ? &e1 : &e2;
	ada_moves = th_broker_log_contains(victim, "as ada-laptop");
	survivor = victim == &e1 ? &e2 : &e1;

	tc_api_ok(bo, "{\"op\":\"channels\"}"); /* the core has counted bo, a user from now on */
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	subscribe_member(bo, "chat/general");
	subscribe_member(ada, "chat/general");
	cJSON_Delete(tc_send(bo, "general", "b-1", "hi from bo"));
	ev = tc_expect_event(ada, "general", true);
	TH_EQ_STR(th_json_str(ev, "body"), "hi from bo");
	cJSON_Delete(ev);
	cJSON_Delete(tc_send(ada, "general", "a-1", "hi from ada"));
	last = drain_live(bo, "general", seen, 500);
	TH_EQ_INT(last, 4);

	th_broker_kill9(victim);
	TH_CHECK(th_wait_disconnect(bo, 5000) >= 0);
	th_disconnect(bo);
	if(ada_moves) {
		TH_CHECK(th_wait_disconnect(ada, 5000) >= 0);
		th_disconnect(ada);
		ada = connect_via(&via, "ada", "ada-laptop");
		th_wait_until(th_broker_log_contains(survivor, "as ada-laptop"), 5000);
	}
	for(int i = 0; i < 3; i++) {
		snprintf(cmid, sizeof(cmid), "a-gap-%d", i);
		cJSON_Delete(tc_send(ada, "general", cmid, "while bo moves"));
	}
	bo = connect_via(&via, "bo", "bo-phone");
	th_wait_until(th_broker_log_contains(survivor, "as bo-phone"), 5000);
	subscribe_member(bo, "chat/general");
	head = catch_up(bo, "general", last, seen);
	TH_EQ_INT(head, 7);
	for(long long seq = 3; seq <= head; seq++) {
		TH_CHECKF(seen[seq], "seq %lld never reached bo", seq);
	}
	cJSON_Delete(tc_send(ada, "general", "a-live", "and live again"));
	ev = th_expect_json(bo, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 8);
	cJSON_Delete(ev);
	th_disconnect(ada);
	th_disconnect(bo);
	th_lb_stop(&lb);
}


/* The edge template's allow_duplicate_messages true (the harness's edges have it too): a 3.1.1 client
 * subscribed to both chat/big and chat/# gets every event twice, and keeping one per seq, the
 * protocol's rule, gives exactly the log: nothing missing, nothing foreign. */
static void test_overlapping_subscriptions_converge_by_seq(void)
{
	enum { SENDS = 20 };
	struct th_broker core, e1;
	struct th_client *ada, *cy;
	bool live[MAX_SEQ] = {false}, logged[MAX_SEQ] = {false};
	int copies[MAX_SEQ] = {0};
	long long head;
	cJSON *ev;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	ada = th_connect(&e1, "ada", "ada-laptop", 5, true);
	cy = th_connect(&e1, "cy", "cy-sensor", 4, true);
	tc_api_ok(cy, "{\"op\":\"channels\"}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"big\",\"members\":[\"cy\"]}");
	subscribe_member(cy, "chat/big");
	subscribe_member(cy, "chat/#");
	for(int i = 0; i < SENDS; i++) {
		char cmid[16];

		snprintf(cmid, sizeof(cmid), "o-%d", i);
		cJSON_Delete(tc_send(ada, "big", cmid, "overlap"));
	}
	/* seqs 1-2 are the joins, before cy subscribed; the sends are 3 to SENDS + 2 */
	while(copies[SENDS + 2] < 2 && (ev = th_wait_json(cy, "chat/big", 5000)) != NULL) {
		long long seq = th_json_int(ev, "seq");

		TH_CHECK(seq >= 3 && seq <= SENDS + 2);
		copies[seq]++;
		live[seq] = true;
		cJSON_Delete(ev);
	}
	for(int seq = 3; seq <= SENDS + 2; seq++) {
		TH_EQ_INT(copies[seq], 2);
	}
	head = catch_up(cy, "big", 0, logged);
	TH_EQ_INT(head, SENDS + 2);
	for(int seq = 3; seq <= head; seq++) {
		TH_CHECK(live[seq] && logged[seq]);
	}
	th_disconnect(ada);
	th_disconnect(cy);
	th_broker_stop(&e1);
	th_broker_stop(&core);
}


TH_TEST_LIST(
	TH_TEST(test_members_on_two_edges_chat_both_ways),
	TH_TEST(test_overlapping_subscriptions_converge_by_seq), TH_TEST(test_worked_example_on_three_edges),
	TH_TEST(test_core_kill9_keeps_edge_clients_and_loses_no_acked_event),
	TH_TEST(test_edge_kill_moves_clients_without_gap), TH_TEST(test_removed_member_stops_on_every_edge),
	TH_TEST(test_non_member_on_any_edge_gets_nothing),
	TH_TEST(test_presence_aggregates_devices_across_edges), TH_TEST(test_response_topic_through_edge),
	TH_TEST(test_core_stall_answers_unavailable_then_recovers),
	TH_TEST(test_core_stall_keeps_presence_of_the_edge), TH_TEST(test_same_client_id_types_on_two_edges),
	TH_TEST(test_snapshot_out_of_memory_is_retried_whole),
	TH_TEST(test_bad_gateway_options_stop_the_broker),
	TH_TEST(test_load_balancer_moves_clients_to_a_live_edge))
