// notify.js - which messages make a desktop notification, and the tab's title (pure).
//
// Each channel has my notification level (docs/protocol.md, "Notification levels"): `all` (every
// message from someone else), `mentions` (only those that mention me or everyone, and every message
// of a direct channel), `none` (muted: nothing). A notification is made only while the page is
// hidden: on screen the message is seen where it lands.

import { mentionsMe } from './mentions.js';

export const LEVELS = ['all', 'mentions', 'none'];
export const LEVEL_LABELS = { all: 'All messages', mentions: 'Mentions only', none: 'Mute' };

/**
 * @param {{level?: string, ev: object, me: string, dm: boolean, visible: boolean}} what
 *   level: the channel's (absent: `all`); ev: a newly arrived event; dm: a direct channel
 */
export function shouldNotify({ level = 'all', ev, me, dm, visible }) {
  if (visible || !ev || ev.type !== 'message' || ev.from === me || ev.deleted) return false;
  if (level === 'none') return false;
  if (level === 'mentions') return dm || mentionsMe(ev, me);
  return true;
}

/** "(3) mqchat" while 3 messages are unread, else "mqchat". */
export function pageTitle(unread, base = 'mqchat') {
  return unread > 0 ? `(${unread}) ${base}` : base;
}

/** A notification's title and text for a message: who wrote it where, and its first 140 characters. */
export function notification(ev, where) {
  const body = String(ev.body || '');
  return { title: `${ev.from} in ${where}`, body: body.length > 140 ? `${body.slice(0, 139)}…` : body };
}
