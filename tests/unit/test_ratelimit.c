/*
 * test_ratelimit.c - token buckets: burst, refill, independence of keys, the retry hint, pruning,
 * disabled limiter; quotas' buckets: periods other than a second, several tokens at once or none.
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


/* A refusal says when to retry: the time until the next token, rounded up. */
static void test_retry_hint(void)
{
	struct chat_ratelimit *rl = chat_ratelimit__new(10, 1); /* one token per 100 ms */
	struct chat_error err = {0};

	TH_EQ_INT(chat_ratelimit__admit(rl, "ada", 1000, "messages", &err), CHAT_ERR_OK);
	TH_EQ_INT(chat_ratelimit__admit(rl, "ada", 1030, "messages", &err), CHAT_ERR_RATE_LIMITED);
	TH_EQ_STR(err.message, "ada is sending messages too fast; slow down");
	TH_CHECKF(err.retry_after_ms >= 70 && err.retry_after_ms <= 71, "%lld",
		  (long long)err.retry_after_ms);
	TH_EQ_INT(chat_ratelimit__wait_ms(rl, "ada", 1000 + 30 + err.retry_after_ms), 0);
	TH_EQ_INT(chat_ratelimit__admit(rl, "ada", 1030 + err.retry_after_ms, "messages", &err), CHAT_ERR_OK);
	TH_EQ_INT(chat_ratelimit__wait_ms(rl, "bo", 1030), 0); /* no bucket: nothing to wait for */
	chat_error__set(&err, CHAT_ERR_CONFLICT, NULL);
	TH_EQ_INT(err.retry_after_ms, 0); /* a later error does not inherit the hint */
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


/* A quota's bucket: 60 per hour (one a minute), bursts of 5; a request of n tokens takes all or none. */
static void test_period_and_several_tokens(void)
{
	struct chat_ratelimit *rl = chat_ratelimit__new_per(60, 3600000, 5);

	TH_CHECK(chat_ratelimit__enabled(rl));
	TH_EQ_INT(chat_ratelimit__wait_n_ms(rl, "ada", 6, 0), -1); /* more than the burst: never */
	TH_EQ_INT(chat_ratelimit__wait_n_ms(rl, "ada", 5, 0), 0);
	TH_CHECK(chat_ratelimit__take(rl, "ada", 4, 0));
	TH_CHECK(!chat_ratelimit__take(rl, "ada", 2, 0)); /* one left: two are refused whole... */
	TH_CHECK(chat_ratelimit__take(rl, "ada", 1, 0));  /* ...and the one is still there */
	TH_EQ_INT(chat_ratelimit__wait_n_ms(rl, "ada", 2, 0), 120001);
	TH_CHECK(!chat_ratelimit__allow(rl, "ada", 59999));
	TH_CHECK(chat_ratelimit__allow(rl, "ada", 60000)); /* a minute later, one more */
	chat_ratelimit__free(rl);
	rl = chat_ratelimit__new_per(0, 60000, 1); /* count 0: no limit */
	TH_CHECK(!chat_ratelimit__enabled(rl));
	TH_CHECK(chat_ratelimit__take(rl, "ada", 1000, 0));
	chat_ratelimit__free(rl);
}


int main(int argc, char **argv)
{
	static const struct th_test tests[] = {
		{"burst_then_refill", test_burst_then_refill},
		{"retry_hint", test_retry_hint},
		{"prune", test_prune},
		{"disabled", test_disabled},
		{"period_and_several_tokens", test_period_and_several_tokens},
	};

	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
