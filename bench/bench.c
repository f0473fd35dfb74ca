/*
 * bench.c - mqchat_bench, the load generator behind bench/run.sh.
 *
 * Method. Every client is a libmosquitto client with its own network thread (mosquitto_loop_start):
 * MQTT 3.1.1, clean session, 127.0.0.1. Times are CLOCK_MONOTONIC and read in this process only: a
 * send starts in the main thread just before mosquitto_publish; a message arrives when the
 * subscriber's on_message callback runs; a send is done when its PUBACK reaches on_publish. The same
 * scenarios run against plain mosquitto (topic chat/bench as plain pub/sub) and against mosquitto with
 * mqchat, so the difference between the columns is what the plugin costs.
 *
 * Scenarios, each a function below with a deadline (--cap seconds); --scenarios picks and orders them:
 *   setup       mqchat only: ada creates #bench with every benchmark user as a member.
 *   throughput  one publisher sends N messages at QoS 1; libmosquitto keeps W of them in flight and
 *               queues the rest. One subscriber. sends/s = N / (first publish -> last PUBACK),
 *               delivered/s = N / (first publish -> last message at the subscriber).
 *   qos0        the same at QoS 0. There is no PUBACK, so it reports first publish -> last delivery.
 *   latency     L sends at QoS 1, one at a time: each starts once the previous one has reached the
 *               subscriber, its PUBACK has come back and (mqchat) its ack has reached the sender.
 *               p50/p99/max of publish call -> the subscriber's on_message, and with mqchat of
 *               publish call -> the ack's on_message.
 *   fanout      one publisher, S subscribers, N sends at QoS 1: deliveries/s = S*N / (first publish
 *               -> the last message at any subscriber).
 *   catchup     mqchat only: a member pages through the whole channel from seq 0 with limit 1000 and
 *               asks for the next page only once it has the current one.
 *
 * Correctness, not speed, decides the exit status. Every subscriber must get every send exactly once
 * (it goes by client_msg_id), and with mqchat in seq order without gaps. Every mqchat send must be
 * acked, and catch-up must return seqs 1..head exactly once each. A miss, a duplicate, an error reply
 * or a timeout exits 1.
 *
 * Caveats: clients and broker share the machine's cores, so client CPU competes with the broker. On
 * loopback there is no network latency. With synchronous=full each send waits for an fsync, which
 * costs whatever the disk costs. Plain mosquitto delivers a QoS 0 send at QoS 0, while mqchat delivers
 * the stored event at QoS 1 whatever the QoS of the send. Clients set TCP_NODELAY unless --nodelay 0:
 * with Nagle's algorithm on, mqchat's two answers per send (PUBACK, then the ack) meet delayed ACKs
 * and wait about 40 ms (run.sh measures that separately).
 *
 * Output: "RESULT <key> <value>" lines on stdout for run.sh; progress and problems on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#define BENCH_TOPIC     "chat/bench"
#define SYNC_TOPIC      "chat/bench/sync"
#define API_TOPIC       "chat/_api"
#define REPLY_PREFIX    "chat/_reply/"
#define SYNC_REPLY_HEAD "{\"ok\":true,\"kind\":\"sync\""
#define BODY_MAX        4096
#define MAX_SUBS        100
#define MAX_PAGES       100000
#define STEP_TIMEOUT_S  10.0 /* connect, subscribe, one latency round trip, one catch-up page */

struct options {
	int port;
	bool mqchat;
	const char *scenarios;
	long n;            /* throughput and qos0 sends */
	int window;        /* QoS 1 messages in flight per publisher */
	long latency_n;    /* latency round trips */
	long fanout_n;     /* fan-out sends */
	int fanout_subs;   /* fan-out subscribers */
	int page_limit;    /* catch-up limit per request */
	int body_bytes;    /* body length of each send */
	double cap;        /* seconds each scenario may take */
	bool nodelay;      /* TCP_NODELAY on the clients' sockets */
	const char *label; /* names the run in messages */
};

/* What one subscriber received of the current scenario's sends, which carry client_msg_ids
 * "<prefix><k>" for k in [0, n). */
struct tally {
	char prefix[16];
	long n;
	unsigned char *seen;
	double *arrival; /* per k, when asked for (latency) */
	long received, distinct, duplicates, strays;
	bool check_seq; /* mqchat: seqs must arrive in order without gaps */
	long long first_seq, last_seq;
	long seq_breaks;
	double last_arrival;
};

/* A reply that is not an ack (API replies, catch-up pages), kept in arrival order. */
struct reply {
	struct reply *next;
	double at;
	size_t len;
	char payload[];
};

struct client {
	struct mosquitto *mosq;
	char id[64];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Guarded by lock, written by the network thread's callbacks. */
	long connacks;
	bool connected;
	int connack;
	long subacks;
	int granted;
	long pubacks;
	double last_puback;
	long acks, errors;
	double last_ack;
	char *first_error;
	long replies, taken;
	struct reply *reply_head, *reply_tail;
	struct tally tally;
};

static const char *body_text;      /* the body of every send, opts.body_bytes long */
static long throughput_sends = -1; /* sends of the throughput scenario, once it has run */


static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}


__attribute__((format(printf, 2, 3))) static void result(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("RESULT %s ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}


/* ---- tallies ------------------------------------------------------------------------------------- */

static int tally_init(struct tally *t, const char *prefix, long n, bool check_seq, bool arrivals)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->prefix, sizeof(t->prefix), "%s", prefix);
	t->n = n;
	t->check_seq = check_seq;
	t->seen = calloc((size_t)n + 1, 1);
	if(arrivals) {
		t->arrival = calloc((size_t)n + 1, sizeof(*t->arrival));
	}
	return t->seen == NULL || (arrivals && t->arrival == NULL) ? -1 : 0;
}


static void tally_clear(struct tally *t)
{
	free(t->seen);
	free(t->arrival);
	memset(t, 0, sizeof(*t));
}


/* Counts one message on chat/bench: a plain send (plain mosquitto) or a stored event (mqchat). */
static void tally_add(struct tally *t, const char *payload, int len, double at)
{
	cJSON *obj = cJSON_ParseWithLength(payload, (size_t)len);
	const cJSON *cmid = cJSON_GetObjectItemCaseSensitive(obj, "client_msg_id");
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(obj, "body");
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(obj, "seq");
	size_t plen = strlen(t->prefix);
	char *end = NULL;
	long k = -1;

	t->received++;
	t->last_arrival = at;
	if(cJSON_IsString(cmid) && strncmp(cmid->valuestring, t->prefix, plen) == 0) {
		errno = 0;
		k = strtol(cmid->valuestring + plen, &end, 10);
		if(errno != 0 || end == cmid->valuestring + plen || *end != '\0') {
			k = -1;
		}
	}
	if(k < 0 || k >= t->n || !cJSON_IsString(body) || strcmp(body->valuestring, body_text) != 0) {
		t->strays++;
	} else if(t->seen[k]) {
		t->duplicates++;
	} else {
		t->seen[k] = 1;
		t->distinct++;
		if(t->arrival != NULL) {
			t->arrival[k] = at;
		}
	}
	if(t->check_seq) {
		long long s = cJSON_IsNumber(seq) ? (long long)seq->valuedouble : -1;
		if(t->received == 1) {
			t->first_seq = s;
		} else if(s != t->last_seq + 1) {
			t->seq_breaks++;
		}
		t->last_seq = s;
	}
	cJSON_Delete(obj);
}


/* True when the subscriber got each of the n sends exactly once (and, with mqchat, as n consecutive
 * seqs in order). */
static bool tally_exact(const struct tally *t, const char *who)
{
	bool ok = t->received == t->n && t->distinct == t->n && t->duplicates == 0 && t->strays == 0;

	if(t->check_seq && t->n > 0) {
		ok = ok && t->seq_breaks == 0 && t->first_seq > 0 && t->last_seq - t->first_seq + 1 == t->n;
	}
	if(!ok) {
		note("%s: expected %ld sends once each; got %ld, distinct %ld, duplicates %ld, strays %ld,"
		     " seq breaks %ld (seqs %lld..%lld)",
		     who, t->n, t->received, t->distinct, t->duplicates, t->strays, t->seq_breaks,
		     t->first_seq, t->last_seq);
	}
	return ok;
}


/* ---- clients ------------------------------------------------------------------------------------- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct client *c = obj;

	(void)mosq;
	pthread_mutex_lock(&c->lock);
	c->connected = rc == 0;
	c->connack = rc;
	c->connacks++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}


static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted)
{
	struct client *c = obj;

	(void)mosq;
	(void)mid;
	pthread_mutex_lock(&c->lock);
	c->granted = qos_count > 0 ? granted[0] : 0x80;
	c->subacks++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}


/* For QoS 1 this runs on PUBACK; for QoS 0 when the message has been written. */
static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct client *c = obj;
	double at = now();

	(void)mosq;
	(void)mid;
	pthread_mutex_lock(&c->lock);
	c->pubacks++;
	c->last_puback = at;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}


/* Acks are counted. Anything else is queued for take_reply(); errors are also counted and the first
 * one is kept. Catch-up pages are queued unparsed, so the timed loop does not pay for parsing 300 kB
 * of JSON. */
static void on_reply(struct client *c, const char *payload, int len, double at)
{
	cJSON *obj = NULL;
	const cJSON *ok, *kind;
	struct reply *r;

	if(len < (int)strlen(SYNC_REPLY_HEAD)
	   || strncmp(payload, SYNC_REPLY_HEAD, strlen(SYNC_REPLY_HEAD)) != 0) {
		obj = cJSON_ParseWithLength(payload, (size_t)len);
		ok = cJSON_GetObjectItemCaseSensitive(obj, "ok");
		kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
		if(!cJSON_IsTrue(ok)) {
			if(c->first_error == NULL) {
				c->first_error = strndup(payload, (size_t)len);
			}
			c->errors++;
		} else if(cJSON_IsString(kind) && strcmp(kind->valuestring, "ack") == 0) {
			c->acks++;
			c->last_ack = at;
			cJSON_Delete(obj);
			return;
		}
		cJSON_Delete(obj);
	}
	r = malloc(sizeof(*r) + (size_t)len + 1);
	if(r == NULL) {
		c->errors++;
		return;
	}
	r->next = NULL;
	r->at = at;
	r->len = (size_t)len;
	memcpy(r->payload, payload, (size_t)len);
	r->payload[len] = '\0';
	if(c->reply_tail != NULL) {
		c->reply_tail->next = r;
	} else {
		c->reply_head = r;
	}
	c->reply_tail = r;
	c->replies++;
}


static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	struct client *c = obj;
	double at = now();

	(void)mosq;
	pthread_mutex_lock(&c->lock);
	if(strncmp(msg->topic, REPLY_PREFIX, strlen(REPLY_PREFIX)) == 0) {
		on_reply(c, msg->payload, msg->payloadlen, at);
	} else if(strcmp(msg->topic, BENCH_TOPIC) == 0 && c->tally.seen != NULL) {
		tally_add(&c->tally, msg->payload, msg->payloadlen, at);
	} else {
		c->tally.strays++;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}


static void client_free(struct client *c)
{
	struct reply *r, *next;

	if(c == NULL) {
		return;
	}
	if(c->mosq != NULL) {
		/* A clean DISCONNECT ends the network thread; force it only when there is nothing to end. */
		bool clean = mosquitto_disconnect(c->mosq) == MOSQ_ERR_SUCCESS;
		mosquitto_loop_stop(c->mosq, !clean);
		mosquitto_destroy(c->mosq);
	}
	for(r = c->reply_head; r != NULL; r = next) {
		next = r->next;
		free(r);
	}
	tally_clear(&c->tally);
	free(c->first_error);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}


/* Waits, with c->lock held, until *counter >= target or the deadline passes. */
static bool wait_locked(struct client *c, const long *counter, long target, double deadline)
{
	struct timespec ts;

	ts.tv_sec = (time_t)deadline;
	ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
	while(*counter < target) {
		if(pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT) {
			return *counter >= target;
		}
	}
	return true;
}


static bool wait_count(struct client *c, const long *counter, long target, double deadline, const char *what)
{
	bool ok;

	pthread_mutex_lock(&c->lock);
	ok = wait_locked(c, counter, target, deadline);
	if(!ok) {
		note("%s: timed out waiting for %s: %ld of %ld", c->id, what, *counter, target);
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}


/* A connected client for user (password "<user>-pw") with its network thread running. */
static struct client *client_connect(const struct options *opts, const char *id, const char *user,
				     double deadline)
{
	struct client *c = calloc(1, sizeof(*c));
	pthread_condattr_t attr;
	char password[64];

	if(c == NULL) {
		return NULL;
	}
	snprintf(c->id, sizeof(c->id), "%s", id);
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	c->mosq = mosquitto_new(id, true, c);
	if(c->mosq == NULL) {
		free(c);
		return NULL;
	}
	snprintf(password, sizeof(password), "%s-pw", user);
	mosquitto_connect_callback_set(c->mosq, on_connect);
	mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
	mosquitto_publish_callback_set(c->mosq, on_publish);
	mosquitto_message_callback_set(c->mosq, on_message);
	if(mosquitto_username_pw_set(c->mosq, user, password) != MOSQ_ERR_SUCCESS
	   || mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, opts->window) != MOSQ_ERR_SUCCESS
	   || mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, opts->nodelay) != MOSQ_ERR_SUCCESS
	   || mosquitto_connect(c->mosq, "127.0.0.1", opts->port, 60) != MOSQ_ERR_SUCCESS
	   || mosquitto_loop_start(c->mosq) != MOSQ_ERR_SUCCESS) {
		note("%s: cannot connect to 127.0.0.1:%d", id, opts->port);
		mosquitto_destroy(c->mosq);
		c->mosq = NULL;
		client_free(c);
		return NULL;
	}
	if(!wait_count(c, &c->connacks, 1, deadline, "CONNACK") || !c->connected) {
		note("%s: no connection to 127.0.0.1:%d (CONNACK %d)", id, opts->port, c->connack);
		client_free(c);
		return NULL;
	}
	return c;
}


static bool client_subscribe(struct client *c, const char *topic, double deadline)
{
	long want = c->subacks + 1;

	if(mosquitto_subscribe(c->mosq, NULL, topic, 1) != MOSQ_ERR_SUCCESS
	   || !wait_count(c, &c->subacks, want, deadline, "SUBACK")) {
		return false;
	}
	if(c->granted != 1) {
		note("%s: subscription to %s granted 0x%02x, not QoS 1", c->id, topic, (unsigned)c->granted);
		return false;
	}
	return true;
}


static bool publish(struct client *c, const char *topic, const char *payload, int qos)
{
	int rc = mosquitto_publish(c->mosq, NULL, topic, (int)strlen(payload), payload, qos, false);

	if(rc != MOSQ_ERR_SUCCESS) {
		note("%s: publish to %s: %s", c->id, topic, mosquitto_strerror(rc));
		return false;
	}
	return true;
}


static bool publish_send(struct client *c, const char *prefix, long k, int qos)
{
	char payload[BODY_MAX + 128];

	snprintf(payload, sizeof(payload), "{\"client_msg_id\":\"%s%ld\",\"body\":\"%s\"}", prefix, k,
		 body_text);
	return publish(c, BENCH_TOPIC, payload, qos);
}


/* Takes the oldest queued reply, waiting for one until the deadline. The caller frees it. */
static struct reply *take_reply(struct client *c, double deadline)
{
	struct reply *r = NULL;

	pthread_mutex_lock(&c->lock);
	if(wait_locked(c, &c->replies, c->taken + 1, deadline)) {
		r = c->reply_head;
		c->reply_head = r->next;
		if(c->reply_head == NULL) {
			c->reply_tail = NULL;
		}
		c->taken++;
	}
	pthread_mutex_unlock(&c->lock);
	if(r == NULL) {
		note("%s: timed out waiting for a reply", c->id);
	}
	return r;
}


/* With mqchat, each send with a client_msg_id is acked on the sender's reply topic. */
static bool sender_acked(struct client *c, const struct options *opts, long n, double deadline)
{
	bool ok = true;

	if(opts->mqchat && !wait_count(c, &c->acks, n, deadline, "acks")) {
		ok = false;
	}
	pthread_mutex_lock(&c->lock);
	if(c->errors > 0) {
		note("%s: %ld error replies; the first: %s", c->id, c->errors, c->first_error);
		ok = false;
	}
	if(opts->mqchat && c->acks != n) {
		note("%s: %ld acks for %ld sends", c->id, c->acks, n);
		ok = false;
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}


/* ---- scenarios ----------------------------------------------------------------------------------- */

/* mqchat: ada creates #bench with bo, cy and the fan-out users f01..fNN as members. */
static int scenario_setup(const struct options *opts)
{
	double deadline = now() + opts->cap;
	char request[4096] = "{\"op\":\"create\",\"channel\":\"bench\",\"members\":[\"bo\",\"cy\"";
	size_t used = strlen(request);
	struct client *ada = NULL;
	struct reply *r = NULL;
	int rc = 1;

	if(!opts->mqchat) {
		return 0;
	}
	ada = client_connect(opts, "setup", "ada", now() + STEP_TIMEOUT_S);
	for(int i = 1; i <= opts->fanout_subs && used < sizeof(request); i++) {
		used += (size_t)snprintf(request + used, sizeof(request) - used, ",\"f%02d\"", i);
	}
	if(used + 3 < sizeof(request)) {
		memcpy(request + used, "]}", 3);
		if(ada != NULL && publish(ada, API_TOPIC, request, 1)) {
			r = take_reply(ada, deadline);
		}
	}
	if(r != NULL && strncmp(r->payload, "{\"ok\":true", 10) == 0) {
		rc = 0;
	} else if(r != NULL) {
		note("setup: create refused: %s", r->payload);
	}
	free(r);
	client_free(ada);
	return rc;
}


/* One publisher, one subscriber, opts->n sends at the given QoS. */
static int scenario_stream(const struct options *opts, int qos)
{
	const char *prefix = qos == 1 ? "t1-" : "q0-";
	const char *key = qos == 1 ? "throughput" : "qos0";
	double deadline = now() + opts->cap, t0, done_at;
	struct client *pub = NULL, *sub = NULL;
	int rc = 1;

	pub = client_connect(opts, qos == 1 ? "pub-t1" : "pub-q0", "ada", now() + STEP_TIMEOUT_S);
	sub = client_connect(opts, qos == 1 ? "sub-t1" : "sub-q0", "bo", now() + STEP_TIMEOUT_S);
	if(pub == NULL || sub == NULL || tally_init(&sub->tally, prefix, opts->n, opts->mqchat, false) != 0
	   || !client_subscribe(sub, BENCH_TOPIC, now() + STEP_TIMEOUT_S)) {
		goto out;
	}
	t0 = now();
	for(long k = 0; k < opts->n; k++) {
		if(!publish_send(pub, prefix, k, qos)) {
			goto out;
		}
	}
	if((qos == 1 && !wait_count(pub, &pub->pubacks, opts->n, deadline, "PUBACKs"))
	   || !wait_count(sub, &sub->tally.distinct, opts->n, deadline, "deliveries")
	   || !sender_acked(pub, opts, opts->n, deadline)) {
		goto out;
	}
	pthread_mutex_lock(&sub->lock);
	rc = tally_exact(&sub->tally, sub->id) ? 0 : 1;
	done_at = sub->tally.last_arrival;
	pthread_mutex_unlock(&sub->lock);
	if(rc == 0 && qos == 1) {
		throughput_sends = opts->n;
	}
	if(rc == 0 && opts->n > 0) {
		if(qos == 1) {
			result("throughput.sends_per_s", "%.0f", (double)opts->n / (pub->last_puback - t0));
		}
		result(qos == 1 ? "throughput.delivered_per_s" : "qos0.delivered_per_s", "%.0f",
		       (double)opts->n / (done_at - t0));
		note("%s %s: %ld sends, %.3f s to the last delivery", opts->label, key, opts->n,
		     done_at - t0);
	}
out:
	client_free(pub);
	client_free(sub);
	return rc;
}


static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}


/* The nearest-rank percentile of sorted values. */
static double percentile(const double *sorted, long n, double p)
{
	long rank = (long)ceil(p / 100.0 * (double)n);

	return sorted[rank < 1 ? 0 : rank - 1];
}


static void report_percentiles(const char *key, double *values, long n)
{
	char name[64];

	qsort(values, (size_t)n, sizeof(*values), compare_doubles);
	snprintf(name, sizeof(name), "%s.p50_us", key);
	result(name, "%.0f", percentile(values, n, 50));
	snprintf(name, sizeof(name), "%s.p99_us", key);
	result(name, "%.0f", percentile(values, n, 99));
	snprintf(name, sizeof(name), "%s.max_us", key);
	result(name, "%.0f", values[n - 1]);
}


/* opts->latency_n sends at QoS 1, one at a time: each starts when the previous one has reached the
 * subscriber, its PUBACK has come back and (mqchat) its ack has reached the sender. Measures publish
 * call -> the subscriber's on_message, and with mqchat also publish call -> the ack's on_message. */
static int scenario_latency(const struct options *opts)
{
	long n = opts->latency_n;
	double deadline = now() + opts->cap;
	double *sent = calloc((size_t)n + 1, sizeof(*sent));
	double *lat = calloc((size_t)n + 1, sizeof(*lat));
	double *ack_lat = calloc((size_t)n + 1, sizeof(*ack_lat));
	struct client *pub = NULL, *sub = NULL;
	int rc = 1;

	pub = client_connect(opts, "pub-lat", "ada", now() + STEP_TIMEOUT_S);
	sub = client_connect(opts, "sub-lat", "bo", now() + STEP_TIMEOUT_S);
	if(sent == NULL || lat == NULL || ack_lat == NULL || pub == NULL || sub == NULL
	   || tally_init(&sub->tally, "lat-", n, opts->mqchat, true) != 0
	   || !client_subscribe(sub, BENCH_TOPIC, now() + STEP_TIMEOUT_S)) {
		goto out;
	}
	for(long k = 0; k < n; k++) {
		double step = now() + STEP_TIMEOUT_S;
		step = step < deadline ? step : deadline;
		sent[k] = now();
		if(!publish_send(pub, "lat-", k, 1)
		   || !wait_count(sub, &sub->tally.distinct, k + 1, step, "a delivery")
		   || !wait_count(pub, &pub->pubacks, k + 1, step, "a PUBACK")
		   || (opts->mqchat && !wait_count(pub, &pub->acks, k + 1, step, "an ack"))) {
			goto out;
		}
		ack_lat[k] =
			(pub->last_ack - sent[k]) * 1e6; /* pub->acks == k + 1: nothing writes last_ack */
	}
	if(!sender_acked(pub, opts, n, deadline)) {
		goto out;
	}
	pthread_mutex_lock(&sub->lock);
	rc = tally_exact(&sub->tally, sub->id) ? 0 : 1;
	for(long k = 0; k < n; k++) {
		lat[k] = (sub->tally.arrival[k] - sent[k]) * 1e6;
	}
	pthread_mutex_unlock(&sub->lock);
	if(rc == 0 && n > 0) {
		report_percentiles("latency", lat, n);
		if(opts->mqchat) {
			report_percentiles("latency.ack", ack_lat, n);
		}
		note("%s latency: %ld round trips, p50 %.0f us", opts->label, n, percentile(lat, n, 50));
	}
out:
	free(sent);
	free(lat);
	free(ack_lat);
	client_free(pub);
	client_free(sub);
	return rc;
}


/* One publisher, opts->fanout_subs subscribers (users f01..), opts->fanout_n sends at QoS 1. */
static int scenario_fanout(const struct options *opts)
{
	long n = opts->fanout_n;
	int nsubs = opts->fanout_subs;
	double deadline = now() + opts->cap, t0, done_at = 0;
	struct client *pub = NULL, *subs[MAX_SUBS] = {NULL};
	char id[32], user[16];
	int rc = 1;

	pub = client_connect(opts, "pub-fan", "ada", now() + STEP_TIMEOUT_S);
	if(pub == NULL) {
		goto out;
	}
	for(int i = 0; i < nsubs; i++) {
		snprintf(id, sizeof(id), "sub-fan-%02d", i + 1);
		snprintf(user, sizeof(user), "f%02d", i + 1);
		subs[i] = client_connect(opts, id, user, now() + STEP_TIMEOUT_S);
		if(subs[i] == NULL || tally_init(&subs[i]->tally, "fan-", n, opts->mqchat, false) != 0
		   || !client_subscribe(subs[i], BENCH_TOPIC, now() + STEP_TIMEOUT_S)) {
			goto out;
		}
	}
	t0 = now();
	for(long k = 0; k < n; k++) {
		if(!publish_send(pub, "fan-", k, 1)) {
			goto out;
		}
	}
	if(!wait_count(pub, &pub->pubacks, n, deadline, "PUBACKs")) {
		goto out;
	}
	for(int i = 0; i < nsubs; i++) {
		if(!wait_count(subs[i], &subs[i]->tally.distinct, n, deadline, "deliveries")) {
			goto out;
		}
	}
	if(!sender_acked(pub, opts, n, deadline)) {
		goto out;
	}
	rc = 0;
	for(int i = 0; i < nsubs; i++) {
		pthread_mutex_lock(&subs[i]->lock);
		if(!tally_exact(&subs[i]->tally, subs[i]->id)) {
			rc = 1;
		}
		if(subs[i]->tally.last_arrival > done_at) {
			done_at = subs[i]->tally.last_arrival;
		}
		pthread_mutex_unlock(&subs[i]->lock);
	}
	if(rc == 0 && n > 0) {
		result("fanout.deliveries_per_s", "%.0f", (double)n * nsubs / (done_at - t0));
		result("fanout.sends_per_s", "%.0f", (double)n / (pub->last_puback - t0));
		note("%s fanout: %ld sends x %d subscribers, %.3f s to the last delivery", opts->label, n,
		     nsubs, done_at - t0);
	}
out:
	client_free(pub);
	for(int i = 0; i < nsubs; i++) {
		client_free(subs[i]);
	}
	return rc;
}


/* Reads "key":<integer> or "key":true/false from the head of a catch-up page, which build_reply()
 * writes before the events array. */
static bool page_head(const char *page, const char *key, long long *value)
{
	char pattern[32];
	const char *p, *events = strstr(page, "\"events\":");

	snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	p = strstr(page, pattern);
	if(p == NULL || events == NULL || p > events) {
		return false;
	}
	p += strlen(pattern);
	if(strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
		*value = p[0] == 't';
		return true;
	}
	*value = strtoll(p, NULL, 10);
	return true;
}


/* Checks that the pages hold seqs 1..head once each, in order; counts the throughput sends among
 * them. Returns the number of events, or -1. */
static long verify_pages(struct reply **pages, long npages, long long head, long *sends)
{
	long long expect = 1;

	*sends = 0;
	for(long i = 0; i < npages; i++) {
		cJSON *obj = cJSON_ParseWithLength(pages[i]->payload, pages[i]->len);
		const cJSON *events = cJSON_GetObjectItemCaseSensitive(obj, "events"), *ev;

		if(!cJSON_IsArray(events)) {
			note("catch-up: page %ld is not a sync reply", i + 1);
			cJSON_Delete(obj);
			return -1;
		}
		cJSON_ArrayForEach(ev, events) {
			const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
			const cJSON *cmid = cJSON_GetObjectItemCaseSensitive(ev, "client_msg_id");
			if(!cJSON_IsNumber(seq) || (long long)seq->valuedouble != expect) {
				note("catch-up: page %ld: expected seq %lld", i + 1, expect);
				cJSON_Delete(obj);
				return -1;
			}
			expect++;
			if(cJSON_IsString(cmid) && strncmp(cmid->valuestring, "t1-", 3) == 0) {
				(*sends)++;
			}
		}
		cJSON_Delete(obj);
	}
	if(expect - 1 != head) {
		note("catch-up: pages hold seqs 1..%lld, the head is %lld", expect - 1, head);
		return -1;
	}
	return (long)head;
}


/* A member pages through #bench from seq 0, one request in flight at a time. */
static int scenario_catchup(const struct options *opts)
{
	double deadline = now() + opts->cap, first_request = 0, first_reply = 0, last_reply = 0;
	struct reply **pages = calloc(MAX_PAGES, sizeof(*pages));
	long long since = 0, more = 1, next = 0, head = 0;
	long npages = 0, events = 0, sends = 0;
	struct client *cy = NULL;
	char request[128];
	int rc = 1;

	if(!opts->mqchat) {
		free(pages);
		return 0;
	}
	cy = client_connect(opts, "sync-1", "cy", now() + STEP_TIMEOUT_S);
	if(cy == NULL || pages == NULL) {
		goto out;
	}
	while(more && npages < MAX_PAGES && now() < deadline) {
		double step = now() + STEP_TIMEOUT_S, t = now();
		struct reply *r;

		snprintf(request, sizeof(request), "{\"since\":%lld,\"limit\":%d}", since, opts->page_limit);
		if(!publish(cy, SYNC_TOPIC, request, 1)) {
			goto out;
		}
		r = take_reply(cy, step < deadline ? step : deadline);
		if(r == NULL) {
			goto out;
		}
		pages[npages++] = r;
		if(npages == 1) {
			first_request = t;
			first_reply = r->at;
		}
		last_reply = r->at;
		if(!page_head(r->payload, "next", &next) || !page_head(r->payload, "more", &more)
		   || !page_head(r->payload, "head", &head) || (more && next <= since)) {
			note("catch-up: page %ld is not a sync reply that moves on: %.200s", npages,
			     r->payload);
			goto out;
		}
		since = next;
	}
	if(more) {
		note("catch-up: still more after %ld pages", npages);
		goto out;
	}
	events = verify_pages(pages, npages, head, &sends);
	if(events < 0 || !sender_acked(cy, opts, 0, deadline)) {
		goto out;
	}
	if(throughput_sends >= 0 && sends != throughput_sends) {
		note("catch-up: the log holds %ld of the %ld throughput sends", sends, throughput_sends);
		goto out;
	}
	rc = 0;
	result("catchup.events", "%ld", events);
	result("catchup.pages", "%ld", npages);
	result("catchup.events_per_s", "%.0f", (double)events / (last_reply - first_request));
	result("catchup.pages_per_s", "%.1f", (double)npages / (last_reply - first_request));
	result("catchup.first_page_ms", "%.2f", (first_reply - first_request) * 1e3);
	note("%s catchup: %ld events in %ld pages, %.3f s", opts->label, events, npages,
	     last_reply - first_request);
out:
	for(long i = 0; i < npages; i++) {
		free(pages[i]);
	}
	free(pages);
	client_free(cy);
	return rc;
}


/* ---- main ---------------------------------------------------------------------------------------- */

/* Prints a loopback port that was free a moment ago (run.sh starts each broker on one). */
static int print_free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0
	   || getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		perror("free port");
		return 1;
	}
	printf("%d\n", ntohs(sa.sin_port));
	close(fd);
	return 0;
}


static int usage(void)
{
	fprintf(stderr,
		"usage: mqchat_bench --free-port\n"
		"       mqchat_bench --port P --mode plain|mqchat [--scenarios setup,throughput,catchup,qos0,"
		"latency,fanout]\n"
		"                    [--n 20000] [--window 20] [--latency-n 2000] [--fanout-n 2000]\n"
		"                    [--fanout-subs 20] [--page-limit 1000] [--body-bytes 100] [--cap 60]\n"
		"                    [--nodelay 1]\n"
		"                    [--label NAME]\n");
	return 2;
}


static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if(errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		return false;
	}
	*out = v;
	return true;
}


static int parse_options(int argc, char **argv, struct options *opts)
{
	for(int i = 1; i < argc; i += 2) {
		const char *key = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		long v = 0;
		if(val == NULL) {
			return -1;
		}
		if(strcmp(key, "--mode") == 0) {
			if(strcmp(val, "plain") != 0 && strcmp(val, "mqchat") != 0) {
				return -1;
			}
			opts->mqchat = strcmp(val, "mqchat") == 0;
		} else if(strcmp(key, "--scenarios") == 0) {
			opts->scenarios = val;
		} else if(strcmp(key, "--label") == 0) {
			opts->label = val;
		} else if(strcmp(key, "--nodelay") == 0 && parse_long(val, 0, 1, &v)) {
			opts->nodelay = v == 1;
		} else if(strcmp(key, "--cap") == 0 && parse_long(val, 1, 3600, &v)) {
			opts->cap = (double)v;
		} else if(strcmp(key, "--port") == 0 && parse_long(val, 1, 65535, &v)) {
			opts->port = (int)v;
		} else if(strcmp(key, "--n") == 0 && parse_long(val, 0, 10000000, &v)) {
			opts->n = v;
		} else if(strcmp(key, "--window") == 0 && parse_long(val, 1, 65535, &v)) {
			opts->window = (int)v;
		} else if(strcmp(key, "--latency-n") == 0 && parse_long(val, 0, 10000000, &v)) {
			opts->latency_n = v;
		} else if(strcmp(key, "--fanout-n") == 0 && parse_long(val, 0, 10000000, &v)) {
			opts->fanout_n = v;
		} else if(strcmp(key, "--fanout-subs") == 0 && parse_long(val, 1, MAX_SUBS, &v)) {
			opts->fanout_subs = (int)v;
		} else if(strcmp(key, "--page-limit") == 0 && parse_long(val, 1, 100000, &v)) {
			opts->page_limit = (int)v;
		} else if(strcmp(key, "--body-bytes") == 0 && parse_long(val, 1, BODY_MAX - 1, &v)) {
			opts->body_bytes = (int)v;
		} else {
			return -1;
		}
	}
	return opts->port > 0 ? 0 : -1;
}


/* The body of every send: readable text, no characters that need escaping. */
static char *make_body(int len)
{
	static const char text[] = "The quick brown fox jumps over the lazy dog. ";
	char *body = malloc((size_t)len + 1);

	for(int i = 0; body != NULL && i < len; i++) {
		body[i] = text[i % (int)(sizeof(text) - 1)];
	}
	if(body != NULL) {
		body[len] = '\0';
	}
	return body;
}


static int run_scenario(const struct options *opts, const char *name)
{
	double t = now();
	int rc;

	if(strcmp(name, "setup") == 0) {
		rc = scenario_setup(opts);
	} else if(strcmp(name, "throughput") == 0) {
		rc = scenario_stream(opts, 1);
	} else if(strcmp(name, "qos0") == 0) {
		rc = scenario_stream(opts, 0);
	} else if(strcmp(name, "latency") == 0) {
		rc = scenario_latency(opts);
	} else if(strcmp(name, "fanout") == 0) {
		rc = scenario_fanout(opts);
	} else if(strcmp(name, "catchup") == 0) {
		rc = scenario_catchup(opts);
	} else {
		note("no scenario %s", name);
		return 1;
	}
	note("%s %s: %s in %.2f s", opts->label, name, rc == 0 ? "ok" : "FAILED", now() - t);
	return rc;
}


int main(int argc, char **argv)
{
	struct options opts = {
		.scenarios = "setup,throughput,catchup,qos0,latency,fanout",
		.n = 20000,
		.window = 20,
		.latency_n = 2000,
		.fanout_n = 2000,
		.fanout_subs = 20,
		.page_limit = 1000,
		.body_bytes = 100,
		.cap = 60,
		.nodelay = true,
		.label = "bench",
	};
	char *list, *save = NULL;
	int rc = 0;

	if(argc == 2 && strcmp(argv[1], "--free-port") == 0) {
		return print_free_port();
	}
	if(parse_options(argc, argv, &opts) != 0) {
		return usage();
	}
	body_text = make_body(opts.body_bytes);
	list = strdup(opts.scenarios);
	if(body_text == NULL || list == NULL) {
		return 1;
	}
	mosquitto_lib_init();
	for(char *name = strtok_r(list, ",", &save); name != NULL && rc == 0;
	    name = strtok_r(NULL, ",", &save)) {
		rc = run_scenario(&opts, name);
	}
	mosquitto_lib_cleanup();
	free(list);
	free((char *)body_text);
	return rc;
}
