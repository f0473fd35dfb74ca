/*
 * media.c - mqchat_media_bench: media throughput and what a transfer costs other clients
 * (bench/media.sh, docs/benchmarks.md "Media"). A client of the broker and nothing more.
 *
 * One run, three phases, while a second user ("bo") sends chat messages to #files one at a time,
 * every --gap-ms, and times each from publish to its JSON ack:
 *   idle      no transfer, --idle-sends messages
 *   upload    ada uploads --mb MB in 64 KiB pieces, --window pieces in flight (QoS 1)
 *   download  ada downloads it back, --window requests in flight, and checks every byte
 * Prints one line of key=value: MB/s each way, and the chat p50/p99/max of each phase (ms).
 *
 * Each transfer is repeated until the chatter has timed MIN_SAMPLES sends during that kind.
 *
 * Usage: mqchat_media_bench --port P [--mb 25] [--window 16] [--gap-ms 5] [--idle-sends 400]
 */
#define _GNU_SOURCE
#include <mosquitto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK       (64 * 1024)
#define MAX_SAMPLES 200000
#define MIN_SAMPLES 300 /* chat sends timed during each kind of transfer */

static int port;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

/* ada's state */
static char media[64];
static char *last_api; /* the last JSON on ada's reply topic (api answers) */
static long acked, received_bytes, downloads_done;
static bool complete, failed;
static unsigned char *data;
static size_t size;

/* bo's state */
static bool bo_acked;
static volatile int phase; /* 0 idle, 1 upload, 2 download, 3 done */
static double *samples[3];
static int counts[3];
static volatile bool chatter_stop;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void ada_message(struct mosquitto *m, void *u, const struct mosquitto_message *msg)
{
	(void)m;
	(void)u;
	pthread_mutex_lock(&mu);
	if(strstr(msg->topic, "/media/") != NULL) {
		long long off = atoll(strrchr(msg->topic, '/') + 1);
		if(off + msg->payloadlen > (long long)size
		   || memcmp(data + off, msg->payload, (size_t)msg->payloadlen) != 0) {
			failed = true;
		}
		received_bytes += msg->payloadlen;
		downloads_done++;
	} else if(strstr(msg->payload, "\"kind\":\"upload\"") != NULL) {
		acked++;
		if(strstr(msg->payload, "\"complete\":true") != NULL) {
			complete = true;
		}
		if(strstr(msg->payload, "\"ok\":false") != NULL) {
			failed = true;
			fprintf(stderr, "piece refused: %.*s\n", msg->payloadlen, (char *)msg->payload);
		}
	} else {
		free(last_api);
		last_api = strndup(msg->payload, (size_t)msg->payloadlen);
		if(strstr(last_api, "\"ok\":false") != NULL && strstr(last_api, "download") != NULL) {
			failed = true;
			fprintf(stderr, "download refused: %s\n", last_api);
		}
	}
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void bo_message(struct mosquitto *m, void *u, const struct mosquitto_message *msg)
{
	(void)m;
	(void)u;
	(void)msg;
	pthread_mutex_lock(&mu);
	bo_acked = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static struct mosquitto *connect_as(const char *user, const char *id,
				    void (*on_msg)(struct mosquitto *, void *,
						   const struct mosquitto_message *))
{
	char pw[64];
	struct mosquitto *m = mosquitto_new(id, true, NULL);

	snprintf(pw, sizeof(pw), "%s-pw", user);
	mosquitto_username_pw_set(m, user, pw);
	mosquitto_message_callback_set(m, on_msg);
	mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, 64);
	if(mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS
	   || mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "cannot connect %s\n", user);
		exit(1);
	}
	return m;
}

/* Waits (up to 30 s) for cond, evaluated under mu. */
#define WAIT_FOR(cond)                                                                                       \
	do {                                                                                                 \
		struct timespec dl;                                                                          \
		clock_gettime(CLOCK_REALTIME, &dl);                                                          \
		dl.tv_sec += 30;                                                                             \
		pthread_mutex_lock(&mu);                                                                     \
		while(!(cond) && !failed) {                                                                  \
			if(pthread_cond_timedwait(&cv, &mu, &dl) != 0) {                                     \
				fprintf(stderr, "timed out: %s\n", #cond);                                   \
				exit(1);                                                                     \
			}                                                                                    \
		}                                                                                            \
		pthread_mutex_unlock(&mu);                                                                   \
		if(failed) {                                                                                 \
			exit(1);                                                                             \
		}                                                                                            \
	} while(0)

static char *api(struct mosquitto *m, const char *json)
{
	char *r;
	pthread_mutex_lock(&mu);
	free(last_api);
	last_api = NULL;
	pthread_mutex_unlock(&mu);
	mosquitto_publish(m, NULL, "chat/_api", (int)strlen(json), json, 1, false);
	WAIT_FOR(last_api != NULL);
	pthread_mutex_lock(&mu);
	r = strdup(last_api);
	pthread_mutex_unlock(&mu);
	return r;
}

static int gap_ms = 5, idle_sends = 400;
static struct mosquitto *bo;

static void *chatter(void *arg)
{
	(void)arg;
	for(int i = 0; !chatter_stop; i++) {
		char msg[128];
		int p = phase;
		double t0 = now_ms(), dt;
		snprintf(msg, sizeof(msg), "{\"client_msg_id\":\"c%d\",\"body\":\"hello %d\"}", i, i);
		pthread_mutex_lock(&mu);
		bo_acked = false;
		pthread_mutex_unlock(&mu);
		mosquitto_publish(bo, NULL, "chat/files", (int)strlen(msg), msg, 1, false);
		WAIT_FOR(bo_acked);
		dt = now_ms() - t0;
		if(p < 3 && p == phase && counts[p] < MAX_SAMPLES) {
			samples[p][counts[p]++] = dt;
		}
		if(gap_ms > 0) {
			usleep((useconds_t)gap_ms * 1000);
		}
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(int p, double q)
{
	if(counts[p] == 0) {
		return -1;
	}
	qsort(samples[p], (size_t)counts[p], sizeof(double), cmp);
	return samples[p][(int)(q * (counts[p] - 1))];
}

int main(int argc, char **argv)
{
	int mb = 25, window = 16;
	struct mosquitto *ada;
	pthread_t chat;
	char req[512], *r;
	double t0, up_s, down_s;
	size_t pieces = 0, sent;
	int uploads, downloads;

	for(int i = 1; i + 1 < argc; i += 2) {
		if(!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if(!strcmp(argv[i], "--mb"))
			mb = atoi(argv[i + 1]);
		else if(!strcmp(argv[i], "--window"))
			window = atoi(argv[i + 1]);
		else if(!strcmp(argv[i], "--gap-ms"))
			gap_ms = atoi(argv[i + 1]);
		else if(!strcmp(argv[i], "--idle-sends"))
			idle_sends = atoi(argv[i + 1]);
	}
	mosquitto_lib_init();
	size = (size_t)mb * 1000 * 1000;
	data = malloc(size);
	for(size_t i = 0; i < size; i++) {
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	}
	for(int p = 0; p < 3; p++) {
		samples[p] = calloc(MAX_SAMPLES, sizeof(double));
	}
	ada = connect_as("ada", "ada-media", ada_message);
	bo = connect_as("bo", "bo-chat", bo_message);
	usleep(300 * 1000); /* both users known to the broker before ada names bo */
	free(api(ada, "{\"op\":\"create\",\"channel\":\"files\",\"members\":[\"bo\"]}"));

	/* idle */
	phase = 0;
	pthread_create(&chat, NULL, chatter, NULL);
	WAIT_FOR(counts[0] >= idle_sends);

	/* upload, again and again (new uploads of the same bytes) until the chatter has MIN_SAMPLES */
	phase = 1;
	t0 = now_ms();
	for(uploads = 0; uploads == 0 || (counts[1] < MIN_SAMPLES && uploads < 40); uploads++) {
		pthread_mutex_lock(&mu);
		acked = 0;
		complete = false;
		pthread_mutex_unlock(&mu);
		snprintf(req, sizeof(req),
			 "{\"op\":\"upload\",\"channel\":\"files\",\"name\":\"bench.bin\",\"type\":"
			 "\"application/"
			 "octet-stream\",\"size\":%zu}",
			 size);
		r = api(ada, req);
		if(strstr(r, "\"media\":\"") == NULL) {
			fprintf(stderr, "upload refused: %s\n", r);
			return 1;
		}
		snprintf(media, sizeof(media), "%.34s", strstr(r, "\"media\":\"") + 9);
		free(r);
		pieces = (size + CHUNK - 1) / CHUNK;
		for(sent = 0; sent < pieces; sent++) {
			char topic[128];
			size_t off = sent * CHUNK, n = size - off < CHUNK ? size - off : CHUNK;
			WAIT_FOR((long)sent - acked < window);
			snprintf(topic, sizeof(topic), "chat/_media/%s/%zu", media, off);
			mosquitto_publish(ada, NULL, topic, (int)n, data + off, 1, false);
		}
		WAIT_FOR(complete);
	}
	up_s = (now_ms() - t0) / 1e3;

	/* download, again and again, until the chatter has MIN_SAMPLES */
	phase = 2;
	t0 = now_ms();
	for(downloads = 0; downloads == 0 || (counts[2] < MIN_SAMPLES && downloads < 100); downloads++) {
		pthread_mutex_lock(&mu);
		received_bytes = 0;
		downloads_done = 0;
		pthread_mutex_unlock(&mu);
		for(sent = 0; sent < pieces; sent++) {
			WAIT_FOR((long)sent - downloads_done < window);
			snprintf(req, sizeof(req), "{\"op\":\"download\",\"media\":\"%s\",\"offset\":%zu}",
				 media, sent * CHUNK);
			mosquitto_publish(ada, NULL, "chat/_api", (int)strlen(req), req, 0, false);
		}
		WAIT_FOR(received_bytes == (long)size);
	}
	down_s = (now_ms() - t0) / 1e3;
	phase = 3;
	chatter_stop = true;
	pthread_join(chat, NULL);

	printf("mb=%d window=%d uploads=%d downloads=%d upload_mb_s=%.1f download_mb_s=%.1f "
	       "idle_n=%d idle_p50=%.2f idle_p99=%.2f idle_max=%.2f "
	       "upload_n=%d upload_p50=%.2f upload_p99=%.2f upload_max=%.2f "
	       "download_n=%d download_p50=%.2f download_p99=%.2f download_max=%.2f\n",
	       mb, window, uploads, downloads, uploads * (size / 1e6) / up_s,
	       downloads * (size / 1e6) / down_s, counts[0], pct(0, 0.5), pct(0, 0.99), pct(0, 1), counts[1],
	       pct(1, 0.5), pct(1, 0.99), pct(1, 1), counts[2], pct(2, 0.5), pct(2, 0.99), pct(2, 1));
	mosquitto_disconnect(ada);
	mosquitto_disconnect(bo);
	return 0;
}
