/*
 * converge.c - how long a client that missed N messages (10,000 by default) takes to converge, through
 * libmqchat end to end (connect, inbox, catch-up page by page, every event written to its events file,
 * cursor saved), side by side with a bare libmosquitto loop that only asks for the pages and parses
 * them (the raw catch-up rate). bench/converge.sh starts the broker and runs this.
 *
 *     mqchat_converge <port> [messages] [repetitions] [page limit]
 *
 * Users: ada seeds #conv (created with bo) with plain messages at QoS 1; bo converges. Prints one line
 * per run and a Markdown summary; exit status 1 if a run did not end with every event exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "mqchat_client.h"

static int port;


/* CPU time (user + system) of this process, in ms: what the client itself costs. */
static long long cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000LL
	       + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}


static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* ---- the bare loop: publish a request, wait for one answer on the reply topic ---- */

struct raw {
	struct mosquitto *mosq;
	char *answer; /* the last answer, malloc'd */
	int published;
};

static void raw_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	struct raw *r = ud;

	(void)m;
	if(strncmp(msg->topic, "chat/_reply/", 12) == 0) {
		free(r->answer);
		r->answer = strndup(msg->payload, (size_t)msg->payloadlen);
	}
}

static void raw_on_publish(struct mosquitto *m, void *ud, int mid)
{
	(void)m;
	(void)mid;
	((struct raw *)ud)->published++;
}

static struct raw *raw_connect(const char *user, const char *id)
{
	struct raw *r = calloc(1, sizeof(*r));
	char pw[64];

	snprintf(pw, sizeof(pw), "%s-pw", user);
	r->mosq = mosquitto_new(id, true, r);
	mosquitto_username_pw_set(r->mosq, user, pw);
	mosquitto_message_callback_set(r->mosq, raw_on_message);
	mosquitto_publish_callback_set(r->mosq, raw_on_publish);
	if(mosquitto_connect(r->mosq, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "converge: cannot connect to port %d\n", port);
		exit(1);
	}
	return r;
}

static void raw_free(struct raw *r)
{
	mosquitto_disconnect(r->mosq);
	mosquitto_loop(r->mosq, 10, 1);
	mosquitto_destroy(r->mosq);
	free(r->answer);
	free(r);
}

/* Publishes payload to topic and returns the answer (parsed; caller deletes), within 10 s. */
static cJSON *raw_request(struct raw *r, const char *topic, const char *payload)
{
	long long deadline = now_ms() + 10000;

	free(r->answer);
	r->answer = NULL;
	mosquitto_publish(r->mosq, NULL, topic, (int)strlen(payload), payload, 1, false);
	while(r->answer == NULL) {
		if(now_ms() > deadline || mosquitto_loop(r->mosq, 100, 1) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "converge: no answer to %s on %s\n", payload, topic);
			exit(1);
		}
	}
	return cJSON_Parse(r->answer);
}

/* Catch-up from 0 to the end, page by page; returns the events seen (seqs checked 1, 2, ...). */
static long raw_catch_up(struct raw *r, int limit)
{
	long long since = 0, expect = 1;
	bool more = true;

	while(more) {
		char payload[64];
		cJSON *page, *ev;

		snprintf(payload, sizeof(payload), "{\"since\":%lld,\"limit\":%d}", since, limit);
		page = raw_request(r, "chat/conv/sync", payload);
		if(!cJSON_IsTrue(cJSON_GetObjectItem(page, "ok"))) {
			fprintf(stderr, "converge: catch-up refused: %s\n", r->answer);
			exit(1);
		}
		cJSON_ArrayForEach(ev, cJSON_GetObjectItem(page, "events")) {
			if((long long)cJSON_GetObjectItem(ev, "seq")->valuedouble != expect++) {
				fprintf(stderr, "converge: raw catch-up out of order\n");
				exit(1);
			}
		}
		since = (long long)cJSON_GetObjectItem(page, "next")->valuedouble;
		more = cJSON_IsTrue(cJSON_GetObjectItem(page, "more"));
		cJSON_Delete(page);
	}
	return (long)(expect - 1);
}


/* ---- seeding ---- */

static void seed(int n)
{
	struct raw *bo = raw_connect("bo", "bo-seed"), *ada;
	cJSON *reply;
	long long deadline;

	raw_free(bo); /* bo signs in once, so that he may be named a member */
	ada = raw_connect("ada", "ada-seed");
	reply = raw_request(ada, "chat/_api",
			    "{\"op\":\"create\",\"channel\":\"conv\",\"members\":[\"bo\"]}");
	if(!cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok"))) {
		fprintf(stderr, "converge: create failed: %s\n", ada->answer);
		exit(1);
	}
	cJSON_Delete(reply);
	ada->published = 0;
	for(int i = 0; i < n; i++) {
		char body[96];
		snprintf(body, sizeof(body), "message %d of the backlog, a line of ordinary chat length", i);
		mosquitto_publish(ada->mosq, NULL, "chat/conv", (int)strlen(body), body, 1, false);
		if(i % 100 == 99) {
			mosquitto_loop(ada->mosq, 0, 1);
		}
	}
	deadline = now_ms() + 120000;
	while(ada->published < n + 1 && now_ms() < deadline) {
		mosquitto_loop(ada->mosq, 100, 1);
	}
	raw_free(ada);
}


/* ---- the library ---- */

static bool synced;

static void on_synced(void *ud)
{
	(void)ud;
	synced = true;
}

static bool count_event(void *arg, const cJSON *ev)
{
	(void)ev;
	(*(long *)arg)++;
	return true;
}

/* Converges a new device of bo's from an empty state file; returns ms, or -1 on a wrong history. */
static long long lib_converge(int run, long expected, int limit)
{
	char dir[] = "/tmp/mqchat-converge-XXXXXX", state[128], id[32], cmd[160];
	struct mqc_options o = {.port = port, .user = "bo", .password = "bo-pw", .protocol = 5};
	struct mqc *c;
	long long t0, ms;
	long n = 0;

	if(mkdtemp(dir) == NULL) {
		return -1;
	}
	snprintf(state, sizeof(state), "%s/bo.state", dir);
	snprintf(id, sizeof(id), "bo-conv-%d", run);
	o.client_id = id;
	o.state_path = state;
	o.page_limit = limit;
	o.cb.on_synced = on_synced;
	synced = false;
	t0 = now_ms();
	c = mqc_new(&o);
	mqc_connect(c);
	while(!synced && now_ms() - t0 < 60000) {
		mqc_loop(c, 100);
	}
	ms = now_ms() - t0;
	mqc_history(c, "conv", count_event, &n);
	if(!synced || n != expected || mqc_cursor(c, "conv", NULL) != expected) {
		fprintf(stderr, "converge: library history has %ld events, expected %ld\n", n, expected);
		ms = -1;
	}
	mqc_free(c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if(system(cmd) != 0) {
		fprintf(stderr, "converge: could not remove %s\n", dir);
	}
	return ms;
}


static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}


int main(int argc, char **argv)
{
	int n, reps, limit;
	long expected;
	long long lib[16], raw[16], lib_cpu[16], raw_cpu[16];

	if(argc < 2) {
		fprintf(stderr, "usage: mqchat_converge <port> [messages] [repetitions] [page limit]\n");
		return 2;
	}
	port = atoi(argv[1]);
	n = argc > 2 ? atoi(argv[2]) : 10000;
	reps = argc > 3 ? atoi(argv[3]) : 3;
	limit = argc > 4 ? atoi(argv[4]) : 1000;
	reps = reps < 1 ? 1 : reps > 16 ? 16 : reps;
	mosquitto_lib_init();
	seed(n);
	expected = n + 2; /* the two joins of create, then the messages */
	for(int i = 0; i < reps; i++) {
		struct raw *r = raw_connect("bo", "bo-raw");
		long long t0 = now_ms(), c0 = cpu_ms(), c1;
		long got = raw_catch_up(r, limit);

		raw[i] = now_ms() - t0;
		c1 = cpu_ms();
		raw_free(r);
		raw_cpu[i] = c1 - c0;
		c0 = cpu_ms();
		lib[i] = lib_converge(i, expected, limit);
		lib_cpu[i] = cpu_ms() - c0;
		printf("run %d: raw catch-up %ld events in %lld ms (%lld ms CPU); library converged in %lld "
		       "ms "
		       "(%lld ms CPU)\n",
		       i + 1, got, raw[i], raw_cpu[i], lib[i], lib_cpu[i]);
		if(got != expected || lib[i] < 0) {
			return 1;
		}
	}
	qsort(raw, (size_t)reps, sizeof(raw[0]), cmp_ll);
	qsort(lib, (size_t)reps, sizeof(lib[0]), cmp_ll);
	qsort(raw_cpu, (size_t)reps, sizeof(raw[0]), cmp_ll);
	qsort(lib_cpu, (size_t)reps, sizeof(lib[0]), cmp_ll);
	printf("\n| %ld missed events, pages of %d | median ms (min-max) | events/s | client CPU ms |\n"
	       "|---|---|---|---|\n",
	       expected, limit);
	printf("| raw catch-up (bare libmosquitto loop) | %lld (%lld-%lld) | %.0f | %lld |\n", raw[reps / 2],
	       raw[0], raw[reps - 1], raw[reps / 2] ? expected * 1000.0 / (double)raw[reps / 2] : 0.0,
	       raw_cpu[reps / 2]);
	printf("| libmqchat, new device to converged | %lld (%lld-%lld) | %.0f | %lld |\n", lib[reps / 2],
	       lib[0], lib[reps - 1], lib[reps / 2] ? expected * 1000.0 / (double)lib[reps / 2] : 0.0,
	       lib_cpu[reps / 2]);
	mosquitto_lib_cleanup();
	return 0;
}
