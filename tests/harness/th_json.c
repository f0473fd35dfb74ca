/*
 * JSON for tests: whole-document matching against a pattern with "*" wildcards, and small
 * accessors that fail the test instead of returning something a test would have to check.
 *
 * A mismatch is reported with the path of the first difference, "$" being the root:
 * "$.events[2].seq: expected 43, got 44".
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th.h"
#include "th_internal.h"

#define TH_PATH_MAX 512

struct matcher {
	char path[TH_PATH_MAX];
	char *why;
	size_t why_len;
};


static const char *type_name(const cJSON *j)
{
	if(cJSON_IsObject(j)) {
		return "object";
	} else if(cJSON_IsArray(j)) {
		return "array";
	} else if(cJSON_IsString(j)) {
		return "string";
	} else if(cJSON_IsNumber(j)) {
		return "number";
	} else if(cJSON_IsBool(j)) {
		return "bool";
	} else if(cJSON_IsNull(j)) {
		return "null";
	}
	return "invalid";
}


/* "number 42", "string \"x\"", "object {...}"; just "null", "true" or "false" for those. */
static void describe(const cJSON *j, char *buf, size_t size)
{
	char *text = cJSON_PrintUnformatted(j);

	if(cJSON_IsNull(j) || cJSON_IsBool(j)) {
		snprintf(buf, size, "%s", text ? text : "?");
	} else {
		snprintf(buf, size, "%s %.200s", type_name(j), text ? text : "?");
	}
	free(text);
}


static bool mismatch(struct matcher *m, const char *what, const cJSON *expected, const cJSON *actual)
{
	char *e = expected ? cJSON_PrintUnformatted(expected) : NULL;
	char *a = actual ? cJSON_PrintUnformatted(actual) : NULL;

	if(what) {
		snprintf(m->why, m->why_len, "%s: %s", m->path, what);
	} else {
		snprintf(m->why, m->why_len, "%s: expected %.200s, got %.200s", m->path, e ? e : "?",
			 a ? a : "?");
	}
	free(e);
	free(a);
	return false;
}


static bool is_wildcard(const cJSON *p)
{
	return cJSON_IsString(p) && !strcmp(p->valuestring, "*");
}


static bool match(struct matcher *m, const cJSON *a, const cJSON *p);


static bool match_child(struct matcher *m, const cJSON *a, const cJSON *p, const char *key, int index)
{
	size_t len = strlen(m->path);
	bool ok;

	if(key) {
		snprintf(m->path + len, sizeof(m->path) - len, ".%s", key);
	} else {
		snprintf(m->path + len, sizeof(m->path) - len, "[%d]", index);
	}
	ok = match(m, a, p);
	if(ok) {
		m->path[len] = '\0';
	}
	return ok;
}


static bool match_object(struct matcher *m, const cJSON *a, const cJSON *p)
{
	const cJSON *item;

	for(item = p->child; item; item = item->next) {
		const cJSON *got = cJSON_GetObjectItemCaseSensitive(a, item->string);
		size_t len = strlen(m->path);

		if(!got) {
			snprintf(m->path + len, sizeof(m->path) - len, ".%s", item->string);
			return mismatch(m, "missing key", NULL, NULL);
		}
		if(!match_child(m, got, item, item->string, 0)) {
			return false;
		}
	}
	for(item = a->child; item; item = item->next) {
		if(!cJSON_GetObjectItemCaseSensitive(p, item->string)) {
			size_t len = strlen(m->path);
			char *v = cJSON_PrintUnformatted(item);
			char what[300];

			snprintf(m->path + len, sizeof(m->path) - len, ".%s", item->string);
			snprintf(what, sizeof(what), "unexpected key (value %.200s)", v ? v : "?");
			free(v);
			return mismatch(m, what, NULL, NULL);
		}
	}
	return true;
}


static bool match_array(struct matcher *m, const cJSON *a, const cJSON *p)
{
	int na = cJSON_GetArraySize(a), np = cJSON_GetArraySize(p);
	const cJSON *ia, *ip;
	int i = 0;

	if(na != np) {
		char what[64];

		snprintf(what, sizeof(what), "expected %d elements, got %d", np, na);
		return mismatch(m, what, NULL, NULL);
	}
	for(ia = a->child, ip = p->child; ia && ip; ia = ia->next, ip = ip->next, i++) {
		if(!match_child(m, ia, ip, NULL, i)) {
			return false;
		}
	}
	return true;
}


static bool match(struct matcher *m, const cJSON *a, const cJSON *p)
{
	if(is_wildcard(p)) {
		return true;
	}
	if(strcmp(type_name(a), type_name(p)) != 0) {
		char e[256], g[256], msg[600];

		describe(p, e, sizeof(e));
		describe(a, g, sizeof(g));
		snprintf(msg, sizeof(msg), "expected %s, got %s", e, g);
		return mismatch(m, msg, NULL, NULL);
	}
	if(cJSON_IsObject(p)) {
		return match_object(m, a, p);
	} else if(cJSON_IsArray(p)) {
		return match_array(m, a, p);
	} else if(cJSON_IsString(p)) {
		return !strcmp(a->valuestring, p->valuestring) ? true : mismatch(m, NULL, p, a);
	} else if(cJSON_IsNumber(p)) {
		return a->valuedouble == p->valuedouble ? true : mismatch(m, NULL, p, a);
	} else if(cJSON_IsBool(p)) {
		return cJSON_IsTrue(a) == cJSON_IsTrue(p) ? true : mismatch(m, NULL, p, a);
	}
	return true; /* null */
}


bool th_json_match(const cJSON *actual, const char *pattern, char *why, size_t why_len)
{
	struct matcher m;
	char scratch[1];
	cJSON *p;
	bool ok;

	memset(&m, 0, sizeof(m));
	strcpy(m.path, "$");
	m.why = why && why_len ? why : scratch;
	m.why_len = why && why_len ? why_len : sizeof(scratch);
	m.why[0] = '\0';
	p = cJSON_Parse(pattern);
	if(!p) {
		snprintf(m.why, m.why_len, "the pattern is not valid JSON: %s", pattern);
		return false;
	}
	if(!actual) {
		cJSON_Delete(p);
		snprintf(m.why, m.why_len, "$: no JSON (NULL)");
		return false;
	}
	ok = match(&m, actual, p);
	cJSON_Delete(p);
	return ok;
}


void th_json_check_(const char *file, int line, const char *actual_expr, const cJSON *actual,
		    const char *pattern)
{
	char why[1024];
	char *text;

	if(th_json_match(actual, pattern, why, sizeof(why))) {
		return;
	}
	text = th_json_print(actual);
	th_fail(file, line, "%s does not match the pattern\n  why:     %s\n  actual:  %s\n  pattern: %s",
		actual_expr, why, text, pattern);
}


cJSON *th_json_parse_at(const char *file, int line, const char *text)
{
	cJSON *j = text ? cJSON_Parse(text) : NULL;

	if(!j) {
		th_fail(file, line, "not JSON: %s", text ? text : "NULL");
	}
	return j;
}


const char *th_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}


long long th_json_int_at(const char *file, int line, const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if(!cJSON_IsNumber(v)) {
		char *text = th_json_print(obj);

		th_fail(file, line, "%s: no number under \"%s\" in %s", v ? type_name(v) : "missing", key,
			text);
	}
	return (long long)v->valuedouble;
}


char *th_json_print(const cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;

	return text ? text : th__xstrdup("null");
}
