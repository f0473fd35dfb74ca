/*
 * test_replies.c - every answer can be matched to its request, the member who leaves is told, and a
 * database older than what clients saw starts new epochs (docs/protocol.md: "Errors", "Matching
 * answers to requests", "Account requests", "Catch-up").
 *
 * - Each kind of request (send, sync, typing, read, delivered, api, a publish on a topic that takes
 *   none) with a "ref" gets its answer with that ref, success and error alike, on MQTT 3.1.1 (which
 *   has no Correlation Data) and 5; every error names its request. Errors found before the request is
 *   validated (bad_utf8 in a field, too_large, rate_limited, a gateway edge's own unavailable) carry
 *   the ref; a payload that is not a JSON object cannot.
 * - A member removed by an owner, and a user who leaves from another device, receive their own leave
 *   event on chat/<ch>, once, on 3.1.1 and 5, on the core and on a gateway edge; nothing after it.
 * - An old copy of the database put back while the broker was stopped (a restored backup) gives every
 *   channel a new epoch; a client that saw seq 15 re-syncs from 0 and converges to the restored log.
 *   So does a copy taken online (sqlite3 .backup) and restored after a clean stop, and an operator's
 *   explicit request (tools/new_epochs.sh); a plain restart keeps the epochs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"
#include "th_gateway.h"

/* ---- every answer matchable --------------------------------------------------------------------- */

/* Publishes payload (len < 0: a string) to topic at QoS 1 and expects the next answer on c's reply
 * topic to match pattern whole. */
static void expect_answer(struct th_client *c, const char *topic, const char *payload, int len,
			  const char *pattern)
{
	TH_CHECK(th_publish(c, topic, payload, len, 1, NULL) >= 0);
	tc_expect_next(c, tc_reply_topic(c), 0, "%s", pattern);
}


static void check_every_kind(int protocol)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	char big[16500], ref129[140];
	int n;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-1", protocol, true);
	bo = th_connect(&b, "bo", "bo-1", protocol, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}"); /* seq 1, 2 */

	/* api: success and error keep op, and echo ref */
	expect_answer(
		ada, "chat/_api", "{\"op\":\"join\",\"channel\":\"general\",\"ref\":\"a-1\"}", -1,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"join\",\"channel\":\"general\",\"title\":\"*\","
		"\"visibility\":\"public\",\"epoch\":\"*\",\"head\":2,\"joined\":false,\"ref\":\"a-1\"}");
	expect_answer(ada, "chat/_api", "{\"op\":\"join\",\"channel\":\"nope\",\"ref\":2}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"no_such_channel\",\"message\":\"*\","
		      "\"request\":\"api\",\"op\":\"join\",\"channel\":\"nope\",\"ref\":2}");

	/* send: an ack with client_msg_id, and one asked for by the ref alone */
	expect_answer(ada, "chat/general", "{\"client_msg_id\":\"c-1\",\"body\":\"hi\",\"ref\":\"s-1\"}", -1,
		      "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-1\","
		      "\"id\":\"*\",\"seq\":3,\"ts\":\"*\",\"duplicate\":false,\"ref\":\"s-1\"}");
	expect_answer(ada, "chat/general", "{\"body\":\"no id\",\"ref\":\"s-2\"}", -1,
		      "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"id\":\"*\",\"seq\":4,"
		      "\"ts\":\"*\",\"duplicate\":false,\"ref\":\"s-2\"}");
	expect_answer(ada, "chat/general", "{\"client_msg_id\":\"c-1\",\"body\":\"hi\",\"ref\":\"s-3\"}", -1,
		      "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-1\","
		      "\"id\":\"*\",\"seq\":3,\"ts\":\"*\",\"duplicate\":true,\"ref\":\"s-3\"}");
	/* send errors: a bad field, too_large, bad_utf8 inside JSON all carry the ref */
	expect_answer(ada, "chat/general", "{\"body\":\"\",\"ref\":\"s-4\"}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_request\",\"message\":\"*\","
		      "\"request\":\"send\",\"channel\":\"general\",\"ref\":\"s-4\"}");
	n = snprintf(big, sizeof(big), "{\"ref\":5,\"client_msg_id\":\"c-big\",\"body\":\"");
	memset(big + n, 'x', 16385);
	snprintf(big + n + 16385, sizeof(big) - (size_t)n - 16385, "\"}");
	expect_answer(ada, "chat/general", big, -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"too_large\",\"message\":\"*\","
		      "\"request\":\"send\",\"channel\":\"general\",\"client_msg_id\":\"c-big\",\"ref\":5}");
	expect_answer(ada, "chat/general", "{\"ref\":6,\"body\":\"\xff\"}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_utf8\",\"message\":\"*\","
		      "\"request\":\"send\",\"channel\":\"general\",\"ref\":6}");
	/* what is not a JSON object has no ref to echo, but still names its request */
	expect_answer(ada, "chat/general", "\xff plain", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_utf8\",\"message\":\"*\","
		      "\"request\":\"send\",\"channel\":\"general\"}");
	expect_answer(ada, "chat/general", "{\"ref\":7,\"body\":", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_request\",\"message\":\"*\","
		      "\"request\":\"send\",\"channel\":\"general\"}");

	/* sync */
	expect_answer(bo, "chat/general/sync", "{\"since\":3,\"ref\":\"y-1\"}", -1,
		      "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":3,"
		      "\"next\":4,\"head\":4,\"more\":false,\"events\":\"*\",\"ref\":\"y-1\"}");
	expect_answer(bo, "chat/general/sync", "{\"since\":-1,\"ref\":\"y-2\"}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_request\",\"message\":\"*\","
		      "\"request\":\"sync\",\"channel\":\"general\",\"ref\":\"y-2\"}");
	expect_answer(bo, "chat/nope/sync", "{\"ref\":\"y-3\"}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"no_such_channel\",\"message\":\"*\","
		      "\"request\":\"sync\",\"channel\":\"nope\",\"ref\":\"y-3\"}");

	/* typing, read, delivered: a ref asks for the answer a Response Topic would get */
	expect_answer(bo, "chat/general/typing", "{\"typing\":true,\"ref\":\"t-1\"}", -1,
		      "{\"ok\":true,\"kind\":\"typing\",\"channel\":\"general\",\"typing\":true,"
		      "\"ref\":\"t-1\"}");
	expect_answer(bo, "chat/general/typing", "{\"typing\":1,\"ref\":\"t-2\"}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_request\",\"message\":\"*\","
		      "\"request\":\"typing\",\"channel\":\"general\",\"ref\":\"t-2\"}");
	expect_answer(bo, "chat/general/read", "{\"seq\":4,\"ref\":\"r-1\"}", -1,
		      "{\"ok\":true,\"kind\":\"read\",\"channel\":\"general\",\"seq\":4,\"ref\":\"r-1\"}");
	expect_answer(bo, "chat/general/read", "{\"seq\":99,\"ref\":\"r-2\"}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_request\",\"message\":\"*\","
		      "\"request\":\"read\",\"channel\":\"general\",\"ref\":\"r-2\"}");
	expect_answer(
		bo, "chat/general/delivered", "{\"seq\":4,\"ref\":\"d-1\"}", -1,
		"{\"ok\":true,\"kind\":\"delivered\",\"channel\":\"general\",\"seq\":4,\"ref\":\"d-1\"}");
	expect_answer(bo, "chat/general/delivered", "{\"seq\":\"x\",\"ref\":\"d-2\"}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_request\",\"message\":\"*\","
		      "\"request\":\"delivered\",\"channel\":\"general\",\"ref\":\"d-2\"}");

	/* a key written with an escape is the same key */
	expect_answer(bo, "chat/general/read", "{\"seq\":4,\"\\u0072ef\":\"esc\"}", -1,
		      "{\"ok\":true,\"kind\":\"read\",\"channel\":\"general\",\"seq\":4,\"ref\":\"esc\"}");

	/* a topic that takes no publishes */
	expect_answer(bo, "chat/general/presence", "{\"ref\":\"p-1\"}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_topic\",\"message\":\"*\","
		      "\"request\":\"publish\",\"ref\":\"p-1\"}");

	/* an invalid ref is itself the error, and is not echoed */
	expect_answer(bo, "chat/_api", "{\"op\":\"channels\",\"ref\":{\"a\":1}}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_request\",\"message\":\"ref must be a "
		      "number or a string of at most 128 characters\",\"request\":\"api\"}");
	memset(ref129, 'r', 129);
	ref129[129] = '\0';
	{
		char payload[200];
		snprintf(payload, sizeof(payload), "{\"seq\":1,\"ref\":\"%s\"}", ref129);
		expect_answer(bo, "chat/general/read", payload, -1,
			      "{\"ok\":false,\"kind\":\"error\",\"code\":\"bad_request\",\"message\":\"*\","
			      "\"request\":\"read\",\"channel\":\"general\"}");
		ref129[128] = '\0'; /* 128 characters are fine */
		snprintf(payload, sizeof(payload), "{\"seq\":4,\"ref\":\"%s\"}", ref129);
		TH_CHECK(th_publish(bo, "chat/general/read", payload, -1, 1, NULL) >= 0);
		cJSON *reply = th_expect_json(bo, tc_reply_topic(bo));
		TH_EQ_STR(th_json_str(reply, "ref"), ref129);
		cJSON_Delete(reply);
	}
	TH_EQ_INT(th_queued(ada, tc_reply_topic(ada)), 0);
	TH_EQ_INT(th_queued(bo, tc_reply_topic(bo)), 0);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


static void test_every_request_kind_echoes_ref_311(void)
{
	check_every_kind(4);
}


static void test_every_request_kind_echoes_ref_v5(void)
{
	check_every_kind(5);
}


/* A rate_limited error, found before the request is parsed, names it and echoes its ref. */
static void test_rate_limited_carries_ref(void)
{
	struct th_broker b;
	struct th_client *ada;
	cJSON *reply = NULL;

	th_broker_start(&b, "plugin_opt_request_rate 1\nplugin_opt_request_burst 1\n");
	ada = th_connect(&b, "ada", "ada-1", 4, true);
	/* the first takes the only token; the next ones are refused (one error a second is said) */
	for(int i = 0; i < 3 && reply == NULL; i++) {
		char payload[64];
		snprintf(payload, sizeof(payload), "{\"op\":\"channels\",\"ref\":%d}", i);
		TH_CHECK(th_publish(ada, "chat/_api", payload, -1, 1, NULL) >= 0);
		cJSON *got = th_expect_json(ada, tc_reply_topic(ada));
		if(cJSON_IsFalse(cJSON_GetObjectItem(got, "ok"))) {
			reply = got;
		} else {
			cJSON_Delete(got);
		}
	}
	TH_CHECK(reply != NULL);
	TH_JSON(reply, "{\"ok\":false,\"kind\":\"error\",\"code\":\"rate_limited\",\"message\":\"*\","
		       "\"retry_after_ms\":\"*\",\"request\":\"api\",\"ref\":1}");
	cJSON_Delete(reply);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* An edge that cannot reach the core answers by itself, and names and matches its answers the same. */
static void test_edge_unavailable_carries_ref(void)
{
	struct th_broker core, e1;
	struct th_client *ada, *bo;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	ada = th_connect(&e1, "ada", "ada-1", 4, true);
	bo = th_connect(&e1, "bo", "bo-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	th_broker_kill9(&core);
	th_wait_until(th_broker_log_contains(&e1, "no heartbeat from core"), 5000);
	expect_answer(
		ada, "chat/general", "{\"client_msg_id\":\"c-1\",\"body\":\"x\",\"ref\":\"s-1\"}", -1,
		"{\"ok\":false,\"kind\":\"error\",\"code\":\"unavailable\",\"message\":\"*\","
		"\"request\":\"send\",\"channel\":\"general\",\"client_msg_id\":\"c-1\",\"ref\":\"s-1\"}");
	expect_answer(ada, "chat/general/sync", "{\"since\":0,\"ref\":2}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"unavailable\",\"message\":\"*\","
		      "\"request\":\"sync\",\"channel\":\"general\",\"ref\":2}");
	expect_answer(bo, "chat/_api", "{\"op\":\"channels\",\"ref\":\"a-1\"}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"unavailable\",\"message\":\"*\","
		      "\"request\":\"api\",\"op\":\"channels\",\"ref\":\"a-1\"}");
	expect_answer(bo, "chat/general/read", "{\"seq\":1,\"ref\":{}}", -1,
		      "{\"ok\":false,\"kind\":\"error\",\"code\":\"unavailable\",\"message\":\"*\","
		      "\"request\":\"read\",\"channel\":\"general\"}");
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&e1);
}


/* ---- the member who leaves is told ------------------------------------------------------------- */

/* The next event c receives on chat/<ch>, past any join (a subscriber on an edge may or may not see
 * the channel's first joins, depending on when its subscription landed: tc_expect_event), is the
 * leave of user by from, at seq. */
static void expect_leave(struct th_client *c, const char *ch, long long seq, const char *user,
			 const char *from)
{
	char pattern[400], why[512];
	cJSON *ev = tc_expect_event(c, ch, true);

	snprintf(pattern, sizeof(pattern),
		 "{\"id\":\"*\",\"channel\":\"%s\",\"seq\":%lld,\"type\":\"leave\",\"from\":\"%s\","
		 "\"device\":\"*\",\"ts\":\"*\",\"user\":\"%s\"}",
		 ch, seq, from, user);
	TH_CHECKF(th_json_match(ev, pattern, why, sizeof(why)), "%s: %s", th_client_id(c), why);
	cJSON_Delete(ev);
}


/* After the leave, c gets nothing more of ch: witness sees a later message, c does not. */
static void expect_nothing_after(struct th_client *sender, struct th_client *witness, struct th_client *c,
				 const char *ch)
{
	char topic[80], cmid[40];
	struct th_msg *m;
	cJSON *ack;

	snprintf(cmid, sizeof(cmid), "after-%s", th_client_id(c));
	ack = tc_send(sender, ch, cmid, "not for you");
	snprintf(topic, sizeof(topic), "chat/%s", ch);
	tc_expect_next(witness, topic, -1,
		       "{\"id\":\"*\",\"channel\":\"%s\",\"seq\":%lld,\"type\":\"message\",\"from\":\"*\","
		       "\"device\":\"*\",\"ts\":\"*\",\"client_msg_id\":\"%s\",\"body\":\"not for you\"}",
		       ch, (long long)th_json_int(ack, "seq"), cmid);
	cJSON_Delete(ack);
	/* the witness has it; a copy for c (or a second leave) would be there by now, or very soon */
	m = th_wait_msg(c, topic, 300);
	TH_CHECKF(m == NULL, "%s received %s", th_client_id(c), m ? (const char *)m->payload : "");
}


static void test_removed_member_is_told(void)
{
	struct th_broker b;
	struct th_client *ada, *bo4, *bo5, *cy;
	struct th_msg *m;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo4 = th_connect(&b, "bo", "bo-311", 4, true); /* by name */
	bo5 = th_connect(&b, "bo", "bo-v5", 5, true);  /* by wildcard */
	cy = th_connect(&b, "cy", "cy-1", 4, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	TH_EQ_INT(th_subscribe(bo4, "chat/general", 1), 1);
	TH_EQ_INT(th_subscribe(bo5, "chat/#", 1), 1);
	TH_EQ_INT(th_subscribe(cy, "chat/general", 1), 1);

	tc_api_ok(ada, "{\"op\":\"remove\",\"channel\":\"general\",\"user\":\"bo\"}");
	expect_leave(cy, "general", 4, "bo", "ada");
	expect_leave(bo4, "general", 4, "bo", "ada");
	expect_leave(bo5, "general", 4, "bo", "ada");
	m = th_wait_msg(bo4, "chat/general", 0); /* once: the fan-out's copy was refused */
	TH_CHECK(m == NULL);
	expect_nothing_after(ada, cy, bo4, "general");
	expect_nothing_after(ada, cy, bo5, "general");
	th_disconnect(ada);
	th_disconnect(bo4);
	th_disconnect(bo5);
	th_disconnect(cy);
	th_broker_stop(&b);
}


/* The leave event a user's other device receives is the stored one, byte for byte. */
static void test_leave_on_another_device_is_told(void)
{
	struct th_broker b;
	struct th_client *ada, *cy1, *cy2;
	struct th_msg *live;
	cJSON *page, *stored;
	char *text;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	cy1 = th_connect(&b, "cy", "cy-1", 5, true);
	cy2 = th_connect(&b, "cy", "cy-2", 4, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"cy\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/general", 1), 1);
	TH_EQ_INT(th_subscribe(cy2, "chat/general", 1), 1);

	tc_api_ok(cy1, "{\"op\":\"leave\",\"channel\":\"general\"}");
	expect_leave(ada, "general", 3, "cy", "cy");
	live = th_wait_msg(cy2, "chat/general", 5000);
	TH_CHECK(live != NULL);
	page = tc_sync(ada, "general", 2, 0);
	stored = cJSON_GetArrayItem(cJSON_GetObjectItem(page, "events"), 0);
	text = th_json_print(stored);
	TH_EQ_STR((const char *)live->payload, text);
	TH_EQ_STR(th_json_str(stored, "type"), "leave");
	/* the device that asked gets the event too (it was subscribed to nothing: directed) */
	expect_leave(cy1, "general", 3, "cy", "cy");
	free(text);
	cJSON_Delete(page);
	th_msg_free(live);
	expect_nothing_after(ada, ada, cy2, "general");
	th_disconnect(ada);
	th_disconnect(cy1);
	th_disconnect(cy2);
	th_broker_stop(&b);
}


/* On a gateway: the removed member's clients on an edge are told by their edge. */
static void test_removed_member_is_told_on_an_edge(void)
{
	struct th_broker core, e1;
	struct th_client *ada, *bo4, *bo5, *cy;

	th_core_start(&core, NULL);
	th_edge_start(&e1, &core, 1);
	ada = th_connect(&core, "ada", "ada-1", 5, true);
	bo4 = th_connect(&e1, "bo", "bo-311", 4, true);
	bo5 = th_connect(&e1, "bo", "bo-v5", 5, true);
	cy = th_connect(&e1, "cy", "cy-1", 4, true);
	/* requests of their own through the edge prove the core has counted their connections */
	tc_api_ok(bo4, "{\"op\":\"channels\"}");
	tc_api_ok(bo5, "{\"op\":\"channels\"}");
	tc_api_ok(cy, "{\"op\":\"channels\"}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	th_wait_until(th_subscribe(bo4, "chat/general", 1) == 1, 5000);
	TH_EQ_INT(th_subscribe(bo5, "chat/#", 1), 1);
	th_wait_until(th_subscribe(cy, "chat/general", 1) == 1, 5000);

	tc_api_ok(ada, "{\"op\":\"remove\",\"channel\":\"general\",\"user\":\"bo\"}");
	expect_leave(cy, "general", 4, "bo", "ada");
	expect_leave(bo4, "general", 4, "bo", "ada");
	expect_leave(bo5, "general", 4, "bo", "ada");
	expect_nothing_after(ada, cy, bo4, "general");
	expect_nothing_after(ada, cy, bo5, "general");
	th_disconnect(ada);
	th_disconnect(bo4);
	th_disconnect(bo5);
	th_disconnect(cy);
	th_broker_stop(&e1);
	th_broker_stop(&core);
}


/* ---- a new epoch after a restore ---------------------------------------------------------------- */

/* Sends messages until #general's head is `head`. */
static void send_up_to(struct th_client *c, long long head)
{
	for(int guard = 0; guard < 100; guard++) {
		char cmid[32];
		cJSON *ack;
		snprintf(cmid, sizeof(cmid), "m-%d-%lld", guard, th_now_ms());
		ack = tc_send(c, "general", cmid, cmid);
		if(th_json_int(ack, "seq") == head) {
			cJSON_Delete(ack);
			return;
		}
		cJSON_Delete(ack);
	}
	th_fail(__FILE__, __LINE__, "never reached seq %lld", head);
}


/* #general's epoch (malloc'd) and head. */
static char *epoch_of(struct th_client *c, long long *head)
{
	cJSON *page = tc_sync(c, "general", 0, 1);
	char *epoch = strdup(th_json_str(page, "epoch"));

	*head = th_json_int(page, "head");
	cJSON_Delete(page);
	return epoch;
}


/* What a client following the documented rule does on connect: the same epoch, catch up from its last
 * seq; another, drop the history and catch up from 0. Returns the client's history afterwards. */
static cJSON *converge(struct th_client *c, const char *kept_epoch, cJSON *kept)
{
	long long head;
	char *epoch = epoch_of(c, &head);
	cJSON *history;

	if(strcmp(epoch, kept_epoch) == 0) {
		free(epoch);
		return cJSON_Duplicate(kept, true); /* (not taken in these tests) */
	}
	free(epoch);
	history = tc_history(c, "general");
	return history;
}


/* Stops b, runs the shell command, starts b again. */
static void stopped(struct th_broker *b, const char *command)
{
	int status = -1;
	char *out;

	th_broker_stop(b);
	out = th_run(&status, "cd '%s' && %s", b->dir, command);
	TH_CHECKF(status == 0, "%s: %s", command, out);
	free(out);
	th_broker_restart(b);
}


static void test_restored_backup_gives_new_epochs(void)
{
	struct th_broker b;
	struct th_client *ada;
	cJSON *seen, *restored, *server;
	char *before, *after, *again;
	long long head;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-1", 4, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	send_up_to(ada, 10);
	th_disconnect(ada);
	/* a backup: the database copied aside while the broker is stopped */
	stopped(&b, "cp chat.db backup.db && test ! -e chat.db-wal -o ! -s chat.db-wal");
	ada = th_connect(&b, "ada", "ada-1", 4, true);
	send_up_to(ada, 15);
	before = epoch_of(ada, &head);
	TH_EQ_INT(head, 15);
	seen = tc_history(ada, "general"); /* the client saw seq 15 */
	TH_EQ_INT(cJSON_GetArraySize(seen), 15);
	th_disconnect(ada);

	/* the old copy put back */
	stopped(&b, "rm -f chat.db-wal chat.db-shm && cp backup.db chat.db");
	TH_CHECK(th_broker_log_contains(&b, "new epoch"));
	ada = th_connect(&b, "ada", "ada-1", 4, true);
	after = epoch_of(ada, &head);
	TH_EQ_INT(head, 10);
	TH_CHECKF(strcmp(before, after) != 0, "the epoch stayed %s", before);
	restored = converge(ada, before, seen);
	server = tc_history(ada, "general");
	TH_EQ_INT(cJSON_GetArraySize(restored), 10);
	TH_CHECK(cJSON_Compare(restored, server, true));
	/* new events after the restore reuse seqs 11..: under the new epoch, no client confuses them */
	send_up_to(ada, 11);
	th_disconnect(ada);

	/* a plain restart keeps the epochs */
	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-1", 4, true);
	again = epoch_of(ada, &head);
	TH_EQ_STR(again, after);
	TH_EQ_INT(head, 11);
	th_disconnect(ada);
	free(before);
	free(after);
	free(again);
	cJSON_Delete(seen);
	cJSON_Delete(restored);
	cJSON_Delete(server);
	th_broker_stop(&b);
}


/* A copy taken while the broker runs (sqlite3 .backup), restored after a clean stop: new epochs too. */
static void test_online_backup_restored_gives_new_epochs(void)
{
	struct th_broker b;
	struct th_client *ada;
	char *before, *after;
	long long head;
	int status = -1;
	char *out;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	send_up_to(ada, 10);
	out = th_run(&status, "cd '%s' && sqlite3 chat.db '.backup backup.db'", b.dir);
	TH_CHECKF(status == 0, "sqlite3 .backup: %s", out);
	free(out);
	send_up_to(ada, 15);
	before = epoch_of(ada, &head);
	th_disconnect(ada);
	stopped(&b, "rm -f chat.db-wal chat.db-shm && cp backup.db chat.db");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	after = epoch_of(ada, &head);
	TH_EQ_INT(head, 10);
	TH_CHECKF(strcmp(before, after) != 0, "the epoch stayed %s", before);
	th_disconnect(ada);
	free(before);
	free(after);
	th_broker_stop(&b);
}


/* An operator who restores on purpose, by any means, asks for new epochs explicitly. */
static void test_operator_asks_for_new_epochs(void)
{
	struct th_broker b;
	struct th_client *ada;
	char *before, *after, command[600];
	long long head;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	before = epoch_of(ada, &head);
	th_disconnect(ada);
	snprintf(command, sizeof(command), "'%s/tools/new_epochs.sh' chat.db", TH_SOURCE_DIR);
	stopped(&b, command);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	after = epoch_of(ada, &head);
	TH_CHECKF(strcmp(before, after) != 0, "the epoch stayed %s", before);
	free(before);
	th_disconnect(ada);
	/* once: the next start keeps them */
	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	before = epoch_of(ada, &head);
	TH_EQ_STR(before, after);
	free(before);
	free(after);
	th_disconnect(ada);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_every_request_kind_echoes_ref_311), TH_TEST(test_every_request_kind_echoes_ref_v5),
	     TH_TEST(test_rate_limited_carries_ref), TH_TEST(test_edge_unavailable_carries_ref),
	     TH_TEST(test_removed_member_is_told), TH_TEST(test_leave_on_another_device_is_told),
	     TH_TEST(test_removed_member_is_told_on_an_edge), TH_TEST(test_restored_backup_gives_new_epochs),
	     TH_TEST(test_online_backup_restored_gives_new_epochs),
	     TH_TEST(test_operator_asks_for_new_epochs))
