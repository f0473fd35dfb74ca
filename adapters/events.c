/*
 * events.c - the broker-facing adapters.
 *
 * The message callback is the front door of the send, catch-up and API paths, and of typing and
 * cursor moves. It runs inside the broker's publish handling, after the write ACL and before the
 * broker stores, delivers or acknowledges anything, so a service can commit to SQLite before anybody
 * sees the message. The basic-auth and disconnect callbacks feed presence (presence.c).
 *
 * What happens to the original publish afterwards:
 * - accepted: its topic is rewritten in place to the sink (chat/_), which no one may read, so the
 *   broker acknowledges it (v5: 0x10 "no matching subscribers") and delivers it to nobody. The stored
 *   event goes out in its place once committed: a send's at the group commit of the tick (batch.c),
 *   an API event's at once (txn.c). Rewriting in place keeps the broker's own buffer, which every
 *   2.0.x release handles the same way;
 * - refused: MOSQ_ERR_ACL_DENIED, which the broker turns into PUBACK/PUBREC 0x87 for an MQTT v5
 *   sender at QoS 1/2 and drops silently otherwise. The JSON error already went to the reply topic.
 * The callback never returns another error: anything else would make the broker close the connection.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "acl.h"
#include "admin.h"
#include "batch.h"
#include "broker.h"
#include "chat.h"
#include "edge_link.h"
#include "envelope.h"
#include "dispatch.h"
#include "events.h"
#include "presence.h"
#include "sessions.h"
#include "signin.h"
#include "tick.h"
#include "topic.h"
#include "waker.h"
#include "typing.h"


int chat_events__claim_client_id(struct chat_plugin *plugin, const struct mosquitto *client, const char *user)
{
	const char *client_id = mosquitto_client_id(client);
	const char *owner = NULL;

	if(client_id == NULL) {
		return 0;
	}
	/* An anonymous connection holds its id as "", which no username can be. */
	switch(chat_sessions__connecting(&plugin->sessions, client, user ? user : "", client_id,
					 mosquitto_client_clean_session(client), &owner)) {
	case CHAT_SESSION_ACCEPT:
		return 0;
	case CHAT_SESSION_TAKEN:
		chat_broker__log(CHAT_LOG_WARNING,
				 "refused %s connecting with client id %s, which belongs to %s",
				 user ? user : "an anonymous client", client_id,
				 owner && owner[0] ? owner : "an anonymous client");
		return -1;
	case CHAT_SESSION_NO_MEMORY:
		break;
	}
	chat_broker__log(CHAT_LOG_WARNING, "refused %s: out of memory", client_id);
	return -1;
}


int chat_events__basic_auth_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct chat_plugin *plugin = userdata;

	(void)event;
	if(chat_edge_link__trusted(plugin, mosquitto_client_id(ed->client))
	   && (ed->username == NULL || strcmp(ed->username, mosquitto_client_id(ed->client)) != 0)) {
		/* An edge's bridge connects with its edge id as client id (bridge/edge.conf.in), and
		 * answers to that edge's clients go to that id: nobody else may take it over. */
		chat_broker__log(CHAT_LOG_WARNING, "refused %s connecting as %s, an edge's bridge id",
				 ed->username ? ed->username : "an anonymous client",
				 mosquitto_client_id(ed->client));
		return MOSQ_ERR_AUTH;
	}
	if(chat_events__claim_client_id(plugin, ed->client, ed->username) != 0) {
		return MOSQ_ERR_AUTH;
	}
	if(ed->username == NULL) {
		return MOSQ_ERR_PLUGIN_DEFER; /* anonymous: allow_anonymous decides, and chat/ is closed to it
					       */
	}
	if(chat_edge_link__trusted(plugin, ed->username)) {
		/* an edge's bridge: not a member's device; its edge re-snapshots after this CONNACK */
		chat_edge_link__bridge_connecting(plugin, ed->username, mosquitto_client_id(ed->client));
	} else {
		char session[CHAT_TOKEN_ID_LEN + 1];

		chat_presence__connecting(plugin, ed->client, ed->username, mosquitto_client_id(ed->client));
		if(chat_signin__check(plugin, ed->username, ed->password, session)) {
			/* a valid session token of this user (signin.c): mqchat's own answer. Anything else
			 * goes on to the other sources below, as any password does. */
			chat_sessions__set_token(&plugin->sessions, ed->client, session);
			return MOSQ_ERR_SUCCESS;
		}
	}
	/* Mosquitto 2.0 refuses a username that every hook deferred on, so with no other authentication
	 * source mqchat must accept it itself, or registering this hook would lock everyone out. */
	return plugin->config.auth_fallback == CHAT_AUTH_FALLBACK_ALLOW ? MOSQ_ERR_SUCCESS
									: MOSQ_ERR_PLUGIN_DEFER;
}


int chat_events__disconnect_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct chat_plugin *plugin = userdata;
	char *device;

	(void)event;
	chat_sessions__gone(&plugin->sessions, ed->client, chat_broker__client_will(ed->client));
	chat_edge_link__client_gone(plugin, ed->client);
	device = chat_presence__gone(plugin, ed->client);
	if(device != NULL) {
		chat_typing__device_gone(plugin, device);
	}
	free(device);
	return MOSQ_ERR_SUCCESS;
}


int chat_events__acl_check_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct chat_plugin *plugin = userdata;
	enum chat_access access;
	enum chat_acl_verdict verdict;
	bool bridge; /* a trusted edge bridge (edge_link.c) */
	const char *user;

	(void)event;
	switch(ed->access) {
	case MOSQ_ACL_READ:
		access = CHAT_ACCESS_READ;
		break;
	case MOSQ_ACL_WRITE:
		access = CHAT_ACCESS_WRITE;
		break;
	case MOSQ_ACL_SUBSCRIBE:
		access = CHAT_ACCESS_SUBSCRIBE;
		break;
	case MOSQ_ACL_UNSUBSCRIBE:
		access = CHAT_ACCESS_UNSUBSCRIBE;
		break;
	default:
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	user = mosquitto_client_username(ed->client);
	bridge = chat_edge_link__trusted(plugin, user);
	if(ed->topic[0] == '$' && (verdict = chat_admin__acl(plugin, user, ed->topic)) != CHAT_ACL_NOT_MINE) {
		/* $CONTROL/mqchat/...: admins only, whatever else is configured (as dynamic-security) */
		return verdict == CHAT_ACL_GRANT ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
	}
	if(plugin->edge != NULL && mosquitto_client_id(ed->client) != NULL
	   && strcmp(mosquitto_client_id(ed->client), plugin->config.core_clientid) == 0) {
		/* On an edge: a client using the bridge's id, which BASIC_AUTH refuses unless another
		 * plugin answered first. The bridge itself never gets here: Mosquitto skips the ACL for it.
		 */
		return MOSQ_ERR_ACL_DENIED;
	}
	if(bridge) {
		verdict = chat_edge_link__acl(ed->topic, access);
	} else if(access == CHAT_ACCESS_READ) { /* every delivery to every subscriber */
		verdict = chat_acl__check_read(&plugin->index, &plugin->acl_cache, user,
					       mosquitto_client_id(ed->client), ed->topic);
	} else {
		verdict = chat_acl__check(&plugin->index, user, mosquitto_client_id(ed->client), ed->topic,
					  access);
	}
	if(user != NULL && access == CHAT_ACCESS_SUBSCRIBE && plugin->edge == NULL && !bridge) {
		/* A client whose authentication another plugin answered before mqchat saw it. Not on
		 * writes: Mosquitto checks a will's write access after the connection has ended. */
		chat_presence__seen(plugin, ed->client, user, mosquitto_client_id(ed->client));
	}
	if(access == CHAT_ACCESS_WRITE && chat_sessions__publishing_will(&plugin->sessions, ed->client)
	   && verdict != CHAT_ACL_NOT_MINE) {
		/* A will is published by the broker itself and would never pass the message callback: on
		 * mqchat's topics it could forge an event, a receipt or an answer. */
		chat_broker__log(CHAT_LOG_NOTICE, "refused the will of %s (%s) on %s",
				 mosquitto_client_id(ed->client) ? mosquitto_client_id(ed->client) : "?",
				 user ? user : "anonymous", ed->topic);
		return MOSQ_ERR_ACL_DENIED;
	}
	if(access == CHAT_ACCESS_READ && ed->retain && verdict != CHAT_ACL_NOT_MINE) {
		return MOSQ_ERR_ACL_DENIED; /* mqchat never retains: a retained message here is forged */
	}
	if(verdict == CHAT_ACL_DENY) {
		return MOSQ_ERR_ACL_DENIED;
	}
	if(verdict == CHAT_ACL_NOT_MINE && access == CHAT_ACCESS_WRITE && !bridge
	   && plugin->config.acl_fallback == CHAT_ACL_FALLBACK_CHAT_ONLY) {
		/* a chat broker: no topic for parking payloads, nor a side channel the log never sees */
		return MOSQ_ERR_ACL_DENIED;
	}
	return plugin->config.acl_fallback == CHAT_ACL_FALLBACK_DEFER ? MOSQ_ERR_PLUGIN_DEFER
								      : MOSQ_ERR_SUCCESS;
}


/* Where the answer goes: the v5 Response Topic and Correlation Data when set, else chat/_reply/<id>. */
static void reply_to_from_message(struct chat_reply_to *rt, const char *client_id,
				  const mosquitto_property *props)
{
	struct chat_response_request req;

	chat_broker__response_request(props, &req);
	chat_reply_to__init(rt, client_id, req.topic, req.correlation, req.correlation_len);
	free(req.topic);
	free(req.correlation);
}


bool chat_events__qos2_resent(struct chat_plugin *plugin, const struct mosquitto_evt_message *ed,
			      struct chat_qos2_publish *q)
{
	const char *device = mosquitto_client_id(ed->client);
	bool dup = false;

	if(device == NULL || !chat_broker__inbound_publish(ed->client, 2, &q->mid, &dup)) {
		return false; /* not known: processed as at-least-once */
	}
	q->hash = chat_sessions__hash(ed->topic, ed->payload, ed->payloadlen);
	if(chat_sessions__qos2_resent(&plugin->sessions, device, q->mid, dup, q->hash)) {
		return true;
	}
	q->known = true;
	return false;
}


int chat_events__message_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct chat_plugin *plugin = userdata;
	struct chat_qos2_publish qos2 = {0};
	struct chat_requester who;
	struct chat_reply_to rt;
	struct chat_topic t;
	enum chat_err rc;

	(void)event;
	chat_topic__parse(ed->topic, &t);
	if(t.kind == CHAT_TOPIC_OTHER) {
		chat_waker__publishing((size_t)ed->payloadlen); /* not ours, but a browser may be waiting */
		return MOSQ_ERR_SUCCESS;
	}
	ed->retain = false;
	who.user = mosquitto_client_username(ed->client);
	who.device = mosquitto_client_id(ed->client);
	if(who.user == NULL || who.device == NULL) {
		return MOSQ_ERR_ACL_DENIED; /* the write ACL refuses these already */
	}
	if(chat_edge_link__trusted(plugin, who.user)
	   || strncmp(ed->topic, CHAT_EDGE_PREFIX, sizeof(CHAT_EDGE_PREFIX) - 1) == 0) {
		return chat_edge_link__message(plugin, ed, &who); /* an edge's envelope */
	}
	chat_presence__seen(plugin, ed->client, who.user, who.device); /* a live client publishing */
	if(ed->qos == 2 && chat_events__qos2_resent(plugin, ed, &qos2)) {
		/* Answered the first time; the broker finds the first copy by its packet id once this
		 * returns, if the topic is the sink again. */
		chat_broker__divert(ed);
		return MOSQ_ERR_SUCCESS;
	}
	reply_to_from_message(&rt, who.device, ed->properties);
	rt.sessions = &plugin->sessions;
	rc = chat_dispatch__serve_or_reply(plugin, &who, &rt, &t, ed->payload, ed->payloadlen);
	chat_reply_to__clear(&rt);
	if(rc == CHAT_ERR_OK && qos2.known) {
		chat_sessions__qos2_taken(&plugin->sessions, who.device, qos2.mid, qos2.hash);
	}
	if(t.kind == CHAT_TOPIC_MESSAGES) {
		chat_batch__sent_by(plugin, ed->client);
	}
	if(rc != CHAT_ERR_OK) {
		return MOSQ_ERR_ACL_DENIED;
	}
	/* Every topic that can succeed (chat/<ch>[/...], chat/_api) is at least as long as the sink, so it
	 * fits in place. */
	chat_broker__divert(ed);
	return MOSQ_ERR_SUCCESS;
}


int chat_events__control_cb(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_control *ed = event_data;
	struct chat_plugin *plugin = userdata;
	struct chat_response_request req;
	struct chat_requester who;

	(void)event;
	who.user = mosquitto_client_username(ed->client);
	who.device = mosquitto_client_id(ed->client);
	if(who.user == NULL || who.device == NULL) {
		return MOSQ_ERR_SUCCESS; /* the write ACL refuses these already; an error would disconnect */
	}
	chat_broker__response_request(ed->properties, &req);
	chat_admin__serve(plugin, &who, req.topic, req.correlation, req.correlation_len, ed->payload,
			  ed->payloadlen);
	free(req.topic);
	free(req.correlation);
	return MOSQ_ERR_SUCCESS; /* always: any other answer makes the broker disconnect the admin */
}


/* Disconnects the connections whose session token was revoked (signin.c). Kicking runs here, on the
 * broker's thread between packets, never inside the callback that revoked: the broker would free a
 * context it is still using. */
static void kick_revoked(struct chat_plugin *plugin)
{
	unsigned count = 0;
	char **ids = chat_sessions__take_revoked(&plugin->sessions, &count);

	for(unsigned i = 0; i < count; i++) {
		chat_broker__log(CHAT_LOG_NOTICE, "disconnecting %s: its session token was revoked", ids[i]);
		mosquitto_kick_client_by_clientid(ids[i], false);
		free(ids[i]);
	}
	free(ids);
}


int chat_events__tick_cb(int event, void *event_data, void *userdata)
{
	struct chat_plugin *plugin = userdata;

	(void)event;
	(void)event_data;
	if(plugin->sessions.revoked > 0) {
		kick_revoked(plugin);
	}
	chat_tick__run(plugin);
	return MOSQ_ERR_SUCCESS;
}
