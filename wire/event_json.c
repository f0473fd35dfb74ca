/*
 * event_json.c - builds event and ack JSON directly, and error JSON with cJSON.
 */
#include <stdio.h>
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

	if(len != NULL) {
		*len = text != NULL ? strlen(text) : 0; /* never a length left from an earlier text */
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
	} else if(len != NULL) {
		*len = 0;
	}
	cJSON_Delete(obj);
	return text;
}


/*
 * The two builders on the send path (an event and its ack, for every send) write their JSON directly
 * instead of building a cJSON tree and printing it: callgrind showed the tree and its printing at
 * about a quarter of the plugin's instructions per send. The output is byte for byte cJSON's:
 * the same key order, the same string escapes, integers in decimal (cJSON prints those below 1e15,
 * which every seq and ts is, the same way).
 */
struct jbuf {
	char *p;
	size_t len, cap;
	bool oom;
};


static void jb_grow(struct jbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if(b->oom || b->len + more + 1 <= b->cap) {
		return;
	}
	cap = b->cap ? b->cap : 256;
	while(cap < b->len + more + 1) {
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if(p == NULL) {
		b->oom = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}


static void jb_raw(struct jbuf *b, const char *s, size_t n)
{
	jb_grow(b, n);
	if(!b->oom) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
		b->p[b->len] = '\0';
	}
}


/* ,"key": (no comma before the first key) */
static void jb_key(struct jbuf *b, const char *key)
{
	jb_raw(b, b->len > 1 ? ",\"" : "\"", b->len > 1 ? 2 : 1);
	jb_raw(b, key, strlen(key));
	jb_raw(b, "\":", 2);
}


/* A JSON string, escaped as cJSON escapes it. */
static void jb_string(struct jbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0;

	jb_raw(b, "\"", 1);
	for(size_t i = 0;; i++) {
		unsigned char c = u[i];
		char esc[6] = {'\\', 0, '0', '0', 0, 0};
		size_t esc_len = 2;

		if(c != '\0' && c != '"' && c != '\\' && c >= 32) {
			run++;
			continue;
		}
		jb_raw(b, s + i - run, run);
		run = 0;
		if(c == '\0') {
			break;
		}
		switch(c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			esc[1] = 'u';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			esc_len = 6;
			break;
		}
		jb_raw(b, esc, esc_len);
	}
	jb_raw(b, "\"", 1);
}


static void jb_add_string(struct jbuf *b, const char *key, const char *value)
{
	jb_key(b, key);
	jb_string(b, value != NULL ? value : "");
}


static void jb_add_int(struct jbuf *b, const char *key, int64_t value)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", (long long)value);

	jb_key(b, key);
	jb_raw(b, num, (size_t)n);
}


static void jb_add_bool(struct jbuf *b, const char *key, bool value)
{
	jb_key(b, key);
	jb_raw(b, value ? "true" : "false", value ? 4 : 5);
}


/* "mentions":[...] and "mentions_all":true, each only when present. */
static void jb_add_mentions(struct jbuf *b, const struct chat_event *ev)
{
	if(ev->mention_count > 0) {
		jb_key(b, "mentions");
		jb_raw(b, "[", 1);
		for(size_t i = 0; i < ev->mention_count; i++) {
			if(i > 0) {
				jb_raw(b, ",", 1);
			}
			jb_string(b, ev->mentions[i]);
		}
		jb_raw(b, "]", 1);
	}
	if(ev->mentions_all) {
		jb_add_bool(b, "mentions_all", true);
	}
}


static char *jb_finish(struct jbuf *b, size_t *len)
{
	jb_raw(b, "}", 1);
	if(len != NULL) {
		*len = b->oom ? 0 : b->len;
	}
	if(b->oom) {
		free(b->p);
		return NULL;
	}
	return b->p;
}


char *chat_event_json__build(const struct chat_event *ev, size_t *len)
{
	struct jbuf b = {0};

	jb_raw(&b, "{", 1);
	jb_add_string(&b, "id", ev->id);
	jb_add_string(&b, "channel", ev->channel);
	jb_add_int(&b, "seq", ev->seq);
	jb_add_string(&b, "type", chat_event_type__name(ev->type));
	jb_add_string(&b, "from", ev->from);
	jb_add_string(&b, "device", ev->device);
	jb_add_int(&b, "ts", ev->ts);
	if(ev->client_msg_id) {
		jb_add_string(&b, "client_msg_id", ev->client_msg_id);
	}
	switch(ev->type) {
	case CHAT_EVENT_MESSAGE:
		jb_add_string(&b, "body", ev->body);
		if(ev->thread > 0) {
			jb_add_int(&b, "thread", ev->thread);
		}
		jb_add_mentions(&b, ev);
		if(ev->media_json != NULL) {
			jb_key(&b, "media");
			jb_raw(&b, ev->media_json, strlen(ev->media_json));
		}
		break;
	case CHAT_EVENT_EDIT:
		jb_add_int(&b, "target", ev->target);
		jb_add_string(&b, "body", ev->body);
		jb_add_mentions(&b, ev);
		break;
	case CHAT_EVENT_DELETE:
		jb_add_int(&b, "target", ev->target);
		break;
	case CHAT_EVENT_REACTION:
		jb_add_int(&b, "target", ev->target);
		jb_add_string(&b, "emoji", ev->emoji);
		jb_add_bool(&b, "on", ev->on);
		break;
	case CHAT_EVENT_JOIN:
	case CHAT_EVENT_LEAVE:
		jb_add_string(&b, "user", ev->user);
		break;
	}
	return jb_finish(&b, len);
}


char *chat_ack_json__build(const char *channel, const char *client_msg_id, const char *id, int64_t seq,
			   int64_t ts, bool duplicate, size_t *len)
{
	struct jbuf b = {0};

	jb_raw(&b, "{", 1);
	jb_add_bool(&b, "ok", true);
	jb_add_string(&b, "kind", "ack");
	jb_add_string(&b, "channel", channel);
	if(client_msg_id) {
		jb_add_string(&b, "client_msg_id", client_msg_id);
	}
	jb_add_string(&b, "id", id);
	jb_add_int(&b, "seq", seq);
	jb_add_int(&b, "ts", ts);
	jb_add_bool(&b, "duplicate", duplicate);
	return jb_finish(&b, len);
}


char *chat_error_json__build(const struct chat_error *err, const struct chat_error_context *ctx, size_t *len)
{
	cJSON *obj = cJSON_CreateObject();
	int failures = 0;

	if(obj == NULL) {
		return print_and_delete(NULL, 1, len); /* NULL, and *len 0 */
	}
	failures += add_bool(obj, "ok", false);
	failures += add_string(obj, "kind", "error");
	failures += add_string(obj, "code", chat_err_code(err->code));
	failures += add_string(obj, "message", err->message);
	if((err->code == CHAT_ERR_RATE_LIMITED || err->code == CHAT_ERR_QUOTA_EXCEEDED)
	   && err->retry_after_ms > 0) {
		failures += add_int(obj, "retry_after_ms", err->retry_after_ms);
	}
	if(ctx->request) {
		failures += add_string(obj, "request", ctx->request);
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
		/* adding copies the key, which may fail too: the copy is then still ours */
		if(copy == NULL || !cJSON_AddItemToObject(obj, "ref", copy)) {
			cJSON_Delete(copy);
			failures++;
		}
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
