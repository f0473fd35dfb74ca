// rows.js - the DOM of the message pane's rows: messages (the first of a group with the author's
// name and time, the rest of the group without), join/leave lines, day separators, the unread
// divider, and messages still in the outbox. A body goes in through markdown.js, as nodes and
// text, never as HTML.

import { clock, el } from './dom.js';
import { plural } from './format.js';
import { render as renderBody } from './markdown.js';

const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉'];

/**
 * @typedef {object} RowContext
 * @property {string} me who is signed in
 * @property {?number} editing the seq of the message being edited
 * @property {number} readUpTo the highest read cursor of anyone else (own messages up to it: read)
 * @property {boolean} [inThread] drawn in the thread panel: no Reply or Edit, no reply count
 * @property {?import('./media-view.js').MediaView} [media] draws a message's files and images
 */

/** Whether a timeline row names `me` (or everyone) and is someone else's: drawn highlighted. */
export function mentionsMe(row, me) {
  return row.from !== me && !row.deleted && (row.mentionsAll || row.mentions.includes(me));
}

/** "2 replies · last reply 14:05" under a thread's root; a button that opens the thread. */
export function threadSummary(row) {
  return el('button', { class: 'thread-summary', 'data-act': 'thread',
    text: `${plural(row.replyCount, 'reply', 'replies')}${row.lastReplyTs ? ` · last reply ${clock(row.lastReplyTs)}` : ''}` });
}

export function daySeparator(label) {
  return el('li', { class: 'day', role: 'separator' }, el('span', { text: label }));
}

export function unreadDivider() {
  return el('li', { class: 'unread-divider', role: 'separator' }, el('span', { text: 'New messages' }));
}

export function memberLine(row) {
  let text;
  if (row.type === 'join') text = row.from && row.from !== row.user ? `${row.from} added ${row.user}` : `${row.user} joined`;
  else text = row.from && row.from !== row.user ? `${row.from} removed ${row.user}` : `${row.user} left`;
  return el('li', { class: 'member-line', 'data-seq': row.seq }, el('span', { text }), el('time', { text: clock(row.ts) }));
}

/**
 * One message. `grouped`: it continues the previous row's group (same author, minutes apart), so it
 * has no name and no avatar; its time shows on hover beside it.
 * @param {object} row a timeline.js message row @param {RowContext} ctx @param {boolean} grouped
 */
export function messageRow(row, ctx, grouped) {
  const own = row.from === ctx.me;
  const li = el('li', { class: `msg${own ? ' own' : ''}${grouped ? ' grouped' : ''}${row.deleted ? ' deleted' : ''}${row.seq === ctx.editing ? ' editing' : ''}${mentionsMe(row, ctx.me) ? ' mention' : ''}`,
    'data-seq': row.seq });
  let tick = null;
  if (own && !row.deleted) {
    const read = ctx.readUpTo >= row.seq;
    tick = el('span', { class: `tick${read ? ' read' : ''}`, title: read ? 'Read' : 'Sent', text: read ? '✓✓' : '✓' });
  }
  const time = el('time', { text: clock(row.ts), title: new Date(row.ts).toLocaleString() });
  const body = el('div', { class: 'body' });
  if (row.deleted) body.textContent = 'This message was deleted.';
  else renderBody(document, body, row.body, { names: row.mentions, all: row.mentionsAll, me: ctx.me });
  const main = el('div', { class: 'msg-main' });
  if (!grouped) main.append(el('div', { class: 'msg-head' }, el('span', { class: 'author', text: row.from }), time, tick));
  // A message of files alone has no text: no empty line above them.
  if (row.deleted || row.body) main.append(body);
  if (!row.deleted && row.media.length && ctx.media) main.append(ctx.media.attachments(row.media));
  if (row.edited && !row.deleted) main.append(el('span', { class: 'edited', text: '(edited)' }));
  if (grouped && tick) main.append(tick);
  if (row.reactions.length) {
    const reactions = el('div', { class: 'reactions' });
    for (const r of row.reactions) {
      const mine = r.users.includes(ctx.me);
      reactions.append(el('button', { class: `reaction${mine ? ' mine' : ''}`, 'data-act': 'react',
        'data-emoji': r.emoji, 'data-on': mine ? 'false' : 'true', title: r.users.join(', '),
        text: `${r.emoji} ${r.users.length}` }));
    }
    main.append(reactions);
  }
  if (row.replyCount > 0 && !ctx.inThread) main.append(threadSummary(row));
  li.append(grouped ? el('div', { class: 'gutter' }, time)
    : el('div', { class: 'avatar', text: (row.from || '?').slice(0, 1).toUpperCase() }), main);
  if (!row.deleted) {
    const actions = el('div', { class: 'actions' });
    for (const emoji of QUICK_REACTIONS) {
      actions.append(el('button', { 'data-act': 'react', 'data-emoji': emoji, 'data-on': 'true', title: `React ${emoji}`, text: emoji }));
    }
    if (!ctx.inThread) actions.append(el('button', { 'data-act': 'thread', title: 'Reply in a thread', text: 'Reply' }));
    if (own && !ctx.inThread) {
      actions.append(el('button', { 'data-act': 'edit', title: 'Edit', text: 'Edit' }),
        el('button', { 'data-act': 'delete', title: 'Delete', text: 'Delete' }));
    }
    li.append(actions);
  }
  return li;
}

/**
 * A message of ours the server has not stored yet: sending, retrying, or failed (Retry, Discard).
 * `mediaNames`: the names of our uploads by media id, for a message of files.
 */
export function pendingRow(p, me, mediaNames = new Map()) {
  const failed = p.state === 'failed';
  const body = el('div', { class: 'body' });
  renderBody(document, body, p.body.body);
  // The file's name as it was picked (an entry is its id, or {id, thumbnail}).
  const first = p.body.media ? p.body.media[0] : null;
  const files = first ? el('div', { class: 'attachments pending-files',
    text: `📎 ${mediaNames.get(typeof first === 'string' ? first : first.id) || 'a file'}` }) : null;
  return el('li', { class: `msg own pending${failed ? ' failed' : ''}`, 'data-client-msg-id': p.body.client_msg_id },
    el('div', { class: 'avatar', text: me.slice(0, 1).toUpperCase() }),
    el('div', { class: 'msg-main' },
      el('div', { class: 'msg-head' }, el('span', { class: 'author', text: me }),
        el('span', { class: 'state', text: failed ? 'Not sent' : 'Sending…' })),
      p.body.body || !files ? body : null, files,
      p.error ? el('div', { class: failed ? 'error' : 'retrying', role: failed ? 'alert' : null,
        text: `${p.error.code}: ${p.error.message}${failed ? '' : ' (trying again)'}` }) : null,
      failed ? el('button', { class: 'discard', 'data-act': 'retry', text: 'Retry' }) : null,
      failed ? el('button', { class: 'discard', 'data-act': 'discard', text: 'Discard' }) : null));
}
