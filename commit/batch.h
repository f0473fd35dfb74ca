/*
 * batch.h - group commit of sends: many events per transaction (and per fsync), acks after the commit.
 *
 * See the design note at the top of batch.c. In short: the first send of a broker loop iteration opens a
 * transaction; every send appends its event to it and queues its event and its ack; the tick at the end
 * of the iteration commits (one fsync for all of them) and only then hands the events and acks to the
 * broker. A failed commit rolls everything back, puts the channels' heads back and answers each sender
 * `unavailable`. Anything else that reads or writes the store flushes the batch first.
 */
#ifndef CHAT_BATCH_H
#define CHAT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "event_json.h"
#include "index.h"

struct chat_plugin;
struct chat_reply_to;
struct chat_batch_item;
struct chat_batch_saved;

/* Events go out at QoS 1: subscribers with a persistent session and a QoS 1 subscription get them
 * queued while briefly offline. */
#define CHAT_EVENT_QOS 1

/* A batch stays open across loop iterations while one of its senders has more bytes waiting on its
 * socket (so the broker's next iteration is sure to come at once), up to these bounds. */
#define CHAT_BATCH_MAX_EVENTS  256
#define CHAT_BATCH_MAX_AGE_MS  5
#define CHAT_BATCH_MAX_SENDERS 16 /* sockets watched; more senders fill a batch without waiting */
/* Ticks come at least ten times a second. If none came for this long (per_listener_settings true
 * stops them in 2.0.11), each send commits at once, as if there were no batching. */
#define CHAT_BATCH_TICK_SILENCE_MS 1000

struct chat_batch {
	bool open;                           /* a transaction holding uncommitted sends is open */
	size_t events;                       /* events appended since it opened */
	int64_t opened_ms;                   /* monotonic */
	int senders[CHAT_BATCH_MAX_SENDERS]; /* sockets of the batch's senders (distinct) */
	int nsenders;
	int64_t last_tick_ms;                 /* monotonic; 0 before the first tick */
	struct chat_batch_item *first, *last; /* events and answers, in the order they were queued */
	struct chat_batch_saved *saved;       /* each touched channel's head before the batch */
	unsigned long commits, committed;     /* counters: transactions, events */
};

/* Appends ev to channel ch inside the open batch, opening it (BEGIN) if needed: fills in ev->id,
 * ev->ts, builds and stores its JSON, queues it for the subscribers and moves ch's head in memory.
 * ev->seq must be ch->head + 1. On failure the whole batch is rolled back and answered (see
 * chat_batch__flush), and err says why for the caller's own sender. */
enum chat_err chat_batch__append(struct chat_plugin *plugin, struct chat_channel *ch, struct chat_event *ev,
				 struct chat_error *err);

/* Sends json (an ack) to rt once the open batch has committed, or at once when no batch is open. If the
 * commit fails the client gets an `unavailable` error with ctx (channel, client_msg_id) instead. With
 * json NULL nothing is sent on success. Everything is copied. */
void chat_batch__answer(struct chat_plugin *plugin, const struct chat_reply_to *rt, const char *json,
			size_t len, const struct chat_error_context *ctx);

/* Notes the socket of the sender just served (-1 when unknown). */
void chat_batch__note_sender(struct chat_plugin *plugin, int fd);

/* After a send was appended: commits at once if the broker has stopped delivering ticks. */
void chat_batch__after_send(struct chat_plugin *plugin);

struct mosquitto;

/* After a send from sender (a client, or an edge's bridge carrying its clients' sends): lets the open
 * batch watch the sender's socket (chat_batch__note_sender), then chat_batch__after_send. */
void chat_batch__sent_by(struct chat_plugin *plugin, const struct mosquitto *sender);

/* The tick at the end of a loop iteration: commits the batch unless one of its senders has bytes
 * waiting on its socket and the batch is still within its bounds. */
void chat_batch__tick(struct chat_plugin *plugin);

/* The rowids of the channels the open batch appended to, at most max of them, into out; returns how
 * many there are (more than max: out holds the first max). The search worker is told which channels
 * a commit touched (services/search.c). */
size_t chat_batch__touched(const struct chat_batch *batch, int64_t *out, size_t max);

/* Commits the open batch now, then publishes its events and answers in order; on failure rolls back,
 * restores the heads and answers every sender of the batch `unavailable`. Returns CHAT_ERR_OK when no
 * batch was open or the commit succeeded. Called before any other transaction or read of the store. */
enum chat_err chat_batch__flush(struct chat_plugin *plugin);

/* Drops everything queued without publishing (the store rolls back when closed). */
void chat_batch__clear(struct chat_batch *batch);

/*
 * Invariant checker, for assert(chat_batch__check(batch)): SQLite's assert(pager_ok()) style. batch.c
 * asserts it wherever the batch changes (append, answer, flush, clear), so it runs in debug and
 * sanitizer builds and compiles out with NDEBUG. Returns true when every invariant holds, and otherwise
 * false with the first broken one described in why (may be NULL); chat_batch__check also reports it on
 * stderr. Invariants:
 * - a closed batch holds nothing: no item, no saved head, no event;
 * - an open batch holds at least one event (it opens with the append of its first one; an append that
 *   fails closes it again) and the head of every channel it touched;
 * - the queue is a list from first to last, with no cycle, and `events` counts its event items;
 * - every event item has its JSON; every answer its client id and topic;
 * - each touched channel is saved once, and restoring its saved head moves nothing forward: saved head,
 *   last message and message count are <= the channel's current ones;
 * - seqs are gapless: a touched channel's head is its saved head plus the number of its event items,
 *   and its message count moved by no more than that; every event item's channel was saved;
 * - the watched senders are distinct sockets, at most CHAT_BATCH_MAX_SENDERS;
 * - each commit committed at least one event.
 * "Open implies an open transaction in the store" is what `open` records: store.h offers no way to ask
 * SQLite, so the checker cannot see a transaction the store lost.
 */
bool chat_batch__check(const struct chat_batch *batch);
bool chat_batch__check_why(const struct chat_batch *batch, char *why, size_t why_len);

#endif
