/*
 * admin.h - the operators' commands on $CONTROL/mqchat/v1 (docs/operations.md).
 *
 * Request and response as Mosquitto's dynamic-security plugin has them: a publish of
 * {"commands":[{"command":"listChannels"},...]} to $CONTROL/mqchat/v1 is answered with
 * {"responses":[{"command":"listChannels","data":{...}},{"command":...,"error":"..."}]}, one entry per
 * command in order, published at QoS 0 on $CONTROL/mqchat/v1/response (which only admins may read)
 * and, when the MQTT 5 request carried a Response Topic other than that, to the requester there too,
 * with its Correlation Data. A command's "correlationData" string is echoed in its entry.
 *
 * Who: the users listed in plugin_opt_admins. The ACL (chat_admin__acl) refuses everyone else both
 * the publish and the response topic, so a non-admin learns nothing, not even that the endpoint is
 * there; the command callback checks again.
 *
 * Membership commands go through membership.c, so they log the same join and leave events as the
 * chat API, naming the admin as their cause. Backup and export run on a worker thread (backup.h): their
 * entry comes in a later response message of its own, published by the tick when the job is done.
 */
#ifndef CHAT_ADMIN_H
#define CHAT_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "chat.h"

#define CHAT_ADMIN_TOPIC          "$CONTROL/mqchat/v1"
#define CHAT_ADMIN_RESPONSE_TOPIC "$CONTROL/mqchat/v1/response"

/* True if user is one of plugin_opt_admins. */
bool chat_admin__is_admin(const struct chat_plugin *plugin, const char *user);

/* The ACL's answer for mqchat's $CONTROL topics: CHAT_ACL_NOT_MINE for any other topic; else
 * CHAT_ACL_GRANT for an admin and CHAT_ACL_DENY for anyone else (anonymous included), whatever the
 * access. */
enum chat_acl_verdict chat_admin__acl(const struct chat_plugin *plugin, const char *user, const char *topic);

/* Serves one publish to $CONTROL/mqchat/v1 by who. response_topic and correlation are the MQTT 5
 * properties of the request (NULL when absent). Answers as described above; never fails: every
 * problem is an "error" entry. */
void chat_admin__serve(struct chat_plugin *plugin, const struct chat_requester *who,
		       const char *response_topic, const void *correlation, uint16_t correlation_len,
		       const void *payload, size_t len);

/* The tick's job: publishes the answers of the backups and exports finished since the last call. */
void chat_admin__tick(struct chat_plugin *plugin);

/* Stops the worker (cancelling a running job) and frees the admin state; NULL is ignored. */
void chat_admin__free(struct chat_admin *admin);

#endif
