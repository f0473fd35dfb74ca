/*
 * edge.h - the edge role (plugin_opt_role edge): client connections here, the log on the core.
 *
 * An edge is a Mosquitto with this plugin and a bridge to the core (bridge/edge.conf.in). Its clients
 * speak the same protocol as on the core:
 * - what they publish under chat/ is wrapped in an envelope to the core (chat/_edge/up/<edge-id>) and
 *   diverted to the sink here: nothing is delivered before the core has persisted it and published
 *   the event, which comes back over the bridge and is fanned out here by the broker;
 * - the core's answers (acks, errors, catch-up pages, API replies) come back on
 *   chat/_edge/down/<edge-id>, directed at this edge, and go to the one client they are for;
 * - the read ACL answers from a membership view: the core's snapshot (asked for by a hello), then the
 *   join and leave events as they pass through, applied before they are fanned out;
 * - while the core's heartbeat is missing, or before the first snapshot, requests are answered
 *   `unavailable` here and not forwarded; client sockets stay open;
 * - its clients' connects and disconnects are forwarded for presence.
 * The edge keeps no database.
 */
#ifndef CHAT_EDGE_H
#define CHAT_EDGE_H

#include <stddef.h>

struct chat_plugin;
struct chat_edge;

/* Sets up the edge state. Returns 0, or -1 with a message in err. */
int chat_edge__init(struct chat_plugin *plugin, char *err, size_t err_len);

/* Frees the edge state. NULL-safe. */
void chat_edge__free(struct chat_edge *edge);

/* The edge's broker callbacks (userdata: struct chat_plugin); the ACL check is events.c's. */
int chat_edge__basic_auth_cb(int event, void *event_data, void *userdata);
int chat_edge__message_cb(int event, void *event_data, void *userdata);
int chat_edge__disconnect_cb(int event, void *event_data, void *userdata);
int chat_edge__tick_cb(int event, void *event_data, void *userdata);

#endif
