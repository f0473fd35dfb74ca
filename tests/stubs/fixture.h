/*
 * fixture.h - a core's struct chat_plugin without a broker, for unit tests of services.
 *
 * ts_fixture_open builds the state plugin/plugin.c's init builds for the core role, in the same order:
 * the state of the layers above core (batch, cursors, typing, presence, users), the options
 * (core/config.c, from "key=value" strings, plugin_opt_ prefix dropped), the store on a fresh database
 * in a directory of its own under $TMPDIR or /tmp (opened, migrated, its run begun), the index, client ids
 * and users loaded from it, and the rate limiters. It registers no callbacks and starts no checkpointer
 * unless asked (checkpoint_interval_ms defaults to 0 here); what the adapters own (edge_link, edge) stays
 * NULL for the test to set up. ts_fixture_close then tears it down as plugin.c's cleanup does: flushes the
 * batch, cursor moves and users, records the clean stop, frees everything and removes the directory.
 *
 * Publishes land in the broker stub (broker_stub.h). Answers go through reply.c, which drops those for
 * a client that is not connected: ts_fixture_connect makes one so.
 */
#ifndef TS_FIXTURE_H
#define TS_FIXTURE_H

#include <stddef.h>

#include "chat.h"
#include "reply.h"

#define TS_FIXTURE_CLIENTS 256

struct ts_fixture {
	struct chat_plugin *plugin;
	char dir[256]; /* under $TMPDIR, or /tmp */
	char path[272];
	/* Stand-ins for struct mosquitto: the keys sessions and presence know connections by. */
	struct ts_fixture_client {
		char user[64];
		char client_id[64];
	} clients[TS_FIXTURE_CLIENTS];
	size_t nclients;
};

/* Builds fx with options (a NULL-terminated list of "key=value", may be NULL). Returns 0, or -1 with a
 * message in err (fx is then closed already). Installs the allocation hook first (alloc_fault.h). */
int ts_fixture_open(struct ts_fixture *fx, const char *const *options, char *err, size_t err_len);

/* Tears fx down as plugin.c's cleanup does and removes its database. Any edge link the test set up
 * must be freed (and set to NULL) first. */
void ts_fixture_close(struct ts_fixture *fx);

/* user connects with client_id (a clean session), as the broker's BASIC_AUTH and the end of its loop
 * iteration would record it: a connected client and a known user. Returns the stand-in for its
 * struct mosquitto, or NULL when TS_FIXTURE_CLIENTS are connected already. */
const void *ts_fixture_connect(struct ts_fixture *fx, const char *user, const char *client_id);

/* Sets rt up as events.c does for a publish by client_id: its answers go to response_topic (MQTT 5,
 * may be NULL: then chat/_reply/<client_id>), only while it is connected. Release with
 * chat_reply_to__clear. Returns 0, or -1 when out of memory. */
int ts_fixture_reply_to(struct ts_fixture *fx, struct chat_reply_to *rt, const char *client_id,
			const char *response_topic);

/* The end of a broker loop iteration, as far as the group commit goes: chat_batch__tick. */
void ts_fixture_tick(struct ts_fixture *fx);

#endif
