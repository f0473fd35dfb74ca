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

/** How many events a channel keeps in memory and in localStorage. Older ones are dropped. */
export const KEEP_EVENTS = 500;

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
    if (this.events.length > KEEP_EVENTS) {
      const dropped = this.events.splice(0, this.events.length - KEEP_EVENTS);
      this.first = dropped[dropped.length - 1].seq;
    }
    return 'applied';
  }

  /**
   * Checks a catch-up page's epoch against ours. A different epoch means our events belong to
   * another log (a restored backup, a recreated channel): everything is dropped and the caller
   * starts again from `startAt` (0: the whole history). Returns true if the log was reset.
   */
  adoptEpoch(epoch, startAt = 0) {
    if (this.epoch === epoch) return false;
    const hadHistory = this.epoch !== null;
    this.epoch = epoch;
    if (!hadHistory && this.last === 0 && this.events.length === 0) {
      this.last = startAt;
      this.first = startAt;
      return false;
    }
    this.events = [];
    this.last = startAt;
    this.first = startAt;
    return true;
  }

  /** What storage.js keeps of this log. */
  toJSON() {
    return { epoch: this.epoch, last: this.last, first: this.first, events: this.events };
  }
}
