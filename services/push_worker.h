/*
 * push_worker.h - the thread that delivers push notifications (docs/protocol.md, "Push").
 *
 * It owns a SQLite connection of its own (push_store.h, struct chat_push_db) and a libcurl handle
 * (io/push_http.h). The broker's thread never waits for it: it writes hand-off rows in its own
 * transactions and, after they commit, calls chat_push_worker__wake, which only signals a condition
 * variable. The worker posts what is due, one notification at a time, and records each outcome in
 * one short transaction per round (2xx: done, "rejected" pushkeys deleted; no answer, timeout, 5xx:
 * due again after 1 s doubling to 10 min, for 24 h; other 4xx: dropped). It sleeps until the next
 * retry is due, a wake, or a second at most (commits not followed by a wake are found that way).
 *
 * Its counters are atomics, read by the broker's thread (services/push.c copies pending and failed
 * into struct chat_metrics for $SYS).
 */
#ifndef CHAT_PUSH_WORKER_H
#define CHAT_PUSH_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chat_push_counters {
	atomic_int_fast64_t pending;   /* notifications waiting, as of the worker's last round */
	atomic_uint_fast64_t sent;     /* posts answered 2xx */
	atomic_uint_fast64_t retries;  /* posts that will be tried again (no answer, timeout, 5xx) */
	atomic_uint_fast64_t failed;   /* notifications dropped: other 4xx, or 24 h of retries */
	atomic_uint_fast64_t rejected; /* pushers deleted because the gateway rejected their pushkey */
	atomic_uint_fast64_t overflow; /* hand-offs not queued because the queue was full (push.c) */
};

struct chat_push_worker_options {
	const char *database; /* the store's path */
	const char *url;      /* the gateway's notify URL */
	long timeout_ms;      /* per post */
	bool minimal;         /* push_content minimal: no "content", no "sender" */
	int busy_timeout_ms;
	int64_t give_up_ms;     /* retries stop this long after a notification was queued (24 h) */
	int64_t max_backoff_ms; /* retries every 1 s doubling to this (10 min) */
};

struct chat_push_worker;

/* Starts the thread. opts' strings are copied. counters must outlive the worker. Returns 0, or -1
 * with a message in err. */
int chat_push_worker__start(const struct chat_push_worker_options *opts, struct chat_push_counters *counters,
			    struct chat_push_worker **out, char *err, size_t err_len);

/* Something was committed to the queue: look now. Never blocks for long (a mutex held for a flag). */
void chat_push_worker__wake(struct chat_push_worker *w);

/* The last error the worker met (a failed post, a store error), copied into buf, if one happened
 * since the last call; returns whether one did. For the broker's thread to log. */
bool chat_push_worker__take_error(struct chat_push_worker *w, char *buf, size_t len);

/* Which (user, channel) have a row waiting, as far as the broker's thread wrote them: a later
 * message of the channel then needs no write of its own (the row stands for the newest eligible
 * message; push_store.h). The worker forgets a pair inside the transaction that deletes its last row,
 * before that commits. An entry older than CHAT_PUSH_WAITING_TTL_MS is not trusted: the rows may
 * have gone another way (pusher_delete, a leave), and the next message writes again.
 * is_waiting: whether a hand-off for user in channel may be skipped. set_waiting: after writing. */
#define CHAT_PUSH_WAITING_TTL_MS 10000
bool chat_push_worker__is_waiting(struct chat_push_worker *w, const char *user, int64_t channel,
				  int64_t now_ms);
void chat_push_worker__set_waiting(struct chat_push_worker *w, const char *user, int64_t channel,
				   int64_t now_ms);

/* Stops the thread (a post in progress is aborted) and frees everything. NULL is ignored. */
void chat_push_worker__stop(struct chat_push_worker *w);

/* The notification's JSON for d (Matrix Push Gateway API), malloc'd; NULL when out of memory or when
 * the event is gone or deleted (nothing to send). Exposed for tests. */
struct chat_push_due;
char *chat_push_worker__notification_json(const struct chat_push_due *d, bool minimal);

#endif
