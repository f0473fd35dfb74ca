/*
 * sessions.h - which user holds which client id, and which connection may still publish.
 *
 * Mosquitto 2.0 ties nothing to a client id: a client that connects with another user's client id
 * takes over that user's session (its subscriptions, and whatever is queued or in flight for it), and
 * kicks the other connection off. And a will is published by the broker itself after the connection
 * has ended, so it never passes the message callback, where mqchat decides what a publish may do:
 * only the write ACL sees it. This module is the memory behind both defences:
 *
 * - A client id is *bound* to the user of its first connection while any connection with it lives,
 *   and for as long as the broker may keep a session for it (the connection asked for a persistent
 *   session: MQTT 3.1.1 clean session false, MQTT 5 clean start false). A CONNECT by another user
 *   with a bound id is refused (chat_sessions__connecting). Bindings of persistent sessions are
 *   written to the store, so they outlive a restart of the broker (which may keep sessions too).
 * - A connection is *live* from its authentication to its disconnect. A write check on a topic mqchat
 *   owns is a will when it comes for a connection that is no longer live (Mosquitto runs the
 *   DISCONNECT callback before it sends the will), or for one that a newer connection with the same
 *   client id is taking over (Mosquitto sends the old connection's will before its DISCONNECT)
 *   (chat_sessions__publishing_will). A connection whose will is delayed (MQTT 5 Will Delay
 *   Interval) is remembered as ended until its will has been checked or its client id is back.
 * - QoS 2: Mosquitto calls the message callback again for a resent PUBLISH (DUP) before it finds the
 *   first copy by packet id, so the packet ids of the last QoS 2 publishes a client id sent are kept
 *   with a hash of their content (chat_sessions__qos2_resent).
 *
 * Pure: no broker, no SQLite. Keys are the broker's client pointers (never dereferenced) and client
 * ids. Single-threaded, like every callback.
 */
#ifndef CHAT_SESSIONS_H
#define CHAT_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chat_session_conn;
struct chat_client_id;
struct chat_ended_conn;

struct chat_sessions {
	struct chat_session_conn *conns; /* live connections, by client pointer */
	struct chat_client_id *ids;      /* bound client ids, by id */
	struct chat_ended_conn *ended;   /* ended connections whose will may still come, by pointer */
	unsigned pending;                /* live connections not yet confirmed */
	unsigned dirty;                  /* bindings whose stored row is out of date */
	unsigned revoked;                /* live connections marked by chat_sessions__revoke_token */
};

/* What chat_sessions__connecting decided. */
enum chat_session_verdict {
	CHAT_SESSION_ACCEPT,    /* recorded; the broker may accept the connection */
	CHAT_SESSION_TAKEN,     /* the client id belongs to another user: refuse the connection */
	CHAT_SESSION_NO_MEMORY, /* could not record it: refuse the connection (it may retry) */
};

/* A client is authenticating as user with client_id; clean says whether its session ends with the
 * connection. Records it as a pending live connection, or says why it must be refused; *owner (may
 * be NULL) then points to the user holding the id, valid until the next call. */
enum chat_session_verdict chat_sessions__connecting(struct chat_sessions *s, const void *client,
						    const char *user, const char *client_id, bool clean,
						    const char **owner);

/* The end of the broker's loop iteration: every pending connection was accepted. */
void chat_sessions__confirm_pending(struct chat_sessions *s);

/* What may still be published for a connection that ended. */
enum chat_session_will {
	CHAT_WILL_NONE,    /* it has no will */
	CHAT_WILL_NOW,     /* its will, if any, is sent within this disconnect */
	CHAT_WILL_DELAYED, /* its will is sent later (MQTT 5 Will Delay Interval) unless it comes back */
};

/* The client's connection ended; will says what of its will may still come (CHAT_WILL_NOW when not
 * known). A write check from it is refused as a will until the end of this loop iteration, or for a
 * delayed will until it has been checked or the client id connects again. */
void chat_sessions__gone(struct chat_sessions *s, const void *client, enum chat_session_will will);

/* The end of a loop iteration: ended connections whose will, if any, was due at once are forgotten
 * (Mosquitto sends an immediate will within the disconnect itself). */
void chat_sessions__forget_ended(struct chat_sessions *s);

/* True when a write check by client is for its will: the connection has ended, or another connection
 * with its client id has authenticated after it. Forgets the ended connection once its will has been
 * checked. A client never seen authenticating (another plugin answered first) is not judged: false. */
bool chat_sessions__publishing_will(struct chat_sessions *s, const void *client);

/* True while a connection with client_id is live (pending or confirmed). */
bool chat_sessions__connected(const struct chat_sessions *s, const char *client_id);

/* The newest live connection with client_id, or NULL. */
const void *chat_sessions__client(const struct chat_sessions *s, const char *client_id);

/* Session tokens (services/signin.c): the longest public session id a connection can be marked with. */
#define CHAT_SESSIONS_TOKEN_ID_MAX 32

/* The live connection client signed in with the session token whose public id is session (at most
 * CHAT_SESSIONS_TOKEN_ID_MAX characters; a longer one is cut): it may not ask for another token, and
 * `logout` alone revokes that one. A client not recorded (chat_sessions__connecting) is ignored. */
void chat_sessions__set_token(struct chat_sessions *s, const void *client, const char *session);

/* The public id of the session token that the newest live connection with client_id signed in with
 * (valid until that connection ends), or NULL when it signed in otherwise or is not known. */
const char *chat_sessions__token(const struct chat_sessions *s, const char *client_id);

/* user's session token `session` (NULL: every one of user's) was revoked: marks each live connection
 * that signed in with it to be disconnected, except the newest connection of except_client_id (may be
 * NULL), the one that asked, which gets its answer and ends itself. Returns how many were marked. */
unsigned chat_sessions__revoke_token(struct chat_sessions *s, const char *user, const char *session,
				     const char *except_client_id);

/* The client ids of the connections marked by chat_sessions__revoke_token that are still the newest
 * with their id, as a malloc'd array of *count malloc'd strings (the caller frees each and the array),
 * NULL when there is none or when out of memory (then the marks stay, for the next call). Clears the
 * marks it returns. */
char **chat_sessions__take_revoked(struct chat_sessions *s, unsigned *count);

/* True, and noted, if a quiet-limited answer (a rate_limited error) may go to client_id now: none went
 * in the last quiet_ms. True for an unknown id. */
bool chat_sessions__may_say(struct chat_sessions *s, const char *client_id, int64_t now_ms, int64_t quiet_ms);

/* An answer to client_id was dropped because it is not reading. True at most once a minute per
 * id, to log it. */
bool chat_sessions__note_dropped_reply(struct chat_sessions *s, const char *client_id, int64_t now_ms);

/* QoS 2 exactly-once. A QoS 2 PUBLISH with packet id mid, DUP flag dup and content hash arrived from
 * client_id: true if it is a resend of one already taken, which the caller must not act on again. */
bool chat_sessions__qos2_resent(const struct chat_sessions *s, const char *client_id, uint16_t mid, bool dup,
				uint64_t hash);

/* The QoS 2 PUBLISH mid with content hash from client_id was taken: a resend of it is recognised. */
void chat_sessions__qos2_taken(struct chat_sessions *s, const char *client_id, uint16_t mid, uint64_t hash);

/* A 64-bit FNV-1a hash of topic and payload, for chat_sessions__qos2_resent. */
uint64_t chat_sessions__hash(const char *topic, const void *payload, size_t len);

/* Loads a stored binding (at start, before any connection): client_id belongs to user. Returns 0, or
 * -1 when out of memory. */
int chat_sessions__load(struct chat_sessions *s, const char *client_id, const char *user);

/* Bindings whose stored row is out of date: calls write(ctx, client_id, user) for each one to store and
 * write(ctx, client_id, NULL) for each one to delete. Stops at, and returns, the first non-zero result;
 * 0 when all were written. Nothing is marked: once what was written is durable, call
 * chat_sessions__flushed (and on failure nothing, to retry later). */
int chat_sessions__each_dirty(const struct chat_sessions *s,
			      int (*write)(void *ctx, const char *client_id, const char *user), void *ctx);

/* Everything chat_sessions__each_dirty wrote is durable: the bindings are up to date. */
void chat_sessions__flushed(struct chat_sessions *s);

/* Frees everything. */
void chat_sessions__clear(struct chat_sessions *s);

#endif
