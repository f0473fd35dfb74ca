/*
 * typing.c - typing indicators.
 *
 * Never stored: the server keeps, per channel and device, when the last typing:true expires. A
 * typing:true is published each time it is accepted (so a subscriber who arrives late learns it at the
 * next refresh); typing:false when the device says so, when its refresh is overdue, or when it
 * disconnects. Signals go out at QoS 0, stamped with the user, the device and the server's clock.
 *
 * A device is the one presence counts: a client id on this broker, or a client id on one edge (the
 * edge a request came through is rt->via). One broker lets only one user hold a client id, but two
 * edges know nothing of each other's ids, so the same id may be two users' devices there: keyed by
 * the client id alone, one would refresh, stop or end the other's typing.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "broker.h"
#include "chat.h"
#include "clock.h"
#include "json_fields.h"
#include "ratelimit.h"
#include "reply.h"
#include "typing.h"

#define TYPING_QOS 0

/* The key is "<channel>\0<edge>\0<device>" (edge "" for a client of this broker), compared as bytes:
 * none of the three holds a NUL, so no two triples share a key. */
struct chat_typing_entry {
	UT_hash_handle hh;
	int64_t expires_ms;
	char channel[CHAT_CHANNEL_ID_MAX + 1];
	char *user;
	const char *edge;   /* points into key */
	const char *device; /* points into key */
	char key[];
};


static void announce(const char *channel, const char *user, const char *device, bool typing)
{
	size_t len = 0;
	char *json = chat_typing_json__build(channel, user, device, typing, chat_clock__wall_ms(), &len);

	if(json != NULL) {
		chat_broker__publish(channel, "typing", json, len, TYPING_QOS);
	}
	free(json);
}


static void forget(struct chat_typing *typing, struct chat_typing_entry *e)
{
	HASH_DEL(typing->entries, e);
	free(e->user);
	free(e);
}


/* The length of the key of (channel, edge, device), its last NUL not counted. */
static size_t key_len(const char *channel, const char *edge, const char *device)
{
	return strlen(channel) + 1 + strlen(edge) + 1 + strlen(device);
}


/* Writes that key to key, which holds key_len() + 1 bytes. */
static void key_write(char *key, const char *channel, const char *edge, const char *device)
{
	size_t channel_len = strlen(channel), edge_len = strlen(edge);

	memcpy(key, channel, channel_len + 1);
	memcpy(key + channel_len + 1, edge, edge_len + 1);
	memcpy(key + channel_len + 1 + edge_len + 1, device, strlen(device) + 1);
}


/* The entry of device on edge ("" for this broker's own clients) in channel, or NULL. */
static struct chat_typing_entry *find(struct chat_typing *typing, const char *channel, const char *edge,
				      const char *device)
{
	struct chat_typing_entry *e = NULL;
	size_t len = key_len(channel, edge, device);
	char *key = malloc(len + 1);

	if(key == NULL) {
		return NULL;
	}
	key_write(key, channel, edge, device);
	HASH_FIND(hh, typing->entries, key, len, e);
	free(key);
	return e;
}


/* Records that device on edge types in channel until expires_ms; false when out of memory. */
static bool remember(struct chat_typing *typing, const char *channel, const char *user, const char *edge,
		     const char *device, int64_t expires_ms)
{
	struct chat_typing_entry *e = find(typing, channel, edge, device);
	size_t len = key_len(channel, edge, device);

	if(e != NULL) {
		e->expires_ms = expires_ms;
		return true;
	}
	e = calloc(1, sizeof(*e) + len + 1);
	if(e == NULL || (e->user = strdup(user)) == NULL) {
		free(e);
		return false;
	}
	key_write(e->key, channel, edge, device);
	snprintf(e->channel, sizeof(e->channel), "%s", channel);
	e->edge = e->key + strlen(channel) + 1;
	e->device = e->edge + strlen(edge) + 1;
	e->expires_ms = expires_ms;
	HASH_ADD(hh, typing->entries, key[0], len, e);
	return true;
}


static enum chat_err parse(const void *payload, size_t len, bool *typing, struct chat_error *err)
{
	cJSON *obj = NULL;
	enum chat_err rc;
	if(chat_json__parse_object(payload, len, "a typing signal is {\"typing\":true} or {\"typing\":false}",
				   &obj, err)
	   != CHAT_ERR_OK) {
		return err->code;
	}
	rc = chat_json__bool(obj, "typing", true, typing, err);
	cJSON_Delete(obj);
	return rc;
}


/* Over the user's typing rate for this channel? The key joins user and channel. */
static bool over_rate(struct chat_plugin *plugin, const char *user, const char *channel)
{
	size_t len = strlen(user) + 1 + strlen(channel);
	char *key = malloc(len + 1);
	bool allowed;

	if(key == NULL) {
		return false;
	}
	snprintf(key, len + 1, "%s\n%s", user, channel);
	allowed = chat_ratelimit__allow(plugin->typing_limits, key, chat_clock__mono_ms());
	free(key);
	return !allowed;
}


static void answer(const struct chat_reply_to *rt, const char *channel, bool typing)
{
	char json[160];

	if(rt->requested) {
		snprintf(json, sizeof(json),
			 "{\"ok\":true,\"kind\":\"typing\",\"channel\":\"%s\",\"typing\":%s}", channel,
			 typing ? "true" : "false");
		chat_reply__send(rt, json, strlen(json));
	}
}


enum chat_err chat_typing__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					  const struct chat_reply_to *rt, const char *channel,
					  size_t channel_len, const void *payload, size_t len)
{
	char name[CHAT_CHANNEL_ID_MAX + 1];
	struct chat_error_context ctx = {.channel = name};
	struct chat_error err = {0};
	const char *edge = rt->via != NULL ? rt->via->edge_id : "";
	struct chat_typing_entry *e;
	struct chat_channel *ch;
	bool typing = false;

	snprintf(name, sizeof(name), "%.*s", (int)channel_len, channel);
	if(parse(payload, len, &typing, &err) != CHAT_ERR_OK
	   || chat_index__lookup_member(&plugin->index, channel, channel_len, who->user, &ch, NULL, &err)
		      != CHAT_ERR_OK) {
		return chat_reply__error(rt, &err, &ctx);
	}
	if(typing) {
		/* Over the rate: dropped without an error, since typing is a hint, not a message. */
		if(!over_rate(plugin, who->user, name)
		   && remember(plugin->typing, name, who->user, edge, who->device,
			       chat_clock__mono_ms() + plugin->config.typing_timeout_ms)) {
			announce(name, who->user, who->device, true);
		}
	} else if((e = find(plugin->typing, name, edge, who->device)) != NULL) {
		forget(plugin->typing, e);
		announce(name, who->user, who->device, false);
	}
	answer(rt, name, typing);
	return CHAT_ERR_OK;
}


void chat_typing__expire(struct chat_plugin *plugin, int64_t now_ms)
{
	struct chat_typing_entry *e, *tmp;

	HASH_ITER(hh, plugin->typing->entries, e, tmp) {
		if(e->expires_ms <= now_ms) {
			announce(e->channel, e->user, e->device, false);
			forget(plugin->typing, e);
		}
	}
}


void chat_typing__edge_device_gone(struct chat_plugin *plugin, const char *edge_id, const char *device)
{
	struct chat_typing_entry *e, *tmp;

	HASH_ITER(hh, plugin->typing->entries, e, tmp) {
		if(strcmp(e->device, device) == 0 && strcmp(e->edge, edge_id) == 0) {
			announce(e->channel, e->user, e->device, false);
			forget(plugin->typing, e);
		}
	}
}


void chat_typing__device_gone(struct chat_plugin *plugin, const char *device)
{
	chat_typing__edge_device_gone(plugin, "", device);
}


void chat_typing__clear(struct chat_typing *typing)
{
	struct chat_typing_entry *e, *tmp;

	HASH_ITER(hh, typing->entries, e, tmp) {
		forget(typing, e);
	}
}
