// format.js - small pure helpers for what the page says: plurals, names as typed, day separators,
// and which messages share one name/time header. No DOM, no network: the unit tests run it under node.

/** "1 member", "2 members", "0 members". */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** A channel name as a person types it: "#general", " # general " and "general" are all "general". */
export function channelName(typed) {
  return String(typed).trim().replace(/^#+\s*/, '');
}

/** A user name as a person types it: "@bo" is "bo". */
export function userName(typed) {
  return String(typed).trim().replace(/^@+\s*/, '');
}

/** The local calendar day of a timestamp (ms), as a comparable key. */
export function dayKey(ts) {
  const d = new Date(ts);
  return d.getFullYear() * 10000 + (d.getMonth() + 1) * 100 + d.getDate();
}

/**
 * The day separator's words for a timestamp: "Today", "Yesterday", else the date (with the year
 * only when it is not this year's).
 * @param {number} ts @param {number} now @param {string|string[]} [locale]
 */
export function dayLabel(ts, now = Date.now(), locale = undefined) {
  const key = dayKey(ts);
  if (key === dayKey(now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(yesterday.getDate() - 1);
  if (key === dayKey(yesterday.getTime())) return 'Yesterday';
  const d = new Date(ts);
  const opts = { weekday: 'long', month: 'long', day: 'numeric' };
  if (d.getFullYear() !== new Date(now).getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(locale, opts);
}

/** Messages from one author this close together share one header. */
export const GROUP_MS = 5 * 60 * 1000;

/**
 * Whether timeline row `row` continues the group of `prev` (the row just above it): both messages,
 * same author, same day, at most GROUP_MS apart, and no unread divider between them.
 * @param {?object} prev @param {object} row @param {number} [dividerAfter] seq after which the divider is
 */
export function continues(prev, row, dividerAfter = -1) {
  if (!prev || prev.kind !== 'message' || row.kind !== 'message') return false;
  if (prev.from !== row.from || dayKey(prev.ts) !== dayKey(row.ts)) return false;
  if (prev.seq <= dividerAfter && row.seq > dividerAfter) return false;
  return row.ts - prev.ts >= 0 && row.ts - prev.ts <= GROUP_MS;
}
