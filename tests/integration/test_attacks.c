/*
 * test_attacks.c - what an ordinary account holder tried against mqchat (issue 12, docs/security.md),
 * each as an attack on a real broker with raw MQTT packets where stock clients cannot send them:
 * wills on mqchat's topics, client-id takeover, answers a client never takes, QoS 2 resends, the bare
 * `chat` topic and parking payloads outside chat/, and options that contradict the broker's own
 * configuration. Each asserts that the attack fails and that honest users lose nothing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mqtt_protocol.h>

#include "th_chat.h"

/* #ops is private to ada and bo; mallory is in no channel. bo listens to all he may read. */
struct fixture {
	struct th_broker b;
	struct th_client *ada, *bo;
};


static void setup(struct fixture *f, const char *extra)
{
	th_broker_start(&f->b, "%s", extra);
	tc_sign_in(&f->b, "mallory", "cy", NULL);
	f->ada = th_connect(&f->b, "ada", "ada-1", 5, true);
	f->bo = th_connect(&f->b, "bo", "bo-1", 5, true);
	tc_api_ok(f->ada,
		  "{\"op\":\"create\",\"channel\":\"ops\",\"visibility\":\"private\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(f->bo, "chat/#", 1), 1);
	TH_EQ_INT(th_subscribe(f->bo, "chat", 1), 0x87); /* the bare topic is mqchat's, and serves nothing */
}


static void teardown(struct fixture *f)
{
	th_disconnect(f->ada);
	th_disconnect(f->bo);
	th_broker_stop(&f->b);
}


/* A line in the broker's log within 5 s. */
static void expect_log(struct th_broker *b, const char *needle)
{
	th_wait_until(th_broker_log_contains(b, needle), 5000);
}


/* ada's next message in #ops is the next thing bo receives anywhere, with the next seq: nothing forged
 * came before it. */
static void expect_only_real_events(struct fixture *f, long long seq)
{
	cJSON *ev;
	struct th_msg *m;
	char cmid[32];

	snprintf(cmid, sizeof(cmid), "real-%lld", seq);
	cJSON_Delete(tc_send(f->ada, "ops", cmid, "the real one"));
	m = th_wait_msg(f->bo, "#", 5000);
	TH_CHECK(m != NULL);
	TH_EQ_STR(m->topic, "chat/ops");
	ev = th_json_parse((char *)m->payload);
	TH_EQ_INT(th_json_int(ev, "seq"), seq);
	TH_EQ_STR(th_json_str(ev, "from"), "ada");
	TH_EQ_STR(th_json_str(ev, "body"), "the real one");
	cJSON_Delete(ev);
	th_msg_free(m);
}


/* Finding 1: a will on chat/<private channel>, shaped like the channel's next event and retained,
 * from a user who is in no channel; then wills on every other kind of topic mqchat owns, a delayed
 * MQTT 5 will, and the will a session takeover sends. None is published; a will elsewhere still is. */
static void test_wills_cannot_publish_on_chat_topics(void)
{
	static const char *const topics[] =
		{"chat/ops",         "chat/ops/read", "chat/ops/typing", "chat/ops/presence", "chat/_api",
		 "chat/_reply/bo-1", "chat"};
	const char *forged =
		"{\"id\":\"0b6c1b8e-0000-4000-8000-000000000000\",\"channel\":\"ops\",\"seq\":3,"
		"\"type\":\"message\",\"from\":\"bo\",\"device\":\"bo-1\",\"ts\":1,\"body\":\"forged\"}";
	struct fixture f;
	struct th_client *watcher, *late;
	char id[32], line[96];
	int fd;

	setup(&f, "");
	watcher = th_connect(&f.b, "cy", "cy-1", 5, true);
	TH_EQ_INT(th_subscribe(watcher, "status/#", 0), 0);
	for(size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		snprintf(id, sizeof(id), "mallory-%zu", i);
		fd = th_raw_connect(&f.b, "mallory", id,
				    &(struct th_raw_options){.keepalive_s = 60,
							     .clean_session = true,
							     .will_topic = topics[i],
							     .will_payload = forged,
							     .will_qos = 1,
							     .will_retain = true});
		close(fd); /* no DISCONNECT: the broker sends the will */
		snprintf(line, sizeof(line), "refused the will of %s (mallory) on %s", id, topics[i]);
		expect_log(&f.b, line);
	}
	/* MQTT 5, delayed by a second */
	fd = th_raw_connect(&f.b, "mallory", "mallory-delay",
			    &(struct th_raw_options){.keepalive_s = 60,
						     .clean_session = true,
						     .protocol = 5,
						     .session_expiry_s = 30,
						     .will_topic = "chat/ops",
						     .will_payload = forged,
						     .will_qos = 1,
						     .will_retain = true,
						     .will_delay_s = 1});
	close(fd);
	expect_log(&f.b, "refused the will of mallory-delay (mallory) on chat/ops");
	/* a takeover: the old connection's will goes out before its disconnect */
	fd = th_raw_connect(&f.b, "mallory", "mallory-twice",
			    &(struct th_raw_options){.keepalive_s = 60,
						     .clean_session = false,
						     .will_topic = "chat/ops",
						     .will_payload = forged});
	int fd2 = th_raw_connect(&f.b, "mallory", "mallory-twice",
				 &(struct th_raw_options){.keepalive_s = 60, .clean_session = true});
	expect_log(&f.b, "refused the will of mallory-twice (mallory) on chat/ops");
	close(fd);
	close(fd2);
	/* a will outside chat/ is not mqchat's business: it goes out */
	fd = th_raw_connect(&f.b, "mallory", "mallory-status",
			    &(struct th_raw_options){.keepalive_s = 60,
						     .clean_session = true,
						     .will_topic = "status/mallory",
						     .will_payload = "offline"});
	close(fd);
	struct th_msg *m = th_wait_msg(watcher, "status/mallory", 5000);
	TH_CHECK(m != NULL);
	TH_EQ_STR((char *)m->payload, "offline");
	th_msg_free(m);

	/* bo got nothing forged, and the log goes on from seq 3 (after the two joins) with the real one */
	expect_only_real_events(&f, 3);
	/* nothing retained for a later subscriber either */
	late = th_connect(&f.b, "bo", "bo-2", 5, true);
	TH_EQ_INT(th_subscribe(late, "chat/#", 1), 1);
	TH_CHECK(th_wait_msg(late, "#", 300) == NULL);
	th_disconnect(late);
	th_disconnect(watcher);
	teardown(&f);
}


/* Finding 2: eve connects with bo's client id. While bo is online, and while his persistent session
 * waits for him (also after a restart of the broker), she is refused and he keeps his session; once
 * he ended it with a clean session, the id is free. */
static void test_client_id_takeover_is_refused(void)
{
	struct fixture f;
	struct th_client *phone, *eve = NULL;
	cJSON *ev;
	int fd;

	setup(&f, "");
	phone = th_connect(&f.b, "bo", "bo-phone", 5, false); /* persistent session */
	TH_EQ_INT(th_subscribe(phone, "chat/ops", 1), 1);
	fd = th_raw_connect_start(&f.b, "eve", "bo-phone", &(struct th_raw_options){.keepalive_s = 60});
	TH_EQ_INT(th_raw_connack(fd), 5); /* 3.1.1: not authorized */
	close(fd);
	TH_CHECK(th_connect_rc(&f.b, "eve", "eve-pw", "bo-phone", 5, &eve) != 0); /* v5 too */
	expect_log(&f.b, "refused eve connecting with client id bo-phone, which belongs to bo");
	/* bo was not kicked: he still gets ops */
	cJSON_Delete(tc_send(f.ada, "ops", "m-1", "still there?"));
	ev = tc_expect_event(phone, "ops", true);
	TH_EQ_STR(th_json_str(ev, "body"), "still there?");
	cJSON_Delete(ev);

	/* offline, with his session kept, and after a restart */
	th_drop(phone);
	TH_CHECK(th_connect_rc(&f.b, "eve", "eve-pw", "bo-phone", 4, &eve) != 0);
	th_disconnect(f.ada);
	th_disconnect(f.bo);
	th_broker_restart(&f.b);
	TH_CHECK(th_connect_rc(&f.b, "eve", "eve-pw", "bo-phone", 4, &eve) != 0);

	/* bo ends the session with a clean one: the id is free again, and eve finds nothing of his */
	th_disconnect(th_connect(&f.b, "bo", "bo-phone", 4, true));
	TH_EQ_INT(th_connect_rc(&f.b, "eve", "eve-pw", "bo-phone", 4, &eve), 0);
	TH_CHECK(th_wait_msg(eve, "#", 300) == NULL);
	th_disconnect(eve);
	f.ada = th_connect(&f.b, "ada", "ada-1", 5, true);
	f.bo = th_connect(&f.b, "bo", "bo-1", 5, true);
	teardown(&f);
}


/* The broker's message store count, from $SYS (sys_interval 1), the latest value within 3 s. */
static long long store_count(struct th_client *observer)
{
	long long value = -1;
	struct th_msg *m;

	while((m = th_wait_msg(observer, "$SYS/broker/store/messages/count", value < 0 ? 3000 : 0)) != NULL) {
		value = atoll((char *)m->payload);
		th_msg_free(m);
	}
	return value;
}


/* Finding 3: a client that asks and asks and never reads its answers. Mosquitto 2.0.11 kept every
 * answer it could not queue in its message store for good (958,439 messages in 5 s); now answers
 * stop while its socket shows it is not reading, and nothing piles up. */
static void test_answers_to_a_client_that_never_reads_are_bounded(void)
{
	struct fixture f;
	struct th_client *observer;
	char request[64], body[1100];
	long long before, during, after;
	long long rss_before, rss_after;
	int fd;

	setup(&f, "sys_interval 1\nplugin_opt_request_rate 0\n");
	tc_api_ok(f.ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"mallory\"]}");
	memset(body, 'x', 1000);
	body[1000] = '\0';
	for(int i = 0; i < 60; i++) { /* catch-up pages of about 70 KB */
		char cmid[16];
		snprintf(cmid, sizeof(cmid), "h-%d", i);
		cJSON_Delete(tc_send(f.ada, "general", cmid, body));
	}
	observer = th_connect(&f.b, "cy", "cy-observer", 5, true);
	TH_EQ_INT(th_subscribe(observer, "$SYS/broker/store/messages/count", 0), 0);
	before = store_count(observer);
	rss_before = th_rss_kib(f.b.pid);
	TH_CHECK(before >= 0);

	TH_EQ_INT(th_subscribe(f.ada, "chat/general/typing", 0), 0);
	fd = th_raw_connect(&f.b, "mallory", "mallory-deaf", &(struct th_raw_options){.keepalive_s = 600});
	snprintf(request, sizeof(request), "{\"since\":0,\"limit\":100}");
	for(int i = 0; i < 5000; i++) { /* 350 MB of answers, were they all sent */
		th_raw_publish(fd, "chat/general/sync", request);
	}
	/* the broker reads one connection's packets in order: all were handled once this one shows */
	th_raw_publish(fd, "chat/general/typing", "{\"typing\":true}");
	struct th_msg *typing = th_wait_msg(f.ada, "chat/general/typing", 30000);
	TH_CHECK(typing != NULL);
	th_msg_free(typing);
	during = 0;
	for(int i = 0; i < 2; i++) { /* two $SYS periods after */
		long long now = store_count(observer);
		during = now > during ? now : during;
	}
	rss_after = th_rss_kib(f.b.pid);
	th_log("store: %lld messages before, %lld with 5000 unread answers; RSS %lld -> %lld kB", before,
	       during, rss_before, rss_after);
	TH_CHECKF(during < before + 200, "the store grew from %lld to %lld messages", before, during);
	if(getenv("MQCHAT_BROKER_PRELOAD") == NULL && getenv("MQCHAT_BROKER_WRAPPER") == NULL) {
		/* (AddressSanitizer's quarantine and valgrind keep freed memory: RSS says nothing there) */
		TH_CHECKF(rss_after < rss_before + 64 * 1024, "RSS grew from %lld to %lld kB", rss_before,
			  rss_after);
	}
	TH_CHECK(th_broker_log_contains(&f.b, "mallory-deaf is not reading what it is sent"));
	close(fd);
	cJSON_Delete(tc_sync(f.bo, "ops", 0, 0)); /* honest users are served */
	after = store_count(observer);
	TH_CHECKF(after < before + 200, "the store holds %lld messages after the client left", after);
	th_disconnect(observer);
	teardown(&f);
}


/* Reads the PUBREC for mid on a raw connection. */
static void expect_pubrec(int fd, int mid)
{
	unsigned char body[16];
	size_t len = 0;

	TH_CHECK(th_raw_expect_packet(fd, 5, body, sizeof(body), &len, 5000) >= 0);
	TH_CHECK(len >= 2);
	TH_EQ_INT((body[0] << 8) | body[1], mid);
}


/* Finding 6: a QoS 2 publish resent (DUP) before its PUBREL is one message, for MQTT 3.1.1 and 5; a
 * new publish that reuses the packet id after the flow completed is a new message, and so is a DUP
 * with other content (a resend of a publish whose first copy never arrived). */
static void test_qos2_resend_is_stored_once(void)
{
	struct fixture f;
	cJSON *history;
	int fd;

	setup(&f, "");
	for(int protocol = 4; protocol <= 5; protocol++) {
		fd = th_raw_connect(&f.b, "ada", protocol == 4 ? "ada-q2-3" : "ada-q2-5",
				    &(struct th_raw_options){.keepalive_s = 60,
							     .clean_session = true,
							     .protocol = protocol});
		th_raw_publish_full(fd, protocol, "chat/ops", "exactly once", 2, 7, false, false);
		expect_pubrec(fd, 7);
		th_raw_publish_full(fd, protocol, "chat/ops", "exactly once", 2, 7, true, false);
		expect_pubrec(fd, 7);
		th_raw_pubrel(fd, 7);
		TH_CHECK(th_raw_expect_packet(fd, 7, (unsigned char[16]){0}, 16, &(size_t){0}, 5000) >= 0);
		/* the id is free again: a new message may reuse it */
		th_raw_publish_full(fd, protocol, "chat/ops", "again", 2, 7, false, false);
		expect_pubrec(fd, 7);
		th_raw_pubrel(fd, 7);
		TH_CHECK(th_raw_expect_packet(fd, 7, (unsigned char[16]){0}, 16, &(size_t){0}, 5000) >= 0);
		/* a DUP with other content than the last publish with this id is another message */
		th_raw_publish_full(fd, protocol, "chat/ops", "resent after a reconnect", 2, 7, true, false);
		expect_pubrec(fd, 7);
		th_raw_pubrel(fd, 7);
		TH_CHECK(th_raw_expect_packet(fd, 7, (unsigned char[16]){0}, 16, &(size_t){0}, 5000) >= 0);
		close(fd);
	}
	history = tc_history(f.ada, "ops");
	/* 2 joins, then per protocol: once, again, resent */
	TH_EQ_INT(cJSON_GetArraySize(history), 8);
	for(int i = 0; i < 2; i++) {
		TH_EQ_STR(th_json_str(cJSON_GetArrayItem(history, 2 + 3 * i), "body"), "exactly once");
		TH_EQ_STR(th_json_str(cJSON_GetArrayItem(history, 3 + 3 * i), "body"), "again");
		TH_EQ_STR(th_json_str(cJSON_GetArrayItem(history, 4 + 3 * i), "body"),
			  "resent after a reconnect");
	}
	cJSON_Delete(history);
	teardown(&f);
}


/* Finding 7: the bare topic `chat` (which chat/# matches) is refused like any bad topic, retained or
 * not; with plugin_opt_acl_fallback chat_only nothing can be parked outside chat/; with
 * max_packet_size a huge publish ends the connection instead of being read whole. */
static void test_no_side_doors(void)
{
	struct fixture f;
	struct th_client *mallory, *watcher;
	mosquitto_property *props = NULL;
	char chunk[4096];
	cJSON *err;
	int fd;

	signal(SIGPIPE, SIG_IGN); /* the broker closes on a publish too large */
	setup(&f, "plugin_opt_acl_fallback chat_only\nmax_packet_size 131072\n");
	mallory = th_connect(&f.b, "mallory", "mallory-1", 5, true);
	watcher = th_connect(&f.b, "cy", "cy-1", 5, true);
	TH_EQ_INT(th_subscribe(watcher, "parking/#", 0), 0); /* reading is not refused */
	TH_EQ_INT(mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "chat/_reply/mallory-1"),
		  0);
	TH_EQ_INT(th_publish(mallory, "chat", "{\"seq\":2,\"body\":\"forged\"}", -1, 1, props), 0x87);
	mosquitto_property_free_all(&props);
	err = th_expect_json(mallory, "chat/_reply/mallory-1");
	TH_EQ_STR(th_json_str(err, "code"), "bad_topic");
	cJSON_Delete(err);
	TH_EQ_INT(th_publish(mallory, "parking/x", "20 MB, had it been allowed", -1, 1, NULL), 0x87);
	TH_CHECK(th_wait_msg(watcher, "parking/#", 300) == NULL);
	expect_only_real_events(&f, 3);

	/* a PUBLISH announcing 1 MiB (remaining length 0x80 0x80 0x40): refused from its header on */
	fd = th_raw_connect(&f.b, "mallory", "mallory-huge", &(struct th_raw_options){.keepalive_s = 60});
	TH_EQ_INT(write(fd, "\x30\x80\x80\x40\x00\x08chat/ops", 14), 14);
	memset(chunk, 'x', sizeof(chunk));
	for(int i = 0; i < 4 && write(fd, chunk, sizeof(chunk)) > 0; i++) {
	}
	TH_EQ_INT(th_raw_read_packet(fd, (unsigned char *)chunk, sizeof(chunk), &(size_t){0}, 5000),
		  -1); /* closed */
	close(fd);
	th_disconnect(mallory);
	th_disconnect(watcher);
	teardown(&f);
}


/* Finding 9: options that contradict the broker's own authentication and ACL settings stop the start,
 * with a message naming both; the warning about auth_fallback allow comes only where it applies. */
static void test_contradicting_options_are_refused(void)
{
	struct th_broker b;

	TH_CHECK(th_broker_try_start(&b, "plugin_opt_auth_fallback allow\n") > 0); /* beside password_file */
	TH_CHECK(th_broker_log_contains(&b, "plugin_opt_auth_fallback allow accepts every username with any "
					    "password before password_file is asked"));
	TH_CHECK(th_broker_try_start(&b,
				     TH_NO_PASSWORD_FILE "\nallow_anonymous false\nplugin_opt_auth_fallback "
							 "allow\n")
		 > 0);
	TH_CHECK(th_broker_log_contains(&b, "contradicts allow_anonymous false"));
	TH_CHECK(th_broker_try_start(&b, "acl_file /dev/null\n") > 0); /* acl_fallback allow, the default */
	TH_CHECK(th_broker_log_contains(&b, "plugin_opt_acl_fallback allow grants before acl_file is asked"));
	th_broker_start(&b, "");
	TH_CHECK(!th_broker_log_contains(&b, "auth_fallback allow"));
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_wills_cannot_publish_on_chat_topics), TH_TEST(test_client_id_takeover_is_refused),
	     TH_TEST(test_answers_to_a_client_that_never_reads_are_bounded),
	     TH_TEST(test_qos2_resend_is_stored_once), TH_TEST(test_no_side_doors),
	     TH_TEST(test_contradicting_options_are_refused))
