/*
 * fuzz_topic.c - libFuzzer target: topic names and subscription filters under chat/. Beyond not
 * crashing: a per-channel kind names a valid channel id inside the topic, a reply topic's client id
 * is the rest of the topic, and stripping $share/<group>/ yields a suffix of the filter.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *topic = malloc(size + 1);
	struct chat_topic t;
	const char *stripped;

	if(topic == NULL) {
		return 0;
	}
	memcpy(topic, data, size);
	topic[size] = '\0';
	chat_topic__parse(topic, &t);
	switch(t.kind) {
	case CHAT_TOPIC_MESSAGES:
	case CHAT_TOPIC_TYPING:
	case CHAT_TOPIC_PRESENCE:
	case CHAT_TOPIC_READ:
	case CHAT_TOPIC_DELIVERED:
	case CHAT_TOPIC_CHANNEL_ANY:
	case CHAT_TOPIC_SYNC:
		assert(t.channel >= topic && t.channel + t.channel_len <= topic + strlen(topic));
		assert(chat_channel_id__valid(t.channel, t.channel_len));
		assert(!strncmp(topic, CHAT_TOPIC_PREFIX, CHAT_TOPIC_PREFIX_LEN));
		break;
	case CHAT_TOPIC_REPLY:
		assert(t.client_id >= topic && t.client_id <= topic + strlen(topic));
		break;
	default:
		break;
	}
	stripped = chat_topic__strip_share(topic);
	assert(stripped >= topic && stripped <= topic + strlen(topic));
	(void)chat_channel_id__valid((const char *)data, size);
	free(topic);
	return 0;
}
