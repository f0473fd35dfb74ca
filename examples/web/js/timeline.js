// timeline.js - folds a channel's events into what the message pane shows.
//
// The log only ever grows: an edit, a delete or a reaction is a new event naming its target's seq.
// The pane shows one row per message (with its latest body, deleted or not, and its reactions) and
// one line per join or leave, in seq order. A deleted message comes from catch-up already erased
// (no body, "deleted":true, and so do its edits): it shows as deleted even before its delete event.
// Replies in a thread (messages with `thread`) are not rows of the main pane: each adds to its root's
// `replyCount` and `lastReplyTs` instead (the thread panel builds them with `replies: true`). The log
// holds a contiguous range of seqs and a reply comes after its root, so a root that is held has all
// its replies held: the count is exact. Pure: no DOM, no network.

/**
 * @param {object[]} events  a channel's events in seq order (ChannelLog.events)
 * @param {{replies?: boolean}} [opts] replies: make rows of thread replies too (the thread panel)
 * @returns {object[]} rows: {kind:'message', seq, id, from, ts, body, thread, edited, deleted,
 *   reactions: [{emoji, users: string[]}], client_msg_id, mentions, mentionsAll, replyCount,
 *   lastReplyTs, media: [{id, name, type, size, sha256}]} or {kind:'member', seq, ts, type, user, from}
 */
export function buildTimeline(events, { replies = false } = {}) {
  const rows = [];
  const bySeq = new Map();
  for (const ev of events) {
    switch (ev.type) {
      case 'message': {
        const row = {
          kind: 'message', seq: ev.seq, id: ev.id, from: ev.from, ts: ev.ts, body: ev.deleted ? '' : ev.body,
          thread: ev.thread, edited: false, deleted: ev.deleted === true, reactions: new Map(),
          client_msg_id: ev.client_msg_id, mentions: ev.mentions || [], mentionsAll: ev.mentions_all === true,
          replies: [], replyCount: 0, lastReplyTs: null, media: ev.deleted || !Array.isArray(ev.media) ? [] : ev.media,
        };
        bySeq.set(ev.seq, row);
        if (ev.thread && !replies) {
          const root = bySeq.get(ev.thread);
          if (root) root.replies.push(row);
        } else {
          rows.push(row);
        }
        break;
      }
      case 'edit': {
        const row = bySeq.get(ev.target);
        if (row && !row.deleted && !ev.deleted) {
          row.body = ev.body;
          row.edited = true;
          row.mentions = ev.mentions || [];
          row.mentionsAll = ev.mentions_all === true;
        }
        break;
      }
      case 'delete': {
        const row = bySeq.get(ev.target);
        if (row) { row.deleted = true; row.body = ''; row.reactions.clear(); row.mentions = []; row.mentionsAll = false; row.media = []; }
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
      const live = row.replies.filter((r) => !r.deleted);
      row.replyCount = live.length;
      row.lastReplyTs = live.length ? live[live.length - 1].ts : null;
      delete row.replies;
    }
  }
  return rows;
}

/**
 * A thread's events (its root, then replies and what targets them) picked out of a channel's
 * events: those whose `thread` is `root`, and edits, deletes and reactions of those.
 */
export function threadEvents(events, root) {
  const replies = new Set();
  const out = [];
  for (const ev of events) {
    if (ev.type === 'message' && ev.thread === root) { replies.add(ev.seq); out.push(ev); }
    else if (ev.target !== undefined && replies.has(ev.target)) out.push(ev);
  }
  return out;
}

/**
 * Messages from others after `readSeq` that mention `me` (or everyone; in a direct channel, every
 * message from the other person): what the mention badge counts, as the server's `mentions` does
 * (deleted ones not counted; an edit that adds me counts once, for the message).
 */
export function countMentions(events, me, readSeq, dm = false) {
  const counted = new Set();
  const deleted = new Set();
  for (const ev of events) {
    if (ev.type === 'delete') deleted.add(ev.target);
    if (ev.seq <= readSeq || ev.from === me) continue;
    const names = ev.mentions_all === true || (Array.isArray(ev.mentions) && ev.mentions.includes(me));
    if (ev.type === 'message' && !ev.deleted && (dm || names)) counted.add(ev.seq);
    else if (ev.type === 'edit' && names) counted.add(ev.target);
  }
  let n = 0;
  for (const seq of counted) if (!deleted.has(seq)) n++;
  return n;
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
