// mentions.js - `@` mentions in the composer and in messages (pure).
//
// The composer offers the channel's members as soon as `@` starts a word: mentionAt() finds the
// `@name` being typed before the caret, matches() lists who fits, insertMention() puts the chosen name
// in with a space after it. mentionsMe() says whether an event mentions the reader: the server lists
// whom a message or edit names in `mentions` and sets `mentions_all` for `@channel` and `@here`
// (docs/protocol.md, "Mentions"), so the client never parses bodies for it.

// What may precede `@` for it to start a mention (the server's rule: not a name character).
const NAME_CHAR = /[A-Za-z0-9._\-\u0080-\uffff]/;
const NAME_RUN = /^[A-Za-z0-9._\-\u0080-\uffff]*$/;

/**
 * The mention being typed: the `@` right before the caret's word, if that word starts with it.
 * @param {string} text @param {number} caret
 * @returns {?{start: number, prefix: string}} start: the index of the `@`; prefix: what follows it
 */
export function mentionAt(text, caret) {
  const before = text.slice(0, caret);
  const at = before.lastIndexOf('@');
  if (at < 0) return null;
  if (at > 0 && NAME_CHAR.test(before[at - 1])) return null;
  const prefix = before.slice(at + 1);
  if (!NAME_RUN.test(prefix) || prefix.length > 64) return null;
  return { start: at, prefix };
}

/**
 * Members whose name starts with `prefix` (case does not matter for finding them), not `me`, by name;
 * at most `limit`.
 */
export function matches(members, prefix, me, limit = 8) {
  const p = prefix.toLowerCase();
  return members.filter((m) => m !== me && m.toLowerCase().startsWith(p)).sort().slice(0, limit);
}

/** `@channel` and `@here` mention everyone (`mentions_all`): offered once a letter of them is typed. */
export const EVERYONE = ['channel', 'here'];

/**
 * What the `@` list offers for `prefix`: the matching members, then `channel` and `here` when the
 * prefix (at least one letter) starts them and no member has that name.
 */
export function offers(members, prefix, me, limit = 8) {
  const names = matches(members, prefix, me, limit);
  const p = prefix.toLowerCase();
  const everyone = p ? EVERYONE.filter((w) => w.startsWith(p) && !members.includes(w)) : [];
  return names.concat(everyone).slice(0, limit + everyone.length);
}

/** The text with `@name ` in place of the mention being typed (from `start` to `caret`), and the new caret. */
export function insertMention(text, start, caret, name) {
  const inserted = `@${name} `;
  const after = text.slice(caret).replace(/^ /, '');
  return { text: text.slice(0, start) + inserted + after, caret: start + inserted.length };
}

/** Whether a message or edit event mentions `me`: by name, or everyone (`@channel`, `@here`). */
export function mentionsMe(ev, me) {
  if (!ev || ev.from === me) return false;
  return ev.mentions_all === true || (Array.isArray(ev.mentions) && ev.mentions.includes(me));
}
