/*
 * Clients: libmosquitto in threaded mode, one network thread per client.
 *
 * Callbacks run on the network thread and only record what happened under the client's lock:
 * CONNACK, the end of the connection, acknowledgements (in a ring keyed by kind and message id,
 * because an acknowledgement can arrive before mosquitto_publish_v5() has even returned the id to
 * us), and received messages (a FIFO). The test thread waits on the condition variable with a
 * deadline. The lock is never held while calling into libmosquitto.
 *
 * A client never reconnects: on_disconnect marks it disconnected, so its network thread ends. Every
 * open client is on a list, and the test child's exit handler frees what a test left open.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mqtt_protocol.h>

#include "th.h"
#include "th_internal.h"

#define TH_ACK_RING       1024
#define TH_WAIT_MS        5000
#define TH_KEEPALIVE_S    60
#define TH_SESSION_EXPIRY 3600

enum ack_kind {
	ACK_NONE = 0,
	ACK_PUBLISH,
	ACK_SUBSCRIBE,
	ACK_UNSUBSCRIBE,
};

struct ack {
	enum ack_kind kind;
	int mid;
	int rc;
};

struct msg_node {
	struct th_msg msg;
	struct msg_node *next;
};

struct th_client {
	struct mosquitto *mosq;
	char *id;
	int protocol;
	bool loop_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Guarded by lock: */
	bool connack_seen;
	int connack_rc;
	bool disconnected;
	int disconnect_rc;
	int acked;
	struct ack acks[TH_ACK_RING];
	int ack_next;
	struct msg_node *head, *tail;
	/* On the list of open clients (test thread only): */
	struct th_client *next_open;
};

static struct th_client *open_clients = NULL;
static bool lib_ready = false;
static unsigned id_counter = 0;


static void *alloc_or_abort(size_t size)
{
	void *p = malloc(size ? size : 1);

	if(!p) {
		/* On the network thread th_fail() is not an option. */
		fputs("# out of memory in a libmosquitto callback\n", stdout);
		abort();
	}
	return p;
}


static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *props)
{
	struct th_client *c = obj;

	(void)mosq;
	(void)flags;
	(void)props;
	pthread_mutex_lock(&c->lock);
	c->connack_seen = true;
	c->connack_rc = rc;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}


static void on_disconnect(struct mosquitto *mosq, void *obj, int rc, const mosquitto_property *props)
{
	struct th_client *c = obj;

	(void)props;
	pthread_mutex_lock(&c->lock);
	c->disconnected = true;
	c->disconnect_rc = rc;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	/* Marks the connection as ended on purpose, so the network thread does not reconnect. */
	mosquitto_disconnect(mosq);
}


static void ack_push(struct th_client *c, enum ack_kind kind, int mid, int rc)
{
	pthread_mutex_lock(&c->lock);
	c->acks[c->ack_next].kind = kind;
	c->acks[c->ack_next].mid = mid;
	c->acks[c->ack_next].rc = rc;
	c->ack_next = (c->ack_next + 1) % TH_ACK_RING;
	if(kind == ACK_PUBLISH) {
		c->acked++;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}


static void on_publish(struct mosquitto *mosq, void *obj, int mid, int rc, const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	ack_push(obj, ACK_PUBLISH, mid, rc);
}


static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted,
			 const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	ack_push(obj, ACK_SUBSCRIBE, mid, qos_count > 0 ? granted[0] : -1);
}


static void on_unsubscribe(struct mosquitto *mosq, void *obj, int mid, const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	ack_push(obj, ACK_UNSUBSCRIBE, mid, 0);
}


static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
		       const mosquitto_property *props)
{
	struct th_client *c = obj;
	struct msg_node *n = alloc_or_abort(sizeof(*n));
	size_t topic_len = strlen(m->topic);

	(void)mosq;
	memset(n, 0, sizeof(*n));
	n->msg.topic = alloc_or_abort(topic_len + 1);
	memcpy(n->msg.topic, m->topic, topic_len + 1);
	n->msg.payload = alloc_or_abort((size_t)m->payloadlen + 1);
	if(m->payloadlen > 0) {
		memcpy(n->msg.payload, m->payload, (size_t)m->payloadlen);
	}
	((char *)n->msg.payload)[m->payloadlen] = '\0';
	n->msg.len = m->payloadlen;
	n->msg.qos = m->qos;
	n->msg.retain = m->retain;
	if(props && mosquitto_property_copy_all(&n->msg.props, props) != MOSQ_ERR_SUCCESS) {
		fputs("# out of memory copying message properties\n", stdout);
		abort();
	}
	pthread_mutex_lock(&c->lock);
	if(c->tail) {
		c->tail->next = n;
	} else {
		c->head = n;
	}
	c->tail = n;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}


/* Absolute CLOCK_MONOTONIC time timeout_ms from now, for pthread_cond_timedwait(). */
static struct timespec deadline_in(int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if(ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}


static struct th_client *client_new(const char *user, const char *password, const char *client_id,
				    int protocol, bool clean_start)
{
	struct th_client *c;
	pthread_condattr_t attr;

	if(protocol != 4 && protocol != 5) {
		th_fail(__FILE__, __LINE__, "protocol must be 4 (MQTT 3.1.1) or 5, not %d", protocol);
	}
	if(!lib_ready) {
		mosquitto_lib_init();
		lib_ready = true;
	}
	c = th__xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	c->protocol = protocol;
	c->id = client_id ? th__xstrdup(client_id) : th__strdupf("th-%ld-%u", (long)getpid(), ++id_counter);
	c->next_open = open_clients;
	open_clients = c;

	c->mosq = mosquitto_new(c->id, clean_start, c);
	if(!c->mosq) {
		th_fail(__FILE__, __LINE__, "mosquitto_new(%s): %s", c->id, strerror(errno));
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			     protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	if(user || password) {
		mosquitto_username_pw_set(c->mosq, user, password);
	}
	mosquitto_connect_v5_callback_set(c->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(c->mosq, on_publish);
	mosquitto_subscribe_v5_callback_set(c->mosq, on_subscribe);
	mosquitto_unsubscribe_v5_callback_set(c->mosq, on_unsubscribe);
	mosquitto_message_v5_callback_set(c->mosq, on_message);
	return c;
}


/* Stops the network thread and frees everything. The connection must be over or ending. */
static void client_free(struct th_client *c)
{
	struct th_client **pp;
	struct msg_node *n, *next;

	if(c->loop_started) {
		mosquitto_loop_stop(c->mosq, false);
	}
	mosquitto_destroy(c->mosq);
	for(n = c->head; n; n = next) {
		next = n->next;
		th_msg_free((struct th_msg *)n);
	}
	for(pp = &open_clients; *pp; pp = &(*pp)->next_open) {
		if(*pp == c) {
			*pp = c->next_open;
			break;
		}
	}
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c->id);
	free(c);
}


/* Connects and waits for CONNACK. Returns its reason code, or -1 without one. */
static int client_connect(struct th_client *c, const struct th_broker *b, bool clean_start)
{
	mosquitto_property *props = NULL;
	struct timespec until = deadline_in(TH_WAIT_MS);
	int rc;

	if(c->protocol == 5 && !clean_start) {
		mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, TH_SESSION_EXPIRY);
	}
	rc = mosquitto_connect_bind_v5(c->mosq, "127.0.0.1", b->port, TH_KEEPALIVE_S, NULL, props);
	mosquitto_property_free_all(&props);
	if(rc != MOSQ_ERR_SUCCESS) {
		th_log("client %s: connecting to port %d: %s", c->id, b->port, mosquitto_strerror(rc));
		return -1;
	}
	if(mosquitto_loop_start(c->mosq) != MOSQ_ERR_SUCCESS) {
		th_fail(__FILE__, __LINE__, "mosquitto_loop_start failed");
	}
	c->loop_started = true;
	pthread_mutex_lock(&c->lock);
	while(!c->connack_seen && !c->disconnected) {
		if(pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT) {
			break;
		}
	}
	rc = c->connack_seen ? c->connack_rc : -1;
	pthread_mutex_unlock(&c->lock);
	return rc;
}


struct th_client *th_connect_at(const char *file, int line, struct th_broker *b, const char *user,
				const char *client_id, int protocol, bool clean_start)
{
	char password[128];
	struct th_client *c;
	int rc;

	snprintf(password, sizeof(password), "%s-pw", user ? user : "");
	c = client_new(user, user ? password : NULL, client_id, protocol, clean_start);
	rc = client_connect(c, b, clean_start);
	if(rc != 0) {
		char id[256];

		snprintf(id, sizeof(id), "%s", c->id);
		mosquitto_disconnect(c->mosq);
		client_free(c);
		th_fail(file, line, "%s connecting as %s (client %s, MQTT %s) to port %d",
			rc < 0 ? "no CONNACK" : "refused", user ? user : "anonymous", id,
			protocol == 5 ? "5" : "3.1.1", b->port);
	}
	return c;
}


int th_connect_rc(struct th_broker *b, const char *user, const char *password, const char *client_id,
		  int protocol, struct th_client **out)
{
	struct th_client *c = client_new(user, password, client_id, protocol, true);
	int rc = client_connect(c, b, true);

	if(rc != 0) {
		mosquitto_disconnect(c->mosq);
		client_free(c);
		c = NULL;
	}
	if(out) {
		*out = c;
	} else if(c) {
		th_disconnect(c);
	}
	return rc;
}


void th_disconnect(struct th_client *c)
{
	if(!c) {
		return;
	}
	mosquitto_disconnect(c->mosq);
	client_free(c);
}


void th_drop(struct th_client *c)
{
	bool connected;

	if(!c) {
		return;
	}
	pthread_mutex_lock(&c->lock);
	connected = !c->disconnected;
	pthread_mutex_unlock(&c->lock);
	if(connected) {
		int fd = mosquitto_socket(c->mosq);

		/* Ends the TCP connection with no DISCONNECT packet; the network thread notices it. */
		if(fd >= 0) {
			shutdown(fd, SHUT_RDWR);
		}
		th_wait_disconnect(c, TH_WAIT_MS);
	}
	mosquitto_disconnect(c->mosq);
	client_free(c);
}


const char *th_client_id(const struct th_client *c)
{
	return c->id;
}


/* Waits for the acknowledgement of (kind, mid). Returns true with its rc, or false on timeout or
 * disconnection. */
static bool wait_ack(struct th_client *c, enum ack_kind kind, int mid, int timeout_ms, int *rc)
{
	struct timespec until = deadline_in(timeout_ms);
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for(;;) {
		for(int i = 0; i < TH_ACK_RING && !found; i++) {
			struct ack *a = &c->acks[i];

			if(a->kind == kind && a->mid == mid) {
				*rc = a->rc;
				a->kind = ACK_NONE;
				found = true;
			}
		}
		if(found || c->disconnected) {
			break;
		}
		if(pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT) {
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}


int th_subscribe(struct th_client *c, const char *filter, int qos)
{
	int mid = 0, rc;

	rc = mosquitto_subscribe_v5(c->mosq, &mid, filter, qos, 0, NULL);
	if(rc != MOSQ_ERR_SUCCESS) {
		th_log("client %s: subscribe %s: %s", c->id, filter, mosquitto_strerror(rc));
		return -1;
	}
	if(!wait_ack(c, ACK_SUBSCRIBE, mid, TH_WAIT_MS, &rc)) {
		th_log("client %s: no SUBACK for %s", c->id, filter);
		return -1;
	}
	return rc;
}


int th_unsubscribe(struct th_client *c, const char *filter)
{
	int mid = 0, rc;

	rc = mosquitto_unsubscribe_v5(c->mosq, &mid, filter, NULL);
	if(rc != MOSQ_ERR_SUCCESS) {
		th_log("client %s: unsubscribe %s: %s", c->id, filter, mosquitto_strerror(rc));
		return -1;
	}
	if(!wait_ack(c, ACK_UNSUBSCRIBE, mid, TH_WAIT_MS, &rc)) {
		th_log("client %s: no UNSUBACK for %s", c->id, filter);
		return -1;
	}
	return rc;
}


int th_publish_async(struct th_client *c, const char *topic, const void *payload, int len, int qos,
		     int *mid_out)
{
	if(len < 0) {
		len = payload ? (int)strlen(payload) : 0;
	}
	return mosquitto_publish_v5(c->mosq, mid_out, topic, len, payload, qos, false, NULL);
}


int th_publish(struct th_client *c, const char *topic, const void *payload, int len, int qos,
	       const mosquitto_property *props)
{
	int mid = 0, rc;

	if(len < 0) {
		len = payload ? (int)strlen(payload) : 0;
	}
	rc = mosquitto_publish_v5(c->mosq, &mid, topic, len, payload, qos, false, props);
	if(rc != MOSQ_ERR_SUCCESS) {
		th_log("client %s: publish to %s: %s", c->id, topic, mosquitto_strerror(rc));
		return -1;
	}
	if(!wait_ack(c, ACK_PUBLISH, mid, TH_WAIT_MS, &rc)) {
		th_log("client %s: publish to %s (QoS %d) not acknowledged", c->id, topic, qos);
		return -1;
	}
	return rc;
}


int th_acked_count(struct th_client *c)
{
	int n;

	pthread_mutex_lock(&c->lock);
	n = c->acked;
	pthread_mutex_unlock(&c->lock);
	return n;
}


static void check_filter(const char *filter)
{
	if(mosquitto_sub_topic_check(filter) != MOSQ_ERR_SUCCESS) {
		th_fail(__FILE__, __LINE__, "not a valid topic filter: \"%s\"", filter);
	}
}


static bool topic_matches(const char *filter, const char *topic)
{
	bool result = false;

	return mosquitto_topic_matches_sub(filter, topic, &result) == MOSQ_ERR_SUCCESS && result;
}


struct th_msg *th_wait_msg(struct th_client *c, const char *filter, int timeout_ms)
{
	struct timespec until = deadline_in(timeout_ms > 0 ? timeout_ms : 0);
	struct msg_node *found = NULL;

	bool timed_out = false;

	check_filter(filter);
	pthread_mutex_lock(&c->lock);
	for(;;) {
		struct msg_node *prev = NULL;

		for(struct msg_node *n = c->head; n; prev = n, n = n->next) {
			if(topic_matches(filter, n->msg.topic)) {
				if(prev) {
					prev->next = n->next;
				} else {
					c->head = n->next;
				}
				if(c->tail == n) {
					c->tail = prev;
				}
				found = n;
				break;
			}
		}
		/* After a timeout the queue is scanned once more before giving up. */
		if(found || timed_out) {
			break;
		}
		timed_out = pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT;
	}
	pthread_mutex_unlock(&c->lock);
	if(found) {
		found->next = NULL;
		return &found->msg;
	}
	return NULL;
}


cJSON *th_wait_json_at(const char *file, int line, struct th_client *c, const char *filter, int timeout_ms)
{
	struct th_msg *m = th_wait_msg(c, filter, timeout_ms);
	cJSON *j;

	if(!m) {
		return NULL;
	}
	j = cJSON_ParseWithLength(m->payload, (size_t)m->len);
	if(!j) {
		th_fail(file, line, "client %s: message on %s is not JSON: %.*s", c->id, m->topic, m->len,
			(char *)m->payload);
	}
	th_msg_free(m);
	return j;
}


cJSON *th_expect_json_at(const char *file, int line, struct th_client *c, const char *filter)
{
	cJSON *j = th_wait_json_at(file, line, c, filter, TH_WAIT_MS);

	if(!j) {
		th_fail(file, line, "expected a message on %s for client %s within %d ms", filter, c->id,
			TH_WAIT_MS);
	}
	return j;
}


int th_queued(struct th_client *c, const char *filter)
{
	int count = 0;

	check_filter(filter);
	pthread_mutex_lock(&c->lock);
	for(struct msg_node *n = c->head; n; n = n->next) {
		if(topic_matches(filter, n->msg.topic)) {
			count++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return count;
}


void th_msg_free(struct th_msg *m)
{
	if(!m) {
		return;
	}
	free(m->topic);
	free(m->payload);
	mosquitto_property_free_all(&m->props);
	/* A th_msg is the first member of the node it was queued in. */
	free(m);
}


bool th_disconnected(struct th_client *c)
{
	bool d;

	pthread_mutex_lock(&c->lock);
	d = c->disconnected;
	pthread_mutex_unlock(&c->lock);
	return d;
}


int th_wait_disconnect(struct th_client *c, int timeout_ms)
{
	struct timespec until = deadline_in(timeout_ms > 0 ? timeout_ms : 0);
	int rc = -1;

	pthread_mutex_lock(&c->lock);
	while(!c->disconnected) {
		if(pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT) {
			break;
		}
	}
	if(c->disconnected) {
		rc = c->disconnect_rc;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}


void th__client_cleanup_all(void)
{
	while(open_clients) {
		th_disconnect(open_clients);
	}
	if(lib_ready) {
		mosquitto_lib_cleanup();
		lib_ready = false;
	}
}
