/*
 * broker_conf.h - what the broker's own configuration says about authentication and access control.
 *
 * Mosquitto 2.0 tells a plugin only its own plugin_opt_* lines. But two of mqchat's options are only
 * safe in a broker configured a certain way: `plugin_opt_auth_fallback allow` accepts any username
 * with any password, which silently overrides a password_file (plugins are asked before it) and
 * `allow_anonymous false`; `plugin_opt_acl_fallback allow` grants before acl_file is asked. So at
 * start mqchat reads the configuration file the broker was started with (its `-c` argument) and the
 * files of its include_dir, and refuses a contradiction instead of warning about one that may not be
 * there.
 *
 * Pure: reads files, calls nothing of the broker. Unknown lines are ignored: this is not a validator
 * of Mosquitto's configuration, which the broker has already accepted.
 */
#ifndef CHAT_BROKER_CONF_H
#define CHAT_BROKER_CONF_H

#include <stdbool.h>
#include <stddef.h>

struct chat_broker_conf {
	bool password_file;         /* a password_file line */
	bool acl_file;              /* an acl_file line */
	bool dynamic_security;      /* a plugin line loading Mosquitto's dynamic-security plugin */
	int allow_anonymous;        /* -1 not set, 0 false, 1 true (the last line wins) */
	bool per_listener_settings; /* per_listener_settings true */
	bool max_packet_size;       /* a max_packet_size or message_size_limit line */
	int sys_interval;           /* seconds between $SYS updates; -1 not set (Mosquitto: 10) */
};

/* Reads the configuration file at path and the *.conf files of each include_dir it names (one
 * level, in name order, as Mosquitto does) into out. Returns 0, or -1 with a message in err when
 * path cannot be read. */
int chat_broker_conf__read(const char *path, struct chat_broker_conf *out, char *err, size_t err_len);

/* Parses one line of a configuration file into out; returns the include_dir it names (pointing into
 * line, which is modified) or NULL. */
const char *chat_broker_conf__line(char *line, struct chat_broker_conf *out);

/* The value of the broker's -c / --config-file argument in its command line (NUL-separated
 * arguments, as /proc/self/cmdline gives them, len bytes), copied into path; false when there is none
 * or it does not fit. */
bool chat_broker_conf__path_from_cmdline(const char *cmdline, size_t len, char *path, size_t path_size);

#endif
