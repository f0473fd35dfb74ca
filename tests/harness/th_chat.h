/*
 * th_chat.h - mqchat's wire protocol for tests: requests, sends, catch-up, history.
 *
 * Built on th.h clients. Every helper waits for its answer on the client's reply topic,
 * chat/_reply/<clientid>, and fails the test if none arrives within 5 s.
 */
#ifndef TH_CHAT_H
#define TH_CHAT_H

#include "th.h"

/* Publishes the printf-formatted payload to topic at QoS 1 and returns the next message on the reply
 * topic, parsed (caller deletes). */
cJSON *tc_request(struct th_client *c, const char *topic, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* tc_request on chat/_api. */
cJSON *tc_api(struct th_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tc_api that must succeed: fails the test unless the reply has "ok":true. */
void tc_api_ok(struct th_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends a message {"client_msg_id":cmid,"body":body} to chat/<channel> and returns its ack, which must
 * say ok (caller deletes). */
cJSON *tc_send(struct th_client *c, const char *channel, const char *cmid, const char *body);

/* tc_send (which checks the ack) with a client_msg_id of its own ("tc-<n>", n counting in this
 * process); returns the event's seq. */
long long tc_post(struct th_client *c, const char *channel, const char *body);

/* Four users on a fresh broker with mqchat: ada, bo and dee over MQTT 5, cy over MQTT 3.1.1 (client
 * ids <user>-1, clean sessions). */
struct tc_team {
	struct th_broker b;
	struct th_client *ada, *bo, *cy, *dee;
};
void tc_team_start(struct tc_team *t);
void tc_team_stop(struct tc_team *t);

/* One catch-up page: {"since":since[,"limit":limit]} (limit <= 0 leaves it out). Caller deletes. */
cJSON *tc_sync(struct th_client *c, const char *channel, long long since, int limit);

/* The channel's whole log, read page by page from seq 0: a JSON array of events (caller deletes).
 * Checks on the way that pages chain (since = previous next) and that seqs run 1, 2, 3... */
cJSON *tc_history(struct th_client *c, const char *channel);

/* Asserts that reply is an error with the given code (and, when message is not NULL, that message),
 * then deletes it. */
#define tc_expect_error(reply, code, message)                                                                \
	tc_expect_error_at(__FILE__, __LINE__, (reply), (code), (message))
void tc_expect_error_at(const char *file, int line, cJSON *reply, const char *code, const char *message);

/* c's inbox entry for ch, from a fresh `channels` request; fails the test if ch is not in it.
 * *reply_out gets the whole reply, which owns the entry (caller deletes). */
const cJSON *tc_inbox_entry(struct th_client *c, const char *ch, cJSON **reply_out);

/* The next event of chat/<channel> that c receives (caller deletes). With skip_joins, join events are
 * passed over: a subscriber on another broker than the channel's creator (an edge) may see the joins
 * or not, depending on when its subscription landed. */
cJSON *tc_expect_event(struct th_client *c, const char *channel, bool skip_joins);

/* The next message on filter, within timeout_ms, must match the printf-formatted pattern whole (see
 * th_json_match) and arrive at QoS qos (-1: any); a "ts" in it must be the server's clock in ms. */
#define tc_expect_next_within(c, filter, timeout_ms, qos, ...)                                               \
	tc_expect_next_at(__FILE__, __LINE__, (c), (filter), (timeout_ms), (qos), __VA_ARGS__)
#define tc_expect_next(c, filter, qos, ...) tc_expect_next_within((c), (filter), 5000, (qos), __VA_ARGS__)
void tc_expect_next_at(const char *file, int line, struct th_client *c, const char *filter, int timeout_ms,
		       int qos, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* The next presence event of chat/<ch>/presence that c receives is exactly user going online (or
 * offline), at QoS 0, stamped with the server's clock. */
#define tc_expect_presence(c, ch, user, online)                                                              \
	tc_expect_presence_at(__FILE__, __LINE__, (c), (ch), (user), (online))
void tc_expect_presence_at(const char *file, int line, struct th_client *c, const char *ch, const char *user,
			   bool online);

/* The next event of chat/<channel> that c receives matches pattern whole (see th_json_match). */
#define tc_expect_event_matching(c, channel, pattern)                                                        \
	tc_expect_next_at(__FILE__, __LINE__, (c), "chat/" channel, 5000, -1, "%s", (pattern))

/* The seeds' worked example, end to end, with Ada, Bo and Cy connected to the brokers given (the same
 * one, or edges of one core): Ada posts in #general with Bo online and Cy offline; the post becomes
 * seq 42; Bo sees it live; Cy reconnects with last-seen 41 and catch-up delivers seq 42 exactly once,
 * byte for byte what Bo got. */
void tc_worked_example(struct th_broker *ada_at, struct th_broker *bo_at, struct th_broker *cy_at);

/* Each user named (a NULL-terminated list) signs in to b once: connects, then leaves. The broker then
 * knows it as a user (docs/protocol.md, "Users"), so that it may be named as a member: create, invite
 * and dm refuse anyone who never connected with no_such_user. Use it on the core of a gateway. */
void tc_sign_in(struct th_broker *b, ...) __attribute__((sentinel));

/* The reply topic of c: chat/_reply/<clientid> (static buffer). */
const char *tc_reply_topic(const struct th_client *c);

#endif
