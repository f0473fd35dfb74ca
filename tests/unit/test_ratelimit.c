/*
 * test_ratelimit.c - token buckets: burst, refill, independence of keys, pruning, disabled limiter.
 */
#include "ratelimit.h"
#include "th.h"


static void test_burst_then_refill(void)
{
	struct chat_ratelimit *rl = chat_ratelimit__new(10, 3); /* 10/s: one token per 100 ms */

	TH_CHECK(rl != NULL);
	TH_CHECK(chat_ratelimit__allow(rl, "ada", 1000));
	TH_CHECK(chat_ratelimit__allow(rl, "ada", 1000));
	TH_CHECK(chat_ratelimit__allow(rl, "ada", 1000));
	TH_CHECK(!chat_ratelimit__allow(rl, "ada", 1000));
	TH_CHECK(!chat_ratelimit__allow(rl, "ada", 1099));
	/* 200 ms after the burst two tokens are back, and no more */
	TH_CHECK(chat_ratelimit__allow(rl, "ada", 1200));
	TH_CHECK(chat_ratelimit__allow(rl, "ada", 1200));
	TH_CHECK(!chat_ratelimit__allow(rl, "ada", 1200));
	TH_CHECK(chat_ratelimit__allow(rl, "bo", 1200)); /* keys are independent */
	chat_ratelimit__free(rl);
}


static void test_prune(void)
{
	struct chat_ratelimit *rl = chat_ratelimit__new(10, 3);

	TH_CHECK(chat_ratelimit__allow(rl, "ada", 0));
	TH_CHECK(chat_ratelimit__allow(rl, "bo", 250));
	TH_EQ_INT(chat_ratelimit__size(rl), 2);
	chat_ratelimit__prune(rl, 200); /* ada refilled, bo not yet */
	TH_EQ_INT(chat_ratelimit__size(rl), 1);
	chat_ratelimit__prune(rl, 10000);
	TH_EQ_INT(chat_ratelimit__size(rl), 0);
	chat_ratelimit__free(rl);
}


static void test_disabled(void)
{
	struct chat_ratelimit *rl = chat_ratelimit__new(0, 1);

	for(int i = 0; i < 1000; i++) {
		TH_CHECK(chat_ratelimit__allow(rl, "ada", 0));
	}
	TH_EQ_INT(chat_ratelimit__size(rl), 0);
	chat_ratelimit__free(rl);
}


int main(int argc, char **argv)
{
	static const struct th_test tests[] = {
		{"burst_then_refill", test_burst_then_refill},
		{"prune", test_prune},
		{"disabled", test_disabled},
	};

	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
