/*
 * lineage.h - a small file beside the database that says which database this broker last had open.
 *
 * Clients keep (channel, epoch, last seq) and trust that seq N of an epoch always names the same
 * event. A database replaced while the broker was stopped (an old backup copied over it, a restore)
 * breaks that silently: its seqs past the backup's head will name new, different events, under the
 * same epochs. So the plugin remembers what it last wrote, outside the database:
 *
 *   the database (table runs)   instance: a random id given to a database once, kept by its copies
 *                               generation: a counter, one up at every start and every clean stop
 *   the sidecar (this file)     the same two, written after the database, atomically (a temporary
 *                               file, fsync, rename, fsync of the directory)
 *
 * At start (store.c, chat_store__begin_run) a database whose instance differs from the sidecar's, or
 * whose generation is below it, is not the one the broker last had: it may be older than what clients
 * saw, so every channel gets a new epoch. A generation above the sidecar's is fine: the broker stopped
 * between writing the database and writing the sidecar. No sidecar (a first start, or one deleted):
 * nothing to compare, it is written.
 *
 * The sidecar is `.<database file name>.lineage` in the database's directory: a dot file, so that
 * copying `chat.db*` (the database with its -wal and -shm) does not copy it along, and restoring the
 * database leaves it in place to tell.
 */
#ifndef CHAT_LINEAGE_H
#define CHAT_LINEAGE_H

#include <stddef.h>
#include <stdint.h>

#include "event_json.h" /* CHAT_UUID_LEN */

struct chat_lineage {
	char instance[CHAT_UUID_LEN + 1]; /* "" when unknown */
	int64_t generation;
};

/* The sidecar's path for the database at db_path, malloc'd; NULL for a database that is not a plain
 * file (":memory:", "", a "file:" URI) or when out of memory. */
char *chat_lineage__path(const char *db_path);

/* Reads the sidecar at path into *out. Returns 1 when read, 0 when there is none, -1 when it exists but
 * cannot be read or is not a lineage file (*out is then zeroed: it matches no database). */
int chat_lineage__read(const char *path, struct chat_lineage *out);

/* Replaces the sidecar at path with l, durably (see above). Returns 0, or -1 with a message in err. */
int chat_lineage__write(const char *path, const struct chat_lineage *l, char *err, size_t err_len);

#endif
