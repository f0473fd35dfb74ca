/*
 * config.h - the plugin's options (plugin_opt_* lines of mosquitto.conf).
 *
 * Every option is one row of a table in config.c: key, type, bounds and default. Parsing is strict: an
 * unknown key, a value that is not entirely a number in range or one of the listed words, or an option
 * given twice fails plugin start with a message naming the key and the value.
 */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum chat_synchronous {
	CHAT_SYNC_NORMAL, /* WAL synchronous=NORMAL: survives process crashes */
	CHAT_SYNC_FULL,   /* WAL synchronous=FULL: also survives power loss */
};

enum chat_auth_fallback {
	CHAT_AUTH_FALLBACK_DEFER, /* password_file, dynamic-security or a plugin authenticates */
	CHAT_AUTH_FALLBACK_ALLOW, /* no other source: accept the username a client presents */
};

enum chat_acl_fallback {
	CHAT_ACL_FALLBACK_ALLOW,     /* no other ACL source: allow what mqchat does not forbid */
	CHAT_ACL_FALLBACK_DEFER,     /* acl_file or dynamic-security decides what mqchat does not forbid */
	CHAT_ACL_FALLBACK_CHAT_ONLY, /* no other ACL source, and a broker for chat only: outside chat/,
				      * publishing is refused (subscribing is not) */
};

enum chat_role_option {
	CHAT_ROLE_CORE, /* holds the log: the default */
	CHAT_ROLE_EDGE, /* holds client connections, bridged to a core (edge.c) */
};

struct chat_config {
	char *database; /* SQLite path, required by the core; an edge has no database */
	int64_t role;
	char *edge_id;           /* edge: its name, the bridge user it connects to the core as */
	char *core_clientid;     /* edge: local_clientid of its bridge to the core */
	char *bridge_users;      /* core: comma-separated bridge users (edge ids) it trusts */
	int64_t edge_beat_ms;    /* core: heartbeat period to the edges */
	int64_t edge_timeout_ms; /* edge: no heartbeat for this long means the core is down */
	int64_t synchronous;
	int64_t max_body;
	int64_t catchup_limit;
	int64_t catchup_max_limit;
	int64_t catchup_page_bytes;
	int64_t busy_timeout_ms;
	int64_t checkpoint_interval_ms;
	int64_t send_rate;
	int64_t send_burst;
	int64_t request_rate;
	int64_t request_burst;
	int64_t acl_fallback;
	int64_t auth_fallback;
	int64_t typing_timeout_ms;
	int64_t typing_rate;
	int64_t typing_burst;
	int64_t presence_max_members;
	int64_t cursor_flush_ms;
	/* Quotas per user (quotas.c) and the bounds of presence (presence.c): see mosquitto.conf. */
	int64_t create_rate; /* channels created, per hour; 0: no limit */
	int64_t create_burst;
	int64_t member_rate; /* members added by create, invite and dm, per minute; 0: no limit */
	int64_t member_burst;
	int64_t max_memberships; /* channels one user may be in; 0: no limit */
	int64_t presence_rate;   /* presence announcements of one user, per minute; 0: no limit */
	int64_t presence_burst;
	int64_t presence_max_channels; /* channels one announcement goes to */
};

/* Fills cfg from count key/value pairs (keys without the "plugin_opt_" prefix), applying defaults.
 * Returns 0, or -1 with a message in err. the string options are malloc'd: release with chat_config__clear,
 * on success and on failure alike. */
int chat_config__parse(struct chat_config *cfg, int count, const char *const *keys, const char *const *values,
		       char *err, size_t err_len);

/* Releases what chat_config__parse allocated. */
void chat_config__clear(struct chat_config *cfg);

#endif
