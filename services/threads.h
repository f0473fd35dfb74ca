/*
 * threads.h - the `thread` op of chat/_api (docs/protocol.md, "Threads").
 */
#ifndef CHAT_THREADS_H
#define CHAT_THREADS_H

#include <cjson/cJSON.h>

#include "chat.h"

/* The `thread` op: {"channel":C,"root":S,"since":N,"limit":L} by user, a member of C. Adds "channel",
 * "root" (the root message as stored), "replies" (a page of the thread's events with seq > since),
 * "reply_count", "last_reply_ts", "next" and "more" to reply. *channel is set to the request's channel
 * for the error's context. The open group commit must have been committed (the route table does it).
 * Returns CHAT_ERR_OK, bad_request (malformed fields; S is not a message of C, is a reply, or is
 * deleted), no_such_channel / not_member, or unavailable. */
enum chat_err chat_threads__get(struct chat_plugin *plugin, const char *user, const cJSON *request,
				cJSON *reply, const char **channel, struct chat_error *err);

#endif
