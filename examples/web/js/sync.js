// sync.js - brings each channel's log level with the server's: catch-up paging and gap detection.
//
// A catch-up asks for the events after the log's last seq, page after page while the server says
// there are more. Once a page is applied that seq is the page's `next` (docs/protocol.md, "Catch-up":
// since = next while more), and it also takes in live events applied meanwhile. Live events and
// pages both go through offer(), so each event is applied once and in seq order (channel-log.js); a
// live event beyond the next one shows that something was missed, and starts a catch-up instead of
// being applied. A page of another epoch means the log we hold belongs to another life of the
// channel (a restored backup, a recreated channel): ChannelLog drops it and the catch-up starts again
// from the new log's window. One catch-up runs per channel: asking for another while it runs makes it
// go round once more at the end, so whatever the second ask was for (a gap, an ack beyond the log)
// is covered.

import { KEEP_EVENTS } from './channel-log.js';

/**
 * What Sync reads and moves of a channel's state (chat.js's channelState() has more).
 * @typedef {object} SyncChannel
 * @property {string} channel
 * @property {string} epoch   the epoch the inbox reported: a log that has none yet starts in it
 * @property {number} head    the highest seq known to exist; raised by pages and live events
 * @property {import('./channel-log.js').ChannelLog} log
 * @property {boolean} synced set once a catch-up has reached the head
 */

/** Where a log that has nothing yet starts: the newest KEEP_EVENTS events are all it would keep. */
const windowStart = (head) => Math.max(0, head - KEEP_EVENTS);

export class Sync {
  /**
   * @param {{sync(channel: string, since: number): Promise<{epoch: string, head: number,
   *   more: boolean, events: object[]}>}} conn connection.js's Connection, or anything that pages like it
   * @param {{onApplied(c: SyncChannel, ev: object), onSynced(c: SyncChannel),
   *   onError(c: SyncChannel, err: Error)}} hooks
   *   onApplied: an event was applied to c.log, once, in order. onSynced: a catch-up reached the head.
   *   onError: a page was refused (err.code) or the connection was lost ("disconnected"); the catch-up
   *   stops, and the next catchUp() starts from where it got to.
   */
  constructor(conn, hooks) {
    this.conn = conn;
    this.hooks = hooks;
    this.running = new Map(); // SyncChannel -> {again}: the catch-ups under way
  }

  /** Pages from the log's last seq to the head; a call while one runs makes it go round again. */
  async catchUp(c) {
    const run = this.running.get(c);
    if (run) { run.again = true; return; }
    const self = { again: false };
    this.running.set(c, self);
    try {
      if (c.log.epoch === null) c.log.adoptEpoch(c.epoch, windowStart(c.head));
      let more = true;
      while (more || self.again) {
        self.again = false;
        const page = await this.conn.sync(c.channel, c.log.last);
        if (c.log.adoptEpoch(page.epoch, windowStart(page.head))) {
          self.again = true; // another log: start again from its window
          continue;
        }
        for (const ev of page.events) this.offer(c, ev);
        c.head = Math.max(c.head, page.head);
        more = page.more;
      }
      c.synced = true;
      this.hooks.onSynced(c);
    } catch (err) {
      this.hooks.onError(c, err);
    } finally {
      this.running.delete(c);
    }
  }

  /**
   * One event, live or from a page: applied at most once, in seq order. A gap starts a catch-up.
   * Returns ChannelLog.offer()'s verdict: "applied", "duplicate" or "gap".
   */
  offer(c, ev) {
    const verdict = c.log.offer(ev);
    if (verdict === 'gap') this.catchUp(c);
    if (verdict !== 'applied') return verdict;
    c.head = Math.max(c.head, ev.seq);
    this.hooks.onApplied(c, ev);
    return verdict;
  }
}
