/*
 * tick.c - the one place for periodic jobs, each with its own period.
 *
 * Jobs:
 *   prune rate limits (every 60 s): forget the buckets of users who have been idle long enough for
 *   them to refill, so the tables hold only the users who are busy right now.
 */
#include "clock.h"
#include "tick.h"

#define PRUNE_PERIOD_MS 60000


void chat_tick__run(struct chat_plugin *plugin)
{
	int64_t now = chat_clock__mono_ms();

	if(now >= plugin->next_prune_ms) {
		chat_ratelimit__prune(plugin->send_limits, now);
		chat_ratelimit__prune(plugin->request_limits, now);
		plugin->next_prune_ms = now + PRUNE_PERIOD_MS;
	}
}
