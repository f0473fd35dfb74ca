/*
 * send.c - the send path.
 *
 *   (rate limit: the route table, dispatch.c) -> parse and validate (send_request.c) -> channel exists (for a
 * non-member, a private one does not: index.h, chat_index__lookup_visible) -> sender is a member
 *   -> retry? answer with the original ack -> referenced message is valid -> append with seq head+1
 *   to the open batch -> (batch.c, at the tick) commit, then the stored event for subscribers, then
 *   the ack
 *
 * Invariant: an event is committed before any subscriber can see it and before its ack is sent;
 * a refused or failed send stores nothing and publishes nothing, so a retry with the same
 * client_msg_id yields exactly one event. Retries are looked up inside the open batch too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ratelimit.h"
#include "send.h"
#include "send_request.h"
#include "batch.h"
#include "membership.h"
#include "media.h"
#include "mentions.h"
#include "push.h"
#include "reply.h"
#include "store.h"


/* Answers the sender: its ack (for every send with a client_msg_id, or a Response Topic), sent once the
 * batch holding the event has committed; or, if that commit fails, an `unavailable` error. */
static void send_ack(struct chat_plugin *plugin, const struct chat_reply_to *rt, const char *channel,
		     const char *client_msg_id, const char *id, int64_t seq, int64_t ts, bool duplicate)
{
	struct chat_error_context ctx = {.channel = channel, .client_msg_id = client_msg_id};
	size_t len = 0;
	char *json = NULL;

	if(client_msg_id != NULL || rt->requested) {
		json = chat_ack_json__build(channel, client_msg_id, id, seq, ts, duplicate, &len);
	}
	chat_batch__answer(plugin, rt, json, len, &ctx);
	free(json);
}


/* A retry is answered with the original ack. Reusing a client_msg_id for another channel is refused
 * rather than silently swallowing the new message. *retry tells whether the send was one. */
static enum chat_err check_retry(struct chat_plugin *plugin, const struct chat_requester *who,
				 const struct chat_reply_to *rt, const struct chat_channel *ch,
				 const char *client_msg_id, bool *retry, struct chat_error *err)
{
	struct chat_stored_event original;
	bool found = false;

	*retry = false;
	if(client_msg_id == NULL) {
		return CHAT_ERR_OK;
	}
	if(chat_store__find_client_msg(plugin->store, who->user, client_msg_id, &found, &original, err)
	   != CHAT_ERR_OK) {
		return err->code;
	}
	if(!found) {
		return CHAT_ERR_OK;
	}
	if(original.channel != ch->rowid) {
		return chat_error__set(err, CHAT_ERR_CONFLICT,
				       "client_msg_id %s was already used for an event in another channel",
				       client_msg_id);
	}
	*retry = true;
	send_ack(plugin, rt, ch->name, client_msg_id, original.id, original.seq, original.ts, true);
	return CHAT_ERR_OK;
}


/* The message seq refers to must exist, be a message and not be deleted. */
static enum chat_err check_reference(struct chat_plugin *plugin, const struct chat_channel *ch, int64_t seq,
				     struct chat_event_brief *brief, struct chat_error *err)
{
	if(seq > ch->head) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "#%s has no message %lld", ch->name,
				       (long long)seq);
	}
	if(chat_store__event_brief(plugin->store, ch->rowid, seq, brief, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(!brief->exists || !brief->is_message) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "event %lld of #%s is not a message",
				       (long long)seq, ch->name);
	}
	if(brief->deleted) {
		return chat_error__set(err, CHAT_ERR_CONFLICT, "message %lld of #%s was deleted",
				       (long long)seq, ch->name);
	}
	return CHAT_ERR_OK;
}


static enum chat_err check_references(struct chat_plugin *plugin, const struct chat_requester *who,
				      const struct chat_channel *ch, const struct chat_send_request *req,
				      struct chat_error *err)
{
	struct chat_event_brief brief;

	switch(req->type) {
	case CHAT_EVENT_MESSAGE:
		if(req->thread == 0) {
			return CHAT_ERR_OK;
		}
		if(check_reference(plugin, ch, req->thread, &brief, err) != CHAT_ERR_OK) {
			return err->code;
		}
		if(brief.in_thread) {
			return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
					       "message %lld is a thread reply; reply to its root instead",
					       (long long)req->thread);
		}
		return CHAT_ERR_OK;
	case CHAT_EVENT_EDIT:
	case CHAT_EVENT_DELETE:
		if(check_reference(plugin, ch, req->target, &brief, err) != CHAT_ERR_OK) {
			return err->code;
		}
		if(!chat_event_brief__by(&brief, who->user)) {
			return chat_error__set(err, CHAT_ERR_FORBIDDEN, "only the author may %s message %lld",
					       req->type == CHAT_EVENT_EDIT ? "edit" : "delete",
					       (long long)req->target);
		}
		return CHAT_ERR_OK;
	case CHAT_EVENT_REACTION:
		return check_reference(plugin, ch, req->target, &brief, err);
	case CHAT_EVENT_JOIN:
	case CHAT_EVENT_LEAVE:
		break;
	}
	return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "this event type cannot be sent");
}


static bool is_member(const char *name, void *ch)
{
	return chat_index__member(ch, name) != NULL;
}


/* Appends the event to the open batch (batch.c), which moves the channel's head; it is committed and
 * fanned out by the tick at the end of this loop iteration, or a little later. A message or edit
 * carries the members it mentions (mentions.h), computed against the members of now. */
static enum chat_err append(struct chat_plugin *plugin, const struct chat_requester *who,
			    struct chat_channel *ch, const struct chat_send_request *req,
			    struct chat_event *ev, struct chat_error *err)
{
	struct chat_member *author = chat_index__member(ch, who->user); /* a member: checked before */
	bool message = req->type == CHAT_EVENT_MESSAGE;
	struct chat_mentions mentions = {0};
	char *media_json = NULL;
	enum chat_err rc;

	/* The author's message count is read from the log once, then kept in memory. */
	if(message && author->own_messages < 0
	   && chat_store__author_messages(plugin->store, ch->rowid, who->user, &author->own_messages, err)
		      != CHAT_ERR_OK) {
		author->own_messages = -1;
		return err->code;
	}
	*ev = (struct chat_event){
		.channel = ch->name,
		.seq = ch->head + 1,
		.type = req->type,
		.from = who->user,
		.device = who->device,
		.client_msg_id = req->client_msg_id,
		.body = req->body,
		.thread = req->thread,
		.target = req->target,
		.emoji = req->emoji,
		.on = req->on,
		.msg_no = ch->message_count + (message ? 1 : 0),
		.author_msg_no = message ? author->own_messages + 1 : 0,
	};
	/* the sender's complete uploads only; their metadata goes into the event (media.h) */
	if(message && req->media_count > 0
	   && chat_media__entries(plugin, who->user, req->media, req->thumbnails, req->media_count,
				  &media_json, err)
		      != CHAT_ERR_OK) {
		return err->code;
	}
	ev->media_json = media_json;
	if((message || req->type == CHAT_EVENT_EDIT)
	   && chat_mentions__compute(req->body, (const char *const *)req->mentions, req->mention_count,
				     is_member, ch, &mentions)
		      != 0) {
		free(media_json);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	ev->mentions = (const char *const *)mentions.names;
	ev->mention_count = mentions.count;
	ev->mentions_all = mentions.all;
	/* in a direct channel every message counts as a mention of the other person */
	ev->dm_peer = message && ch->visibility == CHAT_VISIBILITY_DM
			      ? chat_membership__dm_peer(ch, who->user)
			      : NULL;
	rc = chat_batch__append(plugin, ch, ev, err); /* the JSON is built (and copied) there */
	chat_mentions__clear(&mentions);
	free(media_json);
	ev->media_json = NULL;
	ev->mentions = NULL;
	ev->mention_count = 0;
	if(rc != CHAT_ERR_OK) {
		return err->code;
	}
	if(message) {
		author->own_messages = ev->author_msg_no;
		/* in the event's own transaction: a crash loses neither (push.h) */
		chat_push__hand_off(plugin, ch, ev->seq, who->user);
	}
	return CHAT_ERR_OK;
}


static enum chat_err serve(struct chat_plugin *plugin, const struct chat_requester *who,
			   const struct chat_reply_to *rt, struct chat_channel *ch,
			   const struct chat_send_request *req, struct chat_error *err)
{
	struct chat_event ev;
	bool retry = false;

	if(check_retry(plugin, who, rt, ch, req->client_msg_id, &retry, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(retry) {
		return CHAT_ERR_OK;
	}
	if(check_references(plugin, who, ch, req, err) != CHAT_ERR_OK
	   || append(plugin, who, ch, req, &ev, err) != CHAT_ERR_OK) {
		return err->code;
	}
	send_ack(plugin, rt, ch->name, req->client_msg_id, ev.id, ev.seq, ev.ts, false);
	return CHAT_ERR_OK;
}


enum chat_err chat_send__serve_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					const struct chat_reply_to *rt, const char *channel,
					size_t channel_len, const void *payload, size_t len)
{
	char name[CHAT_CHANNEL_ID_MAX + 1];
	struct chat_error_context ctx = {.channel = name};
	struct chat_send_request req;
	struct chat_error err = {0};
	struct chat_channel *ch;
	enum chat_err rc;

	snprintf(name, sizeof(name), "%.*s", (int)channel_len, channel);
	rc = chat_send_request__parse(payload, len, plugin->config.max_body, &req, &err);
	ctx.client_msg_id = req.client_msg_id;
	if(rc == CHAT_ERR_OK) {
		/* a private channel the sender is not in is answered as one that does not exist */
		rc = chat_index__lookup_member(&plugin->index, channel, channel_len, who->user, &ch, NULL,
					       &err);
	}
	if(rc == CHAT_ERR_OK) {
		rc = serve(plugin, who, rt, ch, &req, &err);
	}
	if(rc != CHAT_ERR_OK) {
		plugin->metrics.sends_refused++;
		chat_reply__error(rt, &err, &ctx);
	}
	chat_send_request__clear(&req);
	return rc;
}
