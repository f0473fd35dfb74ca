/*
 * plugin.c - mqchat's entry points: version, init, cleanup.
 *
 * Init parses the options (config.c), opens and migrates the database (store.c), loads channels and
 * members (index.c) and the directory of users (users.c) into memory and registers the callbacks of
 * one table, which cleanup walks again to unregister them. Any failure stops the broker with a message
 * naming the cause.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mosquitto_broker.h>
/* Only the three entry points leave the shared object. */
#pragma GCC visibility push(default)
#include <mosquitto_plugin.h>
#pragma GCC visibility pop
#include <mosquitto.h>

#include "admin.h"
#include "batch.h"
#include "broker.h"
#include "broker_conf.h"
#include "chat.h"
#include "edge.h"
#include "edge_link.h"
#include "events.h"
#include "media.h"
#include "metrics.h"
#include "state.h"
#include "tick.h"
#include "ratelimit.h"
#include "checkpoint.h"
#include "store.h"
#include "users.h"
#include "waker.h"
#include "typing.h"
#include "presence.h"
#include "cursors.h"

#define PLUGIN_API_VERSION 5
#define ERROR_LEN          512
/* With the checkpointer thread, a commit checkpoints by itself only if the WAL reaches 64 MiB. */
#define BACKSTOP_CHECKPOINT_PAGES 16384

struct callback {
	int event;
	MOSQ_FUNC_generic_callback cb;
};

static const struct callback core_callbacks[] = {
	{MOSQ_EVT_BASIC_AUTH, chat_events__basic_auth_cb},
	{MOSQ_EVT_ACL_CHECK, chat_events__acl_check_cb},
	{MOSQ_EVT_MESSAGE, chat_events__message_cb},
	{MOSQ_EVT_DISCONNECT, chat_events__disconnect_cb},
	{MOSQ_EVT_TICK, chat_events__tick_cb},
};

/* The edge role (edge.c): the same read ACL, from the view replicated from the core. */
static const struct callback edge_callbacks[] = {
	{MOSQ_EVT_BASIC_AUTH, chat_edge__basic_auth_cb},
	{MOSQ_EVT_ACL_CHECK, chat_events__acl_check_cb},
	{MOSQ_EVT_MESSAGE, chat_edge__message_cb},
	{MOSQ_EVT_DISCONNECT, chat_edge__disconnect_cb},
	{MOSQ_EVT_TICK, chat_edge__tick_cb},
};

#define CALLBACK_COUNT (sizeof(core_callbacks) / sizeof(core_callbacks[0]))

_Static_assert(sizeof(edge_callbacks) == sizeof(core_callbacks), "one callback per event in each role");


static const struct callback *callbacks_of(const struct chat_plugin *plugin)
{
	return plugin->config.role == CHAT_ROLE_EDGE ? edge_callbacks : core_callbacks;
}


int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++) {
		if(supported_versions[i] == PLUGIN_API_VERSION) {
			return PLUGIN_API_VERSION;
		}
	}
	return -1;
}


static int load_client_id(void *ctx, const char *client_id, const char *user)
{
	return chat_sessions__load(ctx, client_id, user);
}


/* Frees a plugin, whole or half-built. */
static void plugin_free(struct chat_plugin *plugin)
{
	if(plugin == NULL) {
		return;
	}
	if(plugin->store != NULL) {
		chat_batch__flush(plugin);           /* sends of the last loop iteration */
		chat_cursors__flush(plugin);         /* the moves of the last interval */
		chat_users__flush(plugin);           /* the users first seen since the last flush */
		chat_tick__flush_client_ids(plugin); /* persistent sessions' client ids */
		chat_broker__log(CHAT_LOG_INFO, "group commit: %lu sends in %lu transactions",
				 plugin->batch->committed, plugin->batch->commits);
		if(plugin->run_begun && chat_store__end_run(plugin->store) != 0) {
			chat_broker__log(CHAT_LOG_WARNING, "cannot record a clean stop in the database; at "
							   "synchronous normal the next start after a reboot "
							   "gives every channel a new epoch");
		}
	}
	chat_admin__free(plugin->admin); /* stops the backup worker before its database closes */
	chat_services__state_free(plugin);
	chat_media__free(plugin); /* closes the partial files of uploads in progress */
	chat_sessions__clear(&plugin->sessions);
	chat_index__clear(&plugin->index);
	chat_edge__free(plugin->edge);
	chat_edge_link__free(plugin->edge_link);
	chat_checkpointer__stop(plugin->checkpointer); /* before the last connection closes */
	chat_store__close(plugin->store);
	chat_config__clear(&plugin->config);
	free(plugin);
}


static void unregister_callbacks(struct chat_plugin *plugin, size_t count)
{
	const struct callback *callbacks = callbacks_of(plugin);

	for(size_t i = 0; i < count; i++) {
		mosquitto_callback_unregister(plugin->identifier, callbacks[i].event, callbacks[i].cb, NULL);
	}
}


static int register_callbacks(struct chat_plugin *plugin, char *err, size_t err_len)
{
	const struct callback *callbacks = callbacks_of(plugin);

	for(size_t i = 0; i < CALLBACK_COUNT; i++) {
		int rc = mosquitto_callback_register(plugin->identifier, callbacks[i].event, callbacks[i].cb,
						     NULL, plugin);
		if(rc != MOSQ_ERR_SUCCESS) {
			snprintf(err, err_len, "cannot register callback for event %d: %s",
				 callbacks[i].event, mosquitto_strerror(rc));
			unregister_callbacks(plugin, i);
			return -1;
		}
	}
	return 0;
}


static int parse_options(struct chat_config *config, struct mosquitto_opt *options, int option_count,
			 char *err, size_t err_len)
{
	const char **keys = calloc((size_t)option_count + 1, sizeof(*keys));
	const char **values = calloc((size_t)option_count + 1, sizeof(*values));
	int rc = -1;

	if(keys == NULL || values == NULL) {
		snprintf(err, err_len, "out of memory");
	} else {
		for(int i = 0; i < option_count; i++) {
			keys[i] = options[i].key;
			values[i] = options[i].value;
		}
		rc = chat_config__parse(config, option_count, keys, values, err, err_len);
	}
	free(keys);
	free(values);
	return rc;
}


/* The kernel's id of this boot (MQCHAT_BOOT_ID_FILE names another file, for tests), or NULL. */
static char *read_boot_id(char *out, size_t len)
{
	const char *path = getenv("MQCHAT_BOOT_ID_FILE");
	FILE *f = fopen(path != NULL ? path : "/proc/sys/kernel/random/boot_id", "r");
	char *id = NULL;

	if(f != NULL && fgets(out, (int)len, f) != NULL) {
		out[strcspn(out, "\r\n")] = '\0';
		id = *out != '\0' ? out : NULL;
	}
	if(f != NULL) {
		fclose(f);
	}
	return id;
}


/* Records this run's start; after a possible power loss at synchronous normal, new epochs. */
static int begin_run(struct chat_plugin *plugin, char *err, size_t err_len)
{
	char boot[64];
	int renewed = 0;

	if(chat_store__begin_run(plugin->store, read_boot_id(boot, sizeof(boot)), plugin->config.synchronous,
				 &renewed, err, err_len)
	   != 0) {
		return -1;
	}
	plugin->run_begun = true;
	if(renewed > 0) {
		chat_broker__log(CHAT_LOG_WARNING,
				 "%s: %d channels start a new epoch (clients sync them again)",
				 chat_store__renewed_why(plugin->store), renewed);
	}
	return 0;
}


static int open_database(struct chat_plugin *plugin, char *err, size_t err_len)
{
	int found = 0;

	if(chat_store__open(plugin->config.database, plugin->config.synchronous,
			    plugin->config.busy_timeout_ms, &plugin->store, &found, err, err_len)
	   != 0) {
		return -1;
	}
	if(found == 0) {
		chat_broker__log(CHAT_LOG_NOTICE, "created database %s", plugin->config.database);
	} else if(found != chat_store__schema_version()) {
		chat_broker__log(CHAT_LOG_NOTICE, "upgraded database %s from schema version %d to %d",
				 plugin->config.database, found, chat_store__schema_version());
	}
	if(begin_run(plugin, err, err_len) != 0) {
		return -1;
	}
	if(plugin->config.checkpoint_interval_ms > 0) {
		chat_store__set_autocheckpoint(plugin->store, BACKSTOP_CHECKPOINT_PAGES);
		if(chat_checkpointer__start(plugin->config.database, plugin->config.checkpoint_interval_ms,
					    &plugin->checkpointer, err, err_len)
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


/*
 * Refuses options that contradict the broker's own configuration (broker_conf.h), read from the
 * file the broker was started with. Without one (no -c, or unreadable), says it could not check.
 * Resolves acl_fallback auto here, before any ACL check can run: defer beside acl_file or
 * dynamic-security (and when the configuration cannot be read: granting could bypass a source we
 * cannot see), allow otherwise.
 */
static int check_broker_conf(struct chat_plugin *plugin, char *err, size_t err_len)
{
	struct chat_config *cfg = &plugin->config;
	char cmdline[16384], path[4096], why[512];
	struct chat_broker_conf bc;
	ssize_t len = -1;
	int fd = open("/proc/self/cmdline", O_RDONLY);

	if(fd >= 0) {
		len = read(fd, cmdline, sizeof(cmdline));
		close(fd);
	}
	if(len <= 0 || !chat_broker_conf__path_from_cmdline(cmdline, (size_t)len, path, sizeof(path))
	   || chat_broker_conf__read(path, &bc, why, sizeof(why)) != 0) {
		chat_metrics_job__configure(plugin, -1);
		chat_broker__log(CHAT_LOG_NOTICE, "cannot read the broker's configuration file: its "
						  "authentication and ACL settings are not checked against "
						  "mqchat's options");
		if(cfg->acl_fallback == CHAT_ACL_FALLBACK_AUTO) {
			cfg->acl_fallback = CHAT_ACL_FALLBACK_DEFER;
			chat_broker__log(CHAT_LOG_WARNING, "plugin_opt_acl_fallback auto: the broker's "
							   "configuration is unknown, so mqchat defers to "
							   "its ACL sources; set allow or defer explicitly");
		}
		return 0;
	}
	chat_metrics_job__configure(plugin, bc.sys_interval); /* $SYS/broker/mqchat every sys_interval */
	if(cfg->acl_fallback == CHAT_ACL_FALLBACK_AUTO) {
		cfg->acl_fallback = bc.acl_file || bc.dynamic_security ? CHAT_ACL_FALLBACK_DEFER
								       : CHAT_ACL_FALLBACK_ALLOW;
		chat_broker__log(CHAT_LOG_INFO, "plugin_opt_acl_fallback auto: %s",
				 cfg->acl_fallback == CHAT_ACL_FALLBACK_DEFER
					 ? "defer (acl_file or dynamic-security decides)"
					 : "allow (mqchat is the broker's only ACL source)");
	}
	if(bc.per_listener_settings) {
		snprintf(err, err_len,
			 "per_listener_settings true: Mosquitto 2.0 then gives plugins no "
			 "ticks and hides bridged messages from them; remove it");
		return -1;
	}
	if(cfg->auth_fallback == CHAT_AUTH_FALLBACK_ALLOW && (bc.password_file || bc.dynamic_security)) {
		snprintf(err, err_len,
			 "plugin_opt_auth_fallback allow accepts every username with any "
			 "password before %s is asked; with it, leave auth_fallback at defer",
			 bc.password_file ? "password_file" : "dynamic-security");
		return -1;
	}
	if(cfg->auth_fallback == CHAT_AUTH_FALLBACK_ALLOW && bc.allow_anonymous == 0) {
		snprintf(err, err_len,
			 "plugin_opt_auth_fallback allow accepts every username without a "
			 "password, which contradicts allow_anonymous false; configure an "
			 "authentication source (password_file, dynamic-security) instead");
		return -1;
	}
	if(cfg->acl_fallback != CHAT_ACL_FALLBACK_DEFER && (bc.acl_file || bc.dynamic_security)) {
		/* Mosquitto 2.0 asks no further ACL source once a plugin grants. */
		snprintf(err, err_len,
			 "plugin_opt_acl_fallback %s grants before %s is asked; with it, set "
			 "plugin_opt_acl_fallback defer",
			 cfg->acl_fallback == CHAT_ACL_FALLBACK_ALLOW ? "allow" : "chat_only",
			 bc.acl_file ? "acl_file" : "dynamic-security");
		return -1;
	}
	if(!bc.max_packet_size) {
		chat_broker__log(CHAT_LOG_NOTICE,
				 "no max_packet_size: a client may send a packet of up to "
				 "256 MB, which the broker reads whole before mqchat can refuse "
				 "it; set one (the shipped mosquitto.conf does)");
	}
	return 0;
}


int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options,
			  int option_count)
{
	struct chat_plugin *plugin = calloc(1, sizeof(*plugin));
	char err[ERROR_LEN] = "out of memory";

	if(plugin == NULL) {
		goto fail;
	}
	plugin->identifier = identifier;
	if(chat_services__state_new(plugin) != 0) {
		goto fail;
	}
	if(parse_options(&plugin->config, options, option_count, err, sizeof(err)) != 0
	   || check_broker_conf(plugin, err, sizeof(err)) != 0) {
		goto fail;
	}
	if(plugin->config.role == CHAT_ROLE_EDGE ? chat_edge__init(plugin, err, sizeof(err)) != 0
						 : (open_database(plugin, err, sizeof(err)) != 0
						    || chat_edge_link__init(plugin, err, sizeof(err)) != 0)) {
		goto fail;
	}
	if(chat_services__limits_new(plugin) != 0) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if(register_callbacks(plugin, err, sizeof(err)) != 0) {
		goto fail;
	}
	if(plugin->config.role != CHAT_ROLE_EDGE
	   && mosquitto_callback_register(plugin->identifier, MOSQ_EVT_CONTROL, chat_events__control_cb,
					  CHAT_ADMIN_TOPIC, plugin)
		      != MOSQ_ERR_SUCCESS) {
		/* admin commands only (docs/operations.md): chat goes on without them */
		chat_broker__log(CHAT_LOG_WARNING, "cannot register %s: admin commands are off",
				 CHAT_ADMIN_TOPIC);
	}
	if(chat_waker__start(err, sizeof(err)) != 0) { /* only slower to WebSocket clients without it */
		chat_broker__log(CHAT_LOG_WARNING, "%s", err);
	}
	if(plugin->config.role == CHAT_ROLE_EDGE) {
		chat_broker__log(CHAT_LOG_INFO, "edge %s: serving chat/ for the core behind bridge client %s",
				 plugin->config.edge_id, plugin->config.core_clientid);
	} else {
		chat_broker__log(CHAT_LOG_INFO,
				 "serving chat/ from %s (schema %d, %u channels, %zu users, synchronous=%s)",
				 plugin->config.database, chat_store__schema_version(),
				 HASH_COUNT(plugin->index.channels), chat_users__count(plugin->users),
				 plugin->config.synchronous == CHAT_SYNC_FULL ? "full" : "normal");
	}
	if(plugin->config.auth_fallback == CHAT_AUTH_FALLBACK_ALLOW) {
		chat_broker__log(CHAT_LOG_WARNING,
				 "auth_fallback allow: clients are accepted under any username they "
				 "present; only for brokers with no other authentication");
	}
	*userdata = plugin;
	return MOSQ_ERR_SUCCESS;

fail:
	chat_broker__log(CHAT_LOG_ERR, "cannot start: %s", err);
	plugin_free(plugin);
	return MOSQ_ERR_INVAL;
}


int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct chat_plugin *plugin = userdata;

	(void)options;
	(void)option_count;
	chat_waker__stop();
	if(plugin != NULL) {
		unregister_callbacks(plugin, CALLBACK_COUNT);
		if(plugin->config.role != CHAT_ROLE_EDGE) {
			mosquitto_callback_unregister(plugin->identifier, MOSQ_EVT_CONTROL,
						      chat_events__control_cb, CHAT_ADMIN_TOPIC);
		}
		plugin_free(plugin);
	}
	return MOSQ_ERR_SUCCESS;
}
