// Mentions, notification levels and threads in the client (examples/web/js/mentions.js, notify.js,
// timeline.js): the composer's @ autocomplete, who is mentioned, which messages notify, the title,
// and replies folded under their root.
import test from 'node:test';
import assert from 'node:assert/strict';
import { insertMention, matches, mentionAt, mentionsMe, offers } from '../../../examples/web/js/mentions.js';
import { notification, pageTitle, shouldNotify } from '../../../examples/web/js/notify.js';
import { buildTimeline, countMentions, threadEvents } from '../../../examples/web/js/timeline.js';

test('the @name being typed before the caret', () => {
  assert.deepEqual(mentionAt('hi @c', 5), { start: 3, prefix: 'c' });
  assert.deepEqual(mentionAt('@', 1), { start: 0, prefix: '' });
  assert.deepEqual(mentionAt('(@zo', 4), { start: 1, prefix: 'zo' });
  assert.deepEqual(mentionAt('hi @cy there', 6), { start: 3, prefix: 'cy' }, 'caret inside the text');
  assert.equal(mentionAt('ada@example', 11), null, 'an address is no mention');
  assert.equal(mentionAt('hi @cy there', 12), null, 'past a space');
  assert.equal(mentionAt('no at sign', 10), null);
});

test('members offered: by prefix, any case, not me, sorted, bounded', () => {
  const members = ['cy', 'ada', 'Cyrus', 'bo', 'carl'];
  assert.deepEqual(matches(members, 'c', 'ada'), ['Cyrus', 'carl', 'cy']);
  assert.deepEqual(matches(members, 'cy', 'ada'), ['Cyrus', 'cy']);
  assert.deepEqual(matches(members, '', 'ada'), ['Cyrus', 'bo', 'carl', 'cy']);
  assert.deepEqual(matches(members, 'a', 'ada'), []);
  assert.equal(matches([...Array(20).keys()].map((i) => `u${i}`), 'u', 'me').length, 8);
});

test('picking a name puts "@name " in place of what was typed, the caret after it', () => {
  assert.deepEqual(insertMention('hi @c', 3, 5, 'cy'), { text: 'hi @cy ', caret: 7 });
  assert.deepEqual(insertMention('@c and more', 0, 2, 'cy'), { text: '@cy and more', caret: 4 });
  assert.deepEqual(insertMention('x @ y', 2, 3, 'bo'), { text: 'x @bo y', caret: 6 });
});

test('mentionsMe: by name or everyone, never my own message', () => {
  assert.equal(mentionsMe({ from: 'ada', mentions: ['cy'] }, 'cy'), true);
  assert.equal(mentionsMe({ from: 'ada', mentions_all: true }, 'cy'), true);
  assert.equal(mentionsMe({ from: 'ada', mentions: ['bo'] }, 'cy'), false);
  assert.equal(mentionsMe({ from: 'cy', mentions: ['cy'] }, 'cy'), false);
  assert.equal(mentionsMe({ from: 'ada' }, 'cy'), false);
});

test('desktop notifications follow the level, only while the page is hidden', () => {
  const msg = { type: 'message', from: 'ada', body: 'hi' };
  const tag = { type: 'message', from: 'ada', body: '@cy hi', mentions: ['cy'] };
  const all = { type: 'message', from: 'ada', body: '@here', mentions_all: true };
  const base = { me: 'cy', dm: false, visible: false };
  assert.equal(shouldNotify({ ...base, level: 'all', ev: msg }), true);
  assert.equal(shouldNotify({ ...base, ev: msg }), true, 'no level: all');
  assert.equal(shouldNotify({ ...base, level: 'all', ev: msg, visible: true }), false, 'on screen: none');
  assert.equal(shouldNotify({ ...base, level: 'mentions', ev: msg }), false);
  assert.equal(shouldNotify({ ...base, level: 'mentions', ev: tag }), true);
  assert.equal(shouldNotify({ ...base, level: 'mentions', ev: all }), true);
  assert.equal(shouldNotify({ ...base, level: 'mentions', ev: msg, dm: true }), true, 'a DM counts as a mention');
  for (const ev of [msg, tag, all]) assert.equal(shouldNotify({ ...base, level: 'none', ev, dm: true }), false, 'muted');
  assert.equal(shouldNotify({ ...base, level: 'all', ev: { ...msg, from: 'cy' } }), false, 'my own');
  assert.equal(shouldNotify({ ...base, level: 'all', ev: { type: 'edit', from: 'ada', target: 3 } }), false);
  assert.equal(shouldNotify({ ...base, level: 'all', ev: { type: 'join', user: 'bo' } }), false);
  assert.deepEqual(notification(msg, '#general'), { title: 'ada in #general', body: 'hi' });
  assert.equal(notification({ from: 'a', body: 'x'.repeat(300) }, '#g').body.length, 140);
});

test('the title counts unread', () => {
  assert.equal(pageTitle(0), 'mqchat');
  assert.equal(pageTitle(3), '(3) mqchat');
});

const ev = (seq, fields) => ({ seq, ts: 1000 + seq, from: 'ada', type: 'message', body: `m${seq}`, ...fields });

test('replies are folded under their root: count and last reply; the thread builds them', () => {
  const events = [ev(1), ev(2, { thread: 1, from: 'bo' }), ev(3), ev(4, { thread: 1, from: 'cy' }),
    { seq: 5, type: 'reaction', target: 2, emoji: '👍', on: true, from: 'ada' }, ev(6, { thread: 1 }),
    { seq: 7, type: 'delete', target: 6, from: 'ada' }, { seq: 8, type: 'edit', target: 4, body: 'fixed', from: 'cy' }];
  const rows = buildTimeline(events);
  assert.deepEqual(rows.map((r) => `${r.seq}:${r.replyCount}:${r.lastReplyTs}`), ['1:2:1004', '3:0:null']);
  const thread = threadEvents(events, 1);
  assert.deepEqual(thread.map((e) => e.seq), [2, 4, 5, 6, 7, 8]);
  const inPanel = buildTimeline([events[0], ...thread], { replies: true });
  assert.deepEqual(inPanel.map((r) => `${r.seq}:${r.deleted ? 'deleted' : r.body}`), ['1:m1', '2:m2', '4:fixed', '6:deleted']);
  assert.deepEqual(inPanel[1].reactions, [{ emoji: '👍', users: ['ada'] }]);
});

test('rows carry mentions, updated by an edit; the badge counts mentions above the read cursor', () => {
  const events = [ev(1, { mentions: ['cy'] }), ev(2), ev(3, { mentions_all: true }), ev(4, { from: 'cy', mentions: ['cy'] }),
    { seq: 5, type: 'edit', target: 2, from: 'ada', body: '@cy now', mentions: ['cy'] }, ev(6, { mentions: ['cy'] }),
    { seq: 7, type: 'delete', target: 6, from: 'ada' }];
  const rows = buildTimeline(events);
  assert.deepEqual(rows.map((r) => `${r.seq}:${r.mentions.join()}:${r.mentionsAll}`),
    ['1:cy:false', '2:cy:false', '3::true', '4:cy:false', '6::false']);
  assert.equal(countMentions(events, 'cy', 0), 3, '1, 2 (by its edit) and 3; not my own 4, not the deleted 6');
  assert.equal(countMentions(events, 'cy', 2), 2, 'the edit above the cursor still counts for 2');
  assert.equal(countMentions(events, 'cy', 5), 0);
  assert.equal(countMentions([ev(1), ev(2, { from: 'bo' })], 'bo', 0, true), 1, 'in a DM every message from the other');
});

test('@channel and @here are offered once a letter of them is typed', () => {
  const members = ['cy', 'ada', 'carl'];
  assert.deepEqual(offers(members, '', 'ada'), ['carl', 'cy']);
  assert.deepEqual(offers(members, 'c', 'ada'), ['carl', 'cy', 'channel']);
  assert.deepEqual(offers(members, 'h', 'ada'), ['here']);
  assert.deepEqual(offers(['here', 'bo'], 'h', 'bo'), ['here'], 'a member named here is offered once');
});
