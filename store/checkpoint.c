/*
 * checkpoint.c - a thread running passive WAL checkpoints on its own SQLite connection.
 *
 * Passive checkpoints never wait for the writer and never block it: they copy what they can and
 * return. The connection is opened and used only by the thread; the mutex and condition variable
 * only serve to sleep between runs and to wake up for stop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sqlite3.h>

#include "checkpoint.h"
#include "clock.h"

struct chat_checkpointer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;      /* guarded by lock */
	unsigned long runs; /* guarded by lock */
	int64_t last_ms;    /* guarded by lock: wall-clock ms of the last successful run, 0 before */
	int interval_ms;
	sqlite3 *db; /* the thread's own connection */
};


static void *run(void *arg)
{
	struct chat_checkpointer *cp = arg;

	pthread_mutex_lock(&cp->lock);
	while(!cp->stopping) {
		struct timespec deadline = chat_clock__mono_deadline(cp->interval_ms);
		int rc = 0;

		while(!cp->stopping && rc != ETIMEDOUT) {
			rc = pthread_cond_timedwait(&cp->wake, &cp->lock, &deadline);
		}
		if(cp->stopping) {
			break;
		}
		pthread_mutex_unlock(&cp->lock);
		rc = sqlite3_wal_checkpoint_v2(cp->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&cp->lock);
		if(rc == SQLITE_OK) {
			cp->runs++;
			cp->last_ms = chat_clock__wall_ms();
		}
	}
	pthread_mutex_unlock(&cp->lock);
	return NULL;
}


static void free_checkpointer(struct chat_checkpointer *cp)
{
	sqlite3_close(cp->db);
	pthread_cond_destroy(&cp->wake);
	pthread_mutex_destroy(&cp->lock);
	free(cp);
}


int chat_checkpointer__start(const char *path, int interval_ms, struct chat_checkpointer **out, char *err,
			     size_t err_len)
{
	struct chat_checkpointer *cp = calloc(1, sizeof(*cp));

	*out = NULL;
	if(cp == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	cp->interval_ms = interval_ms;
	pthread_mutex_init(&cp->lock, NULL);
	(void)chat_clock__cond_init(&cp->wake);
	if(sqlite3_open_v2(path, &cp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "cannot open %s for checkpoints: %s", path,
			 cp->db ? sqlite3_errmsg(cp->db) : "out of memory");
		free_checkpointer(cp);
		return -1;
	}
	if(pthread_create(&cp->thread, NULL, run, cp) != 0) {
		snprintf(err, err_len, "cannot start the checkpoint thread");
		free_checkpointer(cp);
		return -1;
	}
	*out = cp;
	return 0;
}


void chat_checkpointer__stop(struct chat_checkpointer *cp)
{
	if(cp == NULL) {
		return;
	}
	pthread_mutex_lock(&cp->lock);
	cp->stopping = true;
	pthread_cond_signal(&cp->wake);
	pthread_mutex_unlock(&cp->lock);
	pthread_join(cp->thread, NULL);
	free_checkpointer(cp);
}


unsigned long chat_checkpointer__runs(struct chat_checkpointer *cp)
{
	unsigned long runs;

	pthread_mutex_lock(&cp->lock);
	runs = cp->runs;
	pthread_mutex_unlock(&cp->lock);
	return runs;
}


int64_t chat_checkpointer__last_ms(struct chat_checkpointer *cp)
{
	int64_t last;

	if(cp == NULL) {
		return 0;
	}
	pthread_mutex_lock(&cp->lock);
	last = cp->last_ms;
	pthread_mutex_unlock(&cp->lock);
	return last;
}
