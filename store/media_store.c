/*
 * media_store.c - the queries of media (see media_store.h and schema/0013_media.sql).
 *
 * Plans: every per-upload statement is a probe of media's primary key; the quota sum a range of
 * media_by_owner; the download check a range of media_refs' primary key; collection two ranges of
 * partial indexes (media_released, media_unreferenced), so a pass costs what it removes.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_store.h"

static const char insert_sql[] =
	"INSERT INTO media (id, owner, channel_id, name, type, size, received, ranges, expect_sha256,"
	" sha256, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char get_sql[] =
	"SELECT owner, channel_id, name, type, size, received, ranges, expect_sha256, sha256, created_ms,"
	" referenced FROM media WHERE id = ?1";
static const char progress_sql[] = "UPDATE media SET received = ?2, ranges = ?3 WHERE id = ?1";
static const char complete_sql[] = "UPDATE media SET sha256 = ?2 WHERE id = ?1";
static const char owner_sql[] = "SELECT COALESCE(sum(size), 0) FROM media WHERE owner = ?1";
static const char refs_sql[] = "SELECT DISTINCT channel_id FROM media_refs WHERE media_id = ?1";
static const char collectable_sql[] =
	"SELECT id, sha256 FROM media WHERE released = 1"
	" UNION ALL SELECT id, sha256 FROM media WHERE referenced = 0 AND created_ms < ?1 LIMIT ?2";
static const char remove_sql[] = "DELETE FROM media WHERE id = ?1";
static const char used_sql[] = "SELECT 1 FROM media WHERE sha256 = ?1 LIMIT 1";
static const char bytes_sql[] =
	"SELECT COALESCE(sum(s), 0) FROM (SELECT max(size) AS s FROM media WHERE sha256 IS NOT NULL"
	" GROUP BY sha256)";


static enum chat_err fail(struct chat_store *store, struct chat_error *err)
{
	return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "media: %s", sqlite3_errmsg(chat_store__db(store)));
}


static sqlite3_stmt *prepare(struct chat_store *store, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if(sqlite3_prepare_v2(chat_store__db(store), sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}


static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if(s == NULL) {
		sqlite3_bind_null(st, i);
	} else {
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	}
}


/* Runs st (bound) to completion and finalizes it. */
static enum chat_err run(struct chat_store *store, sqlite3_stmt *st, struct chat_error *err)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : fail(store, err);
}


static char *dup_column(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s != NULL ? strdup((const char *)s) : NULL;
}


void chat_media_store__row_clear(struct chat_media_row *row)
{
	free(row->owner);
	free(row->name);
	free(row->type);
	free(row->ranges);
	free(row->expect_sha256);
	free(row->sha256);
	memset(row, 0, sizeof(*row));
}


enum chat_err chat_media_store__insert(struct chat_store *store, const struct chat_media_row *row,
				       struct chat_error *err)
{
	sqlite3_stmt *st = prepare(store, insert_sql);

	if(st == NULL) {
		return fail(store, err);
	}
	bind_text(st, 1, row->id);
	bind_text(st, 2, row->owner);
	sqlite3_bind_int64(st, 3, row->channel_id);
	bind_text(st, 4, row->name);
	bind_text(st, 5, row->type);
	sqlite3_bind_int64(st, 6, row->size);
	sqlite3_bind_int64(st, 7, row->received);
	bind_text(st, 8, row->ranges != NULL ? row->ranges : "");
	bind_text(st, 9, row->expect_sha256);
	bind_text(st, 10, row->sha256);
	sqlite3_bind_int64(st, 11, row->created_ms);
	return run(store, st, err);
}


enum chat_err chat_media_store__get(struct chat_store *store, const char *id, struct chat_media_row *row,
				    bool *found, struct chat_error *err)
{
	sqlite3_stmt *st = prepare(store, get_sql);
	int rc;

	*found = false;
	if(st == NULL) {
		return fail(store, err);
	}
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if(rc == SQLITE_ROW) {
		memset(row, 0, sizeof(*row));
		snprintf(row->id, sizeof(row->id), "%s", id);
		row->owner = dup_column(st, 0);
		row->channel_id = sqlite3_column_int64(st, 1);
		row->name = dup_column(st, 2);
		row->type = dup_column(st, 3);
		row->size = sqlite3_column_int64(st, 4);
		row->received = sqlite3_column_int64(st, 5);
		row->ranges = dup_column(st, 6);
		row->expect_sha256 = dup_column(st, 7);
		row->sha256 = dup_column(st, 8);
		row->created_ms = sqlite3_column_int64(st, 9);
		row->referenced = sqlite3_column_int(st, 10) != 0;
		sqlite3_finalize(st);
		if(row->owner == NULL || row->name == NULL || row->type == NULL || row->ranges == NULL) {
			chat_media_store__row_clear(row);
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
		*found = true;
		return CHAT_ERR_OK;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : fail(store, err);
}


enum chat_err chat_media_store__progress(struct chat_store *store, const char *id, int64_t received,
					 const char *ranges, struct chat_error *err)
{
	sqlite3_stmt *st = prepare(store, progress_sql);

	if(st == NULL) {
		return fail(store, err);
	}
	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, received);
	bind_text(st, 3, ranges);
	return run(store, st, err);
}


enum chat_err chat_media_store__complete(struct chat_store *store, const char *id, const char *sha256,
					 struct chat_error *err)
{
	sqlite3_stmt *st = prepare(store, complete_sql);

	if(st == NULL) {
		return fail(store, err);
	}
	bind_text(st, 1, id);
	bind_text(st, 2, sha256);
	return run(store, st, err);
}


/* Steps st for one int64 (0 when no row), finalizes it. */
static enum chat_err one_int(struct chat_store *store, sqlite3_stmt *st, int64_t *out, struct chat_error *err)
{
	int rc = sqlite3_step(st);

	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? CHAT_ERR_OK : fail(store, err);
}


enum chat_err chat_media_store__owner_bytes(struct chat_store *store, const char *owner, int64_t *bytes,
					    struct chat_error *err)
{
	sqlite3_stmt *st = prepare(store, owner_sql);

	if(st == NULL) {
		return fail(store, err);
	}
	bind_text(st, 1, owner);
	return one_int(store, st, bytes, err);
}


enum chat_err chat_media_store__ref_channels(struct chat_store *store, const char *id,
					     chat_media_channel_cb cb, void *ctx, bool *stopped,
					     struct chat_error *err)
{
	sqlite3_stmt *st = prepare(store, refs_sql);
	int rc;

	*stopped = false;
	if(st == NULL) {
		return fail(store, err);
	}
	bind_text(st, 1, id);
	while((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if(cb(sqlite3_column_int64(st, 0), ctx)) {
			*stopped = true;
			sqlite3_finalize(st);
			return CHAT_ERR_OK;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : fail(store, err);
}


enum chat_err chat_media_store__collectable(struct chat_store *store, int64_t cutoff_ms, int max,
					    chat_media_gone_cb cb, void *ctx, struct chat_error *err)
{
	sqlite3_stmt *st = prepare(store, collectable_sql);
	int rc;

	if(st == NULL) {
		return fail(store, err);
	}
	sqlite3_bind_int64(st, 1, cutoff_ms);
	sqlite3_bind_int(st, 2, max);
	while((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cb((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1), ctx);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CHAT_ERR_OK : fail(store, err);
}


enum chat_err chat_media_store__remove(struct chat_store *store, const char *id, struct chat_error *err)
{
	sqlite3_stmt *st = prepare(store, remove_sql);

	if(st == NULL) {
		return fail(store, err);
	}
	bind_text(st, 1, id);
	return run(store, st, err);
}


enum chat_err chat_media_store__sha256_used(struct chat_store *store, const char *sha256, bool *used,
					    struct chat_error *err)
{
	sqlite3_stmt *st = prepare(store, used_sql);
	int64_t one = 0;
	enum chat_err rc;

	if(st == NULL) {
		return fail(store, err);
	}
	bind_text(st, 1, sha256);
	rc = one_int(store, st, &one, err);
	*used = one != 0;
	return rc;
}


enum chat_err chat_media_store__stored_bytes(struct chat_store *store, int64_t *bytes, struct chat_error *err)
{
	sqlite3_stmt *st = prepare(store, bytes_sql);

	if(st == NULL) {
		return fail(store, err);
	}
	return one_int(store, st, bytes, err);
}
