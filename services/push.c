/*
 * push.c - pushers ops and the hand-off of messages to the push worker (see push.h).
 *
 * Cost on the send path, push_gateway set: per message, one pass over the channel's members or over
 * the users with a pusher, whichever is smaller (in memory); for each offline one, a look in the
 * worker's set of (user, channel) with a row waiting, and only when none waits one prepared
 * statement. While a notification waits (the gateway is slow or down, or a member is away through
 * a busy conversation) later messages cost no write at all: the waiting row stands for the newest
 * eligible message, which the worker looks up when it posts (push_store.h). Without push_gateway:
 * one test.
 *
 * The queue is bounded by plugin_opt_push_queue_max rows, as counted by the worker after each round
 * (and by what was written since): a hand-off finding it full is not written, counted in
 * counters.overflow and logged (at most every OVERFLOW_LOG_MS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "batch.h"
#include "broker.h"
#include "clock.h"
#include "json_fields.h"
#include "presence.h"
#include "push.h"
#include "push_store.h"

#define GIVE_UP_MS      (24LL * 3600 * 1000)
#define MAX_BACKOFF_MS  (10LL * 60 * 1000)
#define OVERFLOW_LOG_MS 10000 /* a full queue is logged at most this often */
#define WORKER_BUSY_MS  10000 /* the push thread may wait this long for the write lock */

struct chat_push_user {
	UT_hash_handle hh;
	char name[];
};


static int remember_user(const char *user, void *arg)
{
	struct chat_push *push = arg;
	struct chat_push_user *u;
	size_t len = strlen(user);

	HASH_FIND(hh, push->users, user, len, u);
	if(u != NULL) {
		return 0;
	}
	u = malloc(sizeof(*u) + len + 1);
	if(u == NULL) {
		return -1;
	}
	memcpy(u->name, user, len + 1);
	HASH_ADD(hh, push->users, name[0], len, u);
	return 0;
}


static bool has_pusher(const struct chat_push *push, const char *user)
{
	struct chat_push_user *u;

	HASH_FIND(hh, push->users, user, strlen(user), u);
	return u != NULL;
}


static bool enabled(const struct chat_plugin *plugin)
{
	return plugin->push != NULL && plugin->store != NULL && plugin->config.push_gateway != NULL;
}


/* Reads who has pushers and prepares the hand-off statement, once. */
static enum chat_err ready(struct chat_plugin *plugin, struct chat_error *err)
{
	struct chat_push *push = plugin->push;

	if(push->loaded) {
		return CHAT_ERR_OK;
	}
	if(chat_push_store__each_user(plugin->store, remember_user, push, err) != CHAT_ERR_OK
	   || chat_push_enqueuer__new(plugin->store, &push->enqueuer, err) != CHAT_ERR_OK) {
		return err->code;
	}
	push->loaded = true;
	return CHAT_ERR_OK;
}


enum chat_err chat_push__set(struct chat_plugin *plugin, const char *user, const cJSON *request, cJSON *reply,
			     struct chat_error *err)
{
	const char *app_id = NULL, *pushkey = NULL;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(request, "data");
	char *data_json = NULL;
	enum chat_err rc;

	if(chat_json__string(request, "app_id", true, 1, CHAT_PUSH_APP_ID_MAX, &app_id, err) != CHAT_ERR_OK
	   || chat_json__string(request, "pushkey", true, 1, CHAT_PUSH_PUSHKEY_MAX, &pushkey, err)
		      != CHAT_ERR_OK) {
		return err->code;
	}
	if(data != NULL && !cJSON_IsNull(data)) {
		if(!cJSON_IsObject(data)) {
			return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "data must be an object");
		}
		if((data_json = cJSON_PrintUnformatted(data)) == NULL) {
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
	}
	rc = chat_push_store__set(plugin->store, user, app_id, pushkey, data_json,
				  chat_clock__wall_ms() / 1000, err);
	free(data_json);
	if(rc != CHAT_ERR_OK) {
		return rc;
	}
	/* before the next hand-off (the set is only read at the first one) */
	if(plugin->push != NULL && plugin->push->loaded && remember_user(user, plugin->push) != 0) {
		plugin->push->loaded = false; /* read again from the store next time */
	}
	if(cJSON_AddStringToObject(reply, "pushkey", pushkey) == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_push__delete(struct chat_plugin *plugin, const char *user, const cJSON *request,
				cJSON *reply, struct chat_error *err)
{
	const char *pushkey = NULL;
	bool found = false;

	/* users stay in push->users: one with no pusher left costs a statement that finds nothing */
	if(chat_json__string(request, "pushkey", true, 1, CHAT_PUSH_PUSHKEY_MAX, &pushkey, err) != CHAT_ERR_OK
	   || chat_push_store__delete(plugin->store, user, pushkey, &found, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(cJSON_AddStringToObject(reply, "pushkey", pushkey) == NULL
	   || cJSON_AddBoolToObject(reply, "deleted", found) == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return CHAT_ERR_OK;
}


static int add_pusher(const char *app_id, const char *pushkey, const char *data, int64_t ts_s, void *arg)
{
	cJSON *list = arg, *p = cJSON_CreateObject(), *d = data ? cJSON_Parse(data) : NULL;

	if(p == NULL || !cJSON_AddItemToArray(list, p)) {
		cJSON_Delete(p);
		cJSON_Delete(d);
		return -1;
	}
	if(cJSON_AddStringToObject(p, "app_id", app_id) == NULL
	   || cJSON_AddStringToObject(p, "pushkey", pushkey) == NULL
	   || cJSON_AddNumberToObject(p, "pushkey_ts", (double)ts_s) == NULL
	   || (d != NULL && !cJSON_AddItemToObject(p, "data", d))) {
		cJSON_Delete(d);
		return -1;
	}
	return 0;
}


enum chat_err chat_push__list(struct chat_plugin *plugin, const char *user, cJSON *reply,
			      struct chat_error *err)
{
	cJSON *list = cJSON_AddArrayToObject(reply, "pushers");

	if(list == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return chat_push_store__list(plugin->store, user, add_pusher, list, err);
}


static void hand_off_to(struct chat_plugin *plugin, const struct chat_channel *ch, int64_t seq,
			const char *user, int64_t now)
{
	struct chat_push *push = plugin->push;
	struct chat_error err = {0};
	int queued = 0;

	if(chat_presence__online(plugin, user)) {
		return;
	}
	if(push->worker != NULL && chat_push_worker__is_waiting(push->worker, user, ch->rowid, now)) {
		return; /* the row waiting stands for this message too (push_store.h) */
	}
	if(atomic_load(&push->counters.pending) >= plugin->config.push_queue_max) {
		atomic_fetch_add(&push->counters.overflow, 1);
		return;
	}
	if(chat_push_enqueuer__add(push->enqueuer, ch->rowid, seq, user, now, &queued, &err) != CHAT_ERR_OK) {
		chat_broker__log(CHAT_LOG_WARNING, "push: message %lld of #%s not handed off to %s: %s",
				 (long long)seq, ch->name, user, err.message);
		return;
	}
	if(queued > 0) {
		if(push->worker != NULL) {
			chat_push_worker__set_waiting(push->worker, user, ch->rowid, now);
		}
		push->handed_off = true;
		/* the worker recounts after each round; until then, count what may be new */
		atomic_fetch_add(&push->counters.pending, queued);
	}
}


void chat_push__hand_off(struct chat_plugin *plugin, const struct chat_channel *ch, int64_t seq,
			 const char *author)
{
	struct chat_push *push = plugin->push;
	struct chat_error err = {0};
	int64_t now;

	if(!enabled(plugin)) {
		return;
	}
	if(ready(plugin, &err) != CHAT_ERR_OK) {
		chat_broker__log(CHAT_LOG_WARNING, "push: message %lld of #%s not handed off: %s",
				 (long long)seq, ch->name, err.message);
		return;
	}
	now = chat_clock__wall_ms();
	if(HASH_COUNT(push->users) < HASH_COUNT(ch->members)) {
		struct chat_push_user *u, *tmp;

		HASH_ITER(hh, push->users, u, tmp) {
			if(strcmp(u->name, author) != 0 && chat_index__member(ch, u->name) != NULL) {
				hand_off_to(plugin, ch, seq, u->name, now);
			}
		}
	} else {
		struct chat_member *m, *tmp;

		HASH_ITER(hh, ch->members, m, tmp) {
			if(strcmp(m->user, author) != 0 && has_pusher(push, m->user)) {
				hand_off_to(plugin, ch, seq, m->user, now);
			}
		}
	}
}


static void start_worker(struct chat_plugin *plugin)
{
	struct chat_push *push = plugin->push;
	const struct chat_config *c = &plugin->config;
	struct chat_push_worker_options opts = {
		.database = c->database,
		.url = c->push_gateway,
		.timeout_ms = (long)c->push_timeout_ms,
		.minimal = c->push_content == CHAT_PUSH_CONTENT_MINIMAL,
		.busy_timeout_ms = WORKER_BUSY_MS, /* waiting costs the push thread only */
		.give_up_ms = GIVE_UP_MS,
		.max_backoff_ms = MAX_BACKOFF_MS,
	};
	char err[256];

	if(chat_push_worker__start(&opts, &push->counters, &push->worker, err, sizeof(err)) != 0) {
		push->broken = true; /* notifications wait in the store for a restart */
		chat_broker__log(CHAT_LOG_ERR, "push: %s; notifications wait in the database", err);
		return;
	}
	chat_broker__log(CHAT_LOG_INFO, "push: delivering to %s (%s content)", c->push_gateway,
			 opts.minimal ? "minimal" : "full");
}


void chat_push__tick(struct chat_plugin *plugin)
{
	struct chat_push *push = plugin->push;
	uint64_t overflow;
	char msg[256];

	if(!enabled(plugin)) {
		return;
	}
	if(push->worker == NULL) {
		if(push->broken) {
			return;
		}
		start_worker(plugin);
		if(push->worker == NULL) {
			return;
		}
	}
	if(push->handed_off && !plugin->batch->open) {
		push->handed_off = false; /* committed: the worker's connection can see it */
		chat_push_worker__wake(push->worker);
	}
	if(chat_push_worker__take_error(push->worker, msg, sizeof(msg))) {
		chat_broker__log(CHAT_LOG_WARNING, "%s", msg);
	}
	overflow = atomic_load(&push->counters.overflow);
	if(overflow != push->overflow_logged && chat_clock__mono_ms() >= push->next_overflow_log_ms) {
		push->next_overflow_log_ms = chat_clock__mono_ms() + OVERFLOW_LOG_MS;
		chat_broker__log(CHAT_LOG_WARNING,
				 "push: queue full (push_queue_max %lld): %llu notifications "
				 "not queued so far",
				 (long long)plugin->config.push_queue_max, (unsigned long long)overflow);
		push->overflow_logged = overflow;
	}
	plugin->metrics.push_pending = (uint64_t)atomic_load(&push->counters.pending);
	plugin->metrics.push_failed = atomic_load(&push->counters.failed) + overflow;
}


void chat_push__free(struct chat_push *push)
{
	struct chat_push_user *u, *tmp;

	if(push == NULL) {
		return;
	}
	chat_push_worker__stop(push->worker);
	chat_push_enqueuer__free(push->enqueuer);
	HASH_ITER(hh, push->users, u, tmp) {
		HASH_DEL(push->users, u);
		free(u);
	}
	free(push);
}
