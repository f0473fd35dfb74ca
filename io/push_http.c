/*
 * push_http.c - POST to a push gateway with libcurl (see push_http.h).
 *
 * CURLOPT_NOSIGNAL: libcurl must not use signals (SIGALRM for DNS timeouts) in a thread of the
 * broker's process.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push_http.h"

#define BODY_MAX 65536

struct chat_push_http {
	CURL *curl;
	struct curl_slist *headers;
	char *body;
	size_t len;
	char error[CURL_ERROR_SIZE];
	const atomic_bool *abort;
};


/* libcurl calls it often (about once a second while idle, and on every read): non-zero aborts. */
static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const struct chat_push_http *h = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(h->abort) ? 1 : 0;
}


static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct chat_push_http *h = arg;
	size_t n = size * nmemb, keep = n;
	char *grown;

	if(h->len + keep > BODY_MAX) {
		keep = BODY_MAX - h->len; /* the rest is read and dropped: "rejected" lists are short */
	}
	if(keep == 0) {
		return n;
	}
	grown = realloc(h->body, h->len + keep + 1);
	if(grown == NULL) {
		return 0; /* libcurl fails the transfer: treated as no answer, retried */
	}
	memcpy(grown + h->len, data, keep);
	h->body = grown;
	h->len += keep;
	h->body[h->len] = '\0';
	return n;
}


struct chat_push_http *chat_push_http__new(const char *url, long timeout_ms, const atomic_bool *abort)
{
	struct chat_push_http *h = calloc(1, sizeof(*h));

	if(h == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(h);
		return NULL;
	}
	h->abort = abort;
	h->curl = curl_easy_init();
	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if(h->curl == NULL || h->headers == NULL) {
		chat_push_http__free(h);
		return NULL;
	}
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->error);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
	return h;
}


void chat_push_http__free(struct chat_push_http *h)
{
	if(h == NULL) {
		return;
	}
	if(h->curl != NULL) {
		curl_easy_cleanup(h->curl);
	}
	curl_slist_free_all(h->headers);
	free(h->body);
	free(h);
	curl_global_cleanup();
}


long chat_push_http__post(struct chat_push_http *h, const char *json, size_t len, char **body, char *error,
			  size_t error_len)
{
	long status = 0;
	CURLcode rc;

	*body = NULL;
	h->body = NULL;
	h->len = 0;
	h->error[0] = '\0';
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	rc = curl_easy_perform(h->curl);
	if(rc == CURLE_OK) {
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
		*body = h->body;
	} else {
		snprintf(error, error_len, "%s", h->error[0] ? h->error : curl_easy_strerror(rc));
		free(h->body);
	}
	h->body = NULL;
	h->len = 0;
	return status;
}
