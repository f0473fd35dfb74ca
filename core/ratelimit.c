/*
 * ratelimit.c - token buckets in a uthash table keyed by user name.
 *
 * Tokens are refilled lazily from the elapsed time when a bucket is used, so nothing runs per tick
 * except the occasional prune.
 */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "ratelimit.h"

struct bucket {
	UT_hash_handle hh;
	double tokens;
	int64_t updated_ms;
	char key[];
};

struct chat_ratelimit {
	struct bucket *buckets;
	double rate; /* tokens per millisecond */
	double burst;
};


struct chat_ratelimit *chat_ratelimit__new_per(int64_t count, int64_t period_ms, int64_t burst)
{
	struct chat_ratelimit *rl = calloc(1, sizeof(*rl));

	if(rl == NULL) {
		return NULL;
	}
	rl->rate = period_ms > 0 ? (double)count / (double)period_ms : 0.0;
	rl->burst = (double)burst;
	return rl;
}


struct chat_ratelimit *chat_ratelimit__new(int64_t rate, int64_t burst)
{
	return chat_ratelimit__new_per(rate, 1000, burst);
}


bool chat_ratelimit__enabled(const struct chat_ratelimit *rl)
{
	return rl->rate > 0.0;
}


void chat_ratelimit__free(struct chat_ratelimit *rl)
{
	struct bucket *b, *tmp;

	if(rl == NULL) {
		return;
	}
	HASH_ITER(hh, rl->buckets, b, tmp) {
		HASH_DEL(rl->buckets, b);
		free(b);
	}
	free(rl);
}


static double refilled(const struct chat_ratelimit *rl, const struct bucket *b, int64_t now_ms)
{
	double elapsed = now_ms > b->updated_ms ? (double)(now_ms - b->updated_ms) : 0.0;
	double tokens = b->tokens + elapsed * rl->rate;

	return tokens < rl->burst ? tokens : rl->burst;
}


bool chat_ratelimit__allow(struct chat_ratelimit *rl, const char *key, int64_t now_ms)
{
	return chat_ratelimit__take(rl, key, 1.0, now_ms);
}


bool chat_ratelimit__take(struct chat_ratelimit *rl, const char *key, double n, int64_t now_ms)
{
	struct bucket *b;
	size_t len;

	if(rl->rate <= 0.0 || n <= 0.0) {
		return true;
	}
	len = strlen(key);
	HASH_FIND(hh, rl->buckets, key, len, b);
	if(b == NULL) {
		b = malloc(sizeof(*b) + len + 1);
		if(b == NULL) {
			return true;
		}
		memcpy(b->key, key, len + 1);
		b->tokens = rl->burst;
		b->updated_ms = now_ms;
		HASH_ADD(hh, rl->buckets, key[0], len, b);
	}
	b->tokens = refilled(rl, b, now_ms);
	b->updated_ms = now_ms;
	if(b->tokens < n) {
		return false;
	}
	b->tokens -= n;
	return true;
}


int64_t chat_ratelimit__wait_n_ms(const struct chat_ratelimit *rl, const char *key, double n, int64_t now_ms)
{
	struct bucket *b;
	double missing;

	if(rl->rate <= 0.0 || n <= 0.0) {
		return 0;
	}
	if(n > rl->burst) {
		return -1;
	}
	HASH_FIND(hh, rl->buckets, key, strlen(key), b);
	if(b == NULL) {
		return 0;
	}
	missing = n - refilled(rl, b, now_ms);
	return missing > 0.0 ? (int64_t)(missing / rl->rate) + 1 : 0;
}


int64_t chat_ratelimit__wait_ms(const struct chat_ratelimit *rl, const char *key, int64_t now_ms)
{
	return chat_ratelimit__wait_n_ms(rl, key, 1.0, now_ms);
}


enum chat_err chat_ratelimit__admit(struct chat_ratelimit *rl, const char *key, int64_t now_ms,
				    const char *what, struct chat_error *err)
{
	if(!chat_ratelimit__allow(rl, key, now_ms)) {
		chat_error__set(err, CHAT_ERR_RATE_LIMITED, "%s is sending %s too fast; slow down", key,
				what);
		if(err != NULL) {
			err->retry_after_ms = chat_ratelimit__wait_ms(rl, key, now_ms);
		}
		return CHAT_ERR_RATE_LIMITED;
	}
	return CHAT_ERR_OK;
}


void chat_ratelimit__prune(struct chat_ratelimit *rl, int64_t now_ms)
{
	struct bucket *b, *tmp;

	HASH_ITER(hh, rl->buckets, b, tmp) {
		if(refilled(rl, b, now_ms) >= rl->burst) {
			HASH_DEL(rl->buckets, b);
			free(b);
		}
	}
}


size_t chat_ratelimit__size(const struct chat_ratelimit *rl)
{
	return HASH_COUNT(rl->buckets);
}
