/*
 * acl.h - who may read, write and subscribe to what under chat/.
 *
 * Pure: answers from the in-memory index only, because the broker asks for every delivery to every
 * subscriber. The verdict says whether mqchat has an opinion; the adapter (events.c) maps "no opinion"
 * and "granted" to allow or defer according to plugin_opt_acl_fallback.
 */
#ifndef CHAT_ACL_H
#define CHAT_ACL_H

#include "index.h"
#include "topic.h"

enum chat_access {
	CHAT_ACCESS_READ,        /* a message is about to be delivered to a subscriber */
	CHAT_ACCESS_WRITE,       /* a client publishes */
	CHAT_ACCESS_SUBSCRIBE,   /* a client subscribes to a filter */
	CHAT_ACCESS_UNSUBSCRIBE, /* a client unsubscribes */
};

enum chat_acl_verdict {
	CHAT_ACL_NOT_MINE, /* not under chat/: mqchat has no opinion */
	CHAT_ACL_GRANT,    /* mqchat allows it */
	CHAT_ACL_DENY,     /* mqchat forbids it */
};

/* The verdict for user (NULL when the connection has no username) on client client_id doing access on
 * topic (a filter for subscribe and unsubscribe). Writes by authenticated users are granted: the
 * message callback validates them and answers with a precise error. */
enum chat_acl_verdict chat_acl__check(const struct chat_index *idx, const char *user, const char *client_id,
				      const char *topic, enum chat_access access);

/* The last topic a read check parsed, and its channel. Mosquitto asks for every subscriber of a
 * message in turn, with the same topic, so the parse and the channel lookup are done once per message
 * instead of once per delivery. A cached channel stays valid while the index's generation has not
 * moved: adding a channel, or removing one (a deleted channel, admin.c), empties the cache. */
#define CHAT_ACL_CACHE_TOPIC_MAX 127

struct chat_acl_cache {
	char topic[CHAT_ACL_CACHE_TOPIC_MAX + 1]; /* "" when empty */
	enum chat_topic_kind kind;
	const struct chat_channel *ch; /* per-channel kinds: the channel, NULL if there is none */
	unsigned long generation;      /* the index's generation when cached (index.h) */
};

/* chat_acl__check(idx, user, client_id, topic, CHAT_ACCESS_READ), the same verdict, through cache. */
enum chat_acl_verdict chat_acl__check_read(const struct chat_index *idx, struct chat_acl_cache *cache,
					   const char *user, const char *client_id, const char *topic);

#endif
