/*
 * edge_link.h - the core's side of the gateway tier: requests that edges forward, answers routed back.
 *
 * Edges (edge.c) bridge to the core as bridge users listed in plugin_opt_bridge_users; a bridge
 * user's name is its edge id. Such a user is trusted to speak for the clients of its edge:
 * - its envelopes on chat/_edge/up/<edge-id> are unwrapped and run through the same services as a
 *   local client's publish (events.c dispatch), as {user, device} of the envelope, with a reply
 *   target that sends acks, errors and pages back through the edge (chat/_edge/down/<edge-id>,
 *   directed at that edge's bridge connection, so no other edge sees them);
 * - a hello is answered with a snapshot of channels and members (the edge's read ACL answers from
 *   it), followed by the last event of every channel, so that clients who kept their sockets on the
 *   edge while the core was away see the head and catch up from a gap;
 * - connect/disconnect envelopes count the edge's devices into presence, keyed by (edge, device);
 *   when the edge's bridge connection ends, all its devices go offline.
 * Every plugin_opt_edge_beat_ms the core publishes a heartbeat with its boot id on chat/_edge/beat;
 * edges that miss it answer their clients `unavailable`.
 * Nobody else may publish on chat/_edge/ (bad_topic) or read it; bridge users read every channel.
 */
#ifndef CHAT_EDGE_LINK_H
#define CHAT_EDGE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "reply.h"

struct chat_plugin;
struct chat_requester;
struct chat_edge_link;
struct mosquitto_evt_message;

/* Sets up the link from plugin_opt_bridge_users (plugin->edge_link stays NULL when there are none).
 * Returns 0, or -1 with a message in err. */
int chat_edge_link__init(struct chat_plugin *plugin, char *err, size_t err_len);

/* Frees the link state. NULL-safe. */
void chat_edge_link__free(struct chat_edge_link *link);

/* True if user is a trusted bridge user. */
bool chat_edge_link__trusted(const struct chat_plugin *plugin, const char *user);

/* The access of a trusted bridge user: it reads every channel topic and the heartbeat, nothing else
 * (not the sink, not other edges' envelopes); it may subscribe to anything under chat/. */
enum chat_acl_verdict chat_edge_link__acl(const char *topic, enum chat_access access);

/* A trusted bridge user connects (MOSQ_EVT_BASIC_AUTH): tells its edge to say hello again, right
 * after the CONNACK, so a bridge that reconnected re-snapshots. */
void chat_edge_link__bridge_connecting(struct chat_plugin *plugin, const char *edge_id,
				       const char *client_id);

/* The message callback for a publish by a trusted bridge user or on chat/_edge/. Returns the
 * MOSQ_ERR_* for the broker (the envelope is diverted to the sink). */
int chat_edge_link__message(struct chat_plugin *plugin, struct mosquitto_evt_message *ed,
			    const struct chat_requester *who);

/* A connection ended: if it was an edge's bridge, all of that edge's devices are gone. */
void chat_edge_link__client_gone(struct chat_plugin *plugin, const void *client);

/* Periodic: the heartbeat. */
void chat_edge_link__tick(struct chat_plugin *plugin, int64_t now_ms);

/* The number of trusted edges whose bridge is connected now (metrics.c). */
unsigned chat_edge_link__connected(const struct chat_plugin *plugin);

#endif
