/*
 * config.c - the option table and its strict parser.
 *
 * Defaults are chosen so that plugin_opt_database is the only option an operator must set. The shipped
 * mosquitto.conf documents every row of this table; keep the two in step.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

enum option_type {
	OPT_PATH,
	OPT_INT,
	OPT_WORD, /* one of words[], stored as its index */
};

struct option {
	const char *key;
	enum option_type type;
	size_t offset;
	int64_t min, max, def;
	const char *const *words;
};

static const char *const synchronous_words[] = {"normal", "full", NULL};
static const char *const acl_fallback_words[] = {"allow", "defer", "chat_only", NULL};
static const char *const auth_fallback_words[] = {"defer", "allow", NULL};
static const char *const role_words[] = {"core", "edge", NULL};

/* One row of the table per option: its name is the field's name. */
// clang-format off
#define INT_OPTION(key, min, max, def) {#key, OPT_INT, offsetof(struct chat_config, key), min, max, def, NULL}
#define WORD_OPTION(key, def, words) {#key, OPT_WORD, offsetof(struct chat_config, key), 0, 0, def, words}
// clang-format on

static const struct option options[] = {
	{"database", OPT_PATH, offsetof(struct chat_config, database), 0, 0, 0, NULL},
	WORD_OPTION(role, CHAT_ROLE_CORE, role_words),
	{"edge_id", OPT_PATH, offsetof(struct chat_config, edge_id), 0, 0, 0, NULL},
	{"core_clientid", OPT_PATH, offsetof(struct chat_config, core_clientid), 0, 0, 0, NULL},
	{"bridge_users", OPT_PATH, offsetof(struct chat_config, bridge_users), 0, 0, 0, NULL},
	INT_OPTION(edge_beat_ms, 100, 10000, 1000),
	INT_OPTION(edge_timeout_ms, 300, 60000, 3000),
	WORD_OPTION(synchronous, CHAT_SYNC_FULL, synchronous_words),
	INT_OPTION(max_body, 1, 1048576, 16384),
	INT_OPTION(catchup_limit, 1, 100000, 100),
	INT_OPTION(catchup_max_limit, 1, 100000, 1000),
	INT_OPTION(catchup_page_bytes, 4096, 16777216, 262144),
	INT_OPTION(busy_timeout_ms, 0, 60000, 200),
	INT_OPTION(checkpoint_interval_ms, 0, 60000, 1000),
	INT_OPTION(send_rate, 0, 1000000, 20),
	INT_OPTION(send_burst, 1, 1000000, 100),
	INT_OPTION(request_rate, 0, 1000000, 50),
	INT_OPTION(request_burst, 1, 1000000, 200),
	WORD_OPTION(acl_fallback, CHAT_ACL_FALLBACK_ALLOW, acl_fallback_words),
	WORD_OPTION(auth_fallback, CHAT_AUTH_FALLBACK_DEFER, auth_fallback_words),
	INT_OPTION(typing_timeout_ms, 500, 60000, 5000),
	INT_OPTION(typing_rate, 0, 1000, 1),
	INT_OPTION(typing_burst, 1, 1000, 3),
	INT_OPTION(presence_max_members, 0, 1000000, 200),
	INT_OPTION(cursor_flush_ms, 10, 60000, 1000),
	INT_OPTION(create_rate, 0, 1000000, 60),
	INT_OPTION(create_burst, 1, 1000000, 50),
	INT_OPTION(member_rate, 0, 1000000, 100),
	INT_OPTION(member_burst, 1, 1000000, 1000),
	INT_OPTION(max_memberships, 0, 1000000, 1000),
	INT_OPTION(presence_rate, 0, 1000000, 60),
	INT_OPTION(presence_burst, 1, 1000000, 5),
	INT_OPTION(presence_max_channels, 1, 1000000, 100),
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))


__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -1;
}


static int parse_int(const struct option *opt, const char *value, int64_t *out, char *err, size_t err_len)
{
	char *end = NULL;
	long long n;

	errno = 0;
	n = strtoll(value, &end, 10);
	if(errno != 0 || end == value || *end != '\0' || n < opt->min || n > opt->max) {
		return fail(err, err_len, "plugin_opt_%s: '%s' is not an integer from %lld to %lld", opt->key,
			    value, (long long)opt->min, (long long)opt->max);
	}
	*out = n;
	return 0;
}


static int parse_word(const struct option *opt, const char *value, int64_t *out, char *err, size_t err_len)
{
	size_t used = 0;

	for(int64_t i = 0; opt->words[i] != NULL; i++) {
		if(strcmp(value, opt->words[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	used = (size_t)snprintf(err, err_len, "plugin_opt_%s: '%s' is not one of", opt->key, value);
	for(size_t i = 0; opt->words[i] != NULL && used < err_len; i++) {
		used += (size_t)snprintf(err + used, err_len - used, " %s", opt->words[i]);
	}
	return -1;
}


static int parse_one(struct chat_config *cfg, const struct option *opt, const char *value, char *err,
		     size_t err_len)
{
	void *field = (char *)cfg + opt->offset;

	switch(opt->type) {
	case OPT_PATH:
		if(value[0] == '\0') {
			return fail(err, err_len, "plugin_opt_%s: '%s' is not a path", opt->key, value);
		}
		*(char **)field = strdup(value);
		if(*(char **)field == NULL) {
			return fail(err, err_len, "plugin_opt_%s: out of memory", opt->key);
		}
		return 0;
	case OPT_INT:
		return parse_int(opt, value, field, err, err_len);
	case OPT_WORD:
		return parse_word(opt, value, field, err, err_len);
	}
	return -1;
}


static const struct option *find_option(const char *key)
{
	for(size_t i = 0; i < OPTION_COUNT; i++) {
		if(strcmp(options[i].key, key) == 0) {
			return &options[i];
		}
	}
	return NULL;
}


int chat_config__parse(struct chat_config *cfg, int count, const char *const *keys, const char *const *values,
		       char *err, size_t err_len)
{
	bool seen[OPTION_COUNT] = {false};

	memset(cfg, 0, sizeof(*cfg));
	for(size_t i = 0; i < OPTION_COUNT; i++) {
		if(options[i].type != OPT_PATH) {
			*(int64_t *)((char *)cfg + options[i].offset) = options[i].def;
		}
	}
	for(int i = 0; i < count; i++) {
		const struct option *opt = find_option(keys[i]);
		if(opt == NULL) {
			return fail(err, err_len, "plugin_opt_%s: unknown option (value '%s')", keys[i],
				    values[i] ? values[i] : "");
		}
		if(seen[opt - options]) {
			return fail(err, err_len, "plugin_opt_%s: given twice (second value '%s')", keys[i],
				    values[i] ? values[i] : "");
		}
		seen[opt - options] = true;
		if(parse_one(cfg, opt, values[i] ? values[i] : "", err, err_len) != 0) {
			return -1;
		}
	}
	if(cfg->role == CHAT_ROLE_EDGE) {
		if(cfg->edge_id == NULL || cfg->core_clientid == NULL) {
			return fail(
				err, err_len,
				"plugin_opt_role edge needs plugin_opt_edge_id (its bridge user) and "
				"plugin_opt_core_clientid (the local_clientid of its bridge to the core)");
		}
		if(strlen(cfg->edge_id) > 64 || strpbrk(cfg->edge_id, "/+#") != NULL) {
			return fail(err, err_len,
				    "plugin_opt_edge_id: '%s' is not 1-64 characters without / + #",
				    cfg->edge_id);
		}
	} else if(cfg->database == NULL) {
		return fail(err, err_len, "plugin_opt_database is required: the path of the SQLite database");
	}
	if(cfg->catchup_limit > cfg->catchup_max_limit) {
		return fail(err, err_len,
			    "plugin_opt_catchup_limit: '%lld' is above plugin_opt_catchup_max_limit (%lld)",
			    (long long)cfg->catchup_limit, (long long)cfg->catchup_max_limit);
	}
	return 0;
}


void chat_config__clear(struct chat_config *cfg)
{
	free(cfg->database);
	free(cfg->edge_id);
	free(cfg->core_clientid);
	free(cfg->bridge_users);
	cfg->database = cfg->edge_id = cfg->core_clientid = cfg->bridge_users = NULL;
}
