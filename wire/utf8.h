/*
 * utf8.h - strict UTF-8 validation (RFC 3629).
 */
#ifndef CHAT_UTF8_H
#define CHAT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..len) is well-formed UTF-8: no overlong forms, no surrogates (U+D800-U+DFFF), nothing
 * above U+10FFFF, no truncated sequence. NUL bytes are well-formed; callers that refuse them check
 * separately. */
bool chat_utf8__valid(const void *s, size_t len);

/* Number of code points in the well-formed UTF-8 string s[0..len). */
size_t chat_utf8__length(const void *s, size_t len);

#endif
