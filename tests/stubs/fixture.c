/*
 * fixture.c - a core's struct chat_plugin built as plugin/plugin.c builds it (see fixture.h).
 *
 * This mirrors plugin.c's init (services/state.c for the state), open_database and plugin_free minus what
 * needs a broker (the callbacks, the broker's own configuration file, the adapters' state). When plugin.c's
 * init gains a step that services depend on, this file follows it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_fault.h"
#include "batch.h"
#include "broker.h"
#include "checkpoint.h"
#include "cursors.h"
#include "fixture.h"
#include "state.h"
#include "presence.h"
#include "ratelimit.h"
#include "store.h"
#include "typing.h"
#include "users.h"

#define MAX_OPTIONS 64
/* plugin.c's backstop: with the checkpointer thread, a commit checkpoints by itself only at 64 MiB. */
#define BACKSTOP_CHECKPOINT_PAGES 16384


static bool has_option(const char *const *options, const char *key)
{
	size_t len = strlen(key);

	for(size_t i = 0; options != NULL && options[i] != NULL; i++) {
		if(strncmp(options[i], key, len) == 0 && options[i][len] == '=') {
			return true;
		}
	}
	return false;
}


/* Splits "key=value" options into config.c's two arrays, with the fixture's database, and parses
 * them. The strings live in buf. */
static int parse_options(struct ts_fixture *fx, const char *const *options, char *err, size_t err_len)
{
	const char *keys[MAX_OPTIONS], *values[MAX_OPTIONS];
	char buf[MAX_OPTIONS][320];
	int count = 0;

	snprintf(buf[count], sizeof(buf[count]), "database=%s", fx->path);
	keys[count] = buf[count];
	count++;
	if(!has_option(options, "checkpoint_interval_ms")) {
		snprintf(buf[count], sizeof(buf[count]), "checkpoint_interval_ms=0");
		keys[count] = buf[count];
		count++;
	}
	for(size_t i = 0; options != NULL && options[i] != NULL; i++) {
		if(count == MAX_OPTIONS || strlen(options[i]) >= sizeof(buf[0])
		   || strchr(options[i], '=') == NULL) {
			snprintf(err, err_len, "fixture: cannot take option '%s'", options[i]);
			return -1;
		}
		snprintf(buf[count], sizeof(buf[count]), "%s", options[i]);
		keys[count] = buf[count];
		count++;
	}
	for(int i = 0; i < count; i++) {
		char *eq = strchr(buf[i], '=');
		*eq = '\0';
		values[i] = eq + 1;
	}
	return chat_config__parse(&fx->plugin->config, count, keys, values, err, err_len);
}


static int load_client_id(void *ctx, const char *client_id, const char *user)
{
	return chat_sessions__load(ctx, client_id, user);
}


/* plugin.c's open_database, without the log lines. */
static int open_database(struct chat_plugin *plugin, char *err, size_t err_len)
{
	int found = 0, renewed = 0;

	if(chat_store__open(plugin->config.database, (enum chat_synchronous)plugin->config.synchronous,
			    (int)plugin->config.busy_timeout_ms, &plugin->store, &found, err, err_len)
		   != 0
	   || chat_store__begin_run(plugin->store, NULL, (enum chat_synchronous)plugin->config.synchronous,
				    &renewed, err, err_len)
		      != 0) {
		return -1;
	}
	plugin->run_begun = true;
	if(plugin->config.checkpoint_interval_ms > 0) {
		chat_store__set_autocheckpoint(plugin->store, BACKSTOP_CHECKPOINT_PAGES);
		if(chat_checkpointer__start(plugin->config.database,
					    (int)plugin->config.checkpoint_interval_ms, &plugin->checkpointer,
					    err, err_len)
		   != 0) {
			return -1;
		}
	}
	if(chat_store__load(plugin->store, &plugin->index, err, err_len) != 0
	   || chat_store__load_client_ids(plugin->store, load_client_id, &plugin->sessions, err, err_len)
		      != 0) {
		return -1;
	}
	return chat_users__load(plugin, err, err_len);
}


int ts_fixture_open(struct ts_fixture *fx, const char *const *options, char *err, size_t err_len)
{
	const char *tmp = getenv("TMPDIR");

	memset(fx, 0, sizeof(*fx));
	snprintf(err, err_len, "out of memory");
	if(ts_alloc_install() != 0) {
		snprintf(err, err_len, "fixture: SQLite was initialised before the allocation hook");
		return -1;
	}
	snprintf(fx->dir, sizeof(fx->dir), "%s/mqchat-unit-XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if(mkdtemp(fx->dir) == NULL) {
		snprintf(err, err_len, "fixture: cannot make %s", fx->dir);
		fx->dir[0] = '\0';
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/chat.db", fx->dir);
	fx->plugin = calloc(1, sizeof(*fx->plugin));
	if(fx->plugin == NULL || chat_services__state_new(fx->plugin) != 0
	   || parse_options(fx, options, err, err_len) != 0 || open_database(fx->plugin, err, err_len) != 0
	   || chat_services__limits_new(fx->plugin) != 0) {
		ts_fixture_close(fx);
		return -1;
	}
	return 0;
}


/* plugin.c's plugin_free, minus the adapters' state (client ids are not written: tick.c's job). */
static void plugin_free(struct chat_plugin *plugin)
{
	if(plugin->store != NULL && plugin->batch != NULL) {
		chat_batch__flush(plugin);
		chat_cursors__flush(plugin);
		chat_users__flush(plugin);
		if(plugin->run_begun) {
			chat_store__end_run(plugin->store);
		}
	}
	chat_services__state_free(plugin);
	chat_sessions__clear(&plugin->sessions);
	chat_index__clear(&plugin->index);
	chat_checkpointer__stop(plugin->checkpointer);
	chat_store__close(plugin->store);
	chat_config__clear(&plugin->config);
	free(plugin);
}


void ts_fixture_close(struct ts_fixture *fx)
{
	static const char *const suffixes[] = {"",        "-wal",        "-shm",       "-journal",
					       "-search", "-search-wal", "-search-shm"};
	char file[sizeof(fx->path) + 16];

	if(fx->plugin != NULL) {
		plugin_free(fx->plugin);
		fx->plugin = NULL;
	}
	if(fx->dir[0] != '\0') {
		for(size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
			snprintf(file, sizeof(file), "%s%s", fx->path, suffixes[i]);
			unlink(file);
		}
		rmdir(fx->dir);
		fx->dir[0] = '\0';
	}
}


const void *ts_fixture_connect(struct ts_fixture *fx, const char *user, const char *client_id)
{
	struct ts_fixture_client *c;

	if(fx->nclients == TS_FIXTURE_CLIENTS) {
		return NULL;
	}
	c = &fx->clients[fx->nclients++];
	snprintf(c->user, sizeof(c->user), "%s", user);
	snprintf(c->client_id, sizeof(c->client_id), "%s", client_id);
	if(chat_sessions__connecting(&fx->plugin->sessions, c, user, client_id, true, NULL)
	   != CHAT_SESSION_ACCEPT) {
		fx->nclients--;
		return NULL;
	}
	chat_sessions__confirm_pending(&fx->plugin->sessions);
	chat_users__note(fx->plugin, user);
	return c;
}


int ts_fixture_reply_to(struct ts_fixture *fx, struct chat_reply_to *rt, const char *client_id,
			const char *response_topic)
{
	if(chat_reply_to__init(rt, client_id, response_topic, NULL, 0) != 0) {
		return -1;
	}
	rt->sessions = &fx->plugin->sessions;
	return 0;
}


void ts_fixture_tick(struct ts_fixture *fx)
{
	chat_batch__tick(fx->plugin);
}
