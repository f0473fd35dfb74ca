/*
 * test_idempotency.c - a retried client_msg_id returns the original ack and is never delivered twice.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "th_chat.h"


static void setup(struct th_broker *b, struct th_client **ada, struct th_client **bo)
{
	th_broker_start(b, "");
	*ada = th_connect(b, "ada", "ada-laptop", 5, true);
	*bo = th_connect(b, "bo", "bo-phone", 5, true);
	tc_api_ok(*ada, "{\"op\":\"create\",\"channel\":\"general\",\"members\":[\"bo\"]}");
	tc_api_ok(*ada, "{\"op\":\"create\",\"channel\":\"random\",\"members\":[\"bo\"]}");
	TH_EQ_INT(th_subscribe(*bo, "chat/general", 1), 1);
}


static void test_retry_returns_original_ack(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *phone;
	cJSON *first, *again, *ev;

	setup(&b, &ada, &bo);
	first = tc_send(ada, "general", "c-5f1e", "hello");
	TH_JSON(first, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-5f1e\","
		       "\"id\":\"*\","
		       "\"seq\":3,\"ts\":\"*\",\"duplicate\":false}");
	again = tc_send(ada, "general", "c-5f1e", "hello");
	TH_JSON(again, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-5f1e\","
		       "\"id\":\"*\","
		       "\"seq\":3,\"ts\":\"*\",\"duplicate\":true}");
	TH_EQ_STR(th_json_str(again, "id"), th_json_str(first, "id"));
	TH_EQ_INT(th_json_int(again, "ts"), th_json_int(first, "ts"));
	cJSON_Delete(again);

	/* the same user retrying from another device (a reconnect after a lost ack) is the same retry */
	phone = th_connect(&b, "ada", "ada-phone", 4, true);
	again = tc_send(phone, "general", "c-5f1e", "hello");
	TH_EQ_INT(th_json_int(again, "seq"), 3);
	TH_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(again, "duplicate")));
	cJSON_Delete(again);

	/* Bo got seq 3 once: the next thing after it is the marker, seq 4 */
	cJSON_Delete(tc_send(ada, "general", "marker", "marker"));
	ev = th_expect_json(bo, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 3);
	cJSON_Delete(ev);
	ev = th_expect_json(bo, "chat/general");
	TH_EQ_INT(th_json_int(ev, "seq"), 4);
	TH_EQ_STR(th_json_str(ev, "body"), "marker");
	cJSON_Delete(ev);

	/* and the log holds it once */
	ev = tc_sync(bo, "general", 0, 0);
	TH_EQ_INT(th_json_int(ev, "head"), 4);
	cJSON_Delete(ev);
	cJSON_Delete(first);
	th_disconnect(phone);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* client_msg_id is scoped to its user: Bo may use the id Ada used. */
static void test_ids_are_per_user(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *ack;

	setup(&b, &ada, &bo);
	cJSON_Delete(tc_send(ada, "general", "same", "from ada"));
	ack = tc_send(bo, "general", "same", "from bo");
	TH_EQ_INT(th_json_int(ack, "seq"), 4);
	TH_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(ack, "duplicate")));
	cJSON_Delete(ack);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* Reusing an id for a different channel is refused rather than swallowing the new message. */
static void test_reuse_in_another_channel_conflicts(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *page;

	setup(&b, &ada, &bo);
	cJSON_Delete(tc_send(ada, "general", "c-1", "here"));
	tc_expect_error(tc_request(ada, "chat/random", "{\"client_msg_id\":\"c-1\",\"body\":\"there\"}"),
			"conflict", "client_msg_id c-1 was already used for an event in another channel");
	page = tc_sync(ada, "random", 0, 0);
	TH_EQ_INT(th_json_int(page, "head"), 2);
	cJSON_Delete(page);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


/* A retry after a restart is still recognised: the ids live in the log, not in memory. */
static void test_retry_after_restart(void)
{
	struct th_broker b;
	struct th_client *ada, *bo;
	cJSON *ack;

	setup(&b, &ada, &bo);
	cJSON_Delete(tc_send(ada, "general", "c-1", "before"));
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_restart(&b);
	ada = th_connect(&b, "ada", "ada-laptop", 5, true);
	ack = tc_send(ada, "general", "c-1", "before");
	TH_JSON(ack, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"c-1\",\"id\":"
		     "\"*\","
		     "\"seq\":3,\"ts\":\"*\",\"duplicate\":true}");
	cJSON_Delete(ack);
	th_disconnect(ada);
	th_broker_stop(&b);
}


/* Appends an MQTT string (length-prefixed) to buf at *len. */
static void put_string(unsigned char *buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	buf[(*len)++] = (unsigned char)(n >> 8);
	buf[(*len)++] = (unsigned char)(n & 0xff);
	memcpy(buf + *len, s, n);
	*len += n;
}


/* Sends packet type `header` with body[0..body_len) (remaining length < 16384). */
static void send_packet(int fd, unsigned char header, const unsigned char *body, size_t body_len)
{
	unsigned char fixed[3] = {header};
	size_t fixed_len = 1;

	if(body_len < 128) {
		fixed[fixed_len++] = (unsigned char)body_len;
	} else {
		fixed[fixed_len++] = (unsigned char)((body_len & 0x7f) | 0x80);
		fixed[fixed_len++] = (unsigned char)(body_len >> 7);
	}
	TH_EQ_INT(write(fd, fixed, fixed_len), (long long)fixed_len);
	TH_EQ_INT(write(fd, body, body_len), (long long)body_len);
}


/* An MQTT 3.1.1 client with a persistent session that publishes once at QoS 0 and vanishes without
 * reading anything: whatever the broker answers must wait for the session's next connection. */
static void publish_and_vanish(int port, const char *user, const char *client_id, const char *topic,
			       const char *payload)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	unsigned char body[1024], connack[4];
	char password[64];
	size_t len = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	snprintf(password, sizeof(password), "%s-pw", user);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	TH_EQ_INT(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	put_string(body, &len, "MQTT");
	body[len++] = 4;    /* 3.1.1 */
	body[len++] = 0xC0; /* username, password; clean session off */
	body[len++] = 0;
	body[len++] = 60; /* keepalive */
	put_string(body, &len, client_id);
	put_string(body, &len, user);
	put_string(body, &len, password);
	send_packet(fd, 0x10, body, len);
	TH_EQ_INT(read(fd, connack, sizeof(connack)), 4);
	TH_EQ_INT(connack[0], 0x20);
	TH_EQ_INT(connack[3], 0); /* accepted */
	len = 0;
	put_string(body, &len, topic);
	memcpy(body + len, payload, strlen(payload));
	len += strlen(payload);
	send_packet(fd, 0x30, body, len);
	close(fd);
}


/* The retry scenario: a client whose connection dies right after a send gets the ack when its
 * persistent session comes back (Mosquitto re-checks read access of what it kept for the session,
 * and a client may read its own reply topic). */
static void test_ack_waits_for_a_persistent_session(void)
{
	struct th_broker b;
	struct th_client *ada, *bo, *phone;
	cJSON *ack;

	setup(&b, &ada, &bo);
	publish_and_vanish(b.port, "ada", "ada-phone", "chat/general",
			   "{\"client_msg_id\":\"q-1\",\"body\":\"bye\"}");
	phone = th_connect(&b, "ada", "ada-phone", 4, false);
	ack = th_expect_json(phone, "chat/_reply/ada-phone");
	TH_JSON(ack, "{\"ok\":true,\"kind\":\"ack\",\"channel\":\"general\",\"client_msg_id\":\"q-1\",\"id\":"
		     "\"*\","
		     "\"seq\":3,\"ts\":\"*\",\"duplicate\":false}");
	cJSON_Delete(ack);
	th_disconnect(phone);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_retry_returns_original_ack), TH_TEST(test_ids_are_per_user),
	     TH_TEST(test_ack_waits_for_a_persistent_session),
	     TH_TEST(test_reuse_in_another_channel_conflicts), TH_TEST(test_retry_after_restart))
