/*
 * reply.h - where the answer to a request goes, and sending it there.
 *
 * Acks, errors and replies go only to the client that caused them. A client that set the MQTT v5
 * Response Topic gets its answer there, with its Correlation Data; any other client gets it on
 * chat/_reply/<clientid>. Either way it is a directed publish, delivered to that client whether or not
 * it subscribed, and never to anyone else.
 *
 * Answers are bounded for a client that does not take them (see docs/security.md): they go at QoS 0,
 * only to a client that is connected now (never parked in a session's queue, where a later connection
 * could pick them up), not while its socket shows it has stopped reading, and at most one
 * `rate_limited` error per second. Each is safe to lose: a client asks again, or retries its send with
 * the same client_msg_id.
 */
#ifndef CHAT_REPLY_H
#define CHAT_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "errors.h"
#include "event_json.h"

struct chat_sessions;

/* Where a reply to a client of an edge goes: that edge's bridge connection on the core. Borrowed. */
struct chat_edge_route {
	const char *edge_id;
	const char *bridge_client; /* the bridge's client id on the core */
};

/* The longest string a request's "ref" may be, in characters. */
#define CHAT_REF_MAX 128

struct chat_reply_to {
	const char *client_id; /* borrowed from the broker for the duration of the callback */
	char *topic;           /* malloc'd */
	void *correlation;     /* malloc'd, or NULL */
	uint16_t correlation_len;
	bool requested;                    /* a Response Topic or a ref: the client waits for an answer */
	const struct chat_edge_route *via; /* a client of an edge: answers go through it (edge_link.c) */
	struct chat_sessions *sessions;    /* who is connected; NULL: send without asking (a bridge) */
	/* What every answer to this request names, so a client can match it to its request (MQTT 3.1.1
	 * has no Correlation Data): the request kind, which every error carries as "request" ("send",
	 * "sync", "api", ...: static, NULL for none), and the client's "ref", which every answer, success
	 * or error, echoes (owned: chat_reply_to__clear frees it; NULL when the request had none). */
	const char *request;
	cJSON *ref;
};

/* Sets rt up for client_id. response_topic (may be NULL or invalid, then chat/_reply/<client_id> is
 * used) and correlation are copied. Returns 0, or -1 when out of memory. Release with
 * chat_reply_to__clear, on success and failure alike. */
int chat_reply_to__init(struct chat_reply_to *rt, const char *client_id, const char *response_topic,
			const void *correlation, uint16_t correlation_len);

/* Releases what chat_reply_to__init (and chat_reply_to__request) allocated. */
void chat_reply_to__clear(struct chat_reply_to *rt);

/* A reply address kept beyond the request's callback, for an answer sent later (after the group
 * commit, by a worker thread's result): a chat_reply_to whose every field is owned, the client id and
 * the edge route included. */
struct chat_reply_kept {
	char *client_id, *topic;
	void *correlation;
	uint16_t correlation_len;
	char *via_edge_id, *via_bridge_client; /* a client of an edge: its route, or NULL */
	bool requested;
	const char *request; /* static */
	cJSON *ref;          /* or NULL */
};

/* Copies rt into kept (zeroed first). Returns 0, or -1 when out of memory; either way release kept
 * with chat_reply_kept__release. */
int chat_reply_kept__copy(struct chat_reply_kept *kept, const struct chat_reply_to *rt);

/* Frees what kept holds and zeroes it. */
void chat_reply_kept__release(struct chat_reply_kept *kept);

/* A chat_reply_to to answer kept's request with: it borrows kept's fields and route (which it fills
 * for a client of an edge), so it is valid while both live. sessions: who is connected (reply.c's
 * check that a client reads its answers). */
struct chat_reply_to chat_reply_kept__view(const struct chat_reply_kept *kept, struct chat_edge_route *route,
					   struct chat_sessions *sessions);

/* Names the request rt answers: request is its kind (static; every error says it), and the "ref" of
 * payload[0..len), when it is a JSON object with one, is kept to be echoed by every answer (and makes
 * the request one that waits for an answer: rt->requested). The ref is looked for before the request
 * is validated, so an error about the rest of the payload (bad_utf8 in a field, too_large, a bad
 * field) still carries it; a payload that is not a JSON object (plain text, unparseable JSON) has
 * none. Returns CHAT_ERR_OK, or CHAT_ERR_BAD_REQUEST in err when the ref is not a number or a string
 * of at most CHAT_REF_MAX characters (or CHAT_ERR_UNAVAILABLE when out of memory). */
enum chat_err chat_reply_to__request(struct chat_reply_to *rt, const char *request, const void *payload,
				     size_t len, struct chat_error *err);

/* Sends payload[0..len) on topic to the connected client client_id, unless it is not connected or
 * has stopped reading (then it is dropped, and logged). sessions NULL: no such check. */
void chat_reply__deliver(struct chat_sessions *sessions, const char *client_id, const char *topic,
			 const char *payload, size_t len, const void *correlation, uint16_t correlation_len);

/* Sends json to client_id (a client of the edge of route) on topic, in an envelope on
 * chat/_edge/down/<edge-id> directed at that edge's bridge connection (edge_link.h). */
void chat_reply__via_edge(const struct chat_edge_route *route, const char *client_id, const char *topic,
			  const char *json, size_t len, const void *correlation, uint16_t correlation_len);

/* Sends json[0..len), a JSON object, to rt, with rt's ref added as its last field. */
void chat_reply__send(const struct chat_reply_to *rt, const char *json, size_t len);

/* Prints obj and sends it to rt; obj stays the caller's. */
void chat_reply__send_object(const struct chat_reply_to *rt, const cJSON *obj);

/* Sends the error err, with ctx echoed, to rt, and returns err->code: services end a failed request
 * with `return chat_reply__error(...)`. The error also names rt's request and echoes its ref (a ctx
 * ref, when rt has none). */
enum chat_err chat_reply__error(const struct chat_reply_to *rt, const struct chat_error *err,
				const struct chat_error_context *ctx);

#endif
