/*
 * txn.c - transactions over the store that publish their events only after committing.
 *
 * Used by the membership operations (chat/_api). Sends use the group commit of batch.c instead; a
 * transaction here first commits that batch, so the two never interleave and seqs stay in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "broker.h"
#include "clock.h"
#include "ids.h"
#include "store.h"
#include "txn.h"

struct chat_txn_event {
	struct chat_txn_event *next;
	char channel[CHAT_CHANNEL_ID_MAX + 1];
	size_t len;
	char json[];
};


static void forget_events(struct chat_txn *txn)
{
	struct chat_txn_event *e = txn->first, *next;

	for(; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	txn->first = txn->last = NULL;
}


enum chat_err chat_txn__begin(struct chat_txn *txn, struct chat_plugin *plugin, struct chat_error *err)
{
	memset(txn, 0, sizeof(*txn));
	txn->plugin = plugin;
	if(chat_batch__flush(plugin) != CHAT_ERR_OK) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "storage failed; nothing was stored");
	}
	return chat_store__begin(plugin->store, err);
}


enum chat_err chat_txn__append(struct chat_txn *txn, int64_t channel, struct chat_event *ev,
			       struct chat_error *err)
{
	struct chat_txn_event *e;
	size_t len = 0;
	char *json;

	chat_ids__uuid(ev->id);
	ev->ts = chat_clock__wall_ms();
	json = chat_event_json__build(ev, &len);
	if(json == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	e = malloc(sizeof(*e) + len + 1);
	if(e == NULL) {
		free(json);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	memcpy(e->json, json, len + 1);
	free(json);
	e->len = len;
	e->next = NULL;
	snprintf(e->channel, sizeof(e->channel), "%s", ev->channel);
	if(chat_store__insert_event(txn->plugin->store, channel, ev, e->json, len, err) != CHAT_ERR_OK) {
		free(e);
		return err->code;
	}
	if(txn->last) {
		txn->last->next = e;
	} else {
		txn->first = e;
	}
	txn->last = e;
	return CHAT_ERR_OK;
}


enum chat_err chat_txn__commit(struct chat_txn *txn, struct chat_error *err)
{
	if(chat_store__commit(txn->plugin->store, err) != CHAT_ERR_OK) {
		forget_events(txn);
		return err->code;
	}
	for(struct chat_txn_event *e = txn->first; e != NULL; e = e->next) {
		chat_broker__publish(e->channel, NULL, e->json, e->len, CHAT_EVENT_QOS);
	}
	forget_events(txn);
	return CHAT_ERR_OK;
}


void chat_txn__abort(struct chat_txn *txn)
{
	chat_store__rollback(txn->plugin->store);
	forget_events(txn);
}
