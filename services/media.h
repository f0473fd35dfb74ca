/*
 * media.h - files and images: upload, then reference (docs/protocol.md, "Media").
 *
 *   upload (chat/_api)  -> a media row, and a partial file that pieces fill in any order
 *   chat/_media/<M>/<O> -> one piece: checked against what is there, written, hashed when in order;
 *                          the last byte in makes the blob (sha256 verified, stored once per sha256)
 *   send "media":[M]    -> the event carries each entry's metadata; schema 0013's trigger records the
 *                          reference, which is what lets a channel's members download M
 *   download            -> raw bytes, at most CHAT_MEDIA_CHUNK, to the uploader or a member of a
 *                          channel whose log references M in a message not deleted
 *   tick                -> collection: uploads no message references after media_orphan_hours, and
 *                          uploads whose every referencing message was deleted or pruned
 * Invariant: everything that does not exist and everything the asker may not see is the same
 * no_such_media, so an id reveals nothing.
 */
#ifndef CHAT_MEDIA_H
#define CHAT_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "chat.h"
#include "reply.h"

/* The most bytes of one piece and of one download answer. 64 KiB: a piece must fit the shipped
 * max_packet_size (128 KiB) even as an edge forwards it, base64 in an envelope (about 87 KiB); one
 * pwrite, or pread, and hash of it takes tens of microseconds of the broker's thread, so a transfer
 * never holds other clients up for long (docs/benchmarks.md, "Media"). */
#define CHAT_MEDIA_CHUNK (64 * 1024)

/* The most media one message may reference. */
#define CHAT_MEDIA_PER_MESSAGE 10

/* The ops (api.c): each reads body, fills reply, or returns an error in err. */
enum chat_err chat_media__upload(struct chat_plugin *plugin, const char *user, const cJSON *body,
				 cJSON *reply, const char **channel, struct chat_error *err);
enum chat_err chat_media__status(struct chat_plugin *plugin, const char *user, const cJSON *body,
				 cJSON *reply, struct chat_error *err);
/* Sends the bytes itself (raw, on rt's topic + "/media/<M>/<O>", or on its Response Topic); an error
 * is the caller's to send. */
enum chat_err chat_media__download(struct chat_plugin *plugin, const char *user,
				   const struct chat_reply_to *rt, const cJSON *body, struct chat_error *err);

/* A piece published to chat/_media/<media>/<offset> (media and offset validated by topic.c). Answers
 * it (ack or error) and returns the result. */
enum chat_err chat_media__piece_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					 const struct chat_reply_to *rt, const char *media,
					 const char *offset, const void *payload, size_t len);

/* The event's "media" array for ids (user's complete uploads), as JSON text in *out (malloc'd); an entry
 * whose thumbnails[i] is not NULL (thumbnails may be NULL) carries "thumbnail":{"id","type","size",
 * "sha256"}, that id also a complete upload of user's. Anything else: CHAT_ERR_NO_SUCH_MEDIA. */
enum chat_err chat_media__entries(struct chat_plugin *plugin, const char *user, char *const *ids,
				  char *const *thumbnails, size_t count, char **out, struct chat_error *err);

/* Every tick: the answers to uploads whose last piece came, once their blob is made (a thread does the
 * fsync); then collection, on its own period. */
void chat_media__tick(struct chat_plugin *plugin, int64_t now_mono_ms);

/* Records and answers the uploads the finisher thread has finished (chat_media__tick does it). */
void chat_media__settle(struct chat_plugin *plugin);

/* Releases the media state (open partial files); plugin cleanup. */
void chat_media__free(struct chat_plugin *plugin);

#endif
