/*
 * waker.c - the thread that interrupts the broker's epoll_wait while WebSocket output drains (see
 * waker.h for why).
 *
 * State is shared between the broker's thread (chat_waker__publishing) and the waker thread, under one
 * mutex: `until` is the monotonic time (µs) up to which the loop must keep turning. The waker thread
 * waits on the condition variable while `until` is past, and otherwise signals the main thread every
 * WAKER_PERIOD_US until it is.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "waker.h"

/* One turn of the loop every 0.2 ms while woken. Measured (bench/ws.sh): each turn moves about 3 KB to
 * a WebSocket client, so it drains about 11 MB/s: 1 MiB in about 90 ms instead of 25 s. */
#define WAKER_PERIOD_US 200
/* Bytes counted per turn when sizing a span: a third of what a turn moves, so the span outlasts the
 * drain even when turns come slower than the period (the spare turns cost little). */
#define BYTES_PER_TURN 1024
/* Turns added to every span: the packet may be queued behind others. */
#define MARGIN_TURNS 40
/* The longest span one publish may ask for (a 16 MB payload drains within it). */
#define MAX_SPAN_US 10000000

static struct {
	bool running;
	bool stopping;
	pthread_t thread;
	pthread_t main_thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int64_t until_us;
	int signo;
} waker = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};


static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* The signal's only job is to end epoll_wait early. */
static void on_signal(int signo)
{
	(void)signo;
}


static void *run(void *arg)
{
	struct timespec period = {.tv_sec = 0, .tv_nsec = WAKER_PERIOD_US * 1000L};

	(void)arg;
	pthread_mutex_lock(&waker.lock);
	while(!waker.stopping) {
		if(now_us() >= waker.until_us) {
			pthread_cond_wait(&waker.cond, &waker.lock);
			continue;
		}
		pthread_mutex_unlock(&waker.lock);
		pthread_kill(waker.main_thread, waker.signo);
		nanosleep(&period, NULL);
		pthread_mutex_lock(&waker.lock);
	}
	pthread_mutex_unlock(&waker.lock);
	return NULL;
}


int chat_waker__start(char *err, size_t err_len)
{
	struct sigaction action;
	int rc;

	if(waker.running) {
		return 0;
	}
	/* A real-time signal nobody else uses: Mosquitto handles only the classic ones. */
	waker.signo = SIGRTMIN + 7;
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_signal;
	action.sa_flags = SA_RESTART;
	sigemptyset(&action.sa_mask);
	if(sigaction(waker.signo, &action, NULL) != 0) {
		snprintf(err, err_len, "cannot install the waker's signal handler: %s", strerror(errno));
		return -1;
	}
	waker.main_thread = pthread_self();
	waker.stopping = false;
	waker.until_us = 0;
	rc = pthread_create(&waker.thread, NULL, run, NULL);
	if(rc != 0) {
		signal(waker.signo, SIG_IGN);
		snprintf(err, err_len, "cannot start the waker thread: %s", strerror(rc));
		return -1;
	}
	waker.running = true;
	return 0;
}


void chat_waker__publishing(size_t len)
{
	int64_t span, until, now;

	if(!waker.running || len < WAKER_MIN_BYTES) {
		return;
	}
	span = (int64_t)(len / BYTES_PER_TURN + MARGIN_TURNS) * WAKER_PERIOD_US;
	if(span > MAX_SPAN_US) {
		span = MAX_SPAN_US;
	}
	/* Spans add up: packets queued one after another drain one after another (a client with 16
	 * downloads of 64 KiB in flight has 1 MiB to drain, not 64 KiB). Taking only the longest span
	 * let the loop fall back asleep with most of such a backlog queued: 0.2 MB/s. */
	now = now_us();
	pthread_mutex_lock(&waker.lock);
	until = (waker.until_us > now ? waker.until_us : now) + span;
	if(until > now + MAX_SPAN_US) {
		until = now + MAX_SPAN_US;
	}
	if(until > waker.until_us) {
		waker.until_us = until;
		pthread_cond_signal(&waker.cond);
	}
	pthread_mutex_unlock(&waker.lock);
}


void chat_waker__stop(void)
{
	if(!waker.running) {
		return;
	}
	pthread_mutex_lock(&waker.lock);
	waker.stopping = true;
	pthread_cond_signal(&waker.cond);
	pthread_mutex_unlock(&waker.lock);
	pthread_join(waker.thread, NULL);
	/* Ignored from now on rather than the default (which would end the process): the plugin's code,
	 * our handler with it, may be unloaded next. */
	signal(waker.signo, SIG_IGN);
	waker.running = false;
}
