/*
 * retention.h - retention and channel deletion (docs/operations.md, "Retention"; schema/0012).
 *
 * Policy: per channel (setRetention) or the defaults plugin_opt_retention_days and
 * plugin_opt_retention_count (0: keep forever). Events older than `days`, and all but the newest
 * `count`, are pruned, whichever cuts more; the channel's last event always stays (it carries the
 * head the next seq is numbered from). Pruning is whole seq ranges from the channel's first seq up.
 *
 * The job (chat_retention__tick) runs from the tick between group commits, never while a batch is
 * open: each call deletes at most CHAT_RETENTION_BATCH events of one channel in one transaction, and
 * while work remains it runs again at the next tick; otherwise every plugin_opt_retention_check_ms.
 */
#ifndef CHAT_RETENTION_H
#define CHAT_RETENTION_H

#include <stdint.h>

#include "chat.h"
#include "errors.h"

/* Events pruned per batch (one transaction on the broker's thread, committed without waiting for the
 * disk: chat_store__begin_lazy), and the pause after each while a backlog remains: at least
 * CHAT_RETENTION_PAUSE_MS, and four times the batch's own time. About 2,000 events a second, so a
 * 1M-event backlog goes in some 8 minutes and sends' p99 stays within 1.5x idle (bench/ops.sh). Faster
 * cost more than 2x: 500 per tick stalled sends up to 294 ms, 100 every 10 ms
 * tripled their p50 (each ack's fsync then carries the prune's freed and rewritten pages). */
#define CHAT_RETENTION_BATCH    100
#define CHAT_RETENTION_PAUSE_MS 50
#define CHAT_RETENTION_MAX      1000000000 /* the largest days or count a policy may name */

/* The lowest seq ch still holds (1 when nothing was pruned); loads the stored policies at first use. */
int64_t chat_retention__first(struct chat_plugin *plugin, const struct chat_channel *ch);

/* Sets ch's own policy (-1: none of its own, the options apply; 0: no limit). Stored at once. */
enum chat_err chat_retention__set(struct chat_plugin *plugin, struct chat_channel *ch, int64_t days,
				  int64_t count, struct chat_error *err);

/* The policy in force for ch: its own, else the options'. */
void chat_retention__policy(const struct chat_plugin *plugin, const struct chat_channel *ch, int64_t *days,
			    int64_t *count);

/* chat_store__unread, right for a pruned channel: a read cursor below the first kept seq counts from
 * there. */
enum chat_err chat_retention__unread(struct chat_plugin *plugin, const struct chat_channel *ch,
				     const char *user, int64_t read_seq, int64_t *unread,
				     struct chat_error *err);

/* The tick's job: one batch of pruning when due (see above). */
void chat_retention__tick(struct chat_plugin *plugin, int64_t now_ms);

/* Deletes ch for an admin (who): every member gets a leave event, live, as a removed member does
 * (membership.c); then everything the store holds of ch goes in one transaction, and the index
 * forgets it (ch is freed). The name can be created again, with a new epoch. */
enum chat_err chat_retention__delete_channel(struct chat_plugin *plugin, const struct chat_requester *who,
					     struct chat_channel *ch, struct chat_error *err);

#endif
