/*
 * edge_link.c - the core's side of the gateway tier (see edge_link.h).
 *
 * Invariants:
 * - an envelope is trusted only from a bridge user listed in plugin_opt_bridge_users, and only on
 *   its own chat/_edge/up/<edge-id>: one edge cannot speak for another's clients;
 * - a forwarded request runs through exactly the services a local publish runs through, so an edge
 *   client's send is persisted before anything is published, and its answer goes to it alone;
 * - a remote device counts for presence from its connect envelope (or a hello listing it) until its
 *   disconnect envelope, a hello that no longer lists it, or the end of its edge's bridge connection;
 * - the user of a device an edge reports is a user (users.h), as the user of a local connection is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto_broker.h>
#include <mosquitto.h>
#include <mosquitto_plugin.h>

#include "batch.h"
#include "broker.h"
#include "chat.h"
#include "clock.h"
#include "edge_link.h"
#include "envelope.h"
#include "dispatch.h"
#include "ids.h"
#include "presence.h"
#include "reply.h"
#include "store.h"
#include "topic.h"
#include "typing.h"
#include "users.h"

/* A device of an edge. Its address is its presence key (presence.c keys connections by pointer). */
struct remote_device {
	UT_hash_handle hh; /* chat_edge_peer.devices, keyed by device */
	unsigned connections;
	bool listed; /* during a hello: named by it */
	char *user;
	char device[];
};

struct chat_edge_peer {
	UT_hash_handle hh;  /* chat_edge_link.peers, keyed by id */
	const void *client; /* its bridge connection, NULL while it has none */
	char *client_id;
	struct remote_device *devices;
	char id[];
};

/* A trusted bridge user. The read ACL asks whether a user is one at every delivery: a hash. */
struct trusted_user {
	UT_hash_handle hh;
	char name[];
};

struct chat_edge_link {
	struct trusted_user *trusted;
	struct chat_edge_peer *peers;
	char boot[CHAT_UUID_LEN + 1];
	int64_t next_beat_ms;
};


int chat_edge_link__init(struct chat_plugin *plugin, char *err, size_t err_len)
{
	const char *list = plugin->config.bridge_users;
	struct chat_edge_link *link;
	char *copy, *save = NULL;

	if(list == NULL) {
		return 0;
	}
	link = calloc(1, sizeof(*link));
	copy = strdup(list);
	if(link == NULL || copy == NULL) {
		free(copy);
		free(link);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	for(char *w = strtok_r(copy, ", ", &save); w != NULL; w = strtok_r(NULL, ", ", &save)) {
		size_t len = strlen(w);
		struct trusted_user *u = NULL;
		if(len > CHAT_EDGE_ID_MAX || strpbrk(w, "/+#") != NULL) {
			snprintf(err, err_len,
				 "plugin_opt_bridge_users: '%s' is not 1-%d characters without / + #", w,
				 CHAT_EDGE_ID_MAX);
			free(copy);
			chat_edge_link__free(link);
			return -1;
		}
		HASH_FIND(hh, link->trusted, w, len, u);
		if(u != NULL) {
			continue;
		}
		if((u = calloc(1, sizeof(*u) + len + 1)) == NULL) {
			free(copy);
			chat_edge_link__free(link);
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		memcpy(u->name, w, len + 1);
		HASH_ADD(hh, link->trusted, name[0], len, u);
	}
	free(copy);
	chat_ids__uuid(link->boot);
	plugin->edge_link = link;
	return 0;
}


static void device_gone(struct chat_plugin *plugin, struct chat_edge_peer *peer, struct remote_device *d)
{
	char *device = chat_presence__gone(plugin, d);

	if(device != NULL) {
		chat_typing__edge_device_gone(plugin, peer->id, device);
		free(device);
	}
	HASH_DEL(peer->devices, d);
	free(d->user);
	free(d);
}


static void peer_free(struct chat_edge_peer *peer)
{
	struct remote_device *d, *tmp;

	HASH_ITER(hh, peer->devices, d, tmp) {
		HASH_DEL(peer->devices, d);
		free(d->user);
		free(d);
	}
	free(peer->client_id);
	free(peer);
}


void chat_edge_link__free(struct chat_edge_link *link)
{
	struct chat_edge_peer *peer, *tmp;
	struct trusted_user *u, *utmp;

	if(link == NULL) {
		return;
	}
	HASH_ITER(hh, link->peers, peer, tmp) {
		HASH_DEL(link->peers, peer);
		peer_free(peer);
	}
	HASH_ITER(hh, link->trusted, u, utmp) {
		HASH_DEL(link->trusted, u);
		free(u);
	}
	free(link);
}


bool chat_edge_link__trusted(const struct chat_plugin *plugin, const char *user)
{
	const struct chat_edge_link *link = plugin->edge_link;
	struct trusted_user *u = NULL;

	if(link == NULL || user == NULL) {
		return false;
	}
	HASH_FIND(hh, link->trusted, user, strlen(user), u);
	return u != NULL;
}


enum chat_acl_verdict chat_edge_link__acl(const char *topic, enum chat_access access)
{
	struct chat_topic t;

	if(access != CHAT_ACCESS_READ) {
		return strncmp(topic, CHAT_TOPIC_PREFIX, CHAT_TOPIC_PREFIX_LEN) == 0 ? CHAT_ACL_GRANT
										     : CHAT_ACL_NOT_MINE;
	}
	if(strcmp(topic, CHAT_EDGE_BEAT_TOPIC) == 0) {
		return CHAT_ACL_GRANT;
	}
	chat_topic__parse(topic, &t);
	switch(t.kind) {
	case CHAT_TOPIC_OTHER:
		return CHAT_ACL_NOT_MINE;
	case CHAT_TOPIC_MESSAGES:
	case CHAT_TOPIC_TYPING:
	case CHAT_TOPIC_PRESENCE:
	case CHAT_TOPIC_READ:
	case CHAT_TOPIC_DELIVERED:
		return CHAT_ACL_GRANT;
	default:
		return CHAT_ACL_DENY;
	}
}


static struct chat_edge_peer *peer_get(struct chat_edge_link *link, const char *id)
{
	struct chat_edge_peer *peer = NULL;
	size_t len = strlen(id);

	HASH_FIND(hh, link->peers, id, len, peer);
	if(peer == NULL && (peer = calloc(1, sizeof(*peer) + len + 1)) != NULL) {
		memcpy(peer->id, id, len + 1);
		HASH_ADD(hh, link->peers, id[0], len, peer);
	}
	return peer;
}


/* Records the bridge connection the peer speaks through; false when out of memory. */
static bool peer_attach(struct chat_edge_peer *peer, const void *client, const char *client_id)
{
	if(peer->client_id == NULL || strcmp(peer->client_id, client_id) != 0) {
		char *copy = strdup(client_id);
		if(copy == NULL) {
			return false;
		}
		free(peer->client_id);
		peer->client_id = copy;
	}
	peer->client = client;
	return true;
}


static void send_down(const struct chat_edge_peer *peer, const char *json, size_t len)
{
	char topic[sizeof(CHAT_EDGE_DOWN_PREFIX) + CHAT_EDGE_ID_MAX + 1];

	snprintf(topic, sizeof(topic), CHAT_EDGE_DOWN_PREFIX "%s", peer->id);
	chat_broker__send_to(peer->client_id, topic, json, len, NULL, 0);
}


void chat_edge_link__bridge_connecting(struct chat_plugin *plugin, const char *edge_id, const char *client_id)
{
	char topic[sizeof(CHAT_EDGE_DOWN_PREFIX) + CHAT_EDGE_ID_MAX + 1];
	size_t len = 0;
	char *json;

	if(client_id == NULL || strlen(edge_id) > CHAT_EDGE_ID_MAX) {
		return;
	}
	json = chat_envelope__beat(plugin->edge_link->boot, &len);
	if(json != NULL) {
		snprintf(topic, sizeof(topic), CHAT_EDGE_DOWN_PREFIX "%s", edge_id);
		chat_broker__send_to(client_id, topic, json, len, NULL, 0);
	}
	free(json);
}


/* ---- requests ----------------------------------------------------------------------------------- */

static void serve_publish(struct chat_plugin *plugin, const struct chat_edge_peer *peer,
			  const struct chat_envelope *env)
{
	struct chat_edge_route route = {peer->id, peer->client_id};
	struct chat_requester who = {env->user, env->device};
	struct chat_error err = {0};
	struct chat_reply_to rt;
	struct chat_topic t;

	if(chat_reply_to__init(&rt, env->device, env->response_topic, env->correlation,
			       (uint16_t)(env->correlation_len > UINT16_MAX ? 0 : env->correlation_len))
	   != 0) {
		chat_reply_to__clear(&rt);
		chat_broker__log(CHAT_LOG_WARNING, "out of memory serving %s on edge %s", env->device,
				 peer->id);
		return;
	}
	rt.via = &route;
	chat_topic__parse(env->topic, &t);
	if(t.kind == CHAT_TOPIC_OTHER
	   || strncmp(env->topic, CHAT_EDGE_PREFIX, strlen(CHAT_EDGE_PREFIX)) == 0) {
		chat_error__set(&err, CHAT_ERR_BAD_TOPIC, "no such topic");
		rt.request = CHAT_REQUEST_PUBLISH;
		chat_reply__error(&rt, &err, NULL);
	} else {
		chat_dispatch__serve_or_reply(plugin, &who, &rt, &t, env->payload, env->payload_len);
	}
	chat_reply_to__clear(&rt);
}


static void device_connect(struct chat_plugin *plugin, struct chat_edge_peer *peer, const char *user,
			   const char *device)
{
	struct remote_device *d = NULL;
	size_t len = strlen(device);

	HASH_FIND(hh, peer->devices, device, len, d);
	if(d != NULL && strcmp(d->user, user) != 0) {
		/* Another user took this client id over on the edge: the old session is gone, whatever
		 * its own disconnect (which comes next, and is then ignored) would say. */
		device_gone(plugin, peer, d);
		d = NULL;
	}
	/* The edge reports a device once its broker has accepted the connection (edge.c confirms at the
	 * tick, as presence.c does): its user is a user, whom others may name as a member. */
	chat_users__note(plugin, user);
	if(d == NULL) {
		d = calloc(1, sizeof(*d) + len + 1);
		if(d == NULL || (d->user = strdup(user)) == NULL) {
			free(d);
			return;
		}
		memcpy(d->device, device, len + 1);
		HASH_ADD(hh, peer->devices, device[0], len, d);
		chat_presence__seen(plugin, d, d->user, d->device);
	}
	d->connections++;
	d->listed = true;
}


static void device_disconnect(struct chat_plugin *plugin, struct chat_edge_peer *peer, const char *user,
			      const char *device)
{
	struct remote_device *d = NULL;

	HASH_FIND(hh, peer->devices, device, strlen(device), d);
	if(d != NULL && user != NULL && strcmp(d->user, user) != 0) {
		return; /* the session another user took over: device_connect ended it already */
	}
	if(d != NULL && --d->connections == 0) {
		device_gone(plugin, peer, d);
	}
}


/* The channels, their visibility, head and members, for an edge's read ACL; NULL when out of memory.
 * All or nothing: the edge replaces its whole view with it, so a member missing from it would be
 * refused everything in the channel there until the next snapshot. */
static cJSON *snapshot(const struct chat_plugin *plugin)
{
	cJSON *obj = chat_envelope__object(CHAT_ENV_SNAPSHOT), *channels;
	struct chat_channel *ch, *tmp;

	if(obj == NULL || cJSON_AddStringToObject(obj, "boot", plugin->edge_link->boot) == NULL
	   || (channels = cJSON_AddArrayToObject(obj, "channels")) == NULL) {
		cJSON_Delete(obj);
		return NULL;
	}
	HASH_ITER(hh, plugin->index.channels, ch, tmp) {
		cJSON *c = cJSON_CreateObject(), *members;
		struct chat_member *m, *mtmp;
		cJSON_AddItemToArray(channels, c);
		if(c == NULL || cJSON_AddStringToObject(c, "name", ch->name) == NULL
		   || cJSON_AddStringToObject(c, "visibility", chat_visibility__name(ch->visibility)) == NULL
		   || cJSON_AddNumberToObject(c, "head", (double)ch->head) == NULL
		   || (members = cJSON_AddArrayToObject(c, "members")) == NULL) {
			cJSON_Delete(obj);
			return NULL;
		}
		HASH_ITER(hh, ch->members, m, mtmp) {
			cJSON *user = cJSON_CreateString(m->user);
			if(user == NULL || !cJSON_AddItemToArray(members, user)) {
				cJSON_Delete(user);
				cJSON_Delete(obj);
				return NULL;
			}
		}
	}
	return obj;
}


/* Re-sends the last event of every channel to the edge alone, after its snapshot: a client that
 * kept its socket through a core restart sees the head and catches up if it has a gap. */
static void send_heads(struct chat_plugin *plugin, const struct chat_edge_peer *peer)
{
	struct chat_channel *ch, *tmp;
	char topic[CHAT_TOPIC_PREFIX_LEN + CHAT_CHANNEL_ID_MAX + 1];

	HASH_ITER(hh, plugin->index.channels, ch, tmp) {
		struct chat_error err = {0};
		char *json = NULL;
		if(ch->head == 0
		   || chat_store__event_json(plugin->store, ch->rowid, ch->head, &json, &err) != CHAT_ERR_OK
		   || json == NULL) {
			continue;
		}
		snprintf(topic, sizeof(topic), CHAT_TOPIC_PREFIX "%s", ch->name);
		chat_broker__send_to(peer->client_id, topic, json, strlen(json), NULL, 0);
		free(json);
	}
}


static void serve_hello(struct chat_plugin *plugin, struct chat_edge_peer *peer,
			const struct chat_envelope *env)
{
	const cJSON *devices = cJSON_GetObjectItemCaseSensitive(env->root, "devices"), *item;
	struct remote_device *d, *tmp;
	cJSON *snap;
	char *json;
	size_t len = 0;

	/* The hello's device list replaces the edge's: new ones come online first, then the ones it no
	 * longer lists go, so a device listed both before and after never flaps. */
	HASH_ITER(hh, peer->devices, d, tmp) {
		d->listed = false;
		d->connections = 0;
	}
	cJSON_ArrayForEach(item, devices) {
		const char *user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "user"));
		const char *device = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "device"));
		if(user != NULL && device != NULL && !chat_edge_link__trusted(plugin, user)) {
			device_connect(plugin, peer, user, device);
		}
	}
	HASH_ITER(hh, peer->devices, d, tmp) {
		if(!d->listed) {
			device_gone(plugin, peer, d);
		}
	}
	/* The snapshot's heads and the re-sent last events must be committed ones: an open group commit
	 * (batch.c) has moved heads in memory that no one may see yet. */
	chat_batch__flush(plugin);
	snap = snapshot(plugin);
	json = snap ? chat_json__print(snap, &len) : NULL;
	cJSON_Delete(snap);
	if(json == NULL) {
		/* The edge stays in HELLO, answering its clients unavailable, and repeats its hello every
		 * 2 s (edge.c) until a whole snapshot gets through. */
		chat_broker__log(CHAT_LOG_WARNING, "out of memory answering the hello of edge %s", peer->id);
		return;
	}
	send_down(peer, json, len);
	free(json);
	send_heads(plugin, peer);
	chat_broker__log(CHAT_LOG_INFO, "edge %s said hello (%d devices); sent its snapshot", peer->id,
			 cJSON_GetArraySize(devices));
}


int chat_edge_link__message(struct chat_plugin *plugin, struct mosquitto_evt_message *ed,
			    const struct chat_requester *who)
{
	char expected[sizeof(CHAT_EDGE_UP_PREFIX) + CHAT_EDGE_ID_MAX + 1];
	struct chat_envelope env;
	struct chat_edge_peer *peer;

	if(!chat_edge_link__trusted(plugin, who->user)) {
		struct chat_error err = {0};
		struct chat_reply_to rt;
		if(chat_reply_to__init(&rt, who->device, NULL, NULL, 0) == 0) {
			chat_error__set(&err, CHAT_ERR_BAD_TOPIC,
					"chat/_edge/ is for the edges' bridges only");
			rt.request = CHAT_REQUEST_PUBLISH;
			chat_reply__error(&rt, &err, NULL);
		}
		chat_reply_to__clear(&rt);
		return MOSQ_ERR_ACL_DENIED;
	}
	snprintf(expected, sizeof(expected), CHAT_EDGE_UP_PREFIX "%s", who->user);
	if(strcmp(ed->topic, expected) != 0) {
		chat_broker__log(CHAT_LOG_WARNING, "bridge user %s published on %s, not %s: dropped",
				 who->user, ed->topic, expected);
		return MOSQ_ERR_ACL_DENIED;
	}
	peer = peer_get(plugin->edge_link, who->user);
	if(peer == NULL || !peer_attach(peer, ed->client, who->device)) {
		chat_broker__log(CHAT_LOG_WARNING, "out of memory serving edge %s", who->user);
		return MOSQ_ERR_ACL_DENIED;
	}
	if(chat_envelope__parse(ed->payload, ed->payloadlen, &env) != 0) {
		chat_broker__log(CHAT_LOG_WARNING, "edge %s sent something that is not an envelope",
				 peer->id);
	} else if(env.kind == CHAT_ENV_PUBLISH) {
		serve_publish(plugin, peer, &env);
		chat_batch__sent_by(plugin, ed->client); /* the bridge's socket, for the group commit */
	} else if(env.kind == CHAT_ENV_HELLO) {
		serve_hello(plugin, peer, &env);
	} else if(env.kind == CHAT_ENV_CONNECT && !chat_edge_link__trusted(plugin, env.user)) {
		device_connect(plugin, peer, env.user, env.device);
	} else if(env.kind == CHAT_ENV_DISCONNECT) {
		device_disconnect(plugin, peer, env.user, env.device);
	}
	chat_envelope__clear(&env);
	chat_broker__divert(ed);
	return MOSQ_ERR_SUCCESS;
}


void chat_edge_link__client_gone(struct chat_plugin *plugin, const void *client)
{
	struct chat_edge_peer *peer, *tmp;
	struct remote_device *d, *dtmp;

	if(plugin->edge_link == NULL || client == NULL) {
		return;
	}
	HASH_ITER(hh, plugin->edge_link->peers, peer, tmp) {
		if(peer->client != client) {
			continue;
		}
		peer->client = NULL;
		chat_broker__log(CHAT_LOG_NOTICE, "edge %s disconnected: its %u devices are offline",
				 peer->id, HASH_COUNT(peer->devices));
		HASH_ITER(hh, peer->devices, d, dtmp) {
			device_gone(plugin, peer, d);
		}
	}
}


void chat_edge_link__tick(struct chat_plugin *plugin, int64_t now_ms)
{
	struct chat_edge_link *link = plugin->edge_link;
	size_t len = 0;
	char *json;

	if(link == NULL || now_ms < link->next_beat_ms) {
		return;
	}
	link->next_beat_ms = now_ms + plugin->config.edge_beat_ms;
	json = chat_envelope__beat(link->boot, &len);
	if(json != NULL) {
		chat_broker__publish_topic(CHAT_EDGE_BEAT_TOPIC, json, len, 0);
	}
	free(json);
}


unsigned chat_edge_link__connected(const struct chat_plugin *plugin)
{
	unsigned n = 0;

	if(plugin->edge_link == NULL) {
		return 0;
	}
	for(const struct chat_edge_peer *p = plugin->edge_link->peers; p != NULL; p = p->hh.next) {
		n += p->client != NULL;
	}
	return n;
}
