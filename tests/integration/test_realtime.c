/*
 * test_realtime.c - the real-time signals (docs/protocol.md, "Real-time signals" and "Unread counts and
 * the inbox"): presence per user across devices, session takeovers, keepalive timeouts, refused logins
 * and large channels; typing stamped by the server, expiring, rate limited and never stored; read
 * cursors per user and delivery cursors per device, forward only and durable; exact unread counts and
 * the inbox's order; and none of it for non-members.
 *
 * "Nothing arrived" is shown with a barrier, never a sleep: a later signal that the watcher must
 * receive first. The broker writes to one client in order, so if the barrier is the next message on
 * the topic, nothing came before it. A barrier must come from something the broker handles after the
 * thing under test: a CONNACK, a PUBACK, or the broker's log line for a disconnection.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "th_chat.h"

#define WAIT_MS 5000

/* One entry of a members reply, as JSON text. */
/* A members entry as a member sees it: its read cursor ("read") is checked elsewhere. */
#define MEMBER(user, role, online)                                                                           \
	"{\"user\":\"" user "\",\"role\":\"" role "\",\"online\":" online ",\"read\":\"*\"}"


/* ---- Helpers ---------------------------------------------------------------------------------------- */

/* The harness's (th_chat.h) under their short names. */
#define expect_within(c, filter, timeout_ms, qos, ...)                                                       \
	tc_expect_next_within((c), (filter), (timeout_ms), (qos), __VA_ARGS__)
#define expect_next(c, filter, qos, ...)     tc_expect_next((c), (filter), (qos), __VA_ARGS__)
#define expect_next_at                       tc_expect_next_at
#define expect_presence(c, ch, user, online) tc_expect_presence((c), (ch), (user), (online))


/* The members reply for ch must list exactly `members` (a JSON array). */
#define expect_members(c, ch, members) expect_members_at(__FILE__, __LINE__, (c), (ch), (members))

static void expect_members_at(const char *file, int line, struct th_client *c, const char *ch,
			      const char *members)
{
	char pattern[2048];
	cJSON *reply = tc_api(c, "{\"op\":\"members\",\"channel\":\"%s\"}", ch);

	snprintf(pattern, sizeof(pattern),
		 "{\"ok\":true,\"kind\":\"api\",\"op\":\"members\",\"channel\":\"%s\",\"members\":%s}", ch,
		 members);
	th_json_check_(file, line, "members reply", reply, pattern);
	cJSON_Delete(reply);
}


/* A QoS 1 publish the plugin takes (acts on or ignores) without an error: PUBACK below 0x80. */
#define pub_ok(c, topic, payload) pub_ok_at(__FILE__, __LINE__, (c), (topic), (payload))

static void pub_ok_at(const char *file, int line, struct th_client *c, const char *topic, const char *payload)
{
	int rc = th_publish(c, topic, payload, -1, 1, NULL);

	if(rc < 0 || rc >= 0x80) {
		th_fail(file, line, "%s publishing %s to %s: PUBACK 0x%02x (-1: none)", th_client_id(c),
			payload, topic, rc);
	}
}


/* A QoS 1 publish from an MQTT 5 client that the plugin refuses: PUBACK 0x87 and the error on the
 * reply topic (message NULL: any). */
#define pub_refused(c, topic, payload, code, message)                                                        \
	pub_refused_at(__FILE__, __LINE__, (c), (topic), (payload), (code), (message))

static void pub_refused_at(const char *file, int line, struct th_client *c, const char *topic,
			   const char *payload, const char *code, const char *message)
{
	int rc = th_publish(c, topic, payload, -1, 1, NULL);
	cJSON *reply;

	if(rc != 0x87) {
		th_fail(file, line, "%s publishing %s to %s: PUBACK 0x%02x, expected 0x87", th_client_id(c),
			payload, topic, rc);
	}
	reply = th_wait_json(c, tc_reply_topic(c), WAIT_MS);
	if(reply == NULL) {
		th_fail(file, line, "no error on %s for %s to %s", tc_reply_topic(c), payload, topic);
	}
	tc_expect_error_at(file, line, reply, code, message);
}


/* Nothing is waiting on c's reply topic: the answer to a later request is the next thing there. */
#define expect_no_replies(c) expect_no_replies_at(__FILE__, __LINE__, (c))

static void expect_no_replies_at(const char *file, int line, struct th_client *c)
{
	cJSON *reply = tc_api(c, "{\"op\":\"channels\",\"ref\":\"barrier\"}");
	const char *ref = th_json_str(reply, "ref");

	if(ref == NULL || strcmp(ref, "barrier") != 0) {
		char *text = th_json_print(reply);
		th_fail(file, line, "%s had an unexpected reply queued: %s", th_client_id(c), text);
	}
	cJSON_Delete(reply);
}


/* Publishes payload to topic at QoS 1 with an MQTT 5 Response Topic and Correlation Data, and returns
 * the answer from the response topic (caller deletes), after checking that it echoes the correlation. */
static cJSON *publish_with_response_topic(struct th_client *c, const char *topic, const char *payload)
{
	mosquitto_property *props = NULL;
	char resp[160];
	struct th_msg *m;
	void *corr = NULL;
	uint16_t corr_len = 0;
	cJSON *answer;

	snprintf(resp, sizeof(resp), "resp/%s", th_client_id(c));
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, resp);
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "corr-1", 6);
	TH_CHECK(th_publish(c, topic, payload, -1, 1, props) >= 0);
	mosquitto_property_free_all(&props);
	m = th_wait_msg(c, resp, WAIT_MS);
	TH_CHECKF(m != NULL, "no answer on %s to %s on %s", resp, payload, topic);
	answer = th_json_parse((char *)m->payload);
	TH_CHECK(mosquitto_property_read_binary(m->props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false)
		 != NULL);
	TH_EQ_INT(corr_len, 6);
	TH_CHECK(memcmp(corr, "corr-1", 6) == 0);
	free(corr);
	th_msg_free(m);
	return answer;
}


/* Number of times needle occurs in the broker's log. */
static int log_count(const struct th_broker *b, const char *needle)
{
	char *log = th_broker_log(b);
	int n = 0;

	for(const char *p = strstr(log, needle); p; p = strstr(p + 1, needle)) {
		n++;
	}
	free(log);
	return n;
}


/* Waits until the broker has logged the end of client_id's connection `nth` time (1: the first). A
 * disconnection is not acknowledged to anyone, so this is how a test knows the broker handled it
 * before it makes the next thing happen. */
static void wait_gone(const struct th_broker *b, const char *client_id, int nth)
{
	char clean[160], closed[160];

	snprintf(clean, sizeof(clean), "Client %s disconnected", client_id);
	snprintf(closed, sizeof(closed), "Client %s closed its connection", client_id);
	th_wait_until(log_count(b, clean) + log_count(b, closed) >= nth, WAIT_MS);
}


/* The catch-up head of ch. */
static long long head_of(struct th_client *c, const char *ch)
{
	cJSON *page = tc_sync(c, ch, 0, 1);
	long long head = th_json_int(page, "head");

	cJSON_Delete(page);
	return head;
}


/* In c's inbox, ch has this head, read cursor (-1: any) and unread count. */
#define expect_unread(c, ch, head, read, unread)                                                             \
	expect_unread_at(__FILE__, __LINE__, (c), (ch), (head), (read), (unread))

static void expect_unread_at(const char *file, int line, struct th_client *c, const char *ch, long long head,
			     long long read, long long unread)
{
	cJSON *reply;
	const cJSON *entry = tc_inbox_entry(c, ch, &reply);
	long long got_head = th_json_int_at(file, line, entry, "head");
	long long got_read = th_json_int_at(file, line, entry, "read");
	long long got_unread = th_json_int_at(file, line, entry, "unread");

	if(got_head != head || (read >= 0 && got_read != read) || got_unread != unread) {
		char *text = th_json_print(entry);
		th_fail(file, line,
			"%s's inbox entry for #%s: expected head %lld, read %lld, unread %lld; got %s",
			th_client_id(c), ch, head, read, unread, text);
	}
	cJSON_Delete(reply);
}


/* A send of any type (payload with a client_msg_id) to chat/<ch> that must be acknowledged. */
#define send_ok(c, ch, ...) send_ok_at(__FILE__, __LINE__, (c), (ch), __VA_ARGS__)

static void send_ok_at(const char *file, int line, struct th_client *c, const char *ch, const char *payload)
{
	char topic[128];
	cJSON *ack;

	snprintf(topic, sizeof(topic), "chat/%s", ch);
	ack = tc_request(c, topic, "%s", payload);
	th_json_check_(file, line, payload, ack,
		       "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"*\",\"client_msg_id\":\"*\","
		       "\"id\":\"*\",\"seq\":\"*\",\"ts\":\"*\",\"duplicate\":false}");
	cJSON_Delete(ack);
}


/* Activity is ordered by the server's millisecond clock: let it tick between two actions. */
static void next_millisecond(void)
{
	long long start = th_now_ms();

	th_wait_until(th_now_ms() > start + 1, 100);
}


/* ---- Presence ----------------------------------------------------------------------------------------- */

/* A user is online from its first device's connection to its last one's end, whatever happens between. */
static void test_presence_follows_first_and_last_device(void)
{
	struct th_broker b;
	struct th_client *ada, *bo1, *bo2, *cy;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", "cy", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/general/presence", 1), 1);
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "false") "," MEMBER("cy", "member",
											 "false") "]");

	bo1 = th_connect(&b, "bo", "bo-1", 5, true);
	expect_presence(ada, "general", "bo", true);
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "true") "," MEMBER("cy", "member",
											"false") "]");

	/* bo's second device changes nothing: cy's coming online is the next event */
	bo2 = th_connect(&b, "bo", "bo-2", 4, true);
	cy = th_connect(&b, "cy", "cy-1", 5, true);
	expect_presence(ada, "general", "cy", true);

	/* nor does the first device leaving while the second stays */
	th_disconnect(bo1);
	wait_gone(&b, "bo-1", 1);
	th_disconnect(cy);
	expect_presence(ada, "general", "cy", false);
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "true") "," MEMBER("cy", "member",
											"false") "]");

	/* the last one leaving: offline, once */
	th_disconnect(bo2);
	expect_presence(ada, "general", "bo", false);
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "false") "," MEMBER("cy", "member",
											 "false") "]");
	TH_EQ_INT(th_queued(ada, "chat/general/presence"), 0);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* Every channel of the user hears of it; a dropped socket counts as an end too. */
static void test_presence_in_every_channel_of_the_user(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *dm;
	const char *dm_ch;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"random\",\"members\":[\"bo\"]}");
	dm = tc_api(ada, "{\"op\":\"dm\",\"user\":\"bo\"}");
	dm_ch = th_json_str(dm, "channel");
	TH_CHECK(dm_ch != NULL);
	TH_EQ_INT(th_subscribe(ada, "chat/+/presence", 1), 1);

	bo = th_connect(&b, "bo", "bo-1", 5, true);
	expect_presence(ada, "general", "bo", true);
	expect_presence(ada, "random", "bo", true);
	expect_presence(ada, dm_ch, "bo", true);
	th_drop(bo); /* no DISCONNECT: a lost connection */
	expect_presence(ada, "general", "bo", false);
	expect_presence(ada, "random", "bo", false);
	expect_presence(ada, dm_ch, "bo", false);
	expect_members(ada, dm_ch,
		       "[" MEMBER("ada", "member", "true") "," MEMBER("bo", "member", "false") "]");
	cJSON_Delete(dm);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* A device that reconnects with its client id while its old connection is open takes the session
 * over: the new connection counts before the old one ends, so the user never flaps. */
static void test_session_takeover_does_not_flap(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *bo_again, *bo_third, *cy;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", "cy", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/general/presence", 1), 1);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	expect_presence(ada, "general", "bo", true);

	bo_again = th_connect(&b, "bo", "bo-1", 5, true);
	TH_CHECK(th_wait_disconnect(bo, WAIT_MS) >= 0); /* the broker closed the old connection */
	cy = th_connect(&b, "cy", "cy-1", 5, true);
	expect_presence(ada, "general", "cy", true); /* nothing of bo's before it */
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "true") "," MEMBER("cy", "member",
											"true") "]");

	/* again, by an MQTT 3.1.1 client with a persistent session */
	bo_third = th_connect(&b, "bo", "bo-1", 4, false);
	TH_CHECK(th_wait_disconnect(bo_again, WAIT_MS) >= 0);
	th_disconnect(cy);
	expect_presence(ada, "general", "cy", false);
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "true") "," MEMBER("cy", "member",
											"false") "]");

	th_disconnect(bo_third);
	expect_presence(ada, "general", "bo", false);
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "false") "," MEMBER("cy", "member",
											 "false") "]");
	th_disconnect(bo);
	th_disconnect(bo_again);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* A client that stops talking is dropped after 1.5 keepalives, and its user goes offline. */
static void test_keepalive_timeout_goes_offline(void)
{
	struct th_broker b;
	struct th_client *ada;
	struct pollfd pfd;
	long long connected, elapsed;
	char buf[16];
	int fd;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/general/presence", 1), 1);

	fd = th_raw_connect(&b, "bo", "bo-silent",
			    &(struct th_raw_options){.keepalive_s = 1, .clean_session = true});
	connected = th_now_ms();
	expect_presence(ada, "general", "bo", true);
	/* Mosquitto 2.0 drops it after 1.5 keepalives, but looks for overdue clients only every few
	 * seconds: about 5 s in all. */
	expect_within(ada, "chat/general/presence", 10000, 0,
		      "{\"channel\":\"general\",\"user\":\"bo\",\"online\":false,\"ts\":\"*\"}");
	elapsed = th_now_ms() - connected;
	th_log("offline %lld ms after CONNACK", elapsed);
	TH_CHECKF(elapsed >= 900, "offline after %lld ms, before the keepalive ran out", elapsed);
	/* and it was the broker that ended the connection, for the keepalive */
	TH_CHECK(th_broker_log_contains(&b, "Client bo-silent has exceeded timeout"));
	pfd.fd = fd;
	pfd.events = POLLIN;
	TH_EQ_INT(poll(&pfd, 1, 1000), 1);
	TH_CHECK(read(fd, buf, sizeof(buf)) <= 0);
	close(fd);
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member", "false") "]");
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* A client that vanishes leaves its will to the broker; the will's publish does not bring the user back. */
static void test_will_does_not_bring_the_user_back(void)
{
	struct th_broker b;
	struct th_client *ada, *cy;
	struct th_msg *will;
	int fd;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", "cy", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/general/presence", 1), 1);
	TH_EQ_INT(th_subscribe(ada, "status/#", 1), 1);
	fd = th_raw_connect(&b, "bo", "bo-will",
			    &(struct th_raw_options){.keepalive_s = 60,
						     .clean_session = true,
						     .will_topic = "status/bo"});
	expect_presence(ada, "general", "bo", true);
	close(fd); /* no DISCONNECT: the broker publishes the will */
	will = th_wait_msg(ada, "status/bo", WAIT_MS);
	TH_CHECK(will != NULL);
	th_msg_free(will);
	expect_presence(ada, "general", "bo", false);
	cy = th_connect(&b, "cy", "cy-1", 5, true);
	expect_presence(ada, "general", "cy", true); /* nothing of bo's before it */
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "false") "," MEMBER("cy", "member",
											 "true") "]");
	th_disconnect(cy);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* A refused login is never online, nor does its end take an accepted connection's place. */
static void test_refused_login_is_never_online(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy, *refused = NULL;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", "cy", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	TH_EQ_INT(th_subscribe(ada, "chat/general/presence", 1), 1);

	/* bo is offline: wrong passwords leave it so */
	TH_CHECK(th_connect_rc(&b, "bo", "wrong", "bo-1", 5, &refused) > 0);
	TH_CHECK(refused == NULL);
	TH_CHECK(th_connect_rc(&b, "bo", "wrong", "bo-2", 4, &refused) > 0);
	cy = th_connect(&b, "cy", "cy-1", 5, true);
	expect_presence(ada, "general", "cy", true);
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "false") "," MEMBER("cy", "member",
											 "true") "]");

	/* bo is online: wrong passwords, even with bo's own client id, leave it so */
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	expect_presence(ada, "general", "bo", true);
	TH_CHECK(th_connect_rc(&b, "bo", "wrong", "bo-1", 5, NULL) > 0);
	TH_CHECK(th_connect_rc(&b, "bo", "wrong", "bo-9", 4, NULL) > 0);
	TH_CHECK(!th_disconnected(bo));
	th_disconnect(cy);
	expect_presence(ada, "general", "cy", false);
	expect_members(ada, "general",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "true") "," MEMBER("cy", "member",
											"false") "]");
	th_disconnect(bo);
	expect_presence(ada, "general", "bo", false);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* Collects presence events on chat/+/presence up to and including one whose user is `until`; returns how
 * many came before it, and checks each of those is `user` going `online` in one of channels[]. */
static int presence_before(struct th_client *c, const char *until, const char *user, bool online,
			   const char *const *channels, int n_channels, int *seen)
{
	int before = 0;

	for(;;) {
		struct th_msg *m = th_wait_msg(c, "chat/+/presence", WAIT_MS);
		cJSON *ev;
		const char *who;
		bool known = false;

		TH_CHECKF(m != NULL, "no presence event of %s", until);
		ev = th_json_parse((char *)m->payload);
		who = th_json_str(ev, "user");
		TH_CHECK(who != NULL);
		if(strcmp(who, until) == 0) {
			cJSON_Delete(ev);
			th_msg_free(m);
			return before;
		}
		TH_EQ_STR(who, user);
		TH_EQ_INT(cJSON_IsTrue(cJSON_GetObjectItem(ev, "online")), online);
		for(int i = 0; i < n_channels; i++) {
			char topic[128];
			snprintf(topic, sizeof(topic), "chat/%s/presence", channels[i]);
			if(strcmp(m->topic, topic) == 0) {
				TH_EQ_STR(th_json_str(ev, "channel"), channels[i]);
				seen[i]++;
				known = true;
			}
		}
		TH_CHECKF(known, "presence event on %s", m->topic);
		before++;
		cJSON_Delete(ev);
		th_msg_free(m);
	}
}


/* With presence_max_members 2, a channel of three hears nothing; channels of two (and a dm) do. */
static void test_presence_only_in_small_channels(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *eve;
	cJSON *dm;
	const char *small[2];
	int seen[2] = {0, 0};

	th_broker_start(&b, "plugin_opt_presence_max_members 2\n");
	tc_sign_in(&b, "bo", "cy", "eve", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"big\",\"members\":[\"bo\",\"cy\"]}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"pair\",\"members\":[\"bo\"]}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"pair2\",\"members\":[\"eve\"]}");
	dm = tc_api(ada, "{\"op\":\"dm\",\"user\":\"bo\"}");
	small[0] = "pair";
	small[1] = th_json_str(dm, "channel");
	TH_EQ_INT(th_subscribe(ada, "chat/+/presence", 1), 1);

	bo = th_connect(&b, "bo", "bo-1", 5, true);
	eve = th_connect(&b, "eve", "eve-1", 5, true); /* the barrier, in pair2 */
	TH_EQ_INT(presence_before(ada, "eve", "bo", true, small, 2, seen), 2);
	TH_EQ_INT(seen[0], 1);
	TH_EQ_INT(seen[1], 1);
	expect_members(ada, "big",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "true") "," MEMBER("cy", "member",
											"false") "]");

	th_disconnect(bo);
	wait_gone(&b, "bo-1", 1);
	th_disconnect(eve);
	TH_EQ_INT(presence_before(ada, "eve", "bo", false, small, 2, seen), 2);
	TH_EQ_INT(seen[0], 2);
	TH_EQ_INT(seen[1], 2);
	expect_members(ada, "big",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member",
								     "false") "," MEMBER("cy", "member",
											 "false") "]");
	cJSON_Delete(dm);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* Direct channels always have presence, whatever the cap (unless presence is off): with a cap of 1,
 * a dm of two hears bo come online and a public channel of two does not. */
static void test_direct_channels_always_have_presence(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *eve;
	cJSON *dm_bo, *dm_eve;
	const char *dms[2];
	int seen[2] = {0, 0};

	th_broker_start(&b, "plugin_opt_presence_max_members 1\n");
	tc_sign_in(&b, "bo", "eve", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"pair\",\"members\":[\"bo\"]}");
	dm_bo = tc_api(ada, "{\"op\":\"dm\",\"user\":\"bo\"}");
	dm_eve = tc_api(ada, "{\"op\":\"dm\",\"user\":\"eve\"}"); /* the barrier */
	dms[0] = th_json_str(dm_bo, "channel");
	dms[1] = "pair";
	TH_EQ_INT(th_subscribe(ada, "chat/+/presence", 1), 1);

	bo = th_connect(&b, "bo", "bo-1", 5, true);
	eve = th_connect(&b, "eve", "eve-1", 5, true);
	TH_EQ_INT(presence_before(ada, "eve", "bo", true, dms, 2, seen), 1);
	TH_EQ_INT(seen[0], 1); /* the dm */
	TH_EQ_INT(seen[1], 0); /* not pair */
	cJSON_Delete(dm_bo);
	cJSON_Delete(dm_eve);
	th_disconnect(eve);
	th_disconnect(bo);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* presence_max_members 0 turns presence events off; members still knows who is online. */
static void test_presence_off(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	struct th_msg *m;
	cJSON *dm, *ev;

	th_broker_start(&b, "plugin_opt_presence_max_members 0\n");
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"pair\",\"members\":[\"bo\"]}");
	dm = tc_api(ada, "{\"op\":\"dm\",\"user\":\"bo\"}");
	TH_EQ_INT(th_subscribe(ada, "chat/+/presence", 1), 1);
	TH_EQ_INT(th_subscribe(ada, "chat/pair", 1), 1);

	bo = th_connect(&b, "bo", "bo-1", 5, true);
	expect_members(ada, "pair",
		       "[" MEMBER("ada", "owner", "true") "," MEMBER("bo", "member", "true") "]");
	cJSON_Delete(tc_send(bo, "pair", "b1", "the barrier"));
	m = th_wait_msg(ada, "chat/#", WAIT_MS); /* ada has no request open: nothing on her reply topic */
	TH_CHECK(m != NULL);
	TH_EQ_STR(m->topic, "chat/pair");
	ev = th_json_parse((char *)m->payload);
	TH_EQ_STR(th_json_str(ev, "body"), "the barrier");
	cJSON_Delete(ev);
	th_msg_free(m);
	TH_EQ_INT(th_queued(ada, "chat/+/presence"), 0);
	cJSON_Delete(dm);
	th_disconnect(bo);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* ---- Typing ------------------------------------------------------------------------------------------- */

/* ada (ada-1) owns #general with bo and cy; bo listens to its typing topic. */
static void typing_setup(struct th_broker *b, const char *extra, struct th_client **ada,
			 struct th_client **bo, struct th_client **cy)
{
	th_broker_start(b, "%s", extra);
	*ada = th_connect(b, "ada", "ada-1", 5, true);
	*bo = th_connect(b, "bo", "bo-1", 5, true);
	*cy = th_connect(b, "cy", "cy-1", 5, true);
	tc_api_ok(*ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\",\"cy\"]}");
	TH_EQ_INT(th_subscribe(*bo, "chat/general/typing", 1), 1);
}


#define TYPING(user, device, on)                                                                             \
	"{\"channel\":\"general\",\"user\":\"" user "\",\"device\":\"" device "\",\"typing\":" on            \
	",\"ts\":\"*\"}"


static void test_typing_is_stamped_and_never_stored(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy, *dee;
	cJSON *answer;

	typing_setup(&b, "plugin_opt_typing_rate 0\n", &ada, &bo, &cy);
	dee = th_connect(&b, "dee", "dee-1", 5, true);
	TH_EQ_INT(head_of(ada, "general"), 3);

	pub_ok(ada, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0, TYPING("ada", "ada-1", "true"));
	pub_ok(ada, "chat/general/typing", "{\"typing\":false}");
	expect_next(bo, "chat/general/typing", 0, TYPING("ada", "ada-1", "false"));

	/* user, device, channel and ts are the server's, whatever the client says */
	pub_ok(ada, "chat/general/typing",
	       "{\"typing\":true,\"user\":\"cy\",\"device\":\"cy-1\",\"channel\":\"x\",\"ts\":1}");
	expect_next(bo, "chat/general/typing", 0, TYPING("ada", "ada-1", "true"));

	/* with a Response Topic the request is answered */
	answer = publish_with_response_topic(ada, "chat/general/typing", "{\"typing\":false}");
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(answer, "ok")));
	TH_EQ_STR(th_json_str(answer, "kind"), "typing");
	cJSON_Delete(answer);
	expect_next(bo, "chat/general/typing", 0, TYPING("ada", "ada-1", "false"));

	/* a typing:false from a device that is not typing is dropped: cy's event comes next */
	pub_ok(ada, "chat/general/typing", "{\"typing\":false}");
	pub_ok(cy, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0, TYPING("cy", "cy-1", "true"));

	/* malformed requests */
	pub_refused(ada, "chat/general/typing", "{\"typing\":\"yes\"}", "bad_request", NULL);
	pub_refused(ada, "chat/general/typing", "{}", "bad_request", NULL);
	pub_refused(ada, "chat/general/typing", "typing", "bad_request", NULL);

	/* non-members are refused, and nothing reaches the members */
	pub_refused(dee, "chat/general/typing", "{\"typing\":true}", "not_member",
		    "dee is not a member of #general");
	pub_ok(cy, "chat/general/typing", "{\"typing\":false}");
	expect_next(bo, "chat/general/typing", 0, TYPING("cy", "cy-1", "false"));

	expect_no_replies(ada);
	expect_no_replies(cy);
	TH_EQ_INT(head_of(ada, "general"), 3); /* typing is never stored */
	TH_EQ_INT(th_queued(bo, "#"), 0);
	th_disconnect(dee);
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy);
	th_broker_stop(&b);
}


/* A device that stops refreshing is typing:false after typing_timeout_ms; a refresh restarts the clock. */
static void test_typing_expires(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy;
	long long sent, elapsed;

	typing_setup(&b, "plugin_opt_typing_timeout_ms 500\n", &ada, &bo, &cy);
	sent = th_now_ms();
	pub_ok(ada, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0, TYPING("ada", "ada-1", "true"));
	expect_within(bo, "chat/general/typing", 3000, 0, TYPING("ada", "ada-1", "false"));
	elapsed = th_now_ms() - sent;
	TH_CHECKF(elapsed >= 450, "typing expired after %lld ms, before the 500 ms timeout", elapsed);

	/* refreshed after 300 ms, it lasts until 500 ms after the refresh */
	pub_ok(ada, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0, TYPING("ada", "ada-1", "true"));
	th_sleep_ms(300); /* the time that passes is what this tests */
	sent = th_now_ms();
	pub_ok(ada, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0, TYPING("ada", "ada-1", "true"));
	expect_within(bo, "chat/general/typing", 3000, 0, TYPING("ada", "ada-1", "false"));
	elapsed = th_now_ms() - sent;
	TH_CHECKF(elapsed >= 450, "typing expired %lld ms after a refresh, before the 500 ms timeout",
		  elapsed);

	/* once expired, the device's own typing:false is dropped: cy's event comes next */
	pub_ok(ada, "chat/general/typing", "{\"typing\":false}");
	pub_ok(cy, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0, TYPING("cy", "cy-1", "true"));
	expect_no_replies(ada);
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy);
	th_broker_stop(&b);
}


/* A typing device that disconnects (cleanly or not) stops typing at once, well before the timeout. */
static void test_typing_ends_with_the_device(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy, *ada2, *ada3, *ada4;

	typing_setup(&b, "", &ada, &bo, &cy); /* typing_timeout_ms 5000 */
	ada2 = th_connect(&b, "ada", "ada-2", 5, true);
	pub_ok(ada2, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0, TYPING("ada", "ada-2", "true"));
	th_disconnect(ada2);
	expect_within(bo, "chat/general/typing", 2500, 0, TYPING("ada", "ada-2", "false"));

	ada3 = th_connect(&b, "ada", "ada-3", 4, true);
	pub_ok(ada3, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0, TYPING("ada", "ada-3", "true"));
	th_drop(ada3);
	expect_within(bo, "chat/general/typing", 2500, 0, TYPING("ada", "ada-3", "false"));

	/* a device that was not typing leaves without a word: cy's event comes next */
	ada4 = th_connect(&b, "ada", "ada-4", 5, true);
	th_disconnect(ada4);
	wait_gone(&b, "ada-4", 1);
	pub_ok(cy, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0, TYPING("cy", "cy-1", "true"));
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy);
	th_broker_stop(&b);
}


/* A refused login that names a typing device's client id is not that device disconnecting. */
static void test_refused_login_does_not_end_typing(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy;

	typing_setup(&b, "", &ada, &bo, &cy);
	pub_ok(ada, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0, TYPING("ada", "ada-1", "true"));
	TH_CHECK(th_connect_rc(&b, "ada", "wrong", "ada-1", 5, NULL) > 0);
	TH_CHECK(th_connect_rc(&b, "mallory", "wrong", "ada-1", 4, NULL) > 0);
	TH_CHECK(!th_disconnected(ada));
	pub_ok(cy, "chat/general/typing", "{\"typing\":true}");
	expect_next(bo, "chat/general/typing", 0,
		    TYPING("cy", "cy-1", "true")); /* no typing:false of ada-1 first */
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy);
	th_broker_stop(&b);
}


/* A typing request with a Response Topic is answered even when the rate limit drops it. */
static void test_rate_limited_typing_is_still_answered(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy;

	typing_setup(&b, "", &ada, &bo, &cy); /* typing_rate 1, typing_burst 3 */
	for(int i = 0; i < 5; i++) {
		cJSON *answer = publish_with_response_topic(ada, "chat/general/typing", "{\"typing\":true}");
		TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(answer, "ok")));
		TH_EQ_STR(th_json_str(answer, "kind"), "typing");
		cJSON_Delete(answer);
	}
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy);
	th_broker_stop(&b);
}


/* 50 typing:true at once pass as a burst (3) and maybe a refill, and the rest is dropped silently. */
static void test_typing_flood_is_limited(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy;
	int base, passed = 0;

	typing_setup(&b, "", &ada, &bo, &cy); /* typing_rate 1, typing_burst 3 */
	base = th_acked_count(ada);
	for(int i = 0; i < 50; i++) {
		TH_EQ_INT(th_publish_async(ada, "chat/general/typing", "{\"typing\":true}", -1, 1, NULL), 0);
	}
	th_wait_until(th_acked_count(ada) >= base + 50, WAIT_MS);
	pub_ok(cy, "chat/general/typing", "{\"typing\":true}"); /* the barrier */
	for(;;) {
		struct th_msg *m = th_wait_msg(bo, "chat/general/typing", WAIT_MS);
		cJSON *ev;

		TH_CHECK(m != NULL);
		ev = th_json_parse((char *)m->payload);
		TH_CHECK(th_json_str(ev, "user") != NULL);
		if(strcmp(th_json_str(ev, "user"), "cy") == 0) {
			cJSON_Delete(ev);
			th_msg_free(m);
			break;
		}
		TH_JSON(ev, TYPING("ada", "ada-1", "true"));
		passed++;
		cJSON_Delete(ev);
		th_msg_free(m);
	}
	th_log("%d of 50 typing events passed", passed);
	TH_CHECKF(passed >= 3 && passed <= 5, "%d of 50 passed", passed);
	expect_no_replies(ada); /* dropped silently: no rate_limited errors */
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy);
	th_broker_stop(&b);
}


/* ---- Read and delivery cursors ---------------------------------------------------------------------- */

/* #general: ada (owner, seq 1), bo (seq 2), and ada's messages 3, 4, 5. ada listens to read and delivered;
 * bo has two devices. */
struct cursors {
	struct th_broker b;
	struct th_client *ada, *bo1, *bo2;
};


static void cursors_setup(struct cursors *f, const char *extra)
{
	th_broker_start(&f->b, "%s", extra);
	f->ada = th_connect(&f->b, "ada", "ada-1", 5, true);
	f->bo1 = th_connect(&f->b, "bo", "bo-1", 5, true);
	f->bo2 = th_connect(&f->b, "bo", "bo-2", 5, true);
	tc_api_ok(f->ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	cJSON_Delete(tc_send(f->ada, "general", "m3", "three"));
	cJSON_Delete(tc_send(f->ada, "general", "m4", "four"));
	cJSON_Delete(tc_send(f->ada, "general", "m5", "five"));
	TH_EQ_INT(th_subscribe(f->ada, "chat/general/read", 1), 1);
	TH_EQ_INT(th_subscribe(f->ada, "chat/general/delivered", 1), 1);
}


static void cursors_teardown(struct cursors *f)
{
	th_disconnect(f->ada);
	th_disconnect(f->bo1);
	th_disconnect(f->bo2);
	th_broker_stop(&f->b);
}


#define READ(user, seq) "{\"channel\":\"general\",\"user\":\"" user "\",\"seq\":" #seq ",\"ts\":\"*\"}"
#define DELIVERED(device, seq)                                                                               \
	"{\"channel\":\"general\",\"user\":\"bo\",\"device\":\"" device "\",\"seq\":" #seq ",\"ts\":\"*\"}"


/* The read cursor is the user's: any device moves it, forward only, up to the head. */
static void test_read_cursor(void)
{
	struct cursors f;
	struct th_client *cy;
	cJSON *answer, *reply;
	const cJSON *entry;

	cursors_setup(&f, "");
	TH_EQ_INT(th_subscribe(f.bo1, "chat/general/read", 1), 1);
	pub_ok(f.bo1, "chat/general/read", "{\"seq\":4}");
	expect_next(f.ada, "chat/general/read", 1, READ("bo", 4));
	expect_next(f.bo1, "chat/general/read", 1, READ("bo", 4)); /* bo's devices hear it too */

	/* at or below the cursor, from either device: ignored, no error */
	pub_ok(f.bo2, "chat/general/read", "{\"seq\":3}");
	pub_ok(f.bo2, "chat/general/read", "{\"seq\":4}");
	pub_ok(f.bo1, "chat/general/read", "{\"seq\":2}");
	pub_ok(f.bo2, "chat/general/read", "{\"seq\":5}");
	expect_next(f.ada, "chat/general/read", 1, READ("bo", 5));
	expect_next(f.bo1, "chat/general/read", 1, READ("bo", 5));
	expect_no_replies(f.bo1);
	expect_no_replies(f.bo2);

	/* above the head, or malformed */
	pub_refused(f.bo2, "chat/general/read", "{\"seq\":6}", "bad_request", NULL);
	pub_refused(f.bo2, "chat/general/read", "{\"seq\":\"6\"}", "bad_request", NULL);
	pub_refused(f.bo2, "chat/general/read", "{}", "bad_request", NULL);
	pub_refused(f.bo2, "chat/general/read", "6", "bad_request", NULL);

	/* with a Response Topic the move is answered */
	cJSON_Delete(tc_send(f.ada, "general", "m6", "six"));
	answer = publish_with_response_topic(f.bo2, "chat/general/read", "{\"seq\":6}");
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(answer, "ok")));
	TH_EQ_STR(th_json_str(answer, "kind"), "read");
	cJSON_Delete(answer);
	expect_next(f.ada, "chat/general/read", 1, READ("bo", 6));

	/* the other device's inbox shows it */
	entry = tc_inbox_entry(f.bo1, "general", &reply);
	TH_JSON(entry,
		"{\"channel\":\"general\",\"title\":\"\",\"visibility\":\"public\",\"epoch\":\"*\","
		"\"head\":6,\"read\":6,\"unread\":0,\"last\":\"*\",\"mentions\":0,\"notify\":\"all\"}");
	TH_EQ_INT(th_json_int(cJSON_GetObjectItem(entry, "last"), "seq"), 6);
	cJSON_Delete(reply);

	/* so does the members list, for read ticks on a device that missed the moves */
	reply = tc_api(f.ada, "{\"op\":\"members\",\"channel\":\"general\"}");
	TH_JSON(cJSON_GetObjectItem(reply, "members"),
		"[{\"user\":\"ada\",\"role\":\"owner\",\"online\":true,\"read\":1},"
		"{\"user\":\"bo\",\"role\":\"member\",\"online\":true,\"read\":6}]");
	cJSON_Delete(reply);

	/* a new member's cursor starts at its join (seq 7): below it is ignored */
	cy = th_connect(&f.b, "cy", "cy-1", 5, true);
	tc_api_ok(cy, "{\"op\":\"join\",\"channel\":\"general\"}");
	expect_unread(cy, "general", 7, 7, 0);
	pub_ok(cy, "chat/general/read", "{\"seq\":6}");
	pub_ok(cy, "chat/general/read", "{\"seq\":7}");
	cJSON_Delete(tc_send(f.ada, "general", "m8", "eight"));
	pub_ok(cy, "chat/general/read", "{\"seq\":8}");
	expect_next(f.ada, "chat/general/read", 1, READ("cy", 8));
	expect_no_replies(cy);
	TH_EQ_INT(th_queued(f.ada, "chat/general/read"), 0);
	th_disconnect(cy);
	cursors_teardown(&f);
}


/* The delivery cursor is the device's: two devices of one user move theirs independently. */
static void test_delivered_cursor_per_device(void)
{
	struct cursors f;
	cJSON *answer;

	cursors_setup(&f, "");
	pub_ok(f.bo1, "chat/general/delivered", "{\"seq\":4}");
	expect_next(f.ada, "chat/general/delivered", 1, DELIVERED("bo-1", 4));
	pub_ok(f.bo2, "chat/general/delivered", "{\"seq\":3}"); /* below bo-1's, but bo-2's own */
	expect_next(f.ada, "chat/general/delivered", 1, DELIVERED("bo-2", 3));

	/* at or below each device's own cursor: ignored */
	pub_ok(f.bo2, "chat/general/delivered", "{\"seq\":3}");
	pub_ok(f.bo1, "chat/general/delivered", "{\"seq\":4}");
	pub_ok(f.bo1, "chat/general/delivered", "{\"seq\":3}");
	pub_ok(f.bo2, "chat/general/delivered", "{\"seq\":5}");
	expect_next(f.ada, "chat/general/delivered", 1, DELIVERED("bo-2", 5));
	pub_ok(f.bo1, "chat/general/delivered", "{\"seq\":5}");
	expect_next(f.ada, "chat/general/delivered", 1, DELIVERED("bo-1", 5));
	expect_no_replies(f.bo1);
	expect_no_replies(f.bo2);

	pub_refused(f.bo1, "chat/general/delivered", "{\"seq\":6}", "bad_request", NULL);
	pub_refused(f.bo1, "chat/general/delivered", "{\"seq\":true}", "bad_request", NULL);

	cJSON_Delete(tc_send(f.ada, "general", "m6", "six"));
	answer = publish_with_response_topic(f.bo1, "chat/general/delivered", "{\"seq\":6}");
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(answer, "ok")));
	TH_EQ_STR(th_json_str(answer, "kind"), "delivered");
	cJSON_Delete(answer);
	expect_next(f.ada, "chat/general/delivered", 1, DELIVERED("bo-1", 6));

	/* delivered is not read */
	expect_unread(f.bo1, "general", 6, 2, 4);
	TH_EQ_INT(th_queued(f.ada, "chat/general/read"), 0);
	cursors_teardown(&f);
}


/* With cursor_flush_ms at its maximum, only the clean shutdown can have stored the cursors. */
static void test_cursors_survive_restart(void)
{
	struct cursors f;

	cursors_setup(&f, "plugin_opt_cursor_flush_ms 60000\n");
	pub_ok(f.bo1, "chat/general/read", "{\"seq\":4}");
	expect_next(f.ada, "chat/general/read", 1, READ("bo", 4));
	pub_ok(f.bo1, "chat/general/delivered", "{\"seq\":4}");
	expect_next(f.ada, "chat/general/delivered", 1, DELIVERED("bo-1", 4));
	pub_ok(f.bo2, "chat/general/delivered", "{\"seq\":3}");
	expect_next(f.ada, "chat/general/delivered", 1, DELIVERED("bo-2", 3));
	th_disconnect(f.ada);
	th_disconnect(f.bo1);
	th_disconnect(f.bo2);
	th_broker_restart(&f.b);

	f.ada = th_connect(&f.b, "ada", "ada-1", 5, true);
	f.bo1 = th_connect(&f.b, "bo", "bo-1", 5, true);
	f.bo2 = th_connect(&f.b, "bo", "bo-2", 5, true);
	expect_unread(f.bo2, "general", 5, 4, 1);
	expect_unread(f.ada, "general", 5, 1, 0);
	TH_EQ_INT(th_subscribe(f.ada, "chat/general/read", 1), 1);
	TH_EQ_INT(th_subscribe(f.ada, "chat/general/delivered", 1), 1);
	pub_ok(f.bo2, "chat/general/read", "{\"seq\":4}");
	pub_ok(f.bo1, "chat/general/delivered", "{\"seq\":4}");
	pub_ok(f.bo2, "chat/general/delivered", "{\"seq\":3}");
	pub_ok(f.bo2, "chat/general/read", "{\"seq\":5}");
	expect_next(f.ada, "chat/general/read", 1, READ("bo", 5));
	pub_ok(f.bo2, "chat/general/delivered", "{\"seq\":4}");
	expect_next(f.ada, "chat/general/delivered", 1, DELIVERED("bo-2", 4));
	pub_ok(f.bo1, "chat/general/delivered", "{\"seq\":5}");
	expect_next(f.ada, "chat/general/delivered", 1, DELIVERED("bo-1", 5));
	cursors_teardown(&f);
}


/* Cursors reach the database within cursor_flush_ms, so a crash after that loses nothing. */
static void test_cursors_are_flushed_within_the_interval(void)
{
	struct cursors f;

	cursors_setup(&f, "plugin_opt_cursor_flush_ms 10\n");
	pub_ok(f.bo1, "chat/general/read", "{\"seq\":4}");
	expect_next(f.ada, "chat/general/read", 1, READ("bo", 4));
	th_sleep_ms(500); /* 50 flush intervals; nothing on the wire says the batch was written */
	th_disconnect(f.ada);
	th_disconnect(f.bo1);
	th_disconnect(f.bo2);
	th_broker_kill9(&f.b);
	th_broker_restart(&f.b);
	f.ada = th_connect(&f.b, "ada", "ada-1", 5, true);
	f.bo1 = th_connect(&f.b, "bo", "bo-1", 5, true);
	f.bo2 = NULL;
	expect_unread(f.bo1, "general", 5, 4, 1);
	cursors_teardown(&f);
}


/* ---- Unread counts and the inbox -------------------------------------------------------------------- */

/* unread counts other users' messages above my read cursor: not edits, reactions, joins or my own; a
 * deleted message until it is read. Exact, and the same after a restart. */
static void test_unread_counts_exactly(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	expect_unread(bo, "general", 2, 2, 0);
	expect_unread(ada, "general", 2, 1, 0);
	cJSON_Delete(tc_send(ada, "general", "m3", "three"));
	cJSON_Delete(tc_send(ada, "general", "m4", "four"));
	cJSON_Delete(tc_send(ada, "general", "m5", "five"));
	send_ok(ada, "general", "{\"client_msg_id\":\"e6\",\"type\":\"edit\",\"target\":3,\"body\":\"3!\"}");
	send_ok(ada, "general",
		"{\"client_msg_id\":\"r7\",\"type\":\"reaction\",\"target\":4,\"emoji\":\":+1:\"}");
	expect_unread(bo, "general", 7, 2, 3);
	expect_unread(ada, "general", 7, 1, 0);

	/* bo's own messages are not unread for bo */
	cJSON_Delete(tc_send(bo, "general", "b8", "eight"));
	cJSON_Delete(tc_send(bo, "general", "b9", "nine"));
	expect_unread(bo, "general", 9, 2, 3);
	expect_unread(ada, "general", 9, 1, 2);

	/* bo reads up to ada's second message: ada's third is left */
	pub_ok(bo, "chat/general/read", "{\"seq\":4}");
	expect_unread(bo, "general", 9, 4, 1);

	/* deleted after it was sent, it still counts until read */
	send_ok(ada, "general", "{\"client_msg_id\":\"d10\",\"type\":\"delete\",\"target\":5}");
	expect_unread(bo, "general", 10, 4, 1);

	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	expect_unread(bo, "general", 10, 4, 1);
	expect_unread(ada, "general", 10, 1, 2);

	/* a new member's history before its join is not unread */
	cy = th_connect(&b, "cy", "cy-1", 5, true);
	tc_api_ok(cy, "{\"op\":\"join\",\"channel\":\"general\"}");
	expect_unread(cy, "general", 11, 11, 0);
	cJSON_Delete(tc_send(ada, "general", "m12", "twelve"));
	expect_unread(cy, "general", 12, 11, 1);
	expect_unread(bo, "general", 12, 4, 2);
	expect_unread(ada, "general", 12, 1, 2);
	pub_ok(bo, "chat/general/read", "{\"seq\":12}");
	expect_unread(bo, "general", 12, 12, 0);

	/* who leaves and comes back starts again from the new join, and its messages still count as its
	 * own: the author's ordinal goes on from before the leave */
	cJSON_Delete(tc_send(cy, "general", "c13", "before leaving"));
	tc_api_ok(cy, "{\"op\":\"leave\",\"channel\":\"general\"}");
	tc_api_ok(cy, "{\"op\":\"join\",\"channel\":\"general\"}");
	expect_unread(cy, "general", 15, 15, 0);
	cJSON_Delete(tc_send(cy, "general", "c16", "back again"));
	expect_unread(cy, "general", 16, 15, 0);
	expect_unread(bo, "general", 16, 12, 2);
	expect_unread(ada, "general", 16, 1, 4);
	th_disconnect(cy);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* Expects c's inbox to hold exactly n channels, in this order, with these unread counts. */
static void expect_inbox_order(struct th_client *c, int n, const char *const *names, const int *unread)
{
	cJSON *reply = tc_api(c, "{\"op\":\"channels\"}");
	const cJSON *list = cJSON_GetObjectItem(reply, "channels");

	TH_EQ_INT(cJSON_GetArraySize(list), n);
	for(int i = 0; i < n; i++) {
		const cJSON *entry = cJSON_GetArrayItem(list, i);
		TH_EQ_STR(th_json_str(entry, "channel"), names[i]);
		TH_EQ_INT(th_json_int(entry, "unread"), unread[i]);
	}
	cJSON_Delete(reply);
}


/* The seq of the join event of user in ch. */
static long long join_seq(struct th_client *c, const char *ch, const char *user)
{
	cJSON *history = tc_history(c, ch);
	const cJSON *ev;
	long long seq = -1;

	cJSON_ArrayForEach(ev, history) {
		if(strcmp(th_json_str(ev, "type"), "join") == 0
		   && strcmp(th_json_str(ev, "user"), user) == 0) {
			seq = th_json_int(ev, "seq");
		}
	}
	cJSON_Delete(history);
	TH_CHECKF(seq > 0, "no join of %s in #%s", user, ch);
	return seq;
}


/* Latest activity first; each channel's unread its own. */
static void test_inbox_order_and_unread(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *cy;
	cJSON *dm, *reply, *history;
	const cJSON *entry, *last;
	const char *dm_ch;
	char pattern[512];
	long long bo_joined_dm;

	th_broker_start(&b, "");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	cy = th_connect(&b, "cy", "cy-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"alpha\",\"members\":[\"bo\"]}");
	tc_api_ok(cy, "{\"op\":\"create\",\"channel\":\"beta\",\"members\":[\"bo\"]}");
	dm = tc_api(ada, "{\"op\":\"dm\",\"user\":\"bo\"}");
	dm_ch = th_json_str(dm, "channel");
	TH_CHECK(dm_ch != NULL);
	bo_joined_dm = join_seq(bo, dm_ch, "bo");
	next_millisecond();
	cJSON_Delete(tc_send(ada, "alpha", "a1", "alpha one"));
	cJSON_Delete(tc_send(ada, "alpha", "a2", "alpha two"));
	next_millisecond();
	cJSON_Delete(tc_send(cy, "beta", "c1", "beta one"));
	next_millisecond();
	cJSON_Delete(tc_send(ada, dm_ch, "d1", "dm one"));
	cJSON_Delete(tc_send(ada, dm_ch, "d2", "dm two"));
	cJSON_Delete(tc_send(ada, dm_ch, "d3", "dm three"));
	{
		const char *names[] = {dm_ch, "beta", "alpha"};
		const int unread[] = {3, 1, 2};
		expect_inbox_order(bo, 3, names, unread);
	}

	/* whole entries */
	entry = tc_inbox_entry(bo, "alpha", &reply);
	TH_JSON(entry,
		"{\"channel\":\"alpha\",\"title\":\"\",\"visibility\":\"public\",\"epoch\":\"*\",\"head\":4,"
		"\"read\":2,\"unread\":2,\"last\":\"*\",\"mentions\":0,\"notify\":\"all\"}");
	last = cJSON_GetObjectItem(entry, "last");
	history = tc_history(bo, "alpha");
	TH_CHECK(cJSON_Compare(last, cJSON_GetArrayItem(history, 3), true));
	cJSON_Delete(history);
	cJSON_Delete(reply);
	entry = tc_inbox_entry(bo, dm_ch, &reply);
	snprintf(pattern, sizeof(pattern),
		 "{\"channel\":\"%s\",\"title\":\"\",\"visibility\":\"dm\",\"epoch\":\"*\",\"head\":5,"
		 "\"read\":%lld,"
		 "\"unread\":3,\"user\":\"ada\",\"last\":\"*\",\"mentions\":3,\"notify\":\"all\"}",
		 dm_ch, bo_joined_dm);
	TH_JSON(entry, pattern);
	cJSON_Delete(reply);

	/* reading is not activity; a new message is */
	pub_ok(bo, "chat/alpha/read", "{\"seq\":4}");
	{
		const char *names[] = {dm_ch, "beta", "alpha"};
		const int unread[] = {3, 1, 0};
		expect_inbox_order(bo, 3, names, unread);
	}
	next_millisecond();
	cJSON_Delete(tc_send(ada, "alpha", "a3", "alpha three"));
	{
		const char *names[] = {"alpha", dm_ch, "beta"};
		const int unread[] = {1, 3, 1};
		expect_inbox_order(bo, 3, names, unread);
	}
	/* and ada's view of the same channels */
	{
		const char *names[] = {"alpha", dm_ch};
		const int unread[] = {0, 0};
		expect_inbox_order(ada, 2, names, unread);
	}
	cJSON_Delete(dm);
	th_disconnect(ada);
	th_disconnect(bo);
	th_disconnect(cy);
	th_broker_stop(&b);
}


/* Joins and leaves amid a burst of sends, which the group commit holds in an open batch: each join or
 * leave takes the seq and message count after every send before it (membership.c reads them once its
 * transaction has begun, which commits the batch), so the log stays gapless, the live stream is the
 * log, and the unread count of the member who joined last starts at 0. */
static void test_membership_amid_a_burst_of_sends(void)
{
	enum { SENDS = 200, ROUNDS = 10 };
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *history, *ev, *reply;
	int joins = 0, leaves = 0, messages = 0, unread = 0, amid = 0, mid = 0;
	long long head, bo_joined = 0;

	th_broker_start(&b, "plugin_opt_send_rate 0\nplugin_opt_request_rate 0\n");
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\"}");
	TH_EQ_INT(th_subscribe(ada, "chat/general", 1), 1);
	for(int i = 0; i < SENDS; i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"client_msg_id\":\"m-%d\",\"body\":\"%d\"}", i, i);
		TH_EQ_INT(th_publish_async(ada, "chat/general", body, -1, 1, &mid), 0);
	}
	for(int r = 0; r <= ROUNDS; r++) {
		tc_api_ok(bo, "{\"op\":\"join\",\"channel\":\"general\"}");
		if(r < ROUNDS) {
			tc_api_ok(bo, "{\"op\":\"leave\",\"channel\":\"general\"}");
		}
	}
	for(int i = 0; i < SENDS; i++) {
		reply = th_expect_json(ada, tc_reply_topic(ada));
		TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")), "%s", th_json_print(reply));
		cJSON_Delete(reply);
	}

	history = tc_history(ada, "general"); /* seqs 1, 2, 3...: no gap, no repeat */
	head = cJSON_GetArraySize(history);
	TH_EQ_INT(head, 1 + SENDS + 2 * ROUNDS + 1);
	cJSON_ArrayForEach(ev, history) {
		const char *type = th_json_str(ev, "type");
		if(strcmp(type, "message") == 0) {
			messages++;
			unread++;
		} else if(strcmp(type, "join") == 0 && strcmp(th_json_str(ev, "user"), "bo") == 0) {
			joins++;
			bo_joined = th_json_int(ev, "seq");
			unread = 0;
		} else if(strcmp(type, "leave") == 0) {
			leaves++;
		}
		amid += strcmp(type, "message") != 0 && messages > 0 && messages < SENDS;
	}
	TH_EQ_INT(messages, SENDS);
	TH_EQ_INT(joins, ROUNDS + 1);
	TH_EQ_INT(leaves, ROUNDS);
	th_log("%d of %d joins and leaves landed between two sends", amid, 2 * ROUNDS + 1);
	/* the live stream, from seq 2 (ada subscribed after her own join), is the log */
	for(long long seq = 2; seq <= head; seq++) {
		ev = th_expect_json(ada, "chat/general");
		TH_EQ_INT(th_json_int(ev, "seq"), seq);
		TH_EQ_STR(th_json_str(ev, "id"),
			  th_json_str(cJSON_GetArrayItem(history, (int)seq - 1), "id"));
		cJSON_Delete(ev);
	}
	cJSON_Delete(history);
	/* Bo has read up to his last join: what is unread is exactly the messages after it */
	expect_unread(bo, "general", head, bo_joined, unread);
	cJSON_Delete(tc_send(ada, "general", "after", "one more"));
	expect_unread(bo, "general", head + 1, bo_joined, unread + 1);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* ---- Non-members -------------------------------------------------------------------------------------- */

/* dee, listening to chat/#, gets no typing, presence, read or delivered of #general, which she is not
 * in; her own publishes there are refused and reach nobody. */
static void test_non_members_get_no_signals(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *dee;
	struct th_msg *m;
	cJSON *ev;

	th_broker_start(&b, "");
	tc_sign_in(&b, "bo", NULL);
	ada = th_connect(&b, "ada", "ada-1", 5, true);
	dee = th_connect(&b, "dee", "dee-1", 5, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"lobby\",\"members\":[\"dee\"]}");
	TH_EQ_INT(th_subscribe(dee, "chat/general/presence", 1), 0x87);
	TH_EQ_INT(th_subscribe(dee, "chat/general/typing", 1), 0x87);
	TH_EQ_INT(th_subscribe(dee, "chat/general/read", 1), 0x87);
	TH_EQ_INT(th_subscribe(dee, "chat/general/delivered", 1), 0x87);
	TH_EQ_INT(th_subscribe(dee, "chat/+/presence", 1), 1);
	TH_EQ_INT(th_subscribe(dee, "chat/#", 1), 1);
	TH_EQ_INT(th_subscribe(ada, "chat/general/#", 1), 1);
	cJSON_Delete(tc_send(ada, "general", "m3", "three"));
	expect_next(ada, "chat/general", 1, "\"*\"");

	/* every kind of signal in #general, each seen by the member ada */
	bo = th_connect(&b, "bo", "bo-1", 5, true);
	expect_next(ada, "chat/general/presence", 0,
		    "{\"channel\":\"general\",\"user\":\"bo\",\"online\":true,\"ts\":\"*\"}");
	pub_ok(bo, "chat/general/typing", "{\"typing\":true}");
	expect_next(ada, "chat/general/typing", 0, "\"*\"");
	pub_ok(bo, "chat/general/read", "{\"seq\":3}");
	expect_next(ada, "chat/general/read", 1, "\"*\"");
	pub_ok(bo, "chat/general/delivered", "{\"seq\":3}");
	expect_next(ada, "chat/general/delivered", 1, "\"*\"");
	th_disconnect(bo); /* typing:false and offline */
	expect_next(ada, "chat/general/typing", 0,
		    "{\"channel\":\"general\",\"user\":\"bo\",\"device\":\"bo-1\",\"typing\":false,\"ts\":\"*"
		    "\"}");
	expect_next(ada, "chat/general/presence", 0,
		    "{\"channel\":\"general\",\"user\":\"bo\",\"online\":false,\"ts\":\"*\"}");

	/* dee's first message is the lobby's marker */
	cJSON_Delete(tc_send(ada, "lobby", "marker", "marker"));
	m = th_wait_msg(dee, "#", WAIT_MS);
	TH_CHECK(m != NULL);
	TH_EQ_STR(m->topic, "chat/lobby");
	ev = th_json_parse((char *)m->payload);
	TH_EQ_STR(th_json_str(ev, "body"), "marker");
	cJSON_Delete(ev);
	th_msg_free(m);

	/* dee's publishes are refused, and ada's next message is a later one */
	pub_refused(dee, "chat/general/typing", "{\"typing\":true}", "not_member",
		    "dee is not a member of #general");
	pub_refused(dee, "chat/general/read", "{\"seq\":1}", "not_member", "dee is not a member of #general");
	pub_refused(dee, "chat/general/delivered", "{\"seq\":1}", "not_member",
		    "dee is not a member of #general");
	/* presence takes no publishes, from anyone */
	pub_refused(dee, "chat/general/presence", "{\"online\":true}", "bad_topic", NULL);
	pub_refused(ada, "chat/general/presence", "{\"online\":true}", "bad_topic", NULL);
	cJSON_Delete(tc_send(ada, "general", "m4", "four"));
	m = th_wait_msg(ada, "chat/general/#", WAIT_MS);
	TH_CHECK(m != NULL);
	TH_EQ_STR(m->topic, "chat/general");
	th_msg_free(m);
	TH_EQ_INT(th_queued(dee, "#"), 0);
	th_disconnect(dee);
	th_disconnect(ada);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_presence_follows_first_and_last_device),
	     TH_TEST(test_presence_in_every_channel_of_the_user),
	     TH_TEST(test_session_takeover_does_not_flap), TH_TEST(test_keepalive_timeout_goes_offline),
	     TH_TEST(test_will_does_not_bring_the_user_back), TH_TEST(test_refused_login_is_never_online),
	     TH_TEST(test_presence_only_in_small_channels),
	     TH_TEST(test_direct_channels_always_have_presence), TH_TEST(test_presence_off),
	     TH_TEST(test_typing_is_stamped_and_never_stored), TH_TEST(test_typing_expires),
	     TH_TEST(test_typing_ends_with_the_device), TH_TEST(test_refused_login_does_not_end_typing),
	     TH_TEST(test_rate_limited_typing_is_still_answered), TH_TEST(test_typing_flood_is_limited),
	     TH_TEST(test_read_cursor), TH_TEST(test_delivered_cursor_per_device),
	     TH_TEST(test_cursors_survive_restart), TH_TEST(test_cursors_are_flushed_within_the_interval),
	     TH_TEST(test_unread_counts_exactly), TH_TEST(test_inbox_order_and_unread),
	     TH_TEST(test_membership_amid_a_burst_of_sends), TH_TEST(test_non_members_get_no_signals))
