/*
 * envelope.h - what travels between an edge and the core, and base64 for the binary parts.
 *
 * Pure: no broker, no storage. An edge wraps what its clients publish under chat/ in an envelope
 * published on chat/_edge/up/<edge-id>, which its bridge carries to the core; the core answers each
 * requesting client with an envelope on chat/_edge/down/<edge-id>, directed at that edge's bridge
 * connection, and the edge unwraps it for its client. Every envelope is one JSON object:
 *
 *   up    {"v":1,"kind":"publish","user","device","topic","payload":b64[,"qos"][,"response_topic"]
 *          [,"correlation":b64]}
 *         {"v":1,"kind":"hello","boot","devices":[{"user","device"},...]}
 *         {"v":1,"kind":"connect"|"disconnect","user","device"}
 *   down  {"v":1,"kind":"reply","client","topic","payload":b64[,"correlation":b64]}
 *         {"v":1,"kind":"snapshot","boot","channels":[{"name","visibility","head","members":[...]}]}
 *   beat  {"v":1,"kind":"beat","boot"} on chat/_edge/beat, from the core to every edge
 *
 * Payloads and correlation data are base64 because MQTT payloads are bytes, not text.
 */
#ifndef CHAT_ENVELOPE_H
#define CHAT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define CHAT_EDGE_PREFIX      "chat/_edge/"
#define CHAT_EDGE_UP_PREFIX   "chat/_edge/up/"
#define CHAT_EDGE_DOWN_PREFIX "chat/_edge/down/"
#define CHAT_EDGE_BEAT_TOPIC  "chat/_edge/beat"
#define CHAT_EDGE_ID_MAX      64

enum chat_envelope_kind {
	CHAT_ENV_INVALID,
	CHAT_ENV_PUBLISH,
	CHAT_ENV_HELLO,
	CHAT_ENV_CONNECT,
	CHAT_ENV_DISCONNECT,
	CHAT_ENV_REPLY,
	CHAT_ENV_SNAPSHOT,
	CHAT_ENV_BEAT,
};

/* A parsed envelope. Strings are borrowed from root; payload and correlation are decoded copies. */
struct chat_envelope {
	enum chat_envelope_kind kind;
	const char *user, *device, *topic, *response_topic, *client, *boot;
	char *payload; /* malloc'd, NUL-terminated after payload_len bytes; NULL when absent */
	size_t payload_len;
	char *correlation; /* malloc'd or NULL */
	size_t correlation_len;
	int qos;
	cJSON *root; /* the whole object: hello's devices, snapshot's channels */
};

/* base64 (RFC 4648, with padding) of data[0..len): malloc'd, NUL-terminated, or NULL (no memory). */
char *chat_base64__encode(const void *data, size_t len);

/* Decodes text (padding required); malloc'd, with a NUL after *len bytes. NULL if text is not
 * base64 or memory ran out. */
char *chat_base64__decode(const char *text, size_t *len);

/* Parses json[0..len) into env. Returns 0, or -1 (env->kind CHAT_ENV_INVALID) if it is not an envelope
 * of a known kind with the fields that kind requires. Release with chat_envelope__clear either way. */
int chat_envelope__parse(const void *json, size_t len, struct chat_envelope *env);

/* Releases what chat_envelope__parse allocated. */
void chat_envelope__clear(struct chat_envelope *env);

/* The builders return malloc'd JSON text (length in *len), or NULL when out of memory. */
char *chat_envelope__publish(const char *user, const char *device, const char *topic, const void *payload,
			     size_t payload_len, int qos, const char *response_topic, const void *correlation,
			     size_t correlation_len, size_t *len);
char *chat_envelope__reply(const char *client, const char *topic, const void *payload, size_t payload_len,
			   const void *correlation, size_t correlation_len, size_t *len);
/* kind is CHAT_ENV_CONNECT or CHAT_ENV_DISCONNECT. */
char *chat_envelope__device(enum chat_envelope_kind kind, const char *user, const char *device, size_t *len);
char *chat_envelope__beat(const char *boot, size_t *len);

/* A new {"v":1,"kind":<kind>} object to add fields to (hello, snapshot), or NULL. */
cJSON *chat_envelope__object(enum chat_envelope_kind kind);

#endif
