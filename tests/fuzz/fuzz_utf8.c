/*
 * fuzz_utf8.c - libFuzzer target: the UTF-8 validator and length, checked against a reference decoder
 * written the slow, obvious way (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns the number of code points, or -1 if s is not valid UTF-8. */
static long reference(const uint8_t *s, size_t len)
{
	long n = 0;
	size_t i = 0;

	while(i < len) {
		uint32_t cp;
		int extra;
		if(s[i] < 0x80) {
			cp = s[i];
			extra = 0;
		} else if((s[i] & 0xE0) == 0xC0) {
			cp = s[i] & 0x1F;
			extra = 1;
		} else if((s[i] & 0xF0) == 0xE0) {
			cp = s[i] & 0x0F;
			extra = 2;
		} else if((s[i] & 0xF8) == 0xF0) {
			cp = s[i] & 0x07;
			extra = 3;
		} else {
			return -1;
		}
		if(i + (size_t)extra >= len && extra > 0) {
			return -1; /* truncated sequence */
		}
		for(int k = 1; k <= extra; k++) {
			if((s[i + (size_t)k] & 0xC0) != 0x80) {
				return -1;
			}
			cp = (cp << 6) | (s[i + (size_t)k] & 0x3F);
		}
		if((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)
		   || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
			return -1;
		}
		i += (size_t)extra + 1;
		n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long want = reference(data, size);
	bool valid = chat_utf8__valid(data, size);

	assert(valid == (want >= 0));
	if(valid) {
		assert(chat_utf8__length(data, size) == (size_t)want);
	}
	return 0;
}
