/*
 * dispatch.c - the route table (see dispatch.h).
 *
 * One row per kind of topic, in the spirit of Redis's command table: the service that serves it, and
 * what every request of that kind needs before its service runs, as flags:
 * - its rate-limit class: the sender's budget of sends (messages, edits, deletes, reactions) or of
 *   requests (catch-up, chat/_api, cursor moves); over it, `rate_limited` and nothing else happens.
 *   Typing has its own limit per channel, inside its service (excess is dropped, not refused);
 * - whether the open group commit must be committed first: sends join the open batch, typing never
 *   touches the store, everything else that reads or writes the store must see only committed events
 *   (batch.c).
 * The membership check stays in each service, after it has parsed the request: a malformed request is
 * answered bad_request before its channel is looked up, whatever the channel.
 * A kind with no service names the error its publishers get.
 */
#include <stdbool.h>

#include <stdio.h>

#include "batch.h"
#include "clock.h"
#include "ratelimit.h"
#include "catchup.h"
#include "chat.h"
#include "cursors.h"
#include "dispatch.h"
#include "api.h"
#include "media.h"
#include "reply.h"
#include "send.h"
#include "topic.h"
#include "typing.h"

typedef enum chat_err (*serve_fn)(struct chat_plugin *plugin, const struct chat_requester *who,
				  const struct chat_reply_to *rt, const struct chat_topic *t,
				  const void *payload, size_t len);

enum route_flags {
	ROUTE_FLUSH_BATCH = 1,    /* commit the open batch first: the service reads or writes the store */
	ROUTE_SEND_BUDGET = 2,    /* admitted against the sender's budget of sends */
	ROUTE_REQUEST_BUDGET = 4, /* admitted against the sender's budget of requests */
};

struct route {
	enum chat_topic_kind kind;
	const char *request; /* what its answers name as "request" (reply.h) */
	serve_fn serve;      /* NULL: the topic takes no publishes */
	unsigned flags;      /* enum route_flags */
	const char *refusal; /* without a service: the bad_topic message */
};


static enum chat_err serve_send(struct chat_plugin *plugin, const struct chat_requester *who,
				const struct chat_reply_to *rt, const struct chat_topic *t,
				const void *payload, size_t len)
{
	return chat_send__serve_or_reply(plugin, who, rt, t->channel, t->channel_len, payload, len);
}


static enum chat_err serve_catchup(struct chat_plugin *plugin, const struct chat_requester *who,
				   const struct chat_reply_to *rt, const struct chat_topic *t,
				   const void *payload, size_t len)
{
	return chat_catchup__serve_or_reply(plugin, who, rt, t->channel, t->channel_len, payload, len);
}


static enum chat_err serve_api(struct chat_plugin *plugin, const struct chat_requester *who,
			       const struct chat_reply_to *rt, const struct chat_topic *t,
			       const void *payload, size_t len)
{
	(void)t;
	return chat_api__serve_or_reply(plugin, who, rt, payload, len);
}


static enum chat_err serve_typing(struct chat_plugin *plugin, const struct chat_requester *who,
				  const struct chat_reply_to *rt, const struct chat_topic *t,
				  const void *payload, size_t len)
{
	return chat_typing__serve_or_reply(plugin, who, rt, t->channel, t->channel_len, payload, len);
}


static enum chat_err serve_cursor(struct chat_plugin *plugin, const struct chat_requester *who,
				  const struct chat_reply_to *rt, const struct chat_topic *t,
				  const void *payload, size_t len)
{
	return chat_cursors__serve_or_reply(plugin, who, rt, t->channel, t->channel_len, payload, len,
					    t->kind == CHAT_TOPIC_DELIVERED);
}


/* A piece of an upload: raw bytes. Its budget is media.c's (only pieces smaller than a chunk cost a
 * request), and it writes the store. */
static enum chat_err serve_media(struct chat_plugin *plugin, const struct chat_requester *who,
				 const struct chat_reply_to *rt, const struct chat_topic *t,
				 const void *payload, size_t len)
{
	return chat_media__piece_or_reply(plugin, who, rt, t->media, t->offset, payload, len);
}


static const struct route routes[] = {
	{CHAT_TOPIC_MESSAGES, "send", serve_send, ROUTE_SEND_BUDGET, NULL},
	{CHAT_TOPIC_SYNC, "sync", serve_catchup, ROUTE_REQUEST_BUDGET | ROUTE_FLUSH_BATCH, NULL},
	{CHAT_TOPIC_API, "api", serve_api, ROUTE_REQUEST_BUDGET | ROUTE_FLUSH_BATCH, NULL},
	{CHAT_TOPIC_TYPING, "typing", serve_typing, 0, NULL},
	{CHAT_TOPIC_READ, "read", serve_cursor, ROUTE_REQUEST_BUDGET | ROUTE_FLUSH_BATCH, NULL},
	{CHAT_TOPIC_DELIVERED, "delivered", serve_cursor, ROUTE_REQUEST_BUDGET | ROUTE_FLUSH_BATCH, NULL},
	{CHAT_TOPIC_PRESENCE, CHAT_REQUEST_PUBLISH, NULL, 0, "presence is published by the server only"},
	{CHAT_TOPIC_REPLY, CHAT_REQUEST_PUBLISH, NULL, 0, "reply topics are written by the server only"},
	{CHAT_TOPIC_MEDIA, "upload", serve_media, ROUTE_FLUSH_BATCH, NULL},
};


static const struct route *route_of(enum chat_topic_kind kind)
{
	for(size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if(routes[i].kind == kind) {
			return &routes[i];
		}
	}
	return NULL;
}


const char *chat_dispatch__request_name(enum chat_topic_kind kind)
{
	const struct route *r = route_of(kind);

	return r != NULL ? r->request : CHAT_REQUEST_PUBLISH;
}

/* Takes one from who's budget of sends or of requests, or answers rate_limited (with the channel of
 * the topic, as the service would have). */
static enum chat_err admit(struct chat_plugin *plugin, const struct chat_requester *who,
			   const struct chat_reply_to *rt, const struct chat_topic *t, bool send)
{
	char name[CHAT_CHANNEL_ID_MAX + 1];
	struct chat_error_context ctx = {0};
	struct chat_error err = {0};

	if(chat_ratelimit__admit(send ? plugin->send_limits : plugin->request_limits, who->user,
				 chat_clock__mono_ms(), send ? "messages" : "requests", &err)
	   == CHAT_ERR_OK) {
		return CHAT_ERR_OK;
	}
	if(t->channel != NULL) {
		snprintf(name, sizeof(name), "%.*s", (int)t->channel_len, t->channel);
		ctx.channel = name;
	}
	return chat_reply__error(rt, &err, &ctx);
}


#define NO_ROUTE "no such topic; publish to chat/<channel>, chat/<channel>/sync or chat/_api"


enum chat_err chat_dispatch__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					    struct chat_reply_to *rt, const struct chat_topic *t,
					    const void *payload, size_t len)
{
	const struct route *r = route_of(t->kind);
	struct chat_error err = {0};

	/* Before anything can refuse it, so that every answer names its request and echoes its ref. A
	 * media piece is raw bytes: it has no ref to look for. */
	if(chat_reply_to__request(rt, r != NULL ? r->request : CHAT_REQUEST_PUBLISH,
				  t->kind == CHAT_TOPIC_MEDIA ? NULL : payload, len, &err)
	   != CHAT_ERR_OK) {
		struct chat_error_context ctx = {0};
		char name[CHAT_CHANNEL_ID_MAX + 1];
		if(t->channel != NULL) {
			snprintf(name, sizeof(name), "%.*s", (int)t->channel_len, t->channel);
			ctx.channel = name;
		}
		return chat_reply__error(rt, &err, &ctx);
	}
	if(r != NULL && (r->flags & (ROUTE_SEND_BUDGET | ROUTE_REQUEST_BUDGET))
	   && admit(plugin, who, rt, t, r->flags & ROUTE_SEND_BUDGET) != CHAT_ERR_OK) {
		plugin->metrics.sends_refused += (r->flags & ROUTE_SEND_BUDGET) != 0;
		return CHAT_ERR_RATE_LIMITED;
	}
	if(r != NULL && (r->flags & ROUTE_FLUSH_BATCH)) {
		chat_batch__flush(plugin);
	}
	if(r != NULL && r->serve != NULL) {
		return r->serve(plugin, who, rt, t, payload, len);
	}
	chat_error__set(&err, CHAT_ERR_BAD_TOPIC, "%s", r != NULL ? r->refusal : NO_ROUTE);
	return chat_reply__error(rt, &err, NULL);
}
