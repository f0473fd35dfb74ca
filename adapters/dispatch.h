/*
 * dispatch.h - what a publish under chat/ does: the one route table from topic kind to service.
 *
 * Both front doors call it: the message callback for a local client (events.c) and the core's side of
 * the gateway tier for a client of an edge (edge_link.c), so a request is served the same wherever
 * its client is connected.
 */
#ifndef CHAT_DISPATCH_H
#define CHAT_DISPATCH_H

#include <stddef.h>

#include "errors.h"
#include "topic.h"

struct chat_plugin;
struct chat_requester;
struct chat_reply_to;
struct chat_topic;

/* What an answer to a publish that no service takes names as its "request". */
#define CHAT_REQUEST_PUBLISH "publish"

/* Runs the service that serves topic t for who, answering to rt (an error for a topic that takes no
 * publishes). First names rt's request after the topic's kind and takes the payload's ref into it
 * (chat_reply_to__request), so every answer carries both. Returns what the service returned:
 * CHAT_ERR_OK, or the error it already answered. */
enum chat_err chat_dispatch__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					    struct chat_reply_to *rt, const struct chat_topic *t,
					    const void *payload, size_t len);

/* The request name of a publish on a topic of kind ("send", "sync", "api", "typing", "read",
 * "delivered"; CHAT_REQUEST_PUBLISH for a topic that takes no publishes). Static. */
const char *chat_dispatch__request_name(enum chat_topic_kind kind);

#endif
