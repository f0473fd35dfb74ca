/*
 * catchup.h - the catch-up path: a page of a channel's log after a cursor.
 */
#ifndef CHAT_CATCHUP_H
#define CHAT_CATCHUP_H

#include <stddef.h>

#include "chat.h"
#include "reply.h"

/* Answers a publish of {"since":N,"limit":L} to chat/<channel>/sync with one page of the events after
 * since, sent to rt only. Returns CHAT_ERR_OK when a page was sent, or the error it answered with. */
enum chat_err chat_catchup__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					   const struct chat_reply_to *rt, const char *channel,
					   size_t channel_len, const void *payload, size_t len);

#endif
