/*
 * api.c - decodes chat/_api requests, runs them, and shapes their replies.
 *
 * Every reply is {"ok":true,"kind":"api","op":<op>, ...fields, "ref":<echoed>}; every failure is an
 * error carrying the same op and ref. The operations themselves live in membership.c; this file only
 * validates fields and formats results.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "attention.h"
#include "clock.h"
#include "json_fields.h"
#include "media.h"
#include "membership.h"
#include "notify.h"
#include "presence.h"
#include "push.h"
#include "retention.h"
#include "signin.h"
#include "ratelimit.h"
#include "search.h"
#include "store.h"
#include "threads.h"
#include "topic.h"

#define MAX_INITIAL_MEMBERS 1000
#define TITLE_MAX           256

struct request {
	struct chat_plugin *plugin;
	const struct chat_requester *who;
	const cJSON *body;   /* the request object */
	cJSON *reply;        /* the reply object, filled by the handler */
	const char *channel; /* set by handlers that name one, for the error context */
	/* where the answer goes (signin.c: whether it goes through an edge) */
	const struct chat_reply_to *rt;
	bool answered; /* the handler sent its answer itself (download: raw bytes) */
};

typedef enum chat_err (*op_handler)(struct request *req, struct chat_error *err);


/* ---- field helpers -------------------------------------------------------------------------------- */

static enum chat_err read_channel_id(struct request *req, const char **out, struct chat_error *err)
{
	if(chat_json__string(req->body, "channel", true, 1, CHAT_CHANNEL_ID_MAX, out, err) != CHAT_ERR_OK) {
		return err->code;
	}
	req->channel = *out;
	if(!chat_channel_id__valid(*out, strlen(*out))) {
		return chat_error__set(
			err, CHAT_ERR_BAD_REQUEST,
			"channel ids are 1-64 characters of A-Z a-z 0-9 . _ - not starting with _");
	}
	return CHAT_ERR_OK;
}


/* The existing channel named by the request's "channel" field, as the asker may know it: a private or
 * direct channel the asker is not in is no_such_channel, word for word as a missing one, whatever the op
 * (join, leave, invite, remove, members). */
static enum chat_err read_channel(struct request *req, struct chat_channel **out, struct chat_error *err)
{
	const char *name;

	if(read_channel_id(req, &name, err) != CHAT_ERR_OK) {
		return err->code;
	}
	return chat_index__lookup_visible(&req->plugin->index, name, strlen(name), req->who->user, out, err);
}


static enum chat_err read_user(struct request *req, const char **out, struct chat_error *err)
{
	return chat_json__string(req->body, "user", true, 1, CHAT_USER_MAX, out, err);
}


static int add_channel_summary(cJSON *reply, const struct chat_channel *ch)
{
	return cJSON_AddStringToObject(reply, "channel", ch->name) == NULL
	       || cJSON_AddStringToObject(reply, "title", ch->title) == NULL
	       || cJSON_AddStringToObject(reply, "visibility", chat_visibility__name(ch->visibility)) == NULL
	       || cJSON_AddStringToObject(reply, "epoch", ch->epoch) == NULL
	       || cJSON_AddNumberToObject(reply, "head", (double)ch->head) == NULL;
}


static enum chat_err out_of_memory(struct chat_error *err)
{
	return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
}


/* ---- create --------------------------------------------------------------------------------------- */

/* The "members" array as borrowed strings; *members is malloc'd (NULL when empty). */
static enum chat_err read_members(const cJSON *body, const char ***members, size_t *count,
				  struct chat_error *err)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "members");
	const cJSON *item;
	size_t n = 0;

	*members = NULL;
	*count = 0;
	if(list == NULL || cJSON_IsNull(list)) {
		return CHAT_ERR_OK;
	}
	if(!cJSON_IsArray(list) || cJSON_GetArraySize(list) > MAX_INITIAL_MEMBERS) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
				       "members must be an array of at most %d user names",
				       MAX_INITIAL_MEMBERS);
	}
	*members = calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(**members));
	if(*members == NULL) {
		return out_of_memory(err);
	}
	cJSON_ArrayForEach(item, list) {
		size_t len = cJSON_IsString(item) ? strlen(item->valuestring) : 0;
		if(len == 0 || len > CHAT_USER_MAX) {
			free(*members);
			*members = NULL;
			return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
					       "members must be user names of 1-%d bytes", CHAT_USER_MAX);
		}
		(*members)[n++] = item->valuestring;
	}
	*count = n;
	return CHAT_ERR_OK;
}


static enum chat_err op_create(struct request *req, struct chat_error *err)
{
	const char *name, *title = "", *visibility_name = "public";
	enum chat_visibility visibility;
	const char **members = NULL;
	struct chat_channel *ch;
	size_t count = 0;
	enum chat_err rc;

	if(read_channel_id(req, &name, err) != CHAT_ERR_OK
	   || chat_json__string(req->body, "visibility", false, 1, 16, &visibility_name, err) != CHAT_ERR_OK
	   || chat_json__string(req->body, "title", false, 0, TITLE_MAX, &title, err) != CHAT_ERR_OK) {
		return err->code;
	}
	visibility_name = visibility_name ? visibility_name : "public";
	if(!chat_visibility__parse(visibility_name, &visibility) || visibility == CHAT_VISIBILITY_DM) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "visibility must be public or private");
	}
	if(read_members(req->body, &members, &count, err) != CHAT_ERR_OK) {
		return err->code;
	}
	rc = chat_membership__create(req->plugin, req->who, name, visibility, title ? title : "", members,
				     count, &ch, err);
	free(members);
	if(rc != CHAT_ERR_OK) {
		return rc;
	}
	return add_channel_summary(req->reply, ch) ? out_of_memory(err) : CHAT_ERR_OK;
}


/* ---- join, leave, invite, remove, dm -------------------------------------------------------------- */

static enum chat_err op_join(struct request *req, struct chat_error *err)
{
	struct chat_channel *ch;
	bool joined = false;

	if(read_channel(req, &ch, err) != CHAT_ERR_OK
	   || chat_membership__join(req->plugin, req->who, ch, &joined, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(add_channel_summary(req->reply, ch)
	   || cJSON_AddBoolToObject(req->reply, "joined", joined) == NULL) {
		return out_of_memory(err);
	}
	return CHAT_ERR_OK;
}


static enum chat_err op_leave(struct request *req, struct chat_error *err)
{
	struct chat_channel *ch;

	if(read_channel(req, &ch, err) != CHAT_ERR_OK
	   || chat_membership__leave(req->plugin, req->who, ch, err) != CHAT_ERR_OK) {
		return err->code;
	}
	return cJSON_AddStringToObject(req->reply, "channel", ch->name) ? CHAT_ERR_OK : out_of_memory(err);
}


static enum chat_err op_invite(struct request *req, struct chat_error *err)
{
	struct chat_channel *ch;
	const char *user;
	bool added = false;

	if(read_channel(req, &ch, err) != CHAT_ERR_OK || read_user(req, &user, err) != CHAT_ERR_OK
	   || chat_membership__invite(req->plugin, req->who, ch, user, &added, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(cJSON_AddStringToObject(req->reply, "channel", ch->name) == NULL
	   || cJSON_AddStringToObject(req->reply, "user", user) == NULL
	   || cJSON_AddBoolToObject(req->reply, "added", added) == NULL) {
		return out_of_memory(err);
	}
	return CHAT_ERR_OK;
}


static enum chat_err op_remove(struct request *req, struct chat_error *err)
{
	struct chat_channel *ch;
	const char *user;

	if(read_channel(req, &ch, err) != CHAT_ERR_OK || read_user(req, &user, err) != CHAT_ERR_OK
	   || chat_membership__remove(req->plugin, req->who, ch, user, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(cJSON_AddStringToObject(req->reply, "channel", ch->name) == NULL
	   || cJSON_AddStringToObject(req->reply, "user", user) == NULL) {
		return out_of_memory(err);
	}
	return CHAT_ERR_OK;
}


static enum chat_err op_dm(struct request *req, struct chat_error *err)
{
	struct chat_channel *ch;
	const char *user;
	bool created = false;

	if(read_user(req, &user, err) != CHAT_ERR_OK
	   || chat_membership__dm(req->plugin, req->who, user, &ch, &created, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(add_channel_summary(req->reply, ch) || cJSON_AddStringToObject(req->reply, "user", user) == NULL
	   || cJSON_AddBoolToObject(req->reply, "created", created) == NULL) {
		return out_of_memory(err);
	}
	return CHAT_ERR_OK;
}


/* ---- channels (the inbox) and members ------------------------------------------------------------- */

static int by_latest_activity(const void *a, const void *b)
{
	const struct chat_channel *x = *(const struct chat_channel *const *)a;
	const struct chat_channel *y = *(const struct chat_channel *const *)b;

	if(x->head_ts != y->head_ts) {
		return x->head_ts > y->head_ts ? -1 : 1;
	}
	return strcmp(x->name, y->name);
}


/* One inbox entry: the channel, my read cursor and unread count, and `last`, the stored JSON of the
 * channel's last message (or null). */
/* The inbox's `last`: the last message as stored (erased if deleted), showing its current text when it
 * was edited since ("edited":true); null when the channel has none. NULL when out of memory. */
static cJSON *last_preview(const char *json, const char *edited_body)
{
	cJSON *last;

	if(json == NULL) {
		return cJSON_CreateNull();
	}
	if(edited_body == NULL) {
		return cJSON_CreateRaw(json);
	}
	last = cJSON_Parse(json);
	if(last == NULL
	   || !cJSON_ReplaceItemInObjectCaseSensitive(last, "body", cJSON_CreateString(edited_body))
	   || cJSON_AddTrueToObject(last, "edited") == NULL) {
		cJSON_Delete(last);
		return NULL;
	}
	return last;
}


static enum chat_err inbox_entry(struct request *req, const struct chat_channel *ch, cJSON *list,
				 struct chat_inbox_reader *attention, struct chat_error *err)
{
	cJSON *entry = cJSON_CreateObject();
	const char *peer = chat_membership__dm_peer(ch, req->who->user);
	const struct chat_member *me = chat_index__member(ch, req->who->user);
	int64_t unread = 0;
	char *last = NULL, *edited = NULL;
	cJSON *last_item;

	if(entry == NULL || !cJSON_AddItemToArray(list, entry)) {
		cJSON_Delete(entry);
		return out_of_memory(err);
	}
	if(add_channel_summary(entry, ch) || (peer && cJSON_AddStringToObject(entry, "user", peer) == NULL)) {
		return out_of_memory(err);
	}
	if(chat_retention__unread(req->plugin, ch, req->who->user, me->read_seq, &unread, err)
	   != CHAT_ERR_OK) {
		return err->code;
	}
	if(cJSON_AddNumberToObject(entry, "read", (double)me->read_seq) == NULL
	   || cJSON_AddNumberToObject(entry, "unread", (double)unread) == NULL) {
		return out_of_memory(err);
	}
	if(ch->last_message_seq > 0
	   && (chat_store__event_json(req->plugin->store, ch->rowid, ch->last_message_seq, &last, err)
		       != CHAT_ERR_OK
	       || chat_store__latest_edit(req->plugin->store, ch->rowid, ch->last_message_seq, &edited, err)
			  != CHAT_ERR_OK)) {
		free(last);
		return err->code;
	}
	last_item = last_preview(last, edited);
	free(last);
	free(edited);
	if(last_item == NULL || !cJSON_AddItemToObject(entry, "last", last_item)) {
		cJSON_Delete(last_item);
		return out_of_memory(err);
	}
	/* "mentions" and "notify" (attention.c) */
	return chat_attention__inbox_fields(attention, ch, req->who->user, me->read_seq, entry, err);
}


static enum chat_err op_channels(struct request *req, struct chat_error *err)
{
	const struct chat_user *u = chat_index__user(&req->plugin->index, req->who->user);
	unsigned count = u ? HASH_COUNT(u->channels) : 0;
	struct chat_channel **sorted = calloc(count + 1, sizeof(*sorted));
	cJSON *list = cJSON_AddArrayToObject(req->reply, "channels");
	struct chat_inbox_reader *attention = NULL;
	struct chat_membership *ms, *tmp;
	unsigned n = 0;
	enum chat_err rc = CHAT_ERR_OK;

	if(sorted == NULL || list == NULL) {
		free(sorted);
		return out_of_memory(err);
	}
	if(chat_inbox_reader__open(req->plugin->store, &attention, err) != CHAT_ERR_OK) {
		free(sorted);
		return err->code;
	}
	if(u != NULL) {
		HASH_ITER(hh, u->channels, ms, tmp) {
			sorted[n++] = ms->channel;
		}
	}
	qsort(sorted, n, sizeof(*sorted), by_latest_activity);
	for(unsigned i = 0; i < n && rc == CHAT_ERR_OK; i++) {
		rc = inbox_entry(req, sorted[i], list, attention, err);
	}
	chat_inbox_reader__close(attention);
	free(sorted);
	return rc;
}


static int by_user(const void *a, const void *b)
{
	return strcmp((*(const struct chat_member *const *)a)->user,
		      (*(const struct chat_member *const *)b)->user);
}


/* The public channels, by name: a page after `after` (exclusive), at most `limit` (default 100, at most
 * 500), each with its title, member count and whether the asker is in it; `next` is the name to ask
 * after for the following page, null at the end. Private channels and DMs are never listed. */
#define DIRECTORY_LIMIT     100
#define DIRECTORY_LIMIT_MAX 500

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct chat_channel *const *)a)->name,
		      (*(const struct chat_channel *const *)b)->name);
}


static enum chat_err op_directory(struct request *req, struct chat_error *err)
{
	const struct chat_index *idx = &req->plugin->index;
	struct chat_channel **sorted = calloc(HASH_COUNT(idx->channels) + 1, sizeof(*sorted));
	struct chat_channel *ch, *tmp;
	const char *after = NULL;
	int64_t limit = DIRECTORY_LIMIT;
	unsigned n = 0, listed = 0, i = 0;
	cJSON *list;

	if(sorted == NULL) {
		return out_of_memory(err);
	}
	if(chat_json__string(req->body, "after", false, 1, CHAT_CHANNEL_ID_MAX, &after, err) != CHAT_ERR_OK
	   || chat_json__int(req->body, "limit", false, 1, DIRECTORY_LIMIT_MAX, &limit, err) != CHAT_ERR_OK) {
		free(sorted);
		return err->code;
	}
	HASH_ITER(hh, idx->channels, ch, tmp) {
		if(ch->visibility == CHAT_VISIBILITY_PUBLIC
		   && (after == NULL || strcmp(ch->name, after) > 0)) {
			sorted[n++] = ch;
		}
	}
	qsort(sorted, n, sizeof(*sorted), by_name);
	list = cJSON_AddArrayToObject(req->reply, "channels");
	for(i = 0; list != NULL && i < n && listed < (unsigned)limit; i++, listed++) {
		cJSON *entry = cJSON_CreateObject();
		if(entry == NULL || cJSON_AddStringToObject(entry, "channel", sorted[i]->name) == NULL
		   || cJSON_AddStringToObject(entry, "title", sorted[i]->title ? sorted[i]->title : "")
			      == NULL
		   || cJSON_AddNumberToObject(entry, "members", HASH_COUNT(sorted[i]->members)) == NULL
		   || cJSON_AddBoolToObject(entry, "member",
					    chat_index__member(sorted[i], req->who->user) != NULL)
			      == NULL
		   || !cJSON_AddItemToArray(list, entry)) {
			cJSON_Delete(entry); /* not in the list: ours to free */
			free(sorted);
			return out_of_memory(err);
		}
	}
	if(list == NULL
	   || (i < n ? cJSON_AddStringToObject(req->reply, "next", sorted[i - 1]->name)
		     : cJSON_AddNullToObject(req->reply, "next"))
		      == NULL) {
		free(sorted);
		return out_of_memory(err);
	}
	free(sorted);
	return CHAT_ERR_OK;
}


static enum chat_err op_members(struct request *req, struct chat_error *err)
{
	struct chat_channel *ch;
	struct chat_member *m, *tmp, **sorted;
	cJSON *list;
	unsigned n = 0;
	bool asker_is_member;

	if(read_channel(req, &ch, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(ch->visibility != CHAT_VISIBILITY_PUBLIC
	   && chat_index__require_member(ch, req->who->user, NULL, err) != CHAT_ERR_OK) {
		return err->code;
	}
	sorted = calloc(HASH_COUNT(ch->members) + 1, sizeof(*sorted));
	list = cJSON_CreateArray();
	if(sorted == NULL || list == NULL || cJSON_AddStringToObject(req->reply, "channel", ch->name) == NULL
	   || !cJSON_AddItemToObject(req->reply, "members", list)) {
		free(sorted);
		cJSON_Delete(list);
		return out_of_memory(err);
	}
	/* Read cursors are what members already see on chat/<ch>/read: only members get them here. */
	asker_is_member = chat_index__member(ch, req->who->user) != NULL;
	HASH_ITER(hh, ch->members, m, tmp) {
		sorted[n++] = m;
	}
	qsort(sorted, n, sizeof(*sorted), by_user);
	for(unsigned i = 0; i < n; i++) {
		cJSON *entry = cJSON_CreateObject();
		if(entry == NULL || !cJSON_AddItemToArray(list, entry)
		   || cJSON_AddStringToObject(entry, "user", sorted[i]->user) == NULL
		   || cJSON_AddStringToObject(entry, "role", chat_role__name(sorted[i]->role)) == NULL
		   || cJSON_AddBoolToObject(entry, "online",
					    chat_presence__online(req->plugin, sorted[i]->user))
			      == NULL
		   || (asker_is_member
		       && cJSON_AddNumberToObject(entry, "read", (double)sorted[i]->read_seq) == NULL)) {
			free(sorted);
			return out_of_memory(err);
		}
	}
	free(sorted);
	return CHAT_ERR_OK;
}


/* ---- session tokens (signin.c) -------------------------------------------------------------------- */

static enum chat_err op_session(struct request *req, struct chat_error *err)
{
	return chat_signin__session(req->plugin, req->who, req->rt, req->body, req->reply, err);
}


static enum chat_err op_logout(struct request *req, struct chat_error *err)
{
	return chat_signin__logout(req->plugin, req->who, req->rt, req->body, req->reply, err);
}


static enum chat_err op_sessions(struct request *req, struct chat_error *err)
{
	return chat_signin__sessions(req->plugin, req->who, req->rt, req->body, req->reply, err);
}


/* ---- search --------------------------------------------------------------------------------------- */

static enum chat_err op_search(struct request *req, struct chat_error *err)
{
	enum chat_err rc =
		chat_search__submit(req->plugin, req->who->user, req->body, req->rt, &req->channel, err);

	req->answered = rc == CHAT_ERR_OK; /* the search worker answers, from a later tick (search.h) */
	return rc;
}


/* ---- threads, mentions, notification levels (threads.c, attention.c, notify.c) --------------------- */

static enum chat_err op_thread(struct request *req, struct chat_error *err)
{
	return chat_threads__get(req->plugin, req->who->user, req->body, req->reply, &req->channel, err);
}


static enum chat_err op_mentions(struct request *req, struct chat_error *err)
{
	return chat_attention__mentions(req->plugin, req->who->user, req->body, req->reply, err);
}


static enum chat_err op_notify(struct request *req, struct chat_error *err)
{
	return chat_notify__set(req->plugin, req->who->user, req->body, req->reply, &req->channel, err);
}


/* ---- push hand-off (push.c) ----------------------------------------------------------------------- */

static enum chat_err op_pusher_set(struct request *req, struct chat_error *err)
{
	return chat_push__set(req->plugin, req->who->user, req->body, req->reply, err);
}


static enum chat_err op_pusher_delete(struct request *req, struct chat_error *err)
{
	return chat_push__delete(req->plugin, req->who->user, req->body, req->reply, err);
}


static enum chat_err op_pushers(struct request *req, struct chat_error *err)
{
	return chat_push__list(req->plugin, req->who->user, req->reply, err);
}


/* ---- media (media.c) ------------------------------------------------------------------------------ */

static enum chat_err op_upload(struct request *req, struct chat_error *err)
{
	return chat_media__upload(req->plugin, req->who->user, req->body, req->reply, &req->channel, err);
}


static enum chat_err op_upload_status(struct request *req, struct chat_error *err)
{
	return chat_media__status(req->plugin, req->who->user, req->body, req->reply, err);
}


static enum chat_err op_download(struct request *req, struct chat_error *err)
{
	req->answered = true; /* the bytes are the answer; an error is still ours to send */
	return chat_media__download(req->plugin, req->who->user, req->rt, req->body, err);
}


/* ---- dispatch ------------------------------------------------------------------------------------- */

static const struct {
	const char *name;
	op_handler handler;
} ops[] = {
	{"create", op_create},
	{"join", op_join},
	{"leave", op_leave},
	{"invite", op_invite},
	{"remove", op_remove},
	{"dm", op_dm},
	{"channels", op_channels},
	{"members", op_members},
	{"directory", op_directory},
	{"session", op_session},
	{"logout", op_logout},
	{"sessions", op_sessions},
	{"search", op_search},
	{"thread", op_thread},
	{"mentions", op_mentions},
	{"notify", op_notify},
	{"pusher_set", op_pusher_set},
	{"pusher_delete", op_pusher_delete},
	{"pushers", op_pushers},
	{"upload", op_upload},
	{"upload_status", op_upload_status},
	{"download", op_download},
};


static op_handler find_op(const char *name)
{
	for(size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if(strcmp(ops[i].name, name) == 0) {
			return ops[i].handler;
		}
	}
	return NULL;
}


static enum chat_err run(struct chat_plugin *plugin, const struct chat_requester *who,
			 const struct chat_reply_to *rt, const cJSON *body, struct chat_error_context *ctx,
			 struct chat_error *err)
{
	struct request req = {.plugin = plugin, .who = who, .body = body, .rt = rt};
	const char *op_name = NULL;
	op_handler handler;
	enum chat_err rc;

	/* "ref" is the dispatcher's: rt carries it and every answer echoes it (reply.h) */
	if(chat_json__string(body, "op", true, 1, 32, &op_name, err) != CHAT_ERR_OK) {
		return err->code;
	}
	handler = find_op(op_name);
	if(handler == NULL) {
		return chat_error__set(
			err, CHAT_ERR_BAD_REQUEST,
			"unknown op %s: use create, join, leave, invite, remove, dm, channels or members",
			op_name);
	}
	ctx->op = op_name;
	req.reply = cJSON_CreateObject();
	if(req.reply == NULL || cJSON_AddTrueToObject(req.reply, "ok") == NULL
	   || cJSON_AddStringToObject(req.reply, "kind", "api") == NULL
	   || cJSON_AddStringToObject(req.reply, "op", op_name) == NULL) {
		cJSON_Delete(req.reply);
		return out_of_memory(err);
	}
	rc = handler(&req, err);
	ctx->channel = req.channel;
	if(rc == CHAT_ERR_OK && !req.answered) {
		chat_reply__send_object(rt, req.reply);
	}
	cJSON_Delete(req.reply);
	return rc;
}


enum chat_err chat_api__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
				       const struct chat_reply_to *rt, const void *payload, size_t len)
{
	struct chat_error_context ctx = {0};
	struct chat_error err = {0};
	cJSON *body = NULL;
	enum chat_err rc;

	if(chat_json__parse_object(payload, len, "a chat/_api request is a JSON object with an op", &body,
				   &err)
	   != CHAT_ERR_OK) {
		return chat_reply__error(rt, &err, &ctx);
	}
	rc = run(plugin, who, rt, body, &ctx, &err);
	if(rc != CHAT_ERR_OK) {
		chat_reply__error(rt, &err, &ctx);
	}
	cJSON_Delete(body);
	return rc;
}
