/*
 * reply.c - addresses and sends acks, errors and replies (the bounds on them: reply.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "broker.h"
#include "clock.h"
#include "envelope.h"
#include "reply.h"
#include "sessions.h"
#include "topic.h"

/* At most one rate_limited error per client per this many ms: each error is itself a message, so a
 * flood answered error for error would be amplified, not limited. MQTT 5 senders still get PUBACK
 * 0x87 for each refused publish. */
#define RATE_LIMITED_QUIET_MS 1000


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
		len = chat_topic__reply_topic(client_id, NULL, 0) + 1;
		rt->topic = malloc(len);
		if(rt->topic != NULL) {
			chat_topic__reply_topic(client_id, rt->topic, len);
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


void chat_reply__deliver(struct chat_sessions *sessions, const char *client_id, const char *topic,
			 const char *payload, size_t len, const void *correlation, uint16_t correlation_len)
{
	const void *client = NULL;

	if(sessions != NULL) {
		client = chat_sessions__client(sessions, client_id);
		if(client == NULL) {
			return; /* gone: it asks again when it is back */
		}
		if(chat_broker__client_congested(client)) {
			if(chat_sessions__note_dropped_reply(sessions, client_id, chat_clock__mono_ms())) {
				chat_broker__log(CHAT_LOG_NOTICE,
						 "%s is not reading what it is sent: its answers are dropped "
						 "until it does",
						 client_id);
			}
			return;
		}
	}
	chat_broker__reply_to(client_id, topic, payload, len, correlation, correlation_len);
}


void chat_reply__via_edge(const struct chat_edge_route *route, const char *client_id, const char *topic,
			  const char *json, size_t len, const void *correlation, uint16_t correlation_len)
{
	char down[sizeof(CHAT_EDGE_DOWN_PREFIX) + CHAT_EDGE_ID_MAX + 1];
	size_t env_len = 0;
	char *env = chat_envelope__reply(client_id, topic, json, len, correlation, correlation_len, &env_len);

	if(env == NULL) {
		chat_broker__log(CHAT_LOG_WARNING, "could not reply to %s on edge %s: out of memory",
				 client_id, route->edge_id);
		return;
	}
	snprintf(down, sizeof(down), CHAT_EDGE_DOWN_PREFIX "%s", route->edge_id);
	chat_broker__send_to(route->bridge_client, down, env, env_len, NULL, 0);
	free(env);
}


void chat_reply__send(const struct chat_reply_to *rt, const char *json, size_t len)
{
	if(rt->topic == NULL || json == NULL) {
		chat_broker__log(CHAT_LOG_WARNING, "could not reply to %s: out of memory", rt->client_id);
		return;
	}
	if(rt->via != NULL) {
		chat_reply__via_edge(rt->via, rt->client_id, rt->topic, json, len, rt->correlation,
				     rt->correlation_len);
		return;
	}
	chat_reply__deliver(rt->sessions, rt->client_id, rt->topic, json, len, rt->correlation,
			    rt->correlation_len);
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
	char *json;

	if(err->code == CHAT_ERR_RATE_LIMITED && rt->sessions != NULL && rt->via == NULL
	   && !chat_sessions__may_say(rt->sessions, rt->client_id, chat_clock__mono_ms(),
				      RATE_LIMITED_QUIET_MS)) {
		return err->code;
	}
	json = chat_error_json__build(err, ctx ? ctx : &none, &len);
	chat_reply__send(rt, json, len);
	free(json);
	return err->code;
}
