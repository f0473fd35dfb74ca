/*
 * mqchat_client.h - libmqchat: a small C client of the mqchat protocol (docs/protocol.md), on
 * libmosquitto and cJSON, for devices and services. It speaks only the wire protocol: it includes
 * nothing of the plugin.
 *
 * What it does for you (docs/client-library.md has the whole story):
 *   - connects (MQTT 3.1.1 or 5, persistent session), reconnects with a backoff, subscribes to chat/#;
 *   - keeps, per channel, (epoch, cursor) in a state file and the events it applied in an append-only
 *     events file beside it, and converges by the documented rule: catch-up from the cursor page by
 *     page, live events above the cursor buffered and applied in seq order, a gap closed by catch-up,
 *     the channel's state dropped when its epoch changes;
 *   - sends through an outbox kept in the state file: each message has a client_msg_id and is sent
 *     again with the same id (after a reconnect, a timeout, or a transient error) until the server
 *     acknowledges it or refuses it for good, so a message is stored exactly once even when this
 *     process is killed and restarted from the same state file.
 *
 * Threads: every function may be called from any thread, and from inside a callback. Callbacks run on
 * the thread that runs mqc_loop() (or on mqc_loop_start()'s thread), with the client's lock held, so
 * they never run concurrently with each other.
 */
#ifndef MQCHAT_CLIENT_H
#define MQCHAT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mqc;

/* Results of the functions below. */
enum mqc_result {
	MQC_OK = 0,
	MQC_ERR_INVAL = 1,   /* a bad argument: a channel id or a body the protocol refuses */
	MQC_ERR_NOMEM = 2,   /* out of memory */
	MQC_ERR_STATE = 3,   /* the state file could not be read or written (errno says why) */
	MQC_ERR_CONNECT = 4, /* no connection could be started (see the log callback) */
};

/* Callbacks. Each may be NULL. `ud` is mqc_options.userdata. The cJSON arguments belong to the
 * library and live until the callback returns. */
struct mqc_callbacks {
	/* An event of ch applied to the local history, in seq order with no gap: exactly once per
	 * (epoch, seq), whether it came live or by catch-up. */
	void (*on_event)(void *ud, const char *ch, const cJSON *event);
	/* A message of the outbox was stored by the server (ack, or a duplicate ack of a retry). */
	void (*on_ack)(void *ud, const char *ch, const char *client_msg_id, int64_t seq);
	/* The server refused a request for good: code is the wire code (not_member, too_large, ...).
	 * client_msg_id is set when the refused request was a send of the outbox (which drops it). */
	void (*on_error)(void *ud, const char *ch, const char *client_msg_id, const char *code,
			 const char *message);
	void (*on_presence)(void *ud, const char *ch, const char *user, bool online);
	void (*on_typing)(void *ud, const char *ch, const char *user, bool typing);
	/* ch's local history was dropped: its epoch changed (a recreated channel, a restored backup). The
	 * events that follow start again at seq 1. */
	void (*on_reset)(void *ud, const char *ch, const char *old_epoch, const char *new_epoch);
	/* Every channel the user is in has been caught up since the last connect (also after a
	 * reconnect): what a UI waits for before it says "up to date". */
	void (*on_synced)(void *ud);
	/* The answer to mqc_api(): reply is {"ok":true,...} or an error, with the ref you gave. */
	void (*on_api)(void *ud, const cJSON *reply);
	/* Connection changes, for a status line. */
	void (*on_connection)(void *ud, bool connected);
	/* Diagnostics (connection errors, protocol surprises). */
	void (*on_log)(void *ud, const char *line);
};

struct mqc_options {
	const char *host;       /* default 127.0.0.1 */
	int port;               /* default 1883 */
	const char *user;       /* the MQTT username: required */
	const char *password;   /* may be NULL */
	const char *client_id;  /* required: the device's id; keep it across runs (persistent session) */
	int protocol;           /* 4 (MQTT 3.1.1) or 5; default 5 */
	const char *state_path; /* required: the state file; the events go to "<state_path>.events" */
	int page_limit;         /* catch-up page size asked for; default 1000 (the server's maximum) */
	int max_inflight_sends; /* sends of the outbox awaiting their ack at once; default 20 */
	int retry_ms;           /* a send (or catch-up page) with no answer after this is sent again; 3000 */
	struct mqc_callbacks cb;
	void *userdata;
};

/* Reads (or creates) the state file and returns a client, not yet connected; NULL with errno set if
 * the options are incomplete (EINVAL), memory ran out, or the state file is unreadable. The strings
 * of opts are copied. Free with mqc_free(). */
struct mqc *mqc_new(const struct mqc_options *opts);

/* Stops the loop thread if any, disconnects, and frees the client. The state file stays. NULL-safe. */
void mqc_free(struct mqc *c);

/* Starts connecting (non-blocking). The connection comes up, and is kept up, while mqc_loop() runs
 * or after mqc_loop_start(). */
int mqc_connect(struct mqc *c);

/* Runs the network for up to timeout_ms: reads, writes, retries and reconnects as needed. Returns
 * MQC_OK (also while disconnected and waiting to reconnect). */
int mqc_loop(struct mqc *c, int timeout_ms);

/* Runs mqc_loop() on a thread of its own until mqc_loop_stop() (or mqc_free()). */
int mqc_loop_start(struct mqc *c);
void mqc_loop_stop(struct mqc *c);

/* Queues a message to channel ch and returns at once: the outbox (in the state file, written and
 * synced to disk before this returns) sends it whenever connected until it is acknowledged. body is
 * the message text (UTF-8, 1 byte to the server's limit). *out_cmid (may be NULL) gets its
 * client_msg_id, malloc'd (caller frees). */
int mqc_send(struct mqc *c, const char *ch, const char *body, char **out_cmid);

/* Messages in the outbox, not yet acknowledged. */
int mqc_outbox_count(struct mqc *c);

/* An account request on chat/_api (payload: a JSON object such as {"op":"channels"}; its "ref", if
 * any, is replaced by one of the library's, "a:mqc-<n>"). The answer comes to on_api. Not retried:
 * ask again if none comes. */
int mqc_api(struct mqc *c, const char *payload_json);

/* Typing (true while typing, repeated every few seconds; false when done), and the read cursor. Both
 * fire and forget, only while connected. */
int mqc_typing(struct mqc *c, const char *ch, bool typing);
int mqc_mark_read(struct mqc *c, const char *ch, int64_t seq);

/* The channel's cursor: the highest seq applied with no gap below it (0: nothing yet); -1 for a
 * channel the client does not know. epoch_out (may be NULL, 40 bytes) gets its epoch, "" if none. */
int64_t mqc_cursor(struct mqc *c, const char *ch, char *epoch_out);

/* Calls fn for each event of ch's local history (the current epoch), in seq order, from the events
 * file. fn returns false to stop. Returns the number of events visited, or -1 if the events file could
 * not be read. */
long mqc_history(struct mqc *c, const char *ch, bool (*fn)(void *arg, const cJSON *event), void *arg);

/* True while connected, and every known channel caught up with no catch-up pending. */
bool mqc_is_synced(struct mqc *c);

#ifdef __cplusplus
}
#endif

#endif
