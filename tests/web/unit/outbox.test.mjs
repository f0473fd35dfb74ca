// The web client's outbox (outbox.js) against a scripted connection: what it does with the server's
// "not now" refusals and with "no", with a lost connection and with a reload. Then the same outbox in
// a Chat (chat.js) given fakes for what it would take from the browser: no global is needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Outbox } from '../../../examples/web/js/outbox.js';
import { Chat } from '../../../examples/web/js/chat.js';
import { ChatError } from '../../../examples/web/js/connection.js';
import { ChatStorage } from '../../../examples/web/js/storage.js';

/** A connection whose sends are answered from a script: each entry an ack or a ChatError. */
function scriptedConn(answers) {
  const sent = [];
  const conn = {
    clientId: 'web-ada-test',
    send: async (channel, body) => {
      sent.push(body.client_msg_id);
      const next = answers.shift();
      if (next instanceof Error) throw next;
      return next;
    },
    // the ack names seq 4, beyond what a fresh Chat holds: it catches up, and finds nothing new
    sync: async (channel, since) => ({ ok: true, kind: 'sync', channel, epoch: 'e', since, next: since,
      head: since, more: false, events: [] }),
    syncBefore: async (channel, before) => ({ ok: true, kind: 'sync', channel, epoch: 'e', since: 0, before,
      first: before, next: 0, head: 0, more: false, events: [] }),
    start() {},
    signal() {},
    stop() {},
  };
  return { conn, sent };
}

/** An Outbox over scriptedConn(answers); what it reports through its hooks is collected. */
function outboxWith(answers, saved = []) {
  const { conn, sent } = scriptedConn(answers);
  const acked = [];
  const toasts = [];
  const outbox = new Outbox(conn, {
    onAcked: (item) => acked.push(item.seq),
    onFailed: (item, err) => toasts.push(err),
    onChange() {},
  }, saved);
  return { outbox, sent, acked, toasts };
}

const until = async (cond, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('unavailable and rate_limited are retried with the same client_msg_id, after retry_after_ms', async () => {
  const { outbox, sent, acked, toasts } = outboxWith([
    new ChatError('unavailable', 'storage failed', { retry_after_ms: 20 }),
    new ChatError('rate_limited', 'slow down', { retry_after_ms: 20 }),
    { ok: true, kind: 'ack', seq: 4 },
  ]);
  outbox.add('general', { client_msg_id: 'm1', body: 'hello' });
  await until(() => sent.length === 3);
  assert.equal(new Set(sent).size, 1);
  await until(() => [...outbox.values()].every((i) => i.state === 'acked'));
  assert.deepEqual(acked, [4]);
  assert.deepEqual(toasts, []);
  outbox.stop();
});

test('a refusal that retrying cannot fix fails the message at once, shown, and Retry sends it again', async () => {
  const { outbox, sent, toasts } = outboxWith([
    new ChatError('too_large', 'body is 20000 bytes', { code: 'too_large' }),
    { ok: true, kind: 'ack', seq: 4 },
  ]);
  outbox.add('general', { client_msg_id: 'm1', body: 'x' });
  await until(() => [...outbox.values()].some((i) => i.state === 'failed'));
  assert.equal(sent.length, 1);
  assert.equal(toasts[0].code, 'too_large');
  assert.deepEqual(outbox.toJSON(), []); // a failed message waits for the user, not for a reload
  const [id] = outbox.keys();
  outbox.retry(id);
  await until(() => sent.length === 2);
  assert.equal(sent[1], id);
  outbox.stop();
});

test('a lost connection leaves the message queued for the reconnect, not failed', async () => {
  const { outbox, sent } = outboxWith([new ChatError('disconnected', 'the connection was lost'),
    { ok: true, kind: 'ack', seq: 4 }]);
  outbox.add('general', { client_msg_id: 'm1', body: 'later' });
  await until(() => sent.length === 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal([...outbox.values()][0].state, 'sending');
  assert.equal(sent.length, 1);
  outbox.resend(); // the reconnect
  await until(() => [...outbox.values()][0].state === 'acked');
  assert.deepEqual(sent, ['m1', 'm1']);
  outbox.stop();
});

test('what a reload kept is sent again with its client_msg_id; junk is dropped', async () => {
  const lost = new ChatError('disconnected', 'the connection was lost');
  const { outbox: before, sent: sentBefore } = outboxWith([lost]);
  before.add('general', { client_msg_id: 'm1', body: 'kept' });
  await until(() => sentBefore.length === 1);
  const saved = JSON.parse(JSON.stringify(before.toJSON()));
  const { outbox, sent } = outboxWith([{ ok: true, kind: 'ack', seq: 4 }],
    [...saved, null, { channel: 'general' }, { channel: 'general', body: { body: 'no id' } }]);
  assert.equal(outbox.size, 1);
  outbox.resend();
  await until(() => sent.length === 1);
  assert.deepEqual(sent, ['m1']);
  outbox.stop();
});

test('in a Chat given fakes, a message leaves the outbox once its event is in the log', async () => {
  const memory = () => {
    const m = new Map();
    return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)) };
  };
  const { conn, sent } = scriptedConn([{ ok: true, kind: 'ack', seq: 4 }]);
  // the server's log holds 1..3 and, when the ack comes, 4 has not arrived live: a catch-up finds 1..3
  const joins = ['ada', 'bo', 'cy'].map((user, i) => ({ seq: i + 1, type: 'join', user, from: user }));
  conn.sync = async (channel, since) => ({ ok: true, kind: 'sync', channel, epoch: 'e', since, next: 3, head: 3,
    more: false, events: joins.filter((e) => e.seq > since) });
  conn.syncBefore = async (channel, before) => {
    const events = joins.filter((e) => e.seq < before);
    return { ok: true, kind: 'sync', channel, epoch: 'e', since: 0, before, first: events.length ? events[0].seq : before,
      next: events.length ? events.at(-1).seq : 0, head: 3, more: false, events };
  };
  const storage = new ChatStorage({ local: memory(), session: memory() });
  let watching = 0;
  const visibility = { isVisible: () => true, onChange: () => { watching++; return () => { watching--; }; } };
  const chat = new Chat({ user: 'ada', conn, storage, visibility }, () => {});
  assert.equal(watching, 1);
  chat.status = 'online';
  chat.channels.set('general', chat.channelState({ channel: 'general', epoch: 'e', visibility: 'public', head: 3 }));
  chat.open = 'general';
  chat.sendMessage('hello');
  await until(() => sent.length === 1 && chat.channels.get('general').synced);
  assert.equal(chat.outbox.get(sent[0]).state, 'acked');
  assert.equal(chat.pendingFor(chat.channels.get('general')).length, 1); // still shown from the outbox
  chat.onEvent('chat/general', { seq: 4, type: 'message', from: 'ada', client_msg_id: sent[0], body: 'hello',
    ts: 1 });
  assert.equal(chat.outbox.size, 0);
  assert.deepEqual(chat.toasts, []);
  chat.stop();
  assert.equal(watching, 0);
  assert.deepEqual(storage.load('ada').outbox, []);
  assert.equal(storage.load('ada').channels.general.last, 4);
});
