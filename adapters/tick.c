/*
 * tick.c - the one place for periodic work, each job with its own period.
 *
 * Called at the end of every broker loop iteration: ten times a second when idle, far more under
 * load, so each job checks its own time. Jobs:
 *   group commit      every tick: commit the sends of this iteration and fan them out (batch.c)
 *   presence confirm  every tick: the connections that survived their CONNECT are accepted (presence
 *                     and client ids), and ended connections' immediate wills are past
 *   client-id flush   with the cursor flush: bindings of persistent sessions to the store
 *   typing expiry     every 100 ms: typing:false for devices that stopped refreshing
 *   presence settle   every tick, when one is due: announce the transitions presence held back
 *   cursor flush      every plugin_opt_cursor_flush_ms: write the cursor moves in one transaction
 *   users flush       every plugin_opt_cursor_flush_ms: write the users first seen since the last one
 *   rate-limit prune  every 60 s: forget the buckets of users idle long enough to refill (the
 *                     quotas' buckets too: a full bucket is the same as none)
 *   admin answers     every tick: publish the answers of backups and exports done (admin.c)
 *   search            every tick: report the commits to the search worker, send its answers
 *   retention         every plugin_opt_retention_check_ms, and every tick while old events remain:
 *                     one batch of at most 500 events pruned (retention.c), never in an open batch
 *   metrics           every sys_interval: $SYS/broker/mqchat/... (metrics.c)
 */
#include "admin.h"
#include "batch.h"
#include "broker.h"
#include "chat.h"
#include "clock.h"
#include "cursors.h"
#include "edge_link.h"
#include "media.h"
#include "metrics.h"
#include "presence.h"
#include "push.h"
#include "retention.h"
#include "ratelimit.h"
#include "search.h"
#include "store.h"
#include "tick.h"
#include "typing.h"
#include "users.h"
#include "waker.h"

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


static int write_client_id(void *ctx, const char *client_id, const char *user)
{
	struct chat_plugin *plugin = ctx;
	struct chat_error err = {0};

	if(chat_store__put_client_id(plugin->store, client_id, user, chat_clock__wall_ms(), &err)
	   != CHAT_ERR_OK) {
		chat_broker__log(CHAT_LOG_WARNING, "client id bindings not stored yet, will retry: %s",
				 err.message);
		return -1;
	}
	return 0;
}


void chat_tick__flush_client_ids(struct chat_plugin *plugin)
{
	struct chat_error err = {0};

	if(plugin->store == NULL || plugin->sessions.dirty == 0) {
		return;
	}
	chat_batch__flush(plugin); /* its own transaction, after the sends' */
	if(chat_store__begin(plugin->store, &err) != CHAT_ERR_OK) {
		chat_broker__log(CHAT_LOG_WARNING, "client id bindings not stored yet, will retry: %s",
				 err.message);
		return;
	}
	if(chat_sessions__each_dirty(&plugin->sessions, write_client_id, plugin) != 0) {
		chat_store__rollback(plugin->store);
		return;
	}
	if(chat_store__commit(plugin->store, &err) != CHAT_ERR_OK) {
		chat_broker__log(CHAT_LOG_WARNING, "client id bindings not stored yet, will retry: %s",
				 err.message);
		return;
	}
	chat_sessions__flushed(&plugin->sessions);
}


/* Called by the search worker when answers are ready: a few turns of the broker's loop at once, so
 * they go out now rather than at the loop's next idle wake-up, up to 100 ms later (waker.h). */
static void turn_the_loop(void)
{
	chat_waker__publishing(WAKER_MIN_BYTES);
}


void chat_tick__run(struct chat_plugin *plugin)
{
	int64_t now = chat_clock__mono_ms();

	chat_search__before_commit(plugin); /* the channels the commit touches, for the search worker */
	chat_batch__tick(plugin);
	chat_push__tick(plugin); /* after the commit: wakes the push worker for what it holds */
	chat_search__tick(plugin, turn_the_loop); /* after the commit: tells the search worker */
	chat_presence__confirm_pending(plugin);
	chat_sessions__confirm_pending(&plugin->sessions);
	chat_sessions__forget_ended(&plugin->sessions);
	chat_presence__settle_due(plugin, now);
	chat_edge_link__tick(plugin, now);
	if(due(now, &plugin->next_typing_check_ms, TYPING_CHECK_MS)) {
		chat_typing__expire(plugin, now);
	}
	if(due(now, &plugin->next_cursor_flush_ms, plugin->config.cursor_flush_ms)) {
		chat_cursors__flush(plugin);
		chat_tick__flush_client_ids(plugin);
	}
	if(due(now, &plugin->next_users_flush_ms, plugin->config.cursor_flush_ms)) {
		chat_users__flush(plugin);
	}
	chat_admin__tick(plugin);
	chat_retention__tick(plugin, now); /* after the group commit: never inside one */
	chat_media__tick(plugin, now);     /* collection, on its own period; after the commit too */
	chat_metrics_job__run(plugin, now);
	if(due(now, &plugin->next_prune_ms, PRUNE_PERIOD_MS)) {
		chat_ratelimit__prune(plugin->send_limits, now);
		chat_ratelimit__prune(plugin->request_limits, now);
		chat_ratelimit__prune(plugin->typing_limits, now);
		chat_ratelimit__prune(plugin->create_limits, now);
		chat_ratelimit__prune(plugin->member_limits, now);
		chat_ratelimit__prune(plugin->presence_limits, now);
	}
}
