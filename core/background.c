/*
 * background.c - a worker thread's place beside the broker's (see background.h).
 */
#define _GNU_SOURCE /* SCHED_IDLE */
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "background.h"

#define BACKGROUND_NICE 19


void chat_background__enter(const char *name)
{
#ifdef __linux__
	/* With PRIO_PROCESS and who 0 both calls apply to the calling thread alone on Linux. */
	(void)prctl(PR_SET_NAME, name);
	(void)setpriority(PRIO_PROCESS, 0, BACKGROUND_NICE); /* what remains if SCHED_IDLE is refused */
	(void)sched_setscheduler(0, SCHED_IDLE, &(struct sched_param){0});
#else
	(void)name;
#endif
}
