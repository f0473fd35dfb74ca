/*
 * broker.h - the only door to the broker for services: logging and publishing.
 *
 * Keeping every mosquitto_broker_publish call here means the rest of the plugin never has to know the
 * broker's ownership rules: payloads passed in are copied, and what the broker takes is allocated with
 * mosquitto_malloc and freed here when it refuses it.
 */
#ifndef CHAT_BROKER_H
#define CHAT_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "sessions.h"

struct mosquitto;
struct mosquitto_evt_message;
struct mqtt5__property; /* mosquitto_property */

/* What an MQTT 5 request asked for its answer: its Response Topic and Correlation Data, malloc'd (the
 * caller frees both), each NULL when absent. */
struct chat_response_request {
	char *topic;
	void *correlation;
	uint16_t correlation_len;
};

enum chat_log_level {
	CHAT_LOG_DEBUG,
	CHAT_LOG_INFO,
	CHAT_LOG_NOTICE,
	CHAT_LOG_WARNING,
	CHAT_LOG_ERR,
};

/* Writes "mqchat: <message>" to the broker's log. */
void chat_broker__log(enum chat_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Queues json for every subscriber of chat/<channel>, or of chat/<channel>/<subtopic> when subtopic is
 * not NULL, at qos; the broker checks each subscriber's read access when it delivers, at the start of
 * its next loop iteration. Messages queued here go out in the order they were queued. Returns 0, or
 * -1 (logged) if the broker refused it; a stored event stays in the log either way, so catch-up still
 * serves it. */
int chat_broker__publish(const char *channel, const char *subtopic, const char *json, size_t len, int qos);

/* Queues json for every subscriber of topic (any topic), at qos, as chat_broker__publish does. */
int chat_broker__publish_topic(const char *topic, const char *json, size_t len, int qos);

/* Queues payload on topic at QoS 0 with the retain flag, as Mosquitto publishes its own $SYS values: a
 * new subscriber gets the last value at once (the metrics, adapters/metrics.c). Returns 0 or -1. */
int chat_broker__publish_retained(const char *topic, const char *payload, size_t len);

/* Diverts the publish being handled to the sink (chat/_), which no one may read: its topic is
 * rewritten in place (every 2.0.x release handles that alike) and retain cleared. The broker then
 * acknowledges it and delivers it to nobody. Every topic mqchat takes is at least as long as the sink;
 * one that is not (which no caller passes) is left alone. */
void chat_broker__divert(struct mosquitto_evt_message *ed);

/* Reads the Response Topic and Correlation Data of props into out (see struct
 * chat_response_request). */
void chat_broker__response_request(const struct mqtt5__property *props, struct chat_response_request *out);

/* The socket of client, or -1 when not known (see broker.c: Mosquitto 2.0 has no accessor for it). */
int chat_broker__client_socket(const struct mosquitto *client);

/* True when client's socket has more than half of its send buffer unsent: it is not reading what it
 * is sent. False when not known. */
bool chat_broker__client_congested(const struct mosquitto *client);

/* The packet id and DUP flag of the PUBLISH at qos (1 or 2) that the broker is handling for client,
 * during the message callback. Returns false when they cannot be known. */
bool chat_broker__inbound_publish(const struct mosquitto *client, int qos, uint16_t *mid, bool *dup);

/* Whether client, whose connection is ending, has a will to send, now or delayed; CHAT_WILL_NOW
 * when not known. */
enum chat_session_will chat_broker__client_will(const struct mosquitto *client);

/* Queues payload for one client only, on topic, at QoS 1 (a bridge of the gateway tier), with the MQTT v5
 * Correlation Data property when correlation is not NULL. Returns 0, or -1 (logged) if the broker refused it.
 */
int chat_broker__send_to(const char *client_id, const char *topic, const char *payload, size_t len,
			 const void *correlation, uint16_t correlation_len);

/* As chat_broker__send_to, at QoS 0: an answer to a client (reply.c decides whether to send it). */
int chat_broker__reply_to(const char *client_id, const char *topic, const char *payload, size_t len,
			  const void *correlation, uint16_t correlation_len);

#endif
