/*
 * mqc_client.c - the client's lifetime, its connection and its loop.
 *
 * The connection is persistent (3.1.1 clean session false; MQTT 5 clean start false with a session
 * expiry of a day), so the broker queues channel events while the device is briefly away. After each
 * CONNACK the client subscribes to chat/# at QoS 1 (docs/protocol.md recommends the wildcard: it also
 * brings the channels the user is added to while online) and starts converging; a lost connection is
 * retried with a backoff from 100 ms to 5 s. Answers come on chat/_reply/<client id>, which the
 * broker delivers without a subscription.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqc_internal.h"

#define SESSION_EXPIRY_S 86400


int64_t mqc__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


void mqc__log(struct mqc *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if(c->cb.on_log == NULL) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->cb.on_log(c->ud, line);
}


static void on_connect_cb(struct mosquitto *mosq, void *ud, int rc, int flags,
			  const mosquitto_property *props)
{
	struct mqc *c = ud;

	(void)flags;
	(void)props;
	pthread_mutex_lock(&c->lock);
	if(rc != 0) {
		mqc__log(c, "connection refused: %s", mosquitto_reason_string(rc));
	} else {
		c->connected = true;
		c->backoff_ms = 100;
		mosquitto_subscribe_v5(mosq, NULL, "chat/#", 1, 0, NULL);
		if(c->cb.on_connection) {
			c->cb.on_connection(c->ud, true);
		}
		mqc__converge_on_connect(c);
		mqc__outbox_tick(c, mqc__now_ms());
	}
	pthread_mutex_unlock(&c->lock);
}


static void on_disconnect_cb(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
	struct mqc *c = ud;

	(void)mosq;
	(void)props;
	pthread_mutex_lock(&c->lock);
	if(c->connected && c->cb.on_connection) {
		c->cb.on_connection(c->ud, false);
	}
	c->connected = false;
	c->inbox_done = false;
	mqc__outbox_on_disconnect(c);
	c->reconnect_at_ms = mqc__now_ms() + c->backoff_ms;
	if(!c->want_connected) {
		pthread_mutex_unlock(&c->lock);
		return; /* mqc_free() */
	}
	mqc__log(c, "disconnected (%d); reconnecting in %d ms", rc, c->backoff_ms);
	c->backoff_ms = c->backoff_ms * 2 > MQC_BACKOFF_MAX_MS ? MQC_BACKOFF_MAX_MS : c->backoff_ms * 2;
	pthread_mutex_unlock(&c->lock);
}


static void on_message_cb(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
			  const mosquitto_property *props)
{
	struct mqc *c = ud;
	char ch[MQC_CH_MAX + 1];

	(void)mosq;
	pthread_mutex_lock(&c->lock);
	if(strcmp(msg->topic, c->reply_topic) == 0) {
		mqc__on_reply(c, msg->payload, msg->payloadlen, props);
	} else if(mqc__topic_channel(msg->topic, NULL, ch)) {
		mqc__converge_on_live(c, ch, msg->payload, msg->payloadlen);
	} else if(mqc__topic_channel(msg->topic, "presence", ch)
		  || mqc__topic_channel(msg->topic, "typing", ch)) {
		cJSON *j = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
		const char *user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "user"));
		bool presence = strstr(msg->topic, "/presence") != NULL;
		bool on = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, presence ? "online" : "typing"));

		if(user && presence && c->cb.on_presence) {
			c->cb.on_presence(c->ud, ch, user, on);
		} else if(user && !presence && c->cb.on_typing) {
			c->cb.on_typing(c->ud, ch, user, on);
		}
		cJSON_Delete(j);
	}
	/* read and delivered cursors: not kept by this library */
	pthread_mutex_unlock(&c->lock);
}


static char *dup_or(const char *s, const char *dflt)
{
	return strdup(s ? s : dflt);
}


void mqc_free(struct mqc *c)
{
	if(c == NULL) {
		return;
	}
	mqc_loop_stop(c);
	c->want_connected = false;
	if(c->mosq) {
		if(c->connected && mosquitto_disconnect(c->mosq) == MOSQ_ERR_SUCCESS) {
			/* with the loop's thread gone, DISCONNECT may still be queued: write it out */
			for(int i = 0; i < 10 && mosquitto_socket(c->mosq) >= 0; i++) {
				mosquitto_loop(c->mosq, 10, 1);
			}
		}
		mosquitto_destroy(c->mosq);
	}
	if(c->state_dirty) {
		mqc__state_save(c, false);
	}
	while(c->channels) {
		struct mqc_channel *ch = c->channels;
		c->channels = ch->next;
		mqc__channel_free(ch);
	}
	mqc__outbox_free(c);
	if(c->events) {
		fclose(c->events);
	}
	free(c->host);
	free(c->user);
	free(c->password);
	free(c->client_id);
	free(c->state_path);
	free(c->events_path);
	pthread_mutex_destroy(&c->lock);
	free(c);
	mosquitto_lib_cleanup();
}


static int init_mutex(pthread_mutex_t *lock)
{
	pthread_mutexattr_t attr;
	int rc;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE); /* user callbacks may call us back */
	rc = pthread_mutex_init(lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return rc;
}


struct mqc *mqc_new(const struct mqc_options *o)
{
	struct mqc *c;
	size_t len;

	if(o == NULL || o->user == NULL || o->client_id == NULL || o->state_path == NULL
	   || (o->protocol != 0 && o->protocol != 4 && o->protocol != 5)) {
		errno = EINVAL;
		return NULL;
	}
	mosquitto_lib_init(); /* counted by libmosquitto: one per mqc_new, undone in mqc_free */
	c = calloc(1, sizeof(*c));
	if(c == NULL || init_mutex(&c->lock) != 0) {
		free(c);
		mosquitto_lib_cleanup();
		errno = ENOMEM;
		return NULL;
	}
	c->host = dup_or(o->host, "127.0.0.1");
	c->user = strdup(o->user);
	c->password = o->password ? strdup(o->password) : NULL;
	c->client_id = strdup(o->client_id);
	c->state_path = strdup(o->state_path);
	len = strlen(o->state_path) + 8;
	c->events_path = malloc(len);
	if(c->host == NULL || c->user == NULL || (o->password && c->password == NULL) || c->client_id == NULL
	   || c->state_path == NULL || c->events_path == NULL) {
		mqc_free(c);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(c->events_path, len, "%s.events", o->state_path);
	c->port = o->port > 0 ? o->port : 1883;
	c->protocol = o->protocol ? o->protocol : 5;
	c->page_limit = o->page_limit > 0 ? o->page_limit : 1000;
	c->max_inflight = o->max_inflight_sends > 0 ? o->max_inflight_sends : 20;
	c->retry_ms = o->retry_ms > 0 ? o->retry_ms : 3000;
	c->cb = o->cb;
	c->ud = o->userdata;
	c->backoff_ms = 100;
	if(mqc__reply_topic(c->client_id, c->reply_topic, sizeof(c->reply_topic)) != 0) {
		mqc_free(c);
		errno = EINVAL;
		return NULL;
	}
	if(mqc__state_load(c) != 0) {
		int saved = errno;
		mqc_free(c);
		errno = saved;
		return NULL;
	}
	c->mosq = mosquitto_new(c->client_id, false, c);
	if(c->mosq == NULL) {
		mqc_free(c);
		errno = ENOMEM;
		return NULL;
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			     c->protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	mosquitto_username_pw_set(c->mosq, c->user, c->password);
	mosquitto_connect_v5_callback_set(c->mosq, on_connect_cb);
	mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect_cb);
	mosquitto_message_v5_callback_set(c->mosq, on_message_cb);
	return c;
}


/* One connection attempt (TCP connect and CONNECT sent; CONNACK comes to on_connect_cb). Called
 * without the lock, so that a slow connect never blocks mqc_send() in another thread. */
static int connect_now(struct mqc *c, bool first)
{
	mosquitto_property *props = NULL;
	int rc;

	if(!first) {
		return mosquitto_reconnect(c->mosq); /* the same host, port and properties */
	}
	if(c->protocol == 5) {
		mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, SESSION_EXPIRY_S);
	}
	rc = mosquitto_connect_bind_v5(c->mosq, c->host, c->port, MQC_KEEPALIVE, NULL, props);
	mosquitto_property_free_all(&props);
	return rc;
}


/* Connects if it is time to; returns whether there is a socket to run. */
static bool keep_connected(struct mqc *c)
{
	int64_t now = mqc__now_ms();
	bool due, first, open;
	int rc;

	pthread_mutex_lock(&c->lock);
	open = mosquitto_socket(c->mosq) >= 0;
	due = c->want_connected && !open && now >= c->reconnect_at_ms;
	first = !c->ever_connected;
	open = open && c->want_connected;
	pthread_mutex_unlock(&c->lock);
	if(!due) {
		return open;
	}
	rc = connect_now(c, first);
	pthread_mutex_lock(&c->lock);
	if(rc == MOSQ_ERR_SUCCESS) {
		c->ever_connected = true;
	} else {
		c->reconnect_at_ms = mqc__now_ms() + c->backoff_ms;
		mqc__log(c, "cannot connect to %s:%d: %s", c->host, c->port, mosquitto_strerror(rc));
		c->backoff_ms =
			c->backoff_ms * 2 > MQC_BACKOFF_MAX_MS ? MQC_BACKOFF_MAX_MS : c->backoff_ms * 2;
	}
	pthread_mutex_unlock(&c->lock);
	return rc == MOSQ_ERR_SUCCESS;
}


int mqc_connect(struct mqc *c)
{
	pthread_mutex_lock(&c->lock);
	c->want_connected = true;
	c->reconnect_at_ms = 0;
	pthread_mutex_unlock(&c->lock);
	return MQC_OK;
}


int mqc_loop(struct mqc *c, int timeout_ms)
{
	int64_t now;

	if(!keep_connected(c)) {
		struct timespec ts = {0, (timeout_ms > 50 ? 50 : timeout_ms) * 1000000L};
		nanosleep(&ts, NULL); /* not connected: wait a little, then try again when due */
	} else if(mosquitto_loop(c->mosq, timeout_ms > 100 ? 100 : timeout_ms, 1) != MOSQ_ERR_SUCCESS) {
		/* the callbacks take the lock themselves: other threads may send meanwhile. A lost
		 * connection ran on_disconnect_cb, which set when to reconnect. */
		pthread_mutex_lock(&c->lock);
		now = mqc__now_ms();
		if(!c->connected && c->reconnect_at_ms <= now) {
			c->reconnect_at_ms = now + c->backoff_ms;
		}
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_lock(&c->lock);
	now = mqc__now_ms();
	mqc__converge_tick(c, now);
	mqc__outbox_tick(c, now);
	pthread_mutex_unlock(&c->lock);
	return MQC_OK;
}


static void *loop_thread(void *arg)
{
	struct mqc *c = arg;

	while(!c->thread_stop) {
		mqc_loop(c, 100);
	}
	return NULL;
}


int mqc_loop_start(struct mqc *c)
{
	if(c->thread_running) {
		return MQC_OK;
	}
	mosquitto_threaded_set(c->mosq, true); /* publishes from other threads wake the loop */
	c->thread_stop = false;
	if(pthread_create(&c->thread, NULL, loop_thread, c) != 0) {
		return MQC_ERR_NOMEM;
	}
	c->thread_running = true;
	return MQC_OK;
}


void mqc_loop_stop(struct mqc *c)
{
	if(c->thread_running) {
		c->thread_stop = true;
		pthread_join(c->thread, NULL);
		c->thread_running = false;
	}
}


int mqc_api(struct mqc *c, const char *payload_json)
{
	cJSON *req = cJSON_Parse(payload_json);
	char ref[32];
	char *payload;
	int rc;

	if(!cJSON_IsObject(req)) {
		cJSON_Delete(req);
		return MQC_ERR_INVAL;
	}
	pthread_mutex_lock(&c->lock);
	snprintf(ref, sizeof(ref), "a:mqc-%u", ++c->ref_counter);
	pthread_mutex_unlock(&c->lock);
	cJSON_DeleteItemFromObjectCaseSensitive(req, "ref");
	if(cJSON_AddStringToObject(req, "ref", ref) == NULL
	   || (payload = cJSON_PrintUnformatted(req)) == NULL) {
		cJSON_Delete(req);
		return MQC_ERR_NOMEM;
	}
	cJSON_Delete(req);
	pthread_mutex_lock(&c->lock);
	rc = mqc__publish(c, "chat/_api", payload, ref) == MOSQ_ERR_SUCCESS ? MQC_OK : MQC_ERR_CONNECT;
	pthread_mutex_unlock(&c->lock);
	free(payload);
	return rc;
}


static int fire(struct mqc *c, const char *ch, const char *suffix, const char *payload)
{
	char topic[MQC_CH_MAX + 16];
	int rc;

	if(!mqc__valid_channel(ch)) {
		return MQC_ERR_INVAL;
	}
	snprintf(topic, sizeof(topic), "chat/%s/%s", ch, suffix);
	pthread_mutex_lock(&c->lock);
	rc = mqc__publish(c, topic, payload, NULL) == MOSQ_ERR_SUCCESS ? MQC_OK : MQC_ERR_CONNECT;
	pthread_mutex_unlock(&c->lock);
	return rc;
}


int mqc_typing(struct mqc *c, const char *ch, bool typing)
{
	return fire(c, ch, "typing", typing ? "{\"typing\":true}" : "{\"typing\":false}");
}


int mqc_mark_read(struct mqc *c, const char *ch, int64_t seq)
{
	char payload[40];

	snprintf(payload, sizeof(payload), "{\"seq\":%lld}", (long long)seq);
	return fire(c, ch, "read", payload);
}


int64_t mqc_cursor(struct mqc *c, const char *name, char *epoch_out)
{
	struct mqc_channel *ch;
	int64_t cursor = -1;

	pthread_mutex_lock(&c->lock);
	ch = mqc__channel(c, name, false);
	if(epoch_out) {
		snprintf(epoch_out, MQC_EPOCH_MAX + 1, "%s", ch ? ch->epoch : "");
	}
	if(ch) {
		cursor = ch->cursor;
	}
	pthread_mutex_unlock(&c->lock);
	return cursor;
}


long mqc_history(struct mqc *c, const char *name, bool (*fn)(void *arg, const cJSON *event), void *arg)
{
	struct mqc_channel *ch;
	long n = 0;

	pthread_mutex_lock(&c->lock);
	ch = mqc__channel(c, name, false);
	if(ch) {
		n = mqc__events_iterate(c, ch, fn, arg);
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}


bool mqc_is_synced(struct mqc *c)
{
	bool synced;

	pthread_mutex_lock(&c->lock);
	synced = c->connected && c->inbox_done;
	for(struct mqc_channel *ch = c->channels; synced && ch; ch = ch->next) {
		synced = !ch->syncing && ch->npending == 0;
	}
	pthread_mutex_unlock(&c->lock);
	return synced;
}
