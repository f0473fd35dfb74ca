/*
 * checkpoint.h - WAL checkpoints on a thread of their own.
 *
 * A checkpoint copies committed pages from the WAL back into the database file and fsyncs it. Left to
 * SQLite's automatic checkpoint, it runs inside whichever commit crosses the threshold: a send that
 * stalls the whole broker for milliseconds every few hundred sends. The checkpointer runs passive
 * checkpoints on its own connection every interval instead, so commits on the broker's thread only
 * ever append to the WAL. The broker's connection keeps a high automatic threshold as a backstop in
 * case this thread falls behind.
 *
 * The thread never calls the broker: only SQLite, which is safe across connections and threads.
 */
#ifndef CHAT_CHECKPOINT_H
#define CHAT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

struct chat_checkpointer;

/* Starts a thread that checkpoints the database at path every interval_ms. Returns 0 and the
 * checkpointer in *out (stop it with chat_checkpointer__stop), or -1 with a message in err. */
int chat_checkpointer__start(const char *path, int interval_ms, struct chat_checkpointer **out, char *err,
			     size_t err_len);

/* Stops and joins the thread and frees cp; NULL is ignored. */
void chat_checkpointer__stop(struct chat_checkpointer *cp);

/* Number of checkpoints that completed so far (for tests and diagnostics). */
unsigned long chat_checkpointer__runs(struct chat_checkpointer *cp);

/* Wall-clock ms since the Unix epoch of the last successful checkpoint, 0 before the first (or for a
 * NULL cp). For the metrics (adapters/metrics.c). */
int64_t chat_checkpointer__last_ms(struct chat_checkpointer *cp);

#endif
