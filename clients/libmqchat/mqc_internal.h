/*
 * mqc_internal.h - libmqchat's state, shared by its files (not installed):
 *   mqc_client.c    options, lifetime, the loop and its thread, reconnecting, routing what arrives
 *   mqc_wire.c      topics, the reply topic, publishing with MQTT 5 correlation, reply routing keys
 *   mqc_state.c     the state file (cursors, outbox) and the append-only events file
 *   mqc_converge.c  the convergence rule: inbox, catch-up pages, live events, gaps, epochs
 *   mqc_outbox.c    sends: the outbox, retries, acks and errors
 *
 * Locking: struct mqc.lock (recursive) guards everything below except the mosquitto handle's own
 * internals. Public functions take it; mosquitto callbacks take it; user callbacks run under it.
 */
#ifndef MQC_INTERNAL_H
#define MQC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "mqchat_client.h"

#define MQC_CH_MAX         64  /* a channel id: 1 to 64 characters (docs/protocol.md, "Who you are") */
#define MQC_EPOCH_MAX      39  /* epochs are UUIDs (36 characters); 40 bytes with the NUL */
#define MQC_CMID_MAX       48  /* our client_msg_ids: "m-" and 32 hex digits */
#define MQC_REPLY_MAX      400 /* chat/_reply/ and a client id of up to 23..~120 characters, escaped */
#define MQC_KEEPALIVE      30
#define MQC_MAX_SYNCS      8 /* channels caught up at once: a new device in 1000 channels stays in budget */
#define MQC_BACKOFF_MAX_MS 5000

/* A live event that arrived above the cursor, waiting for the events below it. */
struct mqc_pending {
	int64_t seq;
	char *json; /* the event as received, NUL-terminated; owned */
};

/* One channel's convergence state. Invariant: the local history holds exactly the events 1..cursor
 * of the log named by epoch; pending holds only seqs > cursor + 0, sorted, unique. */
struct mqc_channel {
	char name[MQC_CH_MAX + 1];
	char epoch[MQC_EPOCH_MAX + 1]; /* "" until the first catch-up page names it */
	int64_t cursor;
	bool syncing;         /* catching up: a page is wanted (asked for, or waiting for a slot) */
	bool sync_sent;       /* ...and asked for: it holds one of MQC_MAX_SYNCS slots */
	int64_t sync_since;   /* the since of that request */
	int64_t sync_sent_ms; /* when it was (last) sent */
	int64_t retry_at_ms;  /* a rate-limited catch-up waits until then */
	struct mqc_pending *pending;
	size_t npending, cap_pending;
	struct mqc_channel *next;
};

/* A message of the outbox, in the order mqc_send() queued it. */
struct mqc_outmsg {
	char cmid[MQC_CMID_MAX + 1];
	char ch[MQC_CH_MAX + 1];
	char *payload; /* {"client_msg_id":...,"body":...}, one line; owned */
	bool inflight; /* published on this connection, no answer yet */
	int64_t sent_ms;
	struct mqc_outmsg *next;
};

struct mqc {
	/* options, copied */
	char *host, *user, *password, *client_id, *state_path, *events_path;
	int port, protocol, page_limit, max_inflight, retry_ms;
	struct mqc_callbacks cb;
	void *ud;

	pthread_mutex_t lock;
	struct mosquitto *mosq;
	bool want_connected; /* mqc_connect() was called */
	bool connected;      /* CONNACK accepted, not yet disconnected */
	bool ever_connected; /* mosquitto_connect succeeded once, so reconnect works */
	int64_t reconnect_at_ms;
	int backoff_ms;
	pthread_t thread;
	bool thread_running;
	volatile bool thread_stop;

	char reply_topic[MQC_REPLY_MAX];

	/* convergence */
	struct mqc_channel *channels;
	bool inbox_pending; /* {"op":"channels"} asked on this connection, not answered */
	bool inbox_done;    /* answered on this connection */
	int64_t inbox_sent_ms;
	char inbox_ref[32];
	bool synced_reported;
	unsigned ref_counter;

	/* outbox */
	struct mqc_outmsg *outbox;
	int64_t sends_paused_until_ms; /* rate_limited: the server's retry_after_ms */

	FILE *events; /* the events file, opened for appending */
	bool state_dirty;
};

/* mqc_client.c */
int64_t mqc__now_ms(void);
void mqc__log(struct mqc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* mqc_wire.c */
bool mqc__valid_channel(const char *ch);
/* Writes chat/_reply/<client_id>, with + # % escaped as %2B %23 %25. Returns -1 if it does not fit. */
int mqc__reply_topic(const char *client_id, char *out, size_t cap);
/* Publishes payload at QoS 1 to topic; with MQTT 5 and corr != NULL, with Response Topic (the reply
 * topic) and Correlation Data corr. Returns the MOSQ_ERR_* of mosquitto_publish_v5(). */
int mqc__publish(struct mqc *c, const char *topic, const char *payload, const char *corr);
/* The channel of an event topic chat/<ch> (the channel id), of chat/<ch>/<suffix> when suffix is
 * given; NULL otherwise. Writes into out (MQC_CH_MAX + 1). */
const char *mqc__topic_channel(const char *topic, const char *suffix, char *out);
/* Routes an answer on the reply topic (props: its MQTT 5 properties, or NULL). */
void mqc__on_reply(struct mqc *c, const char *payload, int len, const mosquitto_property *props);

/* mqc_state.c */
int mqc__state_load(struct mqc *c);
/* Writes the state file anew (temporary file, rename); with sync, fsync()s it first. */
int mqc__state_save(struct mqc *c, bool sync);
/* Appends one event of ch to the events file (buffered; mqc__state_save() flushes it first). */
int mqc__events_append(struct mqc *c, const struct mqc_channel *ch, const char *json);
long mqc__events_iterate(struct mqc *c, const struct mqc_channel *ch, bool (*fn)(void *, const cJSON *),
			 void *arg);

/* mqc_converge.c */
struct mqc_channel *mqc__channel(struct mqc *c, const char *name, bool create);
void mqc__channel_free(struct mqc_channel *ch);
void mqc__converge_on_connect(struct mqc *c);
void mqc__converge_on_inbox(struct mqc *c, const cJSON *reply);
void mqc__converge_on_page(struct mqc *c, const cJSON *reply);
void mqc__converge_on_sync_error(struct mqc *c, const char *ch, const char *code, const cJSON *err);
void mqc__converge_on_live(struct mqc *c, const char *ch, const char *payload, int len);
void mqc__converge_tick(struct mqc *c, int64_t now);

/* mqc_outbox.c */
void mqc__outbox_tick(struct mqc *c, int64_t now);
void mqc__outbox_on_disconnect(struct mqc *c);
void mqc__outbox_on_ack(struct mqc *c, const cJSON *reply);
void mqc__outbox_on_error(struct mqc *c, const char *cmid, const char *code, const cJSON *err);
void mqc__outbox_free(struct mqc *c);
/* Adds a message read from the state file (or queued by mqc_send) at the end. */
int mqc__outbox_add(struct mqc *c, const char *cmid, const char *ch, const char *payload);

#endif
