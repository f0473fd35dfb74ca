/*
 * test_counters.c - the commit-latency p99 of core/counters.c: exact while the samples fit, an
 * estimate from a uniform sample beyond, and each interval starting empty.
 */
#include <stdlib.h>

#include "counters.h"
#include "th.h"


static void test_p99_exact(void)
{
	struct chat_metrics *m = calloc(1, sizeof(*m));

	TH_CHECK(m != NULL);
	TH_EQ_INT(chat_metrics__take_p99(m), 0); /* no commit in the interval */
	for(int i = 100; i >= 1; i--) {          /* 1..100 µs, in any order */
		chat_metrics__commit(m, i);
	}
	TH_EQ_INT(chat_metrics__take_p99(m), 99); /* nearest rank: the 99th of 100 */
	TH_EQ_INT(chat_metrics__take_p99(m), 0);  /* the interval was emptied */
	chat_metrics__commit(m, 7);
	TH_EQ_INT(chat_metrics__take_p99(m), 7); /* one sample is its own p99 */
	chat_metrics__commit(m, -5);             /* a clock step back counts as 0 */
	TH_EQ_INT(chat_metrics__take_p99(m), 0);
	free(m);
}


static void test_p99_sampled(void)
{
	struct chat_metrics *m = calloc(1, sizeof(*m));
	long n = 20L * CHAT_METRICS_SAMPLES;
	uint32_t p99;

	TH_CHECK(m != NULL);
	/* far more commits than slots: 1% of them slow (10 ms), the rest 1 ms, spread evenly */
	for(long i = 0; i < n; i++) {
		chat_metrics__commit(m, i % 100 == 0 ? 10000 : 1000);
	}
	p99 = chat_metrics__take_p99(m);
	TH_CHECKF(p99 == 1000 || p99 == 10000, "p99 %u", p99);
	/* 2% slow: the p99 is a slow one */
	for(long i = 0; i < n; i++) {
		chat_metrics__commit(m, i % 50 == 0 ? 10000 : 1000);
	}
	TH_EQ_INT(chat_metrics__take_p99(m), 10000);
	/* 0.1% slow: the p99 is a fast one */
	for(long i = 0; i < n; i++) {
		chat_metrics__commit(m, i % 1000 == 0 ? 10000 : 1000);
	}
	TH_EQ_INT(chat_metrics__take_p99(m), 1000);
	free(m);
}


TH_TEST_LIST(TH_TEST(test_p99_exact), TH_TEST(test_p99_sampled))
