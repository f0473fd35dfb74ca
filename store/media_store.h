/*
 * media_store.h - what the plugin knows about uploads (schema/0013_media.sql); the bytes are in
 * blobs.h's files. Broker thread, the store's connection; each call is one statement committed on its
 * own, so the open batch must have been committed (the route table does it), except
 * chat_media_store__get, which only reads and may run inside a send's batch.
 * Access control is the caller's (services/media.c).
 */
#ifndef CHAT_MEDIA_STORE_H
#define CHAT_MEDIA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blobs.h"
#include "errors.h"
#include "store.h"

struct chat_media_row {
	char id[CHAT_MEDIA_ID_LEN + 1];
	char *owner;
	int64_t channel_id;
	char *name;
	char *type;
	int64_t size;
	int64_t received;
	char *ranges;        /* "s-e,s-e": received byte ranges [s,e), sorted, merged */
	char *expect_sha256; /* NULL: none given */
	char *sha256;        /* NULL until complete */
	int64_t created_ms;
	bool referenced;
};

/* Releases the strings of row (malloc'd by chat_media_store__get) and zeroes it. */
void chat_media_store__row_clear(struct chat_media_row *row);

/* Stores a new upload (received 0, no ranges; sha256 as in row, set for a 0-byte upload). */
enum chat_err chat_media_store__insert(struct chat_store *store, const struct chat_media_row *row,
				       struct chat_error *err);

/* Reads the upload id into *row (*found false: none; row untouched). Clear row after. */
enum chat_err chat_media_store__get(struct chat_store *store, const char *id, struct chat_media_row *row,
				    bool *found, struct chat_error *err);

/* Records that id now holds received bytes in ranges. */
enum chat_err chat_media_store__progress(struct chat_store *store, const char *id, int64_t received,
					 const char *ranges, struct chat_error *err);

/* Marks id complete with the sha256 of its bytes. */
enum chat_err chat_media_store__complete(struct chat_store *store, const char *id, const char *sha256,
					 struct chat_error *err);

/* The sum of the sizes of owner's uploads, complete or not: what the quota counts. */
enum chat_err chat_media_store__owner_bytes(struct chat_store *store, const char *owner, int64_t *bytes,
					    struct chat_error *err);

/* Calls cb with the rowid of each channel holding a message (not deleted) that references id; cb
 * returns true to stop. *stopped tells whether it did. */
typedef bool (*chat_media_channel_cb)(int64_t channel_id, void *ctx);
enum chat_err chat_media_store__ref_channels(struct chat_store *store, const char *id,
					     chat_media_channel_cb cb, void *ctx, bool *stopped,
					     struct chat_error *err);

/* What collection removes: uploads no message references that either were referenced once (every
 * referencing message is deleted or pruned) or were created before cutoff_ms. At most max rows;
 * cb gets each id and its sha256 (NULL: incomplete). */
typedef void (*chat_media_gone_cb)(const char *id, const char *sha256, void *ctx);
enum chat_err chat_media_store__collectable(struct chat_store *store, int64_t cutoff_ms, int max,
					    chat_media_gone_cb cb, void *ctx, struct chat_error *err);

/* Deletes the row of id. */
enum chat_err chat_media_store__remove(struct chat_store *store, const char *id, struct chat_error *err);

/* Whether any upload still names the blob sha256. */
enum chat_err chat_media_store__sha256_used(struct chat_store *store, const char *sha256, bool *used,
					    struct chat_error *err);

/* The bytes of distinct blobs (each sha256 once): the media/bytes metric. */
enum chat_err chat_media_store__stored_bytes(struct chat_store *store, int64_t *bytes,
					     struct chat_error *err);

#endif
