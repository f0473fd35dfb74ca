/*
 * ids.c - random identifiers from the kernel's random source (getrandom), formatted by libuuid.
 *
 * Every event gets a fresh UUID on the send path. libuuid's uuid_generate_random() costs a getrandom
 * call plus getpid, getuid and gettimeofday calls and a re-seed of random(3) per id (about 9k
 * instructions, 3 % of a send, in the bench's profile); here one getrandom call fills a pool for 256
 * ids. The bytes are the same kernel CSPRNG output, only fetched in bulk.
 *
 * Broker thread only: the pool has no lock.
 *
 * The pool is this file's static, the one exception to chat.h's "no other globals", on purpose:
 * - it holds no state of the chat, only kernel randomness not yet handed out. Each byte goes out once
 *   and is zeroed, so any number of users may share it, and there is nothing to reset, save or free
 *   when a plugin instance ends (a later one draws bytes that are just as random);
 * - ids are made where no struct chat_plugin is at hand, or should be: the store gives channels new
 *   epochs inside chat_store__begin_run (store.c), pure modules and their unit tests make ids, and
 *   the send path (commit/batch.c, commit/txn.c) makes one per event. Passing a pool to each of them
 *   would thread the plugin through layers that do not need it, for no change in what they get;
 * - moving it into the plugin state would not make it safer: the broker thread is the only caller
 *   either way, and a fork after the pool is filled would hand both processes the same bytes either
 *   way (Mosquitto daemonises before it loads plugins, and mqchat never forks).
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <uuid/uuid.h>

#include "ids.h"

static unsigned char pool[4096];
static size_t pool_used = sizeof(pool);


/* Fills out with n random bytes (n <= 16) from the pool, refilling it when it runs out. */
static void random_bytes(unsigned char *out, size_t n)
{
	if(sizeof(pool) - pool_used < n) {
		size_t filled = 0;

		/* Never wait on the broker thread for the kernel's pool to be seeded (early boot) */
		while(filled < sizeof(pool)) {
			ssize_t got = getrandom(pool + filled, sizeof(pool) - filled, GRND_NONBLOCK);
			if(got < 0 && errno != EINTR) {
				break;
			}
			filled += got > 0 ? (size_t)got : 0;
		}
		if(filled < sizeof(pool)) { /* not seeded yet (EAGAIN), or no getrandom: libuuid's way */
			uuid_t fallback;
			uuid_generate_random(fallback);
			memcpy(out, fallback, n);
			return;
		}
		pool_used = 0;
	}
	memcpy(out, pool + pool_used, n);
	memset(pool + pool_used, 0, n); /* a byte handed out once is not kept */
	pool_used += n;
}


void chat_ids__uuid(char out[CHAT_UUID_LEN + 1])
{
	uuid_t uuid;

	random_bytes(uuid, sizeof(uuid));
	uuid[6] = (unsigned char)((uuid[6] & 0x0F) | 0x40); /* version 4: random */
	uuid[8] = (unsigned char)((uuid[8] & 0x3F) | 0x80); /* variant: RFC 4122 */
	uuid_unparse_lower(uuid, out);
}


void chat_ids__hex(char *out, size_t nbytes)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char bytes[16];

	if(nbytes > sizeof(bytes)) {
		nbytes = sizeof(bytes);
	}
	random_bytes(bytes, nbytes);
	for(size_t i = 0; i < nbytes; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 0x0F];
	}
	out[2 * nbytes] = '\0';
}
