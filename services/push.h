/*
 * push.h - push hand-off (docs/protocol.md, "Push"): the pushers ops, and handing committed messages
 * to the push worker (push_worker.h).
 *
 * With plugin_opt_push_gateway set, send.c calls chat_push__hand_off for every message it appends:
 * for each member but the author who has no device connected (presence.h) and has a pusher, a row per
 * pusher goes into push_queue in the message's own transaction (push_store.h, which also applies the
 * member's notification level, notify.h), replacing what waited for that pusher and channel. After
 * the commit, the tick wakes the worker. Without the option nothing is handed off and no thread runs.
 *
 * Metrics: struct chat_push_counters (push_worker.h), at plugin->push->counters, atomics; the tick
 * copies "pending" and "failed" into plugin->metrics.push_pending / push_failed for $SYS.
 */
#ifndef CHAT_PUSH_H
#define CHAT_PUSH_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "chat.h"
#include "errors.h"
#include "push_worker.h"

#define CHAT_PUSH_APP_ID_MAX  64
#define CHAT_PUSH_PUSHKEY_MAX 512

struct chat_push_user;
struct chat_push_enqueuer;

struct chat_push {
	struct chat_push_counters counters;  /* read by any thread */
	struct chat_push_worker *worker;     /* NULL until the first tick, or without push_gateway */
	struct chat_push_enqueuer *enqueuer; /* the hand-off statement, prepared at the first use */
	struct chat_push_user *users;        /* who has a pusher: only they are handed anything */
	bool loaded;                         /* users read from the store */
	bool handed_off;                     /* rows written since the last wake */
	bool broken;                         /* the worker cannot start: said once in the log */
	uint64_t overflow_logged;            /* counters.overflow when it was last logged */
	int64_t next_overflow_log_ms;        /* monotonic: not before */
};

/* The ops {"op":"pusher_set","app_id":A,"pushkey":K,"data":{...}}, {"op":"pusher_delete",
 * "pushkey":K} and {"op":"pushers"}, for user. Fill reply ("pushkey"; "pushers":[{app_id, pushkey,
 * pushkey_ts, data?}], "deleted"). The open group commit must have been committed (the route table does it).
 * Return CHAT_ERR_OK, bad_request (app_id not 1-64 characters, pushkey not 1-512, data not an
 * object: nothing stored) or unavailable. pusher_delete is idempotent: "deleted" says whether there
 * was one. */
enum chat_err chat_push__set(struct chat_plugin *plugin, const char *user, const cJSON *request, cJSON *reply,
			     struct chat_error *err);
enum chat_err chat_push__delete(struct chat_plugin *plugin, const char *user, const cJSON *request,
				cJSON *reply, struct chat_error *err);
enum chat_err chat_push__list(struct chat_plugin *plugin, const char *user, cJSON *reply,
			      struct chat_error *err);

/* Inside the open batch, right after message seq of ch by author was appended: hands it off (see
 * above). Does nothing without push_gateway. A store error is logged and the message goes on without
 * its pushes (it is not worth refusing a send for). */
void chat_push__hand_off(struct chat_plugin *plugin, const struct chat_channel *ch, int64_t seq,
			 const char *author);

/* The tick: starts the worker the first time, wakes it once what was handed off is committed, logs
 * what it reports, copies the counters into plugin->metrics. */
void chat_push__tick(struct chat_plugin *plugin);

/* Stops the worker and frees everything (NULL is ignored). Before the store closes. */
void chat_push__free(struct chat_push *push);

#endif
