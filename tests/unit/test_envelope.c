/*
 * test_envelope.c - the edge <-> core envelope codec and its base64.
 */
#include <string.h>

#include "envelope.h"
#include "th.h"


static void test_base64_rfc4648_vectors(void)
{
	static const char *const cases[][2] = {
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};

	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 99;
		char *enc = chat_base64__encode(cases[i][0], strlen(cases[i][0]));
		char *dec = chat_base64__decode(cases[i][1], &len);
		TH_EQ_STR(enc, cases[i][1]);
		TH_CHECK(dec != NULL);
		TH_EQ_INT(len, strlen(cases[i][0]));
		TH_EQ_STR(dec, cases[i][0]);
		free(enc);
		free(dec);
	}
}


static void test_base64_binary_round_trip_and_rejects(void)
{
	unsigned char bytes[256];
	size_t len = 0;
	char *enc, *dec;
	static const char *const bad[] = {"Zg=", "Zg", "Z===", "=Zg=", "Zm9v!A==", "Zg==Zg==", "Zm=v"};

	for(int i = 0; i < 256; i++) {
		bytes[i] = (unsigned char)(255 - i);
	}
	enc = chat_base64__encode(bytes, sizeof(bytes));
	dec = chat_base64__decode(enc, &len);
	TH_CHECK(dec != NULL);
	TH_EQ_INT(len, sizeof(bytes));
	TH_CHECK(memcmp(dec, bytes, sizeof(bytes)) == 0);
	free(enc);
	free(dec);
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TH_CHECKF(chat_base64__decode(bad[i], &len) == NULL, "accepted %s", bad[i]);
	}
}


static void test_publish_round_trip(void)
{
	struct chat_envelope env;
	size_t len = 0;
	char *json = chat_envelope__publish("ada", "ada-laptop", "chat/general", "hi\0there", 8, 1, "r/1",
					    "\x01\x02", 2, &len);

	TH_CHECK(json != NULL);
	TH_EQ_INT(len, strlen(json));
	TH_EQ_INT(chat_envelope__parse(json, len, &env), 0);
	TH_EQ_INT(env.kind, CHAT_ENV_PUBLISH);
	TH_EQ_STR(env.user, "ada");
	TH_EQ_STR(env.device, "ada-laptop");
	TH_EQ_STR(env.topic, "chat/general");
	TH_EQ_STR(env.response_topic, "r/1");
	TH_EQ_INT(env.payload_len, 8);
	TH_CHECK(memcmp(env.payload, "hi\0there", 8) == 0);
	TH_EQ_INT(env.correlation_len, 2);
	TH_CHECK(memcmp(env.correlation, "\x01\x02", 2) == 0);
	TH_EQ_INT(env.qos, 1);
	chat_envelope__clear(&env);
	free(json);
}


static void test_reply_device_beat_round_trip(void)
{
	struct chat_envelope env;
	size_t len = 0;
	char *json = chat_envelope__reply("bo-phone", "chat/_reply/bo-phone", "{}", 2, NULL, 0, &len);

	TH_EQ_INT(chat_envelope__parse(json, len, &env), 0);
	TH_EQ_INT(env.kind, CHAT_ENV_REPLY);
	TH_EQ_STR(env.client, "bo-phone");
	TH_EQ_STR(env.payload, "{}");
	TH_CHECK(env.correlation == NULL);
	chat_envelope__clear(&env);
	free(json);

	json = chat_envelope__device(CHAT_ENV_DISCONNECT, "cy", "cy-tab", &len);
	TH_EQ_INT(chat_envelope__parse(json, len, &env), 0);
	TH_EQ_INT(env.kind, CHAT_ENV_DISCONNECT);
	TH_EQ_STR(env.user, "cy");
	chat_envelope__clear(&env);
	free(json);

	json = chat_envelope__beat("b-1", &len);
	TH_EQ_INT(chat_envelope__parse(json, len, &env), 0);
	TH_EQ_INT(env.kind, CHAT_ENV_BEAT);
	TH_EQ_STR(env.boot, "b-1");
	chat_envelope__clear(&env);
	free(json);
}


static void test_rejects_what_is_not_an_envelope(void)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"kind\":\"beat\",\"boot\":\"x\"}",         /* no version */
		"{\"v\":2,\"kind\":\"beat\",\"boot\":\"x\"}", /* another version */
		"{\"v\":1,\"kind\":\"nope\",\"boot\":\"x\"}", /* unknown kind */
		"{\"v\":1,\"kind\":\"publish\",\"user\":\"a\",\"device\":\"d\",\"topic\":\"t\"}", /* no
												     payload
												   */
		"{\"v\":1,\"kind\":\"publish\",\"user\":\"a\",\"device\":\"d\",\"topic\":\"t\",\"payload\":"
		"\"%%\"}",
		"{\"v\":1,\"kind\":\"hello\",\"boot\":\"x\"}", /* no devices */
		"{\"v\":1,\"kind\":\"snapshot\",\"boot\":\"x\",\"channels\":{}}",
	};
	struct chat_envelope env;

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TH_CHECKF(chat_envelope__parse(bad[i], strlen(bad[i]), &env) == -1, "accepted %s", bad[i]);
		TH_EQ_INT(env.kind, CHAT_ENV_INVALID);
		chat_envelope__clear(&env);
	}
}


TH_TEST_LIST(TH_TEST(test_base64_rfc4648_vectors), TH_TEST(test_base64_binary_round_trip_and_rejects),
	     TH_TEST(test_publish_round_trip), TH_TEST(test_reply_device_beat_round_trip),
	     TH_TEST(test_rejects_what_is_not_an_envelope))
