/*
 * th_chat.c - protocol helpers for mqchat's integration tests.
 */
#define _GNU_SOURCE /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "th_chat.h"

#define REPLY_TIMEOUT_MS 5000


const char *tc_reply_topic(const struct th_client *c)
{
	static char topic[512];

	/* as the server escapes it (docs/protocol.md, "Replies") */
	size_t len = (size_t)snprintf(topic, sizeof(topic), "chat/_reply/");

	for(const char *p = th_client_id(c); *p != '\0' && len + 4 < sizeof(topic); p++) {
		const char *esc = *p == '+' ? "%2B" : *p == '#' ? "%23" : *p == '%' ? "%25" : NULL;
		len += (size_t)(esc ? snprintf(topic + len, sizeof(topic) - len, "%s", esc)
				    : snprintf(topic + len, sizeof(topic) - len, "%c", *p));
	}
	return topic;
}


static cJSON *vrequest(struct th_client *c, const char *topic, const char *fmt, va_list ap)
{
	char *payload = NULL;
	cJSON *reply;
	int rc;

	TH_CHECK(vasprintf(&payload, fmt, ap) >= 0);
	rc = th_publish(c, topic, payload, -1, 1, NULL);
	TH_CHECKF(rc >= 0, "publish to %s failed (%d)", topic, rc);
	reply = th_wait_json(c, tc_reply_topic(c), REPLY_TIMEOUT_MS);
	TH_CHECKF(reply != NULL, "no reply to %s on %s", payload, tc_reply_topic(c));
	free(payload);
	return reply;
}


void tc_sign_in(struct th_broker *b, ...)
{
	char client_id[300];
	const char *user;
	va_list ap;

	va_start(ap, b);
	while((user = va_arg(ap, const char *)) != NULL) {
		/* The plugin records a user at the end of the loop iteration that accepted its CONNECT,
		 * before it reads anything that was sent after the CONNACK. */
		snprintf(client_id, sizeof(client_id), "%s-signs-in", user);
		th_disconnect(th_connect(b, user, client_id, 4, true));
	}
	va_end(ap);
}


cJSON *tc_request(struct th_client *c, const char *topic, const char *fmt, ...)
{
	va_list ap;
	cJSON *reply;

	va_start(ap, fmt);
	reply = vrequest(c, topic, fmt, ap);
	va_end(ap);
	return reply;
}


cJSON *tc_api(struct th_client *c, const char *fmt, ...)
{
	va_list ap;
	cJSON *reply;

	va_start(ap, fmt);
	reply = vrequest(c, "chat/_api", fmt, ap);
	va_end(ap);
	return reply;
}


void tc_api_ok(struct th_client *c, const char *fmt, ...)
{
	va_list ap;
	cJSON *reply;
	char *text;

	va_start(ap, fmt);
	reply = vrequest(c, "chat/_api", fmt, ap);
	va_end(ap);
	text = th_json_print(reply);
	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")), "api request failed: %s", text);
	free(text);
	cJSON_Delete(reply);
}


cJSON *tc_send(struct th_client *c, const char *channel, const char *cmid, const char *body)
{
	cJSON *req = cJSON_CreateObject();
	char topic[128];
	char *payload, *text;
	cJSON *ack;

	cJSON_AddStringToObject(req, "client_msg_id", cmid);
	cJSON_AddStringToObject(req, "body", body);
	payload = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	snprintf(topic, sizeof(topic), "chat/%s", channel);
	ack = tc_request(c, topic, "%s", payload);
	free(payload);
	text = th_json_print(ack);
	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(ack, "ok")), "send refused: %s", text);
	free(text);
	return ack;
}


long long tc_post(struct th_client *c, const char *channel, const char *body)
{
	static int n;
	char cmid[32];
	cJSON *ack;
	long long seq;

	snprintf(cmid, sizeof(cmid), "tc-%d", ++n);
	ack = tc_send(c, channel, cmid, body); /* which checks the ack */
	seq = th_json_int(ack, "seq");
	cJSON_Delete(ack);
	return seq;
}


void tc_team_start(struct tc_team *t)
{
	th_broker_start(&t->b, "");
	t->ada = th_connect(&t->b, "ada", "ada-1", 5, true);
	t->bo = th_connect(&t->b, "bo", "bo-1", 5, true);
	t->cy = th_connect(&t->b, "cy", "cy-1", 4, true);
	t->dee = th_connect(&t->b, "dee", "dee-1", 5, true);
}


void tc_team_stop(struct tc_team *t)
{
	th_disconnect(t->ada);
	th_disconnect(t->bo);
	th_disconnect(t->cy);
	th_disconnect(t->dee);
	th_broker_stop(&t->b);
}


cJSON *tc_sync(struct th_client *c, const char *channel, long long since, int limit)
{
	char topic[128];

	snprintf(topic, sizeof(topic), "chat/%s/sync", channel);
	if(limit > 0) {
		return tc_request(c, topic, "{\"since\":%lld,\"limit\":%d}", since, limit);
	}
	return tc_request(c, topic, "{\"since\":%lld}", since);
}


cJSON *tc_history(struct th_client *c, const char *channel)
{
	cJSON *all = cJSON_CreateArray();
	long long since = 0;
	bool more = true;

	while(more) {
		cJSON *page = tc_sync(c, channel, since, 1000);
		cJSON *events = cJSON_GetObjectItem(page, "events");
		cJSON *ev;

		TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(page, "ok")), "catch-up of #%s failed", channel);
		TH_EQ_INT(th_json_int(page, "since"), since);
		cJSON_ArrayForEach(ev, events) {
			TH_EQ_INT(th_json_int(ev, "seq"), cJSON_GetArraySize(all) + 1);
			cJSON_AddItemToArray(all, cJSON_Duplicate(ev, true));
		}
		since = th_json_int(page, "next");
		more = cJSON_IsTrue(cJSON_GetObjectItem(page, "more"));
		cJSON_Delete(page);
	}
	return all;
}


void tc_expect_error_at(const char *file, int line, cJSON *reply, const char *code, const char *message)
{
	char *text = th_json_print(reply);
	const char *actual_code = th_json_str(reply, "code");
	const char *actual_message = th_json_str(reply, "message");

	if(!cJSON_IsFalse(cJSON_GetObjectItem(reply, "ok")) || actual_code == NULL
	   || strcmp(actual_code, code) != 0
	   || (message != NULL && (actual_message == NULL || strcmp(actual_message, message) != 0))) {
		th_fail(file, line, "expected error %s%s%s%s, got %s", code, message ? " \"" : "",
			message ? message : "", message ? "\"" : "", text);
	}
	free(text);
	cJSON_Delete(reply);
}


const cJSON *tc_inbox_entry(struct th_client *c, const char *ch, cJSON **reply_out)
{
	cJSON *reply = tc_api(c, "{\"op\":\"channels\"}");
	const cJSON *entry;

	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")));
	cJSON_ArrayForEach(entry, cJSON_GetObjectItem(reply, "channels")) {
		const char *name = th_json_str(entry, "channel");
		if(name && strcmp(name, ch) == 0) {
			*reply_out = reply;
			return entry;
		}
	}
	{
		char *text = th_json_print(reply);
		th_fail(__FILE__, __LINE__, "%s: no #%s in the inbox: %s", th_client_id(c), ch, text);
	}
}


/* A server timestamp must be a number of milliseconds near the wall clock. */
static void check_ts(const char *file, int line, const cJSON *j)
{
	const cJSON *ts = cJSON_GetObjectItem(j, "ts");
	struct timeval tv;
	double now;

	if(ts == NULL) {
		return;
	}
	gettimeofday(&tv, NULL);
	now = (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
	if(!cJSON_IsNumber(ts) || ts->valuedouble < now - 60000.0 || ts->valuedouble > now + 60000.0) {
		char *text = th_json_print(j);
		th_fail(file, line, "ts is not the server's clock in milliseconds: %s", text);
	}
}


void tc_expect_next_at(const char *file, int line, struct th_client *c, const char *filter, int timeout_ms,
		       int qos, const char *fmt, ...)
{
	char pattern[2048];
	struct th_msg *m;
	va_list ap;
	cJSON *j;

	va_start(ap, fmt);
	vsnprintf(pattern, sizeof(pattern), fmt, ap);
	va_end(ap);
	m = th_wait_msg(c, filter, timeout_ms);
	if(m == NULL) {
		th_fail(file, line, "%s received nothing on %s within %d ms; expected %s", th_client_id(c),
			filter, timeout_ms, pattern);
	}
	j = cJSON_Parse((char *)m->payload);
	if(j == NULL) {
		th_fail(file, line, "%s: not JSON on %s: %s", th_client_id(c), m->topic, (char *)m->payload);
	}
	th_json_check_(file, line, m->topic, j, pattern);
	if(qos >= 0 && m->qos != qos) {
		th_fail(file, line, "%s: %s arrived at QoS %d, expected %d", th_client_id(c), m->topic,
			m->qos, qos);
	}
	check_ts(file, line, j);
	cJSON_Delete(j);
	th_msg_free(m);
}


void tc_expect_presence_at(const char *file, int line, struct th_client *c, const char *ch, const char *user,
			   bool online)
{
	char topic[128];

	snprintf(topic, sizeof(topic), "chat/%s/presence", ch);
	tc_expect_next_at(file, line, c, topic, 5000, 0,
			  "{\"channel\":\"%s\",\"user\":\"%s\",\"online\":%s,\"ts\":\"*\"}", ch, user,
			  online ? "true" : "false");
}


cJSON *tc_expect_event(struct th_client *c, const char *channel, bool skip_joins)
{
	char topic[128];

	snprintf(topic, sizeof(topic), "chat/%s", channel);
	for(int i = 0; i < 16; i++) {
		cJSON *ev = th_expect_json(c, topic);
		const char *type = th_json_str(ev, "type");
		if(!skip_joins || type == NULL || strcmp(type, "join") != 0) {
			return ev;
		}
		cJSON_Delete(ev);
	}
	th_fail(__FILE__, __LINE__, "only joins on %s", topic);
}


void tc_worked_example(struct th_broker *ada_at, struct th_broker *bo_at, struct th_broker *cy_at)
{
	bool across = bo_at != ada_at || cy_at != ada_at;
	struct th_client *ada, *bo, *cy;
	struct th_msg *live;
	cJSON *ack, *page, *event, *live_event;
	char cmid[32];

	ada = th_connect(ada_at, "ada", "ada-laptop", 5, true);
	bo = th_connect(bo_at, "bo", "bo-phone", 5, true);
	cy = th_connect(cy_at, "cy", "cy-tablet", 4, true);
	/* Bo and Cy are users once the broker holding the log has seen them connect; on an edge, a
	 * request of theirs, which follows the edge's report of the connection, proves it has */
	tc_api_ok(bo, "{\"op\":\"channels\"}");
	tc_api_ok(cy, "{\"op\":\"channels\"}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	/* on another broker, a member's subscription is granted once that broker has the membership; on
	 * the creator's own it is granted at once */
	if(across) {
		th_wait_until(th_subscribe(bo, "chat/general", 1) == 1, 5000);
		th_wait_until(th_subscribe(cy, "chat/general", 1) == 1, 5000);
	} else {
		TH_EQ_INT(th_subscribe(bo, "chat/general", 1), 1);
		TH_EQ_INT(th_subscribe(cy, "chat/general", 1), 1);
	}

	/* seqs 1-3 are the joins of ada, bo and cy; 4-41 the history Cy saw before going offline */
	for(int i = 4; i <= 41; i++) {
		snprintf(cmid, sizeof(cmid), "c-%d", i);
		ack = tc_send(ada, "general", cmid, "earlier");
		TH_EQ_INT(th_json_int(ack, "seq"), i);
		cJSON_Delete(ack);
	}
	for(int i = 4; i <= 41; i++) {
		cJSON *seen = tc_expect_event(cy, "general", across);
		TH_EQ_INT(th_json_int(seen, "seq"), i);
		cJSON_Delete(seen);
		seen = tc_expect_event(bo, "general", across);
		TH_EQ_INT(th_json_int(seen, "seq"), i);
		cJSON_Delete(seen);
	}
	th_disconnect(cy);

	ack = tc_send(ada, "general", "c-5f1e", "hello");
	TH_JSON(ack, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-5f1e\","
		     "\"id\":\"*\",\"seq\":42,\"ts\":\"*\",\"duplicate\":false}");
	live = th_wait_msg(bo, "chat/general", 5000);
	TH_CHECK(live != NULL);
	live_event = th_json_parse((char *)live->payload);
	TH_JSON(live_event,
		"{\"id\":\"*\",\"channel\":\"general\",\"seq\":42,\"type\":\"message\",\"from\":\"ada\","
		"\"device\":\"ada-laptop\",\"ts\":\"*\",\"client_msg_id\":\"c-5f1e\",\"body\":\"hello\"}");
	TH_EQ_STR(th_json_str(live_event, "id"), th_json_str(ack, "id"));
	TH_EQ_INT(th_json_int(live_event, "ts"), th_json_int(ack, "ts"));

	cy = th_connect(cy_at, "cy", "cy-tablet", 4, true);
	page = tc_sync(cy, "general", 41, 0);
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":41,"
		      "\"next\":42,\"head\":42,\"more\":false,\"events\":[\"*\"]}");
	event = cJSON_GetArrayItem(cJSON_GetObjectItem(page, "events"), 0);
	TH_CHECK(cJSON_Compare(event, live_event, true));
	{
		/* byte for byte: the page embeds the very text Bo received */
		char *raw = th_json_print(page);
		TH_CHECKF(strstr(raw, (char *)live->payload) != NULL, "live payload not in page: %s", raw);
		free(raw);
	}
	cJSON_Delete(page);

	/* and nothing more after it: exactly once */
	page = tc_sync(cy, "general", 42, 0);
	TH_JSON(page, "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"general\",\"epoch\":\"*\",\"since\":42,"
		      "\"next\":42,\"head\":42,\"more\":false,\"events\":[]}");
	cJSON_Delete(page);
	TH_EQ_INT(th_queued(bo, "chat/general"), 0);

	cJSON_Delete(live_event);
	cJSON_Delete(ack);
	th_msg_free(live);
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy);
}
