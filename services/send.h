/*
 * send.h - the send path: a publish to chat/<ch> becomes an event in the channel's log.
 */
#ifndef CHAT_SEND_H
#define CHAT_SEND_H

#include <stddef.h>

#include "chat.h"
#include "reply.h"

/* Validates a publish to chat/<channel> by who, checks membership, recognises a retried
 * client_msg_id, commits the event with the channel's next seq and queues it for the subscribers, then
 * acks to rt when the send carries a client_msg_id or rt was requested.
 *
 * Returns CHAT_ERR_OK when the send was stored or recognised as a retry: the caller must then keep the
 * broker from delivering the original publish, since the stored event has been queued in its place.
 * Any other value means the send was refused, stored nothing and has been answered with an error. */
enum chat_err chat_send__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					const struct chat_reply_to *rt, const char *channel,
					size_t channel_len, const void *payload, size_t len);

#endif
