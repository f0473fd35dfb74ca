/*
 * broker_conf.c - reads the few lines of the broker's configuration that mqchat's options depend on
 * (see broker_conf.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_conf.h"

#define LINE_MAX_LEN 4096


/* The next whitespace-separated word of *s, NUL-terminated in place, or NULL. */
static char *next_word(char **s)
{
	char *p = *s, *word;

	while(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
		p++;
	}
	if(*p == '\0') {
		*s = p;
		return NULL;
	}
	word = p;
	while(*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
		p++;
	}
	if(*p != '\0') {
		*p++ = '\0';
	}
	*s = p;
	return word;
}


const char *chat_broker_conf__line(char *line, struct chat_broker_conf *out)
{
	char *rest = line;
	char *key = next_word(&rest), *value;

	if(key == NULL || key[0] == '#') {
		return NULL;
	}
	value = next_word(&rest);
	if(value == NULL) {
		return NULL;
	}
	if(strcmp(key, "password_file") == 0) {
		out->password_file = true;
	} else if(strcmp(key, "acl_file") == 0) {
		out->acl_file = true;
	} else if(strcmp(key, "plugin") == 0 || strcmp(key, "auth_plugin") == 0) {
		if(strstr(value, "dynamic-security") != NULL || strstr(value, "dynamic_security") != NULL) {
			out->dynamic_security = true;
		}
	} else if(strcmp(key, "allow_anonymous") == 0) {
		out->allow_anonymous = strcmp(value, "true") == 0 ? 1 : 0;
	} else if(strcmp(key, "per_listener_settings") == 0) {
		out->per_listener_settings = strcmp(value, "true") == 0;
	} else if(strcmp(key, "max_packet_size") == 0 || strcmp(key, "message_size_limit") == 0) {
		out->max_packet_size = strtoll(value, NULL, 10) > 0;
	} else if(strcmp(key, "sys_interval") == 0) {
		long long v = strtoll(value, NULL, 10);
		out->sys_interval = v < 0 ? 0 : v > 86400 ? 86400 : (int)v;
	} else if(strcmp(key, "include_dir") == 0) {
		return value;
	}
	return NULL;
}


/* Reads one file's lines into out; each include_dir it names is read when include_dirs is true. */
static int read_file(const char *path, struct chat_broker_conf *out, bool include_dirs, char *err,
		     size_t err_len);


static int conf_name_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}


static int is_conf_file(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return len > 5 && strcmp(d->d_name + len - 5, ".conf") == 0;
}


static void read_include_dir(const char *dir, struct chat_broker_conf *out)
{
	struct dirent **names = NULL;
	char path[LINE_MAX_LEN];
	char ignored[256];
	int n = scandir(dir, &names, is_conf_file, conf_name_order);

	for(int i = 0; i < n; i++) {
		if((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) < sizeof(path)) {
			read_file(path, out, false, ignored, sizeof(ignored)); /* Mosquitto read it already */
		}
		free(names[i]);
	}
	free(names);
}


static int read_file(const char *path, struct chat_broker_conf *out, bool include_dirs, char *err,
		     size_t err_len)
{
	FILE *f = fopen(path, "r");
	char line[LINE_MAX_LEN];
	const char *dir;

	if(f == NULL) {
		snprintf(err, err_len, "cannot read the broker's configuration %s", path);
		return -1;
	}
	while(fgets(line, sizeof(line), f) != NULL) {
		dir = chat_broker_conf__line(line, out);
		if(dir != NULL && include_dirs) {
			read_include_dir(dir, out);
		}
	}
	fclose(f);
	return 0;
}


int chat_broker_conf__read(const char *path, struct chat_broker_conf *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	out->allow_anonymous = -1;
	out->sys_interval = -1;
	return read_file(path, out, true, err, err_len);
}


bool chat_broker_conf__path_from_cmdline(const char *cmdline, size_t len, char *path, size_t path_size)
{
	const char *arg = cmdline, *end = cmdline + len;
	bool next_is_path = false;

	while(arg < end) {
		size_t arg_len = strnlen(arg, (size_t)(end - arg));
		if(next_is_path) {
			if(arg_len == 0 || arg_len >= path_size) {
				return false;
			}
			memcpy(path, arg, arg_len);
			path[arg_len] = '\0';
			return true;
		}
		next_is_path = (arg_len == 2 && memcmp(arg, "-c", 2) == 0)
			       || (arg_len == 13 && memcmp(arg, "--config-file", 13) == 0);
		arg += arg_len + 1;
	}
	return false;
}
