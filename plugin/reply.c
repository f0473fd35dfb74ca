/*
 * reply.c - addresses and sends acks, errors and replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "broker.h"
#include "edge_link.h"
#include "reply.h"
#include "topic.h"


int chat_reply_to__init(struct chat_reply_to *rt, const char *client_id, const char *response_topic,
			const void *correlation, uint16_t correlation_len)
{
	size_t len;

	memset(rt, 0, sizeof(*rt));
	rt->client_id = client_id;
	if(response_topic != NULL && mosquitto_pub_topic_check(response_topic) == MOSQ_ERR_SUCCESS) {
		rt->requested = true;
		rt->topic = strdup(response_topic);
	} else {
		len = strlen(CHAT_REPLY_PREFIX) + strlen(client_id) + 1;
		rt->topic = malloc(len);
		if(rt->topic != NULL) {
			snprintf(rt->topic, len, CHAT_REPLY_PREFIX "%s", client_id);
		}
	}
	if(rt->topic == NULL) {
		return -1;
	}
	if(correlation != NULL && correlation_len > 0) {
		rt->correlation = malloc(correlation_len);
		if(rt->correlation == NULL) {
			return -1;
		}
		memcpy(rt->correlation, correlation, correlation_len);
		rt->correlation_len = correlation_len;
	}
	return 0;
}


void chat_reply_to__clear(struct chat_reply_to *rt)
{
	free(rt->topic);
	free(rt->correlation);
	memset(rt, 0, sizeof(*rt));
}


void chat_reply__send(const struct chat_reply_to *rt, const char *json, size_t len)
{
	if(rt->topic == NULL || json == NULL) {
		chat_broker__log(CHAT_LOG_WARNING, "could not reply to %s: out of memory", rt->client_id);
		return;
	}
	if(rt->via != NULL) {
		chat_edge_link__reply(rt->via, rt->client_id, rt->topic, json, len, rt->correlation,
				      rt->correlation_len);
		return;
	}
	chat_broker__send_to(rt->client_id, rt->topic, json, len, rt->correlation, rt->correlation_len);
}


void chat_reply__send_object(const struct chat_reply_to *rt, const cJSON *obj)
{
	size_t len = 0;
	char *json = chat_json__print(obj, &len);

	chat_reply__send(rt, json, len);
	free(json);
}


enum chat_err chat_reply__error(const struct chat_reply_to *rt, const struct chat_error *err,
				const struct chat_error_context *ctx)
{
	static const struct chat_error_context none = {0};
	size_t len = 0;
	char *json = chat_error_json__build(err, ctx ? ctx : &none, &len);

	chat_reply__send(rt, json, len);
	free(json);
	return err->code;
}
