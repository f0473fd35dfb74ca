/*
 * utf8.c - strict UTF-8 validation, following the table of well-formed byte sequences in the
 * Unicode Standard (chapter 3, table 3-7).
 */
#include <stdint.h>

#include "utf8.h"


bool chat_utf8__valid(const void *s, size_t len)
{
	const uint8_t *p = s;
	size_t i = 0;

	while(i < len) {
		uint8_t c = p[i];
		size_t n;
		uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

		if(c < 0x80) {
			i++;
			continue;
		} else if(c >= 0xC2 && c <= 0xDF) {
			n = 1;
		} else if(c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if(c == 0xE0) {
				lo = 0xA0; /* overlong */
			} else if(c == 0xED) {
				hi = 0x9F; /* surrogates */
			}
		} else if(c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if(c == 0xF0) {
				lo = 0x90; /* overlong */
			} else if(c == 0xF4) {
				hi = 0x8F; /* above U+10FFFF */
			}
		} else {
			return false; /* continuation byte, overlong 0xC0/0xC1, or 0xF5 and above */
		}
		if(len - i <= n) {
			return false;
		}
		if(p[i + 1] < lo || p[i + 1] > hi) {
			return false;
		}
		for(size_t k = 2; k <= n; k++) {
			if((p[i + k] & 0xC0) != 0x80) {
				return false;
			}
		}
		i += n + 1;
	}
	return true;
}


size_t chat_utf8__length(const void *s, size_t len)
{
	const uint8_t *p = s;
	size_t count = 0;

	for(size_t i = 0; i < len; i++) {
		if((p[i] & 0xC0) != 0x80) {
			count++;
		}
	}
	return count;
}
