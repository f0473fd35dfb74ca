/*
 * presence.c - connection records and online/offline transitions (see presence.h for the model).
 * * A transition is announced on chat/<ch>/presence of each of the user's direct channels and of each
 * channel with at most plugin_opt_presence_max_members members, at QoS 0: presence is ephemeral. In a channel
 * where every member listens, one transition reaches every member, so presence traffic there grows with the
 * square of the channel's size; the cap keeps large channels out of it.
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "broker.h"
#include "chat.h"
#include "clock.h"
#include "presence.h"

#define PRESENCE_QOS 0

struct chat_presence_user {
	UT_hash_handle hh;
	unsigned connections; /* pending and confirmed */
	bool online;          /* announced online and not yet offline */
	char name[];
};

struct chat_connection {
	UT_hash_handle hh;
	const void *client;
	bool confirmed;
	struct chat_presence_user *user;
	char *device;
};

static struct chat_presence_user *find_user(const struct chat_presence *presence, const char *name)
{
	struct chat_presence_user *u = NULL;

	HASH_FIND(hh, presence->users, name, strlen(name), u);
	return u;
}


static void announce(struct chat_plugin *plugin, const char *user, bool online)
{
	const struct chat_user *u = chat_index__user(&plugin->index, user);
	struct chat_membership *ms, *tmp;
	int64_t ts = chat_clock__wall_ms();

	if(u == NULL || plugin->config.presence_max_members == 0) {
		return;
	}
	HASH_ITER(hh, u->channels, ms, tmp) {
		size_t len = 0;
		char *json;
		if(ms->channel->visibility != CHAT_VISIBILITY_DM
		   && HASH_COUNT(ms->channel->members) > (unsigned)plugin->config.presence_max_members) {
			continue;
		}
		json = chat_presence_json__build(ms->channel->name, user, online, ts, &len);
		if(json != NULL) {
			chat_broker__publish(ms->channel->name, "presence", json, len, PRESENCE_QOS);
		}
		free(json);
	}
}


static void confirm(struct chat_plugin *plugin, struct chat_connection *c)
{
	c->confirmed = true;
	if(!c->user->online) {
		c->user->online = true;
		announce(plugin, c->user->name, true);
	}
}


/* Records client; returns the record, or NULL when out of memory (presence then misses it). */
static struct chat_connection *add(struct chat_presence *presence, const void *client, const char *user,
				   const char *device)
{
	struct chat_presence_user *u = find_user(presence, user);
	struct chat_connection *c = calloc(1, sizeof(*c));
	size_t len = strlen(user);

	if(c == NULL || (c->device = strdup(device ? device : "")) == NULL) {
		free(c);
		return NULL;
	}
	if(u == NULL) {
		u = calloc(1, sizeof(*u) + len + 1);
		if(u == NULL) {
			free(c->device);
			free(c);
			return NULL;
		}
		memcpy(u->name, user, len + 1);
		HASH_ADD(hh, presence->users, name[0], len, u);
	}
	u->connections++;
	c->client = client;
	c->user = u;
	HASH_ADD_PTR(presence->connections, client, c);
	return c;
}


void chat_presence__connecting(struct chat_plugin *plugin, const void *client, const char *user,
			       const char *device)
{
	struct chat_connection *c = NULL;

	HASH_FIND_PTR(plugin->presence.connections, &client, c);
	if(c == NULL && add(&plugin->presence, client, user, device) != NULL) {
		plugin->presence.pending++;
	}
}


void chat_presence__seen(struct chat_plugin *plugin, const void *client, const char *user, const char *device)
{
	struct chat_connection *c = NULL;

	HASH_FIND_PTR(plugin->presence.connections, &client, c);
	if(c == NULL && (c = add(&plugin->presence, client, user, device)) != NULL) {
		confirm(plugin, c);
	}
}


void chat_presence__confirm_pending(struct chat_plugin *plugin)
{
	struct chat_connection *c, *tmp;

	if(plugin->presence.pending == 0) {
		return;
	}
	HASH_ITER(hh, plugin->presence.connections, c, tmp) {
		if(!c->confirmed) {
			confirm(plugin, c);
		}
	}
	plugin->presence.pending = 0;
}


char *chat_presence__gone(struct chat_plugin *plugin, const void *client)
{
	struct chat_presence *presence = &plugin->presence;
	struct chat_connection *c = NULL;
	struct chat_presence_user *u;
	char *device;

	HASH_FIND_PTR(presence->connections, &client, c);
	if(c == NULL) {
		return NULL;
	}
	HASH_DEL(presence->connections, c);
	if(!c->confirmed) {
		presence->pending--;
		free(c->device);
		device = NULL;
	} else {
		device = c->device;
	}
	u = c->user;
	free(c);
	if(--u->connections == 0) {
		if(u->online) {
			announce(plugin, u->name, false);
		}
		HASH_DEL(presence->users, u);
		free(u);
	}
	return device;
}


bool chat_presence__online(const struct chat_plugin *plugin, const char *user)
{
	const struct chat_presence_user *u = find_user(&plugin->presence, user);

	return u != NULL && u->online;
}


void chat_presence__clear(struct chat_presence *presence)
{
	struct chat_connection *c, *c_tmp;
	struct chat_presence_user *u, *u_tmp;

	HASH_ITER(hh, presence->connections, c, c_tmp) {
		HASH_DEL(presence->connections, c);
		free(c->device);
		free(c);
	}
	HASH_ITER(hh, presence->users, u, u_tmp) {
		HASH_DEL(presence->users, u);
		free(u);
	}
	presence->pending = 0;
}
