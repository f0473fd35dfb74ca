/*
 * search_query.c - the user's search text -> an FTS5 MATCH expression (see search_query.h).
 *
 * Output shape: terms separated by one space, each "w1 w2 ..." or "w1 w2 ..."*, where the w are runs
 * of ASCII letters and digits and of non-ASCII bytes (FTS5's unicode61 tokenizer splits the latter
 * further where Unicode says so). Every other ASCII byte becomes a space, so no quote, star, colon,
 * caret, parenthesis or NUL of the user's survives inside a string, and nothing outside the strings
 * comes from the user at all. The output is never longer than the input plus 4 bytes per term.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "search_query.h"
#include "utf8.h"

struct writer {
	char *buf;
	size_t len;
	int terms;
	size_t term_start; /* where the current term's opening quote is */
	bool has_word;     /* the current term holds a letter, digit or non-ASCII byte */
	size_t tail_chars; /* code points in the current term's last word */
};


static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}


static bool is_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0x80;
}


static void term_begin(struct writer *w)
{
	w->term_start = w->len;
	if(w->terms > 0) {
		w->buf[w->len++] = ' ';
	}
	w->buf[w->len++] = '"';
	w->has_word = false;
	w->tail_chars = 0;
}


/* Adds one byte of the user's term: a word byte as it is, anything else as a single separating space
 * (none at the start of the string, none doubled). */
static void term_byte(struct writer *w, unsigned char c)
{
	if(is_word_byte(c)) {
		if(w->buf[w->len - 1] == '"' || w->buf[w->len - 1] == ' ') {
			w->tail_chars = 0; /* a new word begins */
		}
		w->buf[w->len++] = (char)c;
		w->has_word = true;
		if((c & 0xC0) != 0x80) { /* not a UTF-8 continuation byte: a new code point */
			w->tail_chars++;
		}
		return;
	}
	if(w->buf[w->len - 1] != '"' && w->buf[w->len - 1] != ' ') {
		w->buf[w->len++] = ' ';
	}
}


/* Closes the current term, or drops it when it holds no word. */
static enum chat_err term_end(struct writer *w, bool prefix, struct chat_error *err)
{
	if(!w->has_word) {
		w->len = w->term_start;
		return CHAT_ERR_OK;
	}
	if(w->buf[w->len - 1] == ' ') {
		w->len--;
	}
	if(prefix && w->tail_chars < CHAT_SEARCH_PREFIX_MIN) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST,
				       "a prefix needs at least %d letters or digits before the *",
				       CHAT_SEARCH_PREFIX_MIN);
	}
	if(++w->terms > CHAT_SEARCH_TERMS_MAX) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "a query has at most %d words or phrases",
				       CHAT_SEARCH_TERMS_MAX);
	}
	w->buf[w->len++] = '"';
	if(prefix) {
		w->buf[w->len++] = '*';
	}
	return CHAT_ERR_OK;
}


/* A quoted phrase starting after the quote at q[*i - 1]; leaves *i after its closing quote and stars. */
static enum chat_err phrase(struct writer *w, const unsigned char *q, size_t len, size_t *i,
			    struct chat_error *err)
{
	bool prefix = false;

	term_begin(w);
	while(*i < len && q[*i] != '"') {
		term_byte(w, q[(*i)++]);
	}
	if(*i < len) {
		(*i)++; /* the closing quote */
		while(*i < len && q[*i] == '*') {
			prefix = true;
			(*i)++;
		}
	}
	return term_end(w, prefix, err);
}


/* A bare word from q[*i] up to a blank or a quote; trailing stars make it a prefix. */
static enum chat_err word(struct writer *w, const unsigned char *q, size_t len, size_t *i,
			  struct chat_error *err)
{
	size_t end = *i, stem;

	while(end < len && !is_blank(q[end]) && q[end] != '"') {
		end++;
	}
	stem = end;
	while(stem > *i && q[stem - 1] == '*') {
		stem--;
	}
	term_begin(w);
	for(; *i < stem; (*i)++) {
		term_byte(w, q[*i]);
	}
	*i = end;
	return term_end(w, stem < end, err);
}


enum chat_err chat_search_query__translate(const char *query, size_t len, char **out, struct chat_error *err)
{
	const unsigned char *q = (const unsigned char *)query;
	struct writer w = {0};
	size_t i = 0;

	*out = NULL;
	if(len > CHAT_SEARCH_QUERY_MAX_BYTES) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "query must be at most %d bytes",
				       CHAT_SEARCH_QUERY_MAX_BYTES);
	}
	if(!chat_utf8__valid(query, len)) {
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "query must be UTF-8 text");
	}
	/* each term adds at most a space, two quotes and a star to the bytes it copies; a term past the
	 * maximum is refused before it is closed */
	w.buf = malloc(len + 4 * (CHAT_SEARCH_TERMS_MAX + 1) + 1);
	if(w.buf == NULL) {
		return chat_error__set(err, CHAT_ERR_UNAVAILABLE, "out of memory");
	}
	while(i < len) {
		enum chat_err rc;
		if(is_blank(q[i])) {
			i++;
			continue;
		}
		if(q[i] == '"') {
			i++;
			rc = phrase(&w, q, len, &i, err);
		} else {
			rc = word(&w, q, len, &i, err);
		}
		if(rc != CHAT_ERR_OK) {
			free(w.buf);
			return rc;
		}
	}
	if(w.terms == 0) {
		free(w.buf);
		return chat_error__set(err, CHAT_ERR_BAD_REQUEST, "query has no words to search for");
	}
	w.buf[w.len] = '\0';
	*out = w.buf;
	return CHAT_ERR_OK;
}
