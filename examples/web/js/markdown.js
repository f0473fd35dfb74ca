// markdown.js - a message body's light formatting, parsed into a tree and built as DOM nodes.
//
// What a sender can write: `code`, ```code blocks```, *emphasis*, **strong**, lines starting with
// "> " (a quote), and links: a bare http(s) URL, or [text](http(s) URL). Anything else is text.
// Safety is the point: the body is another person's input, so the DOM is built from nodes and
// textContent only, never from HTML; a link's href is only ever an http: or https: URL (checked
// with the URL parser, so `javascript:`, `data:` and the like stay plain text), and opens in a new
// tab with rel="noopener noreferrer". Mentions are marked only where the server said so: `@name` for
// a name in the event's `mentions`, `@channel` and `@here` when it has `mentions_all` (the body's own
// `@` words prove nothing). parse() is pure (the unit tests run it under node); render()
// is given the document to build with.

/**
 * @typedef {{type: 'text', text: string} | {type: 'code', text: string} |
 *   {type: 'em'|'strong', children: Inline[]} | {type: 'link', href: string, text: string} |
 *   {type: 'mention', text: string, name: string}} Inline
 * @typedef {{names?: string[], all?: boolean}} Mentions whom the event mentions (its `mentions`,
 *   `mentions_all`): only those `@` words are marked
 * @typedef {{type: 'para', children: Inline[]} | {type: 'quote', children: Inline[]} |
 *   {type: 'pre', text: string}} Block
 */

const URL_RE = /https?:\/\/[^\s<>"'`]+/y;
const TRAILING = /[.,;:!?)\]}'"]+$/;

/** The URL if `s` is an absolute http: or https: URL, else null. */
export function safeHref(s) {
  let url;
  try {
    url = new URL(s);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

/** @param {string} text a message body @param {Mentions} [mentions] @returns {Block[]} */
export function parse(text, mentions = {}) {
  const blocks = [];
  const lines = String(text).split('\n');
  let para = [];
  let quote = [];
  const flush = () => {
    if (para.length) blocks.push({ type: 'para', children: parseInline(para.join('\n'), mentions) });
    if (quote.length) blocks.push({ type: 'quote', children: parseInline(quote.join('\n'), mentions) });
    para = [];
    quote = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('```')) {
      flush();
      const rest = line.slice(3);
      if (rest.length > 3 && rest.trimEnd().endsWith('```')) { // ```code``` on one line
        blocks.push({ type: 'pre', text: rest.trimEnd().slice(0, -3) });
        continue;
      }
      // A fence: every line to the closing fence (or the end) is code, as written. What follows the
      // opening ``` is a language name, not shown.
      const close = lines.findIndex((l, j) => j > i && l.startsWith('```'));
      const end = close === -1 ? lines.length : close;
      blocks.push({ type: 'pre', text: lines.slice(i + 1, end).join('\n') });
      i = end;
      continue;
    }
    if (line.startsWith('>')) {
      if (para.length) { blocks.push({ type: 'para', children: parseInline(para.join('\n')) }); para = []; }
      quote.push(line.replace(/^> ?/, ''));
    } else {
      if (quote.length) { blocks.push({ type: 'quote', children: parseInline(quote.join('\n')) }); quote = []; }
      para.push(line);
    }
  }
  flush();
  return blocks;
}

// What may be part of a user name after `@` (docs/protocol.md, "Mentions": where a name ends).
const NAME_CHAR = /[A-Za-z0-9._\-\u0080-\uffff]/;
const NAME_CORE = /[A-Za-z0-9\u0080-\uffff]/;

/** The mentioned name that `@` at text[i] starts, if the event mentions it; longest first. */
function mentionAt(text, i, mentions) {
  if (i > 0 && NAME_CHAR.test(text[i - 1])) return null;
  const names = [...(mentions.names || []), ...(mentions.all ? ['channel', 'here'] : [])]
    .sort((a, b) => b.length - a.length);
  for (const name of names) {
    const end = i + 1 + name.length;
    if (text.startsWith(name, i + 1) && !(end < text.length && NAME_CORE.test(text[end]))) return name;
  }
  return null;
}

/** Inline formatting of one block's text. @param {string} text @param {Mentions} [mentions] @returns {Inline[]} */
export function parseInline(text, mentions = {}) {
  const out = [];
  let plain = '';
  const push = (node) => {
    if (plain) out.push({ type: 'text', text: plain });
    plain = '';
    out.push(node);
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (text.startsWith('```', i)) {
      const end = text.indexOf('```', i + 3);
      if (end > i + 3) {
        push({ type: 'code', text: text.slice(i + 3, end) });
        i = end + 3;
        continue;
      }
    }
    if (ch === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i + 1) {
        push({ type: 'code', text: text.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    } else if (ch === '*' && text[i + 1] === '*') {
      const end = closing(text, '**', i + 2);
      if (end !== -1) {
        push({ type: 'strong', children: parseInline(text.slice(i + 2, end), mentions) });
        i = end + 2;
        continue;
      }
    } else if (ch === '*') {
      const end = closing(text, '*', i + 1);
      if (end !== -1) {
        push({ type: 'em', children: parseInline(text.slice(i + 1, end), mentions) });
        i = end + 1;
        continue;
      }
    } else if (ch === '[') {
      const m = /^\[([^\]\n]+)\]\(([^)\s]+)\)/.exec(text.slice(i));
      const href = m && safeHref(m[2]);
      if (href && /^https?:\/\//i.test(m[2])) {
        push({ type: 'link', href, text: m[1] });
        i += m[0].length;
        continue;
      }
    } else if (ch === '@' && (mentions.names || mentions.all)) {
      const name = mentionAt(text, i, mentions);
      if (name) {
        push({ type: 'mention', text: `@${name}`, name });
        i += 1 + name.length;
        continue;
      }
    } else if ((ch === 'h' || ch === 'H') && (i === 0 || !/[\w/]/.test(text[i - 1]))) {
      URL_RE.lastIndex = i;
      const m = URL_RE.exec(text);
      if (m) {
        const raw = m[0].replace(TRAILING, '');
        const href = safeHref(raw);
        if (href && raw.length > 'https://'.length - 1) {
          push({ type: 'link', href, text: raw });
          i += raw.length;
          continue;
        }
      }
    }
    plain += ch;
    i++;
  }
  if (plain) out.push({ type: 'text', text: plain });
  return out;
}

/** Where the closing `mark` of a span opened just before `from` is: not after a space, not empty. */
function closing(text, mark, from) {
  if (from >= text.length || /\s/.test(text[from])) return -1;
  for (let j = text.indexOf(mark, from + 1); j !== -1; j = text.indexOf(mark, j + 1)) {
    if (mark === '*' && text[j + 1] === '*') { j++; continue; } // part of a **
    if (!/\s/.test(text[j - 1])) return j;
  }
  return -1;
}

/**
 * Builds the body as DOM nodes (text nodes and elements only) into `parent`.
 * @param {Document} doc
 * @param {Element} parent
 * @param {string} text
 * @param {Mentions & {me?: string}} [mentions] whom the event mentions; `me`: that one is marked as me
 */
export function render(doc, parent, text, mentions = {}) {
  const blocks = parse(text, mentions);
  const me = mentions.me;
  if (blocks.length === 1 && blocks[0].type === 'para') {
    inline(doc, parent, blocks[0].children, me); // the usual one-paragraph message: no wrapper
    return;
  }
  for (const block of blocks) {
    if (block.type === 'pre') {
      const pre = doc.createElement('pre');
      const code = doc.createElement('code');
      code.textContent = block.text;
      pre.append(code);
      parent.append(pre);
    } else if (block.type === 'quote') {
      const q = doc.createElement('blockquote');
      inline(doc, q, block.children, me);
      parent.append(q);
    } else {
      const p = doc.createElement('p');
      inline(doc, p, block.children, me);
      parent.append(p);
    }
  }
}

function inline(doc, parent, nodes, me) {
  for (const n of nodes) {
    if (n.type === 'text') {
      parent.append(doc.createTextNode(n.text));
    } else if (n.type === 'mention') {
      const span = doc.createElement('span');
      span.className = n.name === me || n.name === 'channel' || n.name === 'here' ? 'mention-name to-me' : 'mention-name';
      span.textContent = n.text;
      parent.append(span);
    } else if (n.type === 'code') {
      const code = doc.createElement('code');
      code.textContent = n.text;
      parent.append(code);
    } else if (n.type === 'link') {
      const a = doc.createElement('a');
      a.href = n.href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.textContent = n.text;
      parent.append(a);
    } else {
      const span = doc.createElement(n.type);
      inline(doc, span, n.children, me);
      parent.append(span);
    }
  }
}
