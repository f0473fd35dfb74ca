/*
 * counters.c - commit-latency samples and their p99 (see counters.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counters.h"


int64_t chat_metrics__now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static uint64_t next_random(struct chat_metrics *m)
{
	uint64_t x = m->rng != 0 ? m->rng : 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	m->rng = x;
	return x;
}


void chat_metrics__commit(struct chat_metrics *m, int64_t us)
{
	uint32_t v = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;

	m->latency_seen++;
	if(m->latency_seen <= CHAT_METRICS_SAMPLES) {
		m->latency_us[m->latency_seen - 1] = v;
		return;
	}
	/* Algorithm R: the n-th sample replaces a random slot with probability slots/n. */
	uint64_t j = next_random(m) % m->latency_seen;
	if(j < CHAT_METRICS_SAMPLES) {
		m->latency_us[j] = v;
	}
}


static int by_value(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}


uint32_t chat_metrics__take_p99(struct chat_metrics *m)
{
	size_t n = m->latency_seen < CHAT_METRICS_SAMPLES ? (size_t)m->latency_seen : CHAT_METRICS_SAMPLES;
	size_t rank;

	m->latency_seen = 0;
	if(n == 0) {
		return 0;
	}
	/* sorted in place: the samples are dropped anyway */
	qsort(m->latency_us, n, sizeof(m->latency_us[0]), by_value);
	rank = (n * 99 + 99) / 100; /* nearest rank: ceil(0.99 n), 1-based */
	return m->latency_us[rank - 1];
}
