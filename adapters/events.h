/*
 * events.h - the broker callbacks: unpack an event, call a service, map its result to MOSQ_ERR_*.
 */
#ifndef CHAT_EVENTS_H
#define CHAT_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* MOSQ_EVT_BASIC_AUTH: every CONNECT, before the client is accepted. Records the connection for
 * presence; never decides alone unless plugin_opt_auth_fallback is allow. userdata: struct chat_plugin. */
int chat_events__basic_auth_cb(int event, void *event_data, void *userdata);

/* MOSQ_EVT_DISCONNECT: a connection ended (also a refused one, and the old one of a takeover). */
int chat_events__disconnect_cb(int event, void *event_data, void *userdata);

/* MOSQ_EVT_ACL_CHECK: every subscribe, publish and delivery. userdata is the struct chat_plugin. */
int chat_events__acl_check_cb(int event, void *event_data, void *userdata);

/* MOSQ_EVT_MESSAGE: every publish that passed the write ACL, before the broker stores or delivers it. */
int chat_events__message_cb(int event, void *event_data, void *userdata);

struct chat_plugin;
struct mosquitto;
struct chat_requester;
struct chat_reply_to;
struct chat_topic;

/* At BASIC_AUTH, in both roles: records client's connection with user (NULL: anonymous) under its
 * client id (sessions.h). Returns 0, or -1 (logged) when the connection must be refused: its client
 * id belongs to another user, or out of memory. */
int chat_events__claim_client_id(struct chat_plugin *plugin, const struct mosquitto *client,
				 const char *user);

/* A QoS 2 publish: its packet id and a hash of its content, to recognise a resend (sessions.h). */
struct chat_qos2_publish {
	bool known; /* the packet id could be read: record it with chat_sessions__qos2_taken once taken */
	uint16_t mid;
	uint64_t hash;
};

struct mosquitto_evt_message;

/* In the message callback of a QoS 2 publish: true if ed is a resend (DUP) of one already taken, which
 * must not be acted on again; otherwise fills q. Without a readable packet id: false (at least once). */
bool chat_events__qos2_resent(struct chat_plugin *plugin, const struct mosquitto_evt_message *ed,
			      struct chat_qos2_publish *q);

/* MOSQ_EVT_TICK: once per broker loop iteration. */
int chat_events__tick_cb(int event, void *event_data, void *userdata);

/* MOSQ_EVT_CONTROL on $CONTROL/mqchat/v1 (registered by plugin.c on the core): an admin's request,
 * served by admin.c. Always MOSQ_ERR_SUCCESS: the broker disconnects a client on any other. */
int chat_events__control_cb(int event, void *event_data, void *userdata);

#endif
