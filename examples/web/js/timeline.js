// timeline.js - folds a channel's events into what the message pane shows.
//
// The log only ever grows: an edit, a delete or a reaction is a new event naming its target's seq.
// The pane shows one row per message (with its latest body, deleted or not, and its reactions) and
// one line per join or leave, in seq order. A deleted message comes from catch-up already erased
// (no body, "deleted":true, and so do its edits): it shows as deleted even before its delete event.
// Pure: no DOM, no network.

/**
 * @param {object[]} events  a channel's events in seq order (ChannelLog.events)
 * @returns {object[]} rows: {kind:'message', seq, id, from, ts, body, thread, edited, deleted,
 *   reactions: [{emoji, users: string[]}], client_msg_id} or {kind:'member', seq, ts, type, user, from}
 */
export function buildTimeline(events) {
  const rows = [];
  const bySeq = new Map();
  for (const ev of events) {
    switch (ev.type) {
      case 'message': {
        const row = {
          kind: 'message', seq: ev.seq, id: ev.id, from: ev.from, ts: ev.ts, body: ev.deleted ? '' : ev.body,
          thread: ev.thread, edited: false, deleted: ev.deleted === true, reactions: new Map(),
          client_msg_id: ev.client_msg_id,
        };
        rows.push(row);
        bySeq.set(ev.seq, row);
        break;
      }
      case 'edit': {
        const row = bySeq.get(ev.target);
        if (row && !row.deleted && !ev.deleted) { row.body = ev.body; row.edited = true; }
        break;
      }
      case 'delete': {
        const row = bySeq.get(ev.target);
        if (row) { row.deleted = true; row.body = ''; row.reactions.clear(); }
        break;
      }
      case 'reaction': {
        const row = bySeq.get(ev.target);
        if (!row || row.deleted) break;
        const users = row.reactions.get(ev.emoji) || new Set();
        if (ev.on === false) users.delete(ev.from); else users.add(ev.from);
        if (users.size) row.reactions.set(ev.emoji, users); else row.reactions.delete(ev.emoji);
        break;
      }
      case 'join':
      case 'leave':
        rows.push({ kind: 'member', seq: ev.seq, ts: ev.ts, type: ev.type, user: ev.user, from: ev.from });
        break;
      default:
        break; // a newer server's event type: nothing to show
    }
  }
  for (const row of rows) {
    if (row.kind === 'message') {
      row.reactions = [...row.reactions].map(([emoji, users]) => ({ emoji, users: [...users].sort() }));
    }
  }
  return rows;
}

/**
 * Messages from others after `readSeq`: what the unread badge counts. Matches the server's rule
 * (docs/protocol.md, "Unread counts"): only `message` events, not one's own, deleted ones included.
 */
export function countUnread(events, me, readSeq) {
  let n = 0;
  for (const ev of events) {
    if (ev.seq > readSeq && ev.type === 'message' && ev.from !== me) n++;
  }
  return n;
}
