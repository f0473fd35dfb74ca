/*
 * event_json.c - builds event, ack and error JSON with cJSON.
 */
#include <stdlib.h>
#include <string.h>

#include "event_json.h"

static const char *const type_names[] = {
	[CHAT_EVENT_MESSAGE] = "message",   [CHAT_EVENT_EDIT] = "edit", [CHAT_EVENT_DELETE] = "delete",
	[CHAT_EVENT_REACTION] = "reaction", [CHAT_EVENT_JOIN] = "join", [CHAT_EVENT_LEAVE] = "leave",
};


const char *chat_event_type__name(enum chat_event_type type)
{
	return type_names[type];
}


int64_t chat_event__reference(const struct chat_event *ev)
{
	return ev->type == CHAT_EVENT_MESSAGE ? ev->thread : ev->target;
}


char *chat_json__print(const cJSON *obj, size_t *len)
{
	char *text = cJSON_PrintUnformatted(obj);

	if(text != NULL && len != NULL) {
		*len = strlen(text);
	}
	return text;
}


/* cJSON_Add* return NULL when out of memory; the builders count failures instead of checking each. */
static int add_string(cJSON *obj, const char *key, const char *value)
{
	return cJSON_AddStringToObject(obj, key, value) == NULL;
}


static int add_int(cJSON *obj, const char *key, int64_t value)
{
	return cJSON_AddNumberToObject(obj, key, (double)value) == NULL;
}


static int add_bool(cJSON *obj, const char *key, bool value)
{
	return cJSON_AddBoolToObject(obj, key, value) == NULL;
}


static char *print_and_delete(cJSON *obj, int failures, size_t *len)
{
	char *text = NULL;

	if(obj != NULL && failures == 0) {
		text = chat_json__print(obj, len);
	}
	cJSON_Delete(obj);
	return text;
}


char *chat_event_json__build(const struct chat_event *ev, size_t *len)
{
	cJSON *obj = cJSON_CreateObject();
	int failures = 0;

	if(obj == NULL) {
		return NULL;
	}
	failures += add_string(obj, "id", ev->id);
	failures += add_string(obj, "channel", ev->channel);
	failures += add_int(obj, "seq", ev->seq);
	failures += add_string(obj, "type", chat_event_type__name(ev->type));
	failures += add_string(obj, "from", ev->from);
	failures += add_string(obj, "device", ev->device);
	failures += add_int(obj, "ts", ev->ts);
	if(ev->client_msg_id) {
		failures += add_string(obj, "client_msg_id", ev->client_msg_id);
	}
	switch(ev->type) {
	case CHAT_EVENT_MESSAGE:
		failures += add_string(obj, "body", ev->body);
		if(ev->thread > 0) {
			failures += add_int(obj, "thread", ev->thread);
		}
		break;
	case CHAT_EVENT_EDIT:
		failures += add_int(obj, "target", ev->target);
		failures += add_string(obj, "body", ev->body);
		break;
	case CHAT_EVENT_DELETE:
		failures += add_int(obj, "target", ev->target);
		break;
	case CHAT_EVENT_REACTION:
		failures += add_int(obj, "target", ev->target);
		failures += add_string(obj, "emoji", ev->emoji);
		failures += add_bool(obj, "on", ev->on);
		break;
	case CHAT_EVENT_JOIN:
	case CHAT_EVENT_LEAVE:
		failures += add_string(obj, "user", ev->user);
		break;
	}
	return print_and_delete(obj, failures, len);
}


char *chat_ack_json__build(const char *channel, const char *client_msg_id, const char *id, int64_t seq,
			   int64_t ts, bool duplicate, size_t *len)
{
	cJSON *obj = cJSON_CreateObject();
	int failures = 0;

	if(obj == NULL) {
		return NULL;
	}
	failures += add_bool(obj, "ok", true);
	failures += add_string(obj, "kind", "ack");
	failures += add_string(obj, "channel", channel);
	if(client_msg_id) {
		failures += add_string(obj, "client_msg_id", client_msg_id);
	}
	failures += add_string(obj, "id", id);
	failures += add_int(obj, "seq", seq);
	failures += add_int(obj, "ts", ts);
	failures += add_bool(obj, "duplicate", duplicate);
	return print_and_delete(obj, failures, len);
}


char *chat_error_json__build(const struct chat_error *err, const struct chat_error_context *ctx, size_t *len)
{
	cJSON *obj = cJSON_CreateObject();
	int failures = 0;

	if(obj == NULL) {
		return NULL;
	}
	failures += add_bool(obj, "ok", false);
	failures += add_string(obj, "kind", "error");
	failures += add_string(obj, "code", chat_err_code(err->code));
	failures += add_string(obj, "message", err->message);
	if(err->code == CHAT_ERR_RATE_LIMITED && err->retry_after_ms > 0) {
		failures += add_int(obj, "retry_after_ms", err->retry_after_ms);
	}
	if(ctx->op) {
		failures += add_string(obj, "op", ctx->op);
	}
	if(ctx->channel) {
		failures += add_string(obj, "channel", ctx->channel);
	}
	if(ctx->client_msg_id) {
		failures += add_string(obj, "client_msg_id", ctx->client_msg_id);
	}
	if(ctx->ref) {
		cJSON *copy = cJSON_Duplicate(ctx->ref, true);
		failures += copy == NULL || !cJSON_AddItemToObject(obj, "ref", copy);
	}
	return print_and_delete(obj, failures, len);
}


/* {"channel","user",...}: the start every signal shares. */
static cJSON *signal_object(const char *channel, const char *user, int *failures)
{
	cJSON *obj = cJSON_CreateObject();

	if(obj != NULL) {
		*failures += add_string(obj, "channel", channel);
		*failures += add_string(obj, "user", user);
	}
	return obj;
}


char *chat_presence_json__build(const char *channel, const char *user, bool online, int64_t ts, size_t *len)
{
	int failures = 0;
	cJSON *obj = signal_object(channel, user, &failures);

	if(obj != NULL) {
		failures += add_bool(obj, "online", online);
		failures += add_int(obj, "ts", ts);
	}
	return print_and_delete(obj, failures, len);
}


char *chat_typing_json__build(const char *channel, const char *user, const char *device, bool typing,
			      int64_t ts, size_t *len)
{
	int failures = 0;
	cJSON *obj = signal_object(channel, user, &failures);

	if(obj != NULL) {
		failures += add_string(obj, "device", device);
		failures += add_bool(obj, "typing", typing);
		failures += add_int(obj, "ts", ts);
	}
	return print_and_delete(obj, failures, len);
}


char *chat_cursor_json__build(const char *channel, const char *user, const char *device, int64_t seq,
			      int64_t ts, size_t *len)
{
	int failures = 0;
	cJSON *obj = signal_object(channel, user, &failures);

	if(obj != NULL) {
		if(device != NULL) {
			failures += add_string(obj, "device", device);
		}
		failures += add_int(obj, "seq", seq);
		failures += add_int(obj, "ts", ts);
	}
	return print_and_delete(obj, failures, len);
}
