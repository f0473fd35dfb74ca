/*
 * store.h - the durable side of mqchat: one SQLite database in WAL mode.
 *
 * The store holds channels, members and every channel's event log; it is the source of truth, and the
 * in-memory index (index.h) is rebuilt from it at start, as is the directory of users (users.h). Writes
 * happen inside a transaction opened with chat_store__begin and end with chat_store__commit, which returns
 * only once the commit is as durable as the configured synchronous level promises (see README, "Durability").
 * A failed write leaves the database as it was before the transaction.
 *
 * Every function that can fail returns CHAT_ERR_OK or CHAT_ERR_UNAVAILABLE with SQLite's message in
 * err, so a send that could not be stored is refused as `unavailable` and may be retried.
 *
 * Single-threaded: the broker calls every plugin callback from its one thread.
 */
#ifndef CHAT_STORE_H
#define CHAT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "errors.h"
#include "event_json.h"
#include "index.h"

struct chat_store;

/* Opens (creating if needed) the database at path, sets WAL mode and the synchronous level, and
 * brings its schema up to date. Refuses a file that is not an mqchat database or whose schema is newer
 * than this build knows. On success *out is the store (free with chat_store__close) and
 * *upgraded_from the schema version found (equal to the current one when nothing was applied).
 * Returns 0, or -1 with a message in err. */
int chat_store__open(const char *path, enum chat_synchronous synchronous, int busy_timeout_ms,
		     struct chat_store **out, int *upgraded_from, char *err, size_t err_len);

/* Sets how many WAL pages make a commit run SQLite's automatic checkpoint (SQLite's default: 1000).
 * With a checkpointer thread (checkpoint.h) it is only a backstop, set high. */
void chat_store__set_autocheckpoint(struct chat_store *store, int pages);

/* Records the start of a broker's run, and first protects clients from a log that may have lost its
 * tail: when the previous run did not finish (no chat_store__end_run), ran at synchronous normal, and
 * the machine has booted since (boot_id differs, or either is unknown: NULL), a power loss may have
 * taken back acknowledged events whose seqs new events would reuse. Every channel then gets a new
 * epoch, and *renewed says how many. The record is written with an fsync whatever the level.
 * Returns 0, or -1 with a message in err. */
int chat_store__begin_run(struct chat_store *store, const char *boot_id, enum chat_synchronous synchronous,
			  int *renewed, char *err, size_t err_len);

/* Records that the run ended cleanly: everything acknowledged is in the file. Moves the database's
 * generation on (lineage.h), so a copy taken while it ran is told apart if restored. Returns 0 or -1. */
int chat_store__end_run(struct chat_store *store);

/* Besides a possible power loss (above), begin_run gives every channel a new epoch when the database
 * may be older than what clients saw: it is not the one this broker last had open, or is an older copy
 * of it (store/lineage.h: a sidecar file beside it remembers the last), or an operator asked for it
 * (a row 'new_epochs' in the runs table: tools/new_epochs.sh). Why the last begin_run renewed them,
 * for the log; NULL when it did not. Static. */
const char *chat_store__renewed_why(const struct chat_store *store);

/* Moves the database's generation on now, in the database and then in its sidecar. For an online
 * backup (the operations issue): called right after the copy is taken, it makes that copy older than
 * the live database, so restoring it gives new epochs. Returns 0, or -1 with a message in err. */
int chat_store__advance_generation(struct chat_store *store, char *err, size_t err_len);

/* Gives every channel a new epoch now, in one transaction; *count says how many. The hook for a restore
 * done while the broker runs: the caller must then reload the index (it holds the epochs) and tell the
 * edges. Returns 0, or -1 with a message in err. */
int chat_store__new_epochs_all(struct chat_store *store, int *count, char *err, size_t err_len);

/* Closes the database; NULL is ignored. */
void chat_store__close(struct chat_store *store);

/* The store's SQLite connection, for the store's other files (session_tokens.c), which prepare their
 * own statements and finalize them before returning: chat_store__close closes it. */
struct sqlite3 *chat_store__db(struct chat_store *store);

/* The schema version this build creates: the number of migrations. */
int chat_store__schema_version(void);

/* Calls cb(ctx, client_id, user) for every stored client-id binding (sessions.h); cb returns 0, or -1
 * when out of memory. Returns 0, or -1 with a message in err. */
int chat_store__load_client_ids(struct chat_store *store,
				int (*cb)(void *ctx, const char *client_id, const char *user), void *ctx,
				char *err, size_t err_len);

/* Binds client_id to user (a persistent session's), or, with user NULL, deletes its binding. */
enum chat_err chat_store__put_client_id(struct chat_store *store, const char *client_id, const char *user,
					int64_t ts, struct chat_error *err);

/* Fills idx with every channel, member, head and last message. Returns 0, or -1 with a message. */
int chat_store__load(struct chat_store *store, struct chat_index *idx, char *err, size_t err_len);

/* Calls cb with every name of the users table (the user directory, users.h); cb returns false to stop
 * when out of memory. Returns 0, or -1 with a message in err. */
int chat_store__load_users(struct chat_store *store, bool (*cb)(const char *name, void *ctx), void *ctx,
			   char *err, size_t err_len);

/* Records user name, first seen at first_seen (ms since the epoch); a no-op for a name already there. */
enum chat_err chat_store__insert_user(struct chat_store *store, const char *name, int64_t first_seen,
				      struct chat_error *err);

/* Transactions. begin takes the write lock (waiting up to the busy timeout); commit makes everything
 * since begin durable, or rolls it back and fails; rollback abandons it. */
enum chat_err chat_store__begin(struct chat_store *store, struct chat_error *err);
enum chat_err chat_store__commit(struct chat_store *store, struct chat_error *err);
void chat_store__rollback(struct chat_store *store);

/* begin for work that a crash may undo and the plugin redoes by itself (retention's batches): its
 * commit does not wait for the disk (synchronous normal for that one transaction), so it never holds
 * the broker's thread for an fsync. It becomes durable with the next ordinary commit, whose sync
 * covers every WAL frame written before its own. commit and rollback restore the configured level. */
enum chat_err chat_store__begin_lazy(struct chat_store *store, struct chat_error *err);

/* Appends ev (whose JSON is json[0..len)) to the log of channel rowid. ev->seq must be the channel's
 * last seq + 1; the database enforces it. A delete erases its target in the same transaction: the
 * message and each of its edits keep their seq and id but lose their body and say "deleted":true,
 * and its mentions go. Whom a message or edit mentions (ev->mentions, mentions_all, dm_peer) is
 * indexed in the same transaction too (schema/0010_attention.sql). */
enum chat_err chat_store__insert_event(struct chat_store *store, int64_t channel, const struct chat_event *ev,
				       const char *json, size_t len, struct chat_error *err);

/* Creates a channel; its rowid goes to *rowid. */
enum chat_err chat_store__insert_channel(struct chat_store *store, const char *name,
					 enum chat_visibility visibility, const char *title,
					 const char *epoch, const char *created_by, int64_t created_at,
					 int64_t *rowid, struct chat_error *err);

/* Adds user to channel with role, or changes the role of a member (keeping its joined_seq). */
enum chat_err chat_store__put_member(struct chat_store *store, int64_t channel, const char *user,
				     enum chat_role role, int64_t joined_seq, struct chat_error *err);

/* Removes user from channel. */
enum chat_err chat_store__delete_member(struct chat_store *store, int64_t channel, const char *user,
					struct chat_error *err);

/* Stores user's read cursor in channel at seq: unconditionally (a join sets it), or with only_forward
 * only if it moves forward. */
enum chat_err chat_store__set_read_cursor(struct chat_store *store, int64_t channel, const char *user,
					  int64_t seq, int64_t ts, bool only_forward, struct chat_error *err);

/* Stores device's delivery cursor in channel at seq if that moves it forward. */
enum chat_err chat_store__advance_delivered_cursor(struct chat_store *store, int64_t channel,
						   const char *user, const char *device, int64_t seq,
						   int64_t ts, struct chat_error *err);

/* Forgets the read and delivery cursors of user in channel (it left). */
enum chat_err chat_store__delete_cursors(struct chat_store *store, int64_t channel, const char *user,
					 struct chat_error *err);

/* The number of message events author has appended to channel (their author_msg_no so far): one
 * index lookup. */
enum chat_err chat_store__author_messages(struct chat_store *store, int64_t channel, const char *author,
					  int64_t *count, struct chat_error *err);

/* The number of message events of ch from others than user with seq > read_seq: three index lookups
 * (none when read_seq is at or after the last message), whatever the length of the log. */
enum chat_err chat_store__unread(struct chat_store *store, const struct chat_channel *ch, const char *user,
				 int64_t read_seq, int64_t *unread, struct chat_error *err);

/* An event already in the log, as an ack names it. */
struct chat_stored_event {
	int64_t channel; /* rowid */
	int64_t seq;
	char id[CHAT_UUID_LEN + 1];
	int64_t ts;
};

/* Looks up the event user sent with client_msg_id. *found tells whether there is one. */
enum chat_err chat_store__find_client_msg(struct chat_store *store, const char *user,
					  const char *client_msg_id, bool *found,
					  struct chat_stored_event *out, struct chat_error *err);

/* What the send path needs to know of the event a reply, edit, delete or reaction refers to. */
struct chat_event_brief {
	bool exists;
	bool is_message;
	bool in_thread;    /* a message that is itself a thread reply */
	bool deleted;      /* a delete event targets it */
	char author[256];  /* truncated if longer; compare with chat_event_brief__by */
	size_t author_len; /* the full length */
};

/* Describes event seq of channel. */
enum chat_err chat_store__event_brief(struct chat_store *store, int64_t channel, int64_t seq,
				      struct chat_event_brief *out, struct chat_error *err);

/* True if brief's event was caused by user. */
bool chat_event_brief__by(const struct chat_event_brief *brief, const char *user);

/* Called for each event of a page, in seq order; returns false to stop early (the event is then not
 * part of the page). json is valid only during the call. */
typedef bool (*chat_store_event_cb)(int64_t seq, const char *json, size_t len, void *ctx);

/* Calls cb for the events of channel with seq > since, in seq order, at most limit of them. */
enum chat_err chat_store__events_after(struct chat_store *store, int64_t channel, int64_t since,
				       int64_t limit, chat_store_event_cb cb, void *ctx,
				       struct chat_error *err);

/* Calls cb for the events of channel with since < seq < before, newest first, at most limit of them
 * (backward catch-up: the page that ends just below before). */
enum chat_err chat_store__events_before(struct chat_store *store, int64_t channel, int64_t since,
					int64_t before, int64_t limit, chat_store_event_cb cb, void *ctx,
					struct chat_error *err);

/* The body of the latest edit of message seq of channel, malloc'd into *body; NULL when it was never
 * edited (or its edits were erased by its delete). */
enum chat_err chat_store__latest_edit(struct chat_store *store, int64_t channel, int64_t seq, char **body,
				      struct chat_error *err);

/* The JSON of event seq of channel, malloc'd into *json (NULL if there is no such event). */
enum chat_err chat_store__event_json(struct chat_store *store, int64_t channel, int64_t seq, char **json,
				     struct chat_error *err);

#endif
