/*
 * blobs.h - media bytes as files beside the database.
 *
 * Why files and not a second SQLite database: a piece is written with one pwrite at its offset and a
 * download is one pread, with no transaction, no WAL copy of every byte, and no checkpoint rewriting
 * 25 MB a second time; identical bytes are one file by construction (its name is their sha256).
 *
 * Layout under dir:
 *   partial/<media id>   an upload in progress, pieces written at their offsets in any order
 *   <sha256>             a complete upload: the partial file fsync'd and renamed (atomic), then the
 *                        directory fsync'd. Renaming onto an existing name is the dedup: the bytes are
 *                        the same, so the old file stays valid throughout.
 * Nothing here knows who may read what (services/media.c) or what is referenced (media_store.c).
 */
#ifndef CHAT_BLOBS_H
#define CHAT_BLOBS_H

#include <stddef.h>
#include <stdint.h>

#define CHAT_SHA256_HEX_LEN 64
#define CHAT_MEDIA_ID_LEN   34 /* "m-" + 32 hex */

struct chat_blobs;

/* Opens (creating) the store under dir. Returns NULL with a message in err on failure. */
struct chat_blobs *chat_blobs__open(const char *dir, char *err, size_t err_len);
void chat_blobs__close(struct chat_blobs *b);

/* Opens the partial file of media id for reading and writing (creating it). Returns an fd or -1. */
int chat_blobs__open_partial(struct chat_blobs *b, const char *id);

/* Makes the partial file of id (open as fd, closed here either way) the blob named sha256: fsync,
 * rename, directory fsync. Returns 0 or -1. */
int chat_blobs__commit(struct chat_blobs *b, const char *id, int fd, const char *sha256);

/* Has the store's flusher thread fdatasync fd (a dup of it; fd stays the caller's), so that the fsync
 * of chat_blobs__commit finds little left to write on the broker's thread. Never waits: when the
 * flusher is busy with more than a few files, this one is skipped (the commit's fsync covers it). */
void chat_blobs__flush_async(struct chat_blobs *b, int fd);

/* Removes the partial file of id, if any. */
void chat_blobs__drop_partial(struct chat_blobs *b, const char *id);

/* Removes the blob sha256, if any. */
void chat_blobs__drop(struct chat_blobs *b, const char *sha256);

/* Reads up to len bytes at offset of blob sha256 into buf. Returns the count read, or -1. */
int64_t chat_blobs__read(struct chat_blobs *b, const char *sha256, uint64_t offset, void *buf, size_t len);

/* Writes the blob of zero bytes named sha256 (an empty file). Returns 0 or -1. */
int chat_blobs__commit_empty(struct chat_blobs *b, const char *sha256);

#endif
