/*
 * json_fields.c - typed access to request fields, with errors that name the field.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "json_fields.h"
#include "utf8.h"


bool chat_json__looks_like_object(const void *payload, size_t len)
{
	const char *p = payload;

	for(size_t i = 0; i < len; i++) {
		if(p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n') {
			continue;
		}
		return p[i] == '{';
	}
	return false;
}


/* Backslashes only occur inside JSON strings, so any "\u0000" escape is found without tracking where
 * strings start: skipping each escaped character keeps "\\u0000" (a backslash, then text) apart. */
static bool has_escaped_nul(const char *p, size_t len)
{
	for(size_t i = 0; i + 1 < len; i++) {
		if(p[i] != '\\') {
			continue;
		}
		if(p[i + 1] == 'u' && i + 5 < len && memcmp(p + i + 2, "0000", 4) == 0) {
			return true;
		}
		i++;
	}
	return false;
}


enum chat_err chat_json__parse_object(const void *payload, size_t len, const char *shape, cJSON **out,
				      struct chat_error *err)
{
	const char *end = NULL;
	cJSON *tree;

	*out = NULL;
	if(!chat_json__looks_like_object(payload, len)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "%s", shape);
	}
	if(!chat_utf8__valid(payload, len)) {
		return chat_error__set(err, CHAT_ERR_BAD_UTF8, NULL);
	}
	if(memchr(payload, '\0', len) != NULL || has_escaped_nul(payload, len)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "NUL characters are not allowed");
	}
	tree = cJSON_ParseWithLengthOpts(payload, len, &end, false);
	if(tree == NULL) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "malformed JSON");
	}
	while(end < (const char *)payload + len && strchr(" \t\r\n", *end) != NULL) {
		end++;
	}
	if(end != (const char *)payload + len) {
		cJSON_Delete(tree);
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "malformed JSON: text after the object");
	}
	*out = tree; /* an object: it started with '{' and parsed */
	return CHAT_ERR_OK;
}


static const cJSON *field(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNull(item) ? NULL : item;
}


enum chat_err chat_json__string(const cJSON *obj, const char *key, bool required, size_t min_chars,
				size_t max_chars, const char **out, struct chat_error *err)
{
	const cJSON *item = field(obj, key);
	size_t chars;

	*out = NULL;
	if(item == NULL) {
		if(required) {
			return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "%s is required", key);
		}
		return CHAT_ERR_OK;
	}
	if(!cJSON_IsString(item)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "%s must be a string", key);
	}
	chars = chat_utf8__length(item->valuestring, strlen(item->valuestring));
	if(chars < min_chars || chars > max_chars) {
		if(max_chars == SIZE_MAX) { /* no upper bound to speak of */
			return min_chars == 1 ? chat_error__set(err, CHAT_ERR_BAD_REQUEST,
								"%s must not be empty", key)
					      : chat_error__set(err, CHAT_ERR_BAD_REQUEST,
								"%s must be at least %zu characters long",
								key, min_chars);
		}
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "%s must be %zu to %zu characters long",
				       key, min_chars, max_chars);
	}
	*out = item->valuestring;
	return CHAT_ERR_OK;
}


enum chat_err chat_json__int(const cJSON *obj, const char *key, bool required, int64_t min, int64_t max,
			     int64_t *out, struct chat_error *err)
{
	const cJSON *item = field(obj, key);
	double d;

	if(item == NULL) {
		if(required) {
			return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "%s is required", key);
		}
		return CHAT_ERR_OK;
	}
	d = item->valuedouble;
	if(!cJSON_IsNumber(item) || !isfinite(d) || d != floor(d) || d < (double)min || d > (double)max) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "%s must be an integer from %lld to %lld",
				       key, (long long)min, (long long)max);
	}
	*out = (int64_t)d;
	return CHAT_ERR_OK;
}


enum chat_err chat_json__bool(const cJSON *obj, const char *key, bool required, bool *out,
			      struct chat_error *err)
{
	const cJSON *item = field(obj, key);

	if(item == NULL) {
		if(required) {
			return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "%s is required", key);
		}
		return CHAT_ERR_OK;
	}
	if(!cJSON_IsBool(item)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "%s must be true or false", key);
	}
	*out = cJSON_IsTrue(item);
	return CHAT_ERR_OK;
}
