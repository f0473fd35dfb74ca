// The web client's outbox (chat.js) against a scripted connection: what it does with the server's
// "not now" refusals and with "no". The browser globals it touches are given as plain objects.
import test from 'node:test';
import assert from 'node:assert/strict';

const memory = () => {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
};
globalThis.localStorage = memory();
globalThis.sessionStorage = memory();
globalThis.document = { visibilityState: 'visible', addEventListener() {}, removeEventListener() {} };

const { Chat } = await import('../../../examples/web/js/chat.js');
const { ChatError } = await import('../../../examples/web/js/connection.js');

/** A Chat whose connection answers sends from a script: each entry an ack or a ChatError. */
function chatWith(answers) {
  const chat = new Chat({ url: 'ws://unused', username: 'ada', password: 'x' }, () => {});
  const sent = [];
  chat.conn = {
    send: async (channel, body) => {
      sent.push(body.client_msg_id);
      const next = answers.shift();
      if (next instanceof Error) throw next;
      return next;
    },
    // the ack names seq 4, beyond what this client holds: it catches up, and finds nothing new
    sync: async (channel, since) => ({ ok: true, kind: 'sync', channel, epoch: 'e', since, next: since,
      head: since, more: false, events: [] }),
    signal() {},
    stop() {},
  };
  chat.status = 'online';
  chat.channels.set('general', chat.channelState({ channel: 'general', epoch: 'e', visibility: 'public', head: 3 }));
  chat.open = 'general';
  return { chat, sent };
}

const until = async (cond, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('unavailable and rate_limited are retried with the same client_msg_id, after retry_after_ms', async () => {
  const { chat, sent } = chatWith([
    new ChatError('unavailable', 'storage failed', { retry_after_ms: 20 }),
    new ChatError('rate_limited', 'slow down', { retry_after_ms: 20 }),
    { ok: true, kind: 'ack', seq: 4 },
  ]);
  chat.sendMessage('hello');
  await until(() => sent.length === 3);
  assert.equal(new Set(sent).size, 1);
  await until(() => [...chat.outbox.values()].every((i) => i.state === 'acked'));
  assert.deepEqual(chat.toasts, []);
  chat.stop();
});

test('a refusal that retrying cannot fix fails the message at once, shown, and Retry sends it again', async () => {
  const { chat, sent } = chatWith([
    new ChatError('too_large', 'body is 20000 bytes', { code: 'too_large' }),
    { ok: true, kind: 'ack', seq: 4 },
  ]);
  chat.sendMessage('x');
  await until(() => [...chat.outbox.values()].some((i) => i.state === 'failed'));
  assert.equal(sent.length, 1);
  assert.equal(chat.toasts[0].code, 'too_large');
  const [id] = chat.outbox.keys();
  chat.retry(id);
  await until(() => sent.length === 2);
  assert.equal(sent[1], id);
  chat.stop();
});

test('a lost connection leaves the message queued for the reconnect, not failed', async () => {
  const { chat, sent } = chatWith([new ChatError('disconnected', 'the connection was lost')]);
  chat.sendMessage('later');
  await until(() => sent.length === 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal([...chat.outbox.values()][0].state, 'sending');
  assert.equal(sent.length, 1);
  chat.stop();
});
