// "Browse channels" (examples/web/js/directory.js) against a fake server that pages the directory as
// docs/protocol.md says: by name, `limit` at a time, `next` the name to ask `after`, null at the end.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Directory } from '../../../examples/web/js/directory.js';
import { SessionStore, endSession, keepSession } from '../../../examples/web/js/signin.js';

function fakeServer(names, mine = new Set()) {
  const asked = [];
  return {
    asked,
    async api(op, fields) {
      asked.push({ op, ...fields });
      const after = fields.after || '';
      const rest = names.filter((n) => n > after).sort();
      const page = rest.slice(0, fields.limit);
      return { ok: true, kind: 'api', op, channels: page.map((c) => ({ channel: c, title: c, members: c.length, member: mine.has(c) })),
        next: rest.length > page.length ? page.at(-1) : null };
    },
  };
}

test('pages through the directory in order, and stops at the end', async () => {
  const conn = fakeServer(['general', 'random', 'ops', 'dev', 'art'], new Set(['dev']));
  let changes = 0;
  const dir = new Directory(conn, () => changes++, 2);
  assert.equal(dir.hasMore(), true);
  await dir.more();
  assert.deepEqual(dir.channels.map((c) => c.channel), ['art', 'dev']);
  await dir.more();
  await dir.more();
  assert.deepEqual(dir.channels.map((c) => c.channel), ['art', 'dev', 'general', 'ops', 'random']);
  assert.equal(dir.hasMore(), false);
  await dir.more(); // nothing more to ask
  assert.deepEqual(conn.asked, [{ op: 'directory', limit: 2 }, { op: 'directory', limit: 2, after: 'dev' },
    { op: 'directory', limit: 2, after: 'ops' }]);
  assert.ok(changes >= 6);
  dir.joined('art');
  assert.deepEqual(dir.channels[0], { channel: 'art', title: 'art', members: 4, member: true });
});

test('a refusal is kept to show; a page that comes back after a reset is dropped', async () => {
  let release;
  const conn = {
    calls: 0,
    api() {
      this.calls++;
      if (this.calls === 1) return Promise.reject(Object.assign(new Error('slow down'), { code: 'rate_limited' }));
      return new Promise((resolve) => { release = () => resolve({ channels: [{ channel: 'old' }], next: null }); });
    },
  };
  const dir = new Directory(conn, () => {}, 10);
  await dir.more();
  assert.equal(dir.error.code, 'rate_limited');
  assert.equal(dir.hasMore(), true);
  const pending = dir.more();
  dir.reset();
  release();
  await pending;
  assert.deepEqual(dir.channels, []);
  assert.equal(dir.loading, false);
});

function memory() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k), m };
}

test('stay signed in keeps the user and the token, never a password; sign out revokes and forgets', async () => {
  const local = memory();
  const store = new SessionStore(local);
  const asked = [];
  const conn = { async api(op, fields) {
    asked.push({ op, ...fields });
    if (op === 'session') return { ok: true, op, token: 't0k3n', session: 's1', expires_ts: 99 };
    return { ok: true, op, revoked: 1 };
  } };
  assert.equal(await keepSession(conn, store, 'ada'), true);
  assert.deepEqual(store.load(), { user: 'ada', token: 't0k3n', session: 's1' });
  assert.ok(![...local.m.values()].some((v) => v.includes('pw')));
  await endSession(conn, store);
  assert.deepEqual(asked, [{ op: 'session' }, { op: 'logout', session: 's1' }]);
  assert.equal(store.load(), null);
});

test('a server without sessions: nothing kept; junk in storage is ignored; sign out never hangs', async () => {
  const local = memory();
  const store = new SessionStore(local);
  const refusing = { api: async () => { throw Object.assign(new Error('unknown op'), { code: 'bad_request' }); } };
  assert.equal(await keepSession(refusing, store, 'ada'), false);
  assert.equal(store.load(), null);
  local.setItem('mqchat:v1:session', '{"user":"ada","token":"' + 'x'.repeat(201) + '"}');
  assert.equal(store.load(), null);
  local.setItem('mqchat:v1:session', 'not json');
  assert.equal(store.load(), null);
  const silent = { api: () => new Promise(() => {}) };
  const started = Date.now();
  await endSession(silent, store, 50);
  assert.ok(Date.now() - started < 1000);
});
