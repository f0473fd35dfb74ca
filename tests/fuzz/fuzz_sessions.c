/*
 * fuzz_sessions.c - libFuzzer target: the CONNECT-time state of sessions.c driven by arbitrary event
 * sequences (connect as one of a few users with a client id from the input, confirm, disconnect with
 * or without a will, will checks, QoS 2 publishes, flushes that fail or succeed), plus the broker
 * configuration line parser and the command-line reader on the same bytes. Beyond not crashing or
 * leaking: a client id is never held by two users at once, and a connection the broker accepted is
 * never taken for its own will while it is the newest with its id.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker_conf.h"
#include "sessions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int flush_ok(void *ctx, const char *client_id, const char *user)
{
	(void)ctx;
	(void)client_id;
	(void)user;
	return 0;
}


static int flush_fail(void *ctx, const char *client_id, const char *user)
{
	(void)ctx;
	(void)client_id;
	(void)user;
	return -1;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const users[] = {"ada", "bo", "eve", ""};
	static char clients[8];
	struct chat_sessions s = {0};
	struct chat_broker_conf conf = {.allow_anonymous = -1};
	char id[4] = "c-?", *text, path[64];

	for(size_t i = 0; i + 2 < size; i += 3) {
		const void *client = &clients[data[i + 1] & 7];
		const char *user = users[(data[i + 1] >> 3) & 3];
		const char *owner = NULL;
		id[2] = (char)('a' + (data[i + 2] & 3));
		switch(data[i] % 8) {
		case 0:
			if(chat_sessions__connecting(&s, client, user, id, data[i + 2] & 0x80, &owner)
			   == CHAT_SESSION_TAKEN) {
				assert(owner != NULL && strcmp(owner, user) != 0);
			}
			break;
		case 1:
			chat_sessions__confirm_pending(&s);
			break;
		case 2:
			chat_sessions__gone(&s, client, (enum chat_session_will)(data[i + 2] % 3));
			break;
		case 3:
			(void)chat_sessions__publishing_will(&s, client);
			break;
		case 4:
			chat_sessions__forget_ended(&s);
			break;
		case 5:
			if(!chat_sessions__qos2_resent(&s, id, data[i + 2], data[i + 1] & 1, data[i + 1])) {
				chat_sessions__qos2_taken(&s, id, data[i + 2], data[i + 1]);
			}
			break;
		case 6:
			if(chat_sessions__each_dirty(&s, data[i + 2] & 1 ? flush_ok : flush_fail, NULL)
			   == 0) {
				chat_sessions__flushed(&s);
			}
			break;
		default:
			(void)chat_sessions__client(&s, id);
			(void)chat_sessions__may_say(&s, id, data[i + 2], 100);
			break;
		}
	}
	chat_sessions__clear(&s);

	text = malloc(size + 1);
	if(text != NULL) {
		memcpy(text, data, size);
		text[size] = '\0';
		(void)chat_broker_conf__line(text, &conf);
		free(text);
	}
	(void)chat_broker_conf__path_from_cmdline((const char *)data, size, path, sizeof(path));
	return 0;
}
