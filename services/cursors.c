/*
 * cursors.c - moves of read and delivery cursors: validate, apply in memory, send, write in batches.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "batch.h"
#include "broker.h"
#include "chat.h"
#include "clock.h"
#include "cursors.h"
#include "json_fields.h"
#include "ratelimit.h"
#include "reply.h"
#include "store.h"

#define CURSOR_QOS 1

struct chat_cursor_write {
	UT_hash_handle hh; /* keyed by "<channel rowid>\n<user>\n<device>" (device empty for read) */
	int64_t channel;
	int64_t seq;
	int64_t ts;
	char *user;
	char *device; /* NULL for a read cursor */
	char key[];
};


static char *make_key(int64_t channel, const char *user, const char *device, size_t *len)
{
	size_t size = 24 + strlen(user) + 1 + (device ? strlen(device) : 0) + 1;
	char *key = malloc(size);

	if(key != NULL) {
		*len = (size_t)snprintf(key, size, "%" PRId64 "\n%s\n%s", channel, user,
					device ? device : "");
	}
	return key;
}


static void free_write(struct chat_cursor_write *w)
{
	free(w->user);
	free(w->device);
	free(w);
}


/* Records the move for the next flush, replacing an older pending move of the same cursor. */
static void remember(struct chat_cursors *cursors, int64_t channel, const char *user, const char *device,
		     int64_t seq, int64_t ts)
{
	struct chat_cursor_write *w = NULL;
	size_t len = 0;
	char *key = make_key(channel, user, device, &len);

	if(key == NULL) {
		return;
	}
	HASH_FIND(hh, cursors->pending, key, len, w);
	if(w == NULL) {
		w = calloc(1, sizeof(*w) + len + 1);
		if(w == NULL || (w->user = strdup(user)) == NULL
		   || (device && (w->device = strdup(device)) == NULL)) {
			chat_broker__log(CHAT_LOG_WARNING,
					 "out of memory: a cursor move of %s will not be stored", user);
			if(w != NULL) {
				free_write(w);
			}
			free(key);
			return;
		}
		memcpy(w->key, key, len + 1);
		w->channel = channel;
		HASH_ADD(hh, cursors->pending, key[0], len, w);
	}
	w->seq = seq;
	w->ts = ts;
	free(key);
}


static enum chat_err parse(const void *payload, size_t len, int64_t *seq, struct chat_error *err)
{
	cJSON *obj = NULL;
	enum chat_err rc;
	if(chat_json__parse_object(payload, len, "a cursor is {\"seq\":N}", &obj, err) != CHAT_ERR_OK) {
		return err->code;
	}
	rc = chat_json__int(obj, "seq", true, 0, CHAT_JSON_INT_MAX, seq, err);
	cJSON_Delete(obj);
	return rc;
}


static void answer(const struct chat_reply_to *rt, const char *kind, const char *channel, int64_t seq)
{
	char json[192];

	if(rt->requested) {
		snprintf(json, sizeof(json),
			 "{\"ok\":true,\"kind\":\"%s\",\"channel\":\"%s\",\"seq\":%" PRId64 "}", kind,
			 channel, seq);
		chat_reply__send(rt, json, strlen(json));
	}
}


/* Applies the move to the member's cursor in memory. *moved is false when seq is not ahead of it. */
static enum chat_err move(struct chat_member *m, const char *device, int64_t seq, bool *moved,
			  struct chat_error *err)
{
	struct chat_delivery *d = device ? chat_index__delivery(m, device) : NULL;
	int64_t current = device ? (d ? d->seq : 0) : m->read_seq;

	*moved = seq > current;
	if(!*moved) {
		return CHAT_ERR_OK;
	}
	if(device == NULL) {
		m->read_seq = seq;
	} else if(chat_index__set_delivery(m, device, seq) != 0) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return CHAT_ERR_OK;
}


enum chat_err chat_cursors__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					   const struct chat_reply_to *rt, const char *channel,
					   size_t channel_len, const void *payload, size_t len,
					   bool delivered)
{
	const char *kind = delivered ? "delivered" : "read";
	const char *device = delivered ? who->device : NULL;
	char name[CHAT_CHANNEL_ID_MAX + 1];
	struct chat_error_context ctx = {.channel = name};
	struct chat_error err = {0};
	struct chat_channel *ch = NULL;
	struct chat_member *m = NULL;
	int64_t seq = 0, ts = chat_clock__wall_ms();
	bool moved = false;
	size_t json_len = 0;
	char *json;

	snprintf(name, sizeof(name), "%.*s", (int)channel_len, channel);
	if(parse(payload, len, &seq, &err) != CHAT_ERR_OK
	   || chat_index__lookup_member(&plugin->index, channel, channel_len, who->user, &ch, &m, &err)
		      != CHAT_ERR_OK) {
		return chat_reply__error(rt, &err, &ctx);
	}
	if(seq > ch->head) {
		chat_error__set(&err, CHAT_ERR_BAD_REQUEST,
				"seq %" PRId64 " is beyond the head of #%s (%" PRId64 ")", seq, name,
				ch->head);
		return chat_reply__error(rt, &err, &ctx);
	}
	if(move(m, device, seq, &moved, &err) != CHAT_ERR_OK) {
		return chat_reply__error(rt, &err, &ctx);
	}
	if(!moved) {
		const struct chat_delivery *d = device ? chat_index__delivery(m, device) : NULL;
		answer(rt, kind, name, device ? (d ? d->seq : 0) : m->read_seq);
		return CHAT_ERR_OK;
	}
	remember(plugin->cursors, ch->rowid, who->user, device, seq, ts);
	json = chat_cursor_json__build(name, who->user, device, seq, ts, &json_len);
	if(json != NULL) {
		chat_broker__publish(name, kind, json, json_len, CURSOR_QOS);
	}
	free(json);
	answer(rt, kind, name, seq);
	return CHAT_ERR_OK;
}


void chat_cursors__flush(struct chat_plugin *plugin)
{
	struct chat_cursors *cursors = plugin->cursors;
	struct chat_cursor_write *w, *tmp;
	struct chat_error err = {0};
	enum chat_err rc;

	if(cursors->pending == NULL) {
		return;
	}
	chat_batch__flush(plugin); /* its own transaction, after the sends' */
	rc = chat_store__begin(plugin->store, &err);
	HASH_ITER(hh, cursors->pending, w, tmp) {
		if(rc != CHAT_ERR_OK) {
			break;
		}
		if(w->device == NULL) {
			rc = chat_store__set_read_cursor(plugin->store, w->channel, w->user, w->seq, w->ts,
							 true, &err);
		} else {
			rc = chat_store__advance_delivered_cursor(plugin->store, w->channel, w->user,
								  w->device, w->seq, w->ts, &err);
		}
	}
	if(rc == CHAT_ERR_OK) {
		rc = chat_store__commit(plugin->store, &err);
	} else {
		chat_store__rollback(plugin->store);
	}
	if(rc != CHAT_ERR_OK) {
		chat_broker__log(CHAT_LOG_WARNING, "cursor moves not stored yet, will retry: %s",
				 err.message);
		return;
	}
	chat_cursors__clear(cursors);
}


void chat_cursors__forget(struct chat_plugin *plugin, int64_t channel, const char *user)
{
	struct chat_cursor_write *w, *tmp;

	HASH_ITER(hh, plugin->cursors->pending, w, tmp) {
		if(w->channel == channel && strcmp(w->user, user) == 0) {
			HASH_DEL(plugin->cursors->pending, w);
			free_write(w);
		}
	}
}


void chat_cursors__clear(struct chat_cursors *cursors)
{
	struct chat_cursor_write *w, *tmp;

	HASH_ITER(hh, cursors->pending, w, tmp) {
		HASH_DEL(cursors->pending, w);
		free_write(w);
	}
}
