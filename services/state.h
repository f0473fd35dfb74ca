/*
 * state.h - the parts of struct chat_plugin (core/chat.h) that belong to the services and the layers
 * they stand on: the group commit, the users directory, presence, typing, cursors, and the rate
 * limiters the services admit requests with. chat.h holds them by pointer, so that the state struct can
 * sit in core/; these functions make and free them, for the plugin's init and for tests that run
 * services without a broker (tests/stubs/fixture.c).
 */
#ifndef CHAT_SERVICES_STATE_H
#define CHAT_SERVICES_STATE_H

#include "chat.h"

/* Allocates the services' state, all of it or none. Returns 0, or -1 when out of memory. */
int chat_services__state_new(struct chat_plugin *plugin);

/* Makes the rate limiters from plugin->config. Returns 0, or -1 when out of memory (those made are
 * freed by chat_services__state_free). */
int chat_services__limits_new(struct chat_plugin *plugin);

/* Clears and frees what the two functions above made, whole or half-built; writes nothing. */
void chat_services__state_free(struct chat_plugin *plugin);

#endif
