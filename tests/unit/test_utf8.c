/*
 * test_utf8.c - strict UTF-8 validation: the well-formed table, overlongs, surrogates, truncation.
 */
#include <string.h>

#include "th.h"
#include "utf8.h"

#define VALID(s)   TH_CHECKF(chat_utf8__valid(s, sizeof(s) - 1), "expected valid: %s", #s)
#define INVALID(s) TH_CHECKF(!chat_utf8__valid(s, sizeof(s) - 1), "expected invalid: %s", #s)


static void test_well_formed(void)
{
	VALID("");
	VALID("hello");
	VALID("caf\xc3\xa9");
	VALID("\xe2\x82\xac");     /* U+20AC */
	VALID("\xf0\x9f\x91\x8d"); /* U+1F44D */
	VALID("\xf4\x8f\xbf\xbf"); /* U+10FFFF */
	VALID("\xed\x9f\xbf");     /* U+D7FF, just below the surrogates */
	VALID("\xee\x80\x80");     /* U+E000, just above */
	VALID("a\0b");             /* NUL is well-formed; callers refuse it separately */
}


static void test_ill_formed(void)
{
	INVALID("\xff");
	INVALID("\x80");     /* lone continuation */
	INVALID("\xc0\xaf"); /* overlong '/' */
	INVALID("\xc1\xbf");
	INVALID("\xe0\x80\xaf");     /* overlong */
	INVALID("\xf0\x80\x80\xaf"); /* overlong */
	INVALID("\xed\xa0\x80");     /* U+D800 */
	INVALID("\xed\xbf\xbf");     /* U+DFFF */
	INVALID("\xf4\x90\x80\x80"); /* U+110000 */
	INVALID("\xf5\x80\x80\x80");
	INVALID("\xc3"); /* truncated */
	INVALID("\xe2\x82");
	INVALID("\xf0\x9f\x91");
	INVALID("\xe2\x28\xa1"); /* bad continuation */
	INVALID("ok\xc3\x28");
}


static void test_length(void)
{
	TH_EQ_INT(chat_utf8__length("caf\xc3\xa9", 5), 4);
	TH_EQ_INT(chat_utf8__length("\xf0\x9f\x91\x8d!", 5), 2);
	TH_EQ_INT(chat_utf8__length("", 0), 0);
}


int main(int argc, char **argv)
{
	static const struct th_test tests[] = {
		{"well_formed", test_well_formed},
		{"ill_formed", test_ill_formed},
		{"length", test_length},
	};

	return th_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
