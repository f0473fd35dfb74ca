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
	CHAT_ACL_FALLBACK_AUTO,      /* defer when the broker's configuration names acl_file or
				      * dynamic-security, allow otherwise: resolved once at start, for a
				      * packaged configuration that cannot know the broker it joins */
};

enum chat_push_content {
	CHAT_PUSH_CONTENT_FULL,    /* the body and its sender go to the gateway */
	CHAT_PUSH_CONTENT_MINIMAL, /* neither: the app fetches the message by catch-up */
};

enum chat_role_option {
	CHAT_ROLE_CORE, /* holds the log: the default */
	CHAT_ROLE_EDGE, /* holds client connections, bridged to a core (edge.c) */
};

/*
 * The options, one row each: CHAT_OPTIONS(PATH, INT, WORD) expands every row with the macro of its
 * kind. It generates both struct chat_config (each field typed as its users need it: an enum, a size,
 * an int) and config.c's table of names, bounds and defaults, so the two never drift. A value is
 * range-checked against its row before it is stored in its type.
 *   PATH(key, doc)                           a string, malloc'd; NULL when not given
 *   INT(key, type, min, max, default, doc)   an integer from min to max
 *   WORD(key, type, default, doc)            one of config.c's key##_words, stored as the enum
 * Keys are at least three characters: Mosquitto 2.0.11 refuses shorter plugin_opt_ keys.
 */
// clang-format off
#define CHAT_OPTIONS(PATH, INT, WORD)                                                                          \
	PATH(database, "SQLite path, required by the core; an edge has no database")                          \
	WORD(role, enum chat_role_option, CHAT_ROLE_CORE, "core (the log) or edge")                           \
	PATH(edge_id, "edge: its name, the bridge user it connects to the core as")                           \
	PATH(core_clientid, "edge: local_clientid of its bridge to the core")                                 \
	PATH(bridge_users, "core: comma-separated bridge users (edge ids) it trusts")                         \
	PATH(admins, "core: comma-separated users who may use $CONTROL/mqchat/v1")                           \
	INT(edge_beat_ms, int64_t, 100, 10000, 1000, "core: heartbeat period to the edges")                   \
	INT(edge_timeout_ms, int64_t, 300, 60000, 3000, "edge: no heartbeat for this long: the core is down") \
	WORD(synchronous, enum chat_synchronous, CHAT_SYNC_FULL, "how durable an ack is")                     \
	INT(max_body, size_t, 1, 1048576, 16384, "largest message body, bytes")                               \
	INT(catchup_limit, int64_t, 1, 100000, 100, "events per page when a request names no limit")         \
	INT(catchup_max_limit, int64_t, 1, 100000, 1000, "the most events a request may ask for")            \
	INT(catchup_page_bytes, size_t, 4096, 16777216, 262144, "the most bytes of one page")                 \
	INT(busy_timeout_ms, int, 0, 60000, 200, "how long a write waits for the database lock")              \
	INT(checkpoint_interval_ms, int, 0, 60000, 1000, "WAL checkpoints by a thread; 0: SQLite's own")      \
	INT(search, int, 0, 1, 1, "1: the search op, its index beside the database and its thread; 0: off")  \
	INT(send_rate, int64_t, 0, 1000000, 20, "sends per user per second; 0: no limit")                     \
	INT(send_burst, int64_t, 1, 1000000, 100, "")                                                         \
	INT(request_rate, int64_t, 0, 1000000, 50, "requests per user per second; 0: no limit")               \
	INT(request_burst, int64_t, 1, 1000000, 200, "")                                                      \
	WORD(acl_fallback, enum chat_acl_fallback, CHAT_ACL_FALLBACK_ALLOW, "what mqchat does not forbid")    \
	WORD(auth_fallback, enum chat_auth_fallback, CHAT_AUTH_FALLBACK_DEFER, "who authenticates")           \
	INT(typing_timeout_ms, int64_t, 500, 60000, 5000, "a typing:true expires after this")                 \
	INT(typing_rate, int64_t, 0, 1000, 1, "typing:true per user and channel per second")                  \
	INT(typing_burst, int64_t, 1, 1000, 3, "")                                                            \
	INT(presence_max_members, unsigned, 0, 1000000, 200, "presence only in channels this small; 0: none") \
	INT(cursor_flush_ms, int64_t, 10, 60000, 1000, "cursor moves, users, client ids written this often")  \
	INT(create_rate, int64_t, 0, 1000000, 60, "channels created per user per hour; 0: no limit")          \
	INT(create_burst, int64_t, 1, 1000000, 50, "")                                                        \
	INT(member_rate, int64_t, 0, 1000000, 100, "members added per user per minute; 0: no limit")          \
	INT(member_burst, int64_t, 1, 1000000, 1000, "")                                                      \
	INT(max_memberships, int64_t, 0, 1000000, 1000, "channels one user may be in; 0: no limit")           \
	INT(presence_rate, int64_t, 0, 1000000, 60, "announcements per user per minute; 0: no limit")        \
	INT(presence_burst, int64_t, 1, 1000000, 5, "")                                                       \
	INT(presence_max_channels, int64_t, 1, 1000000, 100, "channels one announcement goes to")             \
	INT(session_days, int64_t, 0, 3650, 30, "session tokens last this long; 0: none are issued")          \
	INT(session_seconds, int64_t, 0, 315360000, 0, "tests: token lifetime in seconds, over session_days") \
	PATH(push_gateway, "core: a Matrix Push Gateway's notify URL; unset: no push")                        \
	WORD(push_content, enum chat_push_content, CHAT_PUSH_CONTENT_FULL, "full, or minimal: no body, no sender") \
	INT(push_timeout_ms, int64_t, 100, 600000, 10000, "one post to the gateway, connecting included")     \
	INT(push_queue_max, int64_t, 1, 100000000, 100000, "notifications waiting at most; more are counted") \
	INT(retention_days, int64_t, 0, 36500, 0, "events older than this go; 0: kept forever")          \
	INT(retention_count, int64_t, 0, 1000000000, 0, "only this many newest events per channel stay; 0: all") \
	INT(retention_day_seconds, int64_t, 1, 86400, 86400, "tests: the length of a retention day")        \
	INT(retention_check_ms, int64_t, 10, 3600000, 60000, "how often channels are checked for old events") \
	INT(media_max_bytes, int64_t, 0, 4294967296, 26214400, "largest upload, bytes")                     \
	INT(media_quota_bytes, int64_t, 0, 1099511627776, 1073741824, "bytes of media per user; 0: no limit") \
	INT(media_orphan_hours, int64_t, 1, 87600, 24, "an upload no message references goes after this")     \
	INT(media_orphan_seconds, int64_t, 0, 315360000, 0, "tests: orphan age in seconds, over the hours")   \
	PATH(media_dir, "where media bytes are kept; default: <database>.media beside the database")
// clang-format on

struct chat_config {
#define CHAT_CONFIG_PATH_FIELD(key, doc)                     char *key;
#define CHAT_CONFIG_INT_FIELD(key, type, min, max, def, doc) type key;
#define CHAT_CONFIG_WORD_FIELD(key, type, def, doc)          type key;
	CHAT_OPTIONS(CHAT_CONFIG_PATH_FIELD, CHAT_CONFIG_INT_FIELD, CHAT_CONFIG_WORD_FIELD)
#undef CHAT_CONFIG_PATH_FIELD
#undef CHAT_CONFIG_INT_FIELD
#undef CHAT_CONFIG_WORD_FIELD
};

/* Fills cfg from count key/value pairs (keys without the "plugin_opt_" prefix), applying defaults.
 * Returns 0, or -1 with a message in err. the string options are malloc'd: release with chat_config__clear,
 * on success and on failure alike. */
int chat_config__parse(struct chat_config *cfg, int count, const char *const *keys, const char *const *values,
		       char *err, size_t err_len);

/* Releases what chat_config__parse allocated. */
void chat_config__clear(struct chat_config *cfg);

#endif
