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
#include "envelope.h" /* CHAT_EDGE_ID_MAX */

enum option_type {
	OPT_PATH,
	OPT_INT,
	OPT_WORD, /* one of words[], stored as its index: the enum's value */
};

struct option {
	const char *key;
	enum option_type type;
	int64_t min, max, def;
	const char *const *words;
	char **path;                                         /* OPT_PATH: where it goes */
	void (*set)(struct chat_config *cfg, int64_t value); /* OPT_INT, OPT_WORD: stores it in its type */
};

/* The words of each WORD option, in the order of its enum's values. */
static const char *const synchronous_words[] = {"normal", "full", NULL};
static const char *const acl_fallback_words[] = {"allow", "defer", "chat_only", "auto", NULL};
static const char *const auth_fallback_words[] = {"defer", "allow", NULL};
static const char *const role_words[] = {"core", "edge", NULL};
static const char *const push_content_words[] = {"full", "minimal", NULL};

/* A setter per number and word option: the value was checked against the row's bounds (or words)
 * first, so it fits the field's type. */
#define PATH_SETTER(key, doc)
#define INT_SETTER(key, type, min, max, def, doc)                                                            \
	static void set_##key(struct chat_config *cfg, int64_t value)                                        \
	{                                                                                                    \
		cfg->key = (type)value;                                                                      \
	}
#define WORD_SETTER(key, type, def, doc) INT_SETTER(key, type, 0, 0, def, doc)
CHAT_OPTIONS(PATH_SETTER, INT_SETTER, WORD_SETTER)

// clang-format off
#define PATH_ROW(key, doc) {#key, OPT_PATH, 0, 0, 0, NULL, NULL, NULL},
#define INT_ROW(key, type, min, max, def, doc) {#key, OPT_INT, min, max, def, NULL, NULL, set_##key},
#define WORD_ROW(key, type, def, doc) {#key, OPT_WORD, 0, 0, def, key##_words, NULL, set_##key},
// clang-format on

static const struct option options[] = {CHAT_OPTIONS(PATH_ROW, INT_ROW, WORD_ROW)};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))


/* Where a path option goes (the table cannot hold a pointer into cfg). */
static char **path_field(struct chat_config *cfg, const char *key)
{
#define PATH_FIELD(k, doc)                                                                                   \
	if(strcmp(key, #k) == 0) {                                                                           \
		return &cfg->k;                                                                              \
	}
#define NOT_A_PATH(...)
	CHAT_OPTIONS(PATH_FIELD, NOT_A_PATH, NOT_A_PATH)
	return NULL;
}


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
	char **path;
	int64_t n = 0;

	switch(opt->type) {
	case OPT_PATH:
		if(value[0] == '\0') {
			return fail(err, err_len, "plugin_opt_%s: '%s' is not a path", opt->key, value);
		}
		path = path_field(cfg, opt->key);
		if(path == NULL || (*path = strdup(value)) == NULL) {
			return fail(err, err_len, "plugin_opt_%s: out of memory", opt->key);
		}
		return 0;
	case OPT_INT:
		if(parse_int(opt, value, &n, err, err_len) != 0) {
			return -1;
		}
		opt->set(cfg, n);
		return 0;
	case OPT_WORD:
		if(parse_word(opt, value, &n, err, err_len) != 0) {
			return -1;
		}
		opt->set(cfg, n);
		return 0;
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
			options[i].set(cfg, options[i].def);
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
		if(strlen(cfg->edge_id) > CHAT_EDGE_ID_MAX || strpbrk(cfg->edge_id, "/+#") != NULL) {
			return fail(err, err_len,
				    "plugin_opt_edge_id: '%s' is not 1-%d characters without / + #",
				    cfg->edge_id, CHAT_EDGE_ID_MAX);
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
#define FREE_PATH(key, doc)                                                                                  \
	free(cfg->key);                                                                                      \
	cfg->key = NULL;
#define NOT_A_PATH(...)
	CHAT_OPTIONS(FREE_PATH, NOT_A_PATH, NOT_A_PATH)
}
