/*
 * search_worker.c - the search index's thread (see search_worker.h).
 *
 * One thread, one mutex. Under the lock: the commit count the broker reported and the one indexed,
 * the jobs waiting and the jobs done. The thread, in a loop, first runs the jobs that may run (the
 * index has their stamp, or their deadline came), then indexes when there is something to index and
 * either a job waits for it, a catch-up is under way, or the oldest unindexed commit has waited
 * batch_ms; otherwise it tidies when that is due, merges the index after a long idle time that
 * followed deletes, or sleeps until the next of those moments. Everything touching SQLite runs without
 * the lock. Nothing here logs (the broker's log is the broker thread's): the last failure is kept for
 * the tick to report (chat_search_worker__failure).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "background.h"
#include "clock.h"
#include "search_worker.h"

#define PASS_EVENTS   5000  /* events per indexing transaction: a catch-up yields to searches between */
#define RETRY_MS      1000  /* after a failed pass or open */
#define OPTIMIZE_IDLE 60000 /* ms without a commit, after deletes, before the index is merged */
#define LAG_BUCKETS   1001  /* 1 ms each, the last one for 1 s and more */
#define TOUCHED_MAX   4096  /* channels remembered between passes; more: the next pass looks at all */
#define FULL_PASS_MS  1000  /* a pass over every channel at least this often while commits come */

struct chat_search_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct chat_search_worker_options opts;
	char *database;
	bool stopping;
	int64_t reported; /* commits the broker reported */
	/* Commits whose channels the broker named (the tick's own): a pass over those channels only
	 * indexes them. A commit the broker could not name (one made between ticks) is indexed by a
	 * pass over every channel: for a waiting search at once, otherwise within FULL_PASS_MS. */
	int64_t *touched;
	size_t touched_n;
	bool touched_overflow;
	int64_t touched_ms; /* when the oldest commit not yet indexed was reported (0: none) */
	int64_t indexed;    /* commits indexed by a full pass (-1: not yet caught up with the log at start) */
	int64_t next_full_ms;
	bool catching_up; /* the last pass stopped at its budget (or none ran yet) */
	int64_t retry_ms; /* no pass before this (after a failure) */
	int64_t next_tidy_ms;
	int64_t last_commit_ms;                 /* when the broker last reported a new commit */
	bool deleted;                           /* documents were deleted since the last merge */
	struct chat_search_job *waiting, *done; /* FIFO lists */
	unsigned jobs;                          /* waiting, running or done, not yet taken back */
	char failure[256];                      /* the last failure, for the tick to log */
	bool failure_new;
	int64_t lag[LAG_BUCKETS];
	int64_t passes;
	int64_t lag_max;
};


static void append(struct chat_search_job **list, struct chat_search_job *job)
{
	job->next = NULL;
	while(*list != NULL) {
		list = &(*list)->next;
	}
	*list = job;
}


/* Called with the lock held. A failure that repeats (an index that cannot be opened, retried every
 * RETRY_MS) is reported once, not every second. */
static void fail(struct chat_search_worker *w, const char *what)
{
	if(strncmp(w->failure, what, sizeof(w->failure) - 1) != 0) {
		snprintf(w->failure, sizeof(w->failure), "%s", what);
		w->failure_new = true;
	}
}


/* The waiting jobs that may run now, moved out of the waiting list (lock held). */
static struct chat_search_job *take_ready(struct chat_search_worker *w, int64_t now, bool no_index)
{
	struct chat_search_job *ready = NULL, **p = &w->waiting;

	while(*p != NULL) {
		struct chat_search_job *job = *p;
		if(no_index || job->stamp <= w->indexed || job->deadline_ms <= now) {
			job->behind = !no_index && job->stamp > w->indexed;
			*p = job->next;
			append(&ready, job);
		} else {
			p = &job->next;
		}
	}
	return ready;
}


/* Lock held. */
static void record_lag(struct chat_search_worker *w, int64_t lag)
{
	w->lag[lag < LAG_BUCKETS - 1 ? lag : LAG_BUCKETS - 1]++;
	w->passes++;
	if(lag > w->lag_max) {
		w->lag_max = lag;
	}
}


static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}


/* One pass, over every channel (full) or over those the broker named since the last pass: the lock
 * held on entry and on return. */
static void index_pass(struct chat_search_worker *w, struct chat_search_db *db, bool full)
{
	int64_t target = w->reported, since = w->touched_ms, now, *only = NULL, none = 0;
	struct chat_search_pass pass = {0};
	struct chat_error err = {0};
	size_t n = 0;
	enum chat_err rc;

	if(!full) {
		/* the channels named since the last pass; the list starts anew */
		only = w->touched;
		n = w->touched_n;
		w->touched = NULL;
	}
	w->touched_n = 0;
	w->touched_ms = 0;
	if(full) {
		w->touched_overflow = false;
	}
	pthread_mutex_unlock(&w->lock);
	if(only != NULL) {
		size_t kept = 0;
		qsort(only, n, sizeof(*only), by_value);
		for(size_t i = 0; i < n; i++) {
			if(kept == 0 || only[kept - 1] != only[i]) {
				only[kept++] = only[i];
			}
		}
		n = kept;
	}
	rc = chat_search_db__index(db, PASS_EVENTS, full ? NULL : (only ? only : &none), n, &pass, &err);
	free(only);
	now = chat_clock__mono_ms();
	pthread_mutex_lock(&w->lock);
	if(rc != CHAT_ERR_OK) {
		fail(w, err.message);
		w->retry_ms = now + RETRY_MS;
		w->touched_overflow = true; /* what the failed pass took is for a full pass now */
		return;
	}
	w->deleted = w->deleted || pass.deleted > 0;
	if(pass.more) {
		w->catching_up = true;
		return;
	}
	if(since > 0) {
		record_lag(w, now - since);
	}
	if(full) {
		w->catching_up = false;
		w->next_full_ms = now + FULL_PASS_MS;
		/* every commit reported before the pass began is in the snapshot it read */
		if(target > w->indexed) {
			w->indexed = target;
		}
	}
}


/* Tidies, and merges when long idle after deletes: the lock held on entry and on return. */
static void housekeeping(struct chat_search_worker *w, struct chat_search_db *db, int64_t now)
{
	bool merge = w->deleted && now - w->last_commit_ms >= OPTIMIZE_IDLE;
	struct chat_error err = {0};
	enum chat_err rc;

	w->next_tidy_ms = now + w->opts.tidy_ms;
	if(merge) {
		w->deleted = false;
	}
	pthread_mutex_unlock(&w->lock);
	rc = chat_search_db__tidy(db, &err);
	if(rc == CHAT_ERR_OK && merge) {
		rc = chat_search_db__optimize(db, &err);
	}
	pthread_mutex_lock(&w->lock);
	if(rc != CHAT_ERR_OK) {
		fail(w, err.message);
	}
}


static void wait_until(struct chat_search_worker *w, int64_t when)
{
	int64_t delta = when - chat_clock__mono_ms();
	struct timespec ts = chat_clock__mono_deadline(delta > 0 ? delta : 0);

	pthread_cond_timedwait(&w->wake, &w->lock, &ts);
}


static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}


static void *worker_main(void *arg)
{
	struct chat_search_worker *w = arg;
	struct chat_search_db *db = NULL;
	int64_t open_retry_ms = 0;

	chat_background__enter("mqchat-search"); /* indexing uses the CPU the broker's thread leaves */
	pthread_mutex_lock(&w->lock);
	while(!w->stopping) {
		int64_t now = chat_clock__mono_ms(), next;
		struct chat_search_job *ready;
		bool dirty, full;

		if(db == NULL && now >= open_retry_ms) {
			char err[256] = "";
			pthread_mutex_unlock(&w->lock);
			if(chat_search_db__open(w->database, &db, err, sizeof(err)) != 0) {
				db = NULL;
			}
			pthread_mutex_lock(&w->lock);
			if(db == NULL) {
				fail(w, err);
				open_retry_ms = now + RETRY_MS;
			}
			continue;
		}
		ready = take_ready(w, now, db == NULL);
		if(ready != NULL) {
			pthread_mutex_unlock(&w->lock);
			for(struct chat_search_job *job = ready; job != NULL; job = job->next) {
				job->run(db, job);
			}
			pthread_mutex_lock(&w->lock);
			while(ready != NULL) {
				struct chat_search_job *job = ready;
				ready = job->next;
				append(&w->done, job);
			}
			if(w->opts.on_done != NULL) {
				w->opts.on_done();
			}
			continue;
		}
		/* a full pass: a search waits for it (take_ready left it waiting), a catch-up or an
		 * overflow is under way, or commits came that no pass over every channel has seen */
		full = w->waiting != NULL || w->catching_up || w->touched_overflow
		       || (w->reported > w->indexed && now >= w->next_full_ms);
		dirty = full || w->touched_n > 0;
		if(db != NULL && now >= w->retry_ms
		   && (full || (w->touched_n > 0 && now >= w->touched_ms + w->opts.batch_ms))) {
			index_pass(w, db, full);
			continue;
		}
		if(db != NULL && now >= w->next_tidy_ms) {
			housekeeping(w, db, now);
			continue;
		}
		next = db == NULL ? open_retry_ms : w->next_tidy_ms;
		if(w->retry_ms > now && dirty) {
			next = min64(next, w->retry_ms);
		} else if(w->touched_n > 0) {
			next = min64(next, w->touched_ms + w->opts.batch_ms);
		}
		if(w->reported > w->indexed) {
			next = min64(next, w->next_full_ms);
		}
		for(struct chat_search_job *job = w->waiting; job != NULL; job = job->next) {
			next = min64(next, job->deadline_ms);
		}
		if(next > now) {
			wait_until(w, next);
		}
	}
	pthread_mutex_unlock(&w->lock);
	chat_search_db__close(db);
	return NULL;
}


int chat_search_worker__start(const struct chat_search_worker_options *opts, struct chat_search_worker **out,
			      char *err, size_t err_len)
{
	struct chat_search_worker *w = calloc(1, sizeof(*w));

	*out = NULL;
	if(w == NULL || (w->database = strdup(opts->database)) == NULL) {
		free(w);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	w->opts = *opts;
	w->opts.database = w->database;
	w->catching_up = true; /* the log may hold what the index does not: catch up first */
	w->indexed = -1;       /* not even what the log held at start: a search stamped 0 waits for it */
	w->last_commit_ms = chat_clock__mono_ms();
	w->next_tidy_ms = w->last_commit_ms; /* a first tidy at start: channels erased while stopped */
	pthread_mutex_init(&w->lock, NULL);
	(void)chat_clock__cond_init(&w->wake);
	if(pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		free(w->database);
		free(w);
		snprintf(err, err_len, "cannot start the search worker thread");
		return -1;
	}
	*out = w;
	return 0;
}


void chat_search_worker__stop(struct chat_search_worker *w, void (*free_job)(struct chat_search_job *))
{
	struct chat_search_job *lists[2];

	if(w == NULL) {
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	lists[0] = w->waiting;
	lists[1] = w->done;
	for(int i = 0; i < 2; i++) {
		while(lists[i] != NULL) {
			struct chat_search_job *job = lists[i];
			lists[i] = job->next;
			free_job(job);
		}
	}
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->touched);
	free(w->database);
	free(w);
}


void chat_search_worker__committed(struct chat_search_worker *w, int64_t commits, const int64_t *channels,
				   size_t n)
{
	pthread_mutex_lock(&w->lock);
	if(n > 0 && !w->touched_overflow) {
		if(w->touched == NULL) {
			w->touched = malloc(TOUCHED_MAX * sizeof(*w->touched));
		}
		if(w->touched == NULL || n > TOUCHED_MAX - w->touched_n) {
			w->touched_overflow = true; /* a full pass finds them */
		} else {
			memcpy(w->touched + w->touched_n, channels, n * sizeof(*channels));
			w->touched_n += n;
		}
	}
	if(commits > w->reported || n > 0) {
		int64_t now = chat_clock__mono_ms();
		/* Only the oldest commit the index does not have moves the worker's next moment: from it the
		 * worker waits batch_ms by itself, and its pass takes every commit reported by then. Waking
		 * it for each later one cost a futex wake and a context switch per group commit, thousands a
		 * second at full load, for a worker that went straight back to sleep. */
		bool first = w->touched_ms == 0;
		if(first) {
			w->touched_ms = now;
		}
		if(commits > w->reported) {
			w->reported = commits;
			w->last_commit_ms = now;
		}
		if(first) {
			pthread_cond_signal(&w->wake);
		}
	}
	pthread_mutex_unlock(&w->lock);
}


bool chat_search_worker__submit(struct chat_search_worker *w, struct chat_search_job *job)
{
	bool ok;

	pthread_mutex_lock(&w->lock);
	ok = w->jobs < w->opts.queue_max;
	if(ok) {
		w->jobs++;
		job->deadline_ms = chat_clock__mono_ms() + w->opts.wait_ms;
		append(&w->waiting, job);
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return ok;
}


struct chat_search_job *chat_search_worker__take_done(struct chat_search_worker *w)
{
	struct chat_search_job *done;

	pthread_mutex_lock(&w->lock);
	done = w->done;
	w->done = NULL;
	for(struct chat_search_job *job = done; job != NULL; job = job->next) {
		w->jobs--;
	}
	pthread_mutex_unlock(&w->lock);
	return done;
}


unsigned chat_search_worker__jobs(struct chat_search_worker *w)
{
	unsigned jobs;

	pthread_mutex_lock(&w->lock);
	jobs = w->jobs;
	pthread_mutex_unlock(&w->lock);
	return jobs;
}


bool chat_search_worker__failure(struct chat_search_worker *w, char *out, size_t out_len)
{
	bool fresh;

	pthread_mutex_lock(&w->lock);
	fresh = w->failure_new;
	if(fresh) {
		snprintf(out, out_len, "%s", w->failure);
		w->failure_new = false;
	}
	pthread_mutex_unlock(&w->lock);
	return fresh;
}


static int64_t percentile(const int64_t *lag, int64_t total, double p)
{
	int64_t want = (int64_t)((double)total * p + 0.999999), seen = 0;

	for(int i = 0; i < LAG_BUCKETS; i++) {
		seen += lag[i];
		if(seen >= want && want > 0) {
			return i;
		}
	}
	return 0;
}


void chat_search_worker__lag(struct chat_search_worker *w, struct chat_search_lag *out)
{
	pthread_mutex_lock(&w->lock);
	out->passes = w->passes;
	out->p50_ms = percentile(w->lag, w->passes, 0.50);
	out->p99_ms = percentile(w->lag, w->passes, 0.99);
	out->max_ms = w->lag_max;
	pthread_mutex_unlock(&w->lock);
}
