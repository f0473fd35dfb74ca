// storage.js - what the client keeps in the browser between visits, per user of this browser.
//
// In localStorage, per channel: its epoch, the last seq applied and the latest events
// (ChannelLog.toJSON()), so a returning user sees history at once and catches up from its cursor, not
// from the start; the read cursors of the others (for read ticks); and the outbox, sends not yet
// acknowledged, which are retried with the same client_msg_id after a reload (so they end up stored
// exactly once). In sessionStorage: this tab's MQTT client id.
// Nothing here is trusted: the server's log decides, and a bad or foreign entry is dropped.
//
// ChatStorage is given the Web Storage objects instead of reaching for the globals: app.js passes the
// browser's, the unit tests pass in-memory ones, and chat.js never touches either directly.

const PREFIX = 'mqchat:v1:';

/** @typedef {{getItem(key: string): ?string, setItem(key: string, value: string): void}} WebStorage */

export class ChatStorage {
  /** @param {{local: WebStorage, session: WebStorage}} stores localStorage and sessionStorage */
  constructor({ local, session }) {
    this.local = local;
    this.session = session;
  }

  /** What an earlier visit of `user` kept; empty if nothing, or nothing readable, was kept. */
  load(user) {
    try {
      const raw = this.local.getItem(PREFIX + user);
      const state = raw ? JSON.parse(raw) : null;
      if (state && typeof state === 'object') {
        return {
          channels: state.channels && typeof state.channels === 'object' ? state.channels : {},
          readCursors: state.readCursors && typeof state.readCursors === 'object' ? state.readCursors : {},
          outbox: Array.isArray(state.outbox) ? state.outbox : [],
          open: typeof state.open === 'string' ? state.open : null,
        };
      }
    } catch {
      // unreadable: start afresh, catch-up rebuilds everything
    }
    return { channels: {}, readCursors: {}, outbox: [], open: null };
  }

  save(user, state) {
    try {
      this.local.setItem(PREFIX + user, JSON.stringify(state));
    } catch {
      // full or disabled: the client still works, it only catches up from further back next time
    }
  }

  lastUser() {
    return this.local.getItem(PREFIX + 'last-user') || '';
  }

  rememberUser(user) {
    this.local.setItem(PREFIX + 'last-user', user);
  }

  /**
   * This tab's MQTT client id for `user`, made by `fresh()` the first time. Per tab (sessionStorage),
   * because the broker lets one connection hold a client id and two tabs would take it from each
   * other; kept across a reload, so the tab stays the same device (its own typing is recognised).
   */
  clientId(user, fresh) {
    const key = `mqchat:client:${user}`;
    let id = this.session.getItem(key);
    if (!id) {
      id = fresh();
      this.session.setItem(key, id);
    }
    return id;
  }
}
