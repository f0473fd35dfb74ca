/*
 * mqc_converge.c - the convergence rule of docs/protocol.md, one channel at a time.
 *
 * On each connection: (subscribed to chat/# already) ask the inbox ({"op":"channels"}) for the
 * channels the user is in, with each one's epoch and head. A channel whose epoch differs from the
 * stored one is reset (history dropped, cursor 0). Every channel with head > cursor, or no epoch yet,
 * is caught up: {"since":cursor,"limit":L} to chat/<ch>/sync, applying the page's events in seq order,
 * again from "next" while "more" is true.
 *
 * A live event (chat/<ch>) with seq == cursor + 1, when no catch-up of the channel is running, is
 * applied at once; one at or below the cursor is a duplicate and ignored; anything else (above a gap,
 * or during a catch-up, or of a channel with no epoch yet) waits in the channel's pending list. When a
 * catch-up ends, pending events that follow the cursor are applied; if some remain, there is a gap
 * and catch-up starts again. Applying an event = append it to the events file, advance the cursor,
 * call on_event: so on_event sees each (epoch, seq) once, in order, with no gap.
 */
#include <stdlib.h>
#include <string.h>

#include "mqc_internal.h"


struct mqc_channel *mqc__channel(struct mqc *c, const char *name, bool create)
{
	struct mqc_channel *ch, **tail = &c->channels;

	for(ch = c->channels; ch; ch = ch->next) {
		if(strcmp(ch->name, name) == 0) {
			return ch;
		}
		tail = &ch->next;
	}
	if(!create || !mqc__valid_channel(name) || (ch = calloc(1, sizeof(*ch))) == NULL) {
		return NULL;
	}
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	*tail = ch; /* kept in the order first seen: the state file stays stable */
	return ch;
}


static void drop_pending(struct mqc_channel *ch, size_t count)
{
	if(count == 0) {
		return; /* pending may still be NULL */
	}
	for(size_t i = 0; i < count; i++) {
		free(ch->pending[i].json);
	}
	memmove(ch->pending, ch->pending + count, (ch->npending - count) * sizeof(*ch->pending));
	ch->npending -= count;
}


void mqc__channel_free(struct mqc_channel *ch)
{
	if(ch != NULL) {
		drop_pending(ch, ch->npending);
		free(ch->pending);
		free(ch);
	}
}


/* Asks for the page after since; the page that answers it is the only one applied (sync_since). */
static void request_page_from(struct mqc *c, struct mqc_channel *ch, int64_t since)
{
	char topic[MQC_CH_MAX + 16], payload[96 + MQC_CH_MAX], corr[MQC_CH_MAX + 3];

	int active = 0;

	ch->syncing = true;
	ch->sync_since = since;
	ch->sync_sent_ms = mqc__now_ms();
	c->synced_reported = false;
	for(struct mqc_channel *o = c->channels; o && !ch->sync_sent; o = o->next) {
		active += o->sync_sent;
	}
	if(!c->connected || active >= MQC_MAX_SYNCS) {
		ch->sync_sent = false; /* asked by the tick, once connected and a slot is free */
		return;
	}
	ch->sync_sent = true;
	snprintf(topic, sizeof(topic), "chat/%s/sync", ch->name);
	snprintf(corr, sizeof(corr), "s:%s", ch->name);
	snprintf(payload, sizeof(payload), "{\"since\":%lld,\"limit\":%d,\"ref\":\"%s\"}", (long long)since,
		 c->page_limit, corr);
	if(mqc__publish(c, topic, payload, corr) != MOSQ_ERR_SUCCESS) {
		mqc__log(c, "catch-up of #%s not sent; retried", ch->name);
	}
}


static void request_page(struct mqc *c, struct mqc_channel *ch)
{
	request_page_from(c, ch, ch->cursor);
}


/* Asks for the pages that wait for a slot, while there are free ones. */
static void start_waiting(struct mqc *c)
{
	for(struct mqc_channel *ch = c->channels; ch && c->connected; ch = ch->next) {
		if(ch->syncing && !ch->sync_sent) {
			request_page_from(c, ch, ch->sync_since);
			if(!ch->sync_sent) {
				return; /* no slot left */
			}
		}
	}
}


static void report_synced(struct mqc *c)
{
	if(c->synced_reported || !c->connected || !c->inbox_done) {
		return;
	}
	for(struct mqc_channel *ch = c->channels; ch; ch = ch->next) {
		if(ch->syncing) {
			return;
		}
	}
	c->synced_reported = true;
	if(c->cb.on_synced) {
		c->cb.on_synced(c->ud);
	}
}


/* Applies the event with seq == cursor + 1 (the caller checked). */
static int apply(struct mqc *c, struct mqc_channel *ch, const char *json, const cJSON *event)
{
	if(mqc__events_append(c, ch, json) != 0) {
		mqc__log(c, "cannot append to %s: event of #%s not applied", c->events_path, ch->name);
		return -1;
	}
	ch->cursor++;
	c->state_dirty = true;
	if(c->cb.on_event) {
		c->cb.on_event(c->ud, ch->name, event);
	}
	return 0;
}


static void reset(struct mqc *c, struct mqc_channel *ch, const char *epoch)
{
	char old[MQC_EPOCH_MAX + 1];

	snprintf(old, sizeof(old), "%s", ch->epoch);
	snprintf(ch->epoch, sizeof(ch->epoch), "%s", epoch);
	ch->cursor = 0;
	c->state_dirty = true;
	mqc__log(c, "#%s: epoch %s -> %s, history dropped", ch->name, old[0] ? old : "-", epoch);
	if(c->cb.on_reset) {
		c->cb.on_reset(c->ud, ch->name, old, epoch);
	}
}


/* Applies what waits in pending from cursor + 1 on; a leftover means a gap: catch up. */
static void drain_pending(struct mqc *c, struct mqc_channel *ch)
{
	size_t used = 0;

	while(used < ch->npending && ch->pending[used].seq <= ch->cursor + 1) {
		struct mqc_pending *p = &ch->pending[used];
		if(p->seq == ch->cursor + 1) {
			cJSON *ev = cJSON_Parse(p->json);
			int rc = apply(c, ch, p->json, ev);
			cJSON_Delete(ev);
			if(rc != 0) {
				break;
			}
		}
		used++;
	}
	drop_pending(ch, used);
	if(ch->npending > 0) {
		request_page(c, ch);
	}
}


void mqc__converge_on_connect(struct mqc *c)
{
	char payload[96];

	c->inbox_done = false;
	c->synced_reported = false;
	for(struct mqc_channel *ch = c->channels; ch; ch = ch->next) {
		ch->syncing = false; /* any page asked on the last connection is lost */
		ch->sync_sent = false;
	}
	snprintf(c->inbox_ref, sizeof(c->inbox_ref), "mqc-inbox-%u", ++c->ref_counter);
	snprintf(payload, sizeof(payload), "{\"op\":\"channels\",\"ref\":\"a:%s\"}", c->inbox_ref);
	c->inbox_pending = true;
	c->inbox_sent_ms = mqc__now_ms();
	{
		char corr[40];
		snprintf(corr, sizeof(corr), "a:%s", c->inbox_ref);
		mqc__publish(c, "chat/_api", payload, corr);
	}
}


void mqc__converge_on_inbox(struct mqc *c, const cJSON *reply)
{
	const cJSON *entry;

	if(c->inbox_done) {
		return; /* an answer to a repeated request */
	}
	c->inbox_pending = false;
	c->inbox_done = true;
	cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(reply, "channels")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "channel"));
		const char *epoch = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "epoch"));
		const cJSON *head = cJSON_GetObjectItemCaseSensitive(entry, "head");
		struct mqc_channel *ch = name ? mqc__channel(c, name, true) : NULL;

		if(ch == NULL || epoch == NULL || !cJSON_IsNumber(head)) {
			continue;
		}
		if(ch->epoch[0] && strcmp(ch->epoch, epoch) != 0) {
			reset(c, ch, epoch);
		}
		if(!ch->syncing && (ch->epoch[0] == '\0' || (int64_t)head->valuedouble != ch->cursor)) {
			request_page(c, ch);
		}
	}
	for(struct mqc_channel *ch = c->channels; ch; ch = ch->next) {
		if(!ch->syncing && ch->npending > 0) {
			/* live events that came before the answer, of a channel joined meanwhile too */
			request_page(c, ch);
		}
	}
	report_synced(c);
}


void mqc__converge_on_page(struct mqc *c, const cJSON *reply)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "channel"));
	const char *epoch = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "epoch"));
	const cJSON *since = cJSON_GetObjectItemCaseSensitive(reply, "since");
	const cJSON *ev;
	int64_t next;
	bool more;
	struct mqc_channel *ch = name ? mqc__channel(c, name, false) : NULL;

	if(ch == NULL || !ch->syncing || epoch == NULL || !cJSON_IsNumber(since)
	   || (int64_t)since->valuedouble != ch->sync_since
	   || cJSON_GetObjectItemCaseSensitive(reply, "before") != NULL) {
		return; /* not the page we wait for: stale, or not ours */
	}
	if(ch->epoch[0] == '\0' || strcmp(ch->epoch, epoch) != 0) {
		if(ch->epoch[0]) {
			reset(c, ch, epoch);
		}
		snprintf(ch->epoch, sizeof(ch->epoch), "%s", epoch);
		if(ch->sync_since != 0) {
			request_page(c, ch); /* the page is from a cursor of the old log: from 0 again */
			return;
		}
	}
	/* the next page is asked for before this one is applied: the server reads it meanwhile */
	more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "more"));
	next = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(reply, "next"))
		       ? (int64_t)cJSON_GetObjectItemCaseSensitive(reply, "next")->valuedouble
		       : -1;
	if(more && next > ch->cursor) {
		request_page_from(c, ch, next);
	}
	if(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "truncated"))) {
		const cJSON *first = cJSON_GetObjectItemCaseSensitive(reply, "first");

		if(cJSON_IsNumber(first) && (int64_t)first->valuedouble - 1 > ch->cursor) {
			/* retention removed what lies below first: gone for good, not a gap to ask for again
			 */
			mqc__log(c, "#%s: history before seq %lld was removed by retention", ch->name,
				 (long long)first->valuedouble);
			ch->cursor = (int64_t)first->valuedouble - 1;
			c->state_dirty = true;
		}
	}
	cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(reply, "events")) {
		const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
		int64_t s = cJSON_IsNumber(seq) ? (int64_t)seq->valuedouble : -1;
		char *json;
		int rc;

		if(s <= ch->cursor) {
			continue;
		}
		if(s != ch->cursor + 1) {
			mqc__log(c, "#%s: catch-up jumped from %lld to %lld", ch->name, (long long)ch->cursor,
				 (long long)s);
			break;
		}
		json = cJSON_PrintUnformatted(ev);
		rc = json ? apply(c, ch, json, ev) : -1;
		free(json);
		if(rc != 0) {
			break;
		}
	}
	if(mqc__state_save(c, false) != 0) {
		mqc__log(c, "cannot write %s", c->state_path);
	}
	if(more && ch->cursor != next) {
		/* not all applied (a full disk?): ask again from the cursor, now if there was progress,
		 * else from the tick, later; the page in flight, if any, is stale */
		if(ch->cursor > (int64_t)since->valuedouble) {
			request_page(c, ch);
		} else {
			ch->sync_since = ch->cursor;
			ch->sync_sent_ms = mqc__now_ms();
		}
		return;
	} else if(more) {
		return; /* the next page is on its way */
	}
	ch->syncing = false;
	ch->sync_sent = false;
	drain_pending(c, ch);
	start_waiting(c);
	if(c->state_dirty) {
		mqc__state_save(c, false);
	}
	report_synced(c);
}


void mqc__converge_on_sync_error(struct mqc *c, const char *name, const char *code, const cJSON *err)
{
	struct mqc_channel *ch = mqc__channel(c, name, false);
	const cJSON *after = cJSON_GetObjectItemCaseSensitive(err, "retry_after_ms");

	if(ch == NULL || !ch->syncing) {
		return;
	}
	if(strcmp(code, "rate_limited") == 0 || strcmp(code, "unavailable") == 0) {
		/* asked again by the tick once the server's budget admits it */
		ch->retry_at_ms = mqc__now_ms() + (cJSON_IsNumber(after) ? (int64_t)after->valuedouble : 500);
		return;
	}
	/* not_member, no_such_channel: the user left or was removed; nothing to catch up */
	ch->syncing = false;
	ch->sync_sent = false;
	drop_pending(ch, ch->npending);
	start_waiting(c);
	if(c->cb.on_error) {
		c->cb.on_error(c->ud, name, NULL, code,
			       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message")));
	}
	report_synced(c);
}


/* Keeps ev in ch's pending list, sorted by seq, once. Takes ownership of json. */
static void add_pending(struct mqc_channel *ch, int64_t seq, char *json)
{
	size_t i = ch->npending;

	while(i > 0 && ch->pending[i - 1].seq >= seq) {
		if(ch->pending[i - 1].seq == seq) {
			free(json);
			return;
		}
		i--;
	}
	if(ch->npending == ch->cap_pending) {
		size_t cap = ch->cap_pending ? ch->cap_pending * 2 : 16;
		struct mqc_pending *p = realloc(ch->pending, cap * sizeof(*p));
		if(p == NULL) {
			free(json); /* lost from the buffer only: catch-up fetches it */
			return;
		}
		ch->pending = p;
		ch->cap_pending = cap;
	}
	memmove(ch->pending + i + 1, ch->pending + i, (ch->npending - i) * sizeof(*ch->pending));
	ch->pending[i].seq = seq;
	ch->pending[i].json = json;
	ch->npending++;
}


void mqc__converge_on_live(struct mqc *c, const char *name, const char *payload, int len)
{
	cJSON *ev = cJSON_ParseWithLength(payload, (size_t)len);
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
	struct mqc_channel *ch;
	int64_t s;

	if(!cJSON_IsNumber(seq) || (ch = mqc__channel(c, name, true)) == NULL) {
		cJSON_Delete(ev);
		return;
	}
	s = (int64_t)seq->valuedouble;
	if(s <= ch->cursor && ch->epoch[0]) {
		cJSON_Delete(ev); /* we have it */
		return;
	}
	/* until the inbox has confirmed the epoch on this connection, even the next seq waits: after a
	 * restore it would belong to another log */
	if(!ch->syncing && c->inbox_done && ch->epoch[0] && s == ch->cursor + 1) {
		char *json = strndup(payload, (size_t)len);
		if(json == NULL || apply(c, ch, json, ev) != 0) {
			request_page(c, ch); /* could not keep it: catch-up fetches it again */
		} else {
			drain_pending(c, ch);
		}
		free(json);
		mqc__state_save(c, false);
	} else {
		char *json = strndup(payload, (size_t)len);
		if(json != NULL) {
			add_pending(ch, s, json);
		}
		if(!ch->syncing && c->inbox_done) {
			request_page(c, ch); /* a gap, or a channel we just joined: catch up */
		}
	}
	cJSON_Delete(ev);
}


void mqc__converge_tick(struct mqc *c, int64_t now)
{
	if(!c->connected) {
		return;
	}
	if(!c->inbox_done && now - c->inbox_sent_ms > (c->inbox_pending ? c->retry_ms : 1000)) {
		mqc__converge_on_connect(c);
	}
	start_waiting(c);
	for(struct mqc_channel *ch = c->channels; ch; ch = ch->next) {
		if(!ch->sync_sent) {
			continue;
		}
		if(ch->syncing && now >= ch->retry_at_ms && now - ch->sync_sent_ms > c->retry_ms) {
			request_page(c, ch); /* the page was lost (answers are QoS 0) */
		} else if(ch->syncing && ch->retry_at_ms && now >= ch->retry_at_ms) {
			ch->retry_at_ms = 0;
			request_page(c, ch);
		}
	}
	if(c->state_dirty) {
		mqc__state_save(c, false);
	}
}
