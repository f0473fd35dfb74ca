/*
 * state.c - makes and frees the services' part of the plugin's state (see state.h).
 */
#include <stdlib.h>

#include "batch.h"
#include "cursors.h"
#include "presence.h"
#include "push.h"
#include "ratelimit.h"
#include "search.h"
#include "state.h"
#include "typing.h"
#include "users.h"

#define MS_PER_MINUTE 60000
#define MS_PER_HOUR   3600000


static void free_states(struct chat_plugin *plugin)
{
	free(plugin->batch);
	free(plugin->cursors);
	free(plugin->typing);
	free(plugin->presence);
	free(plugin->users);
	chat_push__free(plugin->push); /* stops its worker thread */
	plugin->push = NULL;
	chat_search__free(plugin->search); /* stops its worker thread */
	plugin->search = NULL;
	plugin->batch = NULL;
	plugin->cursors = NULL;
	plugin->typing = NULL;
	plugin->presence = NULL;
	plugin->users = NULL;
}


int chat_services__state_new(struct chat_plugin *plugin)
{
	plugin->batch = calloc(1, sizeof(*plugin->batch));
	plugin->cursors = calloc(1, sizeof(*plugin->cursors));
	plugin->typing = calloc(1, sizeof(*plugin->typing));
	plugin->presence = calloc(1, sizeof(*plugin->presence));
	plugin->users = calloc(1, sizeof(*plugin->users));
	plugin->push = calloc(1, sizeof(*plugin->push));
	plugin->search = chat_search__new();
	if(plugin->batch == NULL || plugin->cursors == NULL || plugin->typing == NULL
	   || plugin->presence == NULL || plugin->users == NULL || plugin->push == NULL
	   || plugin->search == NULL) {
		free_states(plugin);
		return -1;
	}
	return 0;
}


int chat_services__limits_new(struct chat_plugin *plugin)
{
	const struct chat_config *c = &plugin->config;

	plugin->send_limits = chat_ratelimit__new(c->send_rate, c->send_burst);
	plugin->request_limits = chat_ratelimit__new(c->request_rate, c->request_burst);
	plugin->typing_limits = chat_ratelimit__new(c->typing_rate, c->typing_burst);
	plugin->create_limits = chat_ratelimit__new_per(c->create_rate, MS_PER_HOUR, c->create_burst);
	plugin->member_limits = chat_ratelimit__new_per(c->member_rate, MS_PER_MINUTE, c->member_burst);
	plugin->presence_limits = chat_ratelimit__new_per(c->presence_rate, MS_PER_MINUTE, c->presence_burst);
	return plugin->send_limits == NULL || plugin->request_limits == NULL || plugin->typing_limits == NULL
			       || plugin->create_limits == NULL || plugin->member_limits == NULL
			       || plugin->presence_limits == NULL
		       ? -1
		       : 0;
}


void chat_services__state_free(struct chat_plugin *plugin)
{
	if(plugin->batch != NULL) { /* all five are allocated together (chat_services__state_new) */
		chat_batch__clear(plugin->batch);
		chat_cursors__clear(plugin->cursors);
		chat_typing__clear(plugin->typing);
		chat_presence__clear(plugin->presence);
		chat_users__clear(plugin->users);
	}
	free_states(plugin);
	chat_ratelimit__free(plugin->send_limits);
	chat_ratelimit__free(plugin->request_limits);
	chat_ratelimit__free(plugin->typing_limits);
	chat_ratelimit__free(plugin->create_limits);
	chat_ratelimit__free(plugin->member_limits);
	chat_ratelimit__free(plugin->presence_limits);
	plugin->send_limits = plugin->request_limits = plugin->typing_limits = NULL;
	plugin->create_limits = plugin->member_limits = plugin->presence_limits = NULL;
}
