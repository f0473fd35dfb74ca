/*
 * test_worked_example.c - the seeds' worked example, end to end.
 *
 * Ada posts in #general with Bo online and Cy offline; the post becomes seq 42; Bo sees it live; Cy
 * reconnects with last-seen 41 and catch-up delivers seq 42 exactly once, byte for byte what Bo got.
 */
#include "th_chat.h"


static void test_worked_example(void)
{
	struct th_broker b;

	th_broker_start(&b, "");
	tc_worked_example(&b, &b, &b);
	th_broker_stop(&b);
}


TH_TEST_LIST(TH_TEST(test_worked_example))
