// The search box (examples/web/js/search-query.js, search.js): filters typed in the box become the
// op's fields, snippets split into hits and text, results grouped by channel, pages followed by
// cursor, and an older question's answer dropped.
import test from 'node:test';
import assert from 'node:assert/strict';
import { groupByChannel, parseSearch, splitSnippet } from '../../../examples/web/js/search-query.js';
import { Search } from '../../../examples/web/js/search.js';

test('in:#channel and from:@user become the op\'s channel and from; the rest is the query', () => {
  assert.deepEqual(parseSearch('roadmap in:#design from:@ada'), { query: 'roadmap', channel: 'design', from: 'ada' });
  assert.deepEqual(parseSearch('in:design from:ada road*'), { query: 'road*', channel: 'design', from: 'ada' });
  assert.deepEqual(parseSearch('  "quarterly road"*   review '), { query: '"quarterly road"* review' });
  assert.deepEqual(parseSearch('IN:#ops x'), { query: 'x', channel: 'ops' });
  assert.deepEqual(parseSearch('in:#a in:#b x'), { query: 'x', channel: 'b' }, 'the last one wins');
  assert.deepEqual(parseSearch('in: x'), { query: 'x' }, 'an empty filter is dropped');
  assert.deepEqual(parseSearch('from:@bo'), { query: '', from: 'bo' }, 'only a filter: nothing to ask');
  // Only whole words are filters: "login:x" and "main:#x" are words.
  assert.deepEqual(parseSearch('login:x domain:y'), { query: 'login:x domain:y' });
  assert.deepEqual(parseSearch(''), { query: '' });
});

test('a snippet\'s « » hits become pieces; stray marks stay text', () => {
  assert.deepEqual(splitSnippet('the «roadmap» review «is»'), [
    { text: 'the ', hit: false }, { text: 'roadmap', hit: true }, { text: ' review ', hit: false }, { text: 'is', hit: true }]);
  assert.deepEqual(splitSnippet('«a»«b»'), [{ text: 'a', hit: true }, { text: 'b', hit: true }]);
  assert.deepEqual(splitSnippet('x » y'), [{ text: 'x » y', hit: false }]);
  assert.deepEqual(splitSnippet('<img src=x> «<b>»'), [{ text: '<img src=x> ', hit: false }, { text: '<b>', hit: true }]);
  assert.deepEqual(splitSnippet('open «end'), [{ text: 'open ', hit: false }, { text: 'end', hit: true }]);
  assert.deepEqual(splitSnippet(''), []);
});

test('results grouped by channel, in the order their first result came', () => {
  const r = (channel, seq) => ({ channel, seq });
  assert.deepEqual(groupByChannel([r('b', 9), r('a', 8), r('b', 7), r('c', 3)]).map((g) => `${g.channel}:${g.results.map((x) => x.seq)}`),
    ['b:9,7', 'a:8', 'c:3']);
});

function fakeServer(matches, pageSize) {
  const asked = [];
  return {
    asked,
    async api(op, fields) {
      asked.push({ op, ...fields });
      const start = fields.cursor ? Number(fields.cursor.slice(3)) : 0;
      const results = matches.slice(start, start + pageSize);
      const next = start + pageSize < matches.length ? `v1:${start + pageSize}` : null;
      return { ok: true, results, cursor: next };
    },
  };
}

test('asks with the parsed fields, follows the cursor, and stops at the end', async () => {
  const rows = [1, 2, 3, 4, 5].map((i) => ({ channel: i % 2 ? 'a' : 'b', seq: 10 - i, snippet: `«x» ${i}` }));
  const conn = fakeServer(rows, 2);
  const s = new Search(conn, () => {});
  await s.ask('x in:#a');
  assert.deepEqual(conn.asked[0], { op: 'search', query: 'x', channel: 'a', limit: 20 });
  assert.equal(s.results.length, 2);
  assert.equal(s.hasMore(), true);
  await s.more();
  await s.more();
  assert.deepEqual(s.results.map((r) => r.seq), [9, 8, 7, 6, 5]);
  assert.equal(s.hasMore(), false);
  assert.deepEqual(conn.asked.map((a) => a.cursor), [undefined, 'v1:2', 'v1:4']);
  await s.more(); // nothing left: nothing asked
  assert.equal(conn.asked.length, 3);
  await s.ask('from:@ada'); // only a filter: nothing asked, nothing shown
  assert.equal(conn.asked.length, 3);
  assert.deepEqual(s.results, []);
});

test('an answer to an older question is dropped; an error is kept for the box', async () => {
  let release;
  const conn = {
    async api(op, fields) {
      if (fields.query === 'slow') await new Promise((r) => { release = r; });
      if (fields.query === 'bad') { const e = new Error('query has no words'); e.code = 'bad_request'; throw e; }
      return { results: [{ channel: 'a', seq: fields.query.length }], cursor: null };
    },
  };
  const s = new Search(conn, () => {});
  const slow = s.ask('slow');
  await s.ask('quick');
  release();
  await slow;
  assert.deepEqual(s.results.map((r) => r.seq), [5]);
  await s.ask('bad');
  assert.equal(s.error.code, 'bad_request');
  assert.equal(s.loading, false);
});

test('a stale answer (the index still behind) is kept for the box until the next question', async () => {
  let stale = true;
  const conn = { async api() { return { results: [], cursor: null, ...(stale ? { stale: true } : {}) }; } };
  const s = new Search(conn, () => {});
  await s.ask('x');
  assert.equal(s.stale, true);
  stale = false;
  await s.ask('y');
  assert.equal(s.stale, false);
});
