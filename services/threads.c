/*
 * threads.c - the `thread` op: a root message and a page of its thread.
 *
 * A thread is one level deep (send.c refuses a reply to a reply): a root message, the messages whose
 * `thread` is the root's seq, and the edits, deletes and reactions that target those replies. A page
 * is like a catch-up page: the thread's events with seq > since, in seq order, at most `limit`
 * (default plugin_opt_catchup_limit, lowered to plugin_opt_catchup_max_limit) and at most
 * plugin_opt_catchup_page_bytes of them (always at least one); `next` is the last seq returned (or
 * since), `more` whether the thread holds events after it. Repeating with since = next while more is
 * true yields every event of the thread exactly once. Events are served as stored, so a deleted reply
 * comes erased ("deleted":true, no body), as catch-up serves it; the root is served as stored too
 * (its edits are events of the channel, not of the thread).
 *
 * Errors, all bad_request with a message saying which: a root that is no event of the channel (a seq
 * of another channel is no event of this one), an event that is not a message, a message that is itself
 * a reply, a deleted root. Nothing is read for a non-member: no_such_channel / not_member first.
 */
#include <stdlib.h>
#include <string.h>

#include "attention_store.h"
#include "json_fields.h"
#include "retention.h"
#include "store.h"
#include "threads.h"
#include "topic.h"

struct page {
	cJSON *replies;
	size_t budget, bytes;
	int64_t limit, count, last_seq;
	bool more, out_of_memory;
};


static bool page_add(int64_t channel, int64_t seq, int64_t ts, const char *json, size_t len, void *ctx)
{
	struct page *page = ctx;
	cJSON *item;

	(void)channel;
	(void)ts;
	if(page->count == page->limit || (page->count > 0 && page->bytes + len + 1 > page->budget)) {
		page->more = true; /* the one row read past the limit, or one that does not fit */
		return false;
	}
	item = cJSON_CreateRaw(json);
	if(item == NULL || !cJSON_AddItemToArray(page->replies, item)) {
		cJSON_Delete(item);
		page->out_of_memory = true;
		return false;
	}
	page->bytes += len + 1;
	page->count++;
	page->last_seq = seq;
	return true;
}


static enum chat_err read_fields(struct chat_plugin *plugin, const cJSON *request, const char **name,
				 int64_t *root, int64_t *since, int64_t *limit, struct chat_error *err)
{
	*since = 0;
	*limit = plugin->config.catchup_limit;
	if(chat_json__string(request, "channel", true, 1, CHAT_CHANNEL_ID_MAX, name, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(!chat_channel_id__valid(*name, strlen(*name))) {
		return chat_error__set(
			err, CHAT_ERR_BAD_REQUEST,
			"channel ids are 1-64 characters of A-Z a-z 0-9 . _ - not starting with _");
	}
	if(chat_json__int(request, "root", true, 1, CHAT_JSON_INT_MAX, root, err) != CHAT_ERR_OK
	   || chat_json__int(request, "since", false, 0, CHAT_JSON_INT_MAX, since, err) != CHAT_ERR_OK
	   || chat_json__int(request, "limit", false, 1, CHAT_JSON_INT_MAX, limit, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(*limit > plugin->config.catchup_max_limit) {
		*limit = plugin->config.catchup_max_limit; /* as catch-up: lowered, not refused */
	}
	return CHAT_ERR_OK;
}


/* root must be a message of ch that is neither a reply nor deleted. */
static enum chat_err check_root(struct chat_plugin *plugin, const struct chat_channel *ch, int64_t root,
				struct chat_error *err)
{
	struct chat_event_brief brief;

	if(root > ch->head) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "#%s has no message %lld", ch->name,
				       (long long)root);
	}
	if(root < chat_retention__first(plugin, ch)) {
		/* not "no message": it was there, and retention took it with its thread's start */
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
				       "message %lld of #%s was pruned: its history starts at %lld",
				       (long long)root, ch->name,
				       (long long)chat_retention__first(plugin, ch));
	}
	if(chat_store__event_brief(plugin->store, ch->rowid, root, &brief, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(!brief.exists || !brief.is_message) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "event %lld of #%s is not a message",
				       (long long)root, ch->name);
	}
	if(brief.in_thread) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
				       "message %lld of #%s is a reply in a thread, not its root",
				       (long long)root, ch->name);
	}
	if(brief.deleted) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "message %lld of #%s was deleted",
				       (long long)root, ch->name);
	}
	return CHAT_ERR_OK;
}


static enum chat_err add_root(struct chat_plugin *plugin, const struct chat_channel *ch, int64_t root,
			      cJSON *reply, struct chat_error *err)
{
	char *json = NULL;
	cJSON *item;

	if(chat_store__event_json(plugin->store, ch->rowid, root, &json, err) != CHAT_ERR_OK) {
		return err->code;
	}
	item = json != NULL ? cJSON_CreateRaw(json) : NULL;
	free(json);
	if(item == NULL || !cJSON_AddItemToObject(reply, "root", item)) {
		cJSON_Delete(item);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_threads__get(struct chat_plugin *plugin, const char *user, const cJSON *request,
				cJSON *reply, const char **channel, struct chat_error *err)
{
	struct page page = {.budget = plugin->config.catchup_page_bytes};
	int64_t root = 0, since = 0, count = 0, last_ts = 0;
	struct chat_channel *ch;
	const char *name = NULL;
	enum chat_err rc;

	rc = read_fields(plugin, request, &name, &root, &since, &page.limit, err);
	*channel = name;
	if(rc != CHAT_ERR_OK
	   || chat_index__lookup_member(&plugin->index, name, strlen(name), user, &ch, NULL, err)
		      != CHAT_ERR_OK
	   || check_root(plugin, ch, root, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(cJSON_AddStringToObject(reply, "channel", ch->name) == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	if(add_root(plugin, ch, root, reply, err) != CHAT_ERR_OK) {
		return err->code;
	}
	page.replies = cJSON_AddArrayToObject(reply, "replies");
	if(page.replies == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	/* one event more than the limit is read, to know whether another page exists */
	if(chat_store__thread_events(plugin->store, ch->rowid, root, since, page.limit + 1, page_add, &page,
				     err)
		   != CHAT_ERR_OK
	   || chat_store__thread_summary(plugin->store, ch->rowid, root, &count, &last_ts, err)
		      != CHAT_ERR_OK) {
		return err->code;
	}
	if(page.out_of_memory) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	if(cJSON_AddNumberToObject(reply, "reply_count", (double)count) == NULL
	   || (count > 0 ? cJSON_AddNumberToObject(reply, "last_reply_ts", (double)last_ts)
			 : cJSON_AddNullToObject(reply, "last_reply_ts"))
		      == NULL
	   || cJSON_AddNumberToObject(reply, "since", (double)since) == NULL
	   || cJSON_AddNumberToObject(reply, "next", (double)(page.count > 0 ? page.last_seq : since)) == NULL
	   || cJSON_AddBoolToObject(reply, "more", page.more) == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return CHAT_ERR_OK;
}
