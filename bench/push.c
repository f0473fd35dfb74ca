/*
 * push.c - mqchat_push_bench: what push hand-off costs the send path, and how long a notification
 * takes from commit to the gateway (bench/push.sh runs it; docs/benchmarks.md, "Push hand-off").
 *
 *   --setup   --port P --members M      members m0..m(M-1) each register a pusher and leave; ada
 *                                       creates #push with all of them (they stay offline)
 *   --sends   --port P --n N --inflight W   ada sends N messages to #push, W unacknowledged at most;
 *                                       prints "RESULT sends_per_s <x>"
 *   --latency --port P --gateway-port G --n N --interval-ms I
 *                                       listens on 127.0.0.1:G as the push gateway (200 {} to all),
 *                                       ada sends one message every I ms; for each, the time from its
 *                                       JSON ack (sent right after the commit) to the gateway's
 *                                       receipt of a notification for it or a later message
 *                                       (coalescing); prints p50/p99/max in ms
 *
 * A client of the broker and nothing more: libmosquitto with its network thread, one thread for
 * the gateway. Exits 1 if a send is refused or an ack or notification does not arrive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_N 100000

struct client {
	struct mosquitto *m;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	long acks, refused, replies;
	char last[8192];
	double *ack_at; /* by send index (body "lat-<i>"), latency mode */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *why)
{
	fprintf(stderr, "mqchat_push_bench: %s\n", why);
	exit(1);
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct client *c = arg;
	const char *p = msg->payload;
	const char *cmid = p ? strstr(p, "\"client_msg_id\":\"c") : NULL;

	(void)m;
	pthread_mutex_lock(&c->lock);
	if(p != NULL && strstr(p, "\"ok\":true") != NULL && strstr(p, "\"kind\":\"ack\"") != NULL) {
		c->acks++;
		if(c->ack_at != NULL && cmid != NULL) {
			long i = strtol(cmid + 18, NULL, 10);
			if(i >= 0 && i < MAX_N) {
				c->ack_at[i] = now_ms();
			}
		}
	} else if(p != NULL && strstr(p, "\"ok\":false") != NULL) {
		c->refused++;
		fprintf(stderr, "refused: %.*s\n", msg->payloadlen, p);
	} else {
		c->replies++;
		snprintf(c->last, sizeof(c->last), "%.*s", msg->payloadlen, p ? p : "");
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static struct client *connect_as(int port, const char *user)
{
	struct client *c = calloc(1, sizeof(*c));
	char topic[128];

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->m = mosquitto_new(user, true, c);
	mosquitto_username_pw_set(c->m, user, NULL);
	mosquitto_message_callback_set(c->m, on_message);
	if(mosquitto_connect(c->m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) {
		die("cannot connect");
	}
	snprintf(topic, sizeof(topic), "chat/_reply/%s", user);
	mosquitto_subscribe(c->m, NULL, topic, 1);
	mosquitto_loop_start(c->m);
	usleep(100000); /* the subscription lands before the first request: SUBACK is not waited for */
	return c;
}

static void disconnect(struct client *c)
{
	mosquitto_disconnect(c->m);
	mosquitto_loop_stop(c->m, false);
	mosquitto_destroy(c->m);
	free(c);
}

/* Publishes an API request and waits for one more reply. */
static void api(struct client *c, const char *json)
{
	long before;
	double deadline = now_ms() + 10000;

	pthread_mutex_lock(&c->lock);
	before = c->replies;
	pthread_mutex_unlock(&c->lock);
	mosquitto_publish(c->m, NULL, "chat/_api", (int)strlen(json), json, 1, false);
	pthread_mutex_lock(&c->lock);
	while(c->replies == before && now_ms() < deadline) {
		pthread_mutex_unlock(&c->lock);
		usleep(1000);
		pthread_mutex_lock(&c->lock);
	}
	if(c->replies == before || strstr(c->last, "\"ok\":true") == NULL) {
		fprintf(stderr, "api %s -> %s\n", json, c->last);
		die("request failed");
	}
	pthread_mutex_unlock(&c->lock);
}

static void setup(int port, int members)
{
	struct client *ada;
	char json[65536];
	size_t len;

	for(int i = 0; i < members; i++) {
		char user[32], req[256];
		struct client *c;

		snprintf(user, sizeof(user), "m%d", i);
		c = connect_as(port, user);
		snprintf(req, sizeof(req),
			 "{\"op\":\"pusher_set\",\"app_id\":\"org.mqchat.bench\",\"pushkey\":\"key-%d\"}", i);
		api(c, req);
		disconnect(c);
	}
	ada = connect_as(port, "ada");
	len = (size_t)snprintf(json, sizeof(json), "{\"op\":\"create\",\"channel\":\"push\",\"members\":[");
	for(int i = 0; i < members; i++) {
		len += (size_t)snprintf(json + len, sizeof(json) - len, "%s\"m%d\"", i ? "," : "", i);
	}
	snprintf(json + len, sizeof(json) - len, "]}");
	api(ada, json);
	disconnect(ada);
}

static void send_one(struct client *c, long i)
{
	char json[256];

	snprintf(json, sizeof(json),
		 "{\"body\":\"lat-%ld. a message of a realistic length, about a line\","
		 "\"client_msg_id\":\"c%ld-%ld\"}",
		 i, i, (long)getpid());
	if(mosquitto_publish(c->m, NULL, "chat/push", (int)strlen(json), json, 1, false)
	   != MOSQ_ERR_SUCCESS) {
		die("publish failed");
	}
}

static void sends(int port, long n, long inflight)
{
	struct client *ada = connect_as(port, "ada");
	double t0 = now_ms(), deadline;

	for(long i = 0; i < n; i++) {
		pthread_mutex_lock(&ada->lock);
		while(i - ada->acks >= inflight && ada->refused == 0) {
			pthread_cond_wait(&ada->cond, &ada->lock);
		}
		pthread_mutex_unlock(&ada->lock);
		send_one(ada, i);
	}
	deadline = now_ms() + 30000;
	pthread_mutex_lock(&ada->lock);
	while(ada->acks < n && ada->refused == 0 && now_ms() < deadline) {
		pthread_mutex_unlock(&ada->lock);
		usleep(1000);
		pthread_mutex_lock(&ada->lock);
	}
	if(ada->acks < n) {
		die("acks missing or sends refused");
	}
	pthread_mutex_unlock(&ada->lock);
	printf("RESULT sends_per_s %.0f\n", n / ((now_ms() - t0) / 1e3));
	disconnect(ada);
}

/* ---- the gateway ---- */

struct gateway {
	int fd;
	double *got_at;
	long n;
	pthread_mutex_t lock;
};

static void *gateway_run(void *arg)
{
	struct gateway *g = arg;
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

	for(;;) {
		int c = accept(g->fd, NULL, NULL);
		char buf[65536];
		size_t len = 0;

		if(c < 0) {
			return NULL;
		}
		for(;;) { /* requests on a kept-alive connection, one at a time */
			ssize_t r;
			char *end, *cl, *lat;
			size_t want;

			while((end = memmem(buf, len, "\r\n\r\n", 4)) == NULL) {
				if((r = recv(c, buf + len, sizeof(buf) - 1 - len, 0)) <= 0) {
					goto closed;
				}
				len += (size_t)r;
			}
			buf[len] = '\0';
			cl = strcasestr(buf, "content-length:");
			want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
			while(len < want) {
				if((r = recv(c, buf + len, sizeof(buf) - 1 - len, 0)) <= 0) {
					goto closed;
				}
				len += (size_t)r;
			}
			buf[len] = '\0';
			lat = strstr(end, "lat-");
			if(lat != NULL) {
				long i = strtol(lat + 4, NULL, 10);
				pthread_mutex_lock(&g->lock);
				if(i >= 0 && i < MAX_N && g->got_at[i] == 0) {
					g->got_at[i] = now_ms();
					g->n++;
				}
				pthread_mutex_unlock(&g->lock);
			}
			send(c, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
			memmove(buf, buf + want, len - want);
			len -= want;
		}
	closed:
		close(c);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void latency(int port, int gw_port, long n, long interval_ms)
{
	struct gateway g = {.got_at = calloc(MAX_N, sizeof(double))};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_port)};
	struct client *ada;
	pthread_t t;
	double *lat = calloc((size_t)n, sizeof(double)), deadline;
	long k = 0, own = 0;
	bool last_ok;
	int one = 1;

	pthread_mutex_init(&g.lock, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g.fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(g.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if(bind(g.fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(g.fd, 16) != 0) {
		die("cannot listen for the gateway");
	}
	pthread_create(&t, NULL, gateway_run, &g);
	ada = connect_as(port, "ada");
	ada->ack_at = calloc(MAX_N, sizeof(double));
	for(long i = 0; i < n; i++) {
		send_one(ada, i);
		usleep((useconds_t)interval_ms * 1000);
	}
	deadline = now_ms() + 30000;
	for(;;) {
		long got;
		pthread_mutex_lock(&g.lock);
		got = g.got_at[n - 1] > 0 ? n : g.n;
		pthread_mutex_unlock(&g.lock);
		if(got >= n || now_ms() > deadline) {
			break;
		}
		usleep(1000);
	}
	/* A message that commits while a notification waits for the same pusher and channel (the
	 * previous post is in flight, or not made yet) rides on it: the post carries the newest message
	 * (one waiting per pusher and channel). So each message's latency is from its ack to the receipt
	 * of the first notification for it or a later message; the last message must have its own. */
	pthread_mutex_lock(&ada->lock);
	pthread_mutex_lock(&g.lock);
	{
		double next = 0;
		for(long i = n - 1; i >= 0; i--) {
			if(g.got_at[i] > 0) {
				next = g.got_at[i];
				own++;
			}
			if(next > 0 && ada->ack_at[i] > 0) {
				lat[k++] = next - ada->ack_at[i];
			}
		}
	}
	last_ok = g.got_at[n - 1] > 0;
	pthread_mutex_unlock(&g.lock);
	pthread_mutex_unlock(&ada->lock);
	if(!last_ok || k < n) {
		fprintf(stderr, "the last message's notification or an ack is missing (%ld of %ld timed)\n",
			k, n);
		die("notifications missing");
	}
	qsort(lat, (size_t)k, sizeof(double), cmp);
	printf("RESULT latency_ms p50 %.2f p99 %.2f max %.2f n %ld\n", lat[k / 2], lat[(k * 99) / 100],
	       lat[k - 1], k);
	printf("RESULT latency_of %ld notifications for %ld messages (the others rode on a later one)\n", own,
	       n);
	disconnect(ada);
}

int main(int argc, char **argv)
{
	int port = 0, gw_port = 0, members = 10;
	long n = 10000, inflight = 100, interval = 20;
	const char *mode = NULL;

	for(int i = 1; i < argc; i++) {
		if(strncmp(argv[i], "--", 2) == 0 && i + 1 < argc && argv[i + 1][0] != '-') {
			const char *k = argv[i] + 2, *v = argv[++i];
			if(strcmp(k, "port") == 0) {
				port = atoi(v);
			} else if(strcmp(k, "gateway-port") == 0) {
				gw_port = atoi(v);
			} else if(strcmp(k, "members") == 0) {
				members = atoi(v);
			} else if(strcmp(k, "n") == 0) {
				n = atol(v);
			} else if(strcmp(k, "inflight") == 0) {
				inflight = atol(v);
			} else if(strcmp(k, "interval-ms") == 0) {
				interval = atol(v);
			}
		} else {
			mode = argv[i] + 2;
		}
	}
	if(mode == NULL || port == 0 || n <= 0 || n > MAX_N) {
		die("usage: --setup|--sends|--latency --port P [--members M] [--n N] [--inflight W] "
		    "[--gateway-port G] [--interval-ms I]");
	}
	mosquitto_lib_init();
	if(strcmp(mode, "setup") == 0) {
		setup(port, members);
	} else if(strcmp(mode, "sends") == 0) {
		sends(port, n, inflight);
	} else if(strcmp(mode, "latency") == 0) {
		latency(port, gw_port, n, interval);
	} else {
		die("unknown mode");
	}
	mosquitto_lib_cleanup();
	return 0;
}
