/*
 * test_attention.c - mentions, notification levels and threads (docs/protocol.md, "Mentions",
 * "Notification level and mute", "Threads") against a real broker: the "mentions" of message and edit
 * events, live and in catch-up; the inbox's mention counts (unread only, edits that re-mention, own
 * messages, deletes, direct messages); the `mentions` op and its paging; levels stored, shown,
 * kept across a restart and forgotten on leave; the thread op's pages, counts and every bad input;
 * MQTT 3.1.1 and 5 clients getting the same answers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"

/* Publishes the printf-formatted send (which must carry a client_msg_id) to chat/<channel>, expects an
 * ok ack and returns its seq. */
static long long send_json(struct th_client *c, const char *channel, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static long long send_json(struct th_client *c, const char *channel, const char *fmt, ...)
{
	char topic[128], payload[4096];
	va_list ap;
	cJSON *ack;
	long long seq;

	va_start(ap, fmt);
	vsnprintf(payload, sizeof(payload), fmt, ap);
	va_end(ap);
	snprintf(topic, sizeof(topic), "chat/%s", channel);
	ack = tc_request(c, topic, "%s", payload);
	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(ack, "ok")), "send refused: %s", th_json_print(ack));
	seq = th_json_int(ack, "seq");
	cJSON_Delete(ack);
	return seq;
}


/* Waits until the clock has moved past the current millisecond, so that the next event's ts differs
 * from the last one's (the `mentions` op orders and pages by ts). */
static void next_ms(void)
{
	long long now = th_now_ms();
	th_wait_until(th_now_ms() > now + 1, 1000);
}


/* c's inbox entry for ch: its "mentions". */
static long long inbox_mentions(struct th_client *c, const char *ch)
{
	cJSON *reply;
	const cJSON *entry = tc_inbox_entry(c, ch, &reply);
	long long n = th_json_int(entry, "mentions");

	cJSON_Delete(reply);
	return n;
}


static const char *inbox_notify(struct th_client *c, const char *ch)
{
	static char level[32];
	cJSON *reply;
	const cJSON *entry = tc_inbox_entry(c, ch, &reply);

	TH_CHECK(th_json_str(entry, "notify") != NULL);
	snprintf(level, sizeof(level), "%s", th_json_str(entry, "notify"));
	cJSON_Delete(reply);
	return level;
}


/* The seqs of the events of a reply's array `key` as "3,5,8" (static buffer). */
static const char *seqs_of(const cJSON *reply, const char *key)
{
	static char out[4096];
	const cJSON *e;
	size_t len = 0;

	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")), "request failed: %s", th_json_print(reply));
	out[0] = '\0';
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(reply, key)) {
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%lld", len ? "," : "",
					th_json_int(e, "seq"));
		TH_CHECK(len < sizeof(out));
	}
	return out;
}


/* Moves c's read cursor in ch to seq, and waits until the server has it (the read topic's echo). */
static void mark_read(struct th_client *c, const char *ch, long long seq)
{
	char topic[128], filter[128], payload[64];
	cJSON *echo;

	snprintf(topic, sizeof(topic), "chat/%s/read", ch);
	snprintf(filter, sizeof(filter), "chat/%s/read", ch);
	snprintf(payload, sizeof(payload), "{\"seq\":%lld}", seq);
	TH_EQ_INT(th_subscribe(c, filter, 1), 1);
	TH_EQ_INT(th_publish(c, topic, payload, -1, 1, NULL), 0);
	echo = th_expect_json(c, filter);
	TH_EQ_INT(th_json_int(echo, "seq"), seq);
	cJSON_Delete(echo);
	TH_EQ_INT(th_unsubscribe(c, filter), 0);
}


/* actual matches expected whole (TH_JSON with expected printed as the pattern). */
static void expect_same(const cJSON *actual, const cJSON *expected)
{
	char *pattern = th_json_print(expected);

	TH_JSON(actual, pattern);
	free(pattern);
}


/* ---- mentions in events ---------------------------------------------------------------------------- */

static void test_mentions_in_events(void)
{
	struct tc_team f;
	cJSON *ev, *page;
	long long seq;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	TH_EQ_INT(th_subscribe(f.bo, "chat/general", 1), 1);

	/* named in the body: members only (dee is not one), each once, sorted; an address is no mention;
	 * trailing punctuation is not part of a name; the explicit list adds members and drops others */
	seq = send_json(f.ada, "general",
			"{\"client_msg_id\":\"c1\",\"body\":\"@cy and @bo, ask @dee or @nobody (mail "
			"ada@bo.com); thanks @cy.\",\"mentions\":[\"ada\",\"dee\",\"bo\",\"ghost\"]}");
	TH_EQ_INT(seq, 4);
	ev = th_expect_json(f.bo, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":4,\"type\":\"message\",\"from\":\"ada\","
		    "\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"c1\",\"body\":\"*\","
		    "\"mentions\":[\"ada\",\"bo\",\"cy\"]}");
	cJSON_Delete(ev);

	/* @channel and @here mention everyone; nobody named: no "mentions" */
	TH_EQ_INT(tc_post(f.bo, "general", "@channel deploy at 5"), 5);
	ev = th_expect_json(f.bo, "chat/general");
	TH_JSON(ev,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":5,\"type\":\"message\",\"from\":\"bo\","
		"\"device\":\"bo-1\",\"ts\":\"*\",\"client_msg_id\":\"*\",\"body\":\"@channel deploy at 5\","
		"\"mentions_all\":true}");
	cJSON_Delete(ev);
	TH_EQ_INT(tc_post(f.cy, "general", "@here: and @bo"), 6);
	ev = th_expect_json(f.bo, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":6,\"type\":\"message\",\"from\":\"cy\","
		    "\"device\":\"cy-1\",\"ts\":\"*\",\"client_msg_id\":\"*\",\"body\":\"@here: and @bo\","
		    "\"mentions\":[\"bo\"],\"mentions_all\":true}");
	cJSON_Delete(ev);

	/* no mention at all: neither field */
	TH_EQ_INT(tc_post(f.ada, "general", "plain text, email@example.com, @ alone"), 7);
	ev = th_expect_json(f.bo, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":7,\"type\":\"message\",\"from\":\"ada\","
		    "\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"*\","
		    "\"body\":\"plain text, email@example.com, @ alone\"}");
	cJSON_Delete(ev);

	/* an edit carries the mentions of its new text; a thread reply its own */
	TH_EQ_INT(send_json(f.ada, "general",
			    "{\"client_msg_id\":\"c2\",\"type\":\"edit\",\"target\":7,"
			    "\"body\":\"ping @cy\"}"),
		  8);
	ev = th_expect_json(f.bo, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":8,\"type\":\"edit\",\"from\":\"ada\","
		    "\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"c2\",\"target\":7,"
		    "\"body\":\"ping @cy\",\"mentions\":[\"cy\"]}");
	cJSON_Delete(ev);
	TH_EQ_INT(send_json(f.cy, "general", "{\"client_msg_id\":\"c3\",\"thread\":5,\"body\":\"ok @bo\"}"),
		  9);
	ev = th_expect_json(f.bo, "chat/general");
	TH_JSON(ev,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":9,\"type\":\"message\",\"from\":\"cy\","
		"\"device\":\"cy-1\",\"ts\":\"*\",\"client_msg_id\":\"c3\",\"body\":\"ok @bo\",\"thread\":5,"
		"\"mentions\":[\"bo\"]}");

	/* catch-up serves the same bytes */
	page = tc_sync(f.cy, "general", 8, 1);
	expect_same(cJSON_GetArrayItem(cJSON_GetObjectItem(page, "events"), 0), ev);
	cJSON_Delete(page);
	cJSON_Delete(ev);

	/* a bad explicit list is refused and stores nothing */
	tc_expect_error(tc_request(f.ada, "chat/general",
				   "{\"client_msg_id\":\"c4\",\"body\":\"x\",\"mentions\":\"bo\"}"),
			"bad_request", "mentions must be an array of at most 256 user names");
	tc_expect_error(tc_request(f.ada, "chat/general",
				   "{\"client_msg_id\":\"c5\",\"body\":\"x\",\"mentions\":[\"bo\",7]}"),
			"bad_request", "mentions must be user names of 1-256 bytes");
	tc_expect_error(tc_request(f.ada, "chat/general",
				   "{\"client_msg_id\":\"c6\",\"body\":\"x\",\"mentions\":[\"\"]}"),
			"bad_request", "mentions must be user names of 1-256 bytes");
	/* the same from a 3.1.1 client, which has no PUBACK reason code: only the JSON error */
	tc_expect_error(tc_request(f.cy, "chat/general",
				   "{\"client_msg_id\":\"c7\",\"type\":\"edit\",\"target\":9,\"body\":\"x\","
				   "\"mentions\":{\"bo\":true}}"),
			"bad_request", "mentions must be an array of at most 256 user names");
	page = tc_sync(f.ada, "general", 0, 0);
	TH_EQ_INT(th_json_int(page, "head"), 9);
	cJSON_Delete(page);

	/* members of now: after cy leaves, "@cy" and a listed "cy" mention nobody */
	tc_api_ok(f.cy, "{\"op\":\"leave\",\"channel\":\"general\"}");
	ev = th_expect_json(f.bo, "chat/general"); /* the leave, seq 10 */
	cJSON_Delete(ev);
	TH_EQ_INT(send_json(f.ada, "general",
			    "{\"client_msg_id\":\"c8\",\"body\":\"@cy? @bo\",\"mentions\":[\"cy\"]}"),
		  11);
	ev = th_expect_json(f.bo, "chat/general");
	TH_JSON(ev, "{\"id\":\"*\",\"channel\":\"general\",\"seq\":11,\"type\":\"message\",\"from\":\"ada\","
		    "\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"c8\",\"body\":\"@cy? @bo\","
		    "\"mentions\":[\"bo\"]}");
	cJSON_Delete(ev);
	tc_team_stop(&f);
}


/* ---- mention counts in the inbox ------------------------------------------------------------------- */

static void test_inbox_counts(void)
{
	struct tc_team f;
	cJSON *reply;
	long long dm_seq;
	char dm[64];

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	TH_EQ_INT(inbox_mentions(f.cy, "general"), 0);
	TH_EQ_INT(tc_post(f.ada, "general", "hi @cy"), 4);            /* 1 */
	TH_EQ_INT(tc_post(f.bo, "general", "@channel lunch?"), 5);    /* 2 */
	TH_EQ_INT(tc_post(f.ada, "general", "hi @bo"), 6);            /* not cy */
	TH_EQ_INT(tc_post(f.cy, "general", "@channel me too"), 7);    /* cy's own: not for cy */
	TH_EQ_INT(tc_post(f.ada, "general", "@cy @cy @here @cy"), 8); /* one event: 3 */
	TH_EQ_INT(inbox_mentions(f.cy, "general"), 3);
	TH_EQ_INT(inbox_mentions(f.bo, "general"), 3);  /* 6, 7, 8; 5 is his own */
	TH_EQ_INT(inbox_mentions(f.ada, "general"), 2); /* 5, 7 */

	/* an edit that mentions cy again does not count twice; one that adds cy does */
	TH_EQ_INT(
		send_json(f.ada, "general",
			  "{\"client_msg_id\":\"e1\",\"type\":\"edit\",\"target\":4,\"body\":\"hello @cy\"}"),
		9);
	TH_EQ_INT(inbox_mentions(f.cy, "general"), 3);
	TH_EQ_INT(
		send_json(
			f.ada, "general",
			"{\"client_msg_id\":\"e2\",\"type\":\"edit\",\"target\":6,\"body\":\"hi @bo @cy\"}"),
		10);
	TH_EQ_INT(inbox_mentions(f.cy, "general"), 4);

	/* a deleted message stops counting, with the edits that mentioned */
	TH_EQ_INT(send_json(f.ada, "general", "{\"client_msg_id\":\"d1\",\"type\":\"delete\",\"target\":6}"),
		  11);
	TH_EQ_INT(inbox_mentions(f.cy, "general"), 3);
	TH_EQ_INT(send_json(f.ada, "general", "{\"client_msg_id\":\"d2\",\"type\":\"delete\",\"target\":8}"),
		  12);
	TH_EQ_INT(inbox_mentions(f.cy, "general"), 2);

	/* only what is above the read cursor */
	mark_read(f.cy, "general", 4);
	TH_EQ_INT(inbox_mentions(f.cy, "general"), 1);
	mark_read(f.cy, "general", 12);
	TH_EQ_INT(inbox_mentions(f.cy, "general"), 0);

	/* a direct channel: every message from the other counts, mine never; deletes stop counting */
	reply = tc_api(f.ada, "{\"op\":\"dm\",\"user\":\"bo\"}");
	snprintf(dm, sizeof(dm), "%s", th_json_str(reply, "channel"));
	cJSON_Delete(reply);
	dm_seq = tc_post(f.bo, dm, "are you there?");
	tc_post(f.bo, dm, "hello? @ada");
	tc_post(f.ada, dm, "yes");
	TH_EQ_INT(inbox_mentions(f.ada, dm), 2);
	TH_EQ_INT(inbox_mentions(f.bo, dm), 1);
	send_json(f.bo, dm, "{\"client_msg_id\":\"d3\",\"type\":\"delete\",\"target\":%lld}", dm_seq);
	TH_EQ_INT(inbox_mentions(f.ada, dm), 1);

	/* the counts live in the database: a restart keeps them */
	th_disconnect(f.ada);
	th_disconnect(f.bo);
	th_disconnect(f.cy);
	th_disconnect(f.dee);
	th_broker_restart(&f.b);
	f.ada = th_connect(&f.b, "ada", "ada-1", 5, true);
	f.bo = th_connect(&f.b, "bo", "bo-1", 5, true);
	f.cy = th_connect(&f.b, "cy", "cy-1", 4, true);
	f.dee = th_connect(&f.b, "dee", "dee-1", 5, true);
	TH_EQ_INT(inbox_mentions(f.ada, dm), 1);
	TH_EQ_INT(inbox_mentions(f.bo, "general"), 1); /* 7: 6 and 8 were deleted */
	tc_team_stop(&f);
}


/* ---- the mentions op ------------------------------------------------------------------------------- */

static void test_mentions_op(void)
{
	struct tc_team f;
	cJSON *reply, *page;
	char dm[64], req[256];
	long long before;
	char seen[256] = "";

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"ops\",\"members\":[\"cy\"]}");
	reply = tc_api(f.bo, "{\"op\":\"dm\",\"user\":\"cy\"}");
	snprintf(dm, sizeof(dm), "%s", th_json_str(reply, "channel"));
	cJSON_Delete(reply);

	tc_post(f.ada, "general", "@cy one"); /* general 4 */
	next_ms();
	tc_post(f.ada, "ops", "@cy two"); /* ops 3 */
	next_ms();
	tc_post(f.bo, dm, "three"); /* dm 3: a direct message */
	next_ms();
	tc_post(f.cy, "general", "@channel me"); /* general 5: cy's own, not returned */
	next_ms();
	tc_post(f.bo, "general", "@here four"); /* general 6 */
	next_ms();
	tc_post(f.ada, "general", "not for cy"); /* general 7 */

	reply = tc_api(f.cy, "{\"op\":\"mentions\"}");
	TH_JSON(reply,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"mentions\",\"more\":false,\"events\":["
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":6,\"type\":\"message\",\"from\":\"bo\","
		"\"device\":\"bo-1\",\"ts\":\"*\",\"client_msg_id\":\"*\",\"body\":\"@here four\","
		"\"mentions_all\":true},"
		"{\"id\":\"*\",\"channel\":\"*\",\"seq\":3,\"type\":\"message\",\"from\":\"bo\","
		"\"device\":\"bo-1\",\"ts\":\"*\",\"client_msg_id\":\"*\",\"body\":\"three\"},"
		"{\"id\":\"*\",\"channel\":\"ops\",\"seq\":3,\"type\":\"message\",\"from\":\"ada\","
		"\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"*\",\"body\":\"@cy two\","
		"\"mentions\":[\"cy\"]},"
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":4,\"type\":\"message\",\"from\":\"ada\","
		"\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"*\",\"body\":\"@cy one\","
		"\"mentions\":[\"cy\"]}]}");
	TH_EQ_STR(th_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(reply, "events"), 1), "channel"), dm);
	cJSON_Delete(reply);

	/* paging by before_ts, one at a time: the same four, newest first, each once (they are at
	 * least one ms apart) */
	before = -1;
	for(int i = 0; i < 6; i++) {
		const cJSON *ev;
		if(before < 0) {
			snprintf(req, sizeof(req), "{\"op\":\"mentions\",\"limit\":1}");
		} else {
			snprintf(req, sizeof(req), "{\"op\":\"mentions\",\"limit\":1,\"before_ts\":%lld}",
				 before);
		}
		page = tc_api(f.cy, "%s", req);
		ev = cJSON_GetArrayItem(cJSON_GetObjectItem(page, "events"), 0);
		if(ev == NULL) {
			TH_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(page, "more")));
			cJSON_Delete(page);
			break;
		}
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s%lld", seen[0] ? "," : "",
			 th_json_int(ev, "seq"));
		before = th_json_int(ev, "ts");
		cJSON_Delete(page);
	}
	TH_EQ_STR(seen, "6,3,3,4");

	/* a deleted message is gone from the list; a channel left takes its mentions with it */
	send_json(f.ada, "general", "{\"client_msg_id\":\"x1\",\"type\":\"delete\",\"target\":4}");
	tc_api_ok(f.cy, "{\"op\":\"leave\",\"channel\":\"ops\"}");
	reply = tc_api(f.cy, "{\"op\":\"mentions\",\"limit\":500}"); /* above 200: lowered */
	TH_EQ_STR(seqs_of(reply, "events"), "6,3");
	cJSON_Delete(reply);

	/* dee is in none of these channels */
	reply = tc_api(f.dee, "{\"op\":\"mentions\"}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"mentions\",\"events\":[],\"more\":false}");
	cJSON_Delete(reply);

	/* bad input */
	tc_expect_error(tc_api(f.cy, "{\"op\":\"mentions\",\"limit\":0}"), "bad_request", NULL);
	tc_expect_error(tc_api(f.cy, "{\"op\":\"mentions\",\"limit\":\"5\"}"), "bad_request", NULL);
	tc_expect_error(tc_api(f.cy, "{\"op\":\"mentions\",\"before_ts\":-1}"), "bad_request", NULL);
	tc_team_stop(&f);
}


/* ---- notification levels --------------------------------------------------------------------------- */

static void test_notify(void)
{
	struct tc_team f;
	cJSON *reply;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"secret\",\"visibility\":\"private\"}");
	TH_EQ_STR(inbox_notify(f.cy, "general"), "all");

	reply = tc_api(f.cy, "{\"op\":\"notify\",\"channel\":\"general\",\"level\":\"mentions\",\"ref\":7}");
	TH_JSON(reply, "{\"ok\":true,\"kind\":\"api\",\"op\":\"notify\",\"channel\":\"general\","
		       "\"level\":\"mentions\",\"ref\":7}");
	cJSON_Delete(reply);
	TH_EQ_STR(inbox_notify(f.cy, "general"), "mentions");
	TH_EQ_STR(inbox_notify(f.bo, "general"), "all"); /* per user */
	tc_api_ok(f.bo, "{\"op\":\"notify\",\"channel\":\"general\",\"level\":\"none\"}");
	TH_EQ_STR(inbox_notify(f.bo, "general"), "none");

	/* bad input: nothing stored */
	tc_expect_error(tc_api(f.cy, "{\"op\":\"notify\",\"channel\":\"general\",\"level\":\"loud\"}"),
			"bad_request", "level must be all, mentions or none");
	tc_expect_error(tc_api(f.cy, "{\"op\":\"notify\",\"channel\":\"general\"}"), "bad_request", NULL);
	tc_expect_error(tc_api(f.cy, "{\"op\":\"notify\",\"channel\":\"general\",\"level\":2}"),
			"bad_request", NULL);
	tc_expect_error(tc_api(f.cy, "{\"op\":\"notify\",\"level\":\"none\"}"), "bad_request", NULL);
	tc_expect_error(tc_api(f.cy, "{\"op\":\"notify\",\"channel\":\"_x\",\"level\":\"none\"}"),
			"bad_request", NULL);
	tc_expect_error(tc_api(f.bo, "{\"op\":\"notify\",\"channel\":\"general\",\"level\":\"ALL\"}"),
			"bad_request", "level must be all, mentions or none"); /* MQTT 5 alike */
	TH_EQ_STR(inbox_notify(f.cy, "general"), "mentions");

	/* not a member: the usual answers */
	tc_expect_error(tc_api(f.dee, "{\"op\":\"notify\",\"channel\":\"general\",\"level\":\"none\"}"),
			"not_member", NULL);
	tc_expect_error(tc_api(f.dee, "{\"op\":\"notify\",\"channel\":\"secret\",\"level\":\"none\"}"),
			"no_such_channel", "there is no channel #secret");
	tc_expect_error(tc_api(f.dee, "{\"op\":\"notify\",\"channel\":\"nope\",\"level\":\"none\"}"),
			"no_such_channel", "there is no channel #nope");

	/* kept across a restart */
	th_disconnect(f.ada);
	th_disconnect(f.bo);
	th_disconnect(f.cy);
	th_disconnect(f.dee);
	th_broker_restart(&f.b);
	f.ada = th_connect(&f.b, "ada", "ada-1", 5, true);
	f.bo = th_connect(&f.b, "bo", "bo-1", 5, true);
	f.cy = th_connect(&f.b, "cy", "cy-1", 4, true);
	f.dee = th_connect(&f.b, "dee", "dee-1", 5, true);
	TH_EQ_STR(inbox_notify(f.cy, "general"), "mentions");
	TH_EQ_STR(inbox_notify(f.bo, "general"), "none");

	/* back to all; and a member who leaves loses the level */
	tc_api_ok(f.cy, "{\"op\":\"notify\",\"channel\":\"general\",\"level\":\"all\"}");
	TH_EQ_STR(inbox_notify(f.cy, "general"), "all");
	tc_api_ok(f.bo, "{\"op\":\"leave\",\"channel\":\"general\"}");
	tc_api_ok(f.bo, "{\"op\":\"join\",\"channel\":\"general\"}");
	TH_EQ_STR(inbox_notify(f.bo, "general"), "all");
	tc_team_stop(&f);
}


/* ---- threads ----------------------------------------------------------------------------------------- */

static void test_thread(void)
{
	struct tc_team f;
	cJSON *reply, *root_live, *page;
	char all[512] = "";
	long long since = 0;
	int pages = 0;

	tc_team_start(&f);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"other\",\"members\":[\"bo\"]}");
	TH_EQ_INT(tc_post(f.ada, "general", "root"), 4);
	TH_EQ_INT(send_json(f.bo, "general",
			    "{\"client_msg_id\":\"r1\",\"thread\":4,\"body\":\"reply one\"}"),
		  5);
	TH_EQ_INT(tc_post(f.cy, "general", "not in the thread"), 6);
	TH_EQ_INT(send_json(f.cy, "general",
			    "{\"client_msg_id\":\"r2\",\"thread\":4,\"body\":\"reply two\"}"),
		  7);
	TH_EQ_INT(
		send_json(f.ada, "general",
			  "{\"client_msg_id\":\"x1\",\"type\":\"reaction\",\"target\":5,\"emoji\":\":+1:\"}"),
		8);
	TH_EQ_INT(send_json(f.bo, "general",
			    "{\"client_msg_id\":\"x2\",\"type\":\"edit\",\"target\":5,\"body\":\"reply 1\"}"),
		  9);
	TH_EQ_INT(
		send_json(
			f.ada, "general",
			"{\"client_msg_id\":\"x3\",\"type\":\"reaction\",\"target\":4,\"emoji\":\":eyes:\"}"),
		10); /* on the root: the channel's, not the thread's */
	TH_EQ_INT(send_json(f.bo, "general",
			    "{\"client_msg_id\":\"r3\",\"thread\":4,\"body\":\"reply three\"}"),
		  11);
	TH_EQ_INT(send_json(f.bo, "general", "{\"client_msg_id\":\"x4\",\"type\":\"delete\",\"target\":11}"),
		  12);

	reply = tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":4}");
	TH_JSON(reply,
		"{\"ok\":true,\"kind\":\"api\",\"op\":\"thread\",\"channel\":\"general\","
		"\"root\":{\"id\":\"*\",\"channel\":\"general\",\"seq\":4,\"type\":\"message\",\"from\":"
		"\"ada\","
		"\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"*\",\"body\":\"root\"},"
		"\"replies\":["
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":5,\"type\":\"message\",\"from\":\"bo\","
		"\"device\":\"bo-1\",\"ts\":\"*\",\"client_msg_id\":\"r1\",\"body\":\"reply "
		"one\",\"thread\":4},"
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":7,\"type\":\"message\",\"from\":\"cy\","
		"\"device\":\"cy-1\",\"ts\":\"*\",\"client_msg_id\":\"r2\",\"body\":\"reply "
		"two\",\"thread\":4},"
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":8,\"type\":\"reaction\",\"from\":\"ada\","
		"\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"x1\",\"target\":5,\"emoji\":\":+1:\","
		"\"on\":true},"
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":9,\"type\":\"edit\",\"from\":\"bo\","
		"\"device\":\"bo-1\",\"ts\":\"*\",\"client_msg_id\":\"x2\",\"target\":5,\"body\":\"reply "
		"1\"},"
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":11,\"type\":\"message\",\"from\":\"bo\","
		"\"device\":\"bo-1\",\"ts\":\"*\",\"client_msg_id\":\"r3\",\"thread\":4,\"deleted\":true},"
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":12,\"type\":\"delete\",\"from\":\"bo\","
		"\"device\":\"bo-1\",\"ts\":\"*\",\"client_msg_id\":\"x4\",\"target\":11}],"
		"\"reply_count\":2,\"last_reply_ts\":\"*\",\"since\":0,\"next\":12,\"more\":false}");
	/* the root as catch-up serves it; last_reply_ts is reply two's (three is deleted) */
	page = tc_sync(f.bo, "general", 3, 4);
	root_live = cJSON_GetArrayItem(cJSON_GetObjectItem(page, "events"), 0);
	expect_same(cJSON_GetObjectItem(reply, "root"), root_live);
	TH_EQ_INT(th_json_int(reply, "last_reply_ts"),
		  th_json_int(cJSON_GetArrayItem(cJSON_GetObjectItem(page, "events"), 3), "ts"));
	cJSON_Delete(page);

	/* a 3.1.1 client gets the same answer */
	page = tc_api(f.cy, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":4}");
	expect_same(page, reply);
	cJSON_Delete(page);
	cJSON_Delete(reply);

	/* pages of two chain like catch-up: every event once */
	for(;;) {
		TH_CHECK(++pages <= 10);
		page = tc_api(f.ada,
			      "{\"op\":\"thread\",\"channel\":\"general\",\"root\":4,\"since\":%lld,"
			      "\"limit\":2}",
			      since);
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s",
			 all[0] && *seqs_of(page, "replies") ? "," : "", seqs_of(page, "replies"));
		TH_EQ_INT(th_json_int(page, "reply_count"), 2);
		since = th_json_int(page, "next");
		if(!cJSON_IsTrue(cJSON_GetObjectItem(page, "more"))) {
			cJSON_Delete(page);
			break;
		}
		cJSON_Delete(page);
	}
	TH_EQ_STR(all, "5,7,8,9,11,12");
	TH_EQ_INT(pages, 3);

	/* a root without replies */
	reply = tc_api(f.ada, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":6}");
	TH_EQ_STR(seqs_of(reply, "replies"), "");
	TH_CHECK(cJSON_IsNull(cJSON_GetObjectItem(reply, "last_reply_ts")));
	TH_EQ_INT(th_json_int(reply, "reply_count"), 0);
	TH_EQ_INT(th_json_int(reply, "next"), 0);
	cJSON_Delete(reply);

	/* bad input, each bad_request with what is wrong */
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":5}"), "bad_request",
			"message 5 of #general is a reply in a thread, not its root");
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":1}"), "bad_request",
			"event 1 of #general is not a message");
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":8}"), "bad_request",
			"event 8 of #general is not a message");
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":99}"),
			"bad_request", "#general has no message 99");
	/* another channel's seq: #other's messages are no events of #general */
	for(int i = 0; i < 12; i++) {
		tc_post(f.ada, "other", "filler");
	}
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":14}"),
			"bad_request", "#general has no message 14");
	send_json(f.ada, "general", "{\"client_msg_id\":\"x5\",\"type\":\"delete\",\"target\":4}");
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":4}"), "bad_request",
			"message 4 of #general was deleted");
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\"}"), "bad_request", NULL);
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":\"6\"}"),
			"bad_request", NULL);
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":0}"), "bad_request",
			NULL);
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":6,\"limit\":0}"),
			"bad_request", NULL);
	tc_expect_error(tc_api(f.bo, "{\"op\":\"thread\",\"root\":6}"), "bad_request", NULL);
	/* members only */
	tc_expect_error(tc_api(f.dee, "{\"op\":\"thread\",\"channel\":\"general\",\"root\":6}"), "not_member",
			NULL);
	tc_expect_error(tc_api(f.cy, "{\"op\":\"thread\",\"channel\":\"other\",\"root\":3}"), "not_member",
			NULL);
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"hidden\",\"visibility\":\"private\"}");
	tc_post(f.ada, "hidden", "secret root");
	tc_expect_error(tc_api(f.dee, "{\"op\":\"thread\",\"channel\":\"hidden\",\"root\":2}"),
			"no_such_channel", "there is no channel #hidden");
	tc_team_stop(&f);
}


TH_TEST_LIST(TH_TEST(test_mentions_in_events), TH_TEST(test_inbox_counts), TH_TEST(test_mentions_op),
	     TH_TEST(test_notify), TH_TEST(test_thread))
