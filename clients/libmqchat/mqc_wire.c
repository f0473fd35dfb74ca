/*
 * mqc_wire.c - the protocol's names and how answers find their request.
 *
 * Matching an answer to its request (docs/protocol.md, "Writing a client"): every request we expect
 * an answer to carries a token, "s:<ch>" (catch-up), "m:<cmid>" (send) or "a:<ref>" (chat/_api), as
 * its "ref" and, with MQTT 5, as its Correlation Data; the server echoes both in every answer, ack,
 * page or error. A server that does not echo a ref is matched by the answer's own fields: a page names
 * its channel, an ack or a send's error its client_msg_id, an api answer its op. The library keeps at
 * most one catch-up per channel in flight and ids that are unique, so these are enough; a stale
 * answer (of an earlier request) fails the since/cmid check of its handler and is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "mqc_internal.h"


bool mqc__valid_channel(const char *ch)
{
	size_t n = ch ? strlen(ch) : 0;

	if(n == 0 || n > MQC_CH_MAX || ch[0] == '_') {
		return false;
	}
	for(size_t i = 0; i < n; i++) {
		char k = ch[i];
		if(!((k >= 'a' && k <= 'z') || (k >= 'A' && k <= 'Z') || (k >= '0' && k <= '9') || k == '.'
		     || k == '_' || k == '-')) {
			return false;
		}
	}
	return true;
}


int mqc__reply_topic(const char *client_id, char *out, size_t cap)
{
	size_t len = 0;
	const char *prefix = "chat/_reply/";

	for(const char *p = prefix; *p; p++) {
		out[len++] = *p;
	}
	for(const char *k = client_id; *k; k++) {
		const char *esc = *k == '+' ? "%2B" : *k == '#' ? "%23" : *k == '%' ? "%25" : NULL;
		size_t add = esc ? 3 : 1;
		if(len + add + 1 > cap) {
			return -1;
		}
		if(esc) {
			memcpy(out + len, esc, 3);
		} else {
			out[len] = *k;
		}
		len += add;
	}
	out[len] = '\0';
	return 0;
}


int mqc__publish(struct mqc *c, const char *topic, const char *payload, const char *corr)
{
	mosquitto_property *props = NULL;
	int rc;

	if(c->protocol == 5 && corr != NULL) {
		if(mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, c->reply_topic)
			   != MOSQ_ERR_SUCCESS
		   || mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr,
						    (uint16_t)strlen(corr))
			      != MOSQ_ERR_SUCCESS) {
			mosquitto_property_free_all(&props);
			return MOSQ_ERR_NOMEM;
		}
	}
	rc = mosquitto_publish_v5(c->mosq, NULL, topic, (int)strlen(payload), payload, 1, false, props);
	mosquitto_property_free_all(&props);
	return rc;
}


const char *mqc__topic_channel(const char *topic, const char *suffix, char *out)
{
	const char *p, *slash;
	size_t n;

	if(strncmp(topic, "chat/", 5) != 0) {
		return NULL;
	}
	p = topic + 5;
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if(n == 0 || n > MQC_CH_MAX) {
		return NULL;
	}
	if(suffix == NULL ? slash != NULL : (slash == NULL || strcmp(slash + 1, suffix) != 0)) {
		return NULL;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return mqc__valid_channel(out) ? out : NULL;
}


/* obj[key] if it is a string, else dflt. */
static const char *str_or(const cJSON *obj, const char *key, const char *dflt)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));

	return s ? s : dflt;
}


/* A token we put in a request, as Correlation Data and as "ref": "s:<ch>", "m:<cmid>" or "a:<ref>".
 * Returns its kind ('s', 'm', 'a') and writes the rest to key, or returns 0. */
static char token_kind(const char *tok, size_t len, char *key, size_t cap)
{
	if(len < 2 || tok[1] != ':' || (tok[0] != 's' && tok[0] != 'm' && tok[0] != 'a') || len - 2 >= cap) {
		return 0;
	}
	memcpy(key, tok + 2, len - 2);
	key[len - 2] = '\0';
	return tok[0];
}


/* The request an answer belongs to: from its MQTT 5 Correlation Data, else its "ref" (servers that
 * echo a ref in every answer), else its own fields (servers that do not). Returns 's' (catch-up of
 * channel *key), 'm' (send *key, "" if not named), 'a' (api, ref *key), or 0 (nothing waits for it). */
static char request_of(const cJSON *reply, const mosquitto_property *props, char *key, size_t cap)
{
	void *corr = NULL;
	uint16_t corr_len = 0;
	const char *s, *request;
	char kind = 0;

	key[0] = '\0';
	if(props != NULL
	   && mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false)
		      != NULL) {
		kind = token_kind(corr, corr_len, key, cap);
		free(corr);
	}
	if(kind == 0 && (s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "ref"))) != NULL) {
		kind = token_kind(s, strlen(s), key, cap);
	}
	if(kind != 0) {
		return kind;
	}
	if((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "client_msg_id"))) != NULL) {
		snprintf(key, cap, "%s", s);
		return 'm';
	}
	request = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "request"));
	if(cJSON_GetObjectItemCaseSensitive(reply, "op") != NULL
	   || (request && strcmp(request, "api") == 0)) {
		return 'a';
	}
	if(request && strcmp(request, "send") == 0) {
		return 'm'; /* a send we cannot name: what it says (rate_limited) concerns every send */
	}
	if(request && strcmp(request, "sync") != 0) {
		return 0; /* an error of a typing or read publish: nothing waits for it */
	}
	if((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "channel"))) != NULL) {
		snprintf(key, cap, "%s", s);
		return 's';
	}
	return 0;
}


void mqc__on_reply(struct mqc *c, const char *payload, int len, const mosquitto_property *props)
{
	cJSON *reply = cJSON_ParseWithLength(payload, (size_t)len);
	const char *kind, *code;
	char key[160];
	char req;

	if(reply == NULL || !cJSON_IsObject(reply)) {
		mqc__log(c, "an answer that is not a JSON object: %.*s", len > 200 ? 200 : len, payload);
		cJSON_Delete(reply);
		return;
	}
	kind = str_or(reply, "kind", "");
	req = request_of(reply, props, key, sizeof(key));
	if(strcmp(kind, "sync") == 0) {
		mqc__converge_on_page(c, reply);
	} else if(strcmp(kind, "ack") == 0) {
		mqc__outbox_on_ack(c, reply);
	} else if(strcmp(kind, "api") == 0) {
		if(req == 'a' && strcmp(key, c->inbox_ref) == 0) {
			mqc__converge_on_inbox(c, reply);
		} else if(c->cb.on_api) {
			c->cb.on_api(c->ud, reply);
		}
	} else if(strcmp(kind, "error") == 0) {
		code = str_or(reply, "code", "?");
		if(req == 'm') {
			mqc__outbox_on_error(c, key, code, reply);
		} else if(req == 's') {
			mqc__converge_on_sync_error(c, key, code, reply);
		} else if(req == 'a') {
			if(strcmp(key, c->inbox_ref) == 0) {
				c->inbox_pending = false; /* asked again by the tick */
				c->inbox_sent_ms = mqc__now_ms();
			} else if(c->cb.on_api) {
				c->cb.on_api(c->ud, reply);
			}
		} else if(c->cb.on_error) {
			mqc__log(c, "an error no request of ours waits for: %.*s", len > 300 ? 300 : len,
				 payload);
			c->cb.on_error(c->ud,
				       cJSON_GetStringValue(
					       cJSON_GetObjectItemCaseSensitive(reply, "channel")),
				       NULL, code,
				       cJSON_GetStringValue(
					       cJSON_GetObjectItemCaseSensitive(reply, "message")));
		}
	}
	/* other kinds (typing, read: answers to MQTT 5 requests that asked for one) need nothing */
	cJSON_Delete(reply);
}
