/*
 * background.h - how a worker thread of the plugin (backup, search index) steps aside for the broker's.
 *
 * The broker's thread does everything a client waits for; a worker's work (a copy, an index) may wait.
 * On Linux a worker is named (top -H, the benches' pinning), niced to 19 and put in SCHED_IDLE: it
 * runs only on CPU time no ordinary thread wants, and the broker's thread, woken by a client, takes
 * the CPU back at once instead of waiting out the worker's time slice (which nice alone allows: with
 * the broker pinned beside a backup, sends' p99 went to 2-3x idle). Elsewhere nothing changes.
 */
#ifndef CHAT_BACKGROUND_H
#define CHAT_BACKGROUND_H

/* Called by the worker thread itself, first thing; name is at most 15 characters. Never fails: a
 * refused setting leaves the thread as it was. */
void chat_background__enter(const char *name);

#endif
