/*
 * admin.c - $CONTROL/mqchat/v1 (see admin.h).
 *
 * A request is parsed into a cJSON tree; each command is served by the handler of its row in the
 * table below, which fills the entry's "data" or returns an error (the entry's "error", with the wire
 * code in "code"). The entries of synchronous commands go out together when the request is done; a
 * backup or an export becomes a job for the worker (backup.h) carrying where its answer goes (struct
 * route), and its entry goes out alone when the tick finds the job done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "admin.h"
#include "backup.h"
#include "batch.h"
#include "broker.h"
#include "index.h"
#include "json_fields.h"
#include "membership.h"
#include "retention.h"
#include "store.h"
#include "topic.h"
#include "users.h"

#define TITLE_MAX 200

struct chat_admin {
	struct chat_worker *worker; /* started at the first backup or export */
};

/* Where an answer goes: the broadcast topic always, and the requester's Response Topic if any. */
struct route {
	char *client_id;
	char *response_topic; /* NULL, or a v5 Response Topic other than the broadcast one */
	void *correlation;
	uint16_t correlation_len;
	char *command_correlation; /* the command's "correlationData" string, or NULL */
	char command[32];
	char *channel; /* export: the channel's name, for the answer */
};

struct command {
	struct chat_plugin *plugin;
	const struct chat_requester *who;
	const cJSON *body;
	cJSON *data; /* the entry's "data": the handler adds to it */
	const struct route *route;
	bool deferred; /* the handler queued a job: no entry now */
};

typedef enum chat_err (*command_fn)(struct command *cmd, struct chat_error *err);


bool chat_admin__is_admin(const struct chat_plugin *plugin, const char *user)
{
	const char *list = plugin->config.admins;
	size_t len;

	if(user == NULL || list == NULL) {
		return false;
	}
	len = strlen(user);
	while(*list != '\0') {
		const char *end = strchr(list, ',');
		size_t n = end != NULL ? (size_t)(end - list) : strlen(list);
		/* tolerate blanks around the commas */
		const char *a = list, *b = list + n;
		while(a < b && (*a == ' ' || *a == '\t')) {
			a++;
		}
		while(b > a && (b[-1] == ' ' || b[-1] == '\t')) {
			b--;
		}
		if((size_t)(b - a) == len && len > 0 && memcmp(a, user, len) == 0) {
			return true;
		}
		if(end == NULL) {
			break;
		}
		list = end + 1;
	}
	return false;
}


enum chat_acl_verdict chat_admin__acl(const struct chat_plugin *plugin, const char *user, const char *topic)
{
	static const char prefix[] = "$CONTROL/mqchat/";

	if(strncmp(topic, prefix, sizeof(prefix) - 1) != 0) {
		return CHAT_ACL_NOT_MINE;
	}
	return chat_admin__is_admin(plugin, user) ? CHAT_ACL_GRANT : CHAT_ACL_DENY;
}


/* ---- answers ---------------------------------------------------------------------------------------- */

static void route_clear(struct route *r)
{
	free(r->client_id);
	free(r->response_topic);
	free(r->correlation);
	free(r->command_correlation);
	free(r->channel);
	memset(r, 0, sizeof(*r));
}


static void route_free(void *p)
{
	if(p != NULL) {
		route_clear(p);
		free(p);
	}
}


static void publish_responses(const struct route *r, cJSON *responses_doc)
{
	char *json = cJSON_PrintUnformatted(responses_doc);

	if(json == NULL) {
		chat_broker__log(CHAT_LOG_WARNING, "could not answer an admin request: out of memory");
		return;
	}
	chat_broker__publish_topic(CHAT_ADMIN_RESPONSE_TOPIC, json, strlen(json), 0);
	if(r->response_topic != NULL && r->client_id != NULL) {
		chat_broker__reply_to(r->client_id, r->response_topic, json, strlen(json), r->correlation,
				      r->correlation_len);
	}
	free(json);
}


/* A new entry {"command":name[,"correlationData":c]} appended to responses, or NULL. */
static cJSON *new_entry(cJSON *responses, const char *name, const char *correlation)
{
	cJSON *entry = cJSON_CreateObject();

	if(entry == NULL || cJSON_AddStringToObject(entry, "command", name) == NULL
	   || (correlation != NULL
	       && cJSON_AddStringToObject(entry, "correlationData", correlation) == NULL)) {
		cJSON_Delete(entry);
		return NULL;
	}
	cJSON_AddItemToArray(responses, entry);
	return entry;
}


static void add_error(cJSON *entry, const struct chat_error *err)
{
	cJSON_AddStringToObject(entry, "error", err->message[0] ? err->message : chat_err_message(err->code));
	cJSON_AddStringToObject(entry, "code", chat_err_code(err->code));
}


static enum chat_err no_memory(struct chat_error *err)
{
	return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
}


/* ---- field helpers ---------------------------------------------------------------------------------- */

static enum chat_err field_channel(struct command *cmd, struct chat_channel **out, struct chat_error *err)
{
	const char *name = NULL;

	if(chat_json__string(cmd->body, "channel", true, 1, CHAT_CHANNEL_ID_MAX, &name, err) != CHAT_ERR_OK) {
		return err->code;
	}
	return chat_index__lookup(&cmd->plugin->index, name, strlen(name), out, err);
}


static enum chat_err field_user(struct command *cmd, const char **out, struct chat_error *err)
{
	return chat_json__string(cmd->body, "user", true, 1, CHAT_USER_MAX, out, err);
}


static enum chat_err field_path(struct command *cmd, const char **out, struct chat_error *err)
{
	char why[sizeof(err->message)];

	if(chat_json__string(cmd->body, "path", true, 1, 4096, out, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(!chat_backup__path_ok(*out, why, sizeof(why))) {
		return chat_error__set(err, CHAT_ERR_CONFLICT, "%s", why);
	}
	return CHAT_ERR_OK;
}


static cJSON *channel_json(const struct chat_channel *ch, bool with_members)
{
	cJSON *o = cJSON_CreateObject(), *members;

	if(o == NULL || cJSON_AddStringToObject(o, "channel", ch->name) == NULL
	   || cJSON_AddStringToObject(o, "visibility", chat_visibility__name(ch->visibility)) == NULL
	   || cJSON_AddStringToObject(o, "title", ch->title ? ch->title : "") == NULL
	   || cJSON_AddStringToObject(o, "epoch", ch->epoch) == NULL
	   || cJSON_AddNumberToObject(o, "head", (double)ch->head) == NULL
	   || cJSON_AddNumberToObject(o, "messages", (double)ch->message_count) == NULL
	   || cJSON_AddNumberToObject(o, "memberCount", (double)HASH_COUNT(ch->members)) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	if(!with_members) {
		return o;
	}
	members = cJSON_AddArrayToObject(o, "members");
	for(const struct chat_member *m = ch->members; members != NULL && m != NULL; m = m->hh.next) {
		cJSON *e = cJSON_CreateObject();
		if(e == NULL || cJSON_AddStringToObject(e, "user", m->user) == NULL
		   || cJSON_AddStringToObject(e, "role", m->role == CHAT_ROLE_OWNER ? "owner" : "member")
			      == NULL) {
			cJSON_Delete(e);
			members = NULL;
			break;
		}
		cJSON_AddItemToArray(members, e);
	}
	if(members == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}


/* The requester to name as the cause of a membership change: the admin, from its own device. */
static struct chat_requester as_admin(const struct command *cmd)
{
	return *cmd->who;
}


/* ---- the commands ------------------------------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct chat_channel *const *)a)->name,
		      (*(const struct chat_channel *const *)b)->name);
}


static enum chat_err cmd_list_channels(struct command *cmd, struct chat_error *err)
{
	unsigned n = HASH_COUNT(cmd->plugin->index.channels), i = 0;
	const struct chat_channel **all = calloc(n ? n : 1, sizeof(*all));
	cJSON *list;

	if(all == NULL) {
		return no_memory(err);
	}
	for(const struct chat_channel *ch = cmd->plugin->index.channels; ch != NULL; ch = ch->hh.next) {
		all[i++] = ch;
	}
	qsort(all, n, sizeof(*all), by_name);
	list = cJSON_AddArrayToObject(cmd->data, "channels");
	for(i = 0; list != NULL && i < n; i++) {
		cJSON *o = channel_json(all[i], false);
		if(o == NULL) {
			list = NULL;
			break;
		}
		cJSON_AddItemToArray(list, o);
	}
	free(all);
	if(list == NULL || cJSON_AddNumberToObject(cmd->data, "totalCount", n) == NULL) {
		return no_memory(err);
	}
	return CHAT_ERR_OK;
}


static enum chat_err cmd_get_channel(struct command *cmd, struct chat_error *err)
{
	struct chat_channel *ch;
	cJSON *o;

	if(field_channel(cmd, &ch, err) != CHAT_ERR_OK) {
		return err->code;
	}
	o = channel_json(ch, true);
	if(o == NULL) {
		return no_memory(err);
	}
	cJSON_AddItemToObject(cmd->data, "channel", o);
	return CHAT_ERR_OK;
}


static enum chat_err cmd_create_channel(struct command *cmd, struct chat_error *err)
{
	const char *name = NULL, *title = "", *visibility_name = "public", *owner = NULL;
	const cJSON *members = cJSON_GetObjectItemCaseSensitive(cmd->body, "members");
	enum chat_visibility visibility;
	struct chat_requester who = as_admin(cmd);
	const char **names = NULL;
	struct chat_channel *ch;
	size_t count = 0;
	enum chat_err rc;
	cJSON *o;

	if(chat_json__string(cmd->body, "channel", true, 1, CHAT_CHANNEL_ID_MAX, &name, err) != CHAT_ERR_OK
	   || chat_json__string(cmd->body, "visibility", false, 1, 16, &visibility_name, err) != CHAT_ERR_OK
	   || chat_json__string(cmd->body, "title", false, 0, TITLE_MAX, &title, err) != CHAT_ERR_OK
	   || chat_json__string(cmd->body, "owner", false, 1, CHAT_USER_MAX, &owner, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(!chat_channel_id__valid(name, strlen(name))) {
		return chat_error__set(
			err, CHAT_ERR_BAD_REQUEST,
			"channel ids are 1-64 characters of A-Z a-z 0-9 . _ - not starting with _");
	}
	visibility_name = visibility_name ? visibility_name : "public";
	if(!chat_visibility__parse(visibility_name, &visibility) || visibility == CHAT_VISIBILITY_DM) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "visibility must be public or private");
	}
	if(members != NULL && !cJSON_IsArray(members)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "members must be an array of user names");
	}
	/* the owner: who the channel is created for (the admin by default); it must be a user */
	if(owner != NULL) {
		if(!chat_users__exists(cmd->plugin, owner)) {
			return chat_error__set(err, CHAT_ERR_NO_SUCH_USER, "there is no user %s", owner);
		}
		who.user = owner;
	}
	if(members != NULL && cJSON_GetArraySize(members) > 0) {
		names = calloc((size_t)cJSON_GetArraySize(members), sizeof(*names));
		if(names == NULL) {
			return no_memory(err);
		}
		for(const cJSON *m = members->child; m != NULL; m = m->next) {
			if(!cJSON_IsString(m) || m->valuestring[0] == '\0'
			   || strlen(m->valuestring) > CHAT_USER_MAX) {
				free(names);
				return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
						       "members must be user names of 1-%d bytes",
						       CHAT_USER_MAX);
			}
			names[count++] = m->valuestring;
		}
	}
	rc = chat_membership__create(cmd->plugin, &who, name, visibility, title ? title : "", names, count,
				     &ch, err);
	free(names);
	if(rc != CHAT_ERR_OK) {
		return rc;
	}
	o = channel_json(ch, true);
	if(o == NULL) {
		return no_memory(err);
	}
	cJSON_AddItemToObject(cmd->data, "channel", o);
	return CHAT_ERR_OK;
}


static enum chat_err cmd_add_member(struct command *cmd, struct chat_error *err)
{
	struct chat_requester who = as_admin(cmd);
	struct chat_channel *ch;
	const char *user;
	bool added = false;

	if(field_channel(cmd, &ch, err) != CHAT_ERR_OK || field_user(cmd, &user, err) != CHAT_ERR_OK
	   || chat_membership__admin_add(cmd->plugin, &who, ch, user, &added, err) != CHAT_ERR_OK) {
		return err->code;
	}
	cJSON_AddBoolToObject(cmd->data, "added", added);
	return CHAT_ERR_OK;
}


static enum chat_err cmd_remove_member(struct command *cmd, struct chat_error *err)
{
	struct chat_requester who = as_admin(cmd);
	struct chat_channel *ch;
	const char *user;

	if(field_channel(cmd, &ch, err) != CHAT_ERR_OK || field_user(cmd, &user, err) != CHAT_ERR_OK
	   || chat_membership__admin_remove(cmd->plugin, &who, ch, user, err) != CHAT_ERR_OK) {
		return err->code;
	}
	cJSON_AddBoolToObject(cmd->data, "removed", true);
	return CHAT_ERR_OK;
}


static void add_name(const char *name, void *ctx)
{
	cJSON_AddItemToArray(ctx, cJSON_CreateString(name));
}


static int by_string(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->valuestring, (*(const cJSON *const *)b)->valuestring);
}


static enum chat_err cmd_list_users(struct command *cmd, struct chat_error *err)
{
	cJSON *list = cJSON_CreateArray(), *sorted;
	size_t n = 0, i = 0;
	cJSON **items;

	if(list == NULL) {
		return no_memory(err);
	}
	chat_users__each(cmd->plugin->users, add_name, list);
	n = (size_t)cJSON_GetArraySize(list);
	items = calloc(n ? n : 1, sizeof(*items));
	sorted = cJSON_AddArrayToObject(cmd->data, "users");
	if(items == NULL || sorted == NULL) {
		free(items);
		cJSON_Delete(list);
		return no_memory(err);
	}
	for(cJSON *e = list->child; e != NULL; e = e->next) {
		if(!cJSON_IsString(e)) {
			free(items);
			cJSON_Delete(list);
			return no_memory(err);
		}
		items[i++] = e;
	}
	qsort(items, n, sizeof(*items), by_string);
	for(i = 0; i < n; i++) {
		cJSON_AddItemToArray(sorted, cJSON_CreateString(items[i]->valuestring));
	}
	free(items);
	cJSON_Delete(list);
	cJSON_AddNumberToObject(cmd->data, "totalCount", (double)n);
	return CHAT_ERR_OK;
}


static enum chat_err cmd_add_user(struct command *cmd, struct chat_error *err)
{
	const char *user;
	bool existed;

	if(field_user(cmd, &user, err) != CHAT_ERR_OK) {
		return err->code;
	}
	for(const char *p = user; *p != '\0'; p++) {
		if((unsigned char)*p < 0x20 || *p == '+' || *p == '#' || *p == '/') {
			return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
					       "a user name has no control characters, '+', '#' or '/'");
		}
	}
	existed = chat_users__exists(cmd->plugin, user);
	chat_users__note(cmd->plugin, user);
	if(!chat_users__exists(cmd->plugin, user)) {
		return no_memory(err);
	}
	chat_users__flush(cmd->plugin); /* now, not at the next periodic flush */
	cJSON_AddBoolToObject(cmd->data, "added", !existed);
	return CHAT_ERR_OK;
}


/* Queues a job whose answer follows the route of cmd (copied). */
static enum chat_err submit(struct command *cmd, struct chat_job *job, const char *channel,
			    struct chat_error *err)
{
	struct chat_admin *admin = cmd->plugin->admin;
	struct route *r = calloc(1, sizeof(*r));
	char why[256];

	if(r == NULL) {
		chat_job__free(job);
		return no_memory(err);
	}
	*r = (struct route){0};
	snprintf(r->command, sizeof(r->command), "%s", cmd->route->command);
	if((cmd->route->client_id && (r->client_id = strdup(cmd->route->client_id)) == NULL)
	   || (cmd->route->response_topic && (r->response_topic = strdup(cmd->route->response_topic)) == NULL)
	   || (cmd->route->command_correlation
	       && (r->command_correlation = strdup(cmd->route->command_correlation)) == NULL)
	   || (channel && (r->channel = strdup(channel)) == NULL)
	   || (cmd->route->correlation_len > 0
	       && (r->correlation = malloc(cmd->route->correlation_len)) == NULL)) {
		route_free(r);
		chat_job__free(job);
		return no_memory(err);
	}
	if(r->correlation != NULL) {
		memcpy(r->correlation, cmd->route->correlation, cmd->route->correlation_len);
		r->correlation_len = cmd->route->correlation_len;
	}
	if(admin->worker == NULL
	   && chat_worker__start(cmd->plugin->config.database, &admin->worker, why, sizeof(why)) != 0) {
		route_free(r);
		chat_job__free(job);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "%s", why);
	}
	job->ctx = r;
	job->ctx_free = route_free;
	chat_worker__submit(admin->worker, job);
	cmd->deferred = true;
	return CHAT_ERR_OK;
}


static struct chat_job *new_job(enum chat_job_kind kind, const char *path)
{
	struct chat_job *job = calloc(1, sizeof(*job));

	if(job != NULL && (job->path = strdup(path)) == NULL) {
		free(job);
		return NULL;
	}
	if(job != NULL) {
		job->kind = kind;
	}
	return job;
}


static enum chat_err cmd_export_channel(struct command *cmd, struct chat_error *err)
{
	struct chat_channel *ch;
	struct chat_job *job;
	const char *path;

	if(field_channel(cmd, &ch, err) != CHAT_ERR_OK || field_path(cmd, &path, err) != CHAT_ERR_OK) {
		return err->code;
	}
	/* its head must be committed for the worker's snapshot to hold it */
	if(chat_batch__flush(cmd->plugin) != CHAT_ERR_OK) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "the open batch could not be committed");
	}
	job = new_job(CHAT_JOB_EXPORT, path);
	if(job == NULL) {
		return no_memory(err);
	}
	job->channel = ch->rowid;
	job->up_to = ch->head;
	return submit(cmd, job, ch->name, err);
}


static enum chat_err cmd_backup(struct command *cmd, struct chat_error *err)
{
	struct chat_job *job;
	const char *path;

	if(field_path(cmd, &path, err) != CHAT_ERR_OK) {
		return err->code;
	}
	/* every send acknowledged so far is committed, so the worker's snapshot holds it */
	if(chat_batch__flush(cmd->plugin) != CHAT_ERR_OK) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "the open batch could not be committed");
	}
	job = new_job(CHAT_JOB_BACKUP, path);
	if(job == NULL) {
		return no_memory(err);
	}
	return submit(cmd, job, NULL, err);
}


static enum chat_err cmd_delete_channel(struct command *cmd, struct chat_error *err)
{
	char name[CHAT_CHANNEL_ID_MAX + 1];
	struct chat_channel *ch;

	if(field_channel(cmd, &ch, err) != CHAT_ERR_OK) {
		return err->code;
	}
	snprintf(name, sizeof(name), "%s", ch->name); /* ch is freed when deleted */
	if(chat_retention__delete_channel(cmd->plugin, cmd->who, ch, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(cJSON_AddStringToObject(cmd->data, "channel", name) == NULL
	   || cJSON_AddBoolToObject(cmd->data, "deleted", true) == NULL) {
		return no_memory(err);
	}
	return CHAT_ERR_OK;
}


/* setRetention {"channel", "days", "count"}: an absent limit is 0, no limit of that kind. */
static enum chat_err cmd_set_retention(struct command *cmd, struct chat_error *err)
{
	int64_t days = 0, count = 0;
	struct chat_channel *ch;

	if(field_channel(cmd, &ch, err) != CHAT_ERR_OK
	   || chat_json__int(cmd->body, "days", false, 0, CHAT_RETENTION_MAX, &days, err) != CHAT_ERR_OK
	   || chat_json__int(cmd->body, "count", false, 0, CHAT_RETENTION_MAX, &count, err) != CHAT_ERR_OK
	   || chat_retention__set(cmd->plugin, ch, days, count, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(cJSON_AddStringToObject(cmd->data, "channel", ch->name) == NULL
	   || cJSON_AddNumberToObject(cmd->data, "days", (double)days) == NULL
	   || cJSON_AddNumberToObject(cmd->data, "count", (double)count) == NULL
	   || cJSON_AddNumberToObject(cmd->data, "first", (double)chat_retention__first(cmd->plugin, ch))
		      == NULL) {
		return no_memory(err);
	}
	return CHAT_ERR_OK;
}


static const struct {
	const char *name;
	command_fn serve;
} commands[] = {
	{"listChannels", cmd_list_channels},
	{"getChannel", cmd_get_channel},
	{"createChannel", cmd_create_channel},
	{"deleteChannel", cmd_delete_channel},
	{"addMember", cmd_add_member},
	{"removeMember", cmd_remove_member},
	{"listUsers", cmd_list_users},
	{"addUser", cmd_add_user},
	{"setRetention", cmd_set_retention},
	{"exportChannel", cmd_export_channel},
	{"backup", cmd_backup},
};


static command_fn command_of(const char *name)
{
	for(size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if(strcmp(commands[i].name, name) == 0) {
			return commands[i].serve;
		}
	}
	return NULL;
}


/* Serves one element of "commands"; appends its entry to responses unless it was deferred. */
static void serve_command(struct chat_plugin *plugin, const struct chat_requester *who, struct route *route,
			  const cJSON *body, cJSON *responses)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "command");
	const cJSON *corr = cJSON_GetObjectItemCaseSensitive(body, "correlationData");
	struct command cmd = {.plugin = plugin, .who = who, .body = body, .route = route};
	struct chat_error err = {0};
	command_fn fn = NULL;
	cJSON *entry;

	route->command_correlation = cJSON_IsString(corr) ? corr->valuestring : NULL;
	snprintf(route->command, sizeof(route->command), "%s",
		 cJSON_IsString(name) ? name->valuestring : "Unknown command");
	entry = new_entry(responses, route->command, route->command_correlation);
	if(entry == NULL) {
		return;
	}
	if(!cJSON_IsObject(body) || !cJSON_IsString(name)) {
		chat_error__set(&err, CHAT_ERR_BAD_REQUEST,
				"each command is an object with a \"command\" string");
	} else if((fn = command_of(name->valuestring)) == NULL) {
		chat_error__set(&err, CHAT_ERR_BAD_REQUEST, "Unknown command");
	} else if((cmd.data = cJSON_CreateObject()) == NULL) {
		no_memory(&err);
	} else if(fn(&cmd, &err) == CHAT_ERR_OK) {
		if(cmd.deferred) {
			cJSON_DeleteItemFromArray(responses, cJSON_GetArraySize(responses) - 1);
			cJSON_Delete(cmd.data);
		} else {
			cJSON_AddItemToObject(entry, "data", cmd.data);
		}
		route->command_correlation = NULL;
		return;
	}
	cJSON_Delete(cmd.data);
	add_error(entry, &err);
	route->command_correlation = NULL;
}


void chat_admin__serve(struct chat_plugin *plugin, const struct chat_requester *who,
		       const char *response_topic, const void *correlation, uint16_t correlation_len,
		       const void *payload, size_t len)
{
	struct route route = {.client_id = (char *)who->device,
			      .correlation = (void *)correlation,
			      .correlation_len = correlation_len};
	cJSON *doc = cJSON_CreateObject(), *responses = NULL, *req = NULL;
	const cJSON *list;
	struct chat_error err = {0};

	if(response_topic != NULL && strcmp(response_topic, CHAT_ADMIN_RESPONSE_TOPIC) != 0) {
		route.response_topic = (char *)response_topic;
	}
	if(doc == NULL || (responses = cJSON_AddArrayToObject(doc, "responses")) == NULL) {
		cJSON_Delete(doc);
		chat_broker__log(CHAT_LOG_WARNING, "could not answer an admin request: out of memory");
		return;
	}
	if(plugin->admin == NULL && (plugin->admin = calloc(1, sizeof(*plugin->admin))) == NULL) {
		chat_error__set(&err, CHAT_ERR_UNAVAILABLE, "out of memory");
	} else if(!chat_admin__is_admin(plugin, who->user)) {
		/* the ACL refuses them first; this is for a broker whose ACL another plugin answered */
		chat_error__set(&err, CHAT_ERR_FORBIDDEN, "not allowed");
	} else if(chat_json__parse_object(payload, len, "a request is {\"commands\":[...]}", &req, &err)
		  != CHAT_ERR_OK) {
		/* err says why */
	} else if(!cJSON_IsArray(list = cJSON_GetObjectItemCaseSensitive(req, "commands"))) {
		chat_error__set(&err, CHAT_ERR_BAD_REQUEST, "a request is {\"commands\":[...]}");
	} else {
		for(const cJSON *c = list->child; c != NULL; c = c->next) {
			serve_command(plugin, who, &route, c, responses);
		}
	}
	if(err.code != CHAT_ERR_OK) {
		cJSON *entry = new_entry(responses, "Unknown command", NULL);
		if(entry != NULL) {
			add_error(entry, &err);
		}
	}
	if(cJSON_GetArraySize(responses) > 0) {
		publish_responses(&route, doc);
	}
	cJSON_Delete(req);
	cJSON_Delete(doc);
}


/* ---- results from the worker ------------------------------------------------------------------------ */

static void answer_job(struct chat_plugin *plugin, struct chat_job *job)
{
	const struct route *r = job->ctx;
	cJSON *doc = cJSON_CreateObject(), *responses, *entry = NULL, *data;

	if(doc != NULL && (responses = cJSON_AddArrayToObject(doc, "responses")) != NULL) {
		entry = new_entry(responses, r->command, r->command_correlation);
	}
	if(entry == NULL) {
		cJSON_Delete(doc);
		chat_broker__log(CHAT_LOG_WARNING, "could not answer a %s: out of memory", r->command);
		return;
	}
	if(job->failed) {
		struct chat_error err = {0};
		chat_error__set(&err, CHAT_ERR_UNAVAILABLE, "%s", job->error);
		add_error(entry, &err);
		chat_broker__log(CHAT_LOG_WARNING, "%s to %s failed: %s", r->command, job->path, job->error);
	} else if((data = cJSON_AddObjectToObject(entry, "data")) != NULL) {
		cJSON_AddStringToObject(data, "path", job->path);
		cJSON_AddNumberToObject(data, "bytes", (double)job->bytes);
		cJSON_AddNumberToObject(data, "ms", (double)job->elapsed_ms);
		if(job->kind == CHAT_JOB_BACKUP) {
			char why[256] = "the open group commit could not be committed";
			cJSON_AddStringToObject(data, "integrity", "ok");
			/* the copy is now older than the live database: restored, it gives new epochs. In a
			 * transaction of its own: the open group commit goes first. */
			if(chat_batch__flush(plugin) != CHAT_ERR_OK
			   || chat_store__advance_generation(plugin->store, why, sizeof(why)) != 0) {
				chat_broker__log(CHAT_LOG_WARNING, "after a backup: %s", why);
			}
		} else {
			cJSON_AddStringToObject(data, "channel", r->channel ? r->channel : "");
			cJSON_AddNumberToObject(data, "events", (double)job->lines);
			cJSON_AddNumberToObject(data, "last", (double)job->up_to);
		}
		chat_broker__log(CHAT_LOG_NOTICE, "%s to %s done: %lld bytes in %lld ms", r->command,
				 job->path, (long long)job->bytes, (long long)job->elapsed_ms);
	}
	publish_responses(r, doc);
	cJSON_Delete(doc);
}


void chat_admin__tick(struct chat_plugin *plugin)
{
	struct chat_job *done;

	if(plugin->admin == NULL || plugin->admin->worker == NULL) {
		return;
	}
	done = chat_worker__take_done(plugin->admin->worker);
	while(done != NULL) {
		struct chat_job *next = done->next;
		answer_job(plugin, done);
		chat_job__free(done);
		done = next;
	}
}


void chat_admin__free(struct chat_admin *admin)
{
	if(admin != NULL) {
		chat_worker__stop(admin->worker);
		free(admin);
	}
}
