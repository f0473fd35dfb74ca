/*
 * broker_stub.c - io/broker.h recorded instead of published (see broker_stub.h).
 *
 * Each function keeps io/broker.c's contract as the layers above see it: publishes are copied (the
 * caller keeps its buffers), return 0 or -1 (logged) when refused, queue in call order; divert
 * rewrites the topic in place as broker.c does. What broker.c reads from struct mosquitto (socket,
 * packet id, will) comes from ts_broker_set_client instead.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto_broker.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "alloc_fault.h"
#include "broker_stub.h"
#include "topic.h"

#define MAX_CLIENTS 16
#define LOG_LINE    1024

struct record {
	struct record *next;
	struct ts_msg msg;
};

struct client_entry {
	const void *client;
	struct ts_client view;
};

static struct {
	struct record *first, *last;
	size_t count;
	bool refuse;
	size_t logs[CHAT_LOG_ERR + 1];
	char last_log[LOG_LINE];
	size_t diverted;
	struct client_entry clients[MAX_CLIENTS];
	size_t nclients;
} stub;


static void record_free(struct record *r)
{
	ts_alloc_raw_free(r->msg.client_id);
	ts_alloc_raw_free(r->msg.topic);
	ts_alloc_raw_free(r->msg.payload);
	ts_alloc_raw_free(r->msg.correlation);
	ts_alloc_raw_free(r);
}


void ts_broker_reset(void)
{
	struct record *r, *next;

	for(r = stub.first; r != NULL; r = next) {
		next = r->next;
		record_free(r);
	}
	memset(&stub, 0, sizeof(stub));
}


size_t ts_broker_count(void)
{
	return stub.count;
}


const struct ts_msg *ts_broker_msg(size_t i)
{
	struct record *r = stub.first;

	while(r != NULL && i-- > 0) {
		r = r->next;
	}
	return r != NULL ? &r->msg : NULL;
}


size_t ts_broker_count_on(const char *topic)
{
	size_t n = 0;

	for(struct record *r = stub.first; r != NULL; r = r->next) {
		n += strcmp(r->msg.topic, topic) == 0;
	}
	return n;
}


const struct ts_msg *ts_broker_on(const char *topic, size_t n)
{
	for(struct record *r = stub.first; r != NULL; r = r->next) {
		if(strcmp(r->msg.topic, topic) == 0 && n-- == 0) {
			return &r->msg;
		}
	}
	return NULL;
}


cJSON *ts_msg_json(const struct ts_msg *m)
{
	return m != NULL ? cJSON_ParseWithLength(m->payload, m->len) : NULL;
}


void ts_broker_refuse(bool refuse)
{
	stub.refuse = refuse;
}


size_t ts_broker_log_count(enum chat_log_level level)
{
	size_t n = 0;

	for(int l = (int)level; l <= CHAT_LOG_ERR; l++) {
		n += stub.logs[l];
	}
	return n;
}


const char *ts_broker_last_log(void)
{
	return stub.last_log;
}


size_t ts_broker_diverted(void)
{
	return stub.diverted;
}


void ts_broker_set_client(const void *client, const struct ts_client *view)
{
	for(size_t i = 0; i < stub.nclients; i++) {
		if(stub.clients[i].client == client) {
			stub.clients[i].view = *view;
			return;
		}
	}
	if(stub.nclients < MAX_CLIENTS) {
		stub.clients[stub.nclients++] = (struct client_entry){client, *view};
	}
}


static const struct ts_client *client_view(const struct mosquitto *client)
{
	for(size_t i = 0; i < stub.nclients; i++) {
		if(stub.clients[i].client == (const void *)client) {
			return &stub.clients[i].view;
		}
	}
	return NULL;
}


/* ---- io/broker.h -------------------------------------------------------------------------------- */

void chat_broker__log(enum chat_log_level level, const char *fmt, ...)
{
	const char *verbose = getenv("TS_VERBOSE");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(stub.last_log, sizeof(stub.last_log), fmt, ap);
	va_end(ap);
	stub.logs[level]++;
	if(verbose != NULL && strcmp(verbose, "1") == 0) {
		fprintf(stderr, "mqchat: %s\n", stub.last_log);
	}
}


/* Records one message; -1 when refused (as broker.c: logged, nothing queued). */
static int record(enum ts_route route, const char *client_id, const char *topic, const char *payload,
		  size_t len, int qos, const void *correlation, uint16_t correlation_len)
{
	struct record *r = NULL;

	if(!stub.refuse && (r = ts_alloc_raw(sizeof(*r))) != NULL) {
		memset(r, 0, sizeof(*r));
		r->msg = (struct ts_msg){
			.route = route,
			.client_id = client_id != NULL ? ts_alloc_raw_strdup(client_id) : NULL,
			.topic = ts_alloc_raw_strdup(topic),
			.payload = ts_alloc_raw(len + 1),
			.len = len,
			.qos = qos,
			.correlation = correlation != NULL ? ts_alloc_raw(correlation_len + 1u) : NULL,
			.correlation_len = correlation != NULL ? correlation_len : 0,
		};
		if(r->msg.topic == NULL || r->msg.payload == NULL
		   || (client_id != NULL && r->msg.client_id == NULL)
		   || (correlation != NULL && r->msg.correlation == NULL)) {
			record_free(r);
			r = NULL;
		}
	}
	if(r == NULL) {
		chat_broker__log(CHAT_LOG_WARNING, "could not queue a message on %s%s%s: %s", topic,
				 client_id ? " for " : "", client_id ? client_id : "", "out of memory");
		return -1;
	}
	memcpy(r->msg.payload, payload, len);
	r->msg.payload[len] = '\0';
	if(r->msg.correlation != NULL) {
		memcpy(r->msg.correlation, correlation, correlation_len);
	}
	if(stub.last != NULL) {
		stub.last->next = r;
	} else {
		stub.first = r;
	}
	stub.last = r;
	stub.count++;
	return 0;
}


int chat_broker__publish(const char *channel, const char *subtopic, const char *json, size_t len, int qos)
{
	char topic[CHAT_TOPIC_PREFIX_LEN + CHAT_CHANNEL_ID_MAX + 32];

	snprintf(topic, sizeof(topic), CHAT_TOPIC_PREFIX "%s%s%s", channel, subtopic ? "/" : "",
		 subtopic ? subtopic : "");
	return record(TS_PUBLISH, NULL, topic, json, len, qos, NULL, 0);
}


int chat_broker__publish_topic(const char *topic, const char *json, size_t len, int qos)
{
	return record(TS_PUBLISH, NULL, topic, json, len, qos, NULL, 0);
}


void chat_broker__divert(struct mosquitto_evt_message *ed)
{
	ed->retain = false;
	if(strlen(ed->topic) >= sizeof(CHAT_SINK_TOPIC) - 1) {
		memcpy(ed->topic, CHAT_SINK_TOPIC, sizeof(CHAT_SINK_TOPIC));
	}
	stub.diverted++;
}


void chat_broker__response_request(const struct mqtt5__property *props, struct chat_response_request *out)
{
	memset(out, 0, sizeof(*out));
	mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &out->topic, false);
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &out->correlation,
				       &out->correlation_len, false);
}


int chat_broker__client_socket(const struct mosquitto *client)
{
	const struct ts_client *view = client_view(client);

	return view != NULL ? view->fd : -1;
}


bool chat_broker__client_congested(const struct mosquitto *client)
{
	const struct ts_client *view = client_view(client);

	return view != NULL && view->congested;
}


bool chat_broker__inbound_publish(const struct mosquitto *client, int qos, uint16_t *mid, bool *dup)
{
	const struct ts_client *view = client_view(client);

	if(view == NULL || view->mid == 0 || qos == 0) {
		return false;
	}
	*mid = view->mid;
	*dup = view->dup;
	return true;
}


enum chat_session_will chat_broker__client_will(const struct mosquitto *client)
{
	const struct ts_client *view = client_view(client);

	return view != NULL ? view->will : CHAT_WILL_NOW;
}


int chat_broker__send_to(const char *client_id, const char *topic, const char *payload, size_t len,
			 const void *correlation, uint16_t correlation_len)
{
	return record(TS_SEND_TO, client_id, topic, payload, len, 1, correlation, correlation_len);
}


int chat_broker__reply_to(const char *client_id, const char *topic, const char *payload, size_t len,
			  const void *correlation, uint16_t correlation_len)
{
	return record(TS_REPLY_TO, client_id, topic, payload, len, 0, correlation, correlation_len);
}
