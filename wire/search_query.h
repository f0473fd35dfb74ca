/*
 * search_query.h - turns what a user typed into a search box into a safe SQLite FTS5 MATCH expression.
 *
 * FTS5 has a query language of its own (AND OR NOT NEAR, column filters "col:", "^", "*", "+",
 * parentheses, quoted strings). None of it may reach FTS5 from a user: a stray quote or parenthesis
 * would be a syntax error, and a column filter or NEAR would change what is searched. So the user's
 * text is never passed through. It is cut into terms, and each term is emitted as an FTS5 string
 * ("..."), inside which FTS5 only tokenizes: no operator means anything there. The user's grammar is
 * the protocol's (docs/protocol.md, "Search"):
 *
 *   - words separated by blanks: every word must match (the terms are ANDed);
 *   - "a quoted phrase": its words in that order (an unterminated quote runs to the end);
 *   - a trailing * on a word or a closing quote: the last word is a prefix (at least
 *     CHAT_SEARCH_PREFIX_MIN characters before the *);
 *   - any other punctuation separates words inside a term, as the tokenizer does (so "e-mail" is the
 *     phrase "e mail" and "-foo", "title:x", "^x", "(x)" search the words they contain).
 *
 * A term with no letter or digit left (ASCII punctuation only, "***", "--") is dropped; a query with
 * no term left, longer than CHAT_SEARCH_QUERY_MAX_BYTES or with more than CHAT_SEARCH_TERMS_MAX
 * terms, or that is not UTF-8, is refused with bad_request. Pure: no SQLite, no allocation besides
 * the result.
 */
#ifndef CHAT_SEARCH_QUERY_H
#define CHAT_SEARCH_QUERY_H

#include <stddef.h>

#include "errors.h"

#define CHAT_SEARCH_QUERY_MAX_BYTES 1024
#define CHAT_SEARCH_TERMS_MAX       16
#define CHAT_SEARCH_PREFIX_MIN      3

/* Translates query[0..len) into an FTS5 MATCH expression: on success *out is a NUL-terminated string
 * the caller frees. On failure *out is NULL and the error (bad_request, or unavailable when out of
 * memory) is in err. */
enum chat_err chat_search_query__translate(const char *query, size_t len, char **out, struct chat_error *err);

#endif
