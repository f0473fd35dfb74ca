// outbox.js - the messages the user wrote that the server has not stored yet, and how they are sent.
//
// A message goes into the outbox with its client_msg_id and stays there until chat.js removes it,
// once its event is in the channel's log (the ack alone is not enough: the message is shown from the
// outbox until the log has it). The server stores a client_msg_id once, so sending the same one
// again is always safe, and the outbox does it freely:
//   - after a reconnect (resend()), for every item still sending: a lost connection fails nothing;
//   - after a refusal that says "not now" (unavailable, rate_limited) or no answer at all (timeout):
//     after the server's retry_after_ms, or with backoff, up to MAX_ATTEMPTS times;
//   - when the user presses Retry on an item that failed.
// Any other refusal (too_large, forbidden, ...) fails the item at once: retrying cannot fix it.
// Items still sending are what storage.js keeps (toJSON()), so they survive a reload.

// Refusals that say "not now" rather than "no". "timeout" is ours: no answer at all (an edge whose
// core just went away may drop a send).
const RETRYABLE = new Set(['timeout', 'unavailable', 'rate_limited']);
const MAX_ATTEMPTS = 8;
const MAX_BACKOFF_MS = 30000;

/**
 * @typedef {object} OutboxItem
 * @property {string} channel
 * @property {{client_msg_id: string, body?: string}} body what is published, unchanged on every try
 * @property {'sending'|'acked'|'failed'} state
 * @property {?object} [error] the last refusal: shown beside "Sending…", or on a failed message
 * @property {number} [seq] the seq the ack named
 * @property {number} [attempts] "not now" refusals so far
 */

export class Outbox {
  /**
   * @param {{send(channel: string, body: object): Promise<{seq: number}>}} conn connection.js's
   *   Connection, or anything that sends like it
   * @param {{onAcked(item: OutboxItem), onFailed(item: OutboxItem, err: Error), onChange()}} hooks
   *   onAcked: the server stored it (item.seq); the caller delete()s it once its log has the event.
   *   onFailed: refused for good (item.error). onChange: any item changed (to save and redraw).
   * @param {{channel: string, body: object}[]} [saved] toJSON() of an earlier visit
   */
  constructor(conn, hooks, saved = []) {
    this.conn = conn;
    this.hooks = hooks;
    this.items = new Map(); // client_msg_id -> OutboxItem, in the order they were written
    for (const item of saved) {
      if (item && item.channel && item.body && item.body.client_msg_id) {
        this.items.set(item.body.client_msg_id, { channel: item.channel, body: item.body, state: 'sending' });
      }
    }
  }

  get size() { return this.items.size; }
  get(clientMsgId) { return this.items.get(clientMsgId); }
  has(clientMsgId) { return this.items.has(clientMsgId); }
  keys() { return this.items.keys(); }
  values() { return this.items.values(); }

  /** Queues a send (body carries a fresh client_msg_id) and sends it. */
  add(channel, body) {
    const item = { channel, body, state: 'sending' };
    this.items.set(body.client_msg_id, item);
    this.hooks.onChange();
    this.transmit(item);
    return item;
  }

  /** After a (re)connect: sends again everything still waiting for an ack. */
  resend() {
    for (const item of this.items.values()) {
      if (item.state === 'sending') this.transmit(item);
    }
  }

  /** Sends a failed message again, with its original client_msg_id. */
  retry(clientMsgId) {
    const item = this.items.get(clientMsgId);
    if (!item || item.state !== 'failed') return;
    item.state = 'sending';
    item.attempts = 0;
    item.error = null;
    this.hooks.onChange();
    this.transmit(item);
  }

  /** The user gives up on a message. */
  discard(clientMsgId) {
    this.delete(clientMsgId);
    this.hooks.onChange();
  }

  /** Done with an item: its event is in the log (or the user discarded it). */
  delete(clientMsgId) {
    const item = this.items.get(clientMsgId);
    if (item) clearTimeout(item.retryTimer);
    this.items.delete(clientMsgId);
  }

  /** What storage.js keeps: the items still sending (a failed one waits for the user, who has left). */
  toJSON() {
    return [...this.items.values()].filter((i) => i.state === 'sending')
      .map((i) => ({ channel: i.channel, body: i.body }));
  }

  /** Signing out: no more retries from this outbox. */
  stop() {
    for (const item of this.items.values()) clearTimeout(item.retryTimer);
  }

  /** Sends an item; on a lost connection it stays queued and resend() sends it again. */
  async transmit(item) {
    clearTimeout(item.retryTimer);
    item.retryTimer = null;
    try {
      const ack = await this.conn.send(item.channel, item.body);
      item.state = 'acked';
      item.seq = ack.seq;
      item.error = null;
      this.hooks.onAcked(item);
    } catch (err) {
      // A lost connection (or this id still in flight): resend() sends it again after the reconnect.
      if (err.code === 'disconnected' || err.code === 'busy') return;
      if (RETRYABLE.has(err.code) && (item.attempts = (item.attempts || 0) + 1) <= MAX_ATTEMPTS) {
        // Safe to repeat: the same client_msg_id is stored once. The server may say when.
        const hint = err.reply && err.reply.retry_after_ms;
        const delay = typeof hint === 'number' ? hint : Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (item.attempts - 1));
        item.error = err; // shown beside "Sending…"
        item.retryTimer = setTimeout(() => {
          if (this.items.get(item.body.client_msg_id) === item && item.state === 'sending') this.transmit(item);
        }, delay);
      } else {
        item.state = 'failed';
        item.error = err;
        this.hooks.onFailed(item, err);
      }
    }
    this.hooks.onChange();
  }
}
