/*
 * th_http.h - a tiny HTTP server on a loopback port, speaking enough of the Matrix Push Gateway API
 * (POST /_matrix/push/v1/notify) to stand in for a push gateway in tests.
 *
 * It runs on a thread of the test's own process, records every request it reads (method, path,
 * body) and answers each as it is told at that moment: a status and body, after a delay, or never
 * (hang). It can also stop listening, so that connections are refused, and listen again on the same
 * port. Everything is thread-safe; th_http_stop (or the end of the test's process) ends it.
 */
#ifndef TH_HTTP_H
#define TH_HTTP_H

#include <stdbool.h>

#include <cjson/cJSON.h>

struct th_http;

/* Listens on 127.0.0.1 on a free port and answers 200 {} to everything. Fails the test if it cannot. */
struct th_http *th_http_start(void);

/* The port it listens on (kept across th_http_refuse). */
int th_http_port(const struct th_http *h);

/* How the next requests are answered: status with body (NULL: "{}"), after delay_ms. */
void th_http_answer(struct th_http *h, int status, const char *body, int delay_ms);

/* Reads requests and answers none of them (the connection stays open until the client gives up). */
void th_http_hang(struct th_http *h);

/* true: closes the listening socket (and open connections), so connecting is refused; false:
 * listens again on the same port. */
void th_http_refuse(struct th_http *h, bool refuse);

/* Requests read so far (answered or not). */
int th_http_count(struct th_http *h);

/* Requests answered with a 2xx so far. */
int th_http_answered_ok(struct th_http *h);

/* The body of request i (0-based) parsed as JSON (NULL if it is not JSON); the caller deletes it.
 * Fails the test if there is no request i. */
cJSON *th_http_body(struct th_http *h, int i);

/* The path of request i, copied into buf. */
void th_http_path(struct th_http *h, int i, char *buf, size_t len);

/* Stops the thread and frees everything. NULL is ignored. */
void th_http_stop(struct th_http *h);

#endif
