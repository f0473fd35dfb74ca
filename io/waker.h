/*
 * waker.h - keeps the broker's loop turning while a large packet drains to a WebSocket client.
 *
 * Mosquitto 2.0.11 services its WebSocket clients once per main-loop iteration (src/loop.c:
 * "websockets clients are second class citizens"), and an idle loop sleeps up to 100 ms in
 * epoll_wait, so a large packet reaches a browser in about 4 KB steps 100 ms apart: 126 KB took
 * 2.9 s, 1 MiB 25 s (docs/benchmarks.md). A plugin cannot register a file descriptor or shorten that
 * timeout in 2.0. What it can do is interrupt epoll_wait: a thread of ours sends the broker's main
 * thread a real-time signal whose handler does nothing, every WAKER_PERIOD_US while woken, and the loop
 * comes round at once and services libwebsockets again. The handler is installed with SA_RESTART, so
 * every other system call of the main thread (socket reads and writes) restarts transparently;
 * epoll_wait is never restarted (signal(7)), which is the point.
 *
 * It is woken for a span long enough to drain the bytes just published (with room to spare), by any
 * publish of more than WAKER_MIN_BYTES: mqchat's own (catch-up pages, events) and any
 * other large publish the broker carries (the message callback sees them all). Idle, it sleeps on a
 * condition variable and costs nothing.
 *
 * The one process-wide instance: a signal handler and the broker's main thread are process-wide too.
 */
#ifndef CHAT_WAKER_H
#define CHAT_WAKER_H

#include <stddef.h>

/* Payloads below this drain in one turn of the loop anyway. */
#define WAKER_MIN_BYTES 4096

/* Starts the waker, from the broker's main thread (plugin init). Returns 0, or -1 with a message in
 * err (the plugin then runs without it: correct, only slower to WebSocket clients). */
int chat_waker__start(char *err, size_t err_len);

/* A payload of len bytes was just queued for delivery: keeps the loop turning long enough for it to
 * drain to a WebSocket client. Cheap; a no-op for small payloads or when the waker is not running. */
void chat_waker__publishing(size_t len);

/* Stops and joins the thread; the signal is ignored from then on. A no-op when not running. */
void chat_waker__stop(void);

#endif
