/*
 * backup.c - the backup/export worker (see backup.h).
 *
 * One thread, two lists under one mutex: jobs waiting, jobs done. The thread takes the oldest waiting
 * job, runs it without the lock, and appends it to the done list, which the broker's tick drains
 * (admin.c). Cancellation (at broker stop) is a flag checked between backup steps and export rows.
 *
 * The copy uses SQLite's online backup API between a connection of ours on the live database and a new
 * database at "<path>.partial", in steps of BACKUP_STEP_PAGES pages, inside one read transaction on the
 * source: a fixed snapshot, so the steps never restart however many sends commit meanwhile.
 *
 * SQL here, outside store.c, because this is another connection on another thread: the two statements
 * below read, never write, and depend only on the events table's (channel_id, seq, json) columns.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backup.h"
#include "background.h"

#define BACKUP_STEP_PAGES    256       /* 1 MiB of 4 KiB pages per step, each written back before the next */
#define BACKUP_STEP_PAUSE_NS 25000000L /* then 25 ms for the live log: at most ~40 MB/s (bench/ops.sh) */
#define PARTIAL_SUFFIX       ".partial"

struct chat_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct chat_job *waiting, *done; /* FIFO lists, oldest first */
	unsigned pending;                /* submitted, not yet taken back */
	bool stopping;
	volatile bool cancel; /* read by the running job between steps */
	char *database;
};


static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void fail(struct chat_job *job, const char *fmt, const char *detail)
{
	job->failed = true;
	snprintf(job->error, sizeof(job->error), fmt, detail);
}


void chat_job__free(struct chat_job *job)
{
	if(job != NULL) {
		if(job->ctx_free != NULL) {
			job->ctx_free(job->ctx);
		}
		free(job->path);
		free(job);
	}
}


static void append(struct chat_job **list, struct chat_job *job)
{
	job->next = NULL;
	while(*list != NULL) {
		list = &(*list)->next;
	}
	*list = job;
}


bool chat_backup__path_ok(const char *path, char *err, size_t err_len)
{
	char *copy, *dir;
	struct stat st;
	bool ok;

	if(path[0] != '/') {
		snprintf(err, err_len, "path must be absolute (a path on the broker's host)");
		return false;
	}
	if(lstat(path, &st) == 0) {
		snprintf(err, err_len, "%s already exists", path);
		return false;
	}
	errno = 0;
	copy = strdup(path);
	if(copy == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	dir = dirname(copy);
	ok = stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
	if(!ok) {
		snprintf(err, err_len, "cannot write in %s: %s", dir,
			 errno != 0 ? strerror(errno) : "not a directory");
	}
	free(copy);
	return ok;
}


/* fsyncs the file at path (0 or -1). */
static int sync_path(const char *path, int flags)
{
	int fd = open(path, flags);
	int rc;

	if(fd < 0) {
		return -1;
	}
	rc = fsync(fd);
	close(fd);
	return rc;
}


/* Makes partial the file at path: synced, renamed, directory synced. */
static void publish_file(struct chat_job *job, const char *partial)
{
	char *copy = strdup(job->path);
	struct stat st;

	if(copy == NULL) {
		fail(job, "out of memory%s", "");
	} else if(sync_path(partial, O_RDONLY) != 0) {
		fail(job, "cannot sync the copy: %s", strerror(errno));
	} else if(link(partial, job->path) != 0
		  && !((errno == EPERM || errno == EOPNOTSUPP) && stat(job->path, &st) != 0
		       && rename(partial, job->path) == 0)) {
		/* link, not rename: it refuses to replace a file that appeared at path meanwhile. A file
		 * system without hard links gets rename, after one more look that path is still free. */
		fail(job, "cannot move the copy into place: %s", strerror(errno));
	} else {
		unlink(partial);
		sync_path(dirname(copy), O_RDONLY | O_DIRECTORY);
		if(stat(job->path, &st) == 0) {
			job->bytes = st.st_size;
		}
	}
	free(copy);
}


static sqlite3 *open_source(struct chat_worker *w, struct chat_job *job)
{
	sqlite3 *db = NULL;

	if(sqlite3_open_v2(w->database, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)
	   != SQLITE_OK) {
		fail(job, "cannot open the database: %s", db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	/* the snapshot: everything committed before this point, nothing after */
	if(sqlite3_exec(db, "PRAGMA query_only = 1; BEGIN; SELECT count(*) FROM sqlite_schema;", NULL, NULL,
			NULL)
	   != SQLITE_OK) {
		fail(job, "cannot read the database: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	return db;
}


static int check_integrity(sqlite3 *db, struct chat_job *job)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK
	   && sqlite3_step(st) == SQLITE_ROW) {
		const char *verdict = (const char *)sqlite3_column_text(st, 0);
		if(verdict != NULL && strcmp(verdict, "ok") == 0) {
			rc = 0;
		} else {
			fail(job, "the copy fails integrity_check: %s", verdict ? verdict : "?");
		}
	} else {
		fail(job, "cannot check the copy: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return rc;
}


static void run_backup(struct chat_worker *w, struct chat_job *job, const char *partial)
{
	sqlite3 *src = open_source(w, job), *dst = NULL;
	sqlite3_backup *b;
	int rc = SQLITE_OK, sync_fd = -1;

	if(src == NULL) {
		return;
	}
	unlink(partial); /* a .partial is never a good file: one left by a killed backup goes */
	if(sqlite3_open_v2(partial, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			   NULL)
	   != SQLITE_OK) {
		fail(job, "cannot create the copy: %s", dst ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	b = sqlite3_backup_init(dst, "main", src, "main");
	if(b == NULL) {
		fail(job, "cannot start the copy: %s", sqlite3_errmsg(dst));
		goto out;
	}
	/* The copy is checked and fsynced whole before it is published, and thrown away on any failure:
	 * it needs no journal. Its pages are written back step by step (fdatasync after each), because
	 * one flush of a whole database at the end stalls the live log's fsyncs, which every ack waits
	 * for, for seconds (bench/ops.sh). */
	sqlite3_exec(dst, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1024", NULL,
		     NULL, NULL);
	while(!w->cancel && (rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES)) == SQLITE_OK) {
		if(sync_fd < 0) {
			sync_fd = open(partial, O_RDONLY | O_CLOEXEC);
		}
		if(sync_fd >= 0) {
			fdatasync(sync_fd);
		}
		nanosleep(&(struct timespec){.tv_nsec = BACKUP_STEP_PAUSE_NS}, NULL); /* the disk, for acks */
	}
	if(sync_fd >= 0) {
		close(sync_fd);
	}
	sqlite3_backup_finish(b);
	if(w->cancel) {
		fail(job, "cancelled: the broker is stopping%s", "");
	} else if(rc != SQLITE_DONE) {
		fail(job, "the copy failed: %s", sqlite3_errstr(rc));
	} else if(check_integrity(dst, job) == 0) {
		sqlite3_close(dst);
		dst = NULL;
		publish_file(job, partial);
	}
out:
	sqlite3_close(dst);
	sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(src);
	if(job->failed) {
		unlink(partial);
	}
}


static void run_export(struct chat_worker *w, struct chat_job *job, const char *partial)
{
	sqlite3 *src = open_source(w, job);
	sqlite3_stmt *st = NULL;
	FILE *out = NULL;
	int fd, rc;

	if(src == NULL) {
		return;
	}
	unlink(partial);
	fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if(fd < 0 || (out = fdopen(fd, "w")) == NULL) {
		fail(job, "cannot create the file: %s", strerror(errno));
		if(fd >= 0) {
			close(fd);
		}
		goto done;
	}
	if(sqlite3_prepare_v2(src, "SELECT json FROM events WHERE channel_id = ? AND seq <= ? ORDER BY seq",
			      -1, &st, NULL)
	   != SQLITE_OK) {
		fail(job, "cannot read the channel: %s", sqlite3_errmsg(src));
		goto done;
	}
	sqlite3_bind_int64(st, 1, job->channel);
	sqlite3_bind_int64(st, 2, job->up_to);
	while(!w->cancel && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *json = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		/* stored JSON is one line: event_json.c never emits a raw newline (it escapes them) */
		if(fwrite(json, 1, len, out) != len || fputc('\n', out) == EOF) {
			fail(job, "cannot write the file: %s", strerror(errno));
			goto done;
		}
		job->lines++;
	}
	if(w->cancel) {
		fail(job, "cancelled: the broker is stopping%s", "");
	} else if(rc != SQLITE_DONE) {
		fail(job, "cannot read the channel: %s", sqlite3_errmsg(src));
	} else if(fflush(out) != 0 || fsync(fileno(out)) != 0) {
		fail(job, "cannot write the file: %s", strerror(errno));
	}
done:
	sqlite3_finalize(st);
	if(out != NULL && fclose(out) != 0 && !job->failed) {
		fail(job, "cannot write the file: %s", strerror(errno));
	}
	sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(src);
	if(!job->failed) {
		publish_file(job, partial);
	}
	if(job->failed) {
		unlink(partial);
	}
}


static void run(struct chat_worker *w, struct chat_job *job)
{
	size_t len = strlen(job->path) + sizeof(PARTIAL_SUFFIX);
	char *partial = malloc(len);
	int64_t start = now_ms();

	if(partial == NULL) {
		fail(job, "out of memory%s", "");
		return;
	}
	snprintf(partial, len, "%s" PARTIAL_SUFFIX, job->path);
	if(job->kind == CHAT_JOB_BACKUP) {
		run_backup(w, job, partial);
	} else {
		run_export(w, job, partial);
	}
	job->elapsed_ms = now_ms() - start;
	free(partial);
}


static void *worker_main(void *arg)
{
	struct chat_worker *w = arg;

	chat_background__enter("mqchat-backup"); /* the copy uses the CPU the broker's thread leaves */
	pthread_mutex_lock(&w->lock);
	for(;;) {
		struct chat_job *job;
		while(!w->stopping && w->waiting == NULL) {
			pthread_cond_wait(&w->wake, &w->lock);
		}
		if(w->stopping) {
			break;
		}
		job = w->waiting;
		w->waiting = job->next;
		pthread_mutex_unlock(&w->lock);
		run(w, job);
		pthread_mutex_lock(&w->lock);
		append(&w->done, job);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}


int chat_worker__start(const char *database, struct chat_worker **out, char *err, size_t err_len)
{
	struct chat_worker *w = calloc(1, sizeof(*w));

	*out = NULL;
	if(w == NULL || (w->database = strdup(database)) == NULL) {
		free(w);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if(pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
		free(w->database);
		free(w);
		snprintf(err, err_len, "cannot start the backup thread");
		return -1;
	}
	*out = w;
	return 0;
}


void chat_worker__submit(struct chat_worker *w, struct chat_job *job)
{
	pthread_mutex_lock(&w->lock);
	append(&w->waiting, job);
	w->pending++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}


struct chat_job *chat_worker__take_done(struct chat_worker *w)
{
	struct chat_job *done;

	pthread_mutex_lock(&w->lock);
	done = w->done;
	w->done = NULL;
	for(struct chat_job *j = done; j != NULL; j = j->next) {
		w->pending--;
	}
	pthread_mutex_unlock(&w->lock);
	return done;
}


unsigned chat_worker__pending(struct chat_worker *w)
{
	unsigned n;

	pthread_mutex_lock(&w->lock);
	n = w->pending;
	pthread_mutex_unlock(&w->lock);
	return n;
}


static void free_list(struct chat_job *job)
{
	while(job != NULL) {
		struct chat_job *next = job->next;
		chat_job__free(job);
		job = next;
	}
}


void chat_worker__stop(struct chat_worker *w)
{
	if(w == NULL) {
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	w->cancel = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	free_list(w->waiting);
	free_list(w->done);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w->database);
	free(w);
}
