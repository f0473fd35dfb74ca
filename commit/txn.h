/*
 * txn.h - appending events to channel logs: commit first, then fan out.
 *
 * This is where the send path's invariant is kept: nothing reaches a subscriber before it is committed.
 * Events appended within a transaction are stored at once but only handed to the broker by
 * chat_txn__commit, after the commit succeeded, in the order they were appended; a failed or abandoned
 * transaction publishes nothing. Because every event of every channel goes out through the broker's one
 * queue of plugin messages, live delivery follows seq order.
 */
#ifndef CHAT_TXN_H
#define CHAT_TXN_H

#include <stdbool.h>

#include "chat.h"
#include "errors.h"
#include "event_json.h"


struct chat_txn_event; /* an appended event waiting for the commit */

struct chat_txn {
	struct chat_plugin *plugin;
	struct chat_txn_event *first, *last;
};

/* Opens a transaction on the plugin's store. On failure nothing is open and there is nothing to
 * release. */
enum chat_err chat_txn__begin(struct chat_txn *txn, struct chat_plugin *plugin, struct chat_error *err);

/* Appends ev to the log of the channel with store rowid `channel`: fills in ev->id and ev->ts, builds
 * its JSON and stores it. The caller sets ev->seq to the channel's next seq. */
enum chat_err chat_txn__append(struct chat_txn *txn, int64_t channel, struct chat_event *ev,
			       struct chat_error *err);

/* Commits, then queues every appended event for its subscribers. On failure everything is rolled back
 * and nothing is published. The transaction is finished either way. */
enum chat_err chat_txn__commit(struct chat_txn *txn, struct chat_error *err);

/* Rolls back and forgets the appended events. */
void chat_txn__abort(struct chat_txn *txn);

#endif
