// Chat's mentions, notification levels and threads (examples/web/js/chat.js) with a fake connection:
// the inbox's counts and levels, desktop notifications for live messages only and as the level says,
// the level set through the server, and a thread's events merged from the op and the log.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Chat } from '../../../examples/web/js/chat.js';
import { ChatStorage } from '../../../examples/web/js/storage.js';

function memory() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)) };
}

const INBOX = [
  { channel: 'general', epoch: 'e', visibility: 'public', head: 3, read: 1, unread: 2, mentions: 1, notify: 'none' },
  { channel: 'dm-x', epoch: 'e', visibility: 'dm', user: 'bo', head: 0, read: 0, unread: 0, mentions: 0, notify: 'mentions' },
  { channel: 'design', epoch: 'e', visibility: 'public', head: 0, read: 0 }, // an older server: no mentions, no notify
];

function setup(api = async () => ({})) {
  const shown = [];
  const asked = [];
  const conn = { clientId: 'c1', replyTopic: 'chat/_reply/c1', stop() {}, signal() {},
    api: async (op, fields) => {
      asked.push({ op, ...fields });
      if (op === 'channels') return { channels: INBOX };
      if (op === 'members') return { members: [] };
      return api(op, fields);
    } };
  const storage = new ChatStorage({ local: memory(), session: memory() });
  const page = { visible: false };
  const visibility = { isVisible: () => page.visible, onChange: () => () => {} };
  const notifier = { show: (title, body, tag, onClick) => shown.push({ title, body, tag, onClick }) };
  const chat = new Chat({ user: 'cy', conn, storage, visibility, notifier }, () => {});
  chat.sync.catchUp = () => {}; // no catch-up traffic: the tests feed the logs
  return { chat, shown, asked, page };
}

function open(c, epoch = 'e') { c.log.openAt(epoch, [], false); }

test('the inbox gives each channel its mention count and level (all when the server says none)', async () => {
  const { chat } = setup();
  await chat.refreshInbox();
  const general = chat.channels.get('general');
  assert.equal(general.notify, 'none');
  assert.equal(chat.mentionCount(general), 1, 'not synced: the server\'s count');
  assert.equal(chat.channels.get('design').notify, 'all');
  assert.equal(chat.mentionCount(chat.channels.get('design')), 0);
  chat.stop();
});

test('live messages notify as the level says, only while hidden; catch-up pages never do', async () => {
  const { chat, shown, page } = setup();
  await chat.refreshInbox();
  for (const c of chat.channels.values()) open(c);
  const msg = (channel, seq, fields = {}) => chat.onEvent(`chat/${channel}`,
    { channel, seq, type: 'message', from: 'ada', ts: seq, body: `m${seq}`, ...fields });
  msg('general', 1, { mentions: ['cy'] }); // muted: nothing, even a mention
  msg('design', 1); // all
  msg('design', 2, { from: 'cy' }); // my own
  msg('dm-x', 1, { from: 'bo' }); // mentions level: a DM counts
  page.visible = true;
  msg('design', 3); // on screen: nothing
  page.visible = false;
  chat.sync.offer(chat.channels.get('design'), { seq: 4, type: 'message', from: 'ada', body: 'paged' }); // a page's event
  assert.deepEqual(shown.map((n) => `${n.tag}|${n.title}|${n.body}`),
    ['design:1|ada in #design|m1', 'dm-x:1|bo in a direct message|m1']);
  shown[1].onClick();
  assert.equal(chat.open, 'dm-x', 'clicking it opens the channel');
  chat.stop();
});

test('the level is set through the server; a refusal is a toast and changes nothing', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { chat, asked } = setup(async (op, fields) => {
    if (fields.channel === 'design') return { ok: true, channel: 'design', level: fields.level };
    const err = new Error('not a member'); err.code = 'not_member'; throw err;
  });
  await chat.refreshInbox();
  assert.equal(await chat.setNotify('design', 'mentions'), true);
  assert.equal(chat.channels.get('design').notify, 'mentions');
  assert.deepEqual(asked.filter((a) => a.op === 'notify'), [{ op: 'notify', channel: 'design', level: 'mentions' }]);
  assert.equal(await chat.setNotify('general', 'all'), false);
  assert.equal(chat.channels.get('general').notify, 'none');
  assert.equal(chat.toasts[0].code, 'not_member');
  chat.stop();
});

test('a synced channel counts mentions from its events above the read cursor', async () => {
  const { chat } = setup();
  await chat.refreshInbox();
  const c = chat.channels.get('general');
  open(c);
  for (const ev of [{ seq: 1, type: 'message', from: 'ada', mentions: ['cy'] }, { seq: 2, type: 'message', from: 'ada', mentions_all: true },
    { seq: 3, type: 'message', from: 'ada' }]) c.log.offer(ev);
  c.synced = true;
  c.read = 1;
  assert.equal(chat.mentionCount(c), 1);
  c.read = 3;
  assert.equal(chat.mentionCount(c), 0);
  chat.stop();
});

test('a thread: the op\'s pages, then what the log holds; replies sent with thread, kept out of the pane', async () => {
  const pages = [
    { root: { seq: 4, type: 'message', from: 'ada', body: 'root' }, replies: [{ seq: 5, type: 'message', from: 'bo', thread: 4, body: 'r1' }], next: 5, more: true },
    { root: { seq: 4, type: 'message', from: 'ada', body: 'root' }, replies: [{ seq: 7, type: 'reaction', target: 5, emoji: '👍', from: 'cy' }], next: 7, more: false },
  ];
  const { chat, asked } = setup(async (op) => (op === 'thread' ? pages.shift() : {}));
  await chat.refreshInbox();
  const c = chat.channels.get('design');
  chat.open = 'design';
  await chat.openThread('design', 4);
  assert.deepEqual(asked.filter((a) => a.op === 'thread').map((a) => a.since), [0, 5]);
  assert.deepEqual(chat.threadEvents().map((e) => e.seq), [4, 5, 7]);
  // The log holds seqs 6..9 (it opened after the root): a live reply and an edit of the root arrive.
  c.log.openAt('e', [{ seq: 6, type: 'message', from: 'ada', body: 'main' }], true);
  c.log.offer({ seq: 7, type: 'reaction', target: 5, emoji: '👍', from: 'cy' });
  c.log.offer({ seq: 8, type: 'message', from: 'bo', thread: 4, body: 'r2' });
  c.log.offer({ seq: 9, type: 'edit', target: 4, from: 'ada', body: 'root!' });
  assert.deepEqual(chat.threadEvents().map((e) => e.seq), [4, 5, 7, 8, 9]);
  chat.outbox.send = () => {}; // not sent in this test: only queued
  chat.sendReply('r3');
  chat.sendMessage('in the channel');
  const queued = [...chat.outbox.values()].map((i) => i.body);
  assert.equal(queued.find((b) => b.body === 'r3').thread, 4);
  assert.deepEqual(chat.pendingFor(c).map((i) => i.body.body), ['in the channel']);
  assert.deepEqual(chat.threadPending().map((i) => i.body.body), ['r3']);
  chat.openChannel('general');
  assert.equal(chat.thread, null, 'opening another channel closes the panel');
  chat.stop();
});
