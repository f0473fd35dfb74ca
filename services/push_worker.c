/*
 * push_worker.c - the push delivery thread (see push_worker.h).
 *
 * State transitions of a queue row (schema/0011_push.sql), all on this thread except the first:
 *   (none) --hand-off, broker thread--> due now
 *   due --2xx--> gone (its pusher too, if "rejected" names its pushkey)
 *   due --no answer, timeout, 5xx--> due in 1 s, 2 s, 4 s ... 10 min; gone (failed) after 24 h
 *   due --other status--> gone (failed)
 * A hand-off for the same (pusher, channel) while a post is in flight replaces seq; the worker then
 * deletes only "its" seq, so the newer one is still sent. A crash between a 2xx and the delete sends
 * that notification once more: that is the "unless the gateway failed to answer" of the contract,
 * widened to "unless the broker died in between".
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uthash.h>

#include "clock.h"
#include "push_http.h"
#include "push_store.h"
#include "push_worker.h"

#define ROUND_MAX   32   /* notifications posted per round, between two writes of their outcomes */
#define IDLE_MAX_MS 1000 /* the longest sleep: finds commits that came with no wake */
#define ERROR_LEN   256

/* A (user, channel) with a row waiting; key "<channel>:<user>". */
struct waiting {
	UT_hash_handle hh;
	int64_t since_ms; /* when the broker's thread last wrote it */
	char key[];
};

struct chat_push_worker {
	pthread_t thread;
	pthread_mutex_t waiting_lock;
	struct waiting *waiting; /* guarded by waiting_lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool kicked;           /* guarded by lock: a wake came */
	atomic_bool stop;      /* read by libcurl's progress callback too */
	char error[ERROR_LEN]; /* guarded by lock; "" when nothing new */
	struct chat_push_worker_options opts;
	char *database, *url;
	struct chat_push_counters *counters;
	struct chat_push_db *db;
	struct chat_push_http *http;
	struct chat_push_due due[ROUND_MAX];
};


static void note_error(struct chat_push_worker *w, const char *fmt, const char *a, const char *b)
{
	pthread_mutex_lock(&w->lock);
	snprintf(w->error, sizeof(w->error), fmt, a, b);
	pthread_mutex_unlock(&w->lock);
}


/* cJSON_AddStringToObject for a possibly absent string: absent adds nothing. */
static bool add_copy(cJSON *to, const char *name, const cJSON *from, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);

	return !cJSON_IsString(v) || cJSON_AddStringToObject(to, name, v->valuestring) != NULL;
}


char *chat_push_worker__notification_json(const struct chat_push_due *d, bool minimal)
{
	cJSON *event = d->event_json ? cJSON_Parse(d->event_json) : NULL;
	cJSON *root = cJSON_CreateObject(), *n, *content, *counts, *devices, *device, *data;
	char *json = NULL;

	if(event == NULL || root == NULL
	   || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(event, "deleted"))) {
		goto done;
	}
	if((n = cJSON_AddObjectToObject(root, "notification")) == NULL
	   || !add_copy(n, "event_id", event, "id") || cJSON_AddStringToObject(n, "room_id", d->room) == NULL
	   || cJSON_AddStringToObject(n, "type", "m.room.message") == NULL
	   || (!minimal && !add_copy(n, "sender", event, "from"))
	   || cJSON_AddStringToObject(n, "room_name", d->room) == NULL
	   || cJSON_AddStringToObject(n, "prio", "high") == NULL) {
		goto done;
	}
	if(!minimal
	   && ((content = cJSON_AddObjectToObject(n, "content")) == NULL
	       || cJSON_AddStringToObject(content, "msgtype", "m.text") == NULL
	       || !add_copy(content, "body", event, "body"))) {
		goto done;
	}
	if((counts = cJSON_AddObjectToObject(n, "counts")) == NULL
	   || cJSON_AddNumberToObject(counts, "unread", (double)d->unread) == NULL
	   || (devices = cJSON_AddArrayToObject(n, "devices")) == NULL
	   || (device = cJSON_CreateObject()) == NULL) {
		goto done;
	}
	cJSON_AddItemToArray(devices, device);
	data = d->data ? cJSON_Parse(d->data) : cJSON_CreateObject();
	if(data == NULL || cJSON_AddStringToObject(device, "app_id", d->app_id) == NULL
	   || cJSON_AddStringToObject(device, "pushkey", d->pushkey) == NULL
	   || cJSON_AddNumberToObject(device, "pushkey_ts", (double)d->pushkey_ts) == NULL
	   || !cJSON_AddItemToObject(device, "data", data)) {
		cJSON_Delete(data);
		goto done;
	}
	json = cJSON_PrintUnformatted(root);
done:
	cJSON_Delete(event);
	cJSON_Delete(root);
	return json;
}


/* Whether a 2xx answer's "rejected" list names pushkey. */
static bool names_pushkey(const char *body, const char *pushkey)
{
	cJSON *answer = body ? cJSON_Parse(body) : NULL;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(answer, "rejected"), *item;
	bool found = false;

	cJSON_ArrayForEach(item, list) {
		if(cJSON_IsString(item) && strcmp(item->valuestring, pushkey) == 0) {
			found = true;
		}
	}
	cJSON_Delete(answer);
	return found;
}


static int64_t backoff_ms(const struct chat_push_worker *w, int64_t attempts)
{
	int64_t ms = 1000;

	for(int64_t i = 0; i < attempts && ms < w->opts.max_backoff_ms; i++) {
		ms *= 2;
	}
	return ms < w->opts.max_backoff_ms ? ms : w->opts.max_backoff_ms;
}


static size_t key_of(char *buf, size_t len, const char *user, int64_t channel)
{
	int n = snprintf(buf, len, "%lld:%s", (long long)channel, user);

	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}


bool chat_push_worker__is_waiting(struct chat_push_worker *w, const char *user, int64_t channel,
				  int64_t now_ms)
{
	char key[600];
	size_t len = key_of(key, sizeof(key), user, channel);
	struct waiting *e;
	bool fresh;

	pthread_mutex_lock(&w->waiting_lock);
	HASH_FIND(hh, w->waiting, key, len, e);
	fresh = e != NULL && now_ms - e->since_ms < CHAT_PUSH_WAITING_TTL_MS;
	pthread_mutex_unlock(&w->waiting_lock);
	return fresh;
}


void chat_push_worker__set_waiting(struct chat_push_worker *w, const char *user, int64_t channel,
				   int64_t now_ms)
{
	char key[600];
	size_t len = key_of(key, sizeof(key), user, channel);
	struct waiting *e;

	pthread_mutex_lock(&w->waiting_lock);
	HASH_FIND(hh, w->waiting, key, len, e);
	if(e == NULL && (e = malloc(sizeof(*e) + len + 1)) != NULL) {
		memcpy(e->key, key, len + 1);
		HASH_ADD(hh, w->waiting, key[0], len, e);
	}
	if(e != NULL) {
		e->since_ms = now_ms; /* out of memory: not remembered, so the next message writes again */
	}
	pthread_mutex_unlock(&w->waiting_lock);
}


/* chat_push_cleared_cb: inside the worker's transaction, before its COMMIT. */
static void forget_waiting(const char *user, int64_t channel, void *arg)
{
	struct chat_push_worker *w = arg;
	char key[600];
	size_t len = key_of(key, sizeof(key), user, channel);
	struct waiting *e;

	pthread_mutex_lock(&w->waiting_lock);
	HASH_FIND(hh, w->waiting, key, len, e);
	if(e != NULL) {
		HASH_DEL(w->waiting, e);
		free(e);
	}
	pthread_mutex_unlock(&w->waiting_lock);
}


/* Posts d and says what became of it. */
static enum chat_push_outcome post_one(struct chat_push_worker *w, const struct chat_push_due *d,
				       int64_t *retry_at, bool *rejected)
{
	char *json = chat_push_worker__notification_json(d, w->opts.minimal), *body = NULL;
	char error[ERROR_LEN] = "";
	long status;

	*rejected = false;
	if(json == NULL) {
		return CHAT_PUSH_DONE; /* the message is gone or deleted: nothing to tell */
	}
	status = chat_push_http__post(w->http, json, strlen(json), &body, error, sizeof(error));
	free(json);
	if(status >= 200 && status < 300) {
		*rejected = names_pushkey(body, d->pushkey);
		free(body);
		atomic_fetch_add(&w->counters->sent, 1);
		atomic_fetch_add(&w->counters->rejected, *rejected ? 1 : 0);
		return CHAT_PUSH_DONE;
	}
	free(body);
	if(status != 0 && status < 500) {
		snprintf(error, sizeof(error), "HTTP %ld", status);
		note_error(w, "push gateway refused a notification (%s), dropped: %s", error, w->url);
		atomic_fetch_add(&w->counters->failed, 1);
		return CHAT_PUSH_DROP;
	}
	if(status >= 500) {
		snprintf(error, sizeof(error), "HTTP %ld", status);
	}
	*retry_at = chat_clock__wall_ms() + backoff_ms(w, d->attempts);
	if(*retry_at - d->first_ms > w->opts.give_up_ms) {
		note_error(w, "push gateway failing (%s), a notification dropped after retrying: %s", error,
			   w->url);
		atomic_fetch_add(&w->counters->failed, 1);
		return CHAT_PUSH_DROP;
	}
	note_error(w, "push gateway failing (%s), will retry: %s", error, w->url);
	atomic_fetch_add(&w->counters->retries, 1);
	return CHAT_PUSH_RETRY;
}


/* One round: what is due now, posted, outcomes written. Returns the number posted, or -1. */
static int round_once(struct chat_push_worker *w, int64_t *next_due_ms)
{
	enum chat_push_outcome outcome[ROUND_MAX];
	int64_t retry_at[ROUND_MAX] = {0}, pending = 0;
	bool rejected[ROUND_MAX], failed = false;
	size_t n = 0;

	*next_due_ms = INT64_MAX;
	if(chat_push_db__due(w->db, chat_clock__wall_ms(), w->due, ROUND_MAX, &n) != 0) {
		note_error(w, "push: cannot read the queue%s%s", "", "");
		return -1;
	}
	for(size_t i = 0; i < n; i++) {
		if(atomic_load(&w->stop)) {
			/* what was not posted stays due; what was, is recorded below */
			n = i;
			break;
		}
		outcome[i] = post_one(w, &w->due[i], &retry_at[i], &rejected[i]);
	}
	if(n > 0
	   && chat_push_db__apply(w->db, w->due, outcome, retry_at, rejected, n, forget_waiting, w) != 0) {
		note_error(w, "push: cannot record deliveries%s%s (they may be sent again)", "", "");
		failed = true; /* not at once: they would be posted again in a loop */
	}
	for(size_t i = 0; i < ROUND_MAX; i++) {
		chat_push_due__clear(&w->due[i]);
	}
	if(chat_push_db__pending(w->db, &pending, next_due_ms) == 0) {
		atomic_store(&w->counters->pending, pending);
	}
	return failed ? -1 : (int)n;
}


static void *run(void *arg)
{
	struct chat_push_worker *w = arg;
	int64_t next_due = 0; /* look at once: notifications may wait from before a restart */

	pthread_mutex_lock(&w->lock);
	while(!atomic_load(&w->stop)) {
		int64_t wait = next_due - chat_clock__wall_ms();
		int posted;

		if(!w->kicked && wait > 0) {
			struct timespec deadline =
				chat_clock__mono_deadline(wait < IDLE_MAX_MS ? wait : IDLE_MAX_MS);
			int rc = 0;

			while(!w->kicked && !atomic_load(&w->stop) && rc != ETIMEDOUT) {
				rc = pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
			}
		}
		if(atomic_load(&w->stop)) {
			break;
		}
		w->kicked = false;
		pthread_mutex_unlock(&w->lock);
		posted = round_once(w, &next_due);
		if(posted < 0) {
			next_due = chat_clock__wall_ms() + IDLE_MAX_MS;
		}
		pthread_mutex_lock(&w->lock);
		if(posted == ROUND_MAX) {
			w->kicked = true; /* a full round: more may be due */
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}


static void free_worker(struct chat_push_worker *w)
{
	struct waiting *e, *tmp;

	HASH_ITER(hh, w->waiting, e, tmp) {
		HASH_DEL(w->waiting, e);
		free(e);
	}
	pthread_mutex_destroy(&w->waiting_lock);
	chat_push_http__free(w->http);
	chat_push_db__close(w->db);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->database);
	free(w->url);
	free(w);
}


int chat_push_worker__start(const struct chat_push_worker_options *opts, struct chat_push_counters *counters,
			    struct chat_push_worker **out, char *err, size_t err_len)
{
	struct chat_push_worker *w = calloc(1, sizeof(*w));

	*out = NULL;
	if(w == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->waiting_lock, NULL);
	(void)chat_clock__cond_init(&w->cond);
	atomic_init(&w->stop, false);
	w->opts = *opts;
	w->counters = counters;
	w->database = strdup(opts->database);
	w->url = strdup(opts->url);
	if(w->database == NULL || w->url == NULL) {
		snprintf(err, err_len, "out of memory");
		free_worker(w);
		return -1;
	}
	if(chat_push_db__open(w->database, opts->busy_timeout_ms, &w->db, err, err_len) != 0) {
		free_worker(w);
		return -1;
	}
	w->http = chat_push_http__new(w->url, opts->timeout_ms, &w->stop);
	if(w->http == NULL) {
		snprintf(err, err_len, "cannot start libcurl for push");
		free_worker(w);
		return -1;
	}
	if(pthread_create(&w->thread, NULL, run, w) != 0) {
		snprintf(err, err_len, "cannot start the push thread");
		free_worker(w);
		return -1;
	}
	*out = w;
	return 0;
}


void chat_push_worker__wake(struct chat_push_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->kicked = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}


bool chat_push_worker__take_error(struct chat_push_worker *w, char *buf, size_t len)
{
	bool any;

	pthread_mutex_lock(&w->lock);
	any = w->error[0] != '\0';
	if(any) {
		snprintf(buf, len, "%s", w->error);
		w->error[0] = '\0';
	}
	pthread_mutex_unlock(&w->lock);
	return any;
}


void chat_push_worker__stop(struct chat_push_worker *w)
{
	if(w == NULL) {
		return;
	}
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->stop, true);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	free_worker(w);
}
