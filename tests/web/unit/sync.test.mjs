// The web client's catch-up (sync.js) against a fake connection that pages a log as the server does
// (docs/protocol.md, "Catch-up"): paging while `more`, a gap in live delivery, a change of epoch.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ChannelLog, KEEP_EVENTS } from '../../../examples/web/js/channel-log.js';
import { Sync } from '../../../examples/web/js/sync.js';

const msg = (seq, body = `m${seq}`) => ({ seq, type: 'message', from: 'bo', body, ts: seq });

/**
 * A connection whose sync() serves `server.events` (seqs 1..n of `server.epoch`) in pages of
 * `pageSize`, recording each request's `since` and each page. With `hold`, each page (made when
 * asked, as the server would) is delivered only at release(), so a test can act while it travels.
 */
function fakeConn({ epoch = 'e1', events = [], pageSize = 3, hold = false } = {}) {
  const server = { epoch, events, requests: [], pages: [], waiting: [] };
  server.sync = async (channel, since) => {
    server.requests.push(since);
    const after = server.events.filter((e) => e.seq > since);
    const events = after.slice(0, pageSize);
    const head = server.events.length ? server.events.at(-1).seq : 0;
    const page = { ok: true, kind: 'sync', channel, epoch: server.epoch, since,
      next: events.length ? events.at(-1).seq : since, head, more: after.length > events.length, events };
    server.pages.push(page);
    if (hold) await new Promise((resolve) => server.waiting.push(resolve));
    return page;
  };
  server.release = () => server.waiting.splice(0).forEach((resolve) => resolve());
  return server;
}

/** A Sync over `conn`, and what its hooks report. */
function syncWith(conn) {
  const seen = { applied: [], synced: 0, errors: [] };
  const sync = new Sync(conn, {
    onApplied: (c, ev) => seen.applied.push(ev.seq),
    onSynced: () => { seen.synced++; },
    onError: (c, err) => seen.errors.push(err.code),
  });
  return { sync, seen };
}

/** A channel's state as chat.js makes it from the inbox: `head` and `epoch` as the inbox said. */
const channel = (epoch, head, saved = {}) => ({ channel: 'general', epoch, head,
  log: new ChannelLog('general', saved), synced: false });

const until = async (cond, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('a catch-up pages with since = next while more, applying each event once, in order', async () => {
  const conn = fakeConn({ events: Array.from({ length: 8 }, (_, i) => msg(i + 1)) });
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', 8);
  await sync.catchUp(c);
  assert.deepEqual(conn.requests, [0, 3, 6]);
  for (let i = 1; i < conn.pages.length; i++) assert.equal(conn.requests[i], conn.pages[i - 1].next);
  assert.deepEqual(conn.pages.map((p) => p.more), [true, true, false]);
  assert.deepEqual(seen.applied, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(c.log.events.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(c.synced, true);
  assert.equal(seen.synced, 1);
  assert.deepEqual(seen.errors, []);

  // Later events arrive: the next catch-up starts from the cursor, not from the start.
  conn.events.push(msg(9), msg(10));
  await sync.catchUp(c);
  assert.deepEqual(conn.requests.slice(3), [8]);
  assert.equal(c.head, 10);
  assert.deepEqual(seen.applied.slice(8), [9, 10]);
});

test('a log with nothing yet starts at the window the client keeps, not at the first event', async () => {
  const conn = fakeConn({ events: Array.from({ length: KEEP_EVENTS + 20 }, (_, i) => msg(i + 1)), pageSize: 1000 });
  const { sync } = syncWith(conn);
  const c = channel('e1', KEEP_EVENTS + 20);
  await sync.catchUp(c);
  assert.deepEqual(conn.requests, [20]);
  assert.equal(c.log.events.length, KEEP_EVENTS);
  assert.equal(c.log.last, KEEP_EVENTS + 20);
});

test('a live event after a gap is not applied: it starts a catch-up, which fills the gap in order', async () => {
  const conn = fakeConn({ events: [msg(1), msg(2), msg(3)] });
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', 3);
  await sync.catchUp(c);
  assert.equal(c.log.last, 3);

  conn.events.push(msg(4), msg(5), msg(6));
  assert.equal(sync.offer(c, msg(6)), 'gap'); // 4 and 5 were lost on the way
  assert.equal(c.log.last, 3);
  await until(() => c.log.last === 6);
  assert.deepEqual(conn.requests, [0, 3]);
  assert.deepEqual(seen.applied, [1, 2, 3, 4, 5, 6]);
  assert.equal(sync.offer(c, msg(6)), 'duplicate'); // its live copy, late: nothing to do
  assert.equal(sync.offer(c, msg(7)), 'applied');
  assert.equal(c.head, 7);
  assert.deepEqual(conn.requests, [0, 3]);
});

test('a gap while a catch-up runs does not start a second one: the first goes round once more', async () => {
  const conn = fakeConn({ events: [msg(1), msg(2)], hold: true });
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', 2);
  const running = sync.catchUp(c);
  await until(() => conn.waiting.length === 1);
  conn.events.push(msg(3), msg(4)); // written after the page was made; only 4 reaches us live
  assert.equal(sync.offer(c, msg(4)), 'gap');
  assert.equal(conn.requests.length, 1); // no second request in flight
  conn.release();
  await until(() => conn.waiting.length === 1);
  assert.equal(conn.pages[0].more, false); // the page said it was all, yet it asks again
  conn.release();
  await running;
  assert.deepEqual(conn.requests, [0, 2]);
  assert.deepEqual(seen.applied, [1, 2, 3, 4]);
  assert.equal(seen.synced, 1);
});

test('a page of another epoch drops the log held and starts again from the new log', async () => {
  // An earlier visit kept 1..5 of epoch e1; the channel was recreated meanwhile (epoch e2, 2 events).
  const old = new ChannelLog('general');
  for (let seq = 1; seq <= 5; seq++) old.offer(msg(seq, `old ${seq}`));
  old.epoch = 'e1';
  const conn = fakeConn({ epoch: 'e2', events: [msg(1, 'new 1'), msg(2, 'new 2')] });
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', 5, JSON.parse(JSON.stringify(old)));
  await sync.catchUp(c);
  assert.deepEqual(conn.requests, [5, 0]); // the page after 5 says e2: nothing of it applied, from 0 again
  assert.equal(c.log.epoch, 'e2');
  assert.deepEqual(c.log.events.map((e) => e.body), ['new 1', 'new 2']);
  assert.deepEqual(seen.applied, [1, 2]);
  assert.equal(c.synced, true);
});

test('a refused page is reported, and the next catch-up starts from where it got to', async () => {
  const conn = fakeConn({ events: [msg(1), msg(2), msg(3), msg(4)] });
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', 4);
  const page = conn.sync;
  conn.sync = async (channel, since) => {
    if (since === 3) throw Object.assign(new Error('the connection was lost'), { code: 'disconnected' });
    return page(channel, since);
  };
  await sync.catchUp(c);
  assert.deepEqual(seen.errors, ['disconnected']);
  assert.equal(c.synced, false);
  assert.equal(c.log.last, 3);
  conn.sync = page;
  await sync.catchUp(c); // not stuck as "running"
  assert.deepEqual(conn.requests, [0, 3]);
  assert.equal(c.log.last, 4);
  assert.equal(c.synced, true);
});
