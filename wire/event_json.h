/*
 * event_json.h - the events of a channel log and the JSON that carries them, acks and errors.
 *
 * An event's JSON is built once, when it is appended, stored verbatim and sent as is both live and in
 * catch-up pages: a live subscriber and a client catching up later see the same bytes.
 */
#ifndef CHAT_EVENT_JSON_H
#define CHAT_EVENT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "errors.h"

#define CHAT_UUID_LEN 36

enum chat_event_type {
	CHAT_EVENT_MESSAGE,
	CHAT_EVENT_EDIT,
	CHAT_EVENT_DELETE,
	CHAT_EVENT_REACTION,
	CHAT_EVENT_JOIN,
	CHAT_EVENT_LEAVE,
};

/* One event of a channel log. Strings are borrowed; NULL or 0 means "not present". */
struct chat_event {
	const char *channel;
	int64_t seq;
	char id[CHAT_UUID_LEN + 1];
	enum chat_event_type type;
	const char *from;   /* the authenticated user who caused it */
	const char *device; /* that user's client id */
	int64_t ts;         /* server clock, ms since the epoch */
	const char *client_msg_id;
	const char *body;  /* message, edit */
	int64_t thread;    /* message: seq of the thread root */
	int64_t target;    /* edit, delete, reaction: seq of the message acted on */
	const char *emoji; /* reaction */
	bool on;           /* reaction: added (true) or removed */
	const char *user;  /* join, leave: the member who joined or left */
	/* message, edit: the members it mentions, sorted and unique (services/mentions.c), and whether
	 * it mentions everyone (@channel, @here). Sent only when present. */
	const char *const *mentions;
	size_t mention_count;
	bool mentions_all;
	/* Stored, not sent: in a direct channel, a message's other member, for whom every message there
	 * counts as a mention (store.c indexes it with the mentions). NULL elsewhere. */
	const char *dm_peer;
	/* message: its "media" array, JSON text already built (services/media.c), NULL for none */
	const char *media_json;
	/* Stored, not sent: a message's ordinal among the channel's messages (any other event: the number
	 * of messages before it), and a message's ordinal among its author's messages there. */
	int64_t msg_no, author_msg_no;
};

/* The wire name of type ("message"). */
const char *chat_event_type__name(enum chat_event_type type);

/* The seq an event refers to (thread root or target), or 0. */
int64_t chat_event__reference(const struct chat_event *ev);

/* The event's JSON, keys in a fixed order. Returns a malloc'd NUL-terminated string (length in *len),
 * or NULL when out of memory. */
char *chat_event_json__build(const struct chat_event *ev, size_t *len);

/* An ack: {"ok":true,"kind":"ack","channel",["client_msg_id",]"id","seq","ts","duplicate"}.
 * malloc'd, or NULL when out of memory. */
char *chat_ack_json__build(const char *channel, const char *client_msg_id, const char *id, int64_t seq,
			   int64_t ts, bool duplicate, size_t *len);

/* Context echoed in an error so the client can tell which request failed; every field may be NULL.
 * request is the kind of request answered ("send", "sync", "api", ...). */
struct chat_error_context {
	const char *request;
	const char *channel;
	const char *client_msg_id;
	const char *op;
	const cJSON *ref;
};

/* An error: {"ok":false,"kind":"error","code","message",["retry_after_ms",]"request","op","channel",
 * "client_msg_id","ref"}, each context field only when set. malloc'd, or NULL. */
char *chat_error_json__build(const struct chat_error *err, const struct chat_error_context *ctx, size_t *len);

/* Real-time signals, each malloc'd (NULL when out of memory):
 *   presence {"channel","user","online","ts"}
 *   typing   {"channel","user","device","typing","ts"}
 *   cursor   {"channel","user",["device",]"seq","ts"}: a read cursor without device, a delivery
 *            cursor with it. */
char *chat_presence_json__build(const char *channel, const char *user, bool online, int64_t ts, size_t *len);
char *chat_typing_json__build(const char *channel, const char *user, const char *device, bool typing,
			      int64_t ts, size_t *len);
char *chat_cursor_json__build(const char *channel, const char *user, const char *device, int64_t seq,
			      int64_t ts, size_t *len);

/* Prints obj unformatted into a malloc'd string; NULL when out of memory. Does not delete obj.
 * Here and in every builder above, *len (len may be NULL) is the string's length, 0 with NULL. */
char *chat_json__print(const cJSON *obj, size_t *len);

#endif
