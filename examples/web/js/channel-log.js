// channel-log.js - one channel's copy of the server's log, and the rule that makes it converge.
//
// The server numbers each channel's events 1, 2, 3, ... with no gaps. A client holds the events it
// has and `last`, the highest seq it has applied. Whatever arrives, live or in a catch-up page, goes
// through offer():
//   seq <= last      already have it: ignored (a redelivery, or a page overlapping live events)
//   seq == last + 1  the next one: applied, last moves on
//   seq >  last + 1  something is missing in between: not applied; the caller catches up from last
// So events are applied exactly once and in seq order, and the client ends with the same sequence as
// a client that never went away. Pure: no DOM, no network; the unit test runs it under node.
//
// The events held are always the contiguous range first+1 .. last (no gap, no duplicate). A channel
// opened with nothing held starts at its newest page (openAt(), from a backward catch-up page) and
// grows downwards as the reader scrolls up (prepend(), one older page at a time, each page's top seq
// exactly `first`) and upwards as events arrive (offer()).

/** How many events a channel keeps in localStorage (the newest ones): what a reload shows at once. */
export const KEEP_EVENTS = 500;

/**
 * How many events a channel holds in memory. Live events beyond it drop the oldest; older pages stop
 * loading once it is reached (the newest events are never dropped for older ones: `last` is the
 * forward catch-up's cursor and the live edge is what the reader comes back to).
 */
export const MAX_EVENTS = 10000;

export class ChannelLog {
  /**
   * @param {string} channel
   * @param {{epoch?: string, last?: number, first?: number, events?: object[]}} [saved]
   *   what storage.js kept from an earlier visit; `first` is the seq the kept history starts after.
   */
  constructor(channel, saved = {}) {
    this.channel = channel;
    this.epoch = saved.epoch || null;
    this.last = saved.last || 0;
    this.first = saved.first || 0;
    this.events = Array.isArray(saved.events) ? saved.events.slice() : [];
    // The server said nothing is older than `first` (a backward page with more:false), and whether
    // older pages stopped because MAX_EVENTS was reached. Neither is kept: a reload asks again.
    this.complete = false;
    this.full = false;
  }

  /** Whether older events may exist that a backward page would bring (the reader can scroll up). */
  hasOlder() {
    return this.epoch !== null && this.first > 0 && !this.complete && !this.full;
  }

  /**
   * Offers one event. Returns "applied", "duplicate" or "gap".
   * An event of another epoch is never applied: the caller resets and catches up.
   */
  offer(event) {
    if (typeof event.seq !== 'number') return 'duplicate';
    if (event.seq <= this.last) return 'duplicate';
    if (event.seq > this.last + 1) return 'gap';
    this.events.push(event);
    this.last = event.seq;
    if (this.events.length > MAX_EVENTS) {
      const dropped = this.events.splice(0, this.events.length - MAX_EVENTS);
      this.first = dropped[dropped.length - 1].seq;
      this.complete = false;
    }
    return 'applied';
  }

  /**
   * A log that holds nothing of any epoch yet (epoch null) takes the page before the head (a backward
   * catch-up page: the newest events, in seq order): it starts right below the page's lowest seq.
   * Events applied meanwhile (live ones, seq 1, 2, ... of an empty channel) are kept: the page's
   * events below them are prepended and those above offered. Returns the events applied, in seq order.
   * @param {string} epoch the page's epoch
   * @param {object[]} events the page's events
   * @param {boolean} more whether the server has events below the page
   */
  openAt(epoch, events, more) {
    this.epoch = epoch;
    const page = events.filter((e) => typeof e.seq === 'number');
    if (this.events.length === 0 && page.length && page[0].seq - 1 > this.last) {
      this.first = this.last = page[0].seq - 1;
    }
    const applied = this.prepend(page, more);
    for (const ev of page) if (this.offer(ev) === 'applied') applied.push(ev);
    if (!more && page.length && page[0].seq - 1 === this.first) this.complete = true;
    return applied;
  }

  /**
   * An older page (a backward catch-up page asked with before = first + 1): its events up to `first`
   * go in front, if they end exactly at `first` and have no gap (else nothing changes: the log moved
   * meanwhile, and the caller asks again from the new `first`). Returns the events prepended, in seq
   * order. Stops at MAX_EVENTS: then only the newest that fit are taken and `full` is set.
   * @param {object[]} events the page's events, in seq order
   * @param {boolean} more whether the server has events below the page
   */
  prepend(events, more) {
    const older = events.filter((e) => typeof e.seq === 'number' && e.seq <= this.first);
    if (older.length === 0) {
      if (!more && !events.some((e) => e.seq > this.first)) this.complete = true;
      return [];
    }
    for (let i = 0; i < older.length; i++) if (older[i].seq !== older[0].seq + i) return [];
    if (older[older.length - 1].seq !== this.first) return [];
    const room = MAX_EVENTS - this.events.length;
    const taken = room >= older.length ? older : older.slice(older.length - Math.max(room, 0));
    if (taken.length < older.length) this.full = true;
    if (taken.length === 0) return [];
    this.events = taken.concat(this.events);
    this.first = taken[0].seq - 1;
    if (!more && taken.length === older.length) this.complete = true;
    return taken;
  }

  /** Forgets everything, epoch included: the next catch-up opens the log at its newest page. */
  reset() {
    this.epoch = null;
    this.events = [];
    this.first = 0;
    this.last = 0;
    this.complete = false;
    this.full = false;
  }

  /** What storage.js keeps of this log: its newest KEEP_EVENTS events. */
  toJSON() {
    const events = this.events.length > KEEP_EVENTS ? this.events.slice(-KEEP_EVENTS) : this.events;
    const first = events.length < this.events.length ? events[0].seq - 1 : this.first;
    return { epoch: this.epoch, last: this.last, first, events };
  }
}
