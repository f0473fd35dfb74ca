/*
 * api.h - account requests on chat/_api: channels, membership, the inbox.
 */
#ifndef CHAT_API_H
#define CHAT_API_H

#include <stddef.h>

#include "chat.h"
#include "reply.h"

/* Answers a publish of {"op":...} to chat/_api, sending the reply (or an error) to rt only. Returns
 * CHAT_ERR_OK when the request succeeded, or the error it answered with. */
enum chat_err chat_api__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
				       const struct chat_reply_to *rt, const void *payload, size_t len);

#endif
