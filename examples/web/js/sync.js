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
//
// A log that holds nothing (first visit, or dropped for another epoch) is not paged from seq 0: it
// opens at the channel's newest events, with one backward page (docs/protocol.md, "Extension: reading
// backwards": before = head + 1), and then goes forward from there as above. Older events come one
// backward page at a time (before = first + 1) when the reader asks for them (loadOlder(), on
// scrolling to the top); ChannelLog.prepend() takes a page only if it ends exactly at its `first`.

/**
 * What Sync reads and moves of a channel's state (chat.js's channelState() has more).
 * @typedef {object} SyncChannel
 * @property {string} channel
 * @property {string} epoch   the epoch the inbox reported: a log that has none yet starts in it
 * @property {number} head    the highest seq known to exist; raised by pages and live events
 * @property {import('./channel-log.js').ChannelLog} log
 * @property {boolean} synced set once a catch-up has reached the head
 */

/** How many events the first page of a channel (its newest) and each older page hold at most. */
export const OPEN_PAGE = 100;
export const OLDER_PAGE = 200;
const OLDER_PAUSE_MS = 2000;

export class Sync {
  /**
   * @param {{sync(channel: string, since: number): Promise<{epoch: string, head: number,
   *   more: boolean, events: object[]}>, syncBefore(channel: string, before: number, limit: number):
   *   Promise<{epoch: string, head: number, first: number, more: boolean, events: object[]}>}} conn
   *   connection.js's Connection, or anything that pages like it
   * @param {{onApplied(c: SyncChannel, ev: object), onSynced(c: SyncChannel),
   *   onError(c: SyncChannel, err: Error), onOlder?(c: SyncChannel)}} hooks
   *   onApplied: an event was applied to c.log, once (live, forward page or the first page).
   *   onOlder: an older page is asked for or was prepended (c.loadingOlder says which).
   *   onSynced: a catch-up reached the head.
   *   onError: a page was refused (err.code) or the connection was lost ("disconnected"); the catch-up
   *   stops, and the next catchUp() starts from where it got to.
   */
  constructor(conn, hooks) {
    this.conn = conn;
    this.hooks = hooks;
    this.running = new Map(); // SyncChannel -> {again}: the catch-ups under way
  }

  /**
   * Asks for the page of older events below c.log.first, if there may be some and none is on its
   * way; sets c.loadingOlder meanwhile. Resolves when it is prepended (or refused, or dropped because
   * the log changed meanwhile: a reset, another epoch).
   */
  async loadOlder(c) {
    if (c.loadingOlder || !c.log.hasOlder() || Date.now() < (c.olderPausedUntil || 0)) return;
    const log = c.log;
    const { epoch, first } = log;
    c.loadingOlder = true;
    this.older(c);
    try {
      const page = await this.conn.syncBefore(c.channel, first + 1, OLDER_PAGE);
      if (page.epoch !== log.epoch) {
        if (log.epoch === epoch) this.catchUp(c); // another log: the catch-up drops ours and reopens
        return;
      }
      c.head = Math.max(c.head, page.head);
      log.prepend(page.events, page.more);
    } catch (err) {
      c.olderPausedUntil = Date.now() + OLDER_PAUSE_MS; // a refusal is not asked again at once
      if (err.code !== 'busy') this.hooks.onError(c, err);
    } finally {
      c.loadingOlder = false;
      this.older(c);
    }
  }

  older(c) {
    if (c && this.hooks.onOlder) this.hooks.onOlder(c);
  }

  /** Pages from the log's last seq to the head; a call while one runs makes it go round again. */
  async catchUp(c) {
    const run = this.running.get(c);
    if (run) { run.again = true; return; }
    const self = { again: false };
    this.running.set(c, self);
    try {
      let more = true;
      while (more || self.again) {
        self.again = false;
        if (c.log.epoch === null) {
          // Nothing held: open at the newest events, then go forward from them for what came since.
          const page = await this.conn.syncBefore(c.channel, Math.max(c.head, c.log.last) + 1, OPEN_PAGE);
          c.head = Math.max(c.head, page.head);
          for (const ev of c.log.openAt(page.epoch, page.events, page.more)) this.appliedOne(c, ev);
          more = page.head > c.log.last;
          continue;
        }
        const page = await this.conn.sync(c.channel, c.log.last);
        if (page.epoch !== c.log.epoch) {
          c.log.reset(); // another log: drop ours and open the new one at its newest events
          c.head = page.head;
          self.again = true;
          continue;
        }
        if (page.truncated && page.first - 1 > c.log.last) {
          // Retention removed what lies between our last seq and `first`: gone for good, not a gap
          // to ask for again (which would ask forever). Open at the newest events, as a first visit.
          c.log.reset();
          c.head = page.head;
          self.again = true;
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
    this.appliedOne(c, ev);
    return verdict;
  }

  appliedOne(c, ev) {
    c.head = Math.max(c.head, ev.seq);
    this.hooks.onApplied(c, ev);
  }
}
