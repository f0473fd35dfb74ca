// storage.js - what the client keeps in localStorage between visits, per user of this browser.
//
// Per channel: its epoch, the last seq applied and the latest events (ChannelLog.toJSON()), so a
// returning user sees history at once and catches up from its cursor, not from the start; the read
// cursors of the others (for read ticks); and the outbox, sends not yet acknowledged, which are
// retried with the same client_msg_id after a reload (so they end up stored exactly once).
// Nothing here is trusted: the server's log decides, and a bad or foreign entry is dropped.

const PREFIX = 'mqchat:v1:';

export function loadState(user) {
  try {
    const raw = localStorage.getItem(PREFIX + user);
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

export function saveState(user, state) {
  try {
    localStorage.setItem(PREFIX + user, JSON.stringify(state));
  } catch {
    // full or disabled: the client still works, it only catches up from further back next time
  }
}

export function lastUser() {
  return localStorage.getItem(PREFIX + 'last-user') || '';
}

export function rememberUser(user) {
  localStorage.setItem(PREFIX + 'last-user', user);
}
