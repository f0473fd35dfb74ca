/*
 * presence.c - connection records and online/offline transitions (see presence.h for the model).
 *
 * A transition is announced on chat/<ch>/presence of the user's direct channels and of its channels with
 * at most plugin_opt_presence_max_members members, at most plugin_opt_presence_max_channels of them,
 * at QoS 0: presence is ephemeral. In a channel where every member listens, one transition reaches every
 * member, so presence traffic there grows with the square of the channel's size; the cap keeps large
 * channels out of it.
 *
 * States of a user record: `online` is the real state (a confirmed connection, until none is left);
 * `announced` is the last state published. They differ only while a transition is held for the user's
 * presence token (the user is then on the held list, with the time its token is due). A record lives
 * while the user has a connection, or while a transition is held; then it goes, and with it nothing that
 * matters: a record without connections that is not held has announced offline (or nothing at all).
 * Before an announcement goes out at once, the held ones already due go first, so announcements keep
 * the order of the transitions they report wherever none is held.
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>
#include <utlist.h>

#include "broker.h"
#include "chat.h"
#include "clock.h"
#include "presence.h"
#include "ratelimit.h"
#include "users.h"

#define PRESENCE_QOS 0

struct chat_presence_user {
	UT_hash_handle hh;
	struct chat_presence_user *prev, *next; /* chat_presence.held, while held */
	unsigned connections;                   /* pending and confirmed */
	bool online;                            /* the real state */
	bool announced;                         /* the last state published */
	bool held;                              /* a transition waits for the token due at due_ms */
	int64_t due_ms;
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


/* ---- announcing ------------------------------------------------------------------------------------ */

/* Whether a transition of a member of ch is announced there at all (before the channel cap). */
static bool announced_in(const struct chat_plugin *plugin, const struct chat_channel *ch)
{
	return ch->visibility == CHAT_VISIBILITY_DM
	       || HASH_COUNT(ch->members) <= plugin->config.presence_max_members;
}


/* Publishes to at most `left` channels of u: the direct channels (dms true) or the others. Returns how
 * many it published to. */
static int64_t publish_pass(const struct chat_plugin *plugin, const struct chat_user *u, bool dms,
			    const char *user, bool online, int64_t ts, int64_t left)
{
	struct chat_membership *ms, *tmp;
	int64_t sent = 0;

	HASH_ITER(hh, u->channels, ms, tmp) {
		const struct chat_channel *ch = ms->channel;
		size_t len = 0;
		char *json;

		if(sent >= left) {
			break;
		}
		if((ch->visibility == CHAT_VISIBILITY_DM) != dms || !announced_in(plugin, ch)) {
			continue;
		}
		json = chat_presence_json__build(ch->name, user, online, ts, &len);
		if(json != NULL) {
			chat_broker__publish(ch->name, "presence", json, len, PRESENCE_QOS);
		}
		free(json);
		sent++;
	}
	return sent;
}


/* True if a transition of user would be announced anywhere. */
static bool has_audience(const struct chat_plugin *plugin, const char *user)
{
	const struct chat_user *u = chat_index__user(&plugin->index, user);
	struct chat_membership *ms, *tmp;

	if(u == NULL || plugin->config.presence_max_members == 0) {
		return false;
	}
	HASH_ITER(hh, u->channels, ms, tmp) {
		if(announced_in(plugin, ms->channel)) {
			return true;
		}
	}
	return false;
}


static void announce(struct chat_plugin *plugin, const char *user, bool online)
{
	const struct chat_user *u = chat_index__user(&plugin->index, user);
	int64_t ts = chat_clock__wall_ms(), cap = plugin->config.presence_max_channels;

	if(u == NULL || plugin->config.presence_max_members == 0) {
		return;
	}
	cap -= publish_pass(plugin, u, true, user, online, ts, cap);
	publish_pass(plugin, u, false, user, online, ts, cap);
}


static void hold(struct chat_presence *presence, struct chat_presence_user *u, int64_t due_ms)
{
	if(!u->held) {
		DL_APPEND(presence->held, u);
		u->held = true;
	}
	u->due_ms = due_ms;
	if(presence->next_due_ms == 0 || due_ms < presence->next_due_ms) {
		presence->next_due_ms = due_ms;
	}
}


static void release(struct chat_presence *presence, struct chat_presence_user *u)
{
	if(u->held) {
		DL_DELETE(presence->held, u);
		u->held = false;
		u->prev = u->next = NULL;
	}
}


/* Forgets u once nothing depends on it: no connection, nothing held. */
static void forget_if_idle(struct chat_presence *presence, struct chat_presence_user *u)
{
	if(u->connections == 0 && !u->held) {
		HASH_DEL(presence->users, u);
		free(u);
	}
}


/* Brings what was announced of u in line with its real state: announces it if u's token allows (or if
 * nobody would hear it, which costs nothing), else holds it until the token is due. */
static void settle(struct chat_plugin *plugin, struct chat_presence_user *u, int64_t now_ms)
{
	int64_t wait;

	if(u->online == u->announced) {
		release(plugin->presence, u); /* a flap that settled back: nothing to say */
		return;
	}
	if(has_audience(plugin, u->name)
	   && !chat_ratelimit__allow(plugin->presence_limits, u->name, now_ms)) {
		wait = chat_ratelimit__wait_ms(plugin->presence_limits, u->name, now_ms);
		hold(plugin->presence, u, now_ms + (wait > 0 ? wait : 1));
		return;
	}
	release(plugin->presence, u);
	u->announced = u->online;
	announce(plugin, u->name, u->online);
}


void chat_presence__settle_due(struct chat_plugin *plugin, int64_t now_ms)
{
	struct chat_presence *presence = plugin->presence;
	struct chat_presence_user *u, *tmp;

	if(presence->held == NULL || now_ms < presence->next_due_ms) {
		return;
	}
	presence->next_due_ms = 0;
	DL_FOREACH_SAFE(presence->held, u, tmp)
	{
		if(u->due_ms <= now_ms) {
			settle(plugin, u, now_ms); /* announces, or holds it again with a new due time */
		} else if(presence->next_due_ms == 0 || u->due_ms < presence->next_due_ms) {
			presence->next_due_ms = u->due_ms;
		}
		forget_if_idle(presence, u);
	}
}


/* u's real state changed to online; u has a connection, so nothing here forgets it. */
static void transition(struct chat_plugin *plugin, struct chat_presence_user *u, bool online)
{
	int64_t now = chat_clock__mono_ms();

	u->online = online;
	chat_presence__settle_due(plugin, now); /* what is due goes before this */
	settle(plugin, u, now);
}


/* ---- connections ----------------------------------------------------------------------------------- */

static void confirm(struct chat_plugin *plugin, struct chat_connection *c)
{
	c->confirmed = true;
	/* The broker accepted this connection (a refused one is gone before the tick that confirms):
	 * its user is a user from now on, whom others may name. */
	chat_users__note(plugin, c->user->name);
	if(!c->user->online) {
		transition(plugin, c->user, true);
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

	HASH_FIND_PTR(plugin->presence->connections, &client, c);
	if(c == NULL && add(plugin->presence, client, user, device) != NULL) {
		plugin->presence->pending++;
	}
}


void chat_presence__seen(struct chat_plugin *plugin, const void *client, const char *user, const char *device)
{
	struct chat_connection *c = NULL;

	HASH_FIND_PTR(plugin->presence->connections, &client, c);
	if(c == NULL && (c = add(plugin->presence, client, user, device)) != NULL) {
		confirm(plugin, c);
	}
}


void chat_presence__confirm_pending(struct chat_plugin *plugin)
{
	struct chat_connection *c, *tmp;

	if(plugin->presence->pending == 0) {
		return;
	}
	HASH_ITER(hh, plugin->presence->connections, c, tmp) {
		if(!c->confirmed) {
			confirm(plugin, c);
		}
	}
	plugin->presence->pending = 0;
}


char *chat_presence__gone(struct chat_plugin *plugin, const void *client)
{
	struct chat_presence *presence = plugin->presence;
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
	if(u->connections == 1 && u->online) {
		transition(plugin, u, false); /* before the count drops: nothing may forget u meanwhile */
	}
	u->connections--;
	forget_if_idle(presence, u);
	return device;
}


bool chat_presence__online(const struct chat_plugin *plugin, const char *user)
{
	const struct chat_presence_user *u = find_user(plugin->presence, user);

	return u != NULL && u->online;
}


void chat_presence__each_connection(const struct chat_plugin *plugin, const char *user,
				    void (*fn)(const void *client, const char *device, void *ctx), void *ctx)
{
	struct chat_connection *c, *tmp;

	/* every connection, not a list per user: this runs once per leave, which is rare */
	HASH_ITER(hh, plugin->presence->connections, c, tmp) {
		if(c->confirmed && strcmp(c->user->name, user) == 0) {
			fn(c->client, c->device, ctx);
		}
	}
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
	presence->held = NULL;
	presence->next_due_ms = 0;
	presence->pending = 0;
}
