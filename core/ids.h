/*
 * ids.h - random identifiers: event ids, log epochs, direct-channel ids.
 */
#ifndef CHAT_IDS_H
#define CHAT_IDS_H

#include <stddef.h>

#include "event_json.h"

/* Writes a random (version 4) UUID in lower case to out, NUL-terminated. */
void chat_ids__uuid(char out[CHAT_UUID_LEN + 1]);

/* Writes 2 * nbytes random lower-case hex digits to out, NUL-terminated; nbytes is at most 16. */
void chat_ids__hex(char *out, size_t nbytes);

#endif
