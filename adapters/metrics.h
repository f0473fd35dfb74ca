/*
 * metrics.h - mqchat's $SYS/broker/mqchat/... topics, published like Mosquitto's own $SYS.
 *
 * Every sys_interval seconds (the broker's own option, read from its configuration file at start;
 * 10 when not set; none when 0, as Mosquitto then publishes no $SYS either) the tick publishes each
 * value retained at QoS 0, so a subscriber gets the latest at once. The list is in
 * docs/operations.md.
 */
#ifndef CHAT_METRICS_JOB_H
#define CHAT_METRICS_JOB_H

#include <stdint.h>

#include "chat.h"

#define CHAT_METRICS_PREFIX "$SYS/broker/mqchat/"

/* Sets the period from the broker's sys_interval in seconds (-1: not set, 10 s; 0: no metrics). */
void chat_metrics_job__configure(struct chat_plugin *plugin, int sys_interval_s);

/* The tick's job: publishes the values when they are due. */
void chat_metrics_job__run(struct chat_plugin *plugin, int64_t now_ms);

/* Publishes the values now (and is what run calls when due). */
void chat_metrics_job__publish(struct chat_plugin *plugin);

#endif
