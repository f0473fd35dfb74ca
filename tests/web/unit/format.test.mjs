// The page's wording helpers and the message window (examples/web/js/format.js, window.js): plurals,
// names typed with # or @, day labels, which messages share a header, and which rows are drawn.
import test from 'node:test';
import assert from 'node:assert/strict';
import { channelName, continues, dayLabel, GROUP_MS, plural, userName } from '../../../examples/web/js/format.js';
import { indexOfSeq, shiftDown, shiftUp, windowSlice } from '../../../examples/web/js/window.js';

test('plurals', () => {
  assert.equal(plural(1, 'member'), '1 member');
  assert.equal(plural(2, 'member'), '2 members');
  assert.equal(plural(0, 'member'), '0 members');
  assert.equal(plural(1, 'person', 'people'), '1 person');
  assert.equal(plural(3, 'person', 'people'), '3 people');
});

test('a channel typed with its #, a user with an @', () => {
  assert.equal(channelName('#general'), 'general');
  assert.equal(channelName('  # general '), 'general');
  assert.equal(channelName('general'), 'general');
  assert.equal(channelName('c#'), 'c#');
  assert.equal(userName('@bo'), 'bo');
  assert.equal(userName(' bo '), 'bo');
});

test('day labels: Today, Yesterday, else the date', () => {
  const now = new Date(2026, 11, 6, 9, 30).getTime();
  assert.equal(dayLabel(new Date(2026, 11, 6, 0, 1).getTime(), now), 'Today');
  assert.equal(dayLabel(new Date(2026, 11, 5, 23, 59).getTime(), now), 'Yesterday');
  const older = dayLabel(new Date(2026, 11, 1, 12).getTime(), now, 'en-US');
  assert.match(older, /December 1/);
  assert.doesNotMatch(older, /2026/);
  assert.match(dayLabel(new Date(2025, 0, 2).getTime(), now, 'en-US'), /2025/);
  // across a month boundary
  assert.equal(dayLabel(new Date(2026, 10, 30, 20).getTime(), new Date(2026, 11, 1, 8).getTime()), 'Yesterday');
});

test('grouping: same author, same day, a few minutes apart, no divider between', () => {
  const t = new Date(2026, 11, 6, 10).getTime();
  const m = (seq, from, ts) => ({ kind: 'message', seq, from, ts });
  assert.equal(continues(m(1, 'ada', t), m(2, 'ada', t + 60000)), true);
  assert.equal(continues(m(1, 'ada', t), m(2, 'ada', t + GROUP_MS + 1)), false);
  assert.equal(continues(m(1, 'ada', t), m(2, 'bo', t + 1000)), false);
  assert.equal(continues(null, m(2, 'ada', t)), false);
  assert.equal(continues({ kind: 'member', seq: 1, ts: t }, m(2, 'ada', t)), false);
  assert.equal(continues(m(1, 'ada', t), m(2, 'ada', t + 1000), 1), false); // the unread divider is between
  const late = new Date(2026, 11, 6, 23, 59, 30).getTime();
  assert.equal(continues(m(1, 'ada', late), m(2, 'ada', late + 60000)), false); // past midnight
});

test('the window: the newest rows, or from a seq, bounded in size', () => {
  const rows = Array.from({ length: 1000 }, (_, i) => ({ seq: (i + 1) * 2 })); // seqs 2, 4, ..., 2000
  assert.equal(indexOfSeq(rows, 2), 0);
  assert.equal(indexOfSeq(rows, 3), 1);
  assert.equal(indexOfSeq(rows, 5000), 1000);
  assert.deepEqual(windowSlice(rows, null, 200), { lo: 800, hi: 1000 });
  assert.deepEqual(windowSlice(rows, 2, 200), { lo: 0, hi: 200 });
  assert.deepEqual(windowSlice(rows, 101, 200), { lo: 50, hi: 250 });
  assert.deepEqual(windowSlice(rows, 1990, 200), { lo: 800, hi: 1000 }); // never shorter than it can be
  assert.deepEqual(windowSlice(rows.slice(0, 10), null, 200), { lo: 0, hi: 10 });
  assert.equal(shiftUp(rows, 50, 100), 2);
  assert.equal(shiftUp(rows, 300, 100), rows[200].seq);
  assert.equal(shiftUp(rows, 102, 100, 200), rows[60].seq); // keeps row 200 and 60 rows after it drawn
  assert.equal(shiftUp(rows, 102, 100, 110), rows[2].seq);
  assert.equal(shiftDown(rows, 300, 100, 200), rows[400].seq);
  assert.equal(shiftDown(rows, 750, 100, 200), null); // reaches the newest: follow
});
