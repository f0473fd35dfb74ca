/*
 * notify.c - the `notify` op: validate, check membership, store (attention_store.c).
 *
 * The level is one row per (channel, user) when it is not "all"; a member who leaves loses it with
 * their cursors (schema/0010_attention.sql). The row is written by one statement outside any batch:
 * the route table commits the open group commit before chat/_api runs.
 */
#include <string.h>

#include "json_fields.h"
#include "notify.h"
#include "store.h"
#include "topic.h"

enum chat_err chat_notify__set(struct chat_plugin *plugin, const char *user, const cJSON *request,
			       cJSON *reply, const char **channel, struct chat_error *err)
{
	const char *name = NULL, *level_name = NULL;
	enum chat_notify_level level;
	struct chat_channel *ch;

	if(chat_json__string(request, "channel", true, 1, CHAT_CHANNEL_ID_MAX, &name, err) != CHAT_ERR_OK) {
		return err->code;
	}
	*channel = name;
	if(!chat_channel_id__valid(name, strlen(name))) {
		return chat_error__set(
			err, CHAT_ERR_BAD_REQUEST,
			"channel ids are 1-64 characters of A-Z a-z 0-9 . _ - not starting with _");
	}
	if(chat_json__string(request, "level", true, 1, 16, &level_name, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(!chat_notify_level__parse(level_name, &level)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "level must be all, mentions or none");
	}
	if(chat_index__lookup_member(&plugin->index, name, strlen(name), user, &ch, NULL, err) != CHAT_ERR_OK
	   || chat_store__set_notify_level(plugin->store, ch->rowid, user, level, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(cJSON_AddStringToObject(reply, "channel", ch->name) == NULL
	   || cJSON_AddStringToObject(reply, "level", chat_notify_level__name(level)) == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return CHAT_ERR_OK;
}
