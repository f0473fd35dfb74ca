/*
 * notify.h - notification levels (docs/protocol.md, "Notification level and mute").
 *
 * A member's level for a channel says what should reach them when they are away: "all" (the default),
 * "mentions" (messages that mention them or everyone, and direct messages), or "none" (muted). The
 * server stores it and shows it in the inbox; clients (desktop notifications) and push hand-off obey it.
 */
#ifndef CHAT_NOTIFY_H
#define CHAT_NOTIFY_H

#include <cjson/cJSON.h>

#include "attention_store.h"
#include "chat.h"

/* The `notify` op: {"channel":C,"level":L} sets user's level in C, a channel user is a member of.
 * Adds "channel" and "level" to reply. *channel is set to the request's channel for the error's
 * context. The open group commit must have been committed (the route table does it). Returns
 * CHAT_ERR_OK, bad_request (a missing or unknown level, a malformed channel), no_such_channel /
 * not_member, or unavailable. */
enum chat_err chat_notify__set(struct chat_plugin *plugin, const char *user, const cJSON *request,
			       cJSON *reply, const char **channel, struct chat_error *err);

#endif
