/*
 * search_store.h - the search index: a database file of its own beside the log ("<log>-search"),
 * written and read by one thread (services/search_worker.c), never by the broker's.
 *
 * Why a file of its own: keeping FTS5 current inside the send's transaction cost 60-75 us of the
 * broker's thread per message (docs/benchmarks.md, "Search"). Here the index has its own write lock
 * and its own WAL, and the log is attached read-only: indexing never takes the log's write lock, and
 * a WAL reader never blocks the writer.
 *
 * The index follows the log: per channel a watermark (the last seq applied) and the channel's epoch;
 * an indexing pass applies the events above each watermark in seq order (message -> a document; edit
 * -> the document's text replaced; delete -> the document gone) and moves the watermarks in the same
 * transaction, so a crash resumes exactly where the last commit left it. A channel whose epoch changed
 * or whose head is below its watermark (the log lost its tail) is indexed again from scratch; a channel
 * gone from the log, or pruned below documents it still has, loses them (chat_search_db__tidy).
 *
 * A search reads both files in one statement and returns only messages that the log still holds, not
 * deleted, with their current text from the log: whatever the index lags, it never returns what was
 * deleted, pruned or erased. Access control is the caller's: it names the channels searched.
 */
#ifndef CHAT_SEARCH_STORE_H
#define CHAT_SEARCH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct chat_search_db;

struct chat_search_params {
	const char *match; /* an FTS5 MATCH expression from chat_search_query__translate, never user text */
	const char *channels; /* the channel rowids searched, as a JSON array ("[3,7]") */
	const char *author;   /* only messages by this user; NULL: anyone's */
	int64_t after_ts;     /* only ts > after_ts (INT64_MIN: no bound) */
	int64_t before_ts;    /* only ts < before_ts (INT64_MAX: no bound) */
	int64_t before_doc; /* only docs below it: the cursor of the previous page (INT64_MAX: first page) */
	int64_t limit;      /* at most this many hits */
};

/* One hit. The strings are valid only during the callback. */
struct chat_search_hit {
	int64_t doc; /* its place in the index: newest first is doc descending; the next page's cursor */
	int64_t channel;
	int64_t seq;
	const char *id;
	const char *author;
	int64_t ts;
	const char *body;    /* the current text, from the log */
	const char *snippet; /* the part that matched, hits between « and », from the index's text */
};

/* Called for each hit, newest first; returns false to stop early (the caller knows why). */
typedef bool (*chat_search_hit_cb)(const struct chat_search_hit *hit, void *ctx);

/* What an indexing pass did. */
struct chat_search_pass {
	int64_t events;   /* events read from the log */
	int64_t messages; /* documents added */
	int64_t deleted;  /* documents deleted */
	bool more;        /* stopped at its budget: events remain above some watermark */
};

/* "<log_path>-search" in a buffer the caller frees, or NULL when out of memory. */
char *chat_search_db__path(const char *log_path);

/* Opens (creating if needed) the index of the log at log_path, with the log attached read-only. The
 * connection belongs to the calling thread from then on. Returns 0, or -1 with a message in err. */
int chat_search_db__open(const char *log_path, struct chat_search_db **out, char *err, size_t err_len);

void chat_search_db__close(struct chat_search_db *db);

/* One indexing pass, in one transaction of the index: the events above the watermark of every
 * channel (only NULL) or of the channels only[0..n_only) (their rowids; gone ones are skipped), at
 * most max_events of them (the rest for the next pass: out->more). Finding every channel's head costs
 * a lookup per channel of the log: a pass over the channels a commit touched is the cheap one. */
enum chat_err chat_search_db__index(struct chat_search_db *db, int64_t max_events, const int64_t *only,
				    size_t n_only, struct chat_search_pass *out, struct chat_error *err);

/* Drops the documents of channels gone from the log and of seqs pruned from it (one transaction). */
enum chat_err chat_search_db__tidy(struct chat_search_db *db, struct chat_error *err);

/* Merges the index's segments into one: the terms of deleted documents, still in older segments on
 * SQLite before 3.44, are gone from the file after it (docs/protocol.md, "Search"). */
enum chat_err chat_search_db__optimize(struct chat_search_db *db, struct chat_error *err);

/* Calls cb for the messages of p->channels matching p->match and the other filters, newest first, at
 * most p->limit, until cb returns false. A match expression FTS5 refuses is CHAT_ERR_BAD_REQUEST (the
 * translator should never produce one); a storage failure CHAT_ERR_UNAVAILABLE. */
enum chat_err chat_search_db__search(struct chat_search_db *db, const struct chat_search_params *p,
				     chat_search_hit_cb cb, void *ctx, struct chat_error *err);

#endif
