/*
 * reply.c - addresses and sends acks, errors and replies (the bounds on them: reply.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "broker.h"
#include "clock.h"
#include "envelope.h"
#include "json_fields.h"
#include "reply.h"
#include "sessions.h"
#include "topic.h"
#include "utf8.h"

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
	cJSON_Delete(rt->ref);
	memset(rt, 0, sizeof(*rt));
}


static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}


int chat_reply_kept__copy(struct chat_reply_kept *kept, const struct chat_reply_to *rt)
{
	memset(kept, 0, sizeof(*kept));
	kept->client_id = dup_or_null(rt->client_id);
	kept->topic = dup_or_null(rt->topic);
	if(rt->via != NULL) {
		kept->via_edge_id = dup_or_null(rt->via->edge_id);
		kept->via_bridge_client = dup_or_null(rt->via->bridge_client);
	}
	if(rt->correlation != NULL && (kept->correlation = malloc(rt->correlation_len)) != NULL) {
		memcpy(kept->correlation, rt->correlation, rt->correlation_len);
		kept->correlation_len = rt->correlation_len;
	}
	kept->requested = rt->requested;
	kept->request = rt->request;
	kept->ref = rt->ref != NULL ? cJSON_Duplicate(rt->ref, true) : NULL;
	if(kept->client_id == NULL || kept->topic == NULL
	   || (rt->via != NULL && (kept->via_edge_id == NULL || kept->via_bridge_client == NULL))
	   || (rt->correlation != NULL && kept->correlation == NULL)
	   || (rt->ref != NULL && kept->ref == NULL)) {
		return -1;
	}
	return 0;
}


void chat_reply_kept__release(struct chat_reply_kept *kept)
{
	free(kept->client_id);
	free(kept->topic);
	free(kept->correlation);
	free(kept->via_edge_id);
	free(kept->via_bridge_client);
	cJSON_Delete(kept->ref);
	memset(kept, 0, sizeof(*kept));
}


struct chat_reply_to chat_reply_kept__view(const struct chat_reply_kept *kept, struct chat_edge_route *route,
					   struct chat_sessions *sessions)
{
	route->edge_id = kept->via_edge_id;
	route->bridge_client = kept->via_bridge_client;
	return (struct chat_reply_to){
		.client_id = kept->client_id,
		.topic = kept->topic,
		.correlation = kept->correlation,
		.correlation_len = kept->correlation_len,
		.requested = kept->requested,
		.via = kept->via_edge_id != NULL ? route : NULL,
		.sessions = kept->via_edge_id != NULL ? NULL : sessions,
		.request = kept->request,
		.ref = kept->ref,
	};
}


/* Whether needle occurs in hay[0..len). */
static bool contains(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	const char *p = hay, *end = hay + len;

	while(end - p >= (ptrdiff_t)n
	      && (p = memchr(p, needle[0], (size_t)(end - p - (ptrdiff_t)n) + 1)) != NULL) {
		if(memcmp(p, needle, n) == 0) {
			return true;
		}
		p++;
	}
	return false;
}


enum chat_err chat_reply_to__request(struct chat_reply_to *rt, const char *request, const void *payload,
				     size_t len, struct chat_error *err)
{
	const cJSON *item;
	cJSON *obj;
	enum chat_err rc = CHAT_ERR_OK;

	rt->request = request;
	/* Most requests carry no ref: spare them a second parse (their service parses them). A key can
	 * only be "ref" if those bytes, or an escape, are in the payload. */
	if(payload == NULL || !chat_json__looks_like_object(payload, len)
	   || (!contains(payload, len, "\"ref\"") && !contains(payload, len, "\\u"))) {
		return CHAT_ERR_OK;
	}
	/* Lenient on purpose: the service refuses what is wrong with the rest, and its error should
	 * carry the ref. */
	obj = cJSON_ParseWithLength(payload, len);
	item = cJSON_GetObjectItemCaseSensitive(obj, "ref");
	if(!cJSON_IsObject(obj) || item == NULL || cJSON_IsNull(item)) {
		cJSON_Delete(obj);
		return CHAT_ERR_OK;
	}
	if(!cJSON_IsNumber(item)
	   && !(cJSON_IsString(item) && chat_utf8__valid(item->valuestring, strlen(item->valuestring))
		&& chat_utf8__length(item->valuestring, strlen(item->valuestring)) <= CHAT_REF_MAX)) {
		rc = chat_error__set(err, CHAT_ERR_BAD_REQUEST,
				     "ref must be a number or a string of at most %d characters",
				     CHAT_REF_MAX);
	} else if((rt->ref = cJSON_Duplicate(item, false)) == NULL) {
		rc = chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	} else {
		rt->requested = true; /* a ref asks for an answer, as a Response Topic does */
	}
	cJSON_Delete(obj);
	return rc;
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


/* Sends json[0..len) to rt as it is. */
static void send_as_is(const struct chat_reply_to *rt, const char *json, size_t len)
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


void chat_reply__send(const struct chat_reply_to *rt, const char *json, size_t len)
{
	char *ref, *with_ref;
	size_t ref_len, total;

	/* Every answer echoes the ref: spliced in here, once, rather than by each builder, so no kind of
	 * answer can forget it. An answer is one JSON object, ending with '}'. */
	if(rt->ref == NULL || json == NULL || len < 2 || json[len - 1] != '}') {
		send_as_is(rt, json, len);
		return;
	}
	ref = chat_json__print(rt->ref, &ref_len);
	total = len + sizeof(",\"ref\":") + ref_len;
	with_ref = ref != NULL ? malloc(total) : NULL;
	if(with_ref == NULL) {
		send_as_is(rt, NULL, 0); /* logs it */
	} else {
		/* "{}" takes no comma */
		snprintf(with_ref, total, "%.*s%s\"ref\":%s}", (int)(len - 1), json, len > 2 ? "," : "", ref);
		send_as_is(rt, with_ref, strlen(with_ref));
	}
	free(with_ref);
	free(ref);
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
	struct chat_error_context named = ctx ? *ctx : (struct chat_error_context){0};
	size_t len = 0;
	char *json;

	if(err->code == CHAT_ERR_RATE_LIMITED && rt->sessions != NULL && rt->via == NULL
	   && !chat_sessions__may_say(rt->sessions, rt->client_id, chat_clock__mono_ms(),
				      RATE_LIMITED_QUIET_MS)) {
		return err->code;
	}
	if(rt->request != NULL) {
		named.request = rt->request;
	}
	if(rt->ref != NULL) {
		named.ref = rt->ref;
	}
	json = chat_error_json__build(err, &named, &len);
	send_as_is(rt, json, len);
	free(json);
	return err->code;
}
