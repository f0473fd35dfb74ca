/*
 * media.c - upload, pieces, download, references and collection (see media.h).
 *
 * State on the broker's thread: the store (rows), the blob files (blobs.h), and per upload in progress
 * an open partial file with a running SHA-256 of its bytes from 0 up to `hashed`. Pieces that arrive
 * in order extend the hash as they come, so completing a 25 MB upload sent in order hashes nothing more;
 * pieces out of order (or after a restart, which forgets the running hash) are hashed from the file
 * at completion. A piece is written before its range is recorded: a crash leaves at worst bytes in the
 * file that the row does not claim, which the resumed upload writes again.
 *
 * Names: 1-255 characters, no '/', '\\' or control characters (refused, bad_request: a client shows the
 * name, and a name that is a path invites a client to write it as one). Types: 1-127 printable ASCII
 * characters, stored as given; clients render only types they know (docs/protocol.md).
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uthash.h>

#include "batch.h"
#include "blobs.h"
#include "clock.h"
#include "ids.h"
#include "json_fields.h"
#include "media.h"
#include "media_store.h"
#include "ratelimit.h"
#include "topic.h"
#include "utf8.h"

#define NAME_MAX_CHARS 255
#define TYPE_MAX_CHARS 127
#define COLLECT_MAX    100 /* uploads removed per pass: a pass stays short */
/* Progress is written to the store when at least PERSIST_BYTES and PERSIST_MS have passed since it last
 * was (and at completion, and at a clean stop): a write per 64 KiB piece would be a WAL fsync per
 * piece at synchronous full, which under a transfer's write-back takes milliseconds of the broker's
 * thread (docs/benchmarks.md, "Media"). A crash forgets at most that much, which a resume sends again. */
#define PERSIST_BYTES (1024 * 1024)
#define PERSIST_MS    1000

struct upload {
	UT_hash_handle hh;
	char id[CHAT_MEDIA_ID_LEN + 1];
	int fd;
	EVP_MD_CTX *md;
	int64_t hashed; /* md holds the bytes [0, hashed) */
	/* What has arrived, authoritative while the upload is open (malloc'd). The row is written when
	 * PERSIST_BYTES more have arrived, and at completion: a crash loses at most that much progress,
	 * which a resume sends again (the row never claims bytes the file lacks). */
	char *ranges;
	int64_t received, saved;
	int64_t saved_ms; /* monotonic ms of the last write of progress */
	bool finishing;   /* every byte is in: a finish_job has the file (fd, md) */
};

/* A completed upload on its way to becoming a blob, on the finisher thread: the hash of what was not
 * hashed in order, the check against the expected sha256, then fsync, rename and the directory's fsync
 * (tens of milliseconds for 25 MB: never on the broker's thread). The last piece's answer waits for it
 * and goes from the tick (chat_media__tick). */
struct finish_job {
	struct finish_job *next;
	char id[CHAT_MEDIA_ID_LEN + 1];
	int fd;         /* the partial file: the job's, closed by it */
	EVP_MD_CTX *md; /* the job's */
	int64_t hashed; /* md holds [0, hashed) */
	int64_t size;
	char expect[CHAT_SHA256_HEX_LEN + 1]; /* "" for none */
	/* where the last piece's answer goes (copied: the request is long gone by then) */
	struct chat_reply_kept to;
	/* the outcome: 0 a blob, 1 not the expected sha256 (nothing kept), -1 an I/O error */
	int status;
	char hex[CHAT_SHA256_HEX_LEN + 1];
};

struct chat_media {
	struct chat_blobs *blobs;
	struct upload *uploads;
	int64_t next_collect_ms;
	bool counted; /* metrics.media_bytes loaded from the store */
	pthread_t finisher;
	bool finisher_running;
	pthread_mutex_t mu; /* guards todo, done, stopping */
	pthread_cond_t cv;
	struct finish_job *todo, *done;
	bool stopping;
};

struct range {
	int64_t s, e;
};

/* ---- state ------------------------------------------------------------------------------------------ */

static void *finisher_main(void *arg);
static void job_free(struct finish_job *job);
static void settle(struct chat_plugin *plugin, bool answer);
struct chat_media_row;
static void ack_piece(const struct chat_reply_to *rt, const struct chat_media_row *row);

static struct chat_media *state(struct chat_plugin *plugin, struct chat_error *err)
{
	char dir[4096], why[256];
	struct chat_media *m = plugin->media;

	if(m != NULL) {
		return m;
	}
	if(plugin->store == NULL || plugin->config.database == NULL) {
		chat_error__set(err, CHAT_ERR_UNAVAILABLE, "media are kept by the core");
		return NULL;
	}
	if(plugin->config.media_dir != NULL) {
		snprintf(dir, sizeof(dir), "%s", plugin->config.media_dir);
	} else {
		snprintf(dir, sizeof(dir), "%s.media", plugin->config.database);
	}
	m = calloc(1, sizeof(*m));
	if(m == NULL) {
		chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		return NULL;
	}
	if((m->blobs = chat_blobs__open(dir, why, sizeof(why))) == NULL) {
		free(m);
		chat_error__set(err, CHAT_ERR_UNAVAILABLE, "media store: %s", why);
		return NULL;
	}
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->finisher_running = pthread_create(&m->finisher, NULL, finisher_main, m) == 0;
	if(!m->finisher_running) {
		chat_blobs__close(m->blobs);
		free(m);
		chat_error__set(err, CHAT_ERR_UNAVAILABLE, "media store: cannot start its thread");
		return NULL;
	}
	plugin->media = m;
	return m;
}


static void upload_free(struct upload *u)
{
	if(u->fd >= 0) {
		close(u->fd);
	}
	EVP_MD_CTX_free(u->md);
	free(u->ranges);
	free(u);
}


static void forget_upload(struct chat_media *m, const char *id)
{
	struct upload *u = NULL;

	HASH_FIND_STR(m->uploads, id, u);
	if(u != NULL) {
		HASH_DEL(m->uploads, u);
		upload_free(u);
	}
}


/* The open state of row's upload, opening its partial file (and a fresh hash) when not open. */
static struct upload *open_upload(struct chat_media *m, const struct chat_media_row *row)
{
	struct upload *u = NULL;

	HASH_FIND_STR(m->uploads, row->id, u);
	if(u != NULL) {
		return u;
	}
	u = calloc(1, sizeof(*u));
	if(u == NULL) {
		return NULL;
	}
	snprintf(u->id, sizeof(u->id), "%s", row->id);
	u->fd = chat_blobs__open_partial(m->blobs, row->id);
	u->md = EVP_MD_CTX_new();
	u->ranges = strdup(row->ranges);
	u->received = u->saved = row->received;
	u->saved_ms = chat_clock__mono_ms();
	if(u->fd < 0 || u->md == NULL || u->ranges == NULL
	   || EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1) {
		upload_free(u);
		return NULL;
	}
	HASH_ADD_STR(m->uploads, id, u);
	return u;
}


void chat_media__free(struct chat_plugin *plugin)
{
	struct chat_media *m = plugin->media;
	struct upload *u, *tmp;

	if(m == NULL) {
		return;
	}
	HASH_ITER(hh, m->uploads, u, tmp) {
		struct chat_error err = {0};
		if(u->received > u->saved && plugin->store != NULL) {
			(void)chat_media_store__progress(plugin->store, u->id, u->received, u->ranges, &err);
		}
		HASH_DEL(m->uploads, u);
		upload_free(u);
	}
	if(m->finisher_running) {
		/* uploads being finished finish first; their answers are lost with the connections (the
		 * client sees complete:true in upload_status after the restart, or sends a piece again) */
		pthread_mutex_lock(&m->mu);
		m->stopping = true;
		pthread_cond_signal(&m->cv);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->finisher, NULL);
		settle(plugin, false); /* recorded; the broker is going, and the answers with it */
	}
	chat_blobs__close(m->blobs);
	free(m);
	plugin->media = NULL;
}

/* ---- ranges ----------------------------------------------------------------------------------------- */

/* Parses "s-e,s-e" into a malloc'd array (room for one more), *count set. NULL when out of memory. */
static struct range *ranges_parse(const char *text, size_t *count)
{
	size_t n = 1;
	struct range *r;
	const char *p = text;

	for(const char *c = text; *c; c++) {
		n += *c == ',';
	}
	r = calloc(n + 1, sizeof(*r));
	*count = 0;
	if(r == NULL) {
		return NULL;
	}
	while(*p != '\0') {
		char *end;
		long long s = strtoll(p, &end, 10), e;
		if(*end != '-') {
			break;
		}
		e = strtoll(end + 1, &end, 10);
		r[(*count)++] = (struct range){s, e};
		p = *end == ',' ? end + 1 : end;
	}
	return r;
}


/* Adds [s,e) to r (sorted, merged; r has room for one more), returns the new count. */
static size_t ranges_add(struct range *r, size_t n, int64_t s, int64_t e)
{
	size_t i = 0, out = 0;
	struct range *tmp = calloc(n + 1, sizeof(*tmp));

	if(tmp == NULL) {
		return n; /* the caller's total check catches it: nothing recorded */
	}
	while(i < n && r[i].e < s) {
		tmp[out++] = r[i++];
	}
	while(i < n && r[i].s <= e) {
		s = r[i].s < s ? r[i].s : s;
		e = r[i].e > e ? r[i].e : e;
		i++;
	}
	tmp[out++] = (struct range){s, e};
	while(i < n) {
		tmp[out++] = r[i++];
	}
	memcpy(r, tmp, out * sizeof(*r));
	free(tmp);
	return out;
}


static int64_t ranges_total(const struct range *r, size_t n)
{
	int64_t t = 0;

	for(size_t i = 0; i < n; i++) {
		t += r[i].e - r[i].s;
	}
	return t;
}


/* "s-e,s-e", malloc'd. */
static char *ranges_print(const struct range *r, size_t n)
{
	char *out = malloc(n * 42 + 1);
	size_t len = 0;

	if(out == NULL) {
		return NULL;
	}
	out[0] = '\0';
	for(size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(out + len, 42, "%s%lld-%lld", i ? "," : "", (long long)r[i].s,
					(long long)r[i].e);
	}
	return out;
}

/* ---- checks ----------------------------------------------------------------------------------------- */

static enum chat_err no_such_media(struct chat_error *err)
{
	return chat_error__set(err, CHAT_ERR_NO_SUCH_MEDIA, "no such media");
}


static bool media_id_valid(const char *id)
{
	if(strlen(id) != CHAT_MEDIA_ID_LEN || strncmp(id, "m-", 2) != 0) {
		return false;
	}
	for(size_t i = 2; i < CHAT_MEDIA_ID_LEN; i++) {
		if(!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}


static bool sha256_hex_valid(const char *s)
{
	if(strlen(s) != CHAT_SHA256_HEX_LEN) {
		return false;
	}
	for(size_t i = 0; i < CHAT_SHA256_HEX_LEN; i++) {
		if(!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}


static bool name_valid(const char *s)
{
	for(const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if(*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\') {
			return false;
		}
	}
	/* U+0080-U+009F (C1 controls) are two bytes: C2 80 - C2 9F */
	for(const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if(p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
			return false;
		}
	}
	return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}


static bool type_valid(const char *s)
{
	for(const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if(*p <= 0x20 || *p >= 0x7f) {
			return false;
		}
	}
	return true;
}


/* An open upload's progress is ahead of its row: row gets it. */
static enum chat_err overlay_open(struct chat_plugin *plugin, struct chat_media_row *row,
				  struct chat_error *err)
{
	struct upload *u = NULL;
	char *copy;

	if(plugin->media != NULL) {
		HASH_FIND_STR(plugin->media->uploads, row->id, u);
	}
	if(u == NULL || row->sha256 != NULL) {
		return CHAT_ERR_OK;
	}
	if((copy = strdup(u->ranges)) == NULL) {
		chat_media_store__row_clear(row);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	free(row->ranges);
	row->ranges = copy;
	row->received = u->received;
	return CHAT_ERR_OK;
}


/* The row of id if user uploaded it (with its open upload's progress); otherwise no_such_media. Clear
 * *row after success. */
static enum chat_err own_row(struct chat_plugin *plugin, const char *user, const char *id,
			     struct chat_media_row *row, struct chat_error *err)
{
	bool found = false;

	if(!media_id_valid(id)) {
		return no_such_media(err);
	}
	if(chat_media_store__get(plugin->store, id, row, &found, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(!found) {
		return no_such_media(err);
	}
	if(strcmp(row->owner, user) != 0) {
		chat_media_store__row_clear(row);
		return no_such_media(err);
	}
	return overlay_open(plugin, row, err);
}

/* ---- upload, upload_status -------------------------------------------------------------------------- */

static const char empty_sha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";


enum chat_err chat_media__upload(struct chat_plugin *plugin, const char *user, const cJSON *body,
				 cJSON *reply, const char **channel, struct chat_error *err)
{
	const char *name = NULL, *type = NULL, *expect = NULL;
	struct chat_media_row row = {0};
	struct chat_channel *ch;
	struct chat_media *m;
	int64_t size = -1, used = 0;

	if(chat_json__string(body, "channel", true, 1, CHAT_CHANNEL_ID_MAX, channel, err) != CHAT_ERR_OK
	   || chat_json__string(body, "name", true, 1, NAME_MAX_CHARS, &name, err) != CHAT_ERR_OK
	   || chat_json__string(body, "type", true, 1, TYPE_MAX_CHARS, &type, err) != CHAT_ERR_OK
	   || chat_json__int(body, "size", true, 0, INT64_MAX / 2, &size, err) != CHAT_ERR_OK
	   || chat_json__string(body, "sha256", false, 64, 64, &expect, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(!name_valid(name)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
				       "name may not hold '/', '\\\\' or control characters");
	}
	if(!type_valid(type)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "type is 1-127 printable ASCII characters");
	}
	if(expect != NULL && !sha256_hex_valid(expect)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "sha256 is 64 lower-case hex digits");
	}
	if(chat_index__lookup_member(&plugin->index, *channel, strlen(*channel), user, &ch, NULL, err)
	   != CHAT_ERR_OK) {
		return err->code;
	}
	if(size > plugin->config.media_max_bytes) {
		return chat_error__set(err, CHAT_ERR_TOO_LARGE, "%lld bytes is over the limit of %lld",
				       (long long)size, (long long)plugin->config.media_max_bytes);
	}
	if(plugin->config.media_quota_bytes > 0) {
		if(chat_media_store__owner_bytes(plugin->store, user, &used, err) != CHAT_ERR_OK) {
			return err->code;
		}
		if(used + size > plugin->config.media_quota_bytes) {
			return chat_error__set(err, CHAT_ERR_QUOTA_EXCEEDED,
					       "%lld more bytes would be over your media quota of %lld "
					       "(%lld used)",
					       (long long)size, (long long)plugin->config.media_quota_bytes,
					       (long long)used);
		}
	}
	if(size == 0 && expect != NULL && strcmp(expect, empty_sha256) != 0) {
		return chat_error__set(err, CHAT_ERR_CONFLICT,
				       "sha256 does not match the bytes: nothing stored");
	}
	if((m = state(plugin, err)) == NULL) {
		return err->code;
	}
	memcpy(row.id, "m-", 2);
	chat_ids__hex(row.id + 2, 16);
	row.owner = (char *)user;
	row.channel_id = ch->rowid;
	row.name = (char *)name;
	row.type = (char *)type;
	row.size = size;
	row.expect_sha256 = (char *)expect;
	row.sha256 = size == 0 ? (char *)empty_sha256 : NULL; /* nothing to wait for */
	row.created_ms = chat_clock__wall_ms();
	if(size == 0 && chat_blobs__commit_empty(m->blobs, empty_sha256) != 0) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "media store: cannot write");
	}
	if(chat_media_store__insert(plugin->store, &row, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(cJSON_AddStringToObject(reply, "media", row.id) == NULL
	   || cJSON_AddNumberToObject(reply, "chunk", CHAT_MEDIA_CHUNK) == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	return CHAT_ERR_OK;
}


static int add_progress(cJSON *obj, const struct chat_media_row *row)
{
	return cJSON_AddNumberToObject(obj, "received", (double)row->received) == NULL
	       || cJSON_AddBoolToObject(obj, "complete", row->sha256 != NULL) == NULL
	       || (row->sha256 != NULL && cJSON_AddStringToObject(obj, "sha256", row->sha256) == NULL);
}


enum chat_err chat_media__status(struct chat_plugin *plugin, const char *user, const cJSON *body,
				 cJSON *reply, struct chat_error *err)
{
	struct chat_media_row row;
	const char *id = NULL;
	struct range *r;
	cJSON *list;
	size_t n = 0;
	int bad = 0;

	if(chat_json__string(body, "media", true, 1, 64, &id, err) != CHAT_ERR_OK
	   || own_row(plugin, user, id, &row, err) != CHAT_ERR_OK) {
		return err->code;
	}
	r = ranges_parse(row.ranges, &n);
	bad = r == NULL || cJSON_AddStringToObject(reply, "media", row.id) == NULL
	      || cJSON_AddNumberToObject(reply, "size", (double)row.size) == NULL || add_progress(reply, &row)
	      || (list = cJSON_AddArrayToObject(reply, "ranges")) == NULL;
	for(size_t i = 0; !bad && i < n; i++) {
		cJSON *pair = cJSON_CreateArray();
		bad = pair == NULL || !cJSON_AddItemToArray(list, pair)
		      || !cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)r[i].s))
		      || !cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)r[i].e));
	}
	free(r);
	chat_media_store__row_clear(&row);
	return bad ? chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory") : CHAT_ERR_OK;
}

/* ---- pieces ----------------------------------------------------------------------------------------- */

/* Whether the bytes of fd (or of the blob) at [s,e) equal data[s-offset ...]. */
static bool same_bytes(int fd, int64_t s, int64_t e, const unsigned char *data, int64_t offset)
{
	unsigned char buf[65536];

	while(s < e) {
		size_t n = (size_t)(e - s) < sizeof(buf) ? (size_t)(e - s) : sizeof(buf);
		if(pread(fd, buf, n, s) != (ssize_t)n || memcmp(buf, data + (s - offset), n) != 0) {
			return false;
		}
		s += (int64_t)n;
	}
	return true;
}


/* Hashes fd's bytes [u->hashed, size) into u and writes the hex digest. Returns 0 or -1. */
static int finish_hash(struct upload *u, int64_t size, char hex[CHAT_SHA256_HEX_LEN + 1])
{
	static unsigned char buf[CHAT_MEDIA_CHUNK];
	unsigned char digest[32];
	unsigned len = 0;

	while(u->hashed < size) {
		size_t n =
			(size_t)(size - u->hashed) < sizeof(buf) ? (size_t)(size - u->hashed) : sizeof(buf);
		if(pread(u->fd, buf, n, u->hashed) != (ssize_t)n || EVP_DigestUpdate(u->md, buf, n) != 1) {
			return -1;
		}
		u->hashed += (int64_t)n;
	}
	if(EVP_DigestFinal_ex(u->md, digest, &len) != 1) {
		return -1;
	}
	for(unsigned i = 0; i < 32; i++) {
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	}
	return 0;
}


static void count_stored_bytes(struct chat_plugin *plugin)
{
	struct chat_error err = {0};
	int64_t bytes = 0;

	if(chat_media_store__stored_bytes(plugin->store, &bytes, &err) == CHAT_ERR_OK) {
		plugin->metrics.media_bytes = (uint64_t)bytes;
	}
}


static void job_free(struct finish_job *job)
{
	if(job->fd >= 0) {
		close(job->fd);
	}
	EVP_MD_CTX_free(job->md);
	chat_reply_kept__release(&job->to);
	free(job);
}


/* The finisher thread: takes jobs from todo, does each (see struct finish_job), puts it on done. */
static void *finisher_main(void *arg)
{
	struct chat_media *m = arg;
	struct finish_job *job;
	struct upload u = {0};

	pthread_mutex_lock(&m->mu);
	for(;;) {
		while(m->todo == NULL && !m->stopping) {
			pthread_cond_wait(&m->cv, &m->mu);
		}
		if((job = m->todo) == NULL) {
			break; /* stopping, and nothing left */
		}
		m->todo = job->next;
		pthread_mutex_unlock(&m->mu);
		u.fd = job->fd;
		u.md = job->md;
		u.hashed = job->hashed;
		if(finish_hash(&u, job->size, job->hex) != 0) {
			job->status = -1;
		} else if(job->expect[0] != '\0' && strcmp(job->expect, job->hex) != 0) {
			job->status = 1;
		} else {
			job->status = chat_blobs__commit(m->blobs, job->id, job->fd, job->hex) == 0 ? 0 : -1;
			job->fd = -1; /* closed by the commit */
		}
		pthread_mutex_lock(&m->mu);
		job->next = m->done;
		m->done = job;
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}


/* The last byte of u is in: hands its file to the finisher; the answer goes when it is done. */
static enum chat_err start_finish(struct chat_media *m, struct upload *u, const struct chat_media_row *row,
				  const struct chat_reply_to *rt, struct chat_error *err)
{
	struct finish_job *job = calloc(1, sizeof(*job));

	if(job == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	job->fd = -1;
	snprintf(job->id, sizeof(job->id), "%s", row->id);
	snprintf(job->expect, sizeof(job->expect), "%s", row->expect_sha256 ? row->expect_sha256 : "");
	job->size = row->size;
	if(chat_reply_kept__copy(&job->to, rt) != 0) {
		job_free(job);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	job->fd = u->fd;
	job->md = u->md;
	job->hashed = u->hashed;
	u->fd = -1;
	u->md = NULL;
	u->finishing = true;
	pthread_mutex_lock(&m->mu);
	job->next = m->todo;
	m->todo = job;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	return CHAT_ERR_OK;
}


/* Answers and records one finished job (broker thread). */
static void settle_one(struct chat_plugin *plugin, struct chat_media *m, struct finish_job *job, bool answer)
{
	struct chat_edge_route route;
	struct chat_reply_to rt = chat_reply_kept__view(&job->to, &route, &plugin->sessions);
	struct chat_media_row row = {0};
	struct chat_error err = {0};
	struct chat_error ignored = {0};
	struct chat_error_context ctx = {0};

	rt.requested = true; /* the last piece's answer, whatever the piece asked */
	rt.request = "upload";
	forget_upload(m, job->id);
	if(job->status == 0
	   && chat_media_store__complete(plugin->store, job->id, job->hex, &err) == CHAT_ERR_OK) {
		snprintf(row.id, sizeof(row.id), "%s", job->id);
		row.received = job->size;
		row.sha256 = job->hex;
		if(answer) {
			ack_piece(&rt, &row);
		}
		count_stored_bytes(plugin);
		return;
	}
	/* not kept: the upload is gone, as if it never was (its bytes are not what was announced, or
	 * could not be stored) */
	chat_blobs__drop_partial(m->blobs, job->id);
	chat_media_store__remove(plugin->store, job->id, &ignored);
	if(job->status == 1) {
		chat_error__set(&err, CHAT_ERR_CONFLICT,
				"sha256 of the bytes is %s, not %s: the upload is discarded", job->hex,
				job->expect);
	} else if(err.code == CHAT_ERR_OK) {
		chat_error__set(&err, CHAT_ERR_UNAVAILABLE,
				"media store: cannot write: the upload is discarded");
	}
	if(answer) {
		chat_reply__error(&rt, &err, &ctx);
	}
}


/* Settles the finished jobs; answers them when answer (not at shutdown). */
static void settle(struct chat_plugin *plugin, bool answer)
{
	struct chat_media *m = plugin->media;
	struct finish_job *list, *next;

	if(m == NULL) {
		return;
	}
	pthread_mutex_lock(&m->mu);
	list = m->done;
	m->done = NULL;
	pthread_mutex_unlock(&m->mu);
	for(; list != NULL; list = next) {
		next = list->next;
		settle_one(plugin, m, list, answer);
		job_free(list);
	}
}


void chat_media__settle(struct chat_plugin *plugin)
{
	settle(plugin, true);
}


static void ack_piece(const struct chat_reply_to *rt, const struct chat_media_row *row)
{
	cJSON *obj = cJSON_CreateObject();

	if(obj != NULL && cJSON_AddTrueToObject(obj, "ok") != NULL
	   && cJSON_AddStringToObject(obj, "kind", "upload") != NULL
	   && cJSON_AddStringToObject(obj, "media", row->id) != NULL && !add_progress(obj, row)) {
		chat_reply__send_object(rt, obj);
	}
	cJSON_Delete(obj);
}


/* Checks and writes one piece into row's upload; row's progress is updated. */
static enum chat_err write_piece(struct chat_plugin *plugin, struct chat_media *m, struct chat_media_row *row,
				 const struct chat_reply_to *rt, bool *deferred, int64_t offset,
				 const unsigned char *data, size_t len, struct chat_error *err)
{
	int64_t end = offset + (int64_t)len;
	struct range *r;
	struct upload *u;
	char *printed;
	size_t n = 0;

	if((u = open_upload(m, row)) == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "media store: cannot open the upload");
	}
	if(u->finishing) {
		return CHAT_ERR_OK; /* every byte is in already; the answer with the sha256 follows */
	}
	if((r = ranges_parse(row->ranges, &n)) == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "media store: cannot open the upload");
	}
	for(size_t i = 0; i < n; i++) {
		int64_t s = r[i].s > offset ? r[i].s : offset, e = r[i].e < end ? r[i].e : end;
		if(s < e && !same_bytes(u->fd, s, e, data, offset)) {
			free(r);
			return chat_error__set(err, CHAT_ERR_CONFLICT,
					       "bytes %lld-%lld differ from those already received",
					       (long long)s, (long long)e);
		}
	}
	if(pwrite(u->fd, data, len, offset) != (ssize_t)len) {
		free(r);
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "media store: cannot write");
	}
	if(offset <= u->hashed && end > u->hashed) {
		if(EVP_DigestUpdate(u->md, data + (u->hashed - offset), (size_t)(end - u->hashed)) == 1) {
			u->hashed = end;
		}
	}
	n = ranges_add(r, n, offset, end);
	row->received = ranges_total(r, n);
	printed = ranges_print(r, n);
	free(r);
	if(printed == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	free(u->ranges);
	u->ranges = printed;
	u->received = row->received;
	if((u->received - u->saved >= PERSIST_BYTES && chat_clock__mono_ms() - u->saved_ms >= PERSIST_MS)
	   || u->received == row->size) {
		if(chat_media_store__progress(plugin->store, row->id, u->received, u->ranges, err)
		   != CHAT_ERR_OK) {
			return err->code;
		}
		u->saved = u->received;
		u->saved_ms = chat_clock__mono_ms();
		if(u->received < row->size) {
			chat_blobs__flush_async(m->blobs,
						u->fd); /* the completion's fsync then has little to do */
		}
	}
	if(row->received == row->size) {
		*deferred = true;
		return start_finish(m, u, row, rt, err);
	}
	return CHAT_ERR_OK;
}


/* A complete upload takes a piece again (a QoS 1 redelivery, a client unsure): same bytes or refused. */
static enum chat_err check_complete(struct chat_media *m, const struct chat_media_row *row, int64_t offset,
				    const unsigned char *data, size_t len, struct chat_error *err)
{
	unsigned char *buf = malloc(len);
	int64_t got;

	if(buf == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	got = chat_blobs__read(m->blobs, row->sha256, (uint64_t)offset, buf, len);
	if(got != (int64_t)len || memcmp(buf, data, len) != 0) {
		free(buf);
		return chat_error__set(err, CHAT_ERR_CONFLICT, "bytes differ from those already received");
	}
	free(buf);
	return CHAT_ERR_OK;
}


enum chat_err chat_media__piece_or_reply(struct chat_plugin *plugin, const struct chat_requester *who,
					 const struct chat_reply_to *rt, const char *media,
					 const char *offset_text, const void *payload, size_t len)
{
	struct chat_error_context ctx = {0};
	struct chat_media_row row = {0};
	struct chat_error err = {0};
	struct chat_media *m;
	int64_t offset = strtoll(offset_text, NULL, 10);
	bool deferred = false; /* the last piece: answered once its blob is made (chat_media__settle) */
	enum chat_err rc;

	if(own_row(plugin, who->user, media, &row, &err) != CHAT_ERR_OK) {
		return chat_reply__error(rt, &err, &ctx);
	}
	/* A full piece, or the last one, moves the upload on by its size in bytes, which the upload's
	 * size and the quota bound; anything smaller costs a request, so a flood of tiny pieces is
	 * limited like requests. */
	if(len < CHAT_MEDIA_CHUNK && offset + (int64_t)len != row.size
	   && chat_ratelimit__admit(plugin->request_limits, who->user, chat_clock__mono_ms(), "requests",
				    &err)
		      != CHAT_ERR_OK) {
		rc = err.code;
	} else if(len == 0) {
		rc = chat_error__set(&err, CHAT_ERR_BAD_REQUEST, "a piece holds 1 to %d bytes",
				     CHAT_MEDIA_CHUNK);
	} else if(len > CHAT_MEDIA_CHUNK) {
		rc = chat_error__set(&err, CHAT_ERR_TOO_LARGE, "a piece holds at most %d bytes",
				     CHAT_MEDIA_CHUNK);
	} else if(offset + (int64_t)len > row.size) {
		rc = chat_error__set(&err, CHAT_ERR_BAD_REQUEST, "bytes %lld-%lld are past the size, %lld",
				     (long long)offset, (long long)(offset + (int64_t)len),
				     (long long)row.size);
	} else if((m = state(plugin, &err)) == NULL) {
		rc = err.code;
	} else if(row.sha256 != NULL) {
		rc = check_complete(m, &row, offset, payload, len, &err);
	} else {
		rc = write_piece(plugin, m, &row, rt, &deferred, offset, payload, len, &err);
	}
	if(rc == CHAT_ERR_OK && !deferred) {
		ack_piece(rt, &row);
	} else if(rc != CHAT_ERR_OK) {
		chat_reply__error(rt, &err, &ctx);
	}
	chat_media_store__row_clear(&row);
	return rc;
}

/* ---- download --------------------------------------------------------------------------------------- */

struct reader {
	struct chat_plugin *plugin;
	const char *user;
};


static bool member_of(int64_t channel_id, void *ctx)
{
	struct reader *r = ctx;
	const struct chat_user *u = chat_index__user(&r->plugin->index, r->user);
	struct chat_membership *ms, *tmp;

	if(u == NULL) {
		return false;
	}
	HASH_ITER(hh, u->channels, ms, tmp) {
		if(ms->channel->rowid == channel_id) {
			return true;
		}
	}
	return false;
}


/* Sends bytes to rt: on its Response Topic, or on its reply topic + "/media/<M>/<O>" (a client without
 * Correlation Data tells one answer from another by its topic). */
static void send_bytes(const struct chat_reply_to *rt, const char *id, int64_t offset, const char *bytes,
		       size_t len)
{
	size_t base_len = chat_topic__reply_topic(rt->client_id, NULL, 0);
	size_t size = base_len + CHAT_MEDIA_ID_LEN + 32;
	char *base = malloc(base_len + 1), *topic = malloc(size);
	const char *to;

	if(base == NULL || topic == NULL || rt->topic == NULL) {
		free(base);
		free(topic);
		return; /* out of memory: lost like any answer; the client asks again */
	}
	chat_topic__reply_topic(rt->client_id, base, base_len + 1);
	to = rt->topic;
	if(strcmp(rt->topic, base) == 0) {
		snprintf(topic, size, "%s/media/%s/%lld", base, id, (long long)offset);
		to = topic;
	}
	if(rt->via != NULL) {
		chat_reply__via_edge(rt->via, rt->client_id, to, bytes, len, rt->correlation,
				     rt->correlation_len);
	} else {
		chat_reply__deliver(rt->sessions, rt->client_id, to, bytes, len, rt->correlation,
				    rt->correlation_len);
	}
	free(base);
	free(topic);
}


enum chat_err chat_media__download(struct chat_plugin *plugin, const char *user,
				   const struct chat_reply_to *rt, const cJSON *body, struct chat_error *err)
{
	struct reader reader = {plugin, user};
	struct chat_media_row row = {0};
	int64_t offset = 0, length = CHAT_MEDIA_CHUNK, got = 0;
	const char *id = NULL;
	struct chat_media *m;
	bool found = false, allowed = false;
	char *buf;

	if(chat_json__string(body, "media", true, 1, 64, &id, err) != CHAT_ERR_OK
	   || chat_json__int(body, "offset", false, 0, INT64_MAX / 2, &offset, err) != CHAT_ERR_OK
	   || chat_json__int(body, "length", false, 1, CHAT_MEDIA_CHUNK, &length, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(!media_id_valid(id)) {
		return no_such_media(err);
	}
	if(chat_media_store__get(plugin->store, id, &row, &found, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(!found) {
		return no_such_media(err);
	}
	allowed = strcmp(row.owner, user) == 0;
	if(!allowed
	   && chat_media_store__ref_channels(plugin->store, id, member_of, &reader, &allowed, err)
		      != CHAT_ERR_OK) {
		chat_media_store__row_clear(&row);
		return err->code;
	}
	/* not yours and not complete look alike: nothing to read either way */
	if(!allowed || row.sha256 == NULL) {
		chat_media_store__row_clear(&row);
		return no_such_media(err);
	}
	if(offset > row.size) {
		chat_error__set(err, CHAT_ERR_BAD_REQUEST, "offset %lld is past the size, %lld",
				(long long)offset, (long long)row.size);
		chat_media_store__row_clear(&row);
		return err->code;
	}
	if(length > row.size - offset) {
		length = row.size - offset;
	}
	buf = malloc((size_t)length + 1);
	if(buf == NULL || (m = state(plugin, err)) == NULL
	   || (length > 0
	       && (got = chat_blobs__read(m->blobs, row.sha256, (uint64_t)offset, buf, (size_t)length))
			  != length)) {
		free(buf);
		chat_media_store__row_clear(&row);
		if(err->code == CHAT_ERR_OK) {
			chat_error__set(err, CHAT_ERR_UNAVAILABLE, "media store: cannot read");
		}
		return err->code;
	}
	(void)got;
	send_bytes(rt, row.id, offset, buf, (size_t)length);
	free(buf);
	chat_media_store__row_clear(&row);
	return CHAT_ERR_OK;
}

/* ---- references ------------------------------------------------------------------------------------- */

/* Adds to entry the fields of id, a complete upload of user's ("thumbnail" entries leave out the
 * name: it is the client's to show the original's). */
static enum chat_err add_entry_fields(struct chat_plugin *plugin, const char *user, const char *id,
				      bool with_name, cJSON *entry, struct chat_error *err)
{
	struct chat_media_row row;
	bool bad;

	if(own_row(plugin, user, id, &row, err) != CHAT_ERR_OK) {
		return err->code;
	}
	if(row.sha256 == NULL) {
		chat_media_store__row_clear(&row);
		return chat_error__set(err, CHAT_ERR_NO_SUCH_MEDIA, "media %s is not complete", id);
	}
	bad = cJSON_AddStringToObject(entry, "id", row.id) == NULL
	      || (with_name && cJSON_AddStringToObject(entry, "name", row.name) == NULL)
	      || cJSON_AddStringToObject(entry, "type", row.type) == NULL
	      || cJSON_AddNumberToObject(entry, "size", (double)row.size) == NULL
	      || cJSON_AddStringToObject(entry, "sha256", row.sha256) == NULL;
	chat_media_store__row_clear(&row);
	return bad ? chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory") : CHAT_ERR_OK;
}


enum chat_err chat_media__entries(struct chat_plugin *plugin, const char *user, char *const *ids,
				  char *const *thumbnails, size_t count, char **out, struct chat_error *err)
{
	cJSON *list = cJSON_CreateArray();

	*out = NULL;
	if(list == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	for(size_t i = 0; i < count; i++) {
		cJSON *e = cJSON_CreateObject(), *thumb = NULL;

		if(e == NULL || !cJSON_AddItemToArray(list, e)) {
			cJSON_Delete(e);
			cJSON_Delete(list);
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
		if(add_entry_fields(plugin, user, ids[i], true, e, err) != CHAT_ERR_OK) {
			cJSON_Delete(list);
			return err->code;
		}
		if(thumbnails == NULL || thumbnails[i] == NULL) {
			continue;
		}
		if((thumb = cJSON_AddObjectToObject(e, "thumbnail")) == NULL) {
			cJSON_Delete(list);
			return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
		}
		if(add_entry_fields(plugin, user, thumbnails[i], false, thumb, err) != CHAT_ERR_OK) {
			cJSON_Delete(list);
			return err->code;
		}
	}
	*out = cJSON_PrintUnformatted(list);
	cJSON_Delete(list);
	return *out != NULL ? CHAT_ERR_OK : chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
}

/* ---- collection ------------------------------------------------------------------------------------- */

struct gone {
	char id[CHAT_MEDIA_ID_LEN + 1];
	char sha256[CHAT_SHA256_HEX_LEN + 1];
};

struct gone_list {
	struct gone items[COLLECT_MAX];
	int count;
};


static void note_gone(const char *id, const char *sha256, void *ctx)
{
	struct gone_list *l = ctx;

	if(l->count < COLLECT_MAX && id != NULL) {
		snprintf(l->items[l->count].id, sizeof(l->items[0].id), "%s", id);
		snprintf(l->items[l->count].sha256, sizeof(l->items[0].sha256), "%s", sha256 ? sha256 : "");
		l->count++;
	}
}


void chat_media__tick(struct chat_plugin *plugin, int64_t now)
{
	int64_t age_ms = plugin->config.media_orphan_seconds > 0
				 ? plugin->config.media_orphan_seconds * 1000
				 : plugin->config.media_orphan_hours * 3600000;
	int64_t period = age_ms / 4 < 1000 ? age_ms / 4 : 1000; /* a pass reads two short index ranges */
	static struct gone_list gone;                           /* broker thread only */
	struct chat_error err = {0};
	struct chat_media *m;
	bool used = false;

	if(plugin->store == NULL || plugin->config.role != CHAT_ROLE_CORE) {
		return;
	}
	chat_media__settle(plugin);
	if(plugin->media != NULL && now < plugin->media->next_collect_ms) {
		return;
	}
	if((m = state(plugin, &err)) == NULL) {
		return;
	}
	m->next_collect_ms = now + (period > 100 ? period : 100);
	if(!m->counted) {
		count_stored_bytes(plugin);
		m->counted = true;
	}
	gone.count = 0;
	/* a send in the open batch may reference what looks collectable: its commit first */
	chat_batch__flush(plugin);
	if(chat_media_store__collectable(plugin->store, chat_clock__wall_ms() - age_ms, COLLECT_MAX,
					 note_gone, &gone, &err)
	   != CHAT_ERR_OK) {
		return;
	}
	for(int i = 0; i < gone.count; i++) {
		struct gone *g = &gone.items[i];
		forget_upload(m, g->id);
		if(chat_media_store__remove(plugin->store, g->id, &err) != CHAT_ERR_OK) {
			return;
		}
		chat_blobs__drop_partial(m->blobs, g->id);
		if(g->sha256[0] != '\0'
		   && chat_media_store__sha256_used(plugin->store, g->sha256, &used, &err) == CHAT_ERR_OK
		   && !used) {
			chat_blobs__drop(m->blobs, g->sha256);
		}
	}
	if(gone.count > 0) {
		count_stored_bytes(plugin);
	}
}
