/*
 * presence.h - who is online: connections per user, from the broker's connect and disconnect events.
 *
 * Mosquitto 2.0 has no "client connected" event. What it has:
 * - MOSQ_EVT_BASIC_AUTH, for every CONNECT, before the client is accepted or refused;
 * - MOSQ_EVT_DISCONNECT, when a connection ends: cleanly, by a dropped socket, a keepalive timeout,
 *   a kick, a refused login (client id NULL), and for the old connection of a session taken over
 *   (with the same client id as the new one).
 * So a connection is recorded, keyed by the broker's client pointer, as *pending* when it asks to be
 * authenticated, and *confirmed* at the end of the broker's loop iteration (the tick): a refused
 * login is disconnected within that same iteration, so whatever is still pending then was accepted.
 * A user is online from its first confirmed connection until it has no connection left, pending or
 * confirmed. Counting pending ones is what keeps a session takeover from flapping the user offline:
 * the new connection is recorded before the old one's disconnect.
 *
 * A connection first seen elsewhere (a subscribe, or a publish reaching the message callback, by a
 * client whose authentication another plugin answered before mqchat was asked) is recorded as
 * confirmed then. Not on a write check: Mosquitto checks a will's write access after the connection
 * ended, and recording it then would bring the user back online for good.
 *
 * Announcements are bounded, because one transition is one message per channel of the user to every
 * listening member: a user in 1000 small channels who reconnects 47 times a second would otherwise make
 * each of those members' devices receive 94,000 messages a second. So:
 * - each user's announcements are rate-limited (plugin_opt_presence_rate per minute, bursts of
 *   plugin_opt_presence_burst). An honest user's few transitions go out at once; a transition over the
 *   limit is *held*, and when the user's next token is due the state the user is in *then* is announced
 *   if it differs from the last one announced (a flap that settled back announces nothing). So the last
 *   state announced is always, after at most one period, the user's real state: never a stale one;
 * - an announcement goes to at most plugin_opt_presence_max_channels channels: the user's direct
 *   channels first, then its other channels of at most plugin_opt_presence_max_members members, each
 *   pass in the index's order of the user's channels. That order only changes with the user's
 *   memberships, so the channels that heard it go online hear it go offline (as before, a channel
 *   joined while online hears nothing until the next transition: clients read `members` when they
 *   join).
 */
#ifndef CHAT_PRESENCE_H
#define CHAT_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>

struct chat_plugin;
struct chat_connection;
struct chat_presence_user;

struct chat_presence {
	struct chat_connection *connections; /* keyed by the broker's client pointer */
	struct chat_presence_user *users;    /* users with a connection, or with a transition held */
	struct chat_presence_user *held;     /* users whose transition waits for its token (a list) */
	int64_t next_due_ms;                 /* the earliest due time in held (monotonic ms) */
	unsigned pending;                    /* connections not yet confirmed */
};

/* A client asked to be authenticated as user, from device (its client id). */
void chat_presence__connecting(struct chat_plugin *plugin, const void *client, const char *user,
			       const char *device);

/* A client acted (subscribed, published) as user from device: records it if it is unknown. */
void chat_presence__seen(struct chat_plugin *plugin, const void *client, const char *user,
			 const char *device);

/* The end of a broker loop iteration: every pending connection was accepted (and its user is a user:
 * users.c). */
void chat_presence__confirm_pending(struct chat_plugin *plugin);

/* The tick: announces the held transitions whose token is due by now_ms (monotonic). Cheap when none
 * is. */
void chat_presence__settle_due(struct chat_plugin *plugin, int64_t now_ms);

/* The client's connection ended. Returns its device (client id), malloc'd for the caller to free, if
 * the connection had been accepted; NULL for an unknown or refused one (a refused login may present
 * the client id of a device that is still connected). */
char *chat_presence__gone(struct chat_plugin *plugin, const void *client);

/* True if user has a confirmed connection (or is keeping its presence through a takeover): the real
 * state, which `members` reports, even while an announcement of it is held. */
bool chat_presence__online(const struct chat_plugin *plugin, const char *user);

/* Calls fn for each accepted connection of user: its broker client pointer (for a client of an edge,
 * edge_link.c's record of it) and its device (client id). fn must not change presence. */
void chat_presence__each_connection(const struct chat_plugin *plugin, const char *user,
				    void (*fn)(const void *client, const char *device, void *ctx), void *ctx);

/* Frees all presence state. */
void chat_presence__clear(struct chat_presence *presence);

#endif
