/*
 * test_topic.c - classification of topics and filters under chat/.
 */
#include <string.h>

#include "th.h"
#include "topic.h"

struct topic_case {
	const char *topic;
	enum chat_topic_kind kind;
	const char *channel; /* expected channel id, or NULL */
};


static void check_cases(const struct topic_case *cases, size_t count)
{
	for(size_t i = 0; i < count; i++) {
		struct chat_topic t;
		chat_topic__parse(cases[i].topic, &t);
		TH_CHECKF(t.kind == cases[i].kind, "%s: kind %d, expected %d", cases[i].topic, t.kind,
			  cases[i].kind);
		if(cases[i].channel) {
			TH_CHECKF(t.channel_len == strlen(cases[i].channel)
					  && memcmp(t.channel, cases[i].channel, t.channel_len) == 0,
				  "%s: channel %.*s", cases[i].topic, (int)t.channel_len, t.channel);
		}
	}
}


static void test_topic_names(void)
{
	static const struct topic_case cases[] = {
		{"chat/general", CHAT_TOPIC_MESSAGES, "general"},
		{"chat/a", CHAT_TOPIC_MESSAGES, "a"},
		{"chat/Team-1.ops_x", CHAT_TOPIC_MESSAGES, "Team-1.ops_x"},
		{"chat/general/typing", CHAT_TOPIC_TYPING, "general"},
		{"chat/general/presence", CHAT_TOPIC_PRESENCE, "general"},
		{"chat/general/read", CHAT_TOPIC_READ, "general"},
		{"chat/general/delivered", CHAT_TOPIC_DELIVERED, "general"},
		{"chat/general/sync", CHAT_TOPIC_SYNC, "general"},
		{"chat/_api", CHAT_TOPIC_API, NULL},
		{"chat/_reply/ada-laptop", CHAT_TOPIC_REPLY, NULL},
		{"chat/_reply/a/b", CHAT_TOPIC_REPLY, NULL},
		{"other/topic", CHAT_TOPIC_OTHER, NULL},
		{"chat", CHAT_TOPIC_INVALID, NULL}, /* mqchat's: chat/# matches it */
		{"chatter/x", CHAT_TOPIC_OTHER, NULL},
		{"chat/", CHAT_TOPIC_INVALID, NULL},
		{"chat/_", CHAT_TOPIC_INVALID, NULL},
		{"chat/_reply/", CHAT_TOPIC_INVALID, NULL},
		{"chat/_apix", CHAT_TOPIC_INVALID, NULL},
		{"chat/_secret", CHAT_TOPIC_INVALID, NULL},
		{"chat/general/bogus", CHAT_TOPIC_INVALID, NULL},
		{"chat/general/sync/x", CHAT_TOPIC_INVALID, NULL},
		{"chat/general/", CHAT_TOPIC_INVALID, NULL},
		{"chat/bad id", CHAT_TOPIC_INVALID, NULL},
		{"chat/caf\xc3\xa9", CHAT_TOPIC_INVALID, NULL},
		{"chat/"
		 "01234567890123456789012345678901234567890123456789012345678901234",
		 CHAT_TOPIC_INVALID, NULL},
	};

	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}


static void test_filters(void)
{
	static const struct topic_case cases[] = {
		{"chat/#", CHAT_TOPIC_WIDE, NULL},
		{"chat/+", CHAT_TOPIC_WIDE, NULL},
		{"chat/+/typing", CHAT_TOPIC_WIDE, NULL},
		{"chat/general/#", CHAT_TOPIC_CHANNEL_ANY, "general"},
		{"chat/general/+", CHAT_TOPIC_CHANNEL_ANY, "general"},
		{"chat/gen+", CHAT_TOPIC_INVALID, NULL},
		{"#", CHAT_TOPIC_OTHER, NULL},
		{"+/general", CHAT_TOPIC_OTHER, NULL},
	};

	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}


static void test_strip_share(void)
{
	TH_EQ_STR(chat_topic__strip_share("$share/g1/chat/general"), "chat/general");
	TH_EQ_STR(chat_topic__strip_share("chat/general"), "chat/general");
	TH_EQ_STR(chat_topic__strip_share("$share/"), "$share/");
	TH_EQ_STR(chat_topic__strip_share("$share//chat/x"), "$share//chat/x");
}


static void test_channel_ids(void)
{
	TH_CHECK(chat_channel_id__valid("a", 1));
	TH_CHECK(chat_channel_id__valid("a_b", 3));
	TH_CHECK(!chat_channel_id__valid("_a", 2));
	TH_CHECK(!chat_channel_id__valid("", 0));
	TH_CHECK(!chat_channel_id__valid("a/b", 3));
	TH_CHECK(!chat_channel_id__valid("a+b", 3));
	TH_CHECK(chat_channel_id__valid("0123456789012345678901234567890123456789012345678901234567890123",
					64));
	TH_CHECK(!chat_channel_id__valid("01234567890123456789012345678901234567890123456789012345678901234",
					 65));
}


/* Every client id has a reply topic: the characters a topic name cannot hold are escaped. */
static void test_reply_topics(void)
{
	char topic[64];

	TH_EQ_INT(chat_topic__reply_topic("ada-phone", topic, sizeof(topic)), 21);
	TH_EQ_STR(topic, "chat/_reply/ada-phone");
	TH_EQ_INT(chat_topic__reply_topic("ada+x#1%", topic, sizeof(topic)), 12 + 14);
	TH_EQ_STR(topic, "chat/_reply/ada%2Bx%231%25");
	TH_EQ_INT(chat_topic__reply_topic("ada+x", NULL, 0), 19);
	TH_EQ_INT(chat_topic__reply_topic("ada+x", topic, 8), 19); /* truncated, still terminated */
	TH_EQ_STR(topic, "chat/_r");
	TH_CHECK(chat_topic__reply_of("ada%2Bx", "ada+x"));
	TH_CHECK(chat_topic__reply_of("a%25b", "a%b"));
	TH_CHECK(!chat_topic__reply_of("ada+x", "ada+x"));
	TH_CHECK(!chat_topic__reply_of("ada", "adam"));
	TH_CHECK(!chat_topic__reply_of("adam", "ada"));
	TH_CHECK(!chat_topic__reply_of("ada%2", "ada+"));
	TH_CHECK(chat_topic__reply_of("", ""));
}


int main(int argc, char **argv)
{
	static const struct th_test tests[] = {
		{"topic_names", test_topic_names},   {"filters", test_filters},
		{"strip_share", test_strip_share},   {"channel_ids", test_channel_ids},
		{"reply_topics", test_reply_topics},
	};

	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
