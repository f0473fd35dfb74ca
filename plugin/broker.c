/*
 * broker.c - logging and publishing through the broker's plugin API.
 *
 * mosquitto_broker_publish only queues: the broker delivers at the top of its next loop iteration,
 * after the message being handled has been acknowledged. On success the broker owns the payload and
 * the properties; on failure they are still ours.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto_broker.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "broker.h"
#include "topic.h"

#define REPLY_QOS 1

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


int chat_broker__send_to(const char *client_id, const char *topic, const char *payload, size_t len,
			 const void *correlation, uint16_t correlation_len)
{
	mosquitto_property *props = NULL;

	if(correlation != NULL
	   && mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, correlation, correlation_len)
		      != MOSQ_ERR_SUCCESS) {
		chat_broker__log(CHAT_LOG_WARNING, "out of memory replying to %s", client_id);
		return -1;
	}
	return publish(client_id, topic, payload, len, REPLY_QOS, props);
}
