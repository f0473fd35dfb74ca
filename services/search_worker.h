/*
 * search_worker.h - the thread that keeps the search index (store/search_store.h) and runs searches.
 *
 * The broker's thread never touches the index. It tells the worker how many group commits it has
 * made (chat_search_worker__committed, after each one), and hands it searches (jobs) stamped with the
 * commit count at the time of the request. The worker indexes in batches: after a commit it waits
 * batch_ms for more to gather (one FTS5 segment write for all of them), reads the events above its
 * watermarks through its read-only view of the log, and writes them in one transaction of the index.
 * A job runs once the index holds every commit up to its stamp, so a search sent after a send's ack
 * finds the message; a job that has waited wait_ms runs on what is indexed then (the bound
 * docs/protocol.md documents). Finished jobs go on a list the broker's tick drains.
 */
#ifndef CHAT_SEARCH_WORKER_H
#define CHAT_SEARCH_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "search_store.h"

struct chat_search_worker;

struct chat_search_job {
	struct chat_search_job *next; /* the worker's lists */
	int64_t stamp;                /* the commit count when asked: run once indexed up to it */
	int64_t deadline_ms;          /* monotonic: run then on what is indexed, whatever the stamp */
	bool behind; /* set by the worker as it runs the job: the deadline came first (the index lags) */
	/* runs the search on the worker's thread, filling the job's answer (its owner's part) */
	void (*run)(struct chat_search_db *db, struct chat_search_job *job);
	void *owner; /* the submitter's part of the job (services/search.c) */
};

struct chat_search_worker_options {
	const char *database; /* the log's path; the index is beside it */
	int64_t batch_ms;     /* how long a commit waits for others before it is indexed */
	int64_t wait_ms;      /* how long a search waits for the index to catch up */
	int64_t tidy_ms;      /* how often gone and pruned channels' documents are looked for */
	unsigned queue_max;   /* searches waiting or running, at most */
	/* called on the worker's thread when jobs are done: turns the broker's loop so its tick takes
	 * them now rather than at its next idle wake-up (up to 100 ms later) */
	void (*on_done)(void);
};

/* Lag of the index behind the log, in ms: from a commit's report to the end of the pass that indexed
 * it, over the passes so far (a few hundred buckets, so a percentile is within a few %). */
struct chat_search_lag {
	int64_t passes, p50_ms, p99_ms, max_ms;
};

/* Starts the thread (which opens the index and catches up with the log). 0, or -1 with err. */
int chat_search_worker__start(const struct chat_search_worker_options *opts, struct chat_search_worker **out,
			      char *err, size_t err_len);

/* Stops the thread (a pass in progress finishes), frees the worker and the jobs still in it. */
void chat_search_worker__stop(struct chat_search_worker *w, void (*free_job)(struct chat_search_job *));

/* Reports that the broker has made commits group commits so far, and that channels[0..n) (rowids)
 * had events appended in some of them (or will have, in the commit about to be made); wakes the
 * worker. Commits whose channels go unnamed are found by the worker's passes over every channel. */
void chat_search_worker__committed(struct chat_search_worker *w, int64_t commits, const int64_t *channels,
				   size_t n);

/* Queues job (the worker owns it until it comes back from take_done). false, the job still the
 * caller's, when queue_max jobs are already in. */
bool chat_search_worker__submit(struct chat_search_worker *w, struct chat_search_job *job);

/* The jobs done since the last call, oldest first (the caller owns them), or NULL. */
struct chat_search_job *chat_search_worker__take_done(struct chat_search_worker *w);

/* Jobs submitted and not yet taken back with take_done. */
unsigned chat_search_worker__jobs(struct chat_search_worker *w);

/* Copies the last failure (opening the index, a pass, a tidy) into out if it was not reported yet. */
bool chat_search_worker__failure(struct chat_search_worker *w, char *out, size_t out_len);

void chat_search_worker__lag(struct chat_search_worker *w, struct chat_search_lag *out);

#endif
