/*
 * mqchat_ctrl.c - mqchat_ctrl, the operators' command-line tool: mosquitto_ctrl for mqchat.
 *
 *     mqchat_ctrl [-h host] [-p port] [-u user] [-P password] [-i client-id] [-q]
 *                 [--cafile file] [--capath dir] [--cert file] [--key file] [--insecure]
 *                 [--tls-version v] [--timeout s] [-o options-file] <command> [args]
 *
 * Sends one command to $CONTROL/mqchat/v1 (docs/operations.md) as an MQTT 5 client, waits for its
 * entry on $CONTROL/mqchat/v1/response (matched by the command's correlationData), prints its "data"
 * as JSON on stdout and exits 0; on an error prints it on stderr and exits 1; on a usage error, 2.
 * The connection options are mosquitto_ctrl's; -o reads more of them from a file (one option and its
 * value per line, # for comments), as mosquitto_ctrl does, before those on the command line. Without
 * -o, ~/.config/mqchat_ctrl is read if it exists. The password also comes from $MQCHAT_CTRL_PASSWORD.
 *
 * It speaks only the wire protocol (libmosquitto and cJSON): nothing of the plugin is linked.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#define RESPONSE_TOPIC "$CONTROL/mqchat/v1/response"
#define REQUEST_TOPIC  "$CONTROL/mqchat/v1"
#define MAX_ARGS       256

struct options {
	const char *host, *user, *password, *client_id;
	const char *cafile, *capath, *cert, *key, *tls_version;
	int port, timeout_s;
	bool insecure, quiet;
};

struct session {
	char correlation[40];
	char *request; /* the JSON to publish once subscribed */
	bool subscribed, done;
	int status; /* exit status once done */
	const char *failure;
};


static void usage(FILE *f)
{
	fprintf(f,
		"usage: mqchat_ctrl [-h host] [-p port] [-u user] [-P password] [-i client-id]\n"
		"                   [--cafile file] [--capath dir] [--cert file] [--key file] [--insecure]\n"
		"                   [--tls-version v] [--timeout seconds] [-o options-file] <command> "
		"[args]\n"
		"commands:\n"
		"  listChannels\n"
		"  getChannel <channel>\n"
		"  createChannel <channel> [--owner user] [--private] [--title text] [--members a,b,...]\n"
		"  deleteChannel <channel>\n"
		"  addMember <channel> <user>\n"
		"  removeMember <channel> <user>\n"
		"  listUsers\n"
		"  addUser <user>\n"
		"  setRetention <channel> [--days n] [--count n]   (absent or 0: no limit)\n"
		"  exportChannel <channel> <path-on-the-broker's-host>\n"
		"  backup <path-on-the-broker's-host>\n"
		"  raw '<one command as a JSON object>'\n");
}


/* ---- building the command ------------------------------------------------------------------------ */

static bool need_args(int argc, int n, const char *cmd)
{
	if(argc != n) {
		fprintf(stderr, "mqchat_ctrl: %s takes %d argument%s\n", cmd, n, n == 1 ? "" : "s");
		return false;
	}
	return true;
}


static bool add_members(cJSON *cmd, const char *list)
{
	cJSON *arr = cJSON_AddArrayToObject(cmd, "members");
	char *copy = strdup(list), *save = NULL;

	if(arr == NULL || copy == NULL) {
		free(copy);
		return false;
	}
	for(char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		cJSON_AddItemToArray(arr, cJSON_CreateString(tok));
	}
	free(copy);
	return true;
}


/* setRetention's arguments, argv[0..argc) after the command: <channel> [--days n] [--count n]. The
 * broker checks the range; here only that each value is a whole number. */
static bool add_retention(cJSON *cmd, int argc, char **argv)
{
	if(argc < 1 || argc % 2 != 1) {
		fprintf(stderr, "mqchat_ctrl: setRetention <channel> [--days n] [--count n]\n");
		return false;
	}
	cJSON_AddStringToObject(cmd, "channel", argv[0]);
	for(int i = 1; i + 1 < argc; i += 2) {
		char *end = NULL;
		long long n = strtoll(argv[i + 1], &end, 10);
		if((strcmp(argv[i], "--days") != 0 && strcmp(argv[i], "--count") != 0) || end == argv[i + 1]
		   || *end != '\0') {
			fprintf(stderr,
				"mqchat_ctrl: setRetention: expected --days n or --count n, got %s %s\n",
				argv[i], argv[i + 1]);
			return false;
		}
		cJSON_AddNumberToObject(cmd, argv[i] + 2, (double)n);
	}
	return true;
}


/* The command object for argv[0..argc), or NULL (a message was printed). */
static cJSON *build_command(int argc, char **argv)
{
	const char *name = argv[0];
	cJSON *cmd;

	if(strcmp(name, "raw") == 0) {
		if(!need_args(argc - 1, 1, name)) {
			return NULL;
		}
		cmd = cJSON_Parse(argv[1]);
		if(!cJSON_IsObject(cmd)) {
			fprintf(stderr, "mqchat_ctrl: raw takes one JSON object\n");
			cJSON_Delete(cmd);
			return NULL;
		}
		return cmd;
	}
	cmd = cJSON_CreateObject();
	if(cmd == NULL || cJSON_AddStringToObject(cmd, "command", name) == NULL) {
		cJSON_Delete(cmd);
		return NULL;
	}
	argc--;
	argv++;
	if(strcmp(name, "listChannels") == 0 || strcmp(name, "listUsers") == 0) {
		if(need_args(argc, 0, name)) {
			return cmd;
		}
	} else if(strcmp(name, "getChannel") == 0 || strcmp(name, "deleteChannel") == 0) {
		if(need_args(argc, 1, name)) {
			cJSON_AddStringToObject(cmd, "channel", argv[0]);
			return cmd;
		}
	} else if(strcmp(name, "addMember") == 0 || strcmp(name, "removeMember") == 0) {
		if(need_args(argc, 2, name)) {
			cJSON_AddStringToObject(cmd, "channel", argv[0]);
			cJSON_AddStringToObject(cmd, "user", argv[1]);
			return cmd;
		}
	} else if(strcmp(name, "addUser") == 0) {
		if(need_args(argc, 1, name)) {
			cJSON_AddStringToObject(cmd, "user", argv[0]);
			return cmd;
		}
	} else if(strcmp(name, "exportChannel") == 0) {
		if(need_args(argc, 2, name)) {
			cJSON_AddStringToObject(cmd, "channel", argv[0]);
			cJSON_AddStringToObject(cmd, "path", argv[1]);
			return cmd;
		}
	} else if(strcmp(name, "setRetention") == 0) {
		if(add_retention(cmd, argc, argv)) {
			return cmd;
		}
	} else if(strcmp(name, "backup") == 0) {
		if(need_args(argc, 1, name)) {
			cJSON_AddStringToObject(cmd, "path", argv[0]);
			return cmd;
		}
	} else if(strcmp(name, "createChannel") == 0) {
		if(argc < 1) {
			fprintf(stderr, "mqchat_ctrl: createChannel needs a channel\n");
		} else {
			cJSON_AddStringToObject(cmd, "channel", argv[0]);
			for(int i = 1; i < argc; i++) {
				const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
				if(strcmp(opt, "--private") == 0) {
					cJSON_AddStringToObject(cmd, "visibility", "private");
					continue;
				}
				if(val == NULL) {
					fprintf(stderr, "mqchat_ctrl: createChannel: %s needs a value\n",
						opt);
					cJSON_Delete(cmd);
					return NULL;
				}
				if(strcmp(opt, "--owner") == 0) {
					cJSON_AddStringToObject(cmd, "owner", val);
				} else if(strcmp(opt, "--title") == 0) {
					cJSON_AddStringToObject(cmd, "title", val);
				} else if(strcmp(opt, "--members") == 0) {
					add_members(cmd, val);
				} else {
					fprintf(stderr, "mqchat_ctrl: createChannel: unknown option %s\n",
						opt);
					cJSON_Delete(cmd);
					return NULL;
				}
				i++;
			}
			return cmd;
		}
	} else {
		fprintf(stderr, "mqchat_ctrl: unknown command %s\n", name);
		usage(stderr);
	}
	cJSON_Delete(cmd);
	return NULL;
}


/* ---- the exchange ----------------------------------------------------------------------------------- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *props)
{
	struct session *s = obj;

	(void)flags;
	(void)props;
	if(rc != 0) {
		s->failure = mosquitto_reason_string(rc);
		s->status = 1;
		s->done = true;
		return;
	}
	mosquitto_subscribe_v5(mosq, NULL, RESPONSE_TOPIC, 1, 0, NULL);
}


static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int count, const int *granted,
			 const mosquitto_property *props)
{
	struct session *s = obj;

	(void)mid;
	(void)props;
	if(count < 1 || granted[0] >= 0x80) {
		/* the broker's ACL: only plugin_opt_admins may read the responses */
		s->failure = "not allowed: this user is not one of the broker's plugin_opt_admins";
		s->status = 1;
		s->done = true;
		return;
	}
	s->subscribed = true;
	mosquitto_publish_v5(mosq, NULL, REQUEST_TOPIC, (int)strlen(s->request), s->request, 1, false, NULL);
}


/* Prints the entry of our command if msg holds it; true when it did. */
static bool take_entry(struct session *s, const cJSON *doc)
{
	const cJSON *responses = cJSON_GetObjectItemCaseSensitive(doc, "responses"), *e;

	cJSON_ArrayForEach(e, responses) {
		const char *corr =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "correlationData"));
		const cJSON *error = cJSON_GetObjectItemCaseSensitive(e, "error");
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
		char *text;

		if(corr == NULL || strcmp(corr, s->correlation) != 0) {
			continue;
		}
		if(cJSON_IsString(error)) {
			const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
			fprintf(stderr, "mqchat_ctrl: %s%s%s%s\n", error->valuestring, code ? " (" : "",
				code ? code : "", code ? ")" : "");
			s->status = 1;
		} else {
			text = cJSON_Print(data != NULL ? data : e);
			printf("%s\n", text ? text : "{}");
			free(text);
			s->status = 0;
		}
		s->done = true;
		return true;
	}
	return false;
}


static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct session *s = obj;
	cJSON *doc;

	(void)mosq;
	(void)props;
	if(strcmp(msg->topic, RESPONSE_TOPIC) != 0) {
		return;
	}
	doc = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
	if(doc != NULL) {
		take_entry(s, doc);
	}
	cJSON_Delete(doc);
}


/* ---- options ---------------------------------------------------------------------------------------- */

/* Appends the options of file (one "-x value" or "--name value" a line) to args; false if unreadable. */
static bool read_options_file(const char *path, char **args, int *n, bool must_exist)
{
	FILE *f = fopen(path, "r");
	char line[1024];

	if(f == NULL) {
		if(must_exist) {
			fprintf(stderr, "mqchat_ctrl: cannot read %s: %s\n", path, strerror(errno));
		}
		return !must_exist;
	}
	while(fgets(line, sizeof(line), f) != NULL && *n < MAX_ARGS - 2) {
		char *p = line + strspn(line, " \t"), *value;
		p[strcspn(p, "\r\n")] = '\0';
		if(*p == '\0' || *p == '#') {
			continue;
		}
		value = p + strcspn(p, " \t");
		if(*value != '\0') {
			*value++ = '\0';
			value += strspn(value, " \t");
		}
		args[(*n)++] = strdup(p);
		if(*value != '\0') {
			args[(*n)++] = strdup(value);
		}
	}
	fclose(f);
	return true;
}


/* Parses the connection options of args; returns the index of the command, or -1. */
static int parse_options(int argc, char **argv, struct options *o)
{
	int i;

	for(i = 0; i < argc && argv[i][0] == '-'; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool flag = strcmp(opt, "--insecure") == 0 || strcmp(opt, "-q") == 0;

		if(strcmp(opt, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if(!flag && val == NULL) {
			fprintf(stderr, "mqchat_ctrl: %s needs a value\n", opt);
			return -1;
		}
		if(strcmp(opt, "-h") == 0 || strcmp(opt, "--host") == 0) {
			o->host = val;
		} else if(strcmp(opt, "-p") == 0 || strcmp(opt, "--port") == 0) {
			o->port = atoi(val);
		} else if(strcmp(opt, "-u") == 0 || strcmp(opt, "--username") == 0) {
			o->user = val;
		} else if(strcmp(opt, "-P") == 0 || strcmp(opt, "--pw") == 0) {
			o->password = val;
		} else if(strcmp(opt, "-i") == 0 || strcmp(opt, "--id") == 0) {
			o->client_id = val;
		} else if(strcmp(opt, "--cafile") == 0) {
			o->cafile = val;
		} else if(strcmp(opt, "--capath") == 0) {
			o->capath = val;
		} else if(strcmp(opt, "--cert") == 0) {
			o->cert = val;
		} else if(strcmp(opt, "--key") == 0) {
			o->key = val;
		} else if(strcmp(opt, "--tls-version") == 0) {
			o->tls_version = val;
		} else if(strcmp(opt, "--timeout") == 0) {
			o->timeout_s = atoi(val);
		} else if(strcmp(opt, "--insecure") == 0) {
			o->insecure = true;
		} else if(strcmp(opt, "-q") == 0) {
			o->quiet = true;
		} else {
			fprintf(stderr, "mqchat_ctrl: unknown option %s\n", opt);
			return -1;
		}
		if(!flag) {
			i++;
		}
	}
	return i;
}


static int connect_tls(struct mosquitto *mosq, const struct options *o)
{
	int rc = MOSQ_ERR_SUCCESS;

	if(o->cafile == NULL && o->capath == NULL) {
		return MOSQ_ERR_SUCCESS;
	}
	rc = mosquitto_tls_set(mosq, o->cafile, o->capath, o->cert, o->key, NULL);
	if(rc == MOSQ_ERR_SUCCESS && o->insecure) {
		rc = mosquitto_tls_insecure_set(mosq, true);
	}
	if(rc == MOSQ_ERR_SUCCESS && o->tls_version != NULL) {
		rc = mosquitto_tls_opts_set(mosq, 1, o->tls_version, NULL);
	}
	return rc;
}


static int run(const struct options *o, struct session *s)
{
	struct mosquitto *mosq = mosquitto_new(o->client_id, true, s);
	time_t deadline = time(NULL) + o->timeout_s;
	int rc;

	if(mosq == NULL) {
		fprintf(stderr, "mqchat_ctrl: out of memory\n");
		return 1;
	}
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(mosq, on_connect);
	mosquitto_subscribe_v5_callback_set(mosq, on_subscribe);
	mosquitto_message_v5_callback_set(mosq, on_message);
	if(o->user != NULL) {
		mosquitto_username_pw_set(mosq, o->user, o->password);
	}
	rc = connect_tls(mosq, o);
	if(rc == MOSQ_ERR_SUCCESS) {
		rc = mosquitto_connect_bind_v5(mosq, o->host, o->port, 60, NULL, NULL);
	}
	if(rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "mqchat_ctrl: cannot connect to %s:%d: %s\n", o->host, o->port,
			rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		mosquitto_destroy(mosq);
		return 1;
	}
	while(!s->done && time(NULL) < deadline) {
		rc = mosquitto_loop(mosq, 100, 1);
		if(rc != MOSQ_ERR_SUCCESS && !s->done) {
			s->failure = rc == MOSQ_ERR_CONN_LOST ? "the broker closed the connection"
							      : mosquitto_strerror(rc);
			s->status = 1;
			break;
		}
	}
	if(!s->done && s->failure == NULL) {
		/* a non-admin's publish is refused silently by the ACL, as is everything else it could
		 * learn from: no answer within the timeout is all it gets */
		s->failure = s->subscribed ? "no answer in time (is mqchat loaded, and are you an admin?)"
					   : "no answer in time";
		s->status = 1;
	}
	if(s->failure != NULL) {
		fprintf(stderr, "mqchat_ctrl: %s\n", s->failure);
	}
	mosquitto_disconnect_v5(mosq, 0, NULL);
	mosquitto_destroy(mosq);
	return s->status;
}


int main(int argc, char **argv)
{
	struct options o = {.host = "localhost", .port = 1883, .timeout_s = 0};
	struct session s = {.status = 1};
	char *args[MAX_ARGS];
	int n = 0, owned = 0, first, status = 2;
	bool file_given = false;
	cJSON *cmd, *req, *list;

	/* the options file first, so the command line overrides it */
	for(int i = 1; i + 1 < argc; i++) {
		if(strcmp(argv[i], "-o") == 0) {
			file_given = true;
			if(!read_options_file(argv[i + 1], args, &n, true)) {
				owned = n;
				goto out;
			}
		}
	}
	if(!file_given && getenv("HOME") != NULL) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/.config/mqchat_ctrl", getenv("HOME"));
		read_options_file(path, args, &n, false);
	}
	owned = n; /* args[0 .. owned) are the options file's copies, freed at out */
	for(int i = 1; i < argc && n < MAX_ARGS - 1; i++) {
		if(strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			i++;
			continue;
		}
		args[n++] = argv[i];
	}
	first = parse_options(n, args, &o);
	if(first < 0 || first >= n) {
		usage(stderr);
		goto out;
	}
	if(o.password == NULL) {
		o.password = getenv("MQCHAT_CTRL_PASSWORD");
	}
	cmd = build_command(n - first, args + first);
	if(cmd == NULL) {
		goto out;
	}
	if(o.timeout_s <= 0) {
		/* a backup of a large database takes a while; everything else answers at once */
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cmd, "command"));
		o.timeout_s =
			name != NULL && (strcmp(name, "backup") == 0 || strcmp(name, "exportChannel") == 0)
				? 600
				: 10;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	snprintf(s.correlation, sizeof(s.correlation), "ctrl-%d-%d", (int)getpid(), rand());
	cJSON_DeleteItemFromObjectCaseSensitive(cmd, "correlationData");
	cJSON_AddStringToObject(cmd, "correlationData", s.correlation);
	req = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(req, "commands");
	cJSON_AddItemToArray(list, cmd);
	s.request = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	mosquitto_lib_init();
	status = run(&o, &s);
	mosquitto_lib_cleanup();
	free(s.request);
out:
	for(int i = 0; i < owned; i++) {
		free(args[i]);
	}
	return status;
}
