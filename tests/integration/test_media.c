/*
 * test_media.c - files and images, upload then reference (docs/protocol.md, "Media"), against a real
 * broker: an upload in pieces, its acks and sha256, a message that references it, a member's download
 * byte for byte; pieces out of order and a resume from upload_status; a kill -9 in the middle of an
 * upload, then a resume to the right sha256; every bad input with its exact error and nothing stored;
 * who may download (uploader, members of a channel that references it; not a stranger, not a removed
 * member, not after the message is deleted); identical bytes stored once; orphan collection; a flood
 * of tiny pieces limited like requests. MQTT 5 and 3.1.1 clients both.
 */
#include <dirent.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "th_chat.h"
#include "th_gateway.h"

#define CHUNK (64 * 1024)

struct fixture {
	struct th_broker b;
	struct th_client *ada, *bo, *cy, *dee;
};


static void setup(struct fixture *f, const char *extra)
{
	th_broker_start(&f->b, "%s", extra);
	tc_sign_in(&f->b, "ada", "bo", "cy", "dee", NULL);
	f->ada = th_connect(&f->b, "ada", "ada-1", 5, true);
	f->bo = th_connect(&f->b, "bo", "bo-1", 4, true); /* MQTT 3.1.1 */
	f->cy = th_connect(&f->b, "cy", "cy-1", 5, true);
	f->dee = th_connect(&f->b, "dee", "dee-1", 5, true);
	tc_api_ok(f->ada, "{\"op\":\"create\",\"channel\":\"files\",\"members\":[\"bo\",\"dee\"]}");
}


static void teardown(struct fixture *f)
{
	th_disconnect(f->ada);
	th_disconnect(f->bo);
	th_disconnect(f->cy);
	th_disconnect(f->dee);
	th_broker_stop(&f->b);
}


/* size deterministic pseudo-random bytes from seed (malloc'd). */
static unsigned char *make_bytes(size_t size, unsigned seed)
{
	unsigned char *p = malloc(size + 1);
	unsigned x = seed * 2654435761u + 1;

	TH_CHECK(p != NULL);
	for(size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}


static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char d[32];
	unsigned n = 0;

	TH_CHECK(EVP_Digest(data, len, d, &n, EVP_sha256(), NULL) == 1);
	for(int i = 0; i < 32; i++) {
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	}
}


/* Asks for an upload; returns the media id (static buffer) and checks the chunk. */
static const char *upload(struct th_client *c, const char *name, const char *type, long long size)
{
	static char id[64];
	cJSON *r = tc_api(
		c, "{\"op\":\"upload\",\"channel\":\"files\",\"name\":\"%s\",\"type\":\"%s\",\"size\":%lld}",
		name, type, size);

	TH_JSON(r, "{\"ok\":true,\"kind\":\"api\",\"op\":\"upload\",\"media\":\"*\",\"chunk\":65536}");
	snprintf(id, sizeof(id), "%s", th_json_str(r, "media"));
	TH_CHECK(strncmp(id, "m-", 2) == 0 && strlen(id) == 34);
	cJSON_Delete(r);
	return id;
}


/* Publishes one piece at QoS 1 and returns its answer (caller deletes). */
static cJSON *piece(struct th_client *c, const char *id, long long offset, const void *data, size_t len)
{
	char topic[128];

	snprintf(topic, sizeof(topic), "chat/_media/%s/%lld", id, offset);
	TH_CHECK(th_publish(c, topic, data, (int)len, 1, NULL) >= 0);
	return th_expect_json(c, tc_reply_topic(c));
}


/* Sends [from, to) of data in CHUNK pieces, each acked with received growing; returns the last ack. */
static cJSON *pieces(struct th_client *c, const char *id, const unsigned char *data, size_t from, size_t to)
{
	cJSON *r = NULL;

	for(size_t off = from; off < to; off += CHUNK) {
		size_t n = to - off < CHUNK ? to - off : CHUNK;
		cJSON_Delete(r);
		r = piece(c, id, (long long)off, data + off, n);
		TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")), "piece refused: %s", th_json_print(r));
	}
	return r;
}


/* Uploads data whole and checks the last ack; returns the id (static). */
static const char *upload_all(struct th_client *c, const char *name, const unsigned char *data, size_t size)
{
	const char *id = upload(c, name, "application/octet-stream", (long long)size);
	char sha[65], pattern[256];
	cJSON *r;

	if(size == 0) {
		return id;
	}
	r = pieces(c, id, data, 0, size);
	sha256_hex(data, size, sha);
	snprintf(pattern, sizeof(pattern),
		 "{\"ok\":true,\"kind\":\"upload\",\"media\":\"%s\",\"received\":%zu,\"complete\":true,"
		 "\"sha256\":\"%s\"}",
		 id, size, sha);
	TH_JSON(r, pattern);
	cJSON_Delete(r);
	return id;
}


/* Downloads [offset, offset+len) of id; returns the bytes' message (caller frees) or the JSON error
 * in *error (caller deletes). */
static struct th_msg *download(struct th_client *c, const char *id, long long offset, cJSON **error)
{
	char req[256], topic[512];
	struct th_msg *m;

	*error = NULL;
	snprintf(req, sizeof(req), "{\"op\":\"download\",\"media\":\"%s\",\"offset\":%lld}", id, offset);
	TH_CHECK(th_publish(c, "chat/_api", req, -1, 1, NULL) >= 0);
	snprintf(topic, sizeof(topic), "%s/media/%s/%lld", tc_reply_topic(c), id, offset);
	/* one or the other comes: bytes on the media topic, or an error on the reply topic */
	for(int i = 0; i < 500; i++) {
		if((m = th_wait_msg(c, topic, 10)) != NULL) {
			return m;
		}
		if((*error = th_wait_json(c, tc_reply_topic(c), 10)) != NULL) {
			return NULL;
		}
	}
	th_fail(__FILE__, __LINE__, "no answer to %s", req);
}


/* Downloads all of id and checks it is data[0..size). */
static void download_equals(struct th_client *c, const char *id, const unsigned char *data, size_t size)
{
	size_t off = 0;

	do {
		cJSON *err = NULL;
		struct th_msg *m = download(c, id, (long long)off, &err);
		TH_CHECKF(m != NULL, "download refused: %s", th_json_print(err));
		TH_CHECK((size_t)m->len <= CHUNK && off + (size_t)m->len <= size);
		TH_CHECK(memcmp(m->payload, data + off, (size_t)m->len) == 0);
		off += (size_t)m->len;
		if(m->len == 0) {
			th_msg_free(m);
			break;
		}
		th_msg_free(m);
	} while(off < size);
	TH_EQ_INT(off, size);
}


static void expect_download_refused(struct th_client *c, const char *id)
{
	cJSON *err = NULL;
	struct th_msg *m = download(c, id, 0, &err);

	TH_CHECKF(m == NULL, "download of %s allowed", id);
	tc_expect_error(err, "no_such_media", "no such media");
}


/* Sends a message referencing ids (a JSON array's inside) and returns the ack (caller deletes). */
static cJSON *send_media(struct th_client *c, const char *cmid, const char *body, const char *ids)
{
	return tc_request(c, "chat/files", "{\"client_msg_id\":\"%s\",\"body\":\"%s\",\"media\":[%s]}", cmid,
			  body, ids);
}


static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if(d == NULL) {
		return -1;
	}
	while((e = readdir(d)) != NULL) {
		n += e->d_name[0] != '.' && strcmp(e->d_name, "partial") != 0;
	}
	closedir(d);
	return n;
}


static bool blob_exists(struct fixture *f, const char *sha)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s.media/%s", f->b.db_path, sha);
	return stat(path, &st) == 0;
}

/* ---- tests ----------------------------------------------------------------------------------------------
 */

static void test_round_trip(void)
{
	struct fixture f;
	size_t size = 3 * CHUNK + 12345;
	unsigned char *data = make_bytes(size, 1);
	char sha[65], ids[64], pattern[1024];
	const char *id;
	cJSON *r;

	setup(&f, "");
	TH_EQ_INT(th_subscribe(f.bo, "chat/files", 1), 1);
	id = upload_all(f.ada, "report 2026.pdf", data, size);
	sha256_hex(data, size, sha);
	r = tc_api(f.ada, "{\"op\":\"upload_status\",\"media\":\"%s\"}", id);
	snprintf(pattern, sizeof(pattern),
		 "{\"ok\":true,\"kind\":\"api\",\"op\":\"upload_status\",\"media\":\"%s\",\"size\":%zu,"
		 "\"received\":%zu,\"complete\":true,\"sha256\":\"%s\",\"ranges\":[[0,%zu]]}",
		 id, size, size, sha, size);
	TH_JSON(r, pattern);
	cJSON_Delete(r);

	/* referenced by a message whose body may be empty; the event carries the metadata */
	snprintf(ids, sizeof(ids), "\"%s\"", id);
	r = send_media(f.ada, "with-file", "", ids);
	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")), "send refused: %s", th_json_print(r));
	cJSON_Delete(r);
	snprintf(pattern, sizeof(pattern),
		 "{\"id\":\"*\",\"channel\":\"files\",\"seq\":\"*\",\"type\":\"message\",\"from\":\"ada\","
		 "\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"with-file\",\"body\":\"\","
		 "\"media\":[{\"id\":\"%s\",\"name\":\"report "
		 "2026.pdf\",\"type\":\"application/octet-stream\","
		 "\"size\":%zu,\"sha256\":\"%s\"}]}",
		 id, size, sha);
	tc_expect_next(f.bo, "chat/files", 1, "%s", pattern);

	/* a member downloads it, byte for byte, over MQTT 3.1.1; the uploader over MQTT 5 */
	download_equals(f.bo, id, data, size);
	download_equals(f.ada, id, data, size);
	free(data);
	teardown(&f);
}


static void test_out_of_order_and_resume(void)
{
	struct fixture f;
	size_t size = 4 * CHUNK + 7;
	unsigned char *data = make_bytes(size, 2);
	char sha[65], pattern[512];
	const char *id;
	cJSON *r;

	setup(&f, "");
	id = upload(f.ada, "photo.jpg", "image/jpeg", (long long)size);
	/* the last piece first, then the second: nothing is complete, received counts both */
	r = piece(f.ada, id, 4 * CHUNK, data + 4 * CHUNK, 7);
	snprintf(pattern, sizeof(pattern),
		 "{\"ok\":true,\"kind\":\"upload\",\"media\":\"%s\",\"received\":7,\"complete\":false}", id);
	TH_JSON(r, pattern);
	cJSON_Delete(r);
	r = piece(f.ada, id, CHUNK, data + CHUNK, CHUNK);
	TH_EQ_INT(th_json_int(r, "received"), CHUNK + 7);
	cJSON_Delete(r);
	/* the same piece again (a QoS 1 redelivery): accepted, nothing changes */
	r = piece(f.ada, id, CHUNK, data + CHUNK, CHUNK);
	TH_EQ_INT(th_json_int(r, "received"), CHUNK + 7);
	cJSON_Delete(r);
	r = tc_api(f.ada, "{\"op\":\"upload_status\",\"media\":\"%s\"}", id);
	snprintf(pattern, sizeof(pattern),
		 "{\"ok\":true,\"kind\":\"api\",\"op\":\"upload_status\",\"media\":\"%s\",\"size\":%zu,"
		 "\"received\":%d,\"complete\":false,\"ranges\":[[%d,%d],[%d,%zu]]}",
		 id, size, CHUNK + 7, CHUNK, 2 * CHUNK, 4 * CHUNK, size);
	TH_JSON(r, pattern);
	cJSON_Delete(r);
	/* the gaps, from what upload_status said */
	cJSON_Delete(piece(f.ada, id, 0, data, CHUNK));
	r = pieces(f.ada, id, data, 2 * CHUNK, 4 * CHUNK);
	sha256_hex(data, size, sha);
	snprintf(pattern, sizeof(pattern),
		 "{\"ok\":true,\"kind\":\"upload\",\"media\":\"%s\",\"received\":%zu,\"complete\":true,"
		 "\"sha256\":\"%s\"}",
		 id, size, sha);
	TH_JSON(r, pattern);
	cJSON_Delete(r);
	download_equals(f.ada, id, data, size);
	free(data);
	teardown(&f);
}


static void test_empty_file_and_unknown_type(void)
{
	struct fixture f;
	char ids[64], pattern[1024];
	const char *id;
	struct th_msg *m;
	cJSON *r, *err = NULL;

	setup(&f, "");
	TH_EQ_INT(th_subscribe(f.dee, "chat/files", 1), 1);
	/* an unknown type is stored as given */
	id = upload(f.ada, "empty", "x-weird/thing+1", 0);
	snprintf(ids, sizeof(ids), "\"%s\"", id);
	r = tc_api(f.ada, "{\"op\":\"upload_status\",\"media\":%s}", ids);
	TH_JSON(r, "{\"ok\":true,\"kind\":\"api\",\"op\":\"upload_status\",\"media\":\"*\",\"size\":0,"
		   "\"received\":0,"
		   "\"complete\":true,\"sha256\":"
		   "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
		   "\"ranges\":[]}");
	cJSON_Delete(r);
	r = send_media(f.ada, "empty-file", "nothing in it", ids);
	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")), "send refused: %s", th_json_print(r));
	cJSON_Delete(r);
	snprintf(pattern, sizeof(pattern),
		 "{\"id\":\"*\",\"channel\":\"files\",\"seq\":\"*\",\"type\":\"message\",\"from\":\"ada\","
		 "\"device\":\"ada-1\",\"ts\":\"*\",\"client_msg_id\":\"empty-file\",\"body\":\"nothing in "
		 "it\","
		 "\"media\":[{\"id\":%s,\"name\":\"empty\",\"type\":\"x-weird/thing+1\",\"size\":0,"
		 "\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]}",
		 ids);
	tc_expect_next(f.dee, "chat/files", 1, "%s", pattern);
	m = download(f.dee, id, 0, &err);
	TH_CHECK(m == NULL || m->len == 0);
	TH_CHECKF(m != NULL, "download refused: %s", th_json_print(err));
	th_msg_free(m);
	teardown(&f);
}


/* Every refusal with its code; nothing of a refused upload or piece is stored. */
static void test_bad_input(void)
{
	struct fixture f;
	unsigned char *data = make_bytes(CHUNK + 1, 3), *other = make_bytes(CHUNK, 4);
	char sha[65], ids[200], pattern[512], partial[600];
	char mine[64], bos[64];
	cJSON *r;

	setup(&f, "plugin_opt_media_max_bytes 1048576\nplugin_opt_media_quota_bytes 2097152\n");
	snprintf(partial, sizeof(partial), "%s.media/partial", f.b.db_path);

	/* upload refusals: nothing stored */
	tc_expect_error(tc_api(f.ada, "{\"op\":\"upload\",\"channel\":\"files\",\"name\":\"a/"
				      "b\",\"type\":\"text/plain\",\"size\":1}"),
			"bad_request", NULL);
	tc_expect_error(tc_api(f.ada, "{\"op\":\"upload\",\"channel\":\"files\",\"name\":\"..\\\\x\","
				      "\"type\":\"text/plain\",\"size\":1}"),
			"bad_request", NULL);
	tc_expect_error(tc_api(f.ada, "{\"op\":\"upload\",\"channel\":\"files\",\"name\":\"bell\\u0007\","
				      "\"type\":\"text/plain\",\"size\":1}"),
			"bad_request", NULL);
	tc_expect_error(tc_api(f.ada, "{\"op\":\"upload\",\"channel\":\"files\",\"name\":\"big\",\"type\":"
				      "\"text/plain\",\"size\":1048577}"),
			"too_large", NULL);
	tc_expect_error(tc_api(f.cy, "{\"op\":\"upload\",\"channel\":\"files\",\"name\":\"x\",\"type\":"
				     "\"text/plain\",\"size\":1}"),
			"not_member", NULL);
	/* the quota counts every upload of the user, complete or not */
	snprintf(mine, sizeof(mine), "%s", upload(f.ada, "one", "text/plain", 1048576));
	cJSON_Delete(tc_api(f.ada, "{\"op\":\"upload\",\"channel\":\"files\",\"name\":\"two\",\"type\":"
				   "\"text/plain\",\"size\":1000000}"));
	tc_expect_error(tc_api(f.ada, "{\"op\":\"upload\",\"channel\":\"files\",\"name\":\"three\",\"type\":"
				      "\"text/plain\",\"size\":100000}"),
			"quota_exceeded", NULL);

	/* piece refusals */
	snprintf(bos, sizeof(bos), "%s", upload(f.bo, "bo.bin", "application/octet-stream", CHUNK + 1));
	r = piece(f.ada, bos, 0, data, 10); /* someone else's upload */
	tc_expect_error(r, "no_such_media", "no such media");
	tc_expect_error(piece(f.ada, "m-0123456789abcdef0123456789abcdef", 0, data, 10), "no_such_media",
			"no such media");
	tc_expect_error(piece(f.bo, bos, CHUNK, data, 2), "bad_request", NULL); /* past size */
	tc_expect_error(piece(f.bo, bos, 0, data, CHUNK + 1), "too_large", NULL);
	cJSON_Delete(piece(f.bo, bos, 0, data, 100));
	tc_expect_error(piece(f.bo, bos, 50, other, 100), "conflict", NULL); /* overlaps with other bytes */
	r = tc_api(f.bo, "{\"op\":\"upload_status\",\"media\":\"%s\"}", bos);
	TH_EQ_INT(th_json_int(r, "received"), 100);
	cJSON_Delete(r);
	/* upload_status of another's upload: as if none */
	tc_expect_error(tc_api(f.ada, "{\"op\":\"upload_status\",\"media\":\"%s\"}", bos), "no_such_media",
			"no such media");

	/* a sha256 given at upload that the bytes do not have: the upload is discarded */
	sha256_hex(other, 10, sha);
	r = tc_api(f.bo,
		   "{\"op\":\"upload\",\"channel\":\"files\",\"name\":\"s\",\"type\":\"text/"
		   "plain\",\"size\":10,\"sha256\":\"%s\"}",
		   sha);
	snprintf(ids, sizeof(ids), "%s", th_json_str(r, "media"));
	cJSON_Delete(r);
	tc_expect_error(piece(f.bo, ids, 0, data, 10), "conflict", NULL);
	tc_expect_error(tc_api(f.bo, "{\"op\":\"upload_status\",\"media\":\"%s\"}", ids), "no_such_media",
			NULL);

	/* sends: an incomplete upload, someone else's, an unknown id, a malformed one */
	snprintf(pattern, sizeof(pattern), "\"%s\"", bos);
	tc_expect_error(send_media(f.bo, "s1", "x", pattern), "no_such_media", NULL);
	tc_expect_error(send_media(f.ada, "s2", "x", pattern), "no_such_media", NULL);
	tc_expect_error(send_media(f.ada, "s3", "x", "\"m-0123456789abcdef0123456789abcdef\""),
			"no_such_media", NULL);
	tc_expect_error(send_media(f.ada, "s4", "x", "\"../etc/passwd\""), "bad_request", NULL);
	tc_expect_error(tc_request(f.ada, "chat/files", "{\"client_msg_id\":\"s5\",\"body\":\"\"}"),
			"bad_request", NULL);
	/* nothing of the refused ones was stored: bo's one open upload and ada's are the only partials
	 * at most (ada's "one" and "two" have no bytes yet) */
	TH_CHECK(count_files(partial) <= 1);
	(void)mine;
	free(data);
	free(other);
	teardown(&f);
}


static void test_access(void)
{
	struct fixture f;
	size_t size = 1000;
	unsigned char *data = make_bytes(size, 5);
	char id[64], ids[80], sha[65];
	long long seq;
	cJSON *r;

	setup(&f, "plugin_opt_media_orphan_seconds 3600\n");
	snprintf(id, sizeof(id), "%s", upload_all(f.ada, "secret.txt", data, size));
	sha256_hex(data, size, sha);
	/* before any message references it, only its uploader may read it */
	expect_download_refused(f.bo, id);
	download_equals(f.ada, id, data, size);
	snprintf(ids, sizeof(ids), "\"%s\"", id);
	r = send_media(f.ada, "ref", "here", ids);
	seq = th_json_int(r, "seq");
	cJSON_Delete(r);
	download_equals(f.bo, id, data, size);
	download_equals(f.dee, id, data, size);
	/* not a member: the same answer as for an id that does not exist */
	expect_download_refused(f.cy, id);
	expect_download_refused(f.cy, "m-0123456789abcdef0123456789abcdef");
	/* a removed member */
	tc_api_ok(f.ada, "{\"op\":\"remove\",\"channel\":\"files\",\"user\":\"bo\"}");
	expect_download_refused(f.bo, id);
	download_equals(f.dee, id, data, size);
	/* the message is deleted: members lose it; it is collected at the next pass */
	r = tc_request(f.ada, "chat/files", "{\"type\":\"delete\",\"target\":%lld,\"client_msg_id\":\"del\"}",
		       seq);
	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")), "delete refused: %s", th_json_print(r));
	cJSON_Delete(r);
	expect_download_refused(f.dee, id);
	th_wait_until(!blob_exists(&f, sha), 5000);
	expect_download_refused(f.ada, id);
	free(data);
	teardown(&f);
}


/* An image and the thumbnail its client made: the event's entry carries the thumbnail's id, type, size
 * and sha256 (not its name), members may download both, and a thumbnail that is not the sender's
 * complete upload, or a malformed entry, is refused with nothing stored. */
static void test_thumbnail(void)
{
	struct fixture f;
	size_t big = 5000, small = 700;
	unsigned char *image = make_bytes(big, 7), *thumb = make_bytes(small, 8);
	char id[64], tid[64], entry[200], sha[65];
	cJSON *r, *ev, *e, *t;

	setup(&f, "");
	snprintf(id, sizeof(id), "%s", upload_all(f.ada, "photo.png", image, big));
	snprintf(tid, sizeof(tid), "%s", upload_all(f.ada, "photo.png.thumb.jpg", thumb, small));
	TH_EQ_INT(th_subscribe(f.bo, "chat/files", 1), 1);
	/* refused: a thumbnail of bo's, an unknown one, an entry with more fields, a bad id */
	snprintf(entry, sizeof(entry), "{\"id\":\"%s\",\"thumbnail\":\"m-0123456789abcdef0123456789abcdef\"}",
		 id);
	r = send_media(f.ada, "t-bad1", "", entry);
	tc_expect_error(r, "no_such_media", NULL);
	snprintf(entry, sizeof(entry), "{\"id\":\"%s\",\"thumbnail\":\"%s\",\"x\":1}", id, tid);
	tc_expect_error(send_media(f.ada, "t-bad2", "", entry), "bad_request", NULL);
	snprintf(entry, sizeof(entry), "{\"id\":\"%s\",\"thumbnail\":\"nope\"}", id);
	tc_expect_error(send_media(f.ada, "t-bad3", "", entry), "bad_request", NULL);
	/* accepted */
	snprintf(entry, sizeof(entry), "{\"id\":\"%s\",\"thumbnail\":\"%s\"}", id, tid);
	r = send_media(f.ada, "t-ok", "", entry);
	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")), "send refused: %s", th_json_print(r));
	cJSON_Delete(r);
	ev = th_expect_json(f.bo, "chat/files");
	TH_EQ_STR(th_json_str(ev, "client_msg_id"), "t-ok"); /* the refused ones stored nothing */
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "media"), 0);
	t = cJSON_GetObjectItem(e, "thumbnail");
	sha256_hex(thumb, small, sha);
	TH_EQ_STR(th_json_str(e, "id"), id);
	TH_EQ_STR(th_json_str(e, "name"), "photo.png");
	TH_EQ_STR(th_json_str(t, "id"), tid);
	TH_EQ_INT(th_json_int(t, "size"), (long long)small);
	TH_EQ_STR(th_json_str(t, "sha256"), sha);
	TH_CHECK(cJSON_GetObjectItem(t, "name") == NULL);
	cJSON_Delete(ev);
	download_equals(f.bo, tid, thumb, small);
	download_equals(f.bo, id, image, big);
	expect_download_refused(f.cy, tid);
	free(image);
	free(thumb);
	teardown(&f);
}


/* A clean stop keeps every byte's progress; a crash keeps at least what was recorded (media.c records
 * progress at most once a second), and the resume sends the rest again, to the right sha256. */
static void test_kill9_then_resume(void)
{
	struct fixture f;
	size_t size = 40 * CHUNK + 99;
	unsigned char *data = make_bytes(size, 6);
	char id[64], sha[65], pattern[512];
	long long received;
	cJSON *r;

	setup(&f, "");
	snprintf(id, sizeof(id), "%s",
		 upload(f.ada, "big.iso", "application/x-iso9660-image", (long long)size));
	cJSON_Delete(pieces(f.ada, id, data, 0, 10 * CHUNK));
	th_disconnect(f.ada);
	th_disconnect(f.bo);
	th_disconnect(f.cy);
	th_disconnect(f.dee);
	f.bo = f.cy = f.dee = NULL;
	th_broker_restart(&f.b); /* a clean stop */
	f.ada = th_connect(&f.b, "ada", "ada-2", 5, true);
	r = tc_api(f.ada, "{\"op\":\"upload_status\",\"media\":\"%s\"}", id);
	TH_EQ_INT(th_json_int(r, "received"), 10 * CHUNK);
	cJSON_Delete(r);
	cJSON_Delete(pieces(f.ada, id, data, 10 * CHUNK, 20 * CHUNK));
	/* the next pieces go without waiting, and the broker dies under them */
	for(size_t off = 20 * CHUNK; off < 30 * CHUNK; off += CHUNK) {
		char topic[128];
		snprintf(topic, sizeof(topic), "chat/_media/%s/%zu", id, off);
		th_publish_async(f.ada, topic, data + off, CHUNK, 1, NULL);
	}
	th_broker_kill9(&f.b);
	th_disconnect(f.ada);
	th_broker_restart(&f.b);
	f.ada = th_connect(&f.b, "ada", "ada-3", 5, true);
	r = tc_api(f.ada, "{\"op\":\"upload_status\",\"media\":\"%s\"}", id);
	received = th_json_int(r, "received");
	TH_CHECKF(received >= 10 * CHUNK && received <= 30 * CHUNK && received % CHUNK == 0, "received %lld",
		  received);
	cJSON_Delete(r);
	r = pieces(f.ada, id, data, (size_t)received, size);
	sha256_hex(data, size, sha);
	snprintf(pattern, sizeof(pattern),
		 "{\"ok\":true,\"kind\":\"upload\",\"media\":\"%s\",\"received\":%zu,\"complete\":true,"
		 "\"sha256\":\"%s\"}",
		 id, size, sha);
	TH_JSON(r, pattern);
	cJSON_Delete(r);
	download_equals(f.ada, id, data, size);
	free(data);
	teardown(&f);
}


static void test_dedup_and_orphans(void)
{
	struct fixture f;
	size_t size = CHUNK + 5;
	unsigned char *data = make_bytes(size, 7), *lone = make_bytes(300, 8);
	char a[64], b[64], l[64], ids[80], sha[65], lone_sha[65], dir[600];
	cJSON *r;

	setup(&f, "plugin_opt_media_orphan_seconds 2\n");
	snprintf(dir, sizeof(dir), "%s.media", f.b.db_path);
	snprintf(a, sizeof(a), "%s", upload_all(f.ada, "a.bin", data, size));
	snprintf(b, sizeof(b), "%s", upload_all(f.bo, "copy of a.bin", data, size));
	TH_CHECK(strcmp(a, b) != 0);
	sha256_hex(data, size, sha);
	sha256_hex(lone, 300, lone_sha);
	TH_CHECK(blob_exists(&f, sha));
	TH_EQ_INT(count_files(dir), 1); /* identical bytes, one file */
	snprintf(ids, sizeof(ids), "\"%s\"", a);
	r = send_media(f.ada, "keep", "kept", ids);
	cJSON_Delete(r);
	snprintf(l, sizeof(l), "%s", upload_all(f.ada, "lone.bin", lone, 300));
	TH_EQ_INT(count_files(dir), 2);
	/* lone and b are referenced by nothing: gone after the orphan age; a stays, and so does the blob */
	th_wait_until(!blob_exists(&f, lone_sha), 10000);
	tc_expect_error(tc_api(f.bo, "{\"op\":\"upload_status\",\"media\":\"%s\"}", b), "no_such_media",
			NULL);
	tc_expect_error(tc_api(f.ada, "{\"op\":\"upload_status\",\"media\":\"%s\"}", l), "no_such_media",
			NULL);
	TH_CHECK(blob_exists(&f, sha));
	download_equals(f.dee, a, data, size);
	free(data);
	free(lone);
	teardown(&f);
}


static void test_tiny_piece_flood(void)
{
	struct fixture f;
	unsigned char *data = make_bytes(1000, 9);
	char id[64];
	int limited = 0, ok = 0;

	setup(&f, "plugin_opt_request_rate 1\nplugin_opt_request_burst 20\n");
	snprintf(id, sizeof(id), "%s", upload(f.ada, "tiny.bin", "application/octet-stream", 1000));
	for(int i = 0; i < 40; i++) {
		cJSON *r = piece(f.ada, id, i, data + i, 1);
		const char *code = th_json_str(r, "code");
		limited += code != NULL && strcmp(code, "rate_limited") == 0;
		ok += cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"));
		cJSON_Delete(r);
		if(limited > 0) {
			break;
		}
	}
	TH_CHECKF(limited == 1 && ok > 0 && ok < 20, "ok %d, limited %d", ok, limited);
	free(data);
	teardown(&f);
}


/* Through an edge: pieces and downloads travel in envelopes to the core and back. Two media in one
 * message. */
static void test_through_an_edge(void)
{
	struct th_broker core, edge;
	struct th_client *ada, *bo;
	size_t size = 2 * CHUNK + 3;
	unsigned char *data = make_bytes(size, 10), *small = make_bytes(10, 11);
	char a[64], s[64], ids[160], sha[65], small_sha[65], pattern[1024];
	struct fixture shim;
	cJSON *r;

	th_core_start(&core, "");
	tc_sign_in(&core, "ada", "bo", NULL);
	th_edge_start(&edge, &core, 1);
	ada = th_connect(&edge, "ada", "ada-e", 5, true);
	bo = th_connect(&edge, "bo", "bo-e", 4, true);
	tc_api_ok(ada, "{\"op\":\"create\",\"channel\":\"files\",\"members\":[\"bo\"]}");
	snprintf(a, sizeof(a), "%s", upload_all(ada, "big.bin", data, size));
	snprintf(s, sizeof(s), "%s", upload_all(ada, "small.bin", small, 10));
	sha256_hex(data, size, sha);
	sha256_hex(small, 10, small_sha);
	memcpy(&shim.b, &core, sizeof(core));
	TH_CHECK(blob_exists(&shim, sha)); /* on the core */
	th_wait_until(th_subscribe(bo, "chat/files", 1) == 1, 5000);
	snprintf(ids, sizeof(ids), "\"%s\",\"%s\"", a, s);
	r = send_media(ada, "two", "two files", ids);
	TH_CHECKF(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")), "send refused: %s", th_json_print(r));
	cJSON_Delete(r);
	snprintf(pattern, sizeof(pattern),
		 "{\"id\":\"*\",\"channel\":\"files\",\"seq\":\"*\",\"type\":\"message\",\"from\":\"ada\","
		 "\"device\":\"ada-e\",\"ts\":\"*\",\"client_msg_id\":\"two\",\"body\":\"two files\","
		 "\"media\":[{\"id\":\"%s\",\"name\":\"big.bin\",\"type\":\"application/octet-stream\","
		 "\"size\":%zu,\"sha256\":\"%s\"},{\"id\":\"%s\",\"name\":\"small.bin\","
		 "\"type\":\"application/octet-stream\",\"size\":10,\"sha256\":\"%s\"}]}",
		 a, size, sha, s, small_sha);
	tc_expect_next(bo, "chat/files", 1, "%s", pattern);
	download_equals(bo, a, data, size);
	download_equals(bo, s, small, 10);
	th_disconnect(ada);
	th_disconnect(bo);
	th_broker_stop(&edge);
	th_broker_stop(&core);
	free(data);
	free(small);
}


/* Over MQTT-over-WebSocket, with MQTT.js as the browser uses it (tests/integration/media_ws.mjs): an
 * upload in pieces, several in flight, and the download, byte for byte. */
static void test_over_websocket(void)
{
	struct fixture f;
	char *out;
	int status = -1, ws_port;
	FILE *p = popen("python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); "
			"print(s.getsockname()[1])'",
			"r");

	TH_CHECK(p != NULL && fscanf(p, "%d", &ws_port) == 1);
	pclose(p);
	setup(&f, "");
	th_broker_stop(&f.b);
	snprintf(f.b.extra, sizeof(f.b.extra), "listener %d 127.0.0.1\nprotocol websockets\n", ws_port);
	th_broker_restart(&f.b);
	out = th_run(&status, "node %s/tests/integration/media_ws.mjs %s/tests/web %d ada files 300000 2>&1",
		     TH_SOURCE_DIR, TH_SOURCE_DIR, ws_port);
	TH_CHECKF(status == 0 && strncmp(out, "ok ", 3) == 0, "node said (%d): %s", status, out);
	free(out);
	th_disconnect(f.ada);
	th_disconnect(f.bo);
	th_disconnect(f.cy);
	th_disconnect(f.dee);
	th_broker_stop(&f.b);
}


TH_TEST_LIST(TH_TEST(test_round_trip), TH_TEST(test_thumbnail), TH_TEST(test_out_of_order_and_resume),
	     TH_TEST(test_empty_file_and_unknown_type), TH_TEST(test_bad_input), TH_TEST(test_access),
	     TH_TEST(test_kill9_then_resume), TH_TEST(test_dedup_and_orphans), TH_TEST(test_tiny_piece_flood),
	     TH_TEST(test_through_an_edge), TH_TEST(test_over_websocket))
