/*
 * lineage.c - the sidecar file that tells a replaced database (see lineage.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lineage.h"

#define LINEAGE_MAGIC "mqchat-lineage 1"


char *chat_lineage__path(const char *db_path)
{
	const char *slash, *base;
	size_t dir_len, len;
	char *path;

	if(db_path == NULL || db_path[0] == '\0' || strcmp(db_path, ":memory:") == 0
	   || strncmp(db_path, "file:", 5) == 0) {
		return NULL;
	}
	slash = strrchr(db_path, '/');
	base = slash ? slash + 1 : db_path;
	dir_len = (size_t)(base - db_path);
	len = dir_len + 1 + strlen(base) + sizeof(".lineage");
	path = malloc(len);
	if(path != NULL) {
		snprintf(path, len, "%.*s.%s.lineage", (int)dir_len, db_path, base);
	}
	return path;
}


int chat_lineage__read(const char *path, struct chat_lineage *out)
{
	char line[160], instance[CHAT_UUID_LEN + 2];
	int64_t generation;
	FILE *f = fopen(path, "r");
	int n;

	memset(out, 0, sizeof(*out));
	if(f == NULL) {
		return errno == ENOENT ? 0 : -1;
	}
	n = fgets(line, sizeof(line), f) != NULL
		    ? sscanf(line, LINEAGE_MAGIC " %37s %" SCNd64, instance, &generation)
		    : 0;
	fclose(f);
	if(n != 2 || strlen(instance) != CHAT_UUID_LEN || generation < 0) {
		return -1;
	}
	memcpy(out->instance, instance, CHAT_UUID_LEN + 1);
	out->generation = generation;
	return 1;
}


/* fsync of the directory holding path, so that a rename in it is durable. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd, rc;

	if(slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
	} else if((size_t)(slash - path) >= sizeof(dir)) {
		return -1;
	} else {
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	}
	fd = open(dir, O_RDONLY);
	if(fd < 0) {
		return -1;
	}
	rc = fsync(fd);
	close(fd);
	return rc;
}


int chat_lineage__write(const char *path, const struct chat_lineage *l, char *err, size_t err_len)
{
	size_t tmp_len = strlen(path) + sizeof(".tmp");
	char *tmp = malloc(tmp_len);
	char text[160];
	int fd = -1, len;
	const char *failed = NULL;

	if(tmp == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	snprintf(tmp, tmp_len, "%s.tmp", path);
	len = snprintf(text, sizeof(text), LINEAGE_MAGIC " %s %" PRId64 "\n", l->instance, l->generation);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if(fd < 0) {
		failed = "create";
	} else if(write(fd, text, (size_t)len) != len) {
		failed = "write";
	} else if(fsync(fd) != 0) {
		failed = "fsync";
	}
	if(fd >= 0 && close(fd) != 0 && failed == NULL) {
		failed = "close";
	}
	if(failed == NULL && rename(tmp, path) != 0) {
		failed = "rename";
	}
	if(failed == NULL && sync_dir(path) != 0) {
		failed = "fsync the directory after renaming";
	}
	if(failed != NULL) {
		int saved = errno;
		snprintf(err, err_len, "cannot %s %s: %s", failed, tmp, strerror(saved));
		unlink(tmp);
	}
	free(tmp);
	return failed == NULL ? 0 : -1;
}
