/*
 * blobs.c - media bytes as files (see blobs.h for the layout and why).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobs.h"

#define FLUSH_QUEUE 8

struct chat_blobs {
	char *dir;
	int dir_fd; /* fsync'd after each rename so the new name survives a power loss */
	pthread_t thread;
	bool flusher_running;
	pthread_mutex_t mu; /* guards queue, queued, stopping */
	pthread_cond_t cv;
	int queue[FLUSH_QUEUE]; /* dup'd fds awaiting fdatasync */
	int queued;
	bool stopping;
};


static void *flusher(void *arg);


static int make_dir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}


struct chat_blobs *chat_blobs__open(const char *dir, char *err, size_t err_len)
{
	char partial[PATH_MAX];
	struct chat_blobs *b;

	if(snprintf(partial, sizeof(partial), "%s/partial", dir) >= (int)sizeof(partial)) {
		snprintf(err, err_len, "media_dir %s: path too long", dir);
		return NULL;
	}
	if(make_dir(dir) != 0 || make_dir(partial) != 0) {
		snprintf(err, err_len, "media_dir %s: %s", dir, strerror(errno));
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if(b == NULL || (b->dir = strdup(dir)) == NULL) {
		free(b);
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if(b->dir_fd < 0) {
		snprintf(err, err_len, "media_dir %s: %s", dir, strerror(errno));
		chat_blobs__close(b);
		return NULL;
	}
	/* without the thread everything still works: the commit's fsync does all the writing */
	b->flusher_running = pthread_create(&b->thread, NULL, flusher, b) == 0;
	return b;
}


void chat_blobs__close(struct chat_blobs *b)
{
	if(b == NULL) {
		return;
	}
	if(b->flusher_running) {
		pthread_mutex_lock(&b->mu);
		b->stopping = true;
		pthread_cond_signal(&b->cv);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->thread, NULL);
	}
	if(b->dir_fd >= 0) {
		close(b->dir_fd);
	}
	free(b->dir);
	free(b);
}


static void partial_path(const struct chat_blobs *b, const char *id, char *out, size_t size)
{
	snprintf(out, size, "%s/partial/%s", b->dir, id);
}


static void blob_path(const struct chat_blobs *b, const char *sha256, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", b->dir, sha256);
}


int chat_blobs__open_partial(struct chat_blobs *b, const char *id)
{
	char path[PATH_MAX];

	partial_path(b, id, path, sizeof(path));
	return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}


int chat_blobs__commit(struct chat_blobs *b, const char *id, int fd, const char *sha256)
{
	char from[PATH_MAX], to[PATH_MAX];
	int rc = fsync(fd);

	close(fd);
	if(rc != 0) {
		return -1;
	}
	partial_path(b, id, from, sizeof(from));
	blob_path(b, sha256, to, sizeof(to));
	if(rename(from, to) != 0) {
		return -1;
	}
	return fsync(b->dir_fd) == 0 ? 0 : -1;
}


int chat_blobs__commit_empty(struct chat_blobs *b, const char *sha256)
{
	char path[PATH_MAX];
	int fd;

	blob_path(b, sha256, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if(fd < 0) {
		return -1;
	}
	close(fd);
	return fsync(b->dir_fd) == 0 ? 0 : -1;
}


/* The flusher: fdatasyncs the dup'd fds queued by chat_blobs__flush_async, then closes them. Measured
 * (docs/benchmarks.md, "Media"): an fsync of a whole 25 MB upload at its end held the broker's thread
 * for 30-40 ms; sync_file_range per piece blocked pieces for up to 65 ms under write-back pressure. */
static void *flusher(void *arg)
{
	struct chat_blobs *b = arg;
	int fd;

	pthread_mutex_lock(&b->mu);
	for(;;) {
		while(b->queued == 0 && !b->stopping) {
			pthread_cond_wait(&b->cv, &b->mu);
		}
		if(b->queued == 0) {
			break; /* stopping, and nothing left */
		}
		fd = b->queue[--b->queued];
		pthread_mutex_unlock(&b->mu);
		(void)fdatasync(
			fd); /* an error shows again at the commit's fsync, which the upload waits for */
		close(fd);
		pthread_mutex_lock(&b->mu);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}


void chat_blobs__flush_async(struct chat_blobs *b, int fd)
{
	int copy;

	if(!b->flusher_running) {
		return;
	}
	pthread_mutex_lock(&b->mu);
	if(b->queued < FLUSH_QUEUE && (copy = dup(fd)) >= 0) {
		b->queue[b->queued++] = copy;
		pthread_cond_signal(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
}


void chat_blobs__drop_partial(struct chat_blobs *b, const char *id)
{
	char path[PATH_MAX];

	partial_path(b, id, path, sizeof(path));
	(void)unlink(path);
}


void chat_blobs__drop(struct chat_blobs *b, const char *sha256)
{
	char path[PATH_MAX];

	blob_path(b, sha256, path, sizeof(path));
	(void)unlink(path);
}


int64_t chat_blobs__read(struct chat_blobs *b, const char *sha256, uint64_t offset, void *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	blob_path(b, sha256, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0) {
		return -1;
	}
	n = pread(fd, buf, len, (off_t)offset);
	close(fd);
	return n;
}
