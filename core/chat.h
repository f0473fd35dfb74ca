/*
 * chat.h - the plugin's state, passed as userdata to every broker callback.
 *
 * Everything mqchat keeps lives here. It is created by plugin.c at init and freed at cleanup, and only
 * ever touched from the broker's thread. There are no other globals but one: ids.c's pool of random
 * bytes not yet handed out, which holds no chat state and is shared by whoever makes an id (ids.c
 * says why it is not a field here).
 *
 * It sits in the lowest layer that holds state (core/), so every layer above may take a struct
 * chat_plugin: what belongs to a higher layer (the store, the group commit, the services' state, the
 * gateway links) is held by pointer to a type only that layer defines, allocated by plugin.c.
 */
#ifndef CHAT_H
#define CHAT_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "config.h"
#include "index.h"
#include "counters.h"
#include "sessions.h"

struct mosquitto_plugin_id_t;
struct chat_store;
struct chat_checkpointer;
struct chat_ratelimit;
struct chat_users;
struct chat_presence;
struct chat_typing;
struct chat_cursors;
struct chat_batch;
struct chat_edge_link;
struct chat_edge;
struct chat_admin;
struct chat_push;
struct chat_search;
struct chat_media;

struct chat_plugin {
	struct mosquitto_plugin_id_t *identifier;
	struct chat_config config;
	struct chat_store *store;
	bool run_begun; /* this run is recorded in the store (chat_store__begin_run): cleanup ends it */
	struct chat_checkpointer *checkpointer; /* NULL when checkpoint_interval_ms is 0 */
	struct chat_index index;
	struct chat_acl_cache acl_cache;        /* the last read check's topic (acl.c) */
	struct chat_ratelimit *send_limits;     /* sends, edits, deletes, reactions, per user */
	struct chat_ratelimit *request_limits;  /* catch-up, chat/_api and cursor requests, per user */
	struct chat_ratelimit *typing_limits;   /* typing:true, per user and channel */
	struct chat_ratelimit *create_limits;   /* channels created, per user (quotas.c) */
	struct chat_ratelimit *member_limits;   /* members added by create, invite and dm, per user */
	struct chat_ratelimit *presence_limits; /* presence announcements, per user (presence.c) */
	struct chat_users *users;               /* who may be named as a member (users.c) */
	struct chat_sessions sessions;          /* client ids, live connections, wills, QoS 2 (sessions.h) */
	struct chat_presence *presence;         /* who is online (presence.c) */
	struct chat_typing *typing;             /* who is typing where (typing.c) */
	struct chat_cursors *cursors;           /* cursor moves awaiting their flush (cursors.c) */
	struct chat_batch *batch;               /* sends awaiting their group commit (batch.c) */
	struct chat_edge_link *edge_link;       /* core: edges bridged to it (NULL without bridge_users) */
	struct chat_edge *edge;                 /* edge role: its link to the core (NULL on the core) */
	struct chat_admin *admin;               /* $CONTROL/mqchat/v1: its backup/export worker (admin.c) */
	struct chat_push *push;                 /* push hand-off and its worker thread (push.c) */
	struct chat_search *search;             /* the search index's worker thread (search.c) */
	struct chat_media *media;    /* open uploads and the blob files (media.c); NULL until used */
	struct chat_metrics metrics; /* counters for $SYS/broker/mqchat (counters.h) */
	int64_t next_prune_ms;       /* tick.c: when each periodic job is due next (monotonic ms) */
	int64_t next_typing_check_ms;
	int64_t next_cursor_flush_ms;
	int64_t next_users_flush_ms;
	/* retention.c: its next pass; whether the stored policies and first seqs are in the index yet;
	 * the events pruned, batches and longest batch (us) of the current run, logged when it ends */
	int64_t next_retention_ms;
	bool retention_loaded;
	int64_t retention_rows, retention_batches, retention_max_us;
};

/* Who is asking, as the broker authenticated it: `from` and `device` of the events it causes. */
struct chat_requester {
	const char *user;   /* the MQTT username; never NULL once past the ACL */
	const char *device; /* the MQTT client id */
};

#endif
