// The web client's catch-up (sync.js) against a fake connection that pages a log as the server does
// (docs/protocol.md, "Catch-up" and "Extension: reading backwards"): opening a channel at its newest
// page, older pages prepended on demand, paging while `more`, a gap in live delivery, a change of epoch.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ChannelLog } from '../../../examples/web/js/channel-log.js';
import { Sync, OPEN_PAGE, OLDER_PAGE } from '../../../examples/web/js/sync.js';

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
  // Backward pages ({"before":B}, "Extension: reading backwards"): the newest events below B.
  server.before = [];
  server.syncBefore = async (channel, before, limit) => {
    server.before.push(before);
    const below = server.events.filter((e) => e.seq < before);
    const events = below.slice(Math.max(0, below.length - limit));
    const head = server.events.length ? server.events.at(-1).seq : 0;
    const page = { ok: true, kind: 'sync', channel, epoch: server.epoch, since: 0, before,
      first: events.length ? events[0].seq : before, next: events.length ? events.at(-1).seq : 0, head,
      more: below.length > events.length, events };
    server.pages.push(page);
    if (hold) await new Promise((resolve) => server.waiting.push(resolve));
    return page;
  };
  server.release = () => server.waiting.splice(0).forEach((resolve) => resolve());
  return server;
}

/** A Sync over `conn`, and what its hooks report. */
function syncWith(conn) {
  const seen = { applied: [], synced: 0, errors: [], older: [] };
  const sync = new Sync(conn, {
    onApplied: (c, ev) => seen.applied.push(ev.seq),
    onSynced: () => { seen.synced++; },
    onError: (c, err) => seen.errors.push(err.code),
    onOlder: (c) => seen.older.push(c.loadingOlder),
  });
  return { sync, seen };
}

/**
 * A channel's state as chat.js makes it from the inbox: `head` and `epoch` as the inbox said.
 * `saved` is what an earlier visit kept (a log of that epoch is caught up forward from its last seq).
 */
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
  const c = channel('e1', 8, { epoch: 'e1' }); // an earlier visit of this epoch kept its cursor, 0
  await sync.catchUp(c);
  assert.deepEqual(conn.requests, [0, 3, 6]);
  assert.deepEqual(conn.before, []);
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

test('a log with nothing opens at the newest page, goes forward from it, and pages older on demand', async () => {
  const total = OPEN_PAGE + OLDER_PAGE + 50;
  const conn = fakeConn({ events: Array.from({ length: total }, (_, i) => msg(i + 1)), pageSize: 1000 });
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', total - 10); // the inbox is a little behind: 10 more were written since
  await sync.catchUp(c);
  // one page before head + 1, then forward from its top for what came since: never from seq 0
  assert.deepEqual(conn.before, [total - 10 + 1]);
  assert.deepEqual(conn.requests, [total - 10]);
  assert.equal(c.log.first, total - 10 - OPEN_PAGE);
  assert.equal(c.log.last, total);
  assert.equal(c.head, total);
  assert.equal(c.synced, true);
  assert.equal(c.log.hasOlder(), true);
  // older pages: before = first + 1, each ending exactly where the log starts
  while (c.log.hasOlder()) {
    const first = c.log.first;
    const asked = sync.loadOlder(c);
    assert.equal(c.loadingOlder, true);
    sync.loadOlder(c); // asking again while one travels asks nothing more
    await asked;
    assert.equal(c.loadingOlder, false);
    assert.equal(conn.before.at(-1), first + 1);
    assert.ok(conn.before.length < 10, 'older pages end');
  }
  assert.deepEqual(conn.before.slice(1), [total - 10 - OPEN_PAGE + 1, total - 10 - OPEN_PAGE - OLDER_PAGE + 1]);
  assert.equal(conn.pages.at(-1).more, false);
  assert.equal(c.log.complete, true);
  assert.deepEqual(c.log.events.map((e) => e.seq), Array.from({ length: total }, (_, i) => i + 1));
  assert.equal(new Set(seen.applied).size, seen.applied.length); // nothing applied twice
  assert.deepEqual(seen.older, [true, false, true, false]);
  await sync.loadOlder(c); // nothing older: nothing asked
  assert.equal(conn.before.length, 3);
});

test('live events arriving while an older page travels: both ends grow, with no gap or duplicate', async () => {
  const conn = fakeConn({ events: Array.from({ length: 2 * OPEN_PAGE }, (_, i) => msg(i + 1)), pageSize: 1000 });
  const { sync } = syncWith(conn);
  const c = channel('e1', 2 * OPEN_PAGE);
  await sync.catchUp(c);
  assert.equal(c.log.first, OPEN_PAGE);
  conn.events.push(msg(2 * OPEN_PAGE + 1), msg(2 * OPEN_PAGE + 2));
  const waiting = [];
  const page = conn.syncBefore;
  conn.syncBefore = async (...args) => { const p = await page(...args); await new Promise((r) => waiting.push(r)); return p; };
  const older = sync.loadOlder(c);
  await until(() => waiting.length === 1);
  assert.equal(sync.offer(c, msg(2 * OPEN_PAGE + 1)), 'applied');
  assert.equal(sync.offer(c, msg(2 * OPEN_PAGE + 2)), 'applied');
  waiting[0]();
  await older;
  assert.deepEqual(c.log.events.map((e) => e.seq), Array.from({ length: 2 * OPEN_PAGE + 2 }, (_, i) => i + 1));
  assert.equal(c.log.first, 0);
});

test('an older page of another epoch is not prepended: the log is dropped and reopened at the new head', async () => {
  const conn = fakeConn({ events: Array.from({ length: OPEN_PAGE + 5 }, (_, i) => msg(i + 1, `old ${i + 1}`)), pageSize: 1000 });
  const { sync } = syncWith(conn);
  const c = channel('e1', OPEN_PAGE + 5);
  await sync.catchUp(c);
  assert.equal(c.log.first, 5);
  // the channel is recreated (epoch e2, 3 events) before the reader scrolls up
  conn.epoch = 'e2';
  conn.events = [msg(1, 'new 1'), msg(2, 'new 2'), msg(3, 'new 3')];
  await sync.loadOlder(c);
  await until(() => c.log.epoch === 'e2' && c.synced && !sync.running.has(c));
  assert.deepEqual(c.log.events.map((e) => e.body), ['new 1', 'new 2', 'new 3']);
  assert.deepEqual([c.log.first, c.log.last, c.head, c.log.hasOlder()], [0, 3, 3, false]);
  assert.deepEqual(conn.before, [OPEN_PAGE + 6, 6, 4]); // the first page, the refused older one, the reopening
});

test('live events while the first page travels: applied once, the gap they leave filled going forward', async () => {
  const conn = fakeConn({ events: Array.from({ length: 150 }, (_, i) => msg(i + 1)), hold: true });
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', 150);
  const running = sync.catchUp(c);
  await until(() => conn.waiting.length === 1);
  conn.events.push(msg(151), msg(152));
  assert.equal(sync.offer(c, msg(152)), 'gap'); // 151 went missing live; nothing held yet either
  conn.release();
  await until(() => conn.waiting.length === 1);
  assert.deepEqual(conn.before, [151]);
  assert.deepEqual(conn.requests, [150]); // forward from the first page's top
  conn.release();
  await running;
  assert.deepEqual(c.log.events.map((e) => e.seq), Array.from({ length: OPEN_PAGE + 2 }, (_, i) => 151 - OPEN_PAGE + i));
  assert.deepEqual(seen.applied, c.log.events.map((e) => e.seq));
  assert.equal(sync.offer(c, msg(151)), 'duplicate');
  assert.equal(seen.synced, 1);
});

test('a refused older page is reported and not asked again at once', async () => {
  const conn = fakeConn({ events: Array.from({ length: OPEN_PAGE + 5 }, (_, i) => msg(i + 1)), pageSize: 1000 });
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', OPEN_PAGE + 5);
  await sync.catchUp(c);
  conn.syncBefore = async () => { throw Object.assign(new Error('slow down'), { code: 'rate_limited' }); };
  await sync.loadOlder(c);
  await sync.loadOlder(c);
  assert.deepEqual(seen.errors, ['rate_limited']);
  assert.equal(c.loadingOlder, false);
  assert.equal(c.log.first, 5);
  assert.equal(c.log.hasOlder(), true);
});

test('a live event after a gap is not applied: it starts a catch-up, which fills the gap in order', async () => {
  const conn = fakeConn({ events: [msg(1), msg(2), msg(3)] });
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', 3, { epoch: 'e1' });
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
  const c = channel('e1', 2, { epoch: 'e1' });
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
  // the page after 5 says e2: nothing of it applied; the new log opens at its newest (before head + 1)
  assert.deepEqual(conn.requests, [5]);
  assert.deepEqual(conn.before, [3]);
  assert.equal(c.log.epoch, 'e2');
  assert.deepEqual(c.log.events.map((e) => e.body), ['new 1', 'new 2']);
  assert.deepEqual(seen.applied, [1, 2]);
  assert.equal(c.synced, true);
});

test('a refused page is reported, and the next catch-up starts from where it got to', async () => {
  const conn = fakeConn({ events: [msg(1), msg(2), msg(3), msg(4)] });
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', 4, { epoch: 'e1' });
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

test('a catch-up that retention truncated opens at the newest events instead of asking for the gap again', async () => {
  // seqs 1..20 existed; retention kept 15..20. The log last saw seq 4.
  const conn = fakeConn({ events: Array.from({ length: 6 }, (_, i) => msg(i + 15)), pageSize: 1000 });
  const plain = conn.sync;
  conn.sync = async (channel, since) => {
    const page = await plain(channel, since);
    if (since < 14) Object.assign(page, { truncated: true, first: 15 });
    return page;
  };
  const { sync, seen } = syncWith(conn);
  const c = channel('e1', 20, { epoch: 'e1', last: 4, first: 0, events: [1, 2, 3, 4].map((s) => msg(s)) });
  await sync.catchUp(c);
  assert.deepEqual(conn.requests.slice(0, 1), [4]);
  assert.ok(conn.requests.length <= 3, `asked ${conn.requests.length} times`);
  assert.deepEqual(c.log.events.map((e) => e.seq), [15, 16, 17, 18, 19, 20]);
  assert.equal(c.synced, true);
  assert.deepEqual(seen.errors, []);
});
