// Unit tests of the browser client's pure modules: the convergence rule and the timeline fold.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ChannelLog, KEEP_EVENTS } from '../../../examples/web/js/channel-log.js';
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

test('a new epoch drops the old history; the first epoch seen does not', () => {
  const log = new ChannelLog('general');
  assert.equal(log.adoptEpoch('e1', 40), false);
  assert.equal(log.last, 40);
  log.offer(msg(41));
  assert.equal(log.adoptEpoch('e1'), false);
  assert.equal(log.adoptEpoch('e2', 0), true);
  assert.deepEqual(log.events, []);
  assert.equal(log.last, 0);
});

test('the kept history is bounded and remembers where it starts', () => {
  const log = new ChannelLog('general');
  for (let i = 1; i <= KEEP_EVENTS + 20; i++) log.offer(msg(i));
  assert.equal(log.events.length, KEEP_EVENTS);
  assert.equal(log.first, 20);
  const again = new ChannelLog('general', JSON.parse(JSON.stringify(log)));
  assert.equal(again.last, KEEP_EVENTS + 20);
  assert.equal(again.offer(msg(KEEP_EVENTS + 21)), 'applied');
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
