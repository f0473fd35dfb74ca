/*
 * edge.c - the edge role (see edge.h).
 *
 * States of the link to the core:
 *   DOWN   nothing from the core for plugin_opt_edge_timeout_ms (or nothing yet): requests answered
 *          unavailable
 *   HELLO  heartbeat seen, hello sent, snapshot awaited: still unavailable; hello repeated each 2 s
 *   READY  snapshot applied: requests forwarded
 * Anything from the core proves it alive, not only its heartbeat: under load the heartbeat waits in
 * the same queue as the events, and a core that is busy sending events is not down.
 * A new snapshot is needed when the view may be stale: a heartbeat from a core with another boot id
 * (it restarted), a beat on the down topic (the core saw this edge's bridge connect again, so events
 * may have been lost in between), or a gap in a channel's seqs. A core that was merely slow (DOWN,
 * then a heartbeat with the same boot id, the bridge never dropped) finds the view intact: READY
 * again at once, without a snapshot.
 *
 * Presence: a connection is recorded as pending at BASIC_AUTH and confirmed at the end of the loop
 * iteration (a refused login is gone by then), as presence.c does. Connects and disconnects are sent
 * to the core from the tick, connects first, so a session taken over within one iteration counts
 * 1 -> 2 -> 1 at the core and never flaps. While the link is DOWN nothing is sent (the envelope could
 * be lost on a dead bridge) and nothing is forgotten either: connects not yet announced and queued
 * disconnects wait. A hello replaces them all (it lists the devices connected now); a core that was
 * merely stalled gets them, connects first, the moment it answers again, before anything else this
 * edge forwards. Otherwise a client that connected during the stall would stay offline at the core,
 * and one that left during it would stay online for good.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto_broker.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "broker.h"
#include "chat.h"
#include "clock.h"
#include "dispatch.h"
#include "edge.h"
#include "envelope.h"
#include "events.h"
#include "ids.h"
#include "reply.h"
#include "sessions.h"
#include "topic.h"
#include "waker.h"

#define HELLO_RETRY_MS 2000
/* Envelopes go up at QoS 0: while the bridge is down they are dropped, not queued for a core that may
 * have restarted (the client got no ack and retries; client_msg_id makes that safe), and a 2.0.x bridge
 * that reconnects with more than max_inflight_messages queued can stall (mosquitto issue #3002).
 * On a connected bridge TCP delivers them in order. */
#define FORWARD_QOS 0

enum link_state {
	LINK_DOWN,
	LINK_HELLO,
	LINK_READY,
};

struct edge_conn {
	UT_hash_handle hh; /* keyed by the broker's client pointer */
	const void *client;
	bool confirmed;
	bool announced; /* its connect went to the core (by itself or in a hello) */
	char *user;
	char *device;
};

/* A disconnect to forward at the next tick. */
struct edge_gone {
	struct edge_gone *next;
	char *user;
	char *device;
};

struct chat_edge {
	enum link_state state;
	bool view_valid; /* the view is the snapshot of core_boot plus every event since */
	char core_boot[64];
	int64_t last_beat_ms;
	int64_t hello_ms;
	bool silent; /* the previous tick already found the core silent for too long */
	struct edge_conn *conns;
	struct edge_gone *gone, **gone_tail; /* disconnects of announced connections, to send in order */
	unsigned pending;                    /* connections not yet confirmed */
	unsigned unannounced;                /* confirmed ones whose connect waits for the link */
	char up_topic[sizeof(CHAT_EDGE_UP_PREFIX) + CHAT_EDGE_ID_MAX + 1];
	char down_topic[sizeof(CHAT_EDGE_DOWN_PREFIX) + CHAT_EDGE_ID_MAX + 1];
};


int chat_edge__init(struct chat_plugin *plugin, char *err, size_t err_len)
{
	struct chat_edge *edge = calloc(1, sizeof(*edge));

	if(edge == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	edge->gone_tail = &edge->gone;
	snprintf(edge->up_topic, sizeof(edge->up_topic), CHAT_EDGE_UP_PREFIX "%s", plugin->config.edge_id);
	snprintf(edge->down_topic, sizeof(edge->down_topic), CHAT_EDGE_DOWN_PREFIX "%s",
		 plugin->config.edge_id);
	plugin->edge = edge;
	return 0;
}


static void drop_gone(struct chat_edge *edge)
{
	while(edge->gone != NULL) {
		struct edge_gone *g = edge->gone;
		edge->gone = g->next;
		free(g->user);
		free(g->device);
		free(g);
	}
	edge->gone_tail = &edge->gone;
}


static void conn_free(struct edge_conn *c)
{
	free(c->user);
	free(c->device);
	free(c);
}


void chat_edge__free(struct chat_edge *edge)
{
	struct edge_conn *c, *tmp;

	if(edge == NULL) {
		return;
	}
	HASH_ITER(hh, edge->conns, c, tmp) {
		HASH_DEL(edge->conns, c);
		conn_free(c);
	}
	drop_gone(edge);
	free(edge);
}


static void forward(struct chat_plugin *plugin, const char *json, size_t len)
{
	chat_broker__publish_topic(plugin->edge->up_topic, json, len, FORWARD_QOS);
}


/* ---- the link: heartbeat, hello, snapshot ------------------------------------------------------- */

static void send_hello(struct chat_plugin *plugin, int64_t now)
{
	struct chat_edge *edge = plugin->edge;
	cJSON *obj = chat_envelope__object(CHAT_ENV_HELLO), *devices;
	struct edge_conn *c, *tmp;
	char boot[CHAT_UUID_LEN + 1];
	size_t len = 0;
	char *json = NULL;

	chat_ids__uuid(boot);
	if(obj != NULL && cJSON_AddStringToObject(obj, "boot", boot) != NULL
	   && (devices = cJSON_AddArrayToObject(obj, "devices")) != NULL) {
		HASH_ITER(hh, edge->conns, c, tmp) {
			cJSON *d;
			if(!c->confirmed) {
				continue; /* its connect follows when it is confirmed */
			}
			d = cJSON_CreateObject();
			cJSON_AddItemToArray(devices, d);
			cJSON_AddStringToObject(d, "user", c->user);
			cJSON_AddStringToObject(d, "device", c->device);
		}
		json = chat_json__print(obj, &len);
	}
	cJSON_Delete(obj);
	if(json != NULL) {
		forward(plugin, json, len);
		/* the hello replaces this edge's whole device set at the core: what was held is in it */
		HASH_ITER(hh, edge->conns, c, tmp) {
			c->announced = c->confirmed;
		}
		edge->unannounced = 0;
		drop_gone(edge);
	}
	/* Out of memory: nothing is marked announced or dropped; the hello is repeated after
	 * HELLO_RETRY_MS, and replaces whatever went up one by one meanwhile */
	free(json);
	edge->state = LINK_HELLO;
	edge->hello_ms = now;
}


static void announce_held(struct chat_plugin *plugin);


static void on_beat(struct chat_plugin *plugin, const char *boot, bool resync)
{
	struct chat_edge *edge = plugin->edge;
	int64_t now = chat_clock__mono_ms();

	bool new_boot = strcmp(edge->core_boot, boot) != 0;

	edge->last_beat_ms = now;
	if(new_boot) {
		edge->view_valid = false;
	}
	/* a hello already awaiting its snapshot is repeated by the tick, not at every beat */
	if(resync || new_boot || (!edge->view_valid && edge->state != LINK_HELLO)) {
		if(edge->state == LINK_DOWN || new_boot) {
			chat_broker__log(CHAT_LOG_NOTICE, "edge %s: core %s is up; saying hello",
					 plugin->config.edge_id, boot);
		}
		edge->view_valid = false;
		snprintf(edge->core_boot, sizeof(edge->core_boot), "%s", boot);
		send_hello(plugin, now);
	} else if(edge->state == LINK_DOWN) {
		edge->state = LINK_READY;
		chat_broker__log(CHAT_LOG_NOTICE, "edge %s: core %s answers again; its view is intact",
				 plugin->config.edge_id, boot);
		/* what happened to this edge's clients during the stall, before any request of theirs */
		announce_held(plugin);
	}
}


/* Replaces the membership view with the snapshot's. */
static void apply_snapshot(struct chat_plugin *plugin, const struct chat_envelope *env)
{
	const cJSON *channels = cJSON_GetObjectItemCaseSensitive(env->root, "channels"), *c;
	unsigned count = 0;

	if(strcmp(env->boot, plugin->edge->core_boot) != 0) {
		return; /* from a core that has restarted since: its own hello answer follows */
	}
	chat_index__clear(&plugin->index);
	cJSON_ArrayForEach(c, channels) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
		const char *vis = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "visibility"));
		const cJSON *head = cJSON_GetObjectItemCaseSensitive(c, "head"), *m;
		enum chat_visibility visibility = CHAT_VISIBILITY_PUBLIC;
		struct chat_channel *ch;
		if(name == NULL || (vis != NULL && !chat_visibility__parse(vis, &visibility))) {
			continue;
		}
		ch = chat_index__add_channel(&plugin->index, 0, name, NULL, visibility, "");
		if(ch == NULL) {
			continue;
		}
		ch->head = cJSON_IsNumber(head) ? (int64_t)head->valuedouble : 0;
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(c, "members")) {
			if(cJSON_IsString(m)) {
				chat_index__add_member(&plugin->index, ch, m->valuestring, CHAT_ROLE_MEMBER,
						       0);
			}
		}
		count++;
	}
	plugin->edge->state = LINK_READY;
	plugin->edge->view_valid = true;
	chat_broker__log(CHAT_LOG_NOTICE, "edge %s ready: snapshot of %u channels from core %s",
			 plugin->config.edge_id, count, env->boot);
}


/* A leave of user, fanned out here: the read ACL refuses it to user's own clients, who are no
 * longer members, so each of them gets it directed, after the fan-out (as the core does for its own
 * clients, membership.c). Only the connection that holds the client id now. */
static void tell_leaving(struct chat_plugin *plugin, const char *topic, const void *payload, size_t len,
			 const char *user)
{
	struct edge_conn *c, *tmp;

	HASH_ITER(hh, plugin->edge->conns, c, tmp) {
		if(c->confirmed && strcmp(c->user, user) == 0
		   && chat_sessions__client(&plugin->sessions, c->device) == c->client) {
			chat_broker__send_to(c->device, topic, payload, len, NULL, 0);
		}
	}
}


/* An event of chat/<ch> on its way to this edge's subscribers: joins and leaves change the view
 * first, so the fan-out that follows already uses it (the core changes its index at commit).
 * The edge receives every event of every channel in seq order, so a seq beyond head + 1 means one was
 * lost on the way (the bridge's queue overflowed, say), and it may have been a join or a leave: the
 * view cannot be trusted. Then this event is not fanned out (subscribers will see a gap and catch up
 * from the core, which checks membership itself) and the edge asks for a new snapshot.
 * Returns whether the broker may fan the event out. */
static bool apply_event(struct chat_plugin *plugin, const char *topic, const struct chat_topic *t,
			const void *payload, size_t len)
{
	cJSON *ev = cJSON_ParseWithLength(payload, len);
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));
	const char *user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "user"));
	struct chat_channel *ch = chat_index__find(&plugin->index, t->channel, t->channel_len);
	char name[CHAT_CHANNEL_ID_MAX + 1];

	bool fan_out = true;

	if(!cJSON_IsNumber(seq) || type == NULL || t->channel_len > CHAT_CHANNEL_ID_MAX) {
		cJSON_Delete(ev);
		return false;
	}
	if(ch == NULL && strcmp(type, "join") == 0) {
		memcpy(name, t->channel, t->channel_len);
		name[t->channel_len] = '\0';
		/* a new channel: its visibility does not matter to the read ACL. Or one this edge forgot
		 * when its last member left (below): it had nobody here to deliver to, so the events in
		 * between are no gap in the view. */
		ch = chat_index__add_channel(&plugin->index, 0, name, NULL, CHAT_VISIBILITY_PUBLIC, "");
		if(ch != NULL) {
			ch->head = (int64_t)seq->valuedouble - 1;
		}
	}
	if(ch == NULL || (int64_t)seq->valuedouble > ch->head + 1) {
		chat_broker__log(CHAT_LOG_WARNING,
				 "edge %s: event %lld of #%.*s arrived after head %lld: "
				 "asking the core for a new snapshot",
				 plugin->config.edge_id, (long long)seq->valuedouble, (int)t->channel_len,
				 t->channel, (long long)(ch ? ch->head : 0));
		fan_out = false;
		plugin->edge->view_valid = false;
		if(plugin->edge->state == LINK_READY) {
			send_hello(plugin, chat_clock__mono_ms());
		}
	} else if((int64_t)seq->valuedouble > ch->head) {
		ch->head = (int64_t)seq->valuedouble;
		if(user != NULL && strcmp(type, "join") == 0) {
			chat_index__add_member(&plugin->index, ch, user, CHAT_ROLE_MEMBER, ch->head);
		} else if(user != NULL && strcmp(type, "leave") == 0) {
			chat_index__remove_member(&plugin->index, ch, user);
			tell_leaving(plugin, topic, payload, len, user);
			if(ch->members == NULL) {
				/* nobody left to deliver to here. A deleted channel (admin.c) ends so, and
				 * its name may come back as a new channel whose seqs start again at 1. */
				chat_index__remove_channel(&plugin->index, ch);
			}
		}
	}
	cJSON_Delete(ev);
	return fan_out;
}


/* A publish that came over the bridge from the core. */
static int from_core(struct chat_plugin *plugin, struct mosquitto_evt_message *ed)
{
	struct chat_envelope env;
	struct chat_topic t;
	bool down = strcmp(ed->topic, plugin->edge->down_topic) == 0;

	ed->retain = false;
	plugin->edge->last_beat_ms = chat_clock__mono_ms(); /* the core is alive */
	if(down || strcmp(ed->topic, CHAT_EDGE_BEAT_TOPIC) == 0) {
		if(chat_envelope__parse(ed->payload, ed->payloadlen, &env) != 0) {
			chat_broker__log(CHAT_LOG_WARNING, "edge %s: the core sent a bad envelope on %s",
					 plugin->config.edge_id, ed->topic);
		} else if(env.kind == CHAT_ENV_BEAT) {
			on_beat(plugin, env.boot, down);
		} else if(down && env.kind == CHAT_ENV_REPLY) {
			chat_reply__deliver(&plugin->sessions, env.client, env.topic, env.payload,
					    env.payload_len, env.correlation, (uint16_t)env.correlation_len);
		} else if(down && env.kind == CHAT_ENV_SNAPSHOT) {
			apply_snapshot(plugin, &env);
		}
		chat_envelope__clear(&env);
		chat_broker__divert(ed);
		return MOSQ_ERR_SUCCESS;
	}
	chat_topic__parse(ed->topic, &t);
	switch(t.kind) {
	case CHAT_TOPIC_OTHER:
		return MOSQ_ERR_SUCCESS;
	case CHAT_TOPIC_MESSAGES:
		if(!apply_event(plugin, ed->topic, &t, ed->payload, ed->payloadlen)) {
			chat_broker__divert(ed);
		}
		return MOSQ_ERR_SUCCESS; /* the broker fans it out; the read ACL filters */
	case CHAT_TOPIC_TYPING:
	case CHAT_TOPIC_PRESENCE:
	case CHAT_TOPIC_READ:
	case CHAT_TOPIC_DELIVERED:
		return MOSQ_ERR_SUCCESS;
	default:
		/* the sink, other edges' envelopes: nothing for this edge's clients */
		chat_broker__divert(ed);
		return MOSQ_ERR_SUCCESS;
	}
}


/* ---- local clients ------------------------------------------------------------------------------ */

/* Answers a request here, with the same error form the core uses. */
static void refuse(struct chat_sessions *sessions, const char *client_id, const mosquitto_property *props,
		   const struct chat_topic *t, const void *payload, size_t len, enum chat_err code,
		   const char *message)
{
	char channel[CHAT_CHANNEL_ID_MAX + 1] = "";
	struct chat_response_request response;
	struct chat_error err = {0};
	struct chat_error_context ctx = {0};
	struct chat_reply_to rt;
	cJSON *req = NULL;

	chat_broker__response_request(props, &response);
	if(t->channel != NULL && t->channel_len <= CHAT_CHANNEL_ID_MAX) {
		memcpy(channel, t->channel, t->channel_len);
		channel[t->channel_len] = '\0';
		ctx.channel = channel;
	}
	if(t->kind == CHAT_TOPIC_MESSAGES || t->kind == CHAT_TOPIC_API) {
		req = cJSON_ParseWithLength(payload, len);
		ctx.client_msg_id =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "client_msg_id"));
		ctx.op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "op"));
	}
	if(chat_reply_to__init(&rt, client_id, response.topic, response.correlation, response.correlation_len)
	   == 0) {
		rt.sessions = sessions;
		/* named and matched as the core would answer it; an invalid ref is not echoed */
		if(chat_reply_to__request(&rt, chat_dispatch__request_name(t->kind), payload, len, &err)
		   != CHAT_ERR_OK) {
			cJSON_Delete(rt.ref);
			rt.ref = NULL;
		}
		chat_error__set(&err, code, "%s", message);
		chat_reply__error(&rt, &err, &ctx);
	}
	chat_reply_to__clear(&rt);
	cJSON_Delete(req);
	free(response.topic);
	free(response.correlation);
}


static int from_client(struct chat_plugin *plugin, struct mosquitto_evt_message *ed)
{
	struct chat_qos2_publish qos2 = {0};
	const char *user = mosquitto_client_username(ed->client);
	const char *device = mosquitto_client_id(ed->client);
	struct chat_response_request response;
	char *json;
	struct chat_topic t;
	size_t len = 0;

	chat_topic__parse(ed->topic, &t);
	if(t.kind == CHAT_TOPIC_OTHER) {
		chat_waker__publishing((size_t)ed->payloadlen); /* not ours, but a browser may be waiting */
		return MOSQ_ERR_SUCCESS;
	}
	ed->retain = false;
	if(user == NULL || device == NULL) {
		return MOSQ_ERR_ACL_DENIED;
	}
	if(strncmp(ed->topic, CHAT_EDGE_PREFIX, sizeof(CHAT_EDGE_PREFIX) - 1) == 0) {
		refuse(&plugin->sessions, device, ed->properties, &t, ed->payload, ed->payloadlen,
		       CHAT_ERR_BAD_TOPIC, "chat/_edge/ is for the edges' bridges only");
		return MOSQ_ERR_ACL_DENIED;
	}
	if(ed->qos == 2 && chat_events__qos2_resent(plugin, ed, &qos2)) {
		chat_broker__divert(ed); /* forwarded the first time */
		return MOSQ_ERR_SUCCESS;
	}
	if(plugin->edge->state != LINK_READY) {
		refuse(&plugin->sessions, device, ed->properties, &t, ed->payload, ed->payloadlen,
		       CHAT_ERR_UNAVAILABLE,
		       "the chat core is unreachable: nothing was stored, safe to retry");
		return MOSQ_ERR_ACL_DENIED;
	}
	chat_broker__response_request(ed->properties, &response);
	json = chat_envelope__publish(user, device, ed->topic, ed->payload, ed->payloadlen, ed->qos,
				      response.topic, response.correlation, response.correlation_len, &len);
	free(response.topic);
	free(response.correlation);
	if(json == NULL) {
		refuse(&plugin->sessions, device, ed->properties, &t, ed->payload, ed->payloadlen,
		       CHAT_ERR_UNAVAILABLE, "out of memory on the edge: nothing was stored, safe to retry");
		return MOSQ_ERR_ACL_DENIED;
	}
	forward(plugin, json, len);
	free(json);
	if(qos2.known) {
		chat_sessions__qos2_taken(&plugin->sessions, device, qos2.mid, qos2.hash);
	}
	chat_broker__divert(ed);
	return MOSQ_ERR_SUCCESS;
}


int chat_edge__message_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct chat_plugin *plugin = userdata;
	const char *client_id = mosquitto_client_id(ed->client);

	(void)event;
	if(client_id != NULL && strcmp(client_id, plugin->config.core_clientid) == 0) {
		return from_core(plugin, ed);
	}
	return from_client(plugin, ed);
}


/* ---- presence ----------------------------------------------------------------------------------- */

int chat_edge__basic_auth_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct chat_plugin *plugin = userdata;
	struct chat_edge *edge = plugin->edge;
	const char *device = mosquitto_client_id(ed->client);
	struct edge_conn *c = NULL;
	const void *client = ed->client;

	(void)event;
	if(device != NULL && strcmp(device, plugin->config.core_clientid) == 0) {
		/* Only the bridge's own local context may carry this id: the edge takes whatever it
		 * publishes for the core's word. The bridge never connects here, so this is an impostor. */
		chat_broker__log(CHAT_LOG_WARNING, "refused a client connecting as %s, the core's bridge id",
				 device);
		return MOSQ_ERR_AUTH;
	}
	if(chat_events__claim_client_id(plugin, ed->client, ed->username) != 0) {
		return MOSQ_ERR_AUTH;
	}
	if(ed->username == NULL) {
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	HASH_FIND_PTR(edge->conns, &client, c);
	if(c == NULL && (c = calloc(1, sizeof(*c))) != NULL) {
		c->client = client;
		c->user = strdup(ed->username);
		c->device = strdup(device ? device : "");
		if(c->user == NULL || c->device == NULL) {
			conn_free(c);
		} else {
			HASH_ADD_PTR(edge->conns, client, c);
			edge->pending++;
		}
	}
	return plugin->config.auth_fallback == CHAT_AUTH_FALLBACK_ALLOW ? MOSQ_ERR_SUCCESS
									: MOSQ_ERR_PLUGIN_DEFER;
}


int chat_edge__disconnect_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct chat_plugin *plugin = userdata;
	struct chat_edge *edge = plugin->edge;
	struct edge_conn *c = NULL;
	const void *client = ed->client;

	(void)event;
	chat_sessions__gone(&plugin->sessions, ed->client, chat_broker__client_will(ed->client));
	HASH_FIND_PTR(edge->conns, &client, c);
	if(c == NULL) {
		return MOSQ_ERR_SUCCESS;
	}
	HASH_DEL(edge->conns, c);
	if(!c->confirmed) {
		edge->pending--;
	} else if(!c->announced) {
		edge->unannounced--; /* the core never heard of it: nothing to take back */
	}
	if(c->announced) {
		struct edge_gone *g = calloc(1, sizeof(*g));
		if(g != NULL) {
			g->user = c->user;
			g->device = c->device;
			c->user = c->device = NULL;
			*edge->gone_tail = g;
			edge->gone_tail = &g->next;
		}
	}
	conn_free(c);
	return MOSQ_ERR_SUCCESS;
}


/* Sends what the core has not heard yet, if the link is up: the connects of confirmed connections,
 * then the queued disconnects, in the order they happened. What cannot be sent now (the link is
 * DOWN, or out of memory) stays for the next call. */
static void announce_held(struct chat_plugin *plugin)
{
	struct chat_edge *edge = plugin->edge;
	struct edge_conn *c, *tmp;
	size_t len = 0;
	char *json;

	if(edge->state == LINK_DOWN) {
		return; /* held until the core answers again, or replaced by the next hello */
	}
	if(edge->unannounced > 0) {
		HASH_ITER(hh, edge->conns, c, tmp) {
			if(!c->confirmed || c->announced) {
				continue;
			}
			json = chat_envelope__device(CHAT_ENV_CONNECT, c->user, c->device, &len);
			if(json == NULL) {
				return; /* the disconnects wait too: a takeover must not count 1 -> 0 -> 1 */
			}
			forward(plugin, json, len);
			free(json);
			c->announced = true;
			edge->unannounced--;
		}
	}
	while(edge->gone != NULL) {
		struct edge_gone *g = edge->gone;
		json = chat_envelope__device(CHAT_ENV_DISCONNECT, g->user, g->device, &len);
		if(json == NULL) {
			return;
		}
		forward(plugin, json, len);
		free(json);
		edge->gone = g->next;
		free(g->user);
		free(g->device);
		free(g);
	}
	edge->gone_tail = &edge->gone;
}


/* The end of a loop iteration: the connections still pending survived their CONNECT; then what the
 * core has not heard yet goes up. */
static void forward_presence(struct chat_plugin *plugin)
{
	struct chat_edge *edge = plugin->edge;
	struct edge_conn *c, *tmp;

	if(edge->pending > 0) {
		HASH_ITER(hh, edge->conns, c, tmp) {
			if(!c->confirmed) {
				c->confirmed = true;
				edge->unannounced++;
			}
		}
		edge->pending = 0;
	}
	announce_held(plugin);
}


int chat_edge__tick_cb(int event, void *event_data, void *userdata)
{
	struct chat_plugin *plugin = userdata;
	struct chat_edge *edge = plugin->edge;
	int64_t now = chat_clock__mono_ms();

	(void)event;
	(void)event_data;
	chat_sessions__confirm_pending(&plugin->sessions);
	chat_sessions__forget_ended(&plugin->sessions);
	forward_presence(plugin);
	/* Silent at two ticks in a row: when this edge itself was too busy to read for a while, the first
	 * tick after the stall sees old news, and the next loop iteration reads what the core sent
	 * meanwhile (anything from it proves it alive). */
	bool silent = now - edge->last_beat_ms > plugin->config.edge_timeout_ms;
	bool was_silent = edge->silent;

	edge->silent = silent;
	if(edge->state != LINK_DOWN && silent && was_silent) {
		edge->state = LINK_DOWN;
		chat_broker__log(CHAT_LOG_WARNING,
				 "edge %s: no heartbeat from core %s for %lld ms; answering "
				 "unavailable until it is back",
				 plugin->config.edge_id, edge->core_boot,
				 (long long)(now - edge->last_beat_ms));
	} else if(edge->state == LINK_HELLO && now - edge->hello_ms > HELLO_RETRY_MS) {
		send_hello(plugin, now);
	}
	return MOSQ_ERR_SUCCESS;
}
