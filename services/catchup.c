/*
 * catchup.c - serves pages of a channel's log, keyed by cursor.
 *
 * A page holds the stored events with seq > since, in seq order: at most `limit` of them, and no more
 * bytes than plugin_opt_catchup_page_bytes (but always at least one event when there is one). Each page
 * is one MQTT message to the requester only, so a long history never floods the broker's per-client
 * queue: the client asks for the next page when it has this one. Events are copied from the store as
 * stored, so they are byte for byte what live subscribers received.
 *
 * `next` is the last seq returned (or since when none), `more` says whether the log holds events
 * after next. Repeating with since = next while more is true yields every event exactly once.
 *
 * Backward (an extension, for a client that opens a channel at its newest messages and reads back):
 * with "before":B the page holds the newest events with since < seq < B that fit, still in seq order;
 * the reply adds "before" and "first" (the lowest seq returned, or B when none), and `more` says
 * whether events remain between since and first. Repeating with before = first while more is true
 * yields every event exactly once, newest pages first. Seqs have no gaps, so that is exact.
 *
 * Retention (retention.h) removes a channel's oldest events. When the request reaches below the first
 * seq still kept (since < kept - 1), the reply says so instead of pretending the history is whole:
 * "truncated":true and "first": the first kept seq (forward), or the lowest seq returned, which is then
 * the first kept (backward; `more` is false once it is reached).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catchup.h"
#include "clock.h"
#include "json_fields.h"
#include "ratelimit.h"
#include "retention.h"
#include "store.h"

struct page {
	char *buf; /* the events array's contents: "{...},{...}" */
	size_t len, cap;
	size_t budget; /* bytes the events may take */
	int64_t last_seq;
	size_t count;
	bool out_of_memory;
};


static bool page_add(int64_t seq, const char *json, size_t len, void *ctx)
{
	struct page *page = ctx;
	size_t need = page->len + len + 1;

	if(page->count > 0 && need > page->budget) {
		return false;
	}
	if(need > page->cap) {
		size_t cap = page->cap ? page->cap * 2 : 4096;
		char *buf;
		while(cap < need) {
			cap *= 2;
		}
		buf = realloc(page->buf, cap);
		if(buf == NULL) {
			page->out_of_memory = true;
			return false;
		}
		page->buf = buf;
		page->cap = cap;
	}
	if(page->count > 0) {
		page->buf[page->len++] = ',';
	}
	memcpy(page->buf + page->len, json, len);
	page->len += len;
	page->last_seq = seq;
	page->count++;
	return true;
}


/* A backward page while it is collected: the store hands the events newest first. */
struct back_item {
	int64_t seq;
	char *json;
	size_t len;
};

struct back_page {
	struct back_item *items;
	size_t count, cap;
	size_t bytes, budget;
	bool out_of_memory;
};


static bool back_add(int64_t seq, const char *json, size_t len, void *ctx)
{
	struct back_page *back = ctx;
	struct back_item *item;

	if(back->count > 0 && back->bytes + len + 1 > back->budget) {
		return false;
	}
	if(back->count == back->cap) {
		size_t cap = back->cap ? back->cap * 2 : 64;
		struct back_item *items = realloc(back->items, cap * sizeof(*items));
		if(items == NULL) {
			back->out_of_memory = true;
			return false;
		}
		back->items = items;
		back->cap = cap;
	}
	item = &back->items[back->count];
	item->json = malloc(len);
	if(item->json == NULL) {
		back->out_of_memory = true;
		return false;
	}
	memcpy(item->json, json, len);
	item->len = len;
	item->seq = seq;
	back->count++;
	back->bytes += len + 1;
	return true;
}


static void back_clear(struct back_page *back)
{
	for(size_t i = 0; i < back->count; i++) {
		free(back->items[i].json);
	}
	free(back->items);
}


static enum chat_err parse_request(const struct chat_config *config, const void *payload, size_t len,
				   int64_t *since, int64_t *before, int64_t *limit, struct chat_error *err)
{
	cJSON *obj = NULL;
	enum chat_err rc;
	const char *p = payload;
	size_t i = 0;

	*since = 0;
	*before = 0;
	*limit = config->catchup_limit;
	while(i < len && strchr(" \t\r\n", p[i]) != NULL) {
		i++;
	}
	if(i == len) {
		return CHAT_ERR_OK;
	}
	if(chat_json__parse_object(payload, len, "a catch-up request is a JSON object", &obj, err)
	   != CHAT_ERR_OK) {
		return err->code;
	}
	rc = chat_json__int(obj, "since", false, 0, CHAT_JSON_INT_MAX, since, err);
	if(rc == CHAT_ERR_OK) {
		rc = chat_json__int(obj, "before", false, 1, CHAT_JSON_INT_MAX, before, err);
	}
	if(rc == CHAT_ERR_OK) {
		rc = chat_json__int(obj, "limit", false, 1, CHAT_JSON_INT_MAX, limit, err);
	}
	cJSON_Delete(obj);
	if(*limit > config->catchup_max_limit) {
		*limit = config->catchup_max_limit;
	}
	return rc;
}


/* {"ok":true,"kind":"sync",...,"events":[...]}: built by hand around the stored event texts, which are
 * JSON already. Channel ids and epochs never need escaping. before is 0 for a forward page. */
static char *build_reply(const struct chat_channel *ch, int64_t since, int64_t before, int64_t first,
			 int64_t kept, const struct page *page, size_t *len)
{
	int64_t next = page->count > 0 ? page->last_seq : since;
	int64_t floor = since > kept - 1 ? since : kept - 1; /* below it nothing is left to read */
	bool truncated = since < kept - 1;
	bool more = before > 0 ? first > floor + 1 : next < ch->head;
	char head[640], extra[128] = "";
	int head_len;
	char *reply;

	if(before > 0) {
		snprintf(extra, sizeof(extra), "\"before\":%lld,\"first\":%lld,%s", (long long)before,
			 (long long)first, truncated && !more ? "\"truncated\":true," : "");
	} else if(truncated) {
		snprintf(extra, sizeof(extra), "\"truncated\":true,\"first\":%lld,", (long long)kept);
	}
	head_len =
		snprintf(head, sizeof(head),
			 "{\"ok\":true,\"kind\":\"sync\",\"channel\":\"%s\",\"epoch\":\"%s\",\"since\":%lld,"
			 "%s\"next\":%lld,\"head\":%lld,\"more\":%s,\"events\":[",
			 ch->name, ch->epoch, (long long)since, extra, (long long)next, (long long)ch->head,
			 more ? "true" : "false");
	reply = malloc((size_t)head_len + page->len + 3);
	if(reply == NULL) {
		return NULL;
	}
	memcpy(reply, head, (size_t)head_len);
	if(page->len > 0) {
		memcpy(reply + head_len, page->buf, page->len);
	}
	memcpy(reply + head_len + page->len, "]}", 3);
	*len = (size_t)head_len + page->len + 2;
	return reply;
}


/* The newest events below before (and above since) that fit, into page in seq order; *first is the
 * lowest seq taken, or before when none. */
static enum chat_err collect_backward(struct chat_plugin *plugin, const struct chat_channel *ch,
				      int64_t since, int64_t before, int64_t limit, struct page *page,
				      int64_t *first, struct chat_error *err)
{
	struct back_page back = {.budget = page->budget};
	enum chat_err rc = CHAT_ERR_OK;

	*first = before;
	if(before - 1 > since) {
		rc = chat_store__events_before(plugin->store, ch->rowid, since, before, limit, back_add,
					       &back, err);
	}
	for(size_t i = back.count; rc == CHAT_ERR_OK && i > 0 && !back.out_of_memory; i--) {
		const struct back_item *item = &back.items[i - 1];
		if(!page_add(item->seq, item->json, item->len, page)) {
			break;
		}
	}
	if(back.count > 0) {
		*first = back.items[back.count - 1].seq;
	}
	page->out_of_memory |= back.out_of_memory;
	back_clear(&back);
	return rc;
}


static enum chat_err serve(struct chat_plugin *plugin, const struct chat_reply_to *rt,
			   struct chat_channel *ch, int64_t since, int64_t before, int64_t limit,
			   struct chat_error *err)
{
	int64_t kept = chat_retention__first(plugin, ch);
	struct page page = {.budget = plugin->config.catchup_page_bytes - 512};
	int64_t first = 0;
	size_t len = 0;
	char *reply;
	enum chat_err rc = CHAT_ERR_OK;

	if(before > 0) {
		rc = collect_backward(plugin, ch, since, before, limit, &page, &first, err);
	} else if(since < ch->head) {
		rc = chat_store__events_after(plugin->store, ch->rowid, since, limit, page_add, &page, err);
	}
	if(rc != CHAT_ERR_OK) {
		free(page.buf);
		return err->code;
	}
	reply = page.out_of_memory ? NULL : build_reply(ch, since, before, first, kept, &page, &len);
	free(page.buf);
	if(reply == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	chat_reply__send(rt, reply, len);
	free(reply);
	plugin->metrics.catchup_pages++;
	return CHAT_ERR_OK;
}


enum chat_err chat_catchup__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					   const struct chat_reply_to *rt, const char *channel,
					   size_t channel_len, const void *payload, size_t len)
{
	char name[CHAT_CHANNEL_ID_MAX + 1];
	struct chat_error_context ctx = {.channel = name};
	struct chat_error err = {0};
	struct chat_channel *ch = NULL;
	int64_t since = 0, before = 0, limit = 0;

	snprintf(name, sizeof(name), "%.*s", (int)channel_len, channel);
	if(parse_request(&plugin->config, payload, len, &since, &before, &limit, &err) != CHAT_ERR_OK
	   || chat_index__lookup_member(&plugin->index, channel, channel_len, who->user, &ch, NULL, &err)
		      != CHAT_ERR_OK
	   || serve(plugin, rt, ch, since, before, limit, &err) != CHAT_ERR_OK) {
		return chat_reply__error(rt, &err, &ctx);
	}
	return CHAT_ERR_OK;
}
