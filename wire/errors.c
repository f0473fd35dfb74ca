/*
 * errors.c - names and default messages generated from CHAT_ERROR_MAP.
 */
#include <stdarg.h>
#include <stdio.h>

#include "errors.h"

static const char *const codes[] = {
#define CHAT_ERR_CODE(name, code, message) code,
	CHAT_ERROR_MAP(CHAT_ERR_CODE)
#undef CHAT_ERR_CODE
};

static const char *const messages[] = {
#define CHAT_ERR_MESSAGE(name, code, message) message,
	CHAT_ERROR_MAP(CHAT_ERR_MESSAGE)
#undef CHAT_ERR_MESSAGE
};


const char *chat_err_code(enum chat_err err)
{
	if((unsigned)err >= CHAT_ERR__COUNT) {
		return "internal";
	}
	return codes[err];
}


const char *chat_err_message(enum chat_err err)
{
	if((unsigned)err >= CHAT_ERR__COUNT) {
		return "internal error";
	}
	return messages[err];
}


enum chat_err chat_error__set(struct chat_error *err, enum chat_err code, const char *fmt, ...)
{
	va_list ap;

	if(err == NULL) {
		return code;
	}
	err->code = code;
	err->retry_after_ms = 0;
	if(fmt == NULL) {
		snprintf(err->message, sizeof(err->message), "%s", chat_err_message(code));
		return code;
	}
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}
