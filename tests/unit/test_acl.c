/*
 * test_acl.c - the access rules against an in-memory index, and the index's own bookkeeping.
 */
#include <string.h>

#include "acl.h"
#include "th.h"

static struct chat_index idx;


static void setup(void)
{
	struct chat_channel *general, *ops;

	memset(&idx, 0, sizeof(idx));
	general = chat_index__add_channel(&idx, 1, "general", "General", CHAT_VISIBILITY_PUBLIC, "e1");
	ops = chat_index__add_channel(&idx, 2, "ops", "", CHAT_VISIBILITY_PRIVATE, "e2");
	TH_CHECK(general != NULL && ops != NULL);
	TH_CHECK(chat_index__add_channel(&idx, 3, "general", "", CHAT_VISIBILITY_PUBLIC, "e3") == NULL);
	TH_EQ_INT(chat_index__add_member(&idx, general, "ada", CHAT_ROLE_OWNER, 1), 0);
	TH_EQ_INT(chat_index__add_member(&idx, general, "bo", CHAT_ROLE_MEMBER, 2), 0);
	TH_EQ_INT(chat_index__add_member(&idx, ops, "ada", CHAT_ROLE_OWNER, 1), 0);
}


#define VERDICT(user, client, topic, access) chat_acl__check(&idx, user, client, topic, CHAT_ACCESS_##access)


static void test_read(void)
{
	setup();
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/general", READ), CHAT_ACL_GRANT);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/general/typing", READ), CHAT_ACL_GRANT);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/ops", READ), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/nope", READ), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("ada", "ada-1", "chat/_", READ), CHAT_ACL_DENY); /* the sink */
	TH_EQ_INT(VERDICT("ada", "ada-1", "chat/_api", READ), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("ada", "ada-1", "chat/general/sync", READ), CHAT_ACL_DENY);
	/* Mosquitto re-checks replies queued for a persistent session when it reconnects */
	TH_EQ_INT(VERDICT("ada", "ada-1", "chat/_reply/ada-1", READ), CHAT_ACL_GRANT);
	TH_EQ_INT(VERDICT("ada", "ada-2", "chat/_reply/ada-1", READ), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT(NULL, "anon", "chat/general", READ), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("bo", "bo-1", "sensors/1", READ), CHAT_ACL_NOT_MINE);
	chat_index__clear(&idx);
}


static void test_subscribe(void)
{
	setup();
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/general", SUBSCRIBE), CHAT_ACL_GRANT);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/general/#", SUBSCRIBE), CHAT_ACL_GRANT);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/ops", SUBSCRIBE), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/ops/+", SUBSCRIBE), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("bo", "bo-1", "$share/g/chat/ops", SUBSCRIBE), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/#", SUBSCRIBE), CHAT_ACL_GRANT);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/+/typing", SUBSCRIBE), CHAT_ACL_GRANT);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/_reply/bo-1", SUBSCRIBE), CHAT_ACL_GRANT);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/_reply/ada-1", SUBSCRIBE), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/_reply/+", SUBSCRIBE), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/_api", SUBSCRIBE), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/general/sync", SUBSCRIBE), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT(NULL, "anon", "chat/#", SUBSCRIBE), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("bo", "bo-1", "#", SUBSCRIBE), CHAT_ACL_NOT_MINE);
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/ops", UNSUBSCRIBE), CHAT_ACL_GRANT);
	chat_index__clear(&idx);
}


static void test_write(void)
{
	setup();
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/ops", WRITE),
		  CHAT_ACL_GRANT); /* refused later, with an error */
	TH_EQ_INT(VERDICT(NULL, "anon", "chat/general", WRITE), CHAT_ACL_DENY);
	TH_EQ_INT(VERDICT("bo", "bo-1", "other", WRITE), CHAT_ACL_NOT_MINE);
	chat_index__clear(&idx);
}


static void test_removal_takes_effect_at_once(void)
{
	struct chat_channel *general;

	setup();
	general = chat_index__find(&idx, "general", 7);
	chat_index__remove_member(&idx, general, "bo");
	TH_EQ_INT(VERDICT("bo", "bo-1", "chat/general", READ), CHAT_ACL_DENY);
	TH_CHECK(chat_index__user(&idx, "bo") == NULL); /* no channels left: forgotten */
	TH_CHECK(chat_index__user(&idx, "ada") != NULL);
	TH_EQ_INT(HASH_COUNT(chat_index__user(&idx, "ada")->channels), 2);
	chat_index__clear(&idx);
}


static void test_owner_succession(void)
{
	struct chat_channel *general;

	setup();
	general = chat_index__find(&idx, "general", 7);
	TH_EQ_INT(chat_index__add_member(&idx, general, "cy", CHAT_ROLE_MEMBER, 5), 0);
	TH_CHECK(!chat_index__has_other_owner(general, "ada"));
	TH_EQ_STR(chat_index__longest_member(general, "ada")->user, "bo");
	TH_EQ_STR(chat_index__longest_member(general, NULL)->user, "ada");
	chat_index__clear(&idx);
}


/* The cached read check gives chat_acl__check's verdict for every user on every topic, in any order,
 * including a channel created after its topic was cached and members added or removed meanwhile. */
static void test_cached_read_agrees(void)
{
	static const char *const topics[] =
		{"chat/general", "chat/general/typing", "chat/ops",          "chat/nope", "chat/_",
		 "chat/_api",    "chat/general/sync",   "chat/_reply/ada-1", "sensors/1", "chat/general"};
	static const char *const users[][2] = {{"ada", "ada-1"},
					       {"bo", "bo-1"},
					       {NULL, "anon"},
					       {"cy", "cy-1"}};
	struct chat_acl_cache cache = {0};
	struct chat_channel *nope;

	setup();
	for(int round = 0; round < 3; round++) {
		for(size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++) {
			for(size_t u = 0; u < sizeof(users) / sizeof(users[0]); u++) {
				TH_EQ_INT(chat_acl__check_read(&idx, &cache, users[u][0], users[u][1],
							       topics[t]),
					  VERDICT(users[u][0], users[u][1], topics[t], READ));
			}
		}
		if(round == 0) { /* chat/nope is cached as "no such channel": now it exists */
			nope = chat_index__add_channel(&idx, 4, "nope", "", CHAT_VISIBILITY_PUBLIC, "e4");
			TH_EQ_INT(chat_index__add_member(&idx, nope, "cy", CHAT_ROLE_OWNER, 1), 0);
			TH_EQ_INT(chat_acl__check_read(&idx, &cache, "cy", "cy-1", "chat/nope"),
				  CHAT_ACL_GRANT);
		} else if(round == 1) {
			TH_EQ_INT(chat_index__add_member(&idx, chat_index__find(&idx, "ops", 3), "bo",
							 CHAT_ROLE_MEMBER, 2),
				  0);
		}
	}
	chat_index__clear(&idx);
}


/* An edge rebuilds its index from a snapshot (edge.c): every channel is freed and made anew, the same
 * number of them. A cached channel must not outlive that; here the new #general no longer has bo. */
static void test_cached_read_survives_a_rebuilt_index(void)
{
	struct chat_acl_cache cache = {0};
	struct chat_channel *general;

	general = chat_index__add_channel(&idx, 1, "general", "", CHAT_VISIBILITY_PUBLIC, "e1");
	TH_EQ_INT(chat_index__add_member(&idx, general, "bo", CHAT_ROLE_MEMBER, 1), 0);
	TH_EQ_INT(chat_acl__check_read(&idx, &cache, "bo", "bo-1", "chat/general"), CHAT_ACL_GRANT);
	chat_index__clear(&idx);
	general = chat_index__add_channel(&idx, 1, "general", "", CHAT_VISIBILITY_PUBLIC, "e1");
	TH_EQ_INT(chat_index__add_member(&idx, general, "ada", CHAT_ROLE_OWNER, 1), 0);
	TH_EQ_INT(chat_acl__check_read(&idx, &cache, "bo", "bo-1", "chat/general"), CHAT_ACL_DENY);
	TH_EQ_INT(chat_acl__check_read(&idx, &cache, "ada", "ada-1", "chat/general"), CHAT_ACL_GRANT);
	chat_index__clear(&idx);
}


int main(int argc, char **argv)
{
	static const struct th_test tests[] = {
		{"read", test_read},
		{"subscribe", test_subscribe},
		{"write", test_write},
		{"removal_takes_effect_at_once", test_removal_takes_effect_at_once},
		{"owner_succession", test_owner_succession},
		{"cached_read_agrees", test_cached_read_agrees},
		{"cached_read_survives_a_rebuilt_index", test_cached_read_survives_a_rebuilt_index},
	};

	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
