/*
 * acl.c - the access rules of docs/protocol.md, from memory.
 *
 *   read      chat/<ch> and its typing/presence/read/delivered topics: members only; a client's own
 *             reply topic; nothing else under chat/ (the sink, requests)
 *   subscribe the same topics for members; wildcard channel levels (chat/#, chat/+/typing) are allowed
 *             and filtered at each delivery; chat/_reply/<clientid> by that client only
 *   write     any authenticated user; the message callback answers with a precise error
 * A connection without a username gets nothing under chat/.
 */
#include <string.h>

#include "acl.h"


static bool is_member(const struct chat_index *idx, const struct chat_topic *t, const char *user)
{
	const struct chat_channel *ch = chat_index__find(idx, t->channel, t->channel_len);

	return ch != NULL && chat_index__member(ch, user) != NULL;
}


static bool is_channel_topic(enum chat_topic_kind kind)
{
	return kind == CHAT_TOPIC_MESSAGES || kind == CHAT_TOPIC_TYPING || kind == CHAT_TOPIC_PRESENCE
	       || kind == CHAT_TOPIC_READ || kind == CHAT_TOPIC_DELIVERED;
}


static bool is_own_reply(const struct chat_topic *t, const char *client_id)
{
	return client_id != NULL && chat_topic__reply_of(t->client_id, client_id);
}


static enum chat_acl_verdict check_subscribe(const struct chat_index *idx, const char *user,
					     const char *client_id, const struct chat_topic *t)
{
	if(t->kind == CHAT_TOPIC_WIDE) {
		return CHAT_ACL_GRANT;
	}
	if(is_channel_topic(t->kind) || t->kind == CHAT_TOPIC_CHANNEL_ANY) {
		return is_member(idx, t, user) ? CHAT_ACL_GRANT : CHAT_ACL_DENY;
	}
	if(t->kind == CHAT_TOPIC_REPLY) {
		return client_id != NULL && chat_topic__reply_of(t->client_id, client_id) ? CHAT_ACL_GRANT
											  : CHAT_ACL_DENY;
	}
	return CHAT_ACL_DENY;
}


enum chat_acl_verdict chat_acl__check(const struct chat_index *idx, const char *user, const char *client_id,
				      const char *topic, enum chat_access access)
{
	struct chat_topic t;

	if(access == CHAT_ACCESS_SUBSCRIBE || access == CHAT_ACCESS_UNSUBSCRIBE) {
		topic = chat_topic__strip_share(topic);
	}
	chat_topic__parse(topic, &t);
	if(t.kind == CHAT_TOPIC_OTHER) {
		return CHAT_ACL_NOT_MINE;
	}
	if(access == CHAT_ACCESS_UNSUBSCRIBE) {
		return CHAT_ACL_GRANT;
	}
	if(user == NULL) {
		return CHAT_ACL_DENY;
	}
	switch(access) {
	case CHAT_ACCESS_READ:
		if(t.kind == CHAT_TOPIC_REPLY) {
			/* Replies are directed and skip this check, except when Mosquitto re-checks what it
			 * queued for a persistent session that reconnects: its own replies are its to read.
			 */
			return is_own_reply(&t, client_id) ? CHAT_ACL_GRANT : CHAT_ACL_DENY;
		}
		return is_channel_topic(t.kind) && is_member(idx, &t, user) ? CHAT_ACL_GRANT : CHAT_ACL_DENY;
	case CHAT_ACCESS_WRITE:
		return CHAT_ACL_GRANT;
	case CHAT_ACCESS_SUBSCRIBE:
		return check_subscribe(idx, user, client_id, &t);
	case CHAT_ACCESS_UNSUBSCRIBE:
		break;
	}
	return CHAT_ACL_GRANT;
}


enum chat_acl_verdict chat_acl__check_read(const struct chat_index *idx, struct chat_acl_cache *cache,
					   const char *user, const char *client_id, const char *topic)
{
	struct chat_topic t;
	size_t len;

	if(cache->topic[0] == '\0' || cache->generation != idx->generation
	   || strcmp(cache->topic, topic) != 0) {
		len = strlen(topic);
		chat_topic__parse(topic, &t);
		if(t.kind == CHAT_TOPIC_REPLY || len > CHAT_ACL_CACHE_TOPIC_MAX) {
			cache->topic[0] = '\0'; /* its verdict depends on more than the topic: not cached */
			return chat_acl__check(idx, user, client_id, topic, CHAT_ACCESS_READ);
		}
		memcpy(cache->topic, topic, len + 1);
		cache->kind = t.kind;
		cache->ch = is_channel_topic(t.kind) ? chat_index__find(idx, t.channel, t.channel_len) : NULL;
		cache->generation = idx->generation;
	}
	if(cache->kind == CHAT_TOPIC_OTHER) {
		return CHAT_ACL_NOT_MINE;
	}
	if(user == NULL || !is_channel_topic(cache->kind) || cache->ch == NULL) {
		return CHAT_ACL_DENY;
	}
	return chat_index__member(cache->ch, user) != NULL ? CHAT_ACL_GRANT : CHAT_ACL_DENY;
}
