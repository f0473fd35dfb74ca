/*
 * bench.c - mqchat_bench, the load generator behind bench/run.sh.
 *
 * Method. Every client is a libmosquitto client (MQTT 3.1.1, clean session, 127.0.0.1, TCP_NODELAY),
 * but none has a thread of its own: all of them are driven from one epoll loop in the main thread
 * (mosquitto_socket, mosquitto_loop_read/write, mosquitto_want_write), so 19,000 clients cost 19,000
 * sockets and a few KiB each, not 19,000 threads. Times are CLOCK_MONOTONIC in this process. A send's
 * body carries a scenario tag and its index k, so a receiver knows which send it got, whether the
 * broker is plain Mosquitto (the payload as sent) or mqchat (the stored event that contains it).
 *
 * Scenarios (--scenarios, comma-separated, in order; each bounded by messages and by --cap seconds):
 *   setup     mqchat only: creates the channels and members the others use (not timed).
 *   setup-acks  only the channel of `acks` (for profiling that scenario alone).
 *   fanout    QoS 1, four shapes on chat/<ch>: 1->1, 1->100, 10->10 (one channel), and 1000 channels
 *             x 10 members with random senders (each client a member of 10 channels). Throughput:
 *             --n sends, each publisher keeps --window unacknowledged (PUBACK); deliveries/s = all
 *             deliveries / (first publish -> last delivery). Latency: --rate sends/s for --rate-s
 *             seconds, p50/p99/max of publish -> each delivery.
 *   acks      acknowledged sends, QoS 1, one client with 1 and with 100 in flight: acks/s. With mqchat an
 *             ack is the JSON ack on chat/_reply/<id> (which means durable); plain has only the PUBACK.
 *   conns     --conns-small then --conns-big idle members subscribed to chat/big: broker RSS (from
 *             /proc/<--broker-pid>) per connection, and the time until the last member has one message.
 *   seed      mqchat only: creates channel cu, then (with --seed-db while the broker is stopped) fills
 *             it to --cu-events events directly in SQLite.
 *   catchup   mqchat only: --cu-pages pages of 1000 from random cursors, one at a time, after a warm-up
 *             pass over the same cursors: events/s and reply latency.
 *   storm     mqchat only: --storm-clients members, each --storm-behind events behind, connect at once
 *             and page (limit --storm-page) to the head: time until all are caught up.
 *
 * Correctness, not speed, decides the exit status: every receiver must get every send meant for it
 * exactly once (with mqchat, seqs of each channel consecutive and in order), every ack must come, every
 * catch-up page must hold exactly the seqs asked for, and no client of the storm may see a gap or a
 * duplicate. A miss, duplicate, error reply or deadline exits 1. Speed never does.
 *
 * Output: "RESULT <key> <value>" lines on stdout for run.sh; progress and problems on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <sqlite3.h>

#define REPLY_PREFIX "chat/_reply/"
#define MAX_EVENTS   1024
#define STEP_S       30.0 /* any one setup step, connect wave or page */
#define BODY_BYTES   150  /* a send is about 200 bytes on the wire */
#define CONNECT_WAVE 64   /* connections awaiting their CONNACK at once (the listen backlog is 100) */

struct opts {
	int port;
	bool mqchat;
	const char *scenarios;
	int broker_pid;
	long n;
	int window;
	double rate, rate_s;
	long ack_n;
	int conns_small, conns_big;
	long cu_events, cu_pages;
	int storm_clients, storm_behind, storm_page;
	double cap;
	const char *label;
	const char *seed_db;
	const char *shapes; /* fan-out shapes to run, comma-separated; NULL: all */
};

static struct opts O;
static int ep = -1;
static bool failed;

struct bc {
	struct mosquitto *mosq;
	int fd;
	bool want_out;
	int idx;
	char id[24];
	bool connected;
	int connack_rc;
	bool subscribed;
	long inflight; /* QoS 1 publishes awaiting PUBACK */
	long pubacks;
	/* scenario state */
	long sent;
	long next_since; /* storm: cursor */
	long got;        /* storm: events received */
	bool done;
};

/* The running scenario's hooks. */
static void (*hook_msg)(struct bc *c, const char *topic, const char *payload, int len, double t);
static void (*hook_puback)(struct bc *c, int mid, double t);
static void (*hook_connect)(struct bc *c, double t);


static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static void note(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[bench %s] ", O.label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}


static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[bench %s] FAILED: ", O.label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failed = true;
}


static void result(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("RESULT %s ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}


/* ---- the epoll loop ------------------------------------------------------------------------------- */

static void sync_out(struct bc *c)
{
	struct epoll_event ev = {0};
	bool want;

	if(c->fd < 0) {
		return;
	}
	want = mosquitto_want_write(c->mosq);
	if(want == c->want_out) {
		return;
	}
	ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want;
}


static void dropped(struct bc *c)
{
	c->fd = -1; /* libmosquitto closed the socket, which leaves the epoll set by itself */
	c->want_out = false;
	c->connected = false;
}


/* Waits up to timeout_ms for socket events and handles them. */
static void pump(int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int n = epoll_wait(ep, evs, MAX_EVENTS, timeout_ms);

	for(int i = 0; i < n; i++) {
		struct bc *c = evs[i].data.ptr;
		int rc = MOSQ_ERR_SUCCESS;

		if(c->fd < 0) {
			continue;
		}
		if(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			rc = mosquitto_loop_read(c->mosq, 64);
		}
		if(rc == MOSQ_ERR_SUCCESS && c->fd >= 0
		   && (evs[i].events & EPOLLOUT || mosquitto_want_write(c->mosq))) {
			rc = mosquitto_loop_write(c->mosq, 64);
		}
		if(rc != MOSQ_ERR_SUCCESS || mosquitto_socket(c->mosq) < 0) {
			dropped(c);
			continue;
		}
		sync_out(c);
	}
}


static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct bc *c = obj;

	(void)mosq;
	c->connack_rc = rc;
	c->connected = rc == 0;
	if(hook_connect && rc == 0) {
		hook_connect(c, now());
	}
}


static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int n, const int *granted)
{
	struct bc *c = obj;

	(void)mosq;
	(void)mid;
	c->subscribed = n > 0 && granted[0] <= 2;
}


static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct bc *c = obj;

	(void)mosq;
	c->inflight--;
	c->pubacks++;
	if(hook_puback) {
		hook_puback(c, mid, now());
	}
}


static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
	struct bc *c = obj;

	(void)mosq;
	if(hook_msg) {
		hook_msg(c, m->topic, m->payload, m->payloadlen, now());
	}
}


/* mosquitto_new() opens a socket pair per client to wake its own network thread, which this loop
 * never uses: 3 descriptors per client instead of 1, so 19,000 clients would need 57,000, and a
 * write(2) on the pair for every packet queued in a callback. libmosquitto only warns when the pair
 * cannot be made, so it is made to fail: with a soft descriptor limit of 0 for the duration of the
 * call, which opens nothing else. */
static struct mosquitto *new_without_socketpair(const char *id, void *obj)
{
	struct rlimit rl, none;
	struct mosquitto *mosq;

	if(getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		return mosquitto_new(id, true, obj);
	}
	none = rl;
	none.rlim_cur = 0;
	setrlimit(RLIMIT_NOFILE, &none);
	mosq = mosquitto_new(id, true, obj);
	setrlimit(RLIMIT_NOFILE, &rl);
	return mosq;
}


static struct bc *bc_new(const char *id, int idx)
{
	struct bc *c = calloc(1, sizeof(*c));

	if(c == NULL) {
		return NULL;
	}
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->fd = -1;
	c->idx = idx;
	c->mosq = new_without_socketpair(c->id, c);
	if(c->mosq == NULL) {
		free(c);
		return NULL;
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, 65535);
	mosquitto_username_pw_set(c->mosq, c->id, "x");
	mosquitto_connect_callback_set(c->mosq, on_connect);
	mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
	mosquitto_publish_callback_set(c->mosq, on_publish);
	mosquitto_message_callback_set(c->mosq, on_message);
	return c;
}


static void bc_free(struct bc *c)
{
	if(c == NULL) {
		return;
	}
	if(c->fd >= 0) {
		mosquitto_disconnect(c->mosq);
	}
	mosquitto_destroy(c->mosq);
	free(c);
}


/* Opens the TCP connection and sends CONNECT; the CONNACK comes through pump(). */
static bool bc_start(struct bc *c)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int rc = c->fd >= 0 || mosquitto_socket(c->mosq) >= 0
			 ? mosquitto_reconnect(c->mosq)
			 : mosquitto_connect(c->mosq, "127.0.0.1", O.port, 3600);

	if(rc != MOSQ_ERR_SUCCESS) {
		fail("%s: connect: %s", c->id, mosquitto_strerror(rc));
		return false;
	}
	c->connected = false;
	c->connack_rc = -1;
	c->fd = mosquitto_socket(c->mosq);
	c->want_out = false;
	ev.data.ptr = c;
	if(epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		fail("%s: epoll_ctl: %s", c->id, strerror(errno));
		return false;
	}
	sync_out(c);
	return true;
}


/* pump() until cond(arg) holds or the deadline passes. */
static bool wait_for(bool (*cond)(void *), void *arg, double deadline, const char *what)
{
	while(!cond(arg)) {
		if(now() > deadline) {
			fail("timed out waiting for %s", what);
			return false;
		}
		pump(5);
	}
	return true;
}


struct group {
	struct bc **c;
	int n;
};


/* Connects clients <prefix><first + i>, i in [0, n), at most CONNECT_WAVE awaiting a CONNACK at once. */
static struct group group_connect_from(const char *prefix, int first, int n)
{
	struct group g = {calloc((size_t)n + 1, sizeof(struct bc *)), n};
	double deadline = now() + STEP_S + n / 500.0;
	int started = 0;

	if(g.c == NULL) {
		g.n = 0;
		fail("out of memory");
		return g;
	}
	for(int i = 0; i < n; i++) {
		char id[24];
		snprintf(id, sizeof(id), "%s%d", prefix, first + i);
		if((g.c[i] = bc_new(id, i)) == NULL) {
			fail("out of memory");
			g.n = i;
			return g;
		}
	}
	while(!failed) {
		int pending = 0, done = 0;
		for(int i = 0; i < started; i++) {
			if(g.c[i]->connected) {
				done++;
			} else if(g.c[i]->connack_rc > 0 || g.c[i]->fd < 0) {
				fail("%s was refused (%d)", g.c[i]->id, g.c[i]->connack_rc);
				return g;
			} else {
				pending++;
			}
		}
		if(done == n) {
			break;
		}
		while(started < n && pending < CONNECT_WAVE) {
			if(!bc_start(g.c[started++])) {
				return g;
			}
			pending++;
		}
		if(now() > deadline) {
			fail("timed out connecting %s* (%d of %d)", prefix, done, n);
			break;
		}
		pump(5);
	}
	return g;
}


static struct group group_connect(const char *prefix, int n)
{
	return group_connect_from(prefix, 0, n);
}


static void group_free(struct group *g)
{
	for(int i = 0; i < g->n; i++) {
		bc_free(g->c[i]);
	}
	free(g->c);
	g->c = NULL;
	g->n = 0;
}


/* Users <prefix><first + i>, i in [0, n), sign in once and leave: only users who have connected can be
 * named as members (docs/protocol.md, "Users"). Not timed. */
static bool sign_in(const char *prefix, int first, int n)
{
	struct group g = group_connect_from(prefix, first, n);

	group_free(&g);
	return !failed;
}


static bool all_subscribed(void *arg)
{
	struct group *g = arg;

	for(int i = 0; i < g->n; i++) {
		if(!g->c[i]->subscribed) {
			return false;
		}
	}
	return true;
}


/* Subscribes each client of g to its topics (topics_of fills up to 10) at QoS 1. */
static bool group_subscribe(struct group *g, int (*topics_of)(int i, char topics[10][80]))
{
	for(int i = 0; i < g->n; i++) {
		char topics[10][80];
		char *t[10];
		int k = topics_of(i, topics);
		for(int j = 0; j < k; j++) {
			t[j] = topics[j];
		}
		g->c[i]->subscribed = false;
		if(mosquitto_subscribe_multiple(g->c[i]->mosq, NULL, k, t, 1, 0, NULL) != MOSQ_ERR_SUCCESS) {
			fail("%s: subscribe", g->c[i]->id);
			return false;
		}
		sync_out(g->c[i]);
		if(i % 64 == 63) {
			pump(0);
		}
	}
	return wait_for(all_subscribed, g, now() + STEP_S + g->n / 500.0, "SUBACKs");
}


static bool publish(struct bc *c, const char *topic, const char *payload, int qos)
{
	int rc = mosquitto_publish(c->mosq, NULL, topic, (int)strlen(payload), payload, qos, false);

	if(rc != MOSQ_ERR_SUCCESS) {
		fail("%s: publish: %s", c->id, mosquitto_strerror(rc));
		return false;
	}
	if(qos > 0) {
		c->inflight++;
	}
	sync_out(c);
	return true;
}


/* ---- payloads ------------------------------------------------------------------------------------- */

/* {"client_msg_id":"<tag>-<k>","body":"<tag>:<k>:xxx..."} (the id only when with_id), ~200 bytes. */
static void make_send(char *out, size_t size, const char *tag, long k, bool with_id)
{
	char body[BODY_BYTES + 1];
	int used = snprintf(body, sizeof(body), "%s:%ld:", tag, k);

	memset(body + used, 'x', (size_t)(BODY_BYTES - used));
	body[BODY_BYTES] = '\0';
	if(with_id) {
		snprintf(out, size, "{\"client_msg_id\":\"%s-%ld\",\"body\":\"%s\"}", tag, k, body);
	} else {
		snprintf(out, size, "{\"body\":\"%s\"}", body);
	}
}


/* k of a send with this tag found in payload (the body as sent, or inside the stored event). */
static long parse_k(const char *payload, const char *tag)
{
	const char *b = strstr(payload, "\"body\":\"");
	size_t tl = strlen(tag);

	if(b == NULL) {
		return -1;
	}
	b += 8;
	if(strncmp(b, tag, tl) != 0 || b[tl] != ':') {
		return -1;
	}
	return strtol(b + tl + 1, NULL, 10);
}


static long long parse_num(const char *payload, const char *key)
{
	const char *p = strstr(payload, key);

	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}


static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}


static void report_latency(const char *key, double *v, long n)
{
	char k[128];

	if(n == 0) {
		return;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	snprintf(k, sizeof(k), "%s.p50_us", key);
	result(k, "%.0f", v[(long)(0.50 * (double)(n - 1))] * 1e6);
	snprintf(k, sizeof(k), "%s.p99_us", key);
	result(k, "%.0f", v[(long)(0.99 * (double)(n - 1))] * 1e6);
	snprintf(k, sizeof(k), "%s.max_us", key);
	result(k, "%.0f", v[n - 1] * 1e6);
}


/* ---- API calls (mqchat) --------------------------------------------------------------------------- */

static struct bc *admin;
static long api_replies, api_errors;

static void api_msg(struct bc *c, const char *topic, const char *payload, int len, double t)
{
	(void)c;
	(void)topic;
	(void)len;
	(void)t;
	if(strncmp(payload, "{\"ok\":true", 10) == 0) {
		api_replies++;
	} else {
		if(api_errors++ == 0) {
			fail("API error: %.300s", payload);
		}
	}
}


static bool api_done(void *arg)
{
	return api_replies + api_errors >= *(long *)arg;
}


/* Sends requests[0..n) on chat/_api with at most 100 outstanding; true when every reply was ok. */
static bool api_batch(char **requests, long n)
{
	long sent = 0;
	double deadline = now() + STEP_S + (double)n * 0.005;

	hook_msg = api_msg;
	api_replies = api_errors = 0;
	while(sent < n && !failed) {
		while(sent < n && sent - api_replies - api_errors < 100) {
			if(!publish(admin, "chat/_api", requests[sent++], 1)) {
				return false;
			}
		}
		if(now() > deadline) {
			fail("timed out on API requests");
			return false;
		}
		pump(5);
	}
	return wait_for(api_done, &n, deadline, "API replies") && api_errors == 0;
}


/* Creates a private channel whose members are <prefix><i>, i in [0, n). */
static bool create_channel(const char *name, const char *prefix, int n)
{
	long count = 1 + (n > 1000 ? n - 1000 : 0);
	char **reqs = calloc((size_t)count, sizeof(char *));
	size_t cap = 64 + (size_t)(n < 1000 ? n : 1000) * 40;
	bool ok;
	long r = 1;

	if(reqs == NULL || (reqs[0] = malloc(cap)) == NULL || !sign_in(prefix, 0, n)) {
		free(reqs ? reqs[0] : NULL);
		free(reqs);
		return false;
	}
	size_t used = (size_t)
		snprintf(reqs[0], cap,
			 "{\"op\":\"create\",\"channel\":\"%s\",\"visibility\":\"private\",\"members\":[",
			 name);
	for(int i = 0; i < n && i < 1000; i++) {
		used += (size_t)snprintf(reqs[0] + used, cap - used, "%s\"%s%d\"", i ? "," : "", prefix, i);
	}
	snprintf(reqs[0] + used, cap - used, "]}");
	for(int i = 1000; i < n; i++) {
		reqs[r] = malloc(128);
		if(reqs[r] == NULL) {
			break;
		}
		snprintf(reqs[r++], 128, "{\"op\":\"invite\",\"channel\":\"%s\",\"user\":\"%s%d\"}", name,
			 prefix, i);
	}
	ok = r == count && api_batch(reqs, count);
	for(long i = 0; i < r; i++) {
		free(reqs[i]);
	}
	free(reqs);
	if(!ok) {
		fail("could not create #%s", name);
	}
	return ok;
}


static bool admin_connect(void)
{
	struct group g;

	if(admin != NULL) {
		return true;
	}
	g = group_connect("admin", 1);
	if(failed) {
		group_free(&g);
		return false;
	}
	admin = g.c[0];
	free(g.c);
	return true;
}


/* ---- fan-out -------------------------------------------------------------------------------------- */

struct shape {
	const char *key;
	int pubs, subs; /* one channel; pubs == 0: RANDOM_CHANNELS x RANDOM_MEMBERS, random senders */
};

#define RANDOM_CHANNELS 1000
#define RANDOM_MEMBERS  10

static const struct shape shapes[] = {
	{"1to1", 1, 1},
	{"1to100", 1, 100},
	{"10to10", 10, 10},
	{"1000x10", 0, 0},
};

static struct {
	const struct shape *s;
	struct group pubs, subs;
	char tag[16];
	long n;              /* sends of this phase */
	int *chan_of;        /* random shape: channel of send k */
	double *sent_at;     /* per k */
	uint64_t *seen;      /* per receiver, a bitmap of k */
	long words;          /* bitmap words per receiver */
	long long *last_seq; /* mqchat: per receiver and channel slot */
	long delivered, expected, dupes, strays, seq_breaks;
	double first, last;
	double *lat;
	long nlat, cap_lat;
} F;

static int single_topics(int i, char t[10][80])
{
	(void)i;
	snprintf(t[0], 80, "chat/f%s", F.s->key);
	return 1;
}


/* Random shape: client i is a member of channels i, i-1, ..., i-9 (mod 1000); slot j is channel i-j. */
static int random_topics(int i, char t[10][80])
{
	for(int j = 0; j < RANDOM_MEMBERS; j++) {
		snprintf(t[j], 80, "chat/r%d", (i - j + RANDOM_CHANNELS) % RANDOM_CHANNELS);
	}
	return RANDOM_MEMBERS;
}


static void fanout_msg(struct bc *c, const char *topic, const char *payload, int len, double t)
{
	long k = parse_k(payload, F.tag);
	int slot = 0;

	(void)len;
	if(k < 0 || k >= F.n || strncmp(topic, "chat/", 5) != 0) {
		F.strays++;
		return;
	}
	if(F.s->pubs == 0) {
		slot = (c->idx - F.chan_of[k] + RANDOM_CHANNELS) % RANDOM_CHANNELS;
		if(slot >= RANDOM_MEMBERS) {
			F.strays++;
			return;
		}
	}
	uint64_t *w = &F.seen[(long)c->idx * F.words + k / 64];
	if(*w & (1ull << (k % 64))) {
		F.dupes++;
		return;
	}
	*w |= 1ull << (k % 64);
	F.delivered++;
	F.last = t;
	if(O.mqchat) {
		long long seq = parse_num(payload, "\"seq\":");
		long long *last = &F.last_seq[(long)c->idx * RANDOM_MEMBERS + slot];
		if(*last > 0 && seq != *last + 1) {
			F.seq_breaks++;
		}
		*last = seq;
	}
	if(F.lat != NULL && F.nlat < F.cap_lat) {
		F.lat[F.nlat++] = t - F.sent_at[k];
	}
}


static bool fanout_complete(void *arg)
{
	(void)arg;
	return F.delivered >= F.expected;
}


static struct bc *sender_of(long k, char *topic, size_t size)
{
	if(F.s->pubs == 0) {
		int ch = rand() % RANDOM_CHANNELS;
		int member = (ch + rand() % RANDOM_MEMBERS) % RANDOM_CHANNELS;
		F.chan_of[k] = ch;
		snprintf(topic, size, "chat/r%d", ch);
		return F.subs.c[member];
	}
	snprintf(topic, size, "chat/f%s", F.s->key);
	return F.pubs.c[k % F.s->pubs];
}


/* One phase: n sends, at full speed with a window (rate <= 0) or at a fixed rate. */
static bool fanout_phase(const char *tag, long n, double rate)
{
	int receivers = F.s->pubs ? F.s->subs : RANDOM_CHANNELS;
	int per = F.s->pubs ? F.s->subs : RANDOM_MEMBERS;
	int pubs = F.s->pubs ? F.s->pubs : RANDOM_CHANNELS;
	long window = (long)O.window * (F.s->pubs ? F.s->pubs : 10); /* in flight, all publishers */
	double deadline = now() + O.cap;
	long k = 0;
	bool ok;

	snprintf(F.tag, sizeof(F.tag), "%s", tag);
	F.n = n;
	F.words = (n + 63) / 64;
	F.seen = calloc((size_t)receivers * (size_t)F.words, sizeof(uint64_t));
	F.sent_at = calloc((size_t)n, sizeof(double));
	F.chan_of = calloc((size_t)n, sizeof(int));
	F.last_seq = calloc((size_t)receivers * RANDOM_MEMBERS, sizeof(long long));
	F.delivered = F.dupes = F.strays = F.seq_breaks = 0;
	F.expected = n * per;
	F.cap_lat = rate > 0 ? F.expected : 0;
	F.lat = rate > 0 ? malloc((size_t)F.cap_lat * sizeof(double)) : NULL;
	F.nlat = 0;
	if(!F.seen || !F.sent_at || !F.chan_of || !F.last_seq || (rate > 0 && !F.lat)) {
		fail("out of memory");
		return false;
	}
	hook_msg = fanout_msg;
	F.first = now();
	while(k < n && !failed) {
		double t = now();
		if(rate > 0) {
			double due = F.first + (double)k / rate;
			if(t < due) {
				int ms = (int)((due - t) * 1000);
				pump(ms > 0 ? ms : 0);
				continue;
			}
		} else {
			long inflight = 0;
			struct group *g = F.s->pubs ? &F.pubs : &F.subs;
			for(int i = 0; i < (F.s->pubs ? pubs : g->n); i++) {
				inflight += g->c[i]->inflight;
			}
			if(inflight >= window) {
				pump(1);
				continue;
			}
		}
		char topic[64], payload[512];
		struct bc *c = sender_of(k, topic, sizeof(topic));
		make_send(payload, sizeof(payload), tag, k, false);
		F.sent_at[k] = now();
		if(!publish(c, topic, payload, 1)) {
			break;
		}
		k++;
		if(t > deadline) {
			fail("%s: past the deadline after %ld sends", tag, k);
			break;
		}
		if(rate <= 0 && k % 16 == 0) {
			pump(0);
		}
	}
	ok = !failed && wait_for(fanout_complete, NULL, deadline + 5, "fan-out deliveries");
	if(F.dupes || F.strays || F.seq_breaks || F.delivered != F.expected) {
		fail("%s: %ld of %ld delivered, %ld duplicates, %ld strays, %ld seq breaks", tag, F.delivered,
		     F.expected, F.dupes, F.strays, F.seq_breaks);
		ok = false;
	}
	return ok;
}


static void fanout_free_phase(void)
{
	free(F.seen);
	free(F.sent_at);
	free(F.chan_of);
	free(F.last_seq);
	free(F.lat);
	F.seen = NULL;
	F.sent_at = NULL;
	F.chan_of = NULL;
	F.last_seq = NULL;
	F.lat = NULL;
}


static int scenario_fanout(void)
{
	for(size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]) && !failed; i++) {
		char prefix[32], key[64];
		F.s = &shapes[i];
		if(O.shapes != NULL && strstr(O.shapes, F.s->key) == NULL) {
			continue;
		}
		if(F.s->pubs) {
			snprintf(prefix, sizeof(prefix), "f%sp", F.s->key);
			F.pubs = group_connect(prefix, F.s->pubs);
			snprintf(prefix, sizeof(prefix), "f%ss", F.s->key);
			F.subs = group_connect(prefix, F.s->subs);
			if(!failed) {
				group_subscribe(&F.subs, single_topics);
			}
		} else {
			F.pubs = (struct group){0};
			F.subs = group_connect("r", RANDOM_CHANNELS);
			if(!failed) {
				group_subscribe(&F.subs, random_topics);
			}
		}
		if(!failed && fanout_phase("t", O.n, 0)) {
			snprintf(key, sizeof(key), "fanout.%s.deliveries_per_s", F.s->key);
			result(key, "%.0f", (double)F.delivered / (F.last - F.first));
		}
		fanout_free_phase();
		if(!failed && fanout_phase("l", (long)(O.rate * O.rate_s), O.rate)) {
			snprintf(key, sizeof(key), "fanout.%s.latency", F.s->key);
			report_latency(key, F.lat, F.nlat);
		}
		fanout_free_phase();
		group_free(&F.pubs);
		group_free(&F.subs);
	}
	return failed;
}


static int scenario_setup(void)
{
	char name[32], prefix[32];

	if(!O.mqchat) {
		return 0;
	}
	if(!admin_connect()) {
		return 1;
	}
	for(size_t i = 0; i < 3; i++) {
		char reqs_buf[8192], prefix_p[32], prefix_s[32];
		char *req = reqs_buf;
		const struct shape *s = &shapes[i];
		snprintf(prefix_p, sizeof(prefix_p), "f%sp", s->key);
		snprintf(prefix_s, sizeof(prefix_s), "f%ss", s->key);
		if(!sign_in(prefix_p, 0, s->pubs) || !sign_in(prefix_s, 0, s->subs)) {
			return 1;
		}
		size_t used = (size_t)snprintf(
			reqs_buf, sizeof(reqs_buf),
			"{\"op\":\"create\",\"channel\":\"f%s\",\"visibility\":\"private\",\"members\":[",
			s->key);
		for(int p = 0; p < s->pubs; p++) {
			used += (size_t)snprintf(reqs_buf + used, sizeof(reqs_buf) - used, "%s\"f%sp%d\"",
						 p ? "," : "", s->key, p);
		}
		for(int p = 0; p < s->subs; p++) {
			used += (size_t)snprintf(reqs_buf + used, sizeof(reqs_buf) - used, ",\"f%ss%d\"",
						 s->key, p);
		}
		snprintf(reqs_buf + used, sizeof(reqs_buf) - used, "]}");
		if(!api_batch(&req, 1)) {
			return 1;
		}
	}
	if(!sign_in("r", 0, RANDOM_CHANNELS)) {
		return 1;
	}
	char **reqs = calloc(RANDOM_CHANNELS + 2, sizeof(char *));
	for(int c = 0; c < RANDOM_CHANNELS && reqs; c++) {
		reqs[c] = malloc(512);
		size_t used = (size_t)snprintf(
			reqs[c], 512,
			"{\"op\":\"create\",\"channel\":\"r%d\",\"visibility\":\"private\",\"members\":[", c);
		for(int j = 0; j < RANDOM_MEMBERS; j++) {
			used += (size_t)snprintf(reqs[c] + used, 512 - used, "%s\"r%d\"", j ? "," : "",
						 (c + j) % RANDOM_CHANNELS);
		}
		snprintf(reqs[c] + used, 512 - used, "]}");
	}
	bool ok = reqs && api_batch(reqs, RANDOM_CHANNELS);
	for(int c = 0; reqs && c < RANDOM_CHANNELS; c++) {
		free(reqs[c]);
	}
	free(reqs);
	snprintf(name, sizeof(name), "acks");
	snprintf(prefix, sizeof(prefix), "ack");
	return !ok || !create_channel(name, prefix, 2);
}


/* ---- acknowledged sends --------------------------------------------------------------------------- */

static struct {
	char tag[16];
	long n, acked, errors;
	unsigned char *seen;
	double last;
} A;

static void ack_msg(struct bc *c, const char *topic, const char *payload, int len, double t)
{
	const char *id = strstr(payload, "\"client_msg_id\":\"");
	long k;

	(void)len;
	(void)topic;
	if(strncmp(payload, "{\"ok\":true,\"kind\":\"ack\"", 23) != 0 || id == NULL) {
		if(A.errors++ == 0) {
			fail("%s: not an ack: %.300s", c->id, payload);
		}
		return;
	}
	id += 17;
	if(strncmp(id, A.tag, strlen(A.tag)) != 0 || id[strlen(A.tag)] != '-') {
		A.errors++;
		return;
	}
	k = strtol(id + strlen(A.tag) + 1, NULL, 10);
	if(k < 0 || k >= A.n || A.seen[k]) {
		A.errors++;
		return;
	}
	A.seen[k] = 1;
	A.acked++;
	c->inflight--; /* the window counts JSON acks with mqchat */
	A.last = t;
}


static void ack_puback(struct bc *c, int mid, double t)
{
	(void)mid;
	if(!O.mqchat) {
		A.acked++;
		A.last = t;
	} else {
		c->inflight++; /* on_publish took it off; the JSON ack will */
	}
}


static bool acks_complete(void *arg)
{
	(void)arg;
	return A.acked >= A.n;
}


static int scenario_acks(void)
{
	static const int windows[] = {1, 100};
	struct group g = group_connect("ack", 1);
	static int round;

	for(size_t w = 0; w < 2 && !failed; w++) {
		struct bc *c = g.c[0];
		double deadline = now() + O.cap, first;
		long k = 0;
		char key[64];

		snprintf(A.tag, sizeof(A.tag), "a%d%zu", round++, w);
		A.n = windows[w] == 1 ? O.ack_n / 10 : O.ack_n;
		A.acked = A.errors = 0;
		A.seen = calloc((size_t)A.n, 1);
		hook_msg = ack_msg;
		hook_puback = ack_puback;
		first = now();
		while(k < A.n && !failed) {
			if(c->inflight >= windows[w]) {
				pump(1);
				if(now() > deadline) {
					fail("acks: past the deadline");
				}
				continue;
			}
			char payload[512];
			make_send(payload, sizeof(payload), A.tag, k++, true);
			publish(c, "chat/acks", payload, 1);
		}
		if(!failed && wait_for(acks_complete, NULL, deadline + 5, "acks") && A.errors == 0) {
			snprintf(key, sizeof(key), "acks.w%d.per_s", windows[w]);
			result(key, "%.0f", (double)A.n / (A.last - first));
		} else if(A.errors) {
			fail("acks: %ld bad replies", A.errors);
		}
		free(A.seen);
		hook_puback = NULL;
	}
	group_free(&g);
	return failed;
}


/* ---- idle connections ----------------------------------------------------------------------------- */

static long broker_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", O.broker_pid);
	f = fopen(path, "r");
	while(f && fgets(line, sizeof(line), f)) {
		if(strncmp(line, "VmRSS:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
		}
	}
	if(f) {
		fclose(f);
	}
	return kib;
}


static struct {
	long received, target, k;
	double last;
} I;

static void idle_msg(struct bc *c, const char *topic, const char *payload, int len, double t)
{
	(void)c;
	(void)topic;
	(void)len;
	if(parse_k(payload, "i") == I.k) {
		I.received++;
		I.last = t;
	}
}


static bool idle_complete(void *arg)
{
	(void)arg;
	return I.received >= I.target;
}


static int big_topics(int i, char t[10][80])
{
	(void)i;
	snprintf(t[0], 80, "chat/big");
	return 1;
}


static int scenario_conns(void)
{
	struct group parts[2] = {{0}};
	int sizes[2] = {O.conns_small, O.conns_big};
	struct group pub;
	long base;
	int total = 0;

	if(O.mqchat && (!admin_connect() || !create_channel("big", "i", O.conns_big + 1))) {
		return 1;
	}
	pub = group_connect("i", 1); /* i0 publishes; members i1.. are idle */
	pump(50);
	base = broker_rss_kib();
	for(int p = 0; p < 2 && !failed; p++) {
		char key[64];
		int add = sizes[p] - total;
		double times[3];
		parts[p] = group_connect_from("i", 1 + total, add);
		if(failed) {
			break;
		}
		group_subscribe(&parts[p], big_topics);
		total += add;
		pump(200);
		long rss = broker_rss_kib();
		snprintf(key, sizeof(key), "conns.%d.rss_per_conn_b", sizes[p]);
		if(base > 0 && rss > 0) {
			result(key, "%.0f", (double)(rss - base) * 1024.0 / total);
		}
		hook_msg = idle_msg;
		for(int m = 0; m < 3 && !failed; m++) {
			char payload[512];
			I.k = p * 3 + m;
			I.received = 0;
			I.target = total;
			make_send(payload, sizeof(payload), "i", I.k, false);
			double t0 = now();
			publish(pub.c[0], "chat/big", payload, 1);
			if(!wait_for(idle_complete, NULL, t0 + O.cap, "the message to every idle member")) {
				break;
			}
			times[m] = I.last - t0;
			pump(100);
		}
		if(!failed) {
			qsort(times, 3, sizeof(double), cmp_double);
			snprintf(key, sizeof(key), "conns.%d.last_member_ms", sizes[p]);
			result(key, "%.1f", times[1] * 1e3);
		}
	}
	group_free(&parts[1]);
	group_free(&parts[0]);
	group_free(&pub);
	return failed;
}


/* ---- catch-up ------------------------------------------------------------------------------------- */

static struct {
	long since, limit;
	bool answered, bad;
	double at;
} P;

static void page_msg(struct bc *c, const char *topic, const char *payload, int len, double t)
{
	long long next = parse_num(payload, "\"next\":");
	long count = 0;
	long long expect = P.since + 1;
	const char *p = strstr(payload, "\"events\":[");

	(void)c;
	(void)topic;
	(void)len;
	if(strncmp(payload, "{\"ok\":true,\"kind\":\"sync\"", 24) != 0 || p == NULL) {
		fail("bad page: %.300s", payload);
		P.bad = true;
	}
	while(p && (p = strstr(p, "\"seq\":")) != NULL) {
		p += 6;
		if(strtoll(p, NULL, 10) != expect++) {
			P.bad = true;
		}
		count++;
	}
	if(count != P.limit || next != P.since + P.limit) {
		P.bad = true;
	}
	if(P.bad && !failed) {
		fail("page since %ld: %ld events, next %lld", P.since, count, next);
	}
	P.answered = true;
	P.at = t;
}


static bool page_answered(void *arg)
{
	(void)arg;
	return P.answered;
}


static int scenario_seed(void)
{
	if(!O.mqchat) {
		return 0;
	}
	return !admin_connect() || !create_channel("cu", "cu", 1);
}


static int scenario_catchup(void)
{
	struct group g = group_connect("cu", 1);
	long *cursors = calloc((size_t)O.cu_pages, sizeof(long));
	double *lat = calloc((size_t)O.cu_pages, sizeof(double));
	double total = 0;
	long head = O.cu_events + 1; /* the join event, then the seeded ones */

	srand(7);
	for(long i = 0; cursors && i < O.cu_pages; i++) {
		cursors[i] = 1 + (long)((double)rand() / RAND_MAX * (double)(head - 1000 - 1));
	}
	hook_msg = page_msg;
	for(int pass = 0; pass < 2 && !failed && cursors && lat; pass++) {
		for(long i = 0; i < O.cu_pages && !failed; i++) {
			char req[96];
			P.since = cursors[i];
			P.limit = 1000;
			P.answered = P.bad = false;
			snprintf(req, sizeof(req), "{\"since\":%ld,\"limit\":1000}", P.since);
			double t0 = now();
			publish(g.c[0], "chat/cu/sync", req, 1);
			if(!wait_for(page_answered, NULL, t0 + STEP_S, "a catch-up page")) {
				break;
			}
			lat[i] = P.at - t0;
			if(pass == 1) {
				total += lat[i];
			}
		}
	}
	if(!failed) {
		result("catchup.events_per_s", "%.0f", (double)O.cu_pages * 1000 / total);
		report_latency("catchup.page", lat, O.cu_pages);
	}
	free(cursors);
	free(lat);
	group_free(&g);
	return failed;
}


/* Fills channel cu of the (stopped broker's) database to --cu-events events, like real sends. */
static int seed_db(void)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	char sql[2048];
	char body[BODY_BYTES + 1];

	memset(body, 'x', BODY_BYTES);
	body[BODY_BYTES] = '\0';
	snprintf(
		sql, sizeof(sql),
		"BEGIN; WITH RECURSIVE c(id, h) AS (SELECT id, (SELECT max(seq) FROM events WHERE channel_id "
		"= "
		"channels.id) FROM channels WHERE name = 'cu'), n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
		"FROM n "
		"WHERE i < %ld) INSERT INTO events (channel_id, seq, id, type, author, ts, client_msg_id, "
		"target, "
		"json, msg_no, author_msg_no) SELECT c.id, c.h + i, printf('%%08x-0000-4000-8000-%%012x', i, "
		"i), "
		"'message', 'seeder', 1763900000000 + i, NULL, NULL, printf('{\"id\":\"%%08x-0000-4000-8000-"
		"%%012x\",\"channel\":\"cu\",\"seq\":%%d,\"type\":\"message\",\"from\":\"seeder\",\"device\":"
		"\"seeder\",\"ts\":%%d,\"body\":\"%s\"}', i, i, c.h + i, 1763900000000 + i), i, i FROM c, n; "
		"COMMIT;",
		O.cu_events, body);
	if(sqlite3_open(O.seed_db, &db) != SQLITE_OK
	   || sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fail("seeding %s: %s", O.seed_db, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		sqlite3_close(db);
		return 1;
	}
	sqlite3_close(db);
	return 0;
}


/* ---- reconnect storm ------------------------------------------------------------------------------ */

static struct {
	long h0;
	int done, bad;
	double last;
} S;

static void storm_request(struct bc *c)
{
	char req[96];

	snprintf(req, sizeof(req), "{\"since\":%ld,\"limit\":%d}", c->next_since, O.storm_page);
	publish(c, "chat/storm/sync", req, 1);
}


static void storm_connect(struct bc *c, double t)
{
	(void)t;
	if(c->idx >= 0) {
		storm_request(c); /* queued: written after the callback returns */
	}
}


static void storm_msg(struct bc *c, const char *topic, const char *payload, int len, double t)
{
	const char *p = strstr(payload, "\"events\":[");
	long long next = parse_num(payload, "\"next\":");
	bool more = strstr(payload, "\"more\":true") != NULL;

	(void)topic;
	(void)len;
	if(strncmp(payload, "{\"ok\":true,\"kind\":\"sync\"", 24) != 0 || p == NULL || c->done) {
		if(S.bad++ == 0) {
			fail("%s: unexpected reply %.300s", c->id, payload);
		}
		return;
	}
	while((p = strstr(p, "\"seq\":")) != NULL) {
		p += 6;
		long long seq = strtoll(p, NULL, 10);
		if(seq != c->next_since + 1) {
			if(S.bad++ == 0) {
				fail("%s: gap or duplicate: seq %lld after %ld", c->id, seq, c->next_since);
			}
			return;
		}
		c->next_since = seq;
		c->got++;
	}
	if(next != c->next_since) {
		S.bad++;
	}
	if(more) {
		storm_request(c);
		sync_out(c);
		return;
	}
	c->done = true;
	if(c->got != O.storm_behind && S.bad++ == 0) {
		fail("%s: caught up %ld events, expected %d", c->id, c->got, O.storm_behind);
	}
	S.done++;
	S.last = t;
}


static bool storm_complete(void *arg)
{
	(void)arg;
	return S.done + S.bad >= O.storm_clients;
}


static void head_msg(struct bc *c, const char *topic, const char *payload, int len, double t)
{
	(void)c;
	(void)topic;
	(void)len;
	(void)t;
	S.h0 = parse_num(payload, "\"head\":");
}


static bool head_known(void *arg)
{
	(void)arg;
	return S.h0 >= 0;
}


static int scenario_storm(void)
{
	struct group g = {0};
	double t0;

	if(!admin_connect() || !create_channel("storm", "st", O.storm_clients)) {
		return 1;
	}
	/* The head before the sends every member will be behind by. */
	S.h0 = -1;
	hook_msg = head_msg;
	publish(admin, "chat/storm/sync", "{\"since\":0,\"limit\":1}", 1);
	if(!wait_for(head_known, NULL, now() + STEP_S, "the head of #storm")) {
		return 1;
	}
	snprintf(A.tag, sizeof(A.tag), "storm");
	A.n = O.storm_behind;
	A.acked = A.errors = 0;
	A.seen = calloc((size_t)A.n, 1);
	hook_msg = ack_msg;
	hook_puback = ack_puback;
	for(long k = 0; k < A.n && !failed; k++) {
		char payload[512];
		while(admin->inflight >= 100) {
			pump(1);
		}
		make_send(payload, sizeof(payload), "storm", k, true);
		publish(admin, "chat/storm", payload, 1);
	}
	wait_for(acks_complete, NULL, now() + O.cap, "acks of the storm's sends");
	free(A.seen);
	hook_puback = NULL;
	if(failed) {
		return 1;
	}
	/* Now every member reconnects at once and pages from h0 to the head. */
	S.done = S.bad = 0;
	hook_msg = storm_msg;
	hook_connect = storm_connect;
	g.c = calloc((size_t)O.storm_clients, sizeof(struct bc *));
	for(int i = 0; g.c && i < O.storm_clients; i++) {
		char id[24];
		snprintf(id, sizeof(id), "st%d", i);
		g.c[i] = bc_new(id, i);
		g.c[i]->next_since = S.h0;
		g.n++;
	}
	t0 = now();
	/* As fast as the broker accepts: at most CONNECT_WAVE awaiting their CONNACK, since a full listen
	 * backlog would only measure the kernel's SYN retry (1 s). */
	for(int started = 0; started < g.n && !failed;) {
		int pending = 0;
		for(int i = 0; i < started; i++) {
			pending += !g.c[i]->connected && g.c[i]->fd >= 0;
		}
		while(started < g.n && pending++ < CONNECT_WAVE) {
			bc_start(g.c[started++]);
		}
		pump(1);
	}
	if(wait_for(storm_complete, NULL, t0 + O.cap, "every member to catch up") && S.bad == 0) {
		result("storm.all_caught_up_ms", "%.0f", (S.last - t0) * 1e3);
		result("storm.clients", "%d", S.done);
	} else if(S.bad) {
		fail("storm: %d clients saw a gap, a duplicate or a bad reply", S.bad);
	}
	hook_connect = NULL;
	group_free(&g);
	return failed;
}


/* ---- main ----------------------------------------------------------------------------------------- */

static int print_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0
	   || getsockname(s, (struct sockaddr *)&a, &len) != 0) {
		perror("free port");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	close(s);
	return 0;
}


static int usage(void)
{
	fprintf(stderr,
		"usage: mqchat_bench --free-port\n"
		"       mqchat_bench --seed-db PATH --cu-events N\n"
		"       mqchat_bench --port P --mode plain|mqchat --scenarios "
		"setup,fanout,acks,conns,seed,catchup,storm\n"
		"         [--broker-pid PID] [--label L] [--cap S] [--n N] [--window W] [--rate R] [--rate-s "
		"S]\n"
		"         [--ack-n N] [--conns-small N] [--conns-big N] [--cu-events N] [--cu-pages N]\n"
		"         [--storm-clients N] [--storm-behind N] [--storm-page N] [--shapes "
		"1to1,1to100,...]\n");
	return 2;
}


static bool num(const char *s, double min, double max, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if(*s == '\0' || *end != '\0' || v < min || v > max) {
		return false;
	}
	*out = v;
	return true;
}


int main(int argc, char **argv)
{
	struct rlimit rl;
	char *list, *save = NULL;
	int rc = 0;

	O = (struct opts){.scenarios = "",
			  .n = 20000,
			  .window = 100,
			  .rate = 100,
			  .rate_s = 3,
			  .ack_n = 20000,
			  .conns_small = 10000,
			  .conns_big = 19000,
			  .cu_events = 1000000,
			  .cu_pages = 200,
			  .storm_clients = 2000,
			  .storm_behind = 100,
			  .storm_page = 30,
			  .cap = 120,
			  .label = "-"};
	for(int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		double d;
		if(strcmp(k, "--free-port") == 0) {
			return print_free_port();
		}
		if(v == NULL) {
			return usage();
		}
		i++;
		if(strcmp(k, "--port") == 0 && num(v, 1, 65535, &d))
			O.port = (int)d;
		else if(strcmp(k, "--mode") == 0)
			O.mqchat = strcmp(v, "mqchat") == 0;
		else if(strcmp(k, "--scenarios") == 0)
			O.scenarios = v;
		else if(strcmp(k, "--label") == 0)
			O.label = v;
		else if(strcmp(k, "--seed-db") == 0)
			O.seed_db = v;
		else if(strcmp(k, "--shapes") == 0)
			O.shapes = v;
		else if(strcmp(k, "--broker-pid") == 0 && num(v, 1, 1e9, &d))
			O.broker_pid = (int)d;
		else if(strcmp(k, "--cap") == 0 && num(v, 1, 3600, &d))
			O.cap = d;
		else if(strcmp(k, "--n") == 0 && num(v, 1, 1e8, &d))
			O.n = (long)d;
		else if(strcmp(k, "--window") == 0 && num(v, 1, 10000, &d))
			O.window = (int)d;
		else if(strcmp(k, "--rate") == 0 && num(v, 1, 1e6, &d))
			O.rate = d;
		else if(strcmp(k, "--rate-s") == 0 && num(v, 0.1, 600, &d))
			O.rate_s = d;
		else if(strcmp(k, "--ack-n") == 0 && num(v, 10, 1e8, &d))
			O.ack_n = (long)d;
		else if(strcmp(k, "--conns-small") == 0 && num(v, 1, 19500, &d))
			O.conns_small = (int)d;
		else if(strcmp(k, "--conns-big") == 0 && num(v, 1, 19500, &d))
			O.conns_big = (int)d;
		else if(strcmp(k, "--cu-events") == 0 && num(v, 2000, 1e8, &d))
			O.cu_events = (long)d;
		else if(strcmp(k, "--cu-pages") == 0 && num(v, 1, 1e6, &d))
			O.cu_pages = (long)d;
		else if(strcmp(k, "--storm-clients") == 0 && num(v, 1, 19000, &d))
			O.storm_clients = (int)d;
		else if(strcmp(k, "--storm-behind") == 0 && num(v, 1, 1e6, &d))
			O.storm_behind = (int)d;
		else if(strcmp(k, "--storm-page") == 0 && num(v, 1, 1000, &d))
			O.storm_page = (int)d;
		else
			return usage();
	}
	if(O.seed_db) {
		return seed_db();
	}
	if(O.port == 0) {
		return usage();
	}
	if(O.conns_big < O.conns_small) {
		O.conns_big = O.conns_small;
	}
	/* Up to the hard limit: 19,000 clients need 19,000 sockets. */
	if(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	mosquitto_lib_init();
	ep = epoll_create1(EPOLL_CLOEXEC);
	srand(1);
	list = strdup(O.scenarios);
	for(char *s = strtok_r(list, ",", &save); s && rc == 0; s = strtok_r(NULL, ",", &save)) {
		double t0 = now();
		note("%s", s);
		if(strcmp(s, "setup") == 0)
			rc = scenario_setup();
		else if(strcmp(s, "setup-acks") == 0)
			rc = O.mqchat && (!admin_connect() || !create_channel("acks", "ack", 2));
		else if(strcmp(s, "fanout") == 0)
			rc = scenario_fanout();
		else if(strcmp(s, "acks") == 0)
			rc = scenario_acks();
		else if(strcmp(s, "conns") == 0)
			rc = scenario_conns();
		else if(strcmp(s, "seed") == 0)
			rc = scenario_seed();
		else if(strcmp(s, "catchup") == 0)
			rc = O.mqchat ? scenario_catchup() : 0;
		else if(strcmp(s, "storm") == 0)
			rc = O.mqchat ? scenario_storm() : 0;
		else {
			fail("no scenario %s", s);
			rc = 1;
		}
		rc = rc || failed;
		note("%s: %s in %.1f s", s, rc ? "FAILED" : "ok", now() - t0);
	}
	free(list);
	bc_free(admin);
	mosquitto_lib_cleanup();
	return rc || failed ? 1 : 0;
}
