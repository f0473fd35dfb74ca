/*
 * clock.c - wall and monotonic milliseconds.
 */
#include <time.h>

#include "clock.h"


static int64_t read_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int64_t chat_clock__wall_ms(void)
{
	return read_ms(CLOCK_REALTIME);
}


int64_t chat_clock__mono_ms(void)
{
	return read_ms(CLOCK_MONOTONIC);
}


int chat_clock__cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int rc = pthread_condattr_init(&attr);

	if(rc == 0) {
		rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		rc = rc == 0 ? pthread_cond_init(cond, &attr) : rc;
		pthread_condattr_destroy(&attr);
	}
	return rc;
}


struct timespec chat_clock__mono_deadline(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if(ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}
