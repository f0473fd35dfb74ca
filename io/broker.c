/*
 * broker.c - logging and publishing through the broker's plugin API.
 *
 * mosquitto_broker_publish only queues: the broker delivers at the top of its next loop iteration,
 * after the message being handled has been acknowledged. On success the broker owns the payload and
 * the properties; on failure they are still ours.
 */
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include <mosquitto_broker.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "broker.h"
#include "topic.h"
#include "waker.h"

/* Answers to clients go at QoS 0: a client gets them only while connected (reply.c), and each is safe
 * to lose (the client asks again, or retries its send with the same client_msg_id). At QoS 1 a client
 * that never acknowledged them filled its queue, and Mosquitto 2.0.11 then leaks every further
 * directed publish: loop.c's single_publish stores the message before db__message_insert drops it,
 * and nothing frees a stored message no client ever referenced (db__msg_store_compact is never
 * called). What goes to an edge's bridge stays at QoS 1: a trusted peer that acknowledges. */
#define REPLY_QOS  0
#define BRIDGE_QOS 1

static const int log_levels[] = {
	[CHAT_LOG_DEBUG] = MOSQ_LOG_DEBUG,   [CHAT_LOG_INFO] = MOSQ_LOG_INFO,
	[CHAT_LOG_NOTICE] = MOSQ_LOG_NOTICE, [CHAT_LOG_WARNING] = MOSQ_LOG_WARNING,
	[CHAT_LOG_ERR] = MOSQ_LOG_ERR,
};


void chat_broker__log(enum chat_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	mosquitto_log_printf(log_levels[level], "mqchat: %s", line);
}


/* A copy of payload the broker may own and free. */
static void *broker_copy(const char *payload, size_t len)
{
	char *copy = mosquitto_malloc(len + 1);

	if(copy != NULL) {
		memcpy(copy, payload, len);
		copy[len] = '\0';
	}
	return copy;
}


static int publish(const char *client_id, const char *topic, const char *payload, size_t len, int qos,
		   mosquitto_property *props)
{
	void *copy = broker_copy(payload, len);
	int rc = MOSQ_ERR_NOMEM;

	if(copy != NULL) {
		rc = mosquitto_broker_publish(client_id, topic, (int)len, copy, qos, false, props);
	}
	if(rc == MOSQ_ERR_SUCCESS) {
		chat_waker__publishing(len); /* a WebSocket subscriber drains it only as the loop turns */
	}
	if(rc != MOSQ_ERR_SUCCESS) {
		mosquitto_free(copy);
		mosquitto_property_free_all(&props);
		chat_broker__log(CHAT_LOG_WARNING, "could not queue a message on %s%s%s: %s", topic,
				 client_id ? " for " : "", client_id ? client_id : "",
				 mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}


int chat_broker__publish(const char *channel, const char *subtopic, const char *json, size_t len, int qos)
{
	char topic[CHAT_TOPIC_PREFIX_LEN + CHAT_CHANNEL_ID_MAX + 32];

	snprintf(topic, sizeof(topic), CHAT_TOPIC_PREFIX "%s%s%s", channel, subtopic ? "/" : "",
		 subtopic ? subtopic : "");
	return publish(NULL, topic, json, len, qos, NULL);
}


int chat_broker__publish_topic(const char *topic, const char *json, size_t len, int qos)
{
	return publish(NULL, topic, json, len, qos, NULL);
}


int chat_broker__publish_retained(const char *topic, const char *payload, size_t len)
{
	void *copy = broker_copy(payload, len);
	int rc = MOSQ_ERR_NOMEM;

	if(copy != NULL) {
		rc = mosquitto_broker_publish(NULL, topic, (int)len, copy, 0, true, NULL);
	}
	if(rc != MOSQ_ERR_SUCCESS) {
		mosquitto_free(copy);
		return -1;
	}
	return 0;
}


/* ---- what struct mosquitto says that no accessor does ------------------------------------------
 *
 * Mosquitto 2.0 gives plugins no accessor for a client's socket, the packet being handled or its will.
 * struct mosquitto (lib/mosquitto_internal.h, the same from 2.0.1 to 2.0.22) starts with a few fields
 * that depend on the build (`int ident` with epoll, as Debian builds it; the socket; a pointer for
 * asynchronous DNS with WITH_ADNS), then `address`, `id`, `username` and the fields mirrored below.
 * The mirror is placed where those three pointers are exactly what the accessors return, within the
 * first bytes of the struct; if no place matches, every answer is "unknown" and callers fall back to
 * what they would do without it. */
struct mosq_packet_2_0 {
	uint8_t *payload;
	void *next;
	uint32_t remaining_mult;
	uint32_t remaining_length;
	uint32_t packet_length;
	uint32_t to_process;
	uint32_t pos;
	uint16_t mid;
	uint8_t command;
	int8_t remaining_count;
};

struct mosq_from_address_2_0 {
	char *address;
	char *id;
	char *username;
	char *password;
	uint16_t keepalive;
	uint16_t last_mid;
	int state;
	time_t last_msg_in;
	time_t next_msg_out;
	time_t ping_t;
	struct mosq_packet_2_0 in_packet;
	void *current_out_packet;
	void *out_packet;
	void *will;
	void *aliases;
	void *will_delay_entry;
	int alias_count;
	int out_packet_count;
	uint32_t will_delay_interval;
};

/* Where `address` may sit: after ident, sock, maximum_packet_size, protocol and perhaps adns. */
#define ADDRESS_OFFSET_MAX 48

/* The fields of the client copied out. */
struct client_view {
	int sock; /* a candidate: chat_broker__client_socket checks it against the kernel */
	struct mosq_packet_2_0 in_packet;
	bool has_will;
	uint32_t will_delay_interval;
};

#define EPOLL_ID_CLIENT 2

static bool client_view(const struct mosquitto *client, struct client_view *view)
{
	const char *address = mosquitto_client_address(client);
	const char *id = mosquitto_client_id(client);
	const char *username = mosquitto_client_username(client);
	const struct mosq_from_address_2_0 *m;
	int head[2];

	if(client == NULL || address == NULL || id == NULL) {
		return false;
	}
	for(size_t offset = sizeof(void *); offset <= ADDRESS_OFFSET_MAX; offset += sizeof(void *)) {
		m = (const void *)((const char *)client + offset);
		if(m->address == address && m->id == id && m->username == username) {
			memcpy(head, (const void *)client, sizeof(head));
			view->sock = head[0] == EPOLL_ID_CLIENT ? head[1] : head[0];
			view->in_packet = m->in_packet;
			view->has_will = m->will != NULL;
			view->will_delay_interval = m->will_delay_interval;
			return true;
		}
	}
	return false;
}


int chat_broker__client_socket(const struct mosquitto *client)
{
	const char *address = mosquitto_client_address(client);
	struct sockaddr_storage peer;
	socklen_t peer_len = sizeof(peer);
	char text[INET6_ADDRSTRLEN];
	struct client_view view;
	const void *ip;

	/* Also checked against the kernel: a socket whose peer is the client's address. */
	if(!client_view(client, &view) || view.sock < 0
	   || getpeername(view.sock, (struct sockaddr *)&peer, &peer_len) != 0) {
		return -1;
	}
	if(peer.ss_family == AF_INET) {
		ip = &((const struct sockaddr_in *)&peer)->sin_addr;
	} else if(peer.ss_family == AF_INET6) {
		ip = &((const struct sockaddr_in6 *)&peer)->sin6_addr;
	} else {
		return -1;
	}
	if(inet_ntop(peer.ss_family, ip, text, sizeof(text)) == NULL || strcmp(text, address) != 0) {
		return -1;
	}
	return view.sock;
}


bool chat_broker__client_congested(const struct mosquitto *client)
{
	int fd = chat_broker__client_socket(client);
	int unsent = 0, sndbuf = 0;
	socklen_t len = sizeof(sndbuf);

	if(fd < 0 || ioctl(fd, SIOCOUTQ, &unsent) != 0
	   || getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) != 0) {
		return false;
	}
	/* The kernel's buffer half full: the client has stopped reading (or cannot keep up). Mosquitto
	 * keeps what does not fit in its own queue of packets, up to max_queued_messages, and then drops
	 * (and with a directed publish, leaks) the rest. */
	return unsent > sndbuf / 2;
}


bool chat_broker__inbound_publish(const struct mosquitto *client, int qos, uint16_t *mid, bool *dup)
{
	struct client_view view;
	const struct mosq_packet_2_0 *pk = &view.in_packet;
	uint32_t topic_len;

	if(!client_view(client, &view) || (pk->command & 0xF0) != 0x30 || ((pk->command >> 1) & 3) != qos
	   || qos == 0 || pk->payload == NULL || pk->remaining_length < 4) {
		return false;
	}
	/* The variable header: the topic (two length bytes, then the name), then the packet id. */
	topic_len = ((uint32_t)pk->payload[0] << 8) | pk->payload[1];
	if(topic_len + 4 > pk->remaining_length) {
		return false;
	}
	*mid = (uint16_t)(((unsigned)pk->payload[2 + topic_len] << 8) | pk->payload[3 + topic_len]);
	*dup = (pk->command & 0x08) != 0;
	return true;
}


enum chat_session_will chat_broker__client_will(const struct mosquitto *client)
{
	struct client_view view;

	if(!client_view(client, &view)) {
		return CHAT_WILL_NOW; /* not known: refused for the rest of this loop iteration */
	}
	if(!view.has_will) {
		return CHAT_WILL_NONE;
	}
	return view.will_delay_interval > 0 ? CHAT_WILL_DELAYED : CHAT_WILL_NOW;
}


static int send_directed(const char *client_id, const char *topic, const char *payload, size_t len,
			 const void *correlation, uint16_t correlation_len, int qos)
{
	mosquitto_property *props = NULL;

	if(correlation != NULL
	   && mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, correlation, correlation_len)
		      != MOSQ_ERR_SUCCESS) {
		chat_broker__log(CHAT_LOG_WARNING, "out of memory replying to %s", client_id);
		return -1;
	}
	return publish(client_id, topic, payload, len, qos, props);
}


void chat_broker__divert(struct mosquitto_evt_message *ed)
{
	ed->retain = false;
	if(strlen(ed->topic) >= sizeof(CHAT_SINK_TOPIC) - 1) {
		memcpy(ed->topic, CHAT_SINK_TOPIC, sizeof(CHAT_SINK_TOPIC));
	}
}


void chat_broker__response_request(const struct mqtt5__property *props, struct chat_response_request *out)
{
	memset(out, 0, sizeof(*out));
	mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &out->topic, false);
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &out->correlation,
				       &out->correlation_len, false);
}


int chat_broker__send_to(const char *client_id, const char *topic, const char *payload, size_t len,
			 const void *correlation, uint16_t correlation_len)
{
	return send_directed(client_id, topic, payload, len, correlation, correlation_len, BRIDGE_QOS);
}


int chat_broker__reply_to(const char *client_id, const char *topic, const char *payload, size_t len,
			  const void *correlation, uint16_t correlation_len)
{
	return send_directed(client_id, topic, payload, len, correlation, correlation_len, REPLY_QOS);
}
