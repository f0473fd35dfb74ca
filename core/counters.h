/*
 * counters.h - the counters behind $SYS/broker/mqchat/... (adapters/metrics.c publishes them).
 *
 * One struct, a field of struct chat_plugin, touched only on the broker's thread: the send path,
 * catch-up and the group commit bump its counters with one line each; the metrics job reads them
 * every sys_interval. Counters only grow (like Mosquitto's own $SYS totals), except the commit
 * latencies, which are the samples of the current interval: chat_metrics__take_p99 reads and empties
 * them. When an interval has more commits than there are slots, a uniform sample of them is kept
 * (reservoir sampling), so the p99 stays an estimate over the whole interval at a fixed memory cost.
 *
 * Pure: no broker, no SQLite.
 */
#ifndef CHAT_COUNTERS_H
#define CHAT_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#define CHAT_METRICS_SAMPLES 4096

struct chat_metrics {
	uint64_t events_stored;  /* events committed by the group commit (sends, edits, reactions...) */
	uint64_t sends_refused;  /* sends answered with an error, rate-limited ones included */
	uint64_t commits;        /* group-commit transactions */
	uint64_t catchup_pages;  /* catch-up pages served */
	uint64_t push_pending;   /* push notifications waiting (copied by services/push.c's tick) */
	uint64_t push_failed;    /* push notifications dropped since start (idem) */
	uint64_t media_bytes;    /* bytes of media stored, each sha256 once (services/media.c) */
	int64_t sys_interval_ms; /* period of the metrics job; 0: no metrics (sys_interval 0) */
	int64_t next_publish_ms; /* monotonic: when the job is due */
	uint64_t latency_seen;   /* commits timed in this interval */
	uint64_t rng;            /* xorshift state for the reservoir */
	uint32_t latency_us[CHAT_METRICS_SAMPLES];
};

/* Monotonic microseconds, to time a commit. */
int64_t chat_metrics__now_us(void);

/* Records one commit that took us microseconds. */
void chat_metrics__commit(struct chat_metrics *m, int64_t us);

/* The 99th percentile of the commit latencies recorded since the last call, in microseconds (0 when
 * none), and starts a new interval. */
uint32_t chat_metrics__take_p99(struct chat_metrics *m);

#endif
