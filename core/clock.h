/*
 * clock.h - the plugin's own clocks (2.0.x passes no time to its tick callback).
 */
#ifndef CHAT_CLOCK_H
#define CHAT_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Wall clock, milliseconds since the Unix epoch: the `ts` of events. */
int64_t chat_clock__wall_ms(void);

/* Monotonic clock in milliseconds, for intervals (rate limits, periodic jobs). */
int64_t chat_clock__mono_ms(void);

/* The plugin's worker threads sleep on condition variables with timeouts. cond_init makes cond's
 * timed waits measure on the monotonic clock (a wall-clock step would otherwise stretch or cut them);
 * 0, or pthread's error. mono_deadline is the moment ms (>= 0) from now, as pthread_cond_timedwait
 * takes it for such a condition. */
int chat_clock__cond_init(pthread_cond_t *cond);
struct timespec chat_clock__mono_deadline(int64_t ms);

#endif
