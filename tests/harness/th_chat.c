/*
 * th_chat.c - protocol helpers for mqchat's integration tests.
 */
#define _GNU_SOURCE /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th_chat.h"

#define REPLY_TIMEOUT_MS 5000


const char *tc_reply_topic(const struct th_client *c)
{
	static char topic[512];

	snprintf(topic, sizeof(topic), "chat/_reply/%s", th_client_id(c));
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
