/*
 * tick.c - the one place for periodic work, each job with its own period.
 *
 * Called at the end of every broker loop iteration: ten times a second when idle, far more under
 * load, so each job checks its own time. Jobs:
 *   group commit      every tick: commit the sends of this iteration and fan them out (batch.c)
 *   presence confirm  every tick: the connections that survived their CONNECT are accepted
 *   typing expiry     every 100 ms: typing:false for devices that stopped refreshing
 *   cursor flush      every plugin_opt_cursor_flush_ms: write the cursor moves in one transaction
 *   rate-limit prune  every 60 s: forget the buckets of users idle long enough to refill
 */
#include "batch.h"
#include "chat.h"
#include "clock.h"
#include "cursors.h"
#include "edge_link.h"
#include "presence.h"
#include "tick.h"
#include "typing.h"

#define TYPING_CHECK_MS 100
#define PRUNE_PERIOD_MS 60000


/* True when *next has come, and then moves it period_ms on. */
static bool due(int64_t now, int64_t *next, int64_t period_ms)
{
	if(now < *next) {
		return false;
	}
	*next = now + period_ms;
	return true;
}


void chat_tick__run(struct chat_plugin *plugin)
{
	int64_t now = chat_clock__mono_ms();

	chat_batch__tick(plugin);
	chat_presence__confirm_pending(plugin);
	chat_edge_link__tick(plugin, now);
	if(due(now, &plugin->next_typing_check_ms, TYPING_CHECK_MS)) {
		chat_typing__expire(plugin, now);
	}
	if(due(now, &plugin->next_cursor_flush_ms, plugin->config.cursor_flush_ms)) {
		chat_cursors__flush(plugin);
	}
	if(due(now, &plugin->next_prune_ms, PRUNE_PERIOD_MS)) {
		chat_ratelimit__prune(plugin->send_limits, now);
		chat_ratelimit__prune(plugin->request_limits, now);
		chat_ratelimit__prune(plugin->typing_limits, now);
	}
}
