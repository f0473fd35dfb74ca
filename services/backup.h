/*
 * backup.h - online backup and channel export, on a worker thread with its own SQLite connection.
 *
 * Both are long: a backup copies the whole database, an export reads a whole channel. Neither may
 * hold up the broker's thread, which serves every client, so admin.c hands each one to this worker as
 * a job and gets it back, done, through a queue that the tick drains (admin.c publishes the answer
 * from there, on the broker's thread). The worker never calls the broker.
 *
 * Invariants:
 * - the worker reads through its own connection, inside one read transaction per job: in WAL mode that
 *   is a snapshot taken when the job starts, so everything committed before it (every acknowledged
 *   event up to that moment) is in the copy, and the broker's writes go on meanwhile;
 * - a result is written to "<path>.partial", synced, and only then renamed to path (and the directory
 *   synced): a file at path is always complete. A crash leaves at most a .partial file;
 * - a backup is verified with PRAGMA integrity_check before it is renamed; a copy that fails it is
 *   deleted and the job fails;
 * - jobs run one at a time, in the order submitted.
 */
#ifndef CHAT_BACKUP_H
#define CHAT_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum chat_job_kind {
	CHAT_JOB_BACKUP, /* the whole database to path */
	CHAT_JOB_EXPORT, /* one channel's events, seq 1..up_to, to path as JSON Lines */
};

struct chat_job {
	struct chat_job *next;
	enum chat_job_kind kind;
	char *path;                  /* where the result goes; malloc'd, freed by chat_job__free */
	int64_t channel;             /* export: channels.id */
	int64_t up_to;               /* export: the channel's head when asked (committed then) */
	void *ctx;                   /* the submitter's, untouched by the worker (admin.c: where to answer) */
	void (*ctx_free)(void *ctx); /* frees ctx with the job; NULL: ctx is not freed */
	/* Filled in by the worker: */
	bool failed;
	char error[256];    /* why, when failed */
	int64_t bytes;      /* size of the file written */
	int64_t lines;      /* export: events written */
	int64_t elapsed_ms; /* time the job took on the worker */
};

struct chat_worker;

/* Starts the worker thread for the database at path. Returns 0, or -1 with a message in err. */
int chat_worker__start(const char *database, struct chat_worker **out, char *err, size_t err_len);

/* Queues job (malloc'd; the worker owns it until chat_worker__take_done hands it back). */
void chat_worker__submit(struct chat_worker *w, struct chat_job *job);

/* The jobs finished since the last call, oldest first, or NULL; the caller owns them (chat_job__free
 * each). Never blocks for long: only the queue's lock is taken. */
struct chat_job *chat_worker__take_done(struct chat_worker *w);

/* Jobs submitted and not yet taken back. */
unsigned chat_worker__pending(struct chat_worker *w);

/* Stops the worker: the running job is cancelled (its .partial file removed) and the queued ones are
 * dropped, with every job not taken back freed. NULL is ignored. */
void chat_worker__stop(struct chat_worker *w);

/* Frees a job and its ctx (with ctx_free); NULL is ignored. */
void chat_job__free(struct chat_job *job);

/* Checks, on the caller's thread and without writing anything, that path can receive a result: an
 * absolute path, no file there yet, a directory that exists and is writable. Returns true, or false
 * with the reason in err. */
bool chat_backup__path_ok(const char *path, char *err, size_t err_len);

#endif
