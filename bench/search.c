/*
 * search.c - mqchat_search_bench, the search benchmark's tool (bench/search.sh drives it).
 *
 *   --generate DB   fills a migrated, stopped broker's database with a team's history: --users users,
 *                   --channels channels of --members members each (user u is in channels c with
 *                   (c * 7 + k * 13) % users == u for some k < members), and --messages messages,
 *                   each in a uniformly random channel from a random member of it, 1 to 1 minute
 *                   apart in time, straight into the log; the broker's search worker indexes it
 *                   at its next start (bench/search.sh times that).
 *   --search        against a running broker: --queries searches of each kind, one at a time, each
 *                   by a random one of the first 10 users; prints the latency p50/p99 per kind.
 *   --sends         against a running broker: --sends-n acknowledged sends by u000 to c0000 (which
 *                   u000 is in), --inflight of them unacknowledged at most; prints acks/s.
 *
 * Message bodies: 4 to 30 words drawn from a vocabulary of --vocab pseudo-words with Zipf
 * frequencies (exponent 1.07, about English's): the word of rank r is r + 85 written in base 85 with
 * consonant-vowel syllables ("bo", "ka"...), so common words are short and every word is distinct.
 * Body k is drawn from a generator seeded with k, so the search side can rebuild any body to take a
 * phrase from it.
 *
 * Query kinds: 1 word and 2 words of uniform rank among the 5,000 most frequent (common to rare);
 * a phrase of two consecutive words of a random message; a prefix, the first 3 letters of a word of
 * uniform rank among the 5,000; and the single most frequent word alone (the worst case: it is in a
 * third of all messages).
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <sqlite3.h>

#define SYLLABLES      85
#define RANK_POOL      5000
#define MAX_BODY       30
#define SEARCH_CLIENTS 10

static struct {
	const char *generate;
	bool search, sends;
	int port;
	long messages, queries, sends_n;
	int users, channels, members, vocab, inflight;
} O = {.port = 1883,
       .messages = 1000000,
       .queries = 200,
       .sends_n = 10000,
       .users = 100,
       .channels = 1000,
       .members = 10,
       .vocab = 20000,
       .inflight = 100};

static double *zipf_cdf;


/* ---- words -------------------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}


static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / (double)(1ULL << 53);
}


static void word_of_rank(int rank, char *out)
{
	static const char consonants[] = "bcdfghjklmnprstvz", vowels[] = "aeiou";
	int digits[8], n = 0, len = 0;

	for(int v = rank + SYLLABLES; v > 0; v /= SYLLABLES) {
		digits[n++] = v % SYLLABLES;
	}
	while(n-- > 0) {
		out[len++] = consonants[digits[n] / 5];
		out[len++] = vowels[digits[n] % 5];
	}
	out[len] = '\0';
}


static void zipf_init(void)
{
	double sum = 0;

	zipf_cdf = malloc(sizeof(double) * (size_t)O.vocab);
	for(int r = 0; r < O.vocab; r++) {
		sum += 1.0 / pow(r + 1, 1.07);
		zipf_cdf[r] = sum;
	}
	for(int r = 0; r < O.vocab; r++) {
		zipf_cdf[r] /= sum;
	}
}


static int zipf_rank(uint64_t *s)
{
	double u = rng_unit(s);
	int lo = 0, hi = O.vocab - 1;

	while(lo < hi) {
		int mid = (lo + hi) / 2;
		if(zipf_cdf[mid] < u) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}


/* Body k: its words' ranks in ranks[], their count returned, and the text in out (if not NULL). */
static int body_of(long k, int *ranks, char *out)
{
	uint64_t s = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)k * 0xBF58476D1CE4E5B9ULL + 1);
	int n = 4 + (int)(rng_next(&s) % (MAX_BODY - 3));
	size_t len = 0;

	for(int i = 0; i < n; i++) {
		char w[24];
		ranks[i] = zipf_rank(&s);
		if(out) {
			word_of_rank(ranks[i], w);
			len += (size_t)sprintf(out + len, "%s%s", i ? " " : "", w);
		}
	}
	return n;
}


/* ---- generate ----------------------------------------------------------------------------------- */

static void check(int rc, sqlite3 *db, const char *what)
{
	if(rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}


static int member_of(int channel, int k)
{
	return (channel * 7 + k * 13) % O.users;
}


static int generate(void)
{
	sqlite3 *db;
	sqlite3_stmt *ev, *ch, *mem, *usr;
	long *heads = calloc((size_t)O.channels, sizeof(long));
	long *msg_nos = calloc((size_t)O.channels, sizeof(long));
	long *own = calloc((size_t)O.channels * (size_t)O.members, sizeof(long));
	const int64_t t0 = 1700000000000LL;
	uint64_t s = 42;
	char json[1024], body[MAX_BODY * 24], id[40], name[16], user[16];
	int ranks[MAX_BODY];
	double started = (double)clock() / CLOCKS_PER_SEC;

	check(sqlite3_open(O.generate, &db), db, "open");
	check(sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; BEGIN", NULL, NULL,
			   NULL),
	      db, "begin");
	check(sqlite3_prepare_v2(db,
				 "INSERT INTO events (channel_id, seq, id, type, author, ts, json, msg_no, "
				 "author_msg_no)"
				 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
				 -1, &ev, NULL),
	      db, "prepare events");
	check(sqlite3_prepare_v2(
		      db,
		      "INSERT INTO channels (id, name, visibility, title, epoch, created_by, created_at)"
		      " VALUES (?, ?, 'public', ?, lower(hex(randomblob(16))), 'u000', ?)",
		      -1, &ch, NULL),
	      db, "prepare channels");
	check(sqlite3_prepare_v2(
		      db, "INSERT INTO members (channel_id, user, role, joined_seq) VALUES (?, ?, ?, ?)", -1,
		      &mem, NULL),
	      db, "prepare members");
	check(sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO users (name, first_seen) VALUES (?, 0)", -1, &usr,
				 NULL),
	      db, "prepare users");
	for(int u = 0; u < O.users; u++) {
		snprintf(user, sizeof(user), "u%03d", u);
		sqlite3_reset(usr);
		sqlite3_bind_text(usr, 1, user, -1, SQLITE_TRANSIENT);
		check(sqlite3_step(usr), db, "users");
	}
	for(int c = 0; c < O.channels; c++) {
		snprintf(name, sizeof(name), "c%04d", c);
		sqlite3_reset(ch);
		sqlite3_bind_int(ch, 1, c + 1);
		sqlite3_bind_text(ch, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ch, 3, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ch, 4, t0);
		check(sqlite3_step(ch), db, "channels");
		for(int k = 0; k < O.members; k++) {
			snprintf(user, sizeof(user), "u%03d", member_of(c, k));
			heads[c]++;
			snprintf(id, sizeof(id), "%08x-0000-4000-8000-%012lx", c, heads[c]);
			snprintf(json, sizeof(json),
				 "{\"id\":\"%s\",\"channel\":\"%s\",\"seq\":%ld,\"type\":\"join\",\"from\":"
				 "\"%s\","
				 "\"device\":\"%s-d\",\"ts\":%lld,\"user\":\"%s\"}",
				 id, name, heads[c], user, user, (long long)t0, user);
			sqlite3_reset(ev);
			sqlite3_bind_int(ev, 1, c + 1);
			sqlite3_bind_int64(ev, 2, heads[c]);
			sqlite3_bind_text(ev, 3, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ev, 4, "join", -1, SQLITE_STATIC);
			sqlite3_bind_text(ev, 5, user, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(ev, 6, t0);
			sqlite3_bind_text(ev, 7, json, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(ev, 8, 0);
			sqlite3_bind_null(ev, 9);
			check(sqlite3_step(ev), db, "join");
			sqlite3_reset(mem);
			sqlite3_bind_int(mem, 1, c + 1);
			sqlite3_bind_text(mem, 2, user, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(mem, 3, k == 0 ? "owner" : "member", -1, SQLITE_STATIC);
			sqlite3_bind_int64(mem, 4, heads[c]);
			check(sqlite3_step(mem), db, "members");
		}
	}
	int64_t ts = t0;
	for(long i = 0; i < O.messages; i++) {
		int c = (int)(rng_next(&s) % (uint64_t)O.channels),
		    k = (int)(rng_next(&s) % (uint64_t)O.members);
		ts += 1000 + (int64_t)(rng_next(&s) % 59000);
		snprintf(name, sizeof(name), "c%04d", c);
		snprintf(user, sizeof(user), "u%03d", member_of(c, k));
		heads[c]++;
		msg_nos[c]++;
		own[c * O.members + k]++;
		body_of(i, ranks, body);
		snprintf(id, sizeof(id), "%08x-0000-4000-8000-%012lx", c, heads[c]);
		snprintf(json, sizeof(json),
			 "{\"id\":\"%s\",\"channel\":\"%s\",\"seq\":%ld,\"type\":\"message\",\"from\":\"%s\","
			 "\"device\":\"%s-d\",\"ts\":%lld,\"body\":\"%s\"}",
			 id, name, heads[c], user, user, (long long)ts, body);
		sqlite3_reset(ev);
		sqlite3_bind_int(ev, 1, c + 1);
		sqlite3_bind_int64(ev, 2, heads[c]);
		sqlite3_bind_text(ev, 3, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ev, 4, "message", -1, SQLITE_STATIC);
		sqlite3_bind_text(ev, 5, user, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ev, 6, ts);
		sqlite3_bind_text(ev, 7, json, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ev, 8, msg_nos[c]);
		sqlite3_bind_int64(ev, 9, own[c * O.members + k]);
		check(sqlite3_step(ev), db, "message");
		if(i > 0 && i % 100000 == 0) {
			check(sqlite3_exec(db, "COMMIT; BEGIN", NULL, NULL, NULL), db, "commit");
			fprintf(stderr, "generated %ld messages (%.0f s of CPU)\n", i,
				(double)clock() / CLOCKS_PER_SEC - started);
		}
	}
	check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
	sqlite3_finalize(ev);
	sqlite3_finalize(ch);
	sqlite3_finalize(mem);
	sqlite3_finalize(usr);
	check(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), db, "checkpoint");
	sqlite3_close(db);
	printf("RESULT generate.cpu_s %.1f\n", (double)clock() / CLOCKS_PER_SEC - started);
	free(heads);
	free(msg_nos);
	free(own);
	return 0;
}


/* ---- clients ------------------------------------------------------------------------------------ */

struct client {
	struct mosquitto *mosq;
	char id[32], reply_topic[64];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	long replies;  /* replies received */
	long failures; /* replies that were not ok */
	long results;  /* results in the last search reply */
	bool connected;
};


static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static void on_connect(struct mosquitto *mosq, void *arg, int rc)
{
	struct client *c = arg;
	if(rc == 0) {
		mosquitto_subscribe(mosq, NULL, c->reply_topic, 1);
	}
}


static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted)
{
	struct client *c = arg;
	(void)mosq;
	(void)mid;
	(void)n;
	(void)granted;
	pthread_mutex_lock(&c->lock);
	c->connected = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}


static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m)
{
	struct client *c = arg;
	const char *p = m->payload;
	long results = 0;
	(void)mosq;

	for(const char *q = p ? strstr(p, "\"seq\":") : NULL; q; q = strstr(q + 1, "\"seq\":")) {
		results++;
	}
	pthread_mutex_lock(&c->lock);
	c->replies++;
	if(p == NULL || strncmp(p, "{\"ok\":true", 10) != 0) {
		c->failures++;
		if(c->failures < 5) {
			fprintf(stderr, "error reply: %.*s\n", m->payloadlen > 300 ? 300 : m->payloadlen,
				p ? p : "");
		}
	}
	c->results = results;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}


static struct client *client_new(const char *user)
{
	struct client *c = calloc(1, sizeof(*c));
	double deadline = now_s() + 10;

	snprintf(c->id, sizeof(c->id), "%s-bench", user);
	snprintf(c->reply_topic, sizeof(c->reply_topic), "chat/_reply/%s", c->id);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->mosq = mosquitto_new(c->id, true, c);
	mosquitto_username_pw_set(c->mosq, user, NULL);
	mosquitto_connect_callback_set(c->mosq, on_connect);
	mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
	mosquitto_message_callback_set(c->mosq, on_message);
	mosquitto_max_inflight_messages_set(c->mosq, 0);
	if(mosquitto_connect(c->mosq, "127.0.0.1", O.port, 60) != MOSQ_ERR_SUCCESS
	   || mosquitto_loop_start(c->mosq) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "cannot connect to port %d\n", O.port);
		exit(1);
	}
	pthread_mutex_lock(&c->lock);
	while(!c->connected && now_s() < deadline) {
		pthread_mutex_unlock(&c->lock);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	if(!c->connected) {
		fprintf(stderr, "%s: no SUBACK\n", user);
		exit(1);
	}
	return c;
}


static void client_free(struct client *c)
{
	mosquitto_disconnect(c->mosq);
	mosquitto_loop_stop(c->mosq, false);
	mosquitto_destroy(c->mosq);
	free(c);
}


/* Waits until c has more than `replies` replies, up to 30 s. */
static bool wait_replies(struct client *c, long replies)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&c->lock);
	while(c->replies <= replies) {
		if(pthread_cond_timedwait(&c->cond, &c->lock, &until) != 0) {
			break;
		}
	}
	ok = c->replies > replies;
	pthread_mutex_unlock(&c->lock);
	return ok;
}


/* ---- search ------------------------------------------------------------------------------------- */

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}


static void query_of(int kind, uint64_t *s, char *out)
{
	char w1[24], w2[24];
	int ranks[MAX_BODY];

	switch(kind) {
	case 0:
		word_of_rank((int)(rng_next(s) % RANK_POOL), w1);
		sprintf(out, "%s", w1);
		break;
	case 1:
		word_of_rank((int)(rng_next(s) % RANK_POOL), w1);
		word_of_rank((int)(rng_next(s) % RANK_POOL), w2);
		sprintf(out, "%s %s", w1, w2);
		break;
	case 2: {
		int n = body_of((long)(rng_next(s) % (uint64_t)O.messages), ranks, NULL);
		int j = (int)(rng_next(s) % (uint64_t)(n - 1));
		word_of_rank(ranks[j], w1);
		word_of_rank(ranks[j + 1], w2);
		sprintf(out, "\\\"%s %s\\\"", w1, w2);
		break;
	}
	case 3:
		do {
			word_of_rank((int)(rng_next(s) % RANK_POOL), w1);
		} while(strlen(w1) < 4);
		sprintf(out, "%.3s*", w1);
		break;
	default:
		word_of_rank(0, w1);
		sprintf(out, "%s", w1);
	}
}


static int search(void)
{
	static const char *kinds[] = {"word1", "word2", "phrase", "prefix", "top_word"};
	struct client *clients[SEARCH_CLIENTS];
	double *lat = malloc(sizeof(double) * (size_t)O.queries);
	uint64_t s = 7;
	int failed = 0;

	zipf_init();
	for(int i = 0; i < SEARCH_CLIENTS; i++) {
		char user[16];
		snprintf(user, sizeof(user), "u%03d", i);
		clients[i] = client_new(user);
	}
	for(int kind = 0; kind < 5; kind++) {
		double results = 0;
		/* a tenth more as warm-up, not counted */
		for(long q = -O.queries / 10; q < O.queries; q++) {
			struct client *c = clients[rng_next(&s) % SEARCH_CLIENTS];
			char query[128], payload[256];
			long before;
			double t0;
			query_of(kind, &s, query);
			snprintf(payload, sizeof(payload),
				 "{\"op\":\"search\",\"query\":\"%s\",\"limit\":20}", query);
			pthread_mutex_lock(&c->lock);
			before = c->replies;
			pthread_mutex_unlock(&c->lock);
			t0 = now_s();
			mosquitto_publish(c->mosq, NULL, "chat/_api", (int)strlen(payload), payload, 1,
					  false);
			if(!wait_replies(c, before)) {
				fprintf(stderr, "no reply to %s\n", payload);
				return 1;
			}
			if(q >= 0) {
				lat[q] = (now_s() - t0) * 1000;
				results += (double)c->results;
			}
		}
		qsort(lat, (size_t)O.queries, sizeof(double), by_double);
		printf("RESULT search.%s.p50_ms %.2f\n", kinds[kind], lat[O.queries / 2]);
		printf("RESULT search.%s.p99_ms %.2f\n", kinds[kind], lat[(O.queries * 99) / 100]);
		printf("RESULT search.%s.max_ms %.2f\n", kinds[kind], lat[O.queries - 1]);
		printf("RESULT search.%s.mean_results %.1f\n", kinds[kind], results / (double)O.queries);
	}
	for(int i = 0; i < SEARCH_CLIENTS; i++) {
		failed += clients[i]->failures > 0;
		client_free(clients[i]);
	}
	free(lat);
	return failed ? 1 : 0;
}


/* ---- acknowledged sends ------------------------------------------------------------------------- */

static int sends(void)
{
	struct client *c;
	char body[MAX_BODY * 24], payload[MAX_BODY * 24 + 128];
	int ranks[MAX_BODY];
	double t0, elapsed;
	long sent = 0;

	zipf_init();
	c = client_new("u000");
	t0 = now_s();
	while(sent < O.sends_n) {
		pthread_mutex_lock(&c->lock);
		while(sent - c->replies >= O.inflight) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 30;
			if(pthread_cond_timedwait(&c->cond, &c->lock, &until) != 0) {
				pthread_mutex_unlock(&c->lock);
				fprintf(stderr, "acks stopped at %ld of %ld\n", c->replies, sent);
				return 1;
			}
		}
		pthread_mutex_unlock(&c->lock);
		/* bodies from another range than the generated history's */
		body_of(O.messages + sent, ranks, body);
		snprintf(payload, sizeof(payload), "{\"client_msg_id\":\"b-%.0f-%ld\",\"body\":\"%s\"}",
			 t0 * 1e3, sent, body);
		mosquitto_publish(c->mosq, NULL, "chat/c0000", (int)strlen(payload), payload, 1, false);
		sent++;
	}
	if(!wait_replies(c, O.sends_n - 1)) {
		fprintf(stderr, "missing acks\n");
		return 1;
	}
	elapsed = now_s() - t0;
	printf("RESULT sends.inflight%d.acks_per_s %.0f\n", O.inflight, (double)O.sends_n / elapsed);
	if(c->failures) {
		fprintf(stderr, "%ld sends refused\n", c->failures);
		return 1;
	}
	client_free(c);
	return 0;
}


int main(int argc, char **argv)
{
	for(int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if(strcmp(k, "--search") == 0) {
			O.search = true;
			continue;
		}
		if(strcmp(k, "--sends") == 0) {
			O.sends = true;
			continue;
		}
		if(v == NULL) {
			fprintf(stderr, "%s needs a value\n", k);
			return 2;
		}
		i++;
		if(strcmp(k, "--generate") == 0) {
			O.generate = v;
		} else if(strcmp(k, "--port") == 0) {
			O.port = atoi(v);
		} else if(strcmp(k, "--messages") == 0) {
			O.messages = atol(v);
		} else if(strcmp(k, "--queries") == 0) {
			O.queries = atol(v);
		} else if(strcmp(k, "--sends-n") == 0) {
			O.sends_n = atol(v);
		} else if(strcmp(k, "--inflight") == 0) {
			O.inflight = atoi(v);
		} else if(strcmp(k, "--users") == 0) {
			O.users = atoi(v);
		} else if(strcmp(k, "--channels") == 0) {
			O.channels = atoi(v);
		} else if(strcmp(k, "--members") == 0) {
			O.members = atoi(v);
		} else if(strcmp(k, "--vocab") == 0) {
			O.vocab = atoi(v);
		} else {
			fprintf(stderr, "unknown option %s\n", k);
			return 2;
		}
	}
	if(O.generate) {
		zipf_init();
		return generate();
	}
	mosquitto_lib_init();
	if(O.search) {
		return search();
	}
	if(O.sends) {
		return sends();
	}
	fprintf(stderr,
		"usage: mqchat_search_bench --generate DB [sizes] | --search --port P | --sends --port P\n");
	return 2;
}
