/*
 * ratelimit.h - token buckets keyed by user.
 *
 * Each key may spend `burst` requests at once and then `rate` per second (or `count` per `period_ms`,
 * for quotas counted per minute or per hour). A bucket exists only while it is below full, so memory
 * follows the users who are actually busy (chat_ratelimit__prune). A request may cost more than one
 * token (a create naming 50 members takes 50 from the members bucket): it is taken whole or not at all.
 */
#ifndef CHAT_RATELIMIT_H
#define CHAT_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct chat_ratelimit;

/* A limiter allowing rate requests per second with bursts of burst; rate 0 disables it (every request
 * is allowed). Returns NULL when out of memory; free with chat_ratelimit__free. */
struct chat_ratelimit *chat_ratelimit__new(int64_t rate, int64_t burst);

/* A limiter allowing count requests per period_ms (> 0) with bursts of burst; count 0 disables it. */
struct chat_ratelimit *chat_ratelimit__new_per(int64_t count, int64_t period_ms, int64_t burst);

/* Frees rl and its buckets; NULL is ignored. */
void chat_ratelimit__free(struct chat_ratelimit *rl);

/* Takes one token from key's bucket at time now_ms (a monotonic clock). Returns false when the bucket
 * is empty. When out of memory it allows the request: a limiter must not refuse honest traffic. */
bool chat_ratelimit__allow(struct chat_ratelimit *rl, const char *key, int64_t now_ms);

/* Takes n tokens at once from key's bucket at now_ms, or none: false when fewer than n are there. As
 * chat_ratelimit__allow, it allows the request when out of memory. */
bool chat_ratelimit__take(struct chat_ratelimit *rl, const char *key, double n, int64_t now_ms);

/* Milliseconds from now_ms until key's bucket holds a token again (0 if it does, or has no bucket). */
int64_t chat_ratelimit__wait_ms(const struct chat_ratelimit *rl, const char *key, int64_t now_ms);

/* Milliseconds from now_ms until key's bucket holds n tokens (0 if it does, or has no bucket), or -1
 * when it never will: n is more than the burst. */
int64_t chat_ratelimit__wait_n_ms(const struct chat_ratelimit *rl, const char *key, double n, int64_t now_ms);

/* True if the limiter limits anything (its rate is not 0). */
bool chat_ratelimit__enabled(const struct chat_ratelimit *rl);

/* chat_ratelimit__allow as a protocol check: CHAT_ERR_RATE_LIMITED ("ada is sending <what> too fast;
 * slow down") when key's bucket is empty, with err->retry_after_ms set to chat_ratelimit__wait_ms. */
enum chat_err chat_ratelimit__admit(struct chat_ratelimit *rl, const char *key, int64_t now_ms,
				    const char *what, struct chat_error *err);

/* Forgets the buckets that have refilled completely by now_ms. */
void chat_ratelimit__prune(struct chat_ratelimit *rl, int64_t now_ms);

/* Number of buckets held. */
size_t chat_ratelimit__size(const struct chat_ratelimit *rl);

#endif
