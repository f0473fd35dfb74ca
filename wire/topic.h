/*
 * topic.h - what an MQTT topic (or subscription filter) under chat/ names.
 *
 * Pure: no broker, no storage. The parser never allocates; the result points into the string it was
 * given, which must outlive it.
 */
#ifndef CHAT_TOPIC_H
#define CHAT_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_TOPIC_PREFIX     "chat/"
#define CHAT_TOPIC_PREFIX_LEN 5
#define CHAT_REPLY_PREFIX     "chat/_reply/"
#define CHAT_CHANNEL_ID_MAX   64

/* Where accepted publishes are diverted so the broker delivers them to nobody: mqchat fans out the
 * persisted event instead. It is the shortest chat topic, so it fits in place over any other. */
#define CHAT_SINK_TOPIC "chat/_"

enum chat_topic_kind {
	CHAT_TOPIC_OTHER,       /* not under chat/: none of mqchat's business */
	CHAT_TOPIC_INVALID,     /* under chat/, but names nothing mqchat serves (includes the sink) */
	CHAT_TOPIC_WIDE,        /* a filter whose channel level is a wildcard: chat/#, chat/+/typing */
	CHAT_TOPIC_MESSAGES,    /* chat/<ch> */
	CHAT_TOPIC_TYPING,      /* chat/<ch>/typing */
	CHAT_TOPIC_PRESENCE,    /* chat/<ch>/presence */
	CHAT_TOPIC_READ,        /* chat/<ch>/read */
	CHAT_TOPIC_DELIVERED,   /* chat/<ch>/delivered */
	CHAT_TOPIC_CHANNEL_ANY, /* a filter for one channel's topics: chat/<ch>/+ or chat/<ch>/# */
	CHAT_TOPIC_SYNC,        /* chat/<ch>/sync */
	CHAT_TOPIC_API,         /* chat/_api */
	CHAT_TOPIC_REPLY,       /* chat/_reply/<clientid> */
	CHAT_TOPIC_MEDIA,       /* chat/_media/<media>/<offset>: a piece of an upload, raw bytes */
};

struct chat_topic {
	enum chat_topic_kind kind;
	const char *channel; /* the channel id, not NUL-terminated; set for per-channel kinds */
	size_t channel_len;
	const char *client_id; /* CHAT_TOPIC_REPLY: everything after chat/_reply/ (NUL-terminated) */
	/* CHAT_TOPIC_MEDIA: the media id (m-<32 hex>) copied out, and the offset (1-15 decimal digits,
	 * NUL-terminated, pointing into the topic) */
	char media[35];
	const char *offset;
};

/* Classifies topic, a topic name or a subscription filter. Never fails: anything under chat/ that
 * mqchat does not serve is CHAT_TOPIC_INVALID. */
void chat_topic__parse(const char *topic, struct chat_topic *out);

/* Returns filter without a leading "$share/<group>/", which names no topic of its own. */
const char *chat_topic__strip_share(const char *filter);

/* True if s[0..len) is a channel id: 1-64 characters of A-Z a-z 0-9 . _ -, not starting with '_'. */
bool chat_channel_id__valid(const char *s, size_t len);

/* The reply topic of client_id, chat/_reply/<client id> with '+', '#' and '%' written as %2B, %23 and
 * %25: a topic name may not hold a wildcard, and any client id must have a reply topic. Writes it to
 * out (NUL-terminated, truncated to out_size) and returns its length, so that a call with out_size 0
 * tells the size to allocate (+1). */
size_t chat_topic__reply_topic(const char *client_id, char *out, size_t out_size);

/* True if escaped, the part of a reply topic after chat/_reply/, is client_id's (see above). */
bool chat_topic__reply_of(const char *escaped, const char *client_id);

#endif
