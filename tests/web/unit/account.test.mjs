// Chat's account requests (examples/web/js/chat.js): a refusal comes back to the caller, who shows it
// (a dialog shows no_such_user inside itself: no toast, nothing created); without `quiet` it is a toast.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Chat } from '../../../examples/web/js/chat.js';
import { ChatError } from '../../../examples/web/js/connection.js';
import { ChatStorage } from '../../../examples/web/js/storage.js';

function memory() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)) };
}

function chatWith(api) {
  const conn = { clientId: 'c1', replyTopic: 'chat/_reply/c1', api, stop() {}, signal() {} };
  const storage = new ChatStorage({ local: memory(), session: memory() });
  const visibility = { isVisible: () => true, onChange: () => () => {} };
  return new Chat({ user: 'ada', conn, storage, visibility }, () => {});
}

test('a refused dm resolves with the error; quiet: no toast, and no inbox refresh', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] }); // the toast's 6 s timer: not waited for
  const asked = [];
  const chat = chatWith(async (op, fields) => {
    asked.push(op);
    if (op === 'dm' || op === 'invite') throw new ChatError('no_such_user', `there is no user ${fields.user}`);
    return { channels: [] };
  });
  const result = await chat.openDm('zed', { quiet: true });
  assert.equal(result.ok, false);
  assert.equal(result.error.code, 'no_such_user');
  assert.deepEqual(chat.toasts, []);
  assert.deepEqual(asked, ['dm']);
  const loud = await chat.invite('general', 'zed');
  assert.equal(loud.ok, false);
  assert.equal(chat.toasts.length, 1);
  assert.equal(chat.toasts[0].code, 'no_such_user');
  chat.stop();
});

test('an accepted join refreshes the inbox and opens the channel', async () => {
  const chat = chatWith(async (op) => {
    if (op === 'join') return { ok: true, channel: 'general' };
    if (op === 'channels') return { channels: [{ channel: 'general', epoch: 'e', visibility: 'public', head: 0 }] };
    return { members: [] };
  });
  chat.sync.catchUp = () => {}; // no catch-up traffic in this test
  const result = await chat.joinChannel('general', { quiet: true });
  assert.deepEqual(result, { ok: true });
  assert.equal(chat.open, 'general');
  chat.stop();
});
