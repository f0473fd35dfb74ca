/*
 * broker_stub.h - io/broker.h without a broker: what would have been published is recorded instead.
 *
 * broker_stub.c defines every function of io/broker.h. A unit test links it in place of io/broker.c
 * (tests/CMakeLists.txt, SERVICES), so services, the group commit and reply.c run as they do in the
 * plugin, and the test reads back, in the order they were queued, the messages the broker would have
 * delivered at the top of its next loop iteration: every publish to chat/<ch>, every directed answer,
 * with its topic, payload, QoS and target client. Nothing is delivered, so nothing is read-checked
 * either: the record is what mqchat asked for, not what a subscriber would get.
 *
 * The stub's own memory comes from ts_alloc_raw (alloc_fault.h): a failure injected into the plugin's
 * allocations never fails the recording, and the record is not counted as the plugin's memory.
 *
 * Single-threaded, like the broker's callbacks.
 */
#ifndef TS_BROKER_STUB_H
#define TS_BROKER_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "broker.h"

/* How a message was queued. */
enum ts_route {
	TS_PUBLISH,  /* chat_broker__publish(_topic): every subscriber of topic */
	TS_SEND_TO,  /* chat_broker__send_to: one client, QoS 1 (an edge's bridge) */
	TS_REPLY_TO, /* chat_broker__reply_to: one client, QoS 0 (an answer) */
};

struct ts_msg {
	enum ts_route route;
	char *client_id; /* the one client it is for; NULL for TS_PUBLISH */
	char *topic;
	char *payload; /* NUL-terminated after len bytes */
	size_t len;
	int qos;
	void *correlation; /* NULL when none */
	uint16_t correlation_len;
};

/* Forgets every recorded message, log line, refusal and client. */
void ts_broker_reset(void);

/* The number of messages recorded since the last reset, and the i-th of them (0-based, in the order
 * queued), or NULL past the end. */
size_t ts_broker_count(void);
const struct ts_msg *ts_broker_msg(size_t i);

/* The number of recorded messages on topic, and the n-th of them (0-based), or NULL. */
size_t ts_broker_count_on(const char *topic);
const struct ts_msg *ts_broker_on(const char *topic, size_t n);

/* The payload of m parsed as JSON (NULL if it is not); the caller deletes it. */
cJSON *ts_msg_json(const struct ts_msg *m);

/* From now on every publish is refused as a broker that is out of memory refuses it: the call
 * returns -1 (and logs) and nothing is recorded. */
void ts_broker_refuse(bool refuse);

/* Log lines (chat_broker__log) at level or above since the last reset, and the last one ("" when
 * none). TS_VERBOSE=1 in the environment also prints every line to stderr. */
size_t ts_broker_log_count(enum chat_log_level level);
const char *ts_broker_last_log(void);

/* Publishes diverted to the sink (chat_broker__divert) since the last reset. */
size_t ts_broker_diverted(void);

/* What the broker would say about the connection client (any pointer the test uses as one): its
 * socket (-1: unknown, the default), whether its socket is congested, its will, and the packet id of
 * the publish being handled (mid 0: unknown, the default). */
struct ts_client {
	int fd;
	bool congested;
	enum chat_session_will will;
	uint16_t mid;
	bool dup;
};
void ts_broker_set_client(const void *client, const struct ts_client *view);

#endif
