/*
 * clock.h - the plugin's own clocks (2.0.x passes no time to its tick callback).
 */
#ifndef CHAT_CLOCK_H
#define CHAT_CLOCK_H

#include <stdint.h>

/* Wall clock, milliseconds since the Unix epoch: the `ts` of events. */
int64_t chat_clock__wall_ms(void);

/* Monotonic clock in milliseconds, for intervals (rate limits, periodic jobs). */
int64_t chat_clock__mono_ms(void);

#endif
