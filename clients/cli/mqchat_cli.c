/*
 * mqchat_cli.c - mqchat-cli, a terminal chat client on libmqchat: what a device developer copies from.
 *
 *     mqchat-cli [-P password] [-4|-5] [-n lines] [-i client-id] [-s state-file] user@host[:port] channel
 *
 * Prints the channel's last lines, the unread counts of the user's other channels, then live messages,
 * who is typing and who comes and goes; each line read from stdin is sent to the channel. At the end of
 * stdin it waits (up to 10 s) for what it sent to be acknowledged, then exits: 0 if all was, 1 if not.
 * The password comes from -P, else $MQCHAT_PASSWORD, else a prompt on the terminal.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mqchat_client.h"

struct cli {
	const char *channel, *user;
	int last_lines;
	bool synced;             /* the first catch-up is done: events from now on are news */
	atomic_bool inbox_shown; /* the unread counts were printed (read by the main thread) */
	struct mqc *client;      /* set once created; callbacks may use it */
};


static void print_event(const cJSON *ev)
{
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));
	const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "from"));
	const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "body"));
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(ev, "target");
	long long s = cJSON_IsNumber(seq) ? (long long)seq->valuedouble : 0;
	long long t = cJSON_IsNumber(target) ? (long long)target->valuedouble : 0;

	if(type == NULL || from == NULL) {
		return;
	}
	if(strcmp(type, "message") == 0) {
		printf("[%lld] %s: %s\n", s, from, body ? body : "(deleted)");
	} else if(strcmp(type, "edit") == 0) {
		printf("[%lld] %s edited [%lld]: %s\n", s, from, t, body ? body : "(deleted)");
	} else if(strcmp(type, "delete") == 0) {
		printf("[%lld] %s deleted [%lld]\n", s, from, t);
	} else if(strcmp(type, "join") == 0 || strcmp(type, "leave") == 0) {
		const char *user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "user"));
		printf("[%lld] %s %s\n", s, user ? user : from,
		       strcmp(type, "join") == 0 ? "joined" : "left");
	} else if(strcmp(type, "reaction") == 0) {
		const char *emoji = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "emoji"));
		printf("[%lld] %s reacted %s to [%lld]\n", s, from, emoji ? emoji : "?", t);
	}
}


/* The history's last N events: a ring of copies, printed at the end. */
struct tail {
	cJSON **ring;
	int size, count;
};

static bool keep_tail(void *arg, const cJSON *ev)
{
	struct tail *t = arg;
	cJSON **slot = &t->ring[t->count++ % t->size];

	cJSON_Delete(*slot);
	*slot = cJSON_Duplicate(ev, true);
	return true;
}


static void print_history(struct cli *cli)
{
	struct tail t = {calloc((size_t)cli->last_lines, sizeof(cJSON *)), cli->last_lines, 0};
	int first;

	if(t.ring == NULL) {
		return;
	}
	mqc_history(cli->client, cli->channel, keep_tail, &t);
	first = t.count > t.size ? t.count - t.size : 0;
	for(int i = first; i < t.count; i++) {
		print_event(t.ring[i % t.size]);
	}
	for(int i = 0; i < t.size; i++) {
		cJSON_Delete(t.ring[i]);
	}
	free(t.ring);
}


static void on_event(void *ud, const char *ch, const cJSON *ev)
{
	struct cli *cli = ud;
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
	const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "from"));
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));

	if(!cli->synced) {
		return; /* history: printed once caught up */
	}
	if(strcmp(ch, cli->channel) == 0) {
		print_event(ev);
		mqc_mark_read(cli->client, ch, (int64_t)seq->valuedouble); /* shown is read */
	} else if(type && strcmp(type, "message") == 0 && from && strcmp(from, cli->user) != 0) {
		printf("(new message in #%s from %s)\n", ch, from);
	}
	fflush(stdout);
}


static void on_synced(void *ud)
{
	struct cli *cli = ud;

	if(cli->synced) {
		return; /* a reconnect: whatever came meanwhile was printed by on_event */
	}
	cli->synced = true;
	if(mqc_cursor(cli->client, cli->channel, NULL) < 0) {
		printf("you are not in #%s\n", cli->channel);
	}
	print_history(cli);
	if(mqc_cursor(cli->client, cli->channel, NULL) > 0) {
		mqc_mark_read(cli->client, cli->channel, mqc_cursor(cli->client, cli->channel, NULL));
	}
	mqc_api(cli->client, "{\"op\":\"channels\"}"); /* the unread counts: on_api prints them */
	fflush(stdout);
}


static void on_api(void *ud, const cJSON *reply)
{
	struct cli *cli = ud;
	const cJSON *entry;
	int shown = 0;

	cli->inbox_shown = true;
	if(!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
		return;
	}
	cJSON_ArrayForEach(entry, cJSON_GetObjectItemCaseSensitive(reply, "channels")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "channel"));
		const cJSON *unread = cJSON_GetObjectItemCaseSensitive(entry, "unread");
		if(name && strcmp(name, cli->channel) != 0 && cJSON_IsNumber(unread)
		   && unread->valuedouble > 0) {
			printf("%s#%s: %d unread", shown++ ? ", " : "unread: ", name,
			       (int)unread->valuedouble);
		}
	}
	if(shown) {
		printf("\n");
	}
	fflush(stdout);
}


static void on_typing(void *ud, const char *ch, const char *user, bool typing)
{
	struct cli *cli = ud;

	if(typing && strcmp(ch, cli->channel) == 0 && strcmp(user, cli->user) != 0) {
		printf("%s is typing…\n", user);
		fflush(stdout);
	}
}


static void on_presence(void *ud, const char *ch, const char *user, bool online)
{
	struct cli *cli = ud;

	if(strcmp(ch, cli->channel) == 0 && strcmp(user, cli->user) != 0) {
		printf("* %s is %s\n", user, online ? "online" : "offline");
		fflush(stdout);
	}
}


static void on_error(void *ud, const char *ch, const char *cmid, const char *code, const char *message)
{
	(void)ud;
	(void)cmid;
	fprintf(stderr, "error%s%s: %s: %s\n", ch ? " in #" : "", ch ? ch : "", code, message ? message : "");
}


static void on_log(void *ud, const char *line)
{
	(void)ud;
	fprintf(stderr, "(%s)\n", line); /* connection trouble, mostly */
}


static void on_connection(void *ud, bool connected)
{
	(void)ud;
	fprintf(stderr, "%s\n", connected ? "connected" : "disconnected");
}


/* Reads a password from the terminal without echo. Returns a malloc'd string or NULL. */
static char *prompt_password(void)
{
	struct termios old, quiet;
	char *line = NULL;
	size_t cap = 0;
	bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
	ssize_t n;

	fprintf(stderr, "password: ");
	if(tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	n = getline(&line, &cap, stdin);
	if(tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if(n <= 0) {
		free(line);
		return NULL;
	}
	line[strcspn(line, "\n")] = '\0';
	return line;
}


static int usage(void)
{
	fprintf(stderr, "usage: mqchat-cli [-P password] [-4|-5] [-n lines] [-i client-id] [-s state-file] "
			"user@host[:port] channel\n");
	return 2;
}


int main(int argc, char **argv)
{
	struct cli cli = {.last_lines = 20};
	struct mqc_options o = {.protocol = 5};
	char *password = NULL, *target, *at, *colon, client_id[128], state[512];
	const char *id_opt = NULL, *state_opt = NULL;
	bool eof = false;
	int opt, rc;

	while((opt = getopt(argc, argv, "P:45n:i:s:")) != -1) {
		switch(opt) {
		case 'P':
			password = strdup(optarg);
			break;
		case '4':
		case '5':
			o.protocol = opt - '0';
			break;
		case 'n':
			cli.last_lines = atoi(optarg) > 0 ? atoi(optarg) : 20;
			break;
		case 'i':
			id_opt = optarg;
			break;
		case 's':
			state_opt = optarg;
			break;
		default:
			return usage();
		}
	}
	if(argc - optind != 2 || (at = strchr(target = argv[optind], '@')) == NULL) {
		return usage();
	}
	*at = '\0';
	cli.user = o.user = target;
	o.host = at + 1;
	if((colon = strchr(at + 1, ':')) != NULL) {
		*colon = '\0';
		o.port = atoi(colon + 1);
	}
	cli.channel = argv[optind + 1];
	if(password == NULL && getenv("MQCHAT_PASSWORD")) {
		password = strdup(getenv("MQCHAT_PASSWORD"));
	}
	if(password == NULL && (password = prompt_password()) == NULL) {
		return usage();
	}
	/* the same device id and state file every run: the session, cursors and outbox carry over */
	snprintf(client_id, sizeof(client_id), "%s", id_opt ? id_opt : "");
	if(id_opt == NULL) {
		snprintf(client_id, sizeof(client_id), "%s-cli", o.user);
	}
	if(state_opt) {
		snprintf(state, sizeof(state), "%s", state_opt);
	} else {
		snprintf(state, sizeof(state), "%s/.mqchat-%s.state", getenv("HOME") ? getenv("HOME") : ".",
			 client_id);
	}
	o.password = password;
	o.client_id = client_id;
	o.state_path = state;
	o.userdata = &cli;
	o.cb = (struct mqc_callbacks){.on_event = on_event,
				      .on_synced = on_synced,
				      .on_api = on_api,
				      .on_typing = on_typing,
				      .on_presence = on_presence,
				      .on_error = on_error,
				      .on_connection = on_connection,
				      .on_log = on_log};
	cli.client = mqc_new(&o);
	free(password);
	if(cli.client == NULL) {
		fprintf(stderr, "mqchat-cli: %s: %s\n", state, strerror(errno));
		return 1;
	}
	mqc_connect(cli.client);
	mqc_loop_start(cli.client);

	/* stdin: each line is a message. At its end, wait for the outbox to empty. */
	for(long long deadline = 0;;) {
		struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
		char line[4096];

		if(eof) {
			struct timespec ts = {0, 20000000L};
			if((mqc_outbox_count(cli.client) == 0 && mqc_is_synced(cli.client) && cli.inbox_shown)
			   || time(NULL) > deadline) {
				break;
			}
			nanosleep(&ts, NULL);
			continue;
		}
		if(poll(&pfd, 1, 200) > 0) {
			if(fgets(line, sizeof(line), stdin) == NULL) {
				eof = true;
				deadline = time(NULL) + 10;
				continue;
			}
			line[strcspn(line, "\n")] = '\0';
			if(line[0] != '\0' && mqc_send(cli.client, cli.channel, line, NULL) != MQC_OK) {
				fprintf(stderr, "not sent: %s\n", strerror(errno));
			}
		}
	}
	rc = mqc_outbox_count(cli.client) == 0 ? 0 : 1;
	mqc_free(cli.client);
	return rc;
}
