/*
 * fuzz_requests.c - libFuzzer target: the request objects of catch-up ({"since","limit"}), chat/_api
 * ({"op","ref","channel","user","visibility","title","members"}), cursors ({"seq"}) and typing
 * ({"typing"}), through the same json_fields calls with the same bounds as catchup.c, api.c,
 * cursors.c and typing.c. Beyond not crashing: what a getter accepts is within its bounds.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "json_fields.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void string_field(const cJSON *obj, const char *key, size_t min, size_t max)
{
	struct chat_error err;
	const char *s = NULL;

	if(chat_json__string(obj, key, false, min, max, &s, &err) == CHAT_ERR_OK && s) {
		size_t n = chat_utf8__length(s, strlen(s));
		assert(chat_utf8__valid(s, strlen(s)));
		assert(n >= min && n <= max);
	}
}

static void int_field(const cJSON *obj, const char *key, int64_t min, int64_t max)
{
	struct chat_error err;
	int64_t v = min;

	if(chat_json__int(obj, key, false, min, max, &v, &err) == CHAT_ERR_OK) {
		assert(v >= min && v <= max);
	} else {
		assert(err.code == CHAT_ERR_BAD_REQUEST);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chat_error err;
	cJSON *obj = NULL;
	bool b;

	(void)chat_json__looks_like_object(data, size);
	if(chat_json__parse_object(data, size, "a request is a JSON object", &obj, &err) != CHAT_ERR_OK) {
		assert(err.code != CHAT_ERR_OK);
		cJSON_Delete(obj);
		return 0;
	}
	assert(cJSON_IsObject(obj));
	int_field(obj, "since", 0, CHAT_JSON_INT_MAX);
	int_field(obj, "limit", 1, CHAT_JSON_INT_MAX);
	int_field(obj, "seq", 0, CHAT_JSON_INT_MAX);
	string_field(obj, "op", 1, 32);
	string_field(obj, "ref", 0, 128);
	string_field(obj, "channel", 1, 64);
	string_field(obj, "user", 1, 256);
	string_field(obj, "visibility", 1, 16);
	string_field(obj, "title", 0, 256);
	(void)chat_json__bool(obj, "typing", false, &b, &err);
	cJSON_Delete(obj);
	return 0;
}
