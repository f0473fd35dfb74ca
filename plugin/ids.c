/*
 * ids.c - random identifiers from libuuid, which reads the kernel's random source.
 */
#include <uuid/uuid.h>

#include "ids.h"


void chat_ids__uuid(char out[CHAT_UUID_LEN + 1])
{
	uuid_t uuid;

	uuid_generate_random(uuid);
	uuid_unparse_lower(uuid, out);
}


void chat_ids__hex(char *out, size_t nbytes)
{
	static const char digits[] = "0123456789abcdef";
	uuid_t uuid;

	uuid_generate_random(uuid);
	if(nbytes > sizeof(uuid)) {
		nbytes = sizeof(uuid);
	}
	for(size_t i = 0; i < nbytes; i++) {
		out[2 * i] = digits[uuid[i] >> 4];
		out[2 * i + 1] = digits[uuid[i] & 0x0F];
	}
	out[2 * nbytes] = '\0';
}
