/*
 * typing.h - who is typing where: ephemeral, stamped by the server, expired by the server.
 */
#ifndef CHAT_TYPING_H
#define CHAT_TYPING_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct chat_plugin;
struct chat_requester;
struct chat_reply_to;
struct chat_typing_entry;

struct chat_typing {
	struct chat_typing_entry *entries; /* one per (channel, edge, device) typing now */
};

/* Handles {"typing":true|false} published to chat/<channel>/typing by who: members only; a
 * typing:true over the user's rate for the channel is dropped silently. Publishes the stamped signal
 * to the channel's members. The device is who->device on the edge rt->via names (none: this broker),
 * as presence keys devices. Returns CHAT_ERR_OK when handled (dropped included), or the error it
 * answered with. */
enum chat_err chat_typing__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					  const struct chat_reply_to *rt, const char *channel,
					  size_t channel_len, const void *payload, size_t len);

/* Announces typing:false for every device whose typing:true is older than the timeout at now_ms (the
 * monotonic clock), and forgets it. */
void chat_typing__expire(struct chat_plugin *plugin, int64_t now_ms);

/* A client of this broker disconnected: announces typing:false wherever its device (client id) was
 * typing. */
void chat_typing__device_gone(struct chat_plugin *plugin, const char *device);

/* A device (client id) of edge edge_id is gone: announces typing:false wherever it was typing. The
 * same client id on another edge, or on this broker, is another device. */
void chat_typing__edge_device_gone(struct chat_plugin *plugin, const char *edge_id, const char *device);

/* Forgets everything, announcing nothing. */
void chat_typing__clear(struct chat_typing *typing);

#endif
