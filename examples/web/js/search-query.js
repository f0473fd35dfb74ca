// search-query.js - what the search box's text means, and a result's snippet as pieces (pure).
//
// The box takes words as the server's `search` op does (docs/protocol.md, "Search"), plus two
// filters a person types among them: `in:#design` (or `in:design`) narrows to one channel, and
// `from:@ada` (or `from:ada`) to one author. They become the op's `channel` and `from` fields; the
// rest, quotes and `*` included, is the op's `query` as typed. No DOM, no network.

const FILTER = /(^|\s)(in|from):([#@]?)(\S*)/gi;

/**
 * @param {string} text what is in the search box
 * @returns {{query: string, channel?: string, from?: string}} the op's fields (`query` may be empty:
 *   then there is nothing to ask). A filter given twice keeps the last; an empty one (`in:`) is dropped.
 */
export function parseSearch(text) {
  const out = { query: '' };
  const rest = String(text).replace(FILTER, (all, space, key, sigil, value) => {
    if (value) out[key.toLowerCase() === 'in' ? 'channel' : 'from'] = value;
    return space;
  });
  out.query = rest.replace(/\s+/g, ' ').trim();
  return out;
}

/**
 * A snippet with its hits between « and » as pieces: [{text, hit}], in order, the marks removed. An
 * unclosed « makes the rest a hit; a » with no « before it is kept as text (a body may hold one).
 */
export function splitSnippet(snippet) {
  const pieces = [];
  let hit = false;
  let text = '';
  const flush = () => { if (text) pieces.push({ text, hit }); text = ''; };
  for (const ch of String(snippet)) {
    if (ch === '«' && !hit) { flush(); hit = true; }
    else if (ch === '»' && hit) { flush(); hit = false; }
    else text += ch;
  }
  flush();
  return pieces;
}

/**
 * Results grouped by channel, the groups in the order their first result came (newest first), each
 * keeping its results' order. `results` may be several pages' worth, concatenated.
 * @param {{channel: string}[]} results @returns {{channel: string, results: object[]}[]}
 */
export function groupByChannel(results) {
  const groups = new Map();
  for (const r of results) {
    if (!groups.has(r.channel)) groups.set(r.channel, { channel: r.channel, results: [] });
    groups.get(r.channel).results.push(r);
  }
  return [...groups.values()];
}
