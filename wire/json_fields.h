/*
 * json_fields.h - typed, bounded access to the fields of a request object.
 *
 * Every getter either stores the value and returns CHAT_ERR_OK, or returns CHAT_ERR_BAD_REQUEST with a
 * message naming the field ("limit must be an integer from 1 to 1000"). Strings are returned as
 * pointers into the cJSON tree; they live as long as the tree.
 */
#ifndef CHAT_JSON_FIELDS_H
#define CHAT_JSON_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "errors.h"

/* Largest integer a JSON number carries exactly (2^53). */
#define CHAT_JSON_INT_MAX 9007199254740992LL

/* True if the first non-blank byte of payload is '{': the payload means to be a JSON object. */
bool chat_json__looks_like_object(const void *payload, size_t len);

/* Parses payload[0..len) as one JSON object with nothing but blanks after it. A payload that does not
 * even start like an object is refused with the message `shape`, which tells the client what to send
 * ("a cursor is {\"seq\":N}"). The payload must be valid UTF-8 and must not encode NUL (as a byte or
 * as \u0000), which cJSON would silently truncate at. On success *out is a tree the caller deletes
 * with cJSON_Delete. */
enum chat_err chat_json__parse_object(const void *payload, size_t len, const char *shape, cJSON **out,
				      struct chat_error *err);

/* String field key of obj, from min_chars to max_chars code points. *out is NULL when the field is absent
 * (or null) and not required. */
enum chat_err chat_json__string(const cJSON *obj, const char *key, bool required, size_t min_chars,
				size_t max_chars, const char **out, struct chat_error *err);

/* Integer field key of obj within [min, max]. When absent and not required, *out is left untouched, so
 * callers preset their default. */
enum chat_err chat_json__int(const cJSON *obj, const char *key, bool required, int64_t min, int64_t max,
			     int64_t *out, struct chat_error *err);

/* Boolean field key of obj; when absent and not required, *out is left untouched. */
enum chat_err chat_json__bool(const cJSON *obj, const char *key, bool required, bool *out,
			      struct chat_error *err);

#endif
