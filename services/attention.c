/*
 * attention.c - the `mentions` op and the inbox's mention count and level.
 *
 * Access is decided here, from the in-memory index, when the request arrives: the channels the asker
 * is a member of now. The store is handed that set and filters inside its query, so a mention in a
 * channel the asker has left is never returned. Events are served as stored (a deleted message's
 * mentions are gone with it: schema/0010_attention.sql).
 *
 * Paging is by time, as the contract has it: the next page asks before_ts = the ts of the last event
 * returned. Events of the very same millisecond as that one, beyond the page, are then skipped: rare
 * (one user's mentions within 1 ms), and the inbox counts stay exact whatever the paging.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "json_fields.h"
#include "store.h"

struct page {
	cJSON *events;
	size_t budget, bytes;
	int64_t limit, count;
	bool more, out_of_memory;
};


static bool page_add(int64_t channel, int64_t seq, int64_t ts, const char *json, size_t len, void *ctx)
{
	struct page *page = ctx;
	cJSON *item;

	(void)channel;
	(void)seq;
	(void)ts;
	if(page->count == page->limit || (page->count > 0 && page->bytes + len + 1 > page->budget)) {
		page->more = true;
		return false;
	}
	item = cJSON_CreateRaw(json);
	if(item == NULL || !cJSON_AddItemToArray(page->events, item)) {
		cJSON_Delete(item);
		page->out_of_memory = true;
		return false;
	}
	page->bytes += len + 1;
	page->count++;
	return true;
}


/* The rowids of user's channels now, as a JSON array ("[3,7]"), malloc'd into *out. */
static enum chat_err channel_list(struct chat_plugin *plugin, const char *user, char **out,
				  struct chat_error *err)
{
	const struct chat_user *u = chat_index__user(&plugin->index, user);
	size_t n = u ? HASH_COUNT(u->channels) : 0, len = 0, cap = 2 + n * 21;
	const struct chat_membership *ms, *tmp;
	char *json = malloc(cap + 1);

	*out = NULL;
	if(json == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	json[len++] = '[';
	if(u != NULL) {
		HASH_ITER(hh, u->channels, ms, tmp) {
			len += (size_t)snprintf(json + len, cap + 1 - len, "%s%" PRId64, len > 1 ? "," : "",
						ms->channel->rowid);
		}
	}
	json[len++] = ']';
	json[len] = '\0';
	*out = json;
	return CHAT_ERR_OK;
}


enum chat_err chat_attention__mentions(struct chat_plugin *plugin, const char *user, const cJSON *request,
				       cJSON *reply, struct chat_error *err)
{
	struct page page = {.budget = plugin->config.catchup_page_bytes,
			    .limit = CHAT_MENTIONS_LIMIT_DEFAULT};
	int64_t before_ts = INT64_MAX;
	char *channels = NULL;
	enum chat_err rc;

	if(chat_json__int(request, "limit", false, 1, CHAT_JSON_INT_MAX, &page.limit, err) != CHAT_ERR_OK
	   || chat_json__int(request, "before_ts", false, 0, CHAT_JSON_INT_MAX, &before_ts, err)
		      != CHAT_ERR_OK) {
		return err->code;
	}
	if(page.limit > CHAT_MENTIONS_LIMIT_MAX) {
		page.limit = CHAT_MENTIONS_LIMIT_MAX; /* as catch-up: lowered, not refused */
	}
	page.events = cJSON_AddArrayToObject(reply, "events");
	if(page.events == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	if(channel_list(plugin, user, &channels, err) != CHAT_ERR_OK) {
		return err->code;
	}
	/* one event more than the limit is read, to know whether another page exists */
	rc = chat_store__mentions_of(plugin->store, channels, user, before_ts, page.limit + 1, page_add,
				     &page, err);
	free(channels);
	if(rc != CHAT_ERR_OK) {
		return rc;
	}
	if(page.out_of_memory || cJSON_AddBoolToObject(reply, "more", page.more) == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_attention__inbox_fields(struct chat_inbox_reader *r, const struct chat_channel *ch,
					   const char *user, int64_t read_seq, cJSON *entry,
					   struct chat_error *err)
{
	enum chat_notify_level level;
	int64_t mentions;

	if(chat_inbox_reader__read(r, ch->rowid, user, read_seq, &mentions, &level, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(cJSON_AddNumberToObject(entry, "mentions", (double)mentions) == NULL
	   || cJSON_AddStringToObject(entry, "notify", chat_notify_level__name(level)) == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return CHAT_ERR_OK;
}
