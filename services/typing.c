/*
 * typing.c - typing indicators.
 *
 * Never stored: the server keeps, per channel and device, when the last typing:true expires. A
 * typing:true is published each time it is accepted (so a subscriber who arrives late learns it at the
 * next refresh); typing:false when the device says so, when its refresh is overdue, or when it
 * disconnects. Signals go out at QoS 0, stamped with the user, the device and the server's clock.
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

struct chat_typing_entry {
	UT_hash_handle hh; /* keyed by "<channel>\n<device>": channel ids never hold a newline */
	int64_t expires_ms;
	char channel[CHAT_CHANNEL_ID_MAX + 1];
	char *user;
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


static struct chat_typing_entry *find(struct chat_typing *typing, const char *channel, const char *device)
{
	struct chat_typing_entry *e = NULL;
	size_t len = strlen(channel) + 1 + strlen(device);
	char *key = malloc(len + 1);

	if(key == NULL) {
		return NULL;
	}
	snprintf(key, len + 1, "%s\n%s", channel, device);
	HASH_FIND(hh, typing->entries, key, len, e);
	free(key);
	return e;
}


/* Records that device types in channel until expires_ms; false when out of memory. */
static bool remember(struct chat_typing *typing, const char *channel, const char *user, const char *device,
		     int64_t expires_ms)
{
	struct chat_typing_entry *e = find(typing, channel, device);
	size_t channel_len = strlen(channel), len = channel_len + 1 + strlen(device);

	if(e != NULL) {
		e->expires_ms = expires_ms;
		return true;
	}
	e = calloc(1, sizeof(*e) + len + 1);
	if(e == NULL || (e->user = strdup(user)) == NULL) {
		free(e);
		return false;
	}
	snprintf(e->key, len + 1, "%s\n%s", channel, device);
	snprintf(e->channel, sizeof(e->channel), "%s", channel);
	e->device = e->key + channel_len + 1;
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
		   && remember(plugin->typing, name, who->user, who->device,
			       chat_clock__mono_ms() + plugin->config.typing_timeout_ms)) {
			announce(name, who->user, who->device, true);
		}
	} else if((e = find(plugin->typing, name, who->device)) != NULL) {
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


void chat_typing__device_gone(struct chat_plugin *plugin, const char *device)
{
	struct chat_typing_entry *e, *tmp;

	HASH_ITER(hh, plugin->typing->entries, e, tmp) {
		if(strcmp(e->device, device) == 0) {
			announce(e->channel, e->user, e->device, false);
			forget(plugin->typing, e);
		}
	}
}


void chat_typing__clear(struct chat_typing *typing)
{
	struct chat_typing_entry *e, *tmp;

	HASH_ITER(hh, typing->entries, e, tmp) {
		forget(typing, e);
	}
}
