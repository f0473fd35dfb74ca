// Unit tests of the browser client's pure modules: the convergence rule and the timeline fold.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ChannelLog, KEEP_EVENTS, MAX_EVENTS } from '../../../examples/web/js/channel-log.js';
import { buildTimeline, countUnread } from '../../../examples/web/js/timeline.js';

const msg = (seq, from = 'ada', extra = {}) => ({ seq, type: 'message', from, body: `m${seq}`, ts: seq, ...extra });

test('events apply once and in order; a gap is reported, not applied', () => {
  const log = new ChannelLog('general');
  assert.equal(log.offer(msg(1)), 'applied');
  assert.equal(log.offer(msg(1)), 'duplicate');
  assert.equal(log.offer(msg(3)), 'gap');
  assert.equal(log.last, 1);
  assert.equal(log.offer(msg(2)), 'applied');
  assert.equal(log.offer(msg(3)), 'applied');
  assert.deepEqual(log.events.map((e) => e.seq), [1, 2, 3]);
});

test('live and catch-up interleaved in any order end with the same sequence', () => {
  const all = Array.from({ length: 50 }, (_, i) => msg(i + 1));
  const log = new ChannelLog('general');
  // live delivery drops every 7th event; catch-up pages of 10 arrive late and overlap
  for (const ev of all) {
    if (ev.seq % 7 !== 0 && log.offer(ev) === 'gap') {
      for (const page of all.filter((e) => e.seq > log.last).slice(0, 10)) log.offer(page);
      log.offer(ev);
    }
  }
  for (const ev of all) log.offer(ev); // a final catch-up from 0 changes nothing
  assert.deepEqual(log.events.map((e) => e.seq), all.map((e) => e.seq));
});

test('the history held is bounded, what is kept for a reload more so, and both remember where they start', () => {
  const log = new ChannelLog('general');
  log.epoch = 'e1';
  for (let i = 1; i <= MAX_EVENTS + 20; i++) log.offer(msg(i));
  assert.equal(log.events.length, MAX_EVENTS);
  assert.equal(log.first, 20);
  assert.equal(log.events[0].seq, 21);
  const kept = JSON.parse(JSON.stringify(log));
  assert.equal(kept.events.length, KEEP_EVENTS);
  assert.equal(kept.first, MAX_EVENTS + 20 - KEEP_EVENTS);
  assert.equal(kept.events[0].seq, kept.first + 1);
  const again = new ChannelLog('general', kept);
  assert.equal(again.last, MAX_EVENTS + 20);
  assert.equal(again.offer(msg(MAX_EVENTS + 21)), 'applied');
  assert.equal(again.hasOlder(), true);
});

const seqs = (log) => log.events.map((e) => e.seq);
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));
const contiguous = (log) => seqs(log).every((s, i) => s === log.first + 1 + i) && log.last === log.first + log.events.length;

test('a log with nothing opens at the newest page, and older pages go in front with no gap or duplicate', () => {
  const log = new ChannelLog('general');
  assert.equal(log.hasOlder(), false); // no epoch yet: nothing to ask below
  assert.deepEqual(log.openAt('e1', range(101, 200), true).map((e) => e.seq), range(101, 200).map((e) => e.seq));
  assert.deepEqual([log.epoch, log.first, log.last, log.hasOlder()], ['e1', 100, 200, true]);
  // the next page down ends exactly at first: in front
  assert.equal(log.prepend(range(91, 100), true).length, 10);
  assert.equal(log.first, 90);
  // a page that overlaps the junction: only what is below first goes in, nothing twice
  assert.equal(log.prepend(range(85, 95), true).length, 6);
  assert.equal(log.first, 84);
  // a page that stops short of first (a gap at the junction): refused, nothing changes
  assert.deepEqual(log.prepend(range(70, 82), true), []);
  // a page with a hole in it: refused
  assert.deepEqual(log.prepend([...range(80, 81), ...range(83, 84)], true), []);
  assert.equal(log.first, 84);
  // live events go on at the other end meanwhile
  assert.equal(log.offer(msg(201)), 'applied');
  assert.equal(log.offer(msg(200)), 'duplicate');
  // the last page: more is false, nothing older remains
  assert.equal(log.prepend(range(1, 84), false).length, 84);
  assert.deepEqual([log.first, log.last, log.complete, log.hasOlder()], [0, 201, true, false]);
  assert.ok(contiguous(log));
  assert.deepEqual(seqs(log), range(1, 201).map((e) => e.seq));
});

test('the first page keeps what was applied live before it arrived', () => {
  // an empty channel: its first events arrive live while the page (made a moment later) travels
  const log = new ChannelLog('general');
  assert.equal(log.offer(msg(1)), 'applied');
  assert.equal(log.offer(msg(2)), 'applied');
  const applied = log.openAt('e1', range(1, 3), false);
  assert.deepEqual(applied.map((e) => e.seq), [3]);
  assert.deepEqual([log.first, log.last, log.hasOlder()], [0, 3, false]);
  assert.ok(contiguous(log));
  // an empty page (a channel with no events yet) leaves an empty log at 0
  const empty = new ChannelLog('general');
  assert.deepEqual(empty.openAt('e1', [], false), []);
  assert.deepEqual([empty.epoch, empty.first, empty.last, empty.hasOlder()], ['e1', 0, 0, false]);
});

test('older pages stop at the bound: the newest events are never dropped for older ones', () => {
  const log = new ChannelLog('general');
  log.openAt('e1', range(1001, 1000 + MAX_EVENTS - 5), true);
  const taken = log.prepend(range(991, 1000), true);
  assert.deepEqual(taken.map((e) => e.seq), [996, 997, 998, 999, 1000]);
  assert.equal(log.events.length, MAX_EVENTS);
  assert.deepEqual([log.first, log.last, log.full, log.hasOlder()], [995, 1000 + MAX_EVENTS - 5, true, false]);
  assert.ok(contiguous(log));
});

test('a reset (another epoch: sync.js) forgets the log and its epoch; the next page opens it afresh', () => {
  const log = new ChannelLog('general');
  log.openAt('e1', range(5, 9), true);
  log.reset();
  assert.deepEqual([log.epoch, log.first, log.last, log.events.length, log.hasOlder()], [null, 0, 0, 0, false]);
  log.openAt('e2', range(1, 2), false);
  assert.deepEqual([log.epoch, log.first, log.last, seqs(log)], ['e2', 0, 2, [1, 2]]);
});

test('the timeline folds edits, deletes and reactions into their messages', () => {
  const rows = buildTimeline([
    { seq: 1, type: 'join', user: 'ada', from: 'ada' },
    msg(2),
    { seq: 3, type: 'edit', target: 2, body: 'edited', from: 'ada' },
    { seq: 4, type: 'reaction', target: 2, emoji: '👍', on: true, from: 'bo' },
    { seq: 5, type: 'reaction', target: 2, emoji: '👍', on: true, from: 'cy' },
    { seq: 6, type: 'reaction', target: 2, emoji: '👍', on: false, from: 'bo' },
    msg(7, 'bo'),
    { seq: 8, type: 'delete', target: 7, from: 'bo' },
    { seq: 9, type: 'edit', target: 7, body: 'too late', from: 'bo' },
    { seq: 10, type: 'future-type' },
  ]);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[0], { kind: 'member', seq: 1, ts: undefined, type: 'join', user: 'ada', from: 'ada' });
  assert.equal(rows[1].body, 'edited');
  assert.equal(rows[1].edited, true);
  assert.deepEqual(rows[1].reactions, [{ emoji: '👍', users: ['cy'] }]);
  assert.equal(rows[2].deleted, true);
  assert.equal(rows[2].body, '');
});

test('unread counts messages from others after the read cursor, as the server does', () => {
  const events = [msg(1, 'bo'), msg(2, 'ada'), { seq: 3, type: 'edit', target: 1, from: 'bo' }, msg(4, 'bo'),
    { seq: 5, type: 'join', user: 'cy', from: 'cy' }, msg(6, 'cy')];
  assert.equal(countUnread(events, 'ada', 0), 3);
  assert.equal(countUnread(events, 'ada', 1), 2);
  assert.equal(countUnread(events, 'ada', 6), 0);
});

test('a message erased by its delete (as catch-up serves it) shows as deleted, and so does its edit', () => {
  const events = [
    msg(1),
    { seq: 2, type: 'message', from: 'ada', ts: 2, deleted: true },
    { seq: 3, type: 'edit', from: 'ada', ts: 3, target: 2, deleted: true },
    { seq: 4, type: 'reaction', from: 'bo', ts: 4, target: 2, emoji: ':+1:' },
    { seq: 5, type: 'delete', from: 'ada', ts: 5, target: 2 },
  ];
  const rows = buildTimeline(events);
  assert.equal(rows.length, 2);
  assert.deepEqual([rows[1].deleted, rows[1].body, rows[1].edited, rows[1].reactions.length], [true, '', false, 0]);
  // the page may end before the delete event: the row is deleted already
  const early = buildTimeline(events.slice(0, 3));
  assert.equal(early[1].deleted, true);
  assert.equal(early[1].body, '');
});
