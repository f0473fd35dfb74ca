/*
 * batch.c - group commit of sends.
 *
 * Why. With synchronous=full every commit costs an fsync of the WAL (150-300 us here), and committing
 * each send inside MOSQ_EVT_MESSAGE held the broker's only thread for one fsync per message. Now the
 * sends of one or more broker loop iterations share one transaction, so one fsync covers them all.
 *
 * How, on the broker thread only (Mosquitto's plugin API is not thread-safe, and a writer thread could
 * not wake the broker's epoll_wait, which sleeps up to 100 ms when idle):
 *   1. MOSQ_EVT_MESSAGE, a send: the first send opens a transaction (BEGIN IMMEDIATE). The event gets
 *      seq = head + 1 and is inserted; the channel's head moves in memory at once, so the next send of
 *      the batch gets the next seq. The event and the sender's ack are queued here, not published.
 *      The original publish is swallowed as before (events.c), so the broker fans out nothing of it.
 *   2. MOSQ_EVT_TICK, which 2.0.11 runs at the end of every loop iteration: COMMIT, then hand every
 *      queued event and ack to mosquitto_broker_publish in the order queued. They go out at the top
 *      of the next iteration, as they did before.
 *   3. The batch stays open past a tick only while one of its senders already has bytes waiting on
 *      its socket (FIONREAD; events.c finds the socket), because then the broker's epoll_wait returns
 *      at once and another tick follows within microseconds; and at most CHAT_BATCH_MAX_EVENTS events
 *      or CHAT_BATCH_MAX_AGE_MS. (Mosquitto reads one packet per socket per iteration, so a client
 *      with 100 sends in flight is otherwise seen one send per tick.) A lone message is committed at
 *      the tick of its own iteration, so an idle channel's latency does not change.
 *   4. Without ticks (none yet, or per_listener_settings true, which stops them in 2.0.11) a send is
 *      committed at once in MOSQ_EVT_MESSAGE, as before batching.
 *
 * Invariants:
 *   - Nothing is fanned out and no ack is sent before the commit that made it durable. Duplicate acks
 *     (a retried client_msg_id) found while a batch is open wait for the same commit, since the
 *     original may be in it.
 *   - Seqs stay gapless and in order: heads move when events are appended; a failed commit restores
 *     every touched channel's head as it was before the batch, and the store rolls back as a whole.
 *   - Idempotency sees pending sends: the dedupe lookup runs on the same connection, inside the open
 *     transaction, so a retry of a pending client_msg_id is found (and answered after the commit).
 *   - Catch-up, chat/_api, cursor moves and any other transaction never see pending events: each
 *     flushes the batch first (events.c, txn.c, cursors.c), and closing the plugin flushes it too.
 *   - A failed append or commit stores nothing of the batch and fans nothing out; each sender of the
 *     batch gets `unavailable` on its reply topic and a retry with the same client_msg_id stores it
 *     exactly once. (The MQTT PUBACK of a send now precedes the commit; the JSON ack is the
 *     durability promise, as PROTOCOL.md says. A v5 sender whose send fails at BEGIN or INSERT still
 *     gets PUBACK 0x87; one whose batch fails at COMMIT learns it from the JSON error only.)
 *   - kill -9 at any point: SQLite's WAL keeps either the whole batch or none of it, and nobody was
 *     told about an event that is not in the file.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "batch.h"
#include "broker.h"
#include "chat.h"
#include "clock.h"
#include "ids.h"
#include "reply.h"
#include "store.h"

enum item_kind { ITEM_EVENT, ITEM_ANSWER };

struct chat_batch_item {
	struct chat_batch_item *next;
	enum item_kind kind;
	char channel[CHAT_CHANNEL_ID_MAX + 1];
	/* ITEM_ANSWER: where it goes, and the context of an error in its place */
	struct chat_reply_kept to;
	char *client_msg_id;
	size_t len;
	char *json; /* the event, the ack, or NULL (an answer only if the commit fails) */
};

struct chat_batch_saved {
	struct chat_batch_saved *next;
	struct chat_channel *ch;
	int64_t head, head_ts, last_message_seq, message_count;
};


static void item_free(struct chat_batch_item *item)
{
	chat_reply_kept__release(&item->to);
	free(item->client_msg_id);
	free(item->json);
	free(item);
}


void chat_batch__clear(struct chat_batch *batch)
{
	struct chat_batch_item *item, *next_item;
	struct chat_batch_saved *saved, *next_saved;

	for(item = batch->first; item != NULL; item = next_item) {
		next_item = item->next;
		item_free(item);
	}
	for(saved = batch->saved; saved != NULL; saved = next_saved) {
		next_saved = saved->next;
		free(saved);
	}
	batch->first = batch->last = NULL;
	batch->saved = NULL;
	batch->open = false;
	batch->events = 0;
	batch->nsenders = 0;
	assert(chat_batch__check(batch));
}


static void enqueue(struct chat_batch *batch, struct chat_batch_item *item)
{
	if(batch->last != NULL) {
		batch->last->next = item;
	} else {
		batch->first = item;
	}
	batch->last = item;
}


static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}


/* Sends json to the client an answer item names, through its edge if it has one (reply.c routes). */
static void item_send(struct chat_plugin *plugin, const struct chat_batch_item *item, const char *json,
		      size_t len)
{
	struct chat_edge_route route;
	struct chat_reply_to rt = chat_reply_kept__view(&item->to, &route, &plugin->sessions);

	chat_reply__send(&rt, json, len);
}


/* Rolls back, puts the heads back and answers every sender of the batch with err. */
static void fail_batch(struct chat_plugin *plugin, const struct chat_error *err)
{
	struct chat_batch *batch = plugin->batch;

	chat_store__rollback(plugin->store);
	for(struct chat_batch_saved *s = batch->saved; s != NULL; s = s->next) {
		s->ch->head = s->head;
		s->ch->head_ts = s->head_ts;
		s->ch->last_message_seq = s->last_message_seq;
		s->ch->message_count = s->message_count;
		chat_index__forget_own_messages(s->ch);
	}
	assert(chat_index__check(&plugin->index)); /* the heads are back where the store has them */
	for(struct chat_batch_item *item = batch->first; item != NULL; item = item->next) {
		struct chat_error_context ctx = {.request = item->to.request,
						 .channel = item->channel,
						 .client_msg_id = item->client_msg_id};
		size_t len = 0;
		char *json;

		if(item->kind != ITEM_ANSWER) {
			continue;
		}
		json = chat_error_json__build(err, &ctx, &len);
		if(json != NULL) {
			item_send(plugin, item, json, len);
		}
		free(json);
	}
	chat_broker__log(CHAT_LOG_WARNING, "a batch of %zu events was not stored: %s", batch->events,
			 err->message);
	chat_batch__clear(batch);
}


enum chat_err chat_batch__flush(struct chat_plugin *plugin)
{
	struct chat_batch *batch = plugin->batch;
	struct chat_error err = {0};

	if(!batch->open) {
		return CHAT_ERR_OK;
	}
	assert(chat_batch__check(batch));
	int64_t commit_start_us = chat_metrics__now_us(); /* $SYS/.../commit/latency/p99 */
	if(chat_store__commit(plugin->store, &err) != CHAT_ERR_OK) {
		fail_batch(plugin, &err);
		return CHAT_ERR_UNAVAILABLE;
	}
	chat_metrics__commit(&plugin->metrics, chat_metrics__now_us() - commit_start_us);
	batch->commits++;
	batch->committed += batch->events;
	plugin->metrics.commits++;
	plugin->metrics.events_stored += batch->events;
	assert(chat_index__check(&plugin->index)); /* what is about to be published is what it holds */
	for(struct chat_batch_item *item = batch->first; item != NULL; item = item->next) {
		if(item->kind == ITEM_EVENT) {
			chat_broker__publish(item->channel, NULL, item->json, item->len, CHAT_EVENT_QOS);
		} else if(item->json != NULL) {
			item_send(plugin, item, item->json, item->len);
		}
	}
	chat_batch__clear(batch);
	return CHAT_ERR_OK;
}


/* Whether fd is still a socket (it may have been closed, even reused, since it was noted) with bytes
 * waiting to be read: then the broker's epoll_wait returns at once and another tick follows. */
static bool has_bytes(int fd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int waiting = 0;

	return getpeername(fd, (struct sockaddr *)&peer, &len) == 0 && ioctl(fd, FIONREAD, &waiting) == 0
	       && waiting > 0;
}


size_t chat_batch__touched(const struct chat_batch *batch, int64_t *out, size_t max)
{
	size_t n = 0;

	for(const struct chat_batch_saved *s = batch->saved; s != NULL; s = s->next, n++) {
		if(n < max) {
			out[n] = s->ch->rowid;
		}
	}
	return n;
}


void chat_batch__tick(struct chat_plugin *plugin)
{
	struct chat_batch *batch = plugin->batch;
	bool wait = false;

	batch->last_tick_ms = chat_clock__mono_ms();
	if(!batch->open) {
		return;
	}
	if(batch->events < CHAT_BATCH_MAX_EVENTS
	   && chat_clock__mono_ms() - batch->opened_ms < CHAT_BATCH_MAX_AGE_MS) {
		for(int i = 0; i < batch->nsenders && !wait; i++) {
			wait = has_bytes(batch->senders[i]);
		}
	}
	if(!wait) {
		chat_batch__flush(plugin);
	}
}


void chat_batch__after_send(struct chat_plugin *plugin)
{
	struct chat_batch *batch = plugin->batch;

	if(batch->open && chat_clock__mono_ms() - batch->last_tick_ms > CHAT_BATCH_TICK_SILENCE_MS) {
		chat_batch__flush(plugin);
	}
}


void chat_batch__note_sender(struct chat_plugin *plugin, int fd)
{
	struct chat_batch *batch = plugin->batch;

	if(fd < 0 || batch->nsenders == CHAT_BATCH_MAX_SENDERS) {
		return;
	}
	for(int i = 0; i < batch->nsenders; i++) {
		if(batch->senders[i] == fd) {
			return;
		}
	}
	batch->senders[batch->nsenders++] = fd;
}


/* Remembers ch's head as it was before the batch, once per channel. */
static int save_head(struct chat_batch *batch, struct chat_channel *ch)
{
	struct chat_batch_saved *s;

	for(s = batch->saved; s != NULL; s = s->next) {
		if(s->ch == ch) {
			return 0;
		}
	}
	s = malloc(sizeof(*s));
	if(s == NULL) {
		return -1;
	}
	*s = (struct chat_batch_saved){batch->saved,     ch, ch->head, ch->head_ts, ch->last_message_seq,
				       ch->message_count};
	batch->saved = s;
	return 0;
}


enum chat_err chat_batch__append(struct chat_plugin *plugin, struct chat_channel *ch, struct chat_event *ev,
				 struct chat_error *err)
{
	struct chat_batch *batch = plugin->batch;
	struct chat_batch_item *item;

	if(!batch->open) {
		if(chat_store__begin(plugin->store, err) != CHAT_ERR_OK) {
			return err->code;
		}
		batch->open = true;
		batch->opened_ms = chat_clock__mono_ms();
	}
	chat_ids__uuid(ev->id);
	ev->ts = chat_clock__wall_ms();
	item = calloc(1, sizeof(*item));
	if(item == NULL || save_head(batch, ch) != 0
	   || (item->json = chat_event_json__build(ev, &item->len)) == NULL) {
		free(item);
		chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		fail_batch(plugin, err);
		return err->code;
	}
	item->kind = ITEM_EVENT;
	snprintf(item->channel, sizeof(item->channel), "%s", ev->channel);
	if(chat_store__insert_event(plugin->store, ch->rowid, ev, item->json, item->len, err)
	   != CHAT_ERR_OK) {
		item_free(item);
		fail_batch(plugin, err);
		return err->code;
	}
	enqueue(batch, item);
	batch->events++;
	chat_index__advance_head(ch, ev);
	assert(chat_batch__check(batch));
	return CHAT_ERR_OK;
}


void chat_batch__answer(struct chat_plugin *plugin, const struct chat_reply_to *rt, const char *json,
			size_t len, const struct chat_error_context *ctx)
{
	struct chat_batch *batch = plugin->batch;
	struct chat_batch_item *item;
	bool kept = false;

	if(!batch->open) {
		if(json != NULL) {
			chat_reply__send(rt, json, len);
		}
		return;
	}
	item = calloc(1, sizeof(*item));
	if(item != NULL) {
		item->kind = ITEM_ANSWER;
		snprintf(item->channel, sizeof(item->channel), "%s", ctx->channel ? ctx->channel : "");
		kept = chat_reply_kept__copy(&item->to, rt) == 0;
		item->client_msg_id = dup_or_null(ctx->client_msg_id);
		item->json = json != NULL ? malloc(len + 1) : NULL;
		if(json != NULL && item->json != NULL) {
			memcpy(item->json, json, len);
			item->json[len] = '\0';
			item->len = len;
		}
	}
	if(item == NULL || !kept || (ctx->client_msg_id != NULL && item->client_msg_id == NULL)
	   || (json != NULL && item->json == NULL)) {
		/* Out of memory: the ack cannot wait for the commit, so the commit happens now. */
		if(item != NULL) {
			item_free(item);
		}
		if(chat_batch__flush(plugin) != CHAT_ERR_OK) {
			struct chat_error err = {0};
			chat_error__set(&err, CHAT_ERR_UNAVAILABLE, "storage failed; nothing was stored");
			chat_reply__error(rt, &err, ctx);
		} else if(json != NULL) {
			chat_reply__send(rt, json, len);
		}
		return;
	}
	enqueue(batch, item);
	assert(chat_batch__check(batch));
}


void chat_batch__sent_by(struct chat_plugin *plugin, const struct mosquitto *sender)
{
	if(plugin->batch->open) {
		chat_batch__note_sender(plugin, chat_broker__client_socket(sender));
		chat_batch__after_send(plugin);
	}
}


/* ---- the invariant checker (batch.h) --------------------------------------------------------------- */

/* Describes a broken invariant in why (which may be NULL) and returns false. */
__attribute__((format(printf, 3, 4))) static bool broken(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if(why != NULL && why_len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return false;
}


/* The queue from first to last: no cycle (Floyd's), last is its end; counts its event items. */
static bool queue_ok(const struct chat_batch *batch, size_t *events, char *why, size_t why_len)
{
	const struct chat_batch_item *slow = batch->first, *fast = batch->first, *end = NULL;

	*events = 0;
	if((batch->first == NULL) != (batch->last == NULL)) {
		return broken(why, why_len, "first and last disagree on whether the queue is empty");
	}
	while(fast != NULL && fast->next != NULL) {
		slow = slow->next;
		fast = fast->next->next;
		if(slow == fast) {
			return broken(why, why_len, "the queue has a cycle");
		}
	}
	for(const struct chat_batch_item *item = batch->first; item != NULL; item = item->next) {
		size_t chars = strnlen(item->channel, sizeof(item->channel));
		if(chars == sizeof(item->channel)) {
			return broken(why, why_len, "an item's channel is not terminated");
		}
		if(item->kind == ITEM_EVENT) {
			if(item->json == NULL || item->len != strlen(item->json) || chars == 0) {
				return broken(why, why_len, "an event of #%s without its JSON",
					      item->channel);
			}
			(*events)++;
		} else if(item->kind == ITEM_ANSWER) {
			if(item->to.client_id == NULL || item->to.topic == NULL
			   || (item->json != NULL && item->len != strlen(item->json))
			   || (item->to.correlation_len > 0 && item->to.correlation == NULL)) {
				return broken(why, why_len, "an answer in #%s without its address or JSON",
					      item->channel);
			}
		} else {
			return broken(why, why_len, "an item of kind %d", (int)item->kind);
		}
		end = item;
	}
	if(end != batch->last) {
		return broken(why, why_len, "last is not the end of the queue");
	}
	return true;
}


/* The events the queue holds for channel name. */
static int64_t events_of(const struct chat_batch *batch, const char *name)
{
	int64_t n = 0;

	for(const struct chat_batch_item *item = batch->first; item != NULL; item = item->next) {
		n += item->kind == ITEM_EVENT && strcmp(item->channel, name) == 0;
	}
	return n;
}


static bool saved_ok(const struct chat_batch *batch, char *why, size_t why_len)
{
	for(const struct chat_batch_saved *s = batch->saved; s != NULL; s = s->next) {
		const struct chat_channel *ch = s->ch;
		int64_t appended;

		if(ch == NULL) {
			return broken(why, why_len, "a saved head without its channel");
		}
		for(const struct chat_batch_saved *t = s->next; t != NULL; t = t->next) {
			if(t->ch == ch) {
				return broken(why, why_len, "#%s is saved twice", ch->name);
			}
		}
		if(s->head > ch->head || s->last_message_seq > ch->last_message_seq
		   || s->message_count > ch->message_count) {
			return broken(
				why, why_len,
				"#%s: restoring would move it forward (head %lld -> %lld, last message %lld "
				"-> %lld, messages %lld -> %lld)",
				ch->name, (long long)ch->head, (long long)s->head,
				(long long)ch->last_message_seq, (long long)s->last_message_seq,
				(long long)ch->message_count, (long long)s->message_count);
		}
		appended = events_of(batch, ch->name);
		if(ch->head - s->head != appended || ch->message_count - s->message_count > appended) {
			return broken(why, why_len,
				      "#%s: head %lld from %lld (%lld messages from %lld) with %lld events",
				      ch->name, (long long)ch->head, (long long)s->head,
				      (long long)ch->message_count, (long long)s->message_count,
				      (long long)appended);
		}
	}
	for(const struct chat_batch_item *item = batch->first; item != NULL; item = item->next) {
		const struct chat_batch_saved *s = batch->saved;
		while(item->kind == ITEM_EVENT && s != NULL && strcmp(s->ch->name, item->channel) != 0) {
			s = s->next;
		}
		if(item->kind == ITEM_EVENT && s == NULL) {
			return broken(why, why_len, "an event of #%s whose head was not saved",
				      item->channel);
		}
	}
	return true;
}


bool chat_batch__check_why(const struct chat_batch *batch, char *why, size_t why_len)
{
	size_t events = 0;

	if(!queue_ok(batch, &events, why, why_len)) {
		return false;
	}
	if(events != batch->events) {
		return broken(why, why_len, "events is %zu, the queue holds %zu", batch->events, events);
	}
	if(!batch->open && (batch->first != NULL || batch->saved != NULL)) {
		return broken(why, why_len, "a closed batch holds %s",
			      batch->first != NULL ? "items" : "saved heads");
	}
	if(batch->open && (batch->events == 0 || batch->saved == NULL)) {
		return broken(why, why_len, "an open batch with no event");
	}
	if(!saved_ok(batch, why, why_len)) {
		return false;
	}
	if(batch->nsenders < 0 || batch->nsenders > CHAT_BATCH_MAX_SENDERS) {
		return broken(why, why_len, "%d senders watched", batch->nsenders);
	}
	for(int i = 0; i < batch->nsenders; i++) {
		bool twice = false;
		for(int j = 0; j < i; j++) {
			twice = twice || batch->senders[i] == batch->senders[j];
		}
		if(batch->senders[i] < 0 || twice) {
			return broken(why, why_len, "sender socket %d is %s", batch->senders[i],
				      twice ? "watched twice" : "not a socket");
		}
	}
	if(batch->committed < batch->commits) {
		return broken(why, why_len, "%lu commits of %lu events", batch->commits, batch->committed);
	}
	return true;
}


bool chat_batch__check(const struct chat_batch *batch)
{
	char why[256];

	if(chat_batch__check_why(batch, why, sizeof(why))) {
		return true;
	}
	fprintf(stderr, "chat_batch__check: %s\n", why);
	return false;
}
