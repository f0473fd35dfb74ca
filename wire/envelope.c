/*
 * envelope.c - the edge <-> core envelope codec and base64 (see envelope.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "event_json.h"

#define ENVELOPE_VERSION 1

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static const char *const kind_names[] = {
	[CHAT_ENV_INVALID] = "",
	[CHAT_ENV_PUBLISH] = "publish",
	[CHAT_ENV_HELLO] = "hello",
	[CHAT_ENV_CONNECT] = "connect",
	[CHAT_ENV_DISCONNECT] = "disconnect",
	[CHAT_ENV_REPLY] = "reply",
	[CHAT_ENV_SNAPSHOT] = "snapshot",
	[CHAT_ENV_BEAT] = "beat",
};

#define KIND_COUNT (sizeof(kind_names) / sizeof(kind_names[0]))


char *chat_base64__encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	size_t o = 0;

	if(out == NULL) {
		return NULL;
	}
	for(size_t i = 0; i < len; i += 3) {
		uint32_t n = (uint32_t)in[i] << 16;
		if(i + 1 < len) {
			n |= (uint32_t)in[i + 1] << 8;
		}
		if(i + 2 < len) {
			n |= in[i + 2];
		}
		out[o++] = b64_alphabet[(n >> 18) & 63];
		out[o++] = b64_alphabet[(n >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(n >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[n & 63] : '=';
	}
	out[o] = '\0';
	return out;
}


static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;

	return p ? (int)(p - b64_alphabet) : -1;
}


char *chat_base64__decode(const char *text, size_t *len)
{
	size_t tlen = strlen(text), o = 0;
	char *out;

	if(tlen % 4 != 0) {
		return NULL;
	}
	out = malloc(tlen / 4 * 3 + 1);
	if(out == NULL) {
		return NULL;
	}
	for(size_t i = 0; i < tlen; i += 4) {
		int v[4];
		bool last = i + 4 == tlen;
		for(int k = 0; k < 4; k++) {
			v[k] = b64_value(text[i + k]);
		}
		/* '=' only in the last quantum, only in its last two places, and "x=" never before "==" */
		if(v[0] < 0 || v[1] < 0 || (v[2] < 0 && (!last || text[i + 2] != '=' || text[i + 3] != '='))
		   || (v[3] < 0 && (!last || text[i + 3] != '='))) {
			free(out);
			return NULL;
		}
		uint32_t n = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
		out[o++] = (char)((n >> 16) & 0xff);
		if(v[2] >= 0) {
			n |= (uint32_t)v[2] << 6;
			out[o - 1] = (char)((n >> 16) & 0xff);
			out[o++] = (char)((n >> 8) & 0xff);
		}
		if(v[3] >= 0) {
			n |= (uint32_t)v[3];
			out[o++] = (char)(n & 0xff);
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}


static const char *str_field(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}


/* Decodes the optional base64 field key into *out; false if present and not base64. */
static bool b64_field(const cJSON *obj, const char *key, char **out, size_t *len)
{
	const char *text = str_field(obj, key);

	*out = NULL;
	*len = 0;
	if(cJSON_GetObjectItemCaseSensitive(obj, key) == NULL) {
		return true;
	}
	if(text == NULL) {
		return false;
	}
	*out = chat_base64__decode(text, len);
	return *out != NULL;
}


static enum chat_envelope_kind kind_of(const char *name)
{
	for(size_t i = 1; name != NULL && i < KIND_COUNT; i++) {
		if(strcmp(name, kind_names[i]) == 0) {
			return (enum chat_envelope_kind)i;
		}
	}
	return CHAT_ENV_INVALID;
}


static bool has_required(const struct chat_envelope *env)
{
	switch(env->kind) {
	case CHAT_ENV_PUBLISH:
		return env->user && env->device && env->topic && env->payload;
	case CHAT_ENV_HELLO:
		return env->boot && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(env->root, "devices"));
	case CHAT_ENV_CONNECT:
	case CHAT_ENV_DISCONNECT:
		return env->user && env->device;
	case CHAT_ENV_REPLY:
		return env->client && env->topic && env->payload;
	case CHAT_ENV_SNAPSHOT:
		return env->boot && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(env->root, "channels"));
	case CHAT_ENV_BEAT:
		return env->boot != NULL;
	case CHAT_ENV_INVALID:
		break;
	}
	return false;
}


int chat_envelope__parse(const void *json, size_t len, struct chat_envelope *env)
{
	const cJSON *qos, *v;

	memset(env, 0, sizeof(*env));
	env->root = cJSON_ParseWithLength(json, len);
	if(!cJSON_IsObject(env->root)) {
		goto invalid;
	}
	v = cJSON_GetObjectItemCaseSensitive(env->root, "v");
	if(!cJSON_IsNumber(v) || v->valuedouble != ENVELOPE_VERSION) {
		goto invalid;
	}
	env->kind = kind_of(str_field(env->root, "kind"));
	env->user = str_field(env->root, "user");
	env->device = str_field(env->root, "device");
	env->topic = str_field(env->root, "topic");
	env->response_topic = str_field(env->root, "response_topic");
	env->client = str_field(env->root, "client");
	env->boot = str_field(env->root, "boot");
	qos = cJSON_GetObjectItemCaseSensitive(env->root, "qos");
	env->qos = cJSON_IsNumber(qos) && qos->valueint >= 0 && qos->valueint <= 2 ? qos->valueint : 0;
	if(!b64_field(env->root, "payload", &env->payload, &env->payload_len)
	   || !b64_field(env->root, "correlation", &env->correlation, &env->correlation_len)
	   || !has_required(env)) {
		goto invalid;
	}
	return 0;

invalid:
	env->kind = CHAT_ENV_INVALID;
	return -1;
}


void chat_envelope__clear(struct chat_envelope *env)
{
	free(env->payload);
	free(env->correlation);
	cJSON_Delete(env->root);
	memset(env, 0, sizeof(*env));
}


cJSON *chat_envelope__object(enum chat_envelope_kind kind)
{
	cJSON *obj = cJSON_CreateObject();

	if(obj != NULL
	   && (cJSON_AddNumberToObject(obj, "v", ENVELOPE_VERSION) == NULL
	       || cJSON_AddStringToObject(obj, "kind", kind_names[kind]) == NULL)) {
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}


/* Adds key: base64(data) unless data is NULL; false when out of memory. */
static bool add_b64(cJSON *obj, const char *key, const void *data, size_t len)
{
	char *text;
	bool ok;

	if(data == NULL) {
		return true;
	}
	text = chat_base64__encode(data, len);
	ok = text != NULL && cJSON_AddStringToObject(obj, key, text) != NULL;
	free(text);
	return ok;
}


static bool add_str(cJSON *obj, const char *key, const char *value)
{
	return value == NULL || cJSON_AddStringToObject(obj, key, value) != NULL;
}


/* Prints and deletes obj (NULL-safe); NULL when ok is false or out of memory. */
static char *finish(cJSON *obj, bool ok, size_t *len)
{
	char *json = ok && obj != NULL ? chat_json__print(obj, len) : NULL;

	cJSON_Delete(obj);
	return json;
}


char *chat_envelope__publish(const char *user, const char *device, const char *topic, const void *payload,
			     size_t payload_len, int qos, const char *response_topic, const void *correlation,
			     size_t correlation_len, size_t *len)
{
	cJSON *obj = chat_envelope__object(CHAT_ENV_PUBLISH);
	bool ok = obj != NULL && add_str(obj, "user", user) && add_str(obj, "device", device)
		  && add_str(obj, "topic", topic)
		  && add_b64(obj, "payload", payload ? payload : "", payload_len)
		  && cJSON_AddNumberToObject(obj, "qos", qos) != NULL
		  && add_str(obj, "response_topic", response_topic)
		  && add_b64(obj, "correlation", correlation, correlation_len);

	return finish(obj, ok, len);
}


char *chat_envelope__reply(const char *client, const char *topic, const void *payload, size_t payload_len,
			   const void *correlation, size_t correlation_len, size_t *len)
{
	cJSON *obj = chat_envelope__object(CHAT_ENV_REPLY);
	bool ok = obj != NULL && add_str(obj, "client", client) && add_str(obj, "topic", topic)
		  && add_b64(obj, "payload", payload ? payload : "", payload_len)
		  && add_b64(obj, "correlation", correlation, correlation_len);

	return finish(obj, ok, len);
}


char *chat_envelope__device(enum chat_envelope_kind kind, const char *user, const char *device, size_t *len)
{
	cJSON *obj = chat_envelope__object(kind);
	bool ok = obj != NULL && add_str(obj, "user", user) && add_str(obj, "device", device);

	return finish(obj, ok, len);
}


char *chat_envelope__beat(const char *boot, size_t *len)
{
	cJSON *obj = chat_envelope__object(CHAT_ENV_BEAT);

	return finish(obj, obj != NULL && add_str(obj, "boot", boot), len);
}
