// e2e.mjs - the browser client (examples/web) in headless Chromium against a real mosquitto with the
// mqchat plugin, which serves the page itself (http_dir) and speaks MQTT over WebSocket to it.
//
// One story, step by step, each step waiting for what a person would see: Ada, Bo and Cy chat in
// #general; Bo sees Ada typing, then her message, and Ada sees her message read; edits, deletes,
// reactions, a DM and a private channel; server errors shown; Cy leaves (browser closed), misses
// messages and comes back to see them once, in order, with the right unread badge; a non-member never
// sees the private channel; the broker is killed and restarted and the clients reconnect and catch up
// without gap or duplicate, sending what was typed while it was down exactly once; Dee opens a channel
// of 3,000 messages at its newest and scrolls up to the first and back, her place kept as pages of
// older messages come in above and new ones below, the page never holding more than 200 rows. Also:
// the first-run guide, Enter in every dialog, `#general` and `@bo` as typed, no_such_user shown in
// the dialog with nothing created, the directory (Browse channels) and its Join, formatted bodies
// with hostile HTML and javascript: links shown as text, toasts clear of the composer, the unread
// divider, day separators and grouping, offline noticed (browser event; silent broker within the
// keepalive), and "Stay signed in" (reload, sign out, a revoked token refused). Then search (Ctrl-K
// and `/`, in: and from: filters, hits marked, every page by cursor, a result opening its channel at
// the message, even one far back in #history), @ mentions (picked from the list, highlighted, a
// mention badge), notification levels (a muted channel makes no desktop notification, a DM does,
// the title counts), threads (replies in the panel, live, the root's count) and files (an image
// dropped on the pane previewed from its thumbnail and opened full size, a PDF downloaded byte for
// byte, an upload cut off and resumed by Retry, too_large shown, a non-member's download refused with
// no_such_media). Every pane is
// compared with the log as catch-up serves it to a TCP client. Screenshots go to MQCHAT_SCREENSHOTS;
// the Chromium timings (docs/benchmarks.md) are printed at the end.
//
// Environment: MQCHAT_PLUGIN and MQCHAT_WEB_DIR (set by ctest), MQCHAT_SCREENSHOTS (default: a
// directory under the OS temp dir), MQCHAT_CHROMIUM (default /usr/bin/chromium).

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { Broker, tcpClient } from './broker.mjs';

const PLUGIN = process.env.MQCHAT_PLUGIN;
const WEB_DIR = process.env.MQCHAT_WEB_DIR;
const SHOTS = process.env.MQCHAT_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'mqchat-shots-'));
const MAX_BODY = 1000;
const WAIT_MS = 15000;
/** The most message rows the client may draw at once (examples/web/js/window.js, WINDOW_ROWS). */
const ROW_BOUND = 200;
const timings = {}; // what the run measured, printed at the end (not asserted)

let browser;
let broker;
const users = {}; // name -> {context, page}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

async function signIn(name, storageState) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, storageState });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`# ${name}: page error: ${err.message}`));
  await page.goto(broker.httpUrl);
  await page.fill('input[name=username]', name);
  await page.fill('input[name=password]', `${name}-pw`);
  await page.click('#signin-form button[type=submit]');
  await page.waitForFunction(() => window.mqchat && window.mqchat.status === 'online' && window.mqchat.inboxLoaded,
    null, { timeout: WAIT_MS });
  users[name] = { context, page };
  return page;
}

/** Waits until the page's locator has exactly this text. */
async function waitText(page, selector, text) {
  await page.waitForFunction(([sel, want]) => {
    const node = document.querySelector(sel);
    return node && node.textContent.trim() === want;
  }, [selector, text], { timeout: WAIT_MS });
}

/** Waits until every send of the page is acknowledged (its outbox is empty). */
async function settled(page) {
  await page.waitForFunction(() => window.mqchat.outbox.size === 0, null, { timeout: WAIT_MS });
}

async function openChannel(page, id) {
  await page.click(`button[data-channel="${id}"]`);
  await page.waitForFunction((ch) => window.mqchat.open === ch, id, { timeout: WAIT_MS });
}

async function send(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

/**
 * The channel dialog: Join or Create (or Enter in the field, which joins), waiting for it to close;
 * on an error it stays open and shows the code inside itself. The name may be typed with its "#".
 */
async function channelDialog(page, name, button, { isPrivate = false, expectError = null, enter = false } = {}) {
  await page.click('#new-channel');
  await page.fill('#dialog-channel input[name=channel]', name);
  if (isPrivate) await page.check('#dialog-channel input[name=private]');
  if (enter) await page.press('#dialog-channel input[name=channel]', 'Enter');
  else await page.click(`#dialog-channel button[value=${button}]`);
  if (expectError) {
    await page.waitForSelector(`#dialog-channel .dialog-error[data-code=${expectError}]`, { timeout: WAIT_MS });
    await page.click('#dialog-channel button[value=cancel]');
    await page.waitForSelector('#dialog-channel', { state: 'hidden', timeout: WAIT_MS });
    return;
  }
  await page.waitForSelector('#dialog-channel', { state: 'hidden', timeout: WAIT_MS });
  await page.waitForFunction((ch) => window.mqchat.open === ch, name.replace(/^#/, ''), { timeout: WAIT_MS });
}

/** Two rectangles on screen overlap. */
function overlaps(a, b) {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

/** What the pane shows: one "seq:text" per row (messages and join/leave lines), in order. */
function paneRows(page) {
  return page.$$eval('#messages li[data-seq]', (lis) => lis.map((li) => {
    const body = li.querySelector('.body');
    return `${li.dataset.seq}:${(body || li.querySelector('span')).textContent}`;
  }));
}

/** The same rows computed from the log as catch-up serves it over TCP. */
async function logRows(channel, user = 'ada') {
  const tcp = await tcpClient(broker, user, `truth-${Date.now()}`);
  try {
    const events = await tcp.history(channel);
    const rows = new Map();
    for (const ev of events) {
      if (ev.type === 'message') rows.set(ev.seq, { seq: ev.seq, text: ev.body });
      else if (ev.type === 'edit' && rows.has(ev.target)) rows.get(ev.target).text = ev.body;
      else if (ev.type === 'delete' && rows.has(ev.target)) rows.get(ev.target).text = 'This message was deleted.';
      else if (ev.type === 'join' || ev.type === 'leave') {
        const verb = ev.type === 'join' ? (ev.from !== ev.user ? `${ev.from} added ${ev.user}` : `${ev.user} joined`)
          : (ev.from !== ev.user ? `${ev.from} removed ${ev.user}` : `${ev.user} left`);
        rows.set(ev.seq, { seq: ev.seq, text: verb });
      }
    }
    return [...rows.values()].map((r) => `${r.seq}:${r.text}`);
  } finally {
    await tcp.end();
  }
}

test.before(async () => {
  assert.ok(PLUGIN && fs.existsSync(PLUGIN), `MQCHAT_PLUGIN must name the built plugin (got ${PLUGIN})`);
  assert.ok(WEB_DIR && fs.existsSync(path.join(WEB_DIR, 'app.js')), `MQCHAT_WEB_DIR must hold the built client (got ${WEB_DIR})`);
  fs.mkdirSync(SHOTS, { recursive: true });
  // The send limit is raised so that a long history can be written quickly (the last step).
  broker = new Broker({ webDir: WEB_DIR, plugin: PLUGIN, extra: [`plugin_opt_max_body ${MAX_BODY}`,
    'plugin_opt_send_rate 100000', 'plugin_opt_send_burst 100000'] });
  await broker.start();
  browser = await chromium.launch({
    executablePath: process.env.MQCHAT_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
  });
});

test.after(async () => {
  if (browser) await browser.close();
  if (broker) {
    await broker.stop();
    broker.cleanup();
  }
  console.log(`# screenshots in ${SHOTS}`);
  console.log(`# Chromium timings: ${JSON.stringify(timings)}`);
});

test('the broker serves the client, and a wrong password is refused in the page', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(broker.httpUrl);
  await page.fill('input[name=username]', 'ada');
  await page.fill('input[name=password]', 'not-her-password');
  await page.click('#signin-form button[type=submit]');
  await waitText(page, '#signin-error', 'Wrong user name or password');
  await context.close();
});

test('a new user is guided: create, browse, message someone; a user who does not exist is refused', async () => {
  const dee = await signIn('dee');
  await dee.waitForSelector('#messages .first-run', { timeout: WAIT_MS });
  assert.deepEqual(await dee.$$eval('.first-run button', (l) => l.map((b) => b.textContent)),
    ['Create a channel', 'Browse channels', 'Message someone']);
  await shot(dee, 'first-run');
  await dee.click('.first-run button[data-first-run=browse]');
  await waitText(dee, '#directory-list .dir-note', 'No public channels yet: create one with +.');
  await dee.click('#dialog-directory button[value=cancel]');
  await dee.click('.first-run button[data-first-run=new-dm]');
  await dee.fill('#dialog-dm input[name=user]', 'zed');
  await dee.press('#dialog-dm input[name=user]', 'Enter');
  await dee.waitForSelector('#dialog-dm .dialog-error[data-code=no_such_user]', { timeout: WAIT_MS });
  assert.match(await dee.textContent('#dialog-dm .dialog-error'), /no_such_user: .*zed/);
  assert.equal(await dee.isVisible('#dialog-dm'), true);
  await shot(dee, 'dm-no-such-user');
  await dee.click('#dialog-dm button[value=cancel]');
  // Nothing was made: the server lists no channel for her.
  const tcp = await tcpClient(broker, 'dee', 'dee-check');
  try {
    assert.deepEqual((await tcp.api('channels')).channels, []);
  } finally {
    await tcp.end();
  }
  await dee.click('.first-run button[data-first-run=new-channel]');
  assert.equal(await dee.evaluate(() => document.activeElement.name), 'channel');
  await dee.click('#dialog-channel button[value=cancel]');
  await users.dee.context.close();
  delete users.dee;
});

test('Ada creates #general, Bo and Cy join it', async () => {
  const ada = await signIn('ada');
  await channelDialog(ada, '#general', 'create'); // typed with its #
  const bo = await signIn('bo');
  await channelDialog(bo, '#general', 'join', { enter: true }); // Enter joins
  const cy = await signIn('cy');
  await channelDialog(cy, 'general', 'join');
  await waitText(ada, '#pane-members .count', '3 members · 3 online');
  assert.deepEqual(await paneRows(ada), ['1:ada joined', '2:bo joined', '3:cy joined']);
});

test('Bo sees Ada typing, then her message; Ada sees it read', async () => {
  const { page: ada } = users.ada;
  const { page: bo } = users.bo;
  await ada.fill('#input', 'Hi Bo');
  await ada.dispatchEvent('#input', 'input');
  await waitText(bo, '#typing', 'ada is typing…');
  await shot(bo, 'bo-sees-ada-typing');
  await ada.press('#input', 'Enter');
  await bo.waitForSelector('#messages li[data-seq="4"] .body:text-is("Hi Bo")', { timeout: WAIT_MS });
  await waitText(bo, '#typing', '');
  // Bo has #general open in a visible page: his client moves his read cursor, Ada sees two ticks.
  await ada.waitForSelector('#messages li[data-seq="4"] .tick.read', { timeout: WAIT_MS });
  await send(bo, 'Hello Ada! 👋');
  await ada.waitForSelector('#messages li[data-seq="5"] .body:text-is("Hello Ada! 👋")', { timeout: WAIT_MS });
  await shot(ada, 'ada-chat');
});

test('edits, deletes and reactions reach the others', async () => {
  const { page: ada } = users.ada;
  const { page: bo } = users.bo;
  await ada.hover('#messages li[data-seq="4"]');
  await ada.click('#messages li[data-seq="4"] button[data-act=edit]');
  await ada.fill('#input', 'Hi Bo, welcome');
  await ada.press('#input', 'Enter');
  await bo.waitForSelector('#messages li[data-seq="4"] .body:text-is("Hi Bo, welcome")', { timeout: WAIT_MS });
  await bo.waitForSelector('#messages li[data-seq="4"] .edited', { timeout: WAIT_MS });
  await bo.hover('#messages li[data-seq="4"]');
  await bo.click('#messages li[data-seq="4"] .actions button[data-emoji="👍"]');
  await waitText(ada, '#messages li[data-seq="4"] .reaction', '👍 1');
  await send(ada, 'oops, wrong channel');
  await bo.waitForSelector('#messages li[data-seq="8"] .body:text-is("oops, wrong channel")', { timeout: WAIT_MS });
  await ada.hover('#messages li[data-seq="8"]');
  await ada.click('#messages li[data-seq="8"] button[data-act=delete]');
  await waitText(bo, '#messages li[data-seq="8"] .body', 'This message was deleted.');
  await settled(ada);
  assert.deepEqual(await paneRows(bo), await logRows('general'));
});

test('the server\'s errors are shown, never swallowed', async () => {
  const { page: ada } = users.ada;
  await send(ada, 'x'.repeat(MAX_BODY + 1));
  await ada.waitForSelector('.msg.failed .error:has-text("too_large")', { timeout: WAIT_MS });
  await ada.waitForSelector('.toast[data-code=too_large]', { timeout: WAIT_MS });
  // The toast is beside the messages, never over the composer or its Send button; and it can be closed.
  const rects = await ada.evaluate(() => [document.querySelector('.toast[data-code=too_large]'),
    document.getElementById('composer')].map((n) => n.getBoundingClientRect().toJSON()));
  assert.ok(!overlaps(rects[0], rects[1]), `the toast ${JSON.stringify(rects[0])} covers the composer ${JSON.stringify(rects[1])}`);
  await shot(ada, 'error-toast');
  await ada.click('.toast[data-code=too_large] button[data-toast]');
  await ada.waitForSelector('.toast[data-code=too_large]', { state: 'detached', timeout: WAIT_MS });
  await ada.click('.msg.failed button[data-act=discard]');
  await ada.waitForSelector('.msg.failed', { state: 'detached', timeout: WAIT_MS });
  await channelDialog(ada, 'no-such-room', 'join', { expectError: 'no_such_channel' });
  assert.equal(await ada.$$eval('#messages li.pending', (l) => l.length), 0);
});

test('a DM and a private channel; a non-member never sees the private one', async () => {
  const { page: ada } = users.ada;
  const { page: bo } = users.bo;
  const { page: cy } = users.cy;
  await ada.click('#new-dm');
  await ada.fill('#dialog-dm input[name=user]', 'bo');
  await ada.press('#dialog-dm input[name=user]', 'Enter'); // Enter opens
  await ada.waitForSelector('#dialog-dm', { state: 'hidden', timeout: WAIT_MS });
  await ada.waitForSelector('#dm-list button .name:text-is("bo")', { timeout: WAIT_MS });
  await ada.waitForSelector('#dm-list button .dot.online', { timeout: WAIT_MS });
  await send(ada, 'just between us');
  await bo.waitForSelector('#dm-list button:has(.name:text-is("ada")) .badge:text-is("1")', { timeout: WAIT_MS });

  await channelDialog(ada, 'ops', 'create', { isPrivate: true });
  await waitText(ada, '#pane-members .count', '1 member · 1 online');
  // Inviting someone who does not exist: the dialog says so and stays open; nobody is added.
  await ada.click('#invite');
  await ada.fill('#dialog-invite input[name=user]', 'zed');
  await ada.press('#dialog-invite input[name=user]', 'Enter');
  await ada.waitForSelector('#dialog-invite .dialog-error[data-code=no_such_user]', { timeout: WAIT_MS });
  assert.match(await ada.textContent('#dialog-invite .dialog-error'), /no_such_user: .*zed/);
  await ada.fill('#dialog-invite input[name=user]', '@bo'); // typed with an @
  await ada.press('#dialog-invite input[name=user]', 'Enter');
  await ada.waitForSelector('#dialog-invite', { state: 'hidden', timeout: WAIT_MS });
  await waitText(ada, '#pane-members .count', '2 members · 2 online');
  await send(ada, 'deploy at 5');
  await bo.waitForSelector('#channel-list button[data-channel=ops] .badge:text-is("1")', { timeout: WAIT_MS });
  await settled(ada);

  // Cy is in neither: nothing of them reaches her page, and joining the private one is refused as if
  // it did not exist (docs/protocol.md, "Private channels"): the answer does not reveal that it does.
  await channelDialog(cy, 'ops', 'join', { expectError: 'no_such_channel' });
  const seen = await cy.evaluate(() => [...window.mqchat.conn.channelsSeen].sort());
  assert.deepEqual(seen, ['general']);
  assert.equal(await cy.$$eval('button[data-channel=ops]', (l) => l.length), 0);
  await shot(bo, 'bo-sidebar-badges');
});

test('Cy goes away, misses messages, comes back to them once, in order, with the right badge', async () => {
  const { page: ada } = users.ada;
  let cy = users.cy.page;
  await openChannel(ada, 'general');
  await ada.waitForSelector('#pane-members li[data-user=cy] .dot.online', { state: 'attached', timeout: WAIT_MS });
  await channelDialog(cy, 'random', 'create');
  await cy.evaluate(() => window.mqchat.flushSave());
  const saved = await users.cy.context.storageState();
  await users.cy.context.close();
  await ada.waitForSelector('#pane-members li[data-user=cy] .dot.offline', { state: 'attached', timeout: WAIT_MS });

  for (const text of ['while you were out 1', 'while you were out 2', 'while you were out 3']) await send(ada, text);
  await settled(ada);

  cy = await signIn('cy', saved);
  await cy.waitForSelector('#channel-list button[data-channel=general] .badge:text-is("3")', { timeout: WAIT_MS });
  await shot(cy, 'cy-returns-unread-badge');
  await openChannel(cy, 'general');
  await cy.waitForSelector('#messages .body:text-is("while you were out 3")', { timeout: WAIT_MS });
  // The unread divider sits where her read cursor was, right above the first message she missed;
  // the three messages Ada wrote in a row share one header.
  const shown = await cy.$$eval('#messages > li', (lis) => lis.map((li) => (li.classList.contains('unread-divider')
    ? 'divider' : li.classList.contains('day') ? `day:${li.textContent}` : li.classList.contains('grouped') ? 'grouped'
      : li.dataset.seq ? 'row' : li.className)));
  assert.deepEqual(shown.slice(-5), ['row', 'divider', 'row', 'grouped', 'grouped']);
  assert.equal(shown.filter((x) => x.startsWith('day:')).join(), 'day:Today');
  assert.equal(await cy.$$eval('#messages li.grouped .author', (l) => l.length), 0);
  await shot(cy, 'cy-unread-divider');
  await cy.waitForSelector('#channel-list button[data-channel=general] .badge', { state: 'detached', timeout: WAIT_MS });
  // Her client moves her read cursor to the end, and the server agrees: no unread left in the inbox.
  await cy.waitForFunction(() => { const c = window.mqchat.channels.get('general'); return c.read === c.log.last; },
    null, { timeout: WAIT_MS });
  const tcp = await tcpClient(broker, 'cy', 'cy-inbox-check');
  try {
    const deadline = Date.now() + WAIT_MS;
    let general;
    do {
      general = (await tcp.api('channels')).channels.find((c) => c.channel === 'general');
    } while (general.unread !== 0 && Date.now() < deadline);
    assert.equal(general.unread, 0);
  } finally {
    await tcp.end();
  }
  const rows = await paneRows(cy);
  assert.deepEqual(rows, await logRows('general'));
  assert.deepEqual(rows.slice(-3).map((r) => r.split(':')[1]),
    ['while you were out 1', 'while you were out 2', 'while you were out 3']);
});

test('browse channels: public ones by name, member counts, Join; bodies formatted, and never as HTML', async () => {
  const { page: ada } = users.ada;
  const { page: bo } = users.bo;
  await channelDialog(ada, 'design', 'create');
  await bo.click('#browse');
  await bo.waitForSelector('#directory-list li[data-channel=design]', { timeout: WAIT_MS });
  const listed = await bo.$$eval('#directory-list li[data-channel]', (lis) => lis.map((li) =>
    `${li.dataset.channel}|${li.querySelector('.dir-count').textContent}|${li.querySelector('button').textContent}`));
  // Public channels only, by name (not ops: private; not the DM), with plural-correct counts.
  assert.deepEqual(listed, ['design|1 member|Join', 'general|3 members|Joined · Open', 'random|1 member|Join']);
  await shot(bo, 'browse-channels');
  await bo.click('#directory-list li[data-channel=design] button[data-join]');
  await waitText(bo, '#directory-list li[data-channel=design] .dir-count', '2 members');
  await waitText(bo, '#directory-list li[data-channel=design] button', 'Joined · Open');
  await bo.waitForFunction(() => window.mqchat.open === 'design', null, { timeout: WAIT_MS });
  await bo.click('#dialog-directory button[value=cancel]');

  await openChannel(ada, 'design');
  const hostile = 'look <img src=x onerror="window.pwned=1"> and [click](javascript:window.pwned=2) '
    + 'or javascript:window.pwned=3 <script>window.pwned=4</script>';
  await send(ada, hostile);
  await send(ada, '**bold** and *soft*, `npm ci`, see https://example.org/docs.');
  await ada.fill('#input', '> a quote\n```\nlet x = "<b>";\n```');
  await ada.press('#input', 'Enter');
  await settled(ada);
  await bo.waitForSelector('#messages pre code', { timeout: WAIT_MS });
  const bodies = await bo.$$eval('#messages li.msg .body', (l) => l.map((b) => b.textContent));
  assert.equal(bodies.at(-3), hostile); // as text, every character of it
  const found = await bo.evaluate(() => {
    const list = document.getElementById('messages');
    return { pwned: window.pwned, img: list.querySelectorAll('img, script').length,
      links: [...list.querySelectorAll('a')].map((a) => `${a.getAttribute('href')}|${a.target}|${a.rel}|${a.textContent}`),
      strong: [...list.querySelectorAll('.body strong')].map((n) => n.textContent),
      em: [...list.querySelectorAll('.body em')].map((n) => n.textContent),
      code: [...list.querySelectorAll('.body code')].map((n) => n.textContent),
      quote: [...list.querySelectorAll('.body blockquote')].map((n) => n.textContent) };
  });
  assert.deepEqual(found, { pwned: undefined, img: 0,
    links: ['https://example.org/docs|_blank|noopener noreferrer|https://example.org/docs'],
    strong: ['bold'], em: ['soft'], code: ['npm ci', 'let x = "<b>";'], quote: ['a quote'] });
  await shot(bo, 'formatting');
  await openChannel(ada, 'general');
  await openChannel(bo, 'general');
});

test('the broker crashes: clients show it, reconnect, catch up, and send what was typed meanwhile once', async () => {
  const { page: ada } = users.ada;
  const { page: bo } = users.bo;
  await openChannel(bo, 'general');
  await broker.kill9();
  await ada.waitForSelector('#status-banner:text-is("Offline: reconnecting…")', { timeout: WAIT_MS });
  await send(ada, 'typed while the broker was down');
  await ada.waitForSelector('.msg.pending .state:text-is("Sending…")', { timeout: WAIT_MS });
  await shot(ada, 'ada-reconnecting');

  await broker.start();
  // A TCP client gets in first, before the browsers' next retry: the browsers learn of its messages
  // live or by catch-up, depending on who is quicker, and must show each once either way.
  const dee = await tcpClient(broker, 'bo', 'bo-phone');
  for (let i = 1; i <= 3; i++) {
    const ack = await dee.send('general', `from Bo's phone ${i}`);
    assert.equal(ack.ok, true, JSON.stringify(ack));
  }
  await dee.end();
  for (const page of [ada, bo]) {
    await page.waitForFunction(() => window.mqchat.status === 'online', null, { timeout: WAIT_MS });
    await page.waitForSelector('#status-banner', { state: 'hidden', timeout: WAIT_MS });
  }
  await settled(ada);
  const truth = await logRows('general');
  assert.equal(truth.filter((r) => r.endsWith(':typed while the broker was down')).length, 1);
  for (const page of [ada, bo]) {
    await page.waitForSelector(`#messages li[data-seq="${truth.at(-1).split(':')[0]}"]`, { timeout: WAIT_MS });
    assert.deepEqual(await paneRows(page), truth);
  }
  await shot(ada, 'ada-after-reconnect');
});

test('going offline is noticed at once from the browser, and within the keepalive from a silent broker', async () => {
  const { page: ada, context } = users.ada;
  // The browser says the network is gone: the banner says so at once.
  let started = Date.now();
  await context.setOffline(true);
  await ada.waitForSelector('#status-banner[data-state=offline]:text-is("Offline: no network")', { timeout: WAIT_MS });
  const offlineMs = Date.now() - started;
  await shot(ada, 'offline');
  await context.setOffline(false);
  await ada.waitForFunction(() => window.mqchat.status === 'online', null, { timeout: WAIT_MS });
  assert.ok(offlineMs < 2000, `offline shown after ${offlineMs} ms`);

  // The broker stops answering without closing anything (SIGSTOP: a hung process or a dead path):
  // only the MQTT keepalive (4 s; lost after 1.5 times that without an answer) can tell.
  started = Date.now();
  broker.pause();
  try {
    await ada.waitForSelector('#status-banner:text-is("Offline: reconnecting…")', { timeout: 25000 });
  } finally {
    broker.resume();
  }
  const silentMs = Date.now() - started;
  console.log(`# offline noticed: browser event ${offlineMs} ms, silent broker ${silentMs} ms`);
  assert.ok(silentMs <= 8000, `a silent broker noticed after ${silentMs} ms (keepalive bound 6 s)`);
  for (const { page } of Object.values(users)) {
    await page.waitForFunction(() => window.mqchat.status === 'online', null, { timeout: 25000 });
  }
});

test('the client fits a phone screen', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 760 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(broker.httpUrl);
  await page.fill('input[name=username]', 'bo');
  await page.fill('input[name=password]', 'bo-pw');
  await page.click('#signin-form button[type=submit]');
  await page.waitForFunction(() => window.mqchat && window.mqchat.inboxLoaded, null, { timeout: WAIT_MS });
  await openChannelFromMenu(page, 'general');
  await page.waitForSelector('#messages .body:text-is("Hi Bo, welcome")', { timeout: WAIT_MS });
  // A new device of Bo's: it saw none of Ada's read moves, and still shows his message to her as read.
  await page.waitForSelector('#messages li[data-seq="5"] .tick.read', { state: 'attached', timeout: WAIT_MS });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
  // The sidebar slides away (a transition): the screenshot waits until it is gone.
  await page.waitForFunction(() => document.querySelector('.sidebar').getBoundingClientRect().right <= 0,
    null, { timeout: WAIT_MS });
  await shot(page, 'bo-phone');
  await context.close();
});

test('stay signed in: a reload goes straight to the channels; sign out forgets; a revoked token is refused', async (t) => {
  // The plugin side ({"op":"session"}, docs/protocol.md) may be absent from this build: then skip.
  const probe = await tcpClient(broker, 'bo', 'bo-session-probe');
  let supported;
  try {
    supported = (await probe.api('session')).ok === true;
  } finally {
    await probe.end();
  }
  if (!supported) {
    t.skip('the broker answers no {"op":"session"}');
    return;
  }
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`# bo (stay): page error: ${err.message}`));
  await page.goto(broker.httpUrl);
  await page.fill('input[name=username]', 'bo');
  await page.fill('input[name=password]', 'bo-pw');
  await page.check('input[name=stay]');
  await page.click('#signin-form button[type=submit]');
  await page.waitForFunction(() => window.mqchat && window.mqchat.status === 'online', null, { timeout: WAIT_MS });
  await page.waitForFunction(() => localStorage.getItem('mqchat:v1:session'), null, { timeout: WAIT_MS });
  const kept = await page.evaluate(() => JSON.parse(localStorage.getItem('mqchat:v1:session')));
  assert.equal(kept.user, 'bo');
  assert.ok(kept.token && kept.token !== 'bo-pw');
  const everything = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.ok(!everything.includes('bo-pw'), 'the password is kept nowhere');

  // Reload: straight to the channel list with the token, no form. Timed (not asserted).
  const started = Date.now();
  await page.reload();
  await page.waitForSelector('#channel-list button[data-channel=general]', { timeout: WAIT_MS });
  timings.reloadToChannelsMs = Date.now() - started;
  assert.equal(await page.isVisible('#signin'), false);
  await page.waitForFunction(() => window.mqchat && window.mqchat.status === 'online', null, { timeout: WAIT_MS });
  await shot(page, 'stay-signed-in-reload');
  const copy = await context.storageState(); // the same token, in another browser profile

  // Sign out: the token is revoked and forgotten; a reload shows the form.
  await page.click('#signout');
  await page.waitForSelector('#signin-form', { timeout: WAIT_MS });
  assert.equal(await page.evaluate(() => localStorage.getItem('mqchat:v1:session')), null);
  await page.reload();
  await page.waitForSelector('#signin-form input[name=password]', { timeout: WAIT_MS });
  assert.equal(await page.isVisible('#app'), false);
  await context.close();

  // The copy's token was revoked by that sign-out: refused, back to the form with why.
  const other = await browser.newContext({ viewport: { width: 1100, height: 720 }, storageState: copy });
  const page2 = await other.newPage();
  await page2.goto(broker.httpUrl);
  await page2.waitForSelector('#signin-error:text-matches("no longer valid")', { timeout: WAIT_MS });
  assert.equal(await page2.evaluate(() => localStorage.getItem('mqchat:v1:session')), null);
  await shot(page2, 'revoked-token');
  await other.close();
});

async function openChannelFromMenu(page, id) {
  await page.click('#menu');
  await openChannel(page, id);
}

/** The first row of the pane (with a seq), and the on-screen top of the row with `seq` (null if none). */
function paneState(page, seq = null) {
  return page.evaluate((want) => {
    const list = document.getElementById('messages');
    const first = list.querySelector('li[data-seq]');
    const row = want === null ? null : list.querySelector(`li[data-seq="${want}"]`);
    return { first: first ? Number(first.dataset.seq) : null, top: row ? row.getBoundingClientRect().top : null,
      rows: list.querySelectorAll('li[data-seq]').length,
      scrollTop: list.scrollTop, atBottom: list.scrollHeight - list.scrollTop - list.clientHeight < 40,
      loading: window.mqchat.channels.get(window.mqchat.open).loadingOlder };
  }, seq);
}

test('a channel of 3,000 messages opens at its newest; scrolling up reaches the first, the place kept', async () => {
  const HISTORY = 3000;
  const eve = await tcpClient(broker, 'eve', 'eve-writer');
  try {
    const created = await eve.api('create', { channel: 'history' });
    assert.equal(created.ok, true, JSON.stringify(created));
    for (let i = 1; i <= HISTORY; i += 250) {
      const batch = [];
      for (let j = i; j < i + 250 && j <= HISTORY; j++) {
        batch.push(eve.client.publishAsync('chat/history', JSON.stringify({ body: `history ${j}` }), { qos: 1 }));
      }
      await Promise.all(batch);
    }
    // seq 1 is eve's join, message n is seq n + 1. A PUBACK may come before the event is committed
    // (the ack on the reply topic says that): wait until the log has them all.
    let tail;
    const deadline = Date.now() + WAIT_MS;
    for (let poll = 0; ; poll++) {
      if (poll) await new Promise((r) => setTimeout(r, 100)); // polling, under the request rate limit
      tail = await eve.request('chat/history/sync', { before: HISTORY + 10, limit: 1 });
      assert.equal(tail.ok, true, JSON.stringify(tail).slice(0, 300));
      if (tail.head >= HISTORY + 1 || Date.now() > deadline) break;
    }
    assert.equal(tail.head, HISTORY + 1, JSON.stringify(tail).slice(0, 300));
    assert.equal(tail.events[0].body, `history ${HISTORY}`);

    const dee = await signIn('dee');
    const newest = HISTORY + 1;
    // Timed (not asserted): from pressing Join to the newest message on screen.
    const joinStarted = Date.now();
    await channelDialog(dee, 'history', 'join');
    // The newest message is there and in view at once, without the whole history loaded.
    await dee.waitForSelector(`#messages li[data-seq="${newest}"] .body:text-is("history ${HISTORY}")`, { timeout: WAIT_MS });
    await dee.waitForFunction(() => {
      const list = document.getElementById('messages');
      return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    }, null, { timeout: WAIT_MS });
    timings.openNewestMs = Date.now() - joinStarted;
    const inView = await dee.evaluate((seq) => {
      const list = document.getElementById('messages').getBoundingClientRect();
      const row = document.querySelector(`#messages li[data-seq="${seq}"]`).getBoundingClientRect();
      return row.top >= list.top && row.bottom <= list.bottom + 1;
    }, newest);
    assert.ok(inView, 'the newest message is in view');
    const opened = await dee.evaluate(() => window.mqchat.channels.get('history').log.first);
    assert.ok(opened > HISTORY / 2, `opened at the newest page, not the whole history (first ${opened})`);
    await shot(dee, 'dee-history-newest');

    // Scrolling to the top moves the window of rows drawn up, or fetches the page before; the row
    // that was on top stays where it was, and the page never holds more than ROW_BOUND rows.
    let scrolls = 0;
    let most = 0;
    for (let state = await paneState(dee); state.first !== 1; state = await paneState(dee)) {
      assert.ok(++scrolls <= 80, `the first message is reached within 80 scrolls (at seq ${state.first})`);
      most = Math.max(most, state.rows);
      assert.ok(state.rows <= ROW_BOUND, `${state.rows} rows in the page`);
      const before = await dee.evaluate(() => {
        const list = document.getElementById('messages');
        list.scrollTop = 0;
        const row = list.querySelector('li[data-seq]');
        return { seq: Number(row.dataset.seq), top: row.getBoundingClientRect().top };
      });
      await dee.waitForFunction((seq) => {
        const first = document.querySelector('#messages li[data-seq]');
        return Number(first.dataset.seq) < seq && !window.mqchat.channels.get('history').loadingOlder;
      }, before.seq, { timeout: WAIT_MS });
      const after = await paneState(dee, before.seq);
      assert.ok(Math.abs(after.top - before.top) <= 2,
        `row ${before.seq} stays in place when older rows come in above it (${before.top} -> ${after.top})`);
    }
    assert.ok(scrolls >= 2, `older messages came in pages (${scrolls} scrolls)`);
    const held = await dee.evaluate(() => window.mqchat.channels.get('history').log.events.length);
    console.log(`# windowed rendering: ${held} events held, at most ${most} rows in the page while scrolling up (${scrolls} scrolls)`);
    assert.ok(held >= HISTORY, `the whole history is held (${held})`);
    await dee.waitForSelector('#messages li[data-seq="2"] .body:text-is("history 1")', { timeout: WAIT_MS });
    await dee.evaluate(() => { document.getElementById('messages').scrollTop = 0; });
    await shot(dee, 'dee-history-first');

    // Someone writes while Dee reads the first messages: her place does not move (the new message is
    // held, not drawn: it is far below the window).
    const reading = await paneState(dee, 2);
    assert.equal(reading.atBottom, false);
    const ack = await eve.send('history', 'while dee reads');
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await dee.waitForFunction((seq) => window.mqchat.channels.get('history').log.last >= seq, ack.seq, { timeout: WAIT_MS });
    await dee.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const still = await paneState(dee, 2);
    assert.ok(Math.abs(still.scrollTop - reading.scrollTop) <= 1, `scrollTop ${reading.scrollTop} -> ${still.scrollTop}`);
    assert.ok(Math.abs(still.top - reading.top) <= 1, `the first message moved (${reading.top} -> ${still.top})`);
    assert.equal(still.first, 1);
    const truth = await logRows('history', 'eve');
    const top = await paneRows(dee);
    assert.deepEqual(top, truth.slice(0, top.length));

    // Back down to the newest: the window follows, still bounded, and the new message is at the end.
    for (let i = 0; ; i++) {
      assert.ok(i <= 80, 'the newest message is reached within 80 scrolls');
      const state = await paneState(dee);
      assert.ok(state.rows <= ROW_BOUND, `${state.rows} rows in the page`);
      if (await dee.$(`#messages li[data-seq="${ack.seq}"]`)) break;
      const last = await dee.evaluate(() => {
        const list = document.getElementById('messages');
        list.scrollTop = list.scrollHeight;
        return Number([...list.querySelectorAll('li[data-seq]')].at(-1).dataset.seq);
      });
      await dee.waitForFunction((seq) => Number([...document.querySelectorAll('#messages li[data-seq]')].at(-1).dataset.seq) > seq,
        last, { timeout: WAIT_MS });
    }
    const bottom = await paneRows(dee);
    assert.deepEqual(bottom, truth.slice(truth.length - bottom.length));
    assert.equal(bottom.at(-1), `${ack.seq}:while dee reads`);
  } finally {
    await eve.end();
  }
});

/** Whether the broker answers `op` (a helper's probe: a build without it answers "unknown op"). */
async function answers(op, fields) {
  const tcp = await tcpClient(broker, 'ada', `probe-${op}-${Date.now()}`);
  try {
    const reply = await tcp.api(op, fields);
    return reply.ok === true || !/unknown op/.test(reply.message || '');
  } finally {
    await tcp.end();
  }
}

/** Whether the row with `seq` of the page's message pane is wholly in view. */
function rowInView(page, seq, list = '#messages') {
  return page.evaluate(([sel, s]) => {
    const box = document.querySelector(sel).getBoundingClientRect();
    const row = document.querySelector(`${sel} li[data-seq="${s}"]`);
    if (!row) return false;
    const r = row.getBoundingClientRect();
    return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
  }, [list, seq]);
}

const shared = {}; // what one of the tests below leaves for the next: the seq of the message searched for

test('search: Ctrl-K or /, filters, hits marked, more results; a result opens its channel at the message', async (t) => {
  if (!(await answers('search', { query: 'probe' }))) {
    t.skip('the broker answers no {"op":"search"}');
    return;
  }
  const { page: ada } = users.ada;
  const { page: bo } = users.bo;
  await openChannel(ada, 'design');
  await send(ada, 'the quarterly roadmap review is on friday');
  await settled(ada);
  const root = await ada.evaluate(() => window.mqchat.channels.get('design').log.last);
  shared.root = root;
  // Eighty more below it, so that it is far out of view at the bottom of #design.
  const tcp = await tcpClient(broker, 'ada', 'ada-filler');
  try {
    await Promise.all(Array.from({ length: 80 }, (_, i) => tcp.send('design', `filler line ${i + 1}`)));
  } finally {
    await tcp.end();
  }
  await openChannel(bo, 'general');
  await bo.waitForFunction((seq) => window.mqchat.channels.get('design').log.last >= seq + 80, root, { timeout: WAIT_MS });

  // "/" outside the composer opens the box; Esc closes it; Ctrl-K opens it from the composer too.
  await bo.click('#pane-title');
  await bo.keyboard.press('/');
  await bo.waitForSelector('#dialog-search[open]', { timeout: WAIT_MS });
  await bo.keyboard.press('Escape');
  await bo.waitForSelector('#dialog-search', { state: 'hidden', timeout: WAIT_MS });
  await bo.focus('#input');
  await bo.keyboard.press('Control+k');
  await bo.waitForSelector('#dialog-search[open]', { timeout: WAIT_MS });
  assert.equal(await bo.evaluate(() => document.activeElement.id), 'search-input');
  assert.equal(await bo.inputValue('#input'), '', 'the key went to the search box, not the composer');

  // Every page of a common word, by cursor.
  await bo.fill('#search-input', 'filler in:#design');
  await bo.press('#search-input', 'Enter');
  await bo.waitForFunction(() => document.querySelectorAll('#search-results .search-hit').length === 20, null, { timeout: WAIT_MS });
  for (let shown = 20; shown < 80; shown += 20) {
    await bo.click('#search-more');
    await bo.waitForFunction((n) => document.querySelectorAll('#search-results .search-hit').length === n, shown + 20, { timeout: WAIT_MS });
  }
  await bo.waitForSelector('#search-more', { state: 'hidden', timeout: WAIT_MS });
  const seqs = await bo.$$eval('#search-results .search-hit', (l) => l.map((b) => Number(b.dataset.seq)));
  assert.equal(new Set(seqs).size, 80, 'each match once');
  assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');

  // from: a filter as typed; hits are <mark>s made from text.
  await bo.fill('#search-input', 'from:@ada roadmap');
  await bo.press('#search-input', 'Enter');
  await bo.waitForSelector(`#search-results .search-hit[data-seq="${root}"]`, { timeout: WAIT_MS });
  assert.deepEqual(await bo.$$eval('#search-results .search-group h3', (l) => l.map((h) => h.textContent)), ['# design']);
  assert.deepEqual(await bo.$$eval(`#search-results .search-hit[data-seq="${root}"] mark`, (l) => l.map((m) => m.textContent)), ['roadmap']);
  assert.equal(await bo.textContent(`#search-results .search-hit[data-seq="${root}"] .snippet`), 'the quarterly roadmap review is on friday');
  await shot(bo, 'search-results');
  await bo.fill('#search-input', 'roadmap from:bo');
  await bo.press('#search-input', 'Enter');
  await waitText(bo, '#search-results .search-note', 'No messages match.');

  // A result opens #design scrolled to the message, highlighted for a moment.
  await bo.fill('#search-input', 'quarterly roadmap');
  await bo.press('#search-input', 'Enter');
  await bo.click(`#search-results .search-hit[data-seq="${root}"]`);
  await bo.waitForSelector('#dialog-search', { state: 'hidden', timeout: WAIT_MS });
  await bo.waitForFunction(() => window.mqchat.open === 'design', null, { timeout: WAIT_MS });
  await bo.waitForSelector(`#messages li[data-seq="${root}"].flash`, { timeout: WAIT_MS });
  assert.equal(await rowInView(bo, root), true, 'the message found is in view');
  assert.equal(await rowInView(bo, root + 80), false, 'the channel opened at the message, not at its end');
  await shot(bo, 'search-opened-at-message');
});

test('mentions: Ada picks @cy from the list; Cy sees it highlighted, with a mention badge', async () => {
  const { page: ada } = users.ada;
  const { page: cy } = users.cy;
  await openChannel(ada, 'general');
  await waitText(ada, '#pane-members .count', '3 members · 3 online');
  await openChannel(cy, 'random');
  await ada.click('#input');
  await ada.keyboard.type('@');
  await ada.waitForSelector('#mention-list li[data-user]', { timeout: WAIT_MS });
  assert.deepEqual(await ada.$$eval('#mention-list li', (l) => l.map((li) => li.dataset.user)), ['bo', 'cy']);
  await ada.keyboard.press('ArrowDown');
  await ada.waitForSelector('#mention-list li.selected[data-user=cy]', { timeout: WAIT_MS });
  await ada.keyboard.type('c');
  // Members first (cy, still the one selected), then @channel: everyone.
  await ada.waitForFunction(() => [...document.querySelectorAll('#mention-list li')].map((li) => li.dataset.user).join() === 'cy,channel',
    null, { timeout: WAIT_MS });
  await ada.waitForSelector('#mention-list li.selected[data-user=cy]', { timeout: WAIT_MS });
  await shot(ada, 'mention-autocomplete');
  await ada.keyboard.press('Enter'); // picks; does not send
  await ada.waitForSelector('#mention-list', { state: 'hidden', timeout: WAIT_MS });
  assert.equal(await ada.inputValue('#input'), '@cy ');
  await ada.keyboard.type('can you look at this?');
  await ada.keyboard.press('Enter');
  await settled(ada);
  const seq = await ada.evaluate(() => window.mqchat.channels.get('general').log.last);
  const stored = await ada.evaluate((s) => window.mqchat.channels.get('general').log.events.find((e) => e.seq === s), seq);
  assert.deepEqual(stored.mentions, ['cy'], 'the server lists whom it mentions');

  await cy.waitForSelector('#channel-list button[data-channel=general] .mentions:text-is("@1")', { timeout: WAIT_MS });
  await cy.waitForSelector('#channel-list button[data-channel=general] .badge:text-is("1")', { timeout: WAIT_MS });
  await shot(cy, 'mention-badge');
  await openChannel(cy, 'general');
  await cy.waitForSelector(`#messages li.msg.mention[data-seq="${seq}"] .body .mention-name.to-me`, { timeout: WAIT_MS });
  assert.equal(await cy.textContent(`#messages li[data-seq="${seq}"] .body`), '@cy can you look at this?');
  assert.equal(await cy.textContent(`#messages li[data-seq="${seq}"] .mention-name`), '@cy', 'her name marked in the text');
  assert.equal(await cy.$$eval('#messages li.msg.mention', (l) => l.length), 1, 'only the message that names her');
  await cy.waitForSelector('#channel-list button[data-channel=general] .mentions', { state: 'detached', timeout: WAIT_MS });
  // Ada's own view does not highlight her message: it mentions Cy, not her.
  assert.equal(await ada.$$eval('#messages li.msg.mention', (l) => l.length), 0);
  await shot(cy, 'mention-highlighted');
});

test('notification levels: Cy mutes #general, gets no desktop notification from it, gets one from a DM; the title counts', async (t) => {
  if (!(await answers('notify', { channel: 'general', level: 'all' }))) {
    t.skip('the broker answers no {"op":"notify"}');
    return;
  }
  await users.cy.context.close();
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, permissions: ['notifications'] });
  // Records every `new Notification(...)` (the permission stays the browser's), and lets the test
  // hide the page: document.visibilityState and hidden follow window.__hidden.
  await context.addInitScript(() => {
    window.__notes = [];
    window.__shown = [];
    const Real = window.Notification;
    function Recording(title, opts = {}) {
      window.__notes.push({ title, body: opts.body });
      const n = { close() {} };
      window.__shown.push(n);
      return n;
    }
    Object.defineProperty(Recording, 'permission', { get: () => Real.permission });
    Recording.requestPermission = (...a) => Real.requestPermission(...a);
    window.Notification = Recording;
    Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (window.__hidden ? 'hidden' : 'visible') });
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => !!window.__hidden });
  });
  const cy = await context.newPage();
  cy.on('pageerror', (err) => console.log(`# cy: page error: ${err.message}`));
  await cy.goto(broker.httpUrl);
  await cy.fill('input[name=username]', 'cy');
  await cy.fill('input[name=password]', 'cy-pw');
  await cy.click('#signin-form button[type=submit]');
  await cy.waitForFunction(() => window.mqchat && window.mqchat.status === 'online' && window.mqchat.inboxLoaded, null, { timeout: WAIT_MS });
  users.cy = { context, page: cy };
  assert.equal(await cy.evaluate(() => Notification.permission), 'granted');

  await openChannel(cy, 'general');
  await waitText(cy, '#notify-summary', '🔔 All');
  await cy.click('#notify-summary');
  await cy.waitForSelector('#notify-menu .notify-options button[data-notify=none]', { timeout: WAIT_MS });
  await shot(cy, 'notify-menu');
  await cy.click('#notify-menu button[data-notify=none]');
  await waitText(cy, '#notify-summary', '🔕 Muted');
  await cy.waitForSelector('#channel-list button[data-channel=general].muted', { timeout: WAIT_MS });
  const tcpCy = await tcpClient(broker, 'cy', 'cy-notify-check');
  try {
    const general = (await tcpCy.api('channels')).channels.find((c) => c.channel === 'general');
    assert.equal(general.notify, 'none', 'the server keeps the level');
  } finally {
    await tcpCy.end();
  }

  const ada = await tcpClient(broker, 'ada', 'ada-notifier');
  try {
    const dm = await ada.api('dm', { user: 'cy' });
    assert.equal(dm.ok, true, JSON.stringify(dm));
    await cy.waitForFunction((id) => { const c = window.mqchat.channels.get(id); return c && c.synced; }, dm.channel, { timeout: WAIT_MS });
    await cy.evaluate(() => { window.__hidden = true; document.dispatchEvent(new Event('visibilitychange')); });
    const muted = await ada.send('general', 'muted news @cy');
    assert.equal(muted.ok, true, JSON.stringify(muted));
    await cy.waitForFunction((s) => window.mqchat.channels.get('general').log.last >= s, muted.seq, { timeout: WAIT_MS });
    const ping = await ada.send(dm.channel, 'ping from ada');
    assert.equal(ping.ok, true, JSON.stringify(ping));
    await cy.waitForFunction(() => window.__notes.length > 0, null, { timeout: WAIT_MS });
    assert.deepEqual(await cy.evaluate(() => window.__notes), [{ title: 'ada in a direct message', body: 'ping from ada' }]);
    // The title counts what is unread where not muted: the DM's one message (not #general's).
    await cy.waitForFunction(() => document.title === '(1) mqchat', null, { timeout: WAIT_MS });
    await cy.evaluate(() => { window.__hidden = false; document.dispatchEvent(new Event('visibilitychange')); });
    await shot(cy, 'muted-channel-title-count');
    // Clicking the notification opens the DM; read there, the title has nothing left to count.
    await cy.evaluate(() => window.__shown[0].onclick());
    await cy.waitForFunction((id) => window.mqchat.open === id, dm.channel, { timeout: WAIT_MS });
    await cy.waitForFunction(() => document.title === 'mqchat', null, { timeout: WAIT_MS });
  } finally {
    await ada.end();
  }
});

test('threads: Bo replies in a thread; Ada sees the count on the root and the replies in the panel, live', async (t) => {
  if (!(await answers('thread', { channel: 'general', root: 1 }))) {
    t.skip('the broker answers no {"op":"thread"}');
    return;
  }
  if (!shared.root) {
    t.skip('needs the message of the search test');
    return;
  }
  const { page: ada } = users.ada;
  const { page: bo } = users.bo;
  const root = shared.root;
  await openChannel(ada, 'design');
  await openChannel(bo, 'design');
  await bo.locator(`#messages li[data-seq="${root}"]`).scrollIntoViewIfNeeded();
  await bo.hover(`#messages li[data-seq="${root}"]`);
  await bo.click(`#messages li[data-seq="${root}"] button[data-act=thread]`);
  await bo.waitForSelector(`#thread:not([hidden]) #thread-messages li[data-seq="${root}"]`, { timeout: WAIT_MS });
  await waitText(bo, '#thread-messages .thread-count', '0 replies');
  assert.equal(await bo.evaluate(() => document.activeElement.id), 'thread-input');
  await bo.keyboard.type('I can do Friday');
  await bo.keyboard.press('Enter');
  await settled(bo);
  const reply = await bo.evaluate(() => window.mqchat.channels.get('design').log.last);
  await bo.waitForSelector(`#thread-messages li[data-seq="${reply}"] .body:text-is("I can do Friday")`, { timeout: WAIT_MS });

  // Ada: the root says so; the reply is not among the channel's messages.
  await ada.waitForSelector(`#messages li[data-seq="${root}"] .thread-summary:text-matches("^1 reply · last reply ")`,
    { state: 'attached', timeout: WAIT_MS });
  assert.equal(await ada.$$eval(`#messages li[data-seq="${reply}"]`, (l) => l.length), 0, 'the reply stays in the thread');
  await ada.click(`#messages li[data-seq="${root}"] .thread-summary`);
  await ada.waitForSelector(`#thread-messages li[data-seq="${reply}"] .body:text-is("I can do Friday")`, { timeout: WAIT_MS });
  // Live: Bo's next reply appears in Ada's open panel, and the count on the root follows.
  await bo.keyboard.type('or Monday');
  await bo.keyboard.press('Enter');
  await settled(bo);
  await ada.waitForSelector('#thread-messages .body:text-is("or Monday")', { timeout: WAIT_MS });
  await waitText(ada, '#thread-messages .thread-count', '2 replies');
  await ada.waitForSelector(`#messages li[data-seq="${root}"] .thread-summary:text-matches("^2 replies · ")`, { timeout: WAIT_MS });
  assert.equal(await rowInView(ada, reply, '#thread-messages'), true);
  await shot(ada, 'thread-panel');
  const tcp = await tcpClient(broker, 'ada', 'ada-thread-check');
  try {
    const th = await tcp.api('thread', { channel: 'design', root });
    assert.equal(th.reply_count, 2, JSON.stringify(th).slice(0, 300));
    assert.deepEqual(await ada.$$eval('#thread-messages li.msg[data-seq]', (l) => l.map((li) => Number(li.dataset.seq))),
      [root, ...th.replies.filter((e) => e.type === 'message').map((e) => e.seq)]);
  } finally {
    await tcp.end();
  }
  await ada.click('#thread-close');
  await ada.waitForSelector('#thread', { state: 'hidden', timeout: WAIT_MS });
  // A search result that is a reply opens its thread, the root highlighted in the channel.
  await ada.keyboard.press('Control+k');
  await ada.fill('#search-input', 'Monday');
  await ada.press('#search-input', 'Enter');
  await ada.click('#search-results .search-hit');
  await ada.waitForSelector('#thread-messages .body:text-is("or Monday")', { timeout: WAIT_MS });
  await ada.waitForSelector(`#messages li[data-seq="${root}"].flash`, { timeout: WAIT_MS });
  await ada.click('#thread-close');
});

test('search: a result far back in a long channel is fetched, page by page, and opened at', async (t) => {
  if (!(await answers('search', { query: 'probe' }))) {
    t.skip('the broker answers no {"op":"search"}');
    return;
  }
  // Dee holds only the newest pages of #history (3,000 messages): "history 17" is far below them.
  if (users.dee) await users.dee.context.close();
  const dee = await signIn('dee'); // a new browser: nothing kept from the test above
  await openChannel(dee, 'history');
  await dee.waitForFunction(() => window.mqchat.channels.get('history').synced, null, { timeout: WAIT_MS });
  const held = await dee.evaluate(() => window.mqchat.channels.get('history').log.first);
  assert.ok(held > 18, `the message is not held yet (first ${held})`);
  await dee.keyboard.press('Control+k');
  await dee.fill('#search-input', 'history 17 in:#history');
  await dee.press('#search-input', 'Enter');
  await dee.waitForSelector('#search-results .search-hit[data-seq="18"]', { timeout: WAIT_MS });
  const started = Date.now();
  await dee.click('#search-results .search-hit[data-seq="18"]');
  await dee.waitForSelector('#messages li[data-seq="18"].flash', { timeout: WAIT_MS });
  timings.revealFarBackMs = Date.now() - started;
  assert.equal(await rowInView(dee, 18), true, 'the message found is in view');
  assert.equal(await dee.textContent('#messages li[data-seq="18"] .body'), 'history 17');
  const rows = await dee.$$eval('#messages li[data-seq]', (l) => l.length);
  assert.ok(rows <= ROW_BOUND, `${rows} rows in the page`);
  await shot(dee, 'search-opened-far-back');
});

/** The media entries of the newest message of `channel` in the page's log (what the event carried). */
function lastMedia(page, channel) {
  return page.evaluate((ch) => {
    const msgs = window.mqchat.channels.get(ch).log.events.filter((e) => e.type === 'message' && e.media);
    return msgs.length ? msgs[msgs.length - 1].media : null;
  }, channel);
}

/** Drops the files the page holds in window.testFiles on the message pane, as a drag from the desktop would. */
async function dropFiles(page) {
  await page.evaluate(() => {
    const dt = new DataTransfer();
    for (const f of window.testFiles) dt.items.add(f);
    const pane = document.querySelector('main.pane');
    pane.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    pane.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
}

/**
 * Run in the page: a 1200x800 PNG drawn there (a gradient, shapes and a word, so that a thumbnail has
 * something to show), left in window.testFiles.
 */
async function drawnPng(name) {
  const c = document.createElement('canvas');
  c.width = 1200;
  c.height = 800;
  const g = c.getContext('2d');
  const grad = g.createLinearGradient(0, 0, 1200, 800);
  grad.addColorStop(0, '#f97316');
  grad.addColorStop(1, '#3b63f6');
  g.fillStyle = grad;
  g.fillRect(0, 0, 1200, 800);
  g.fillStyle = '#fde68a';
  g.beginPath();
  g.arc(850, 300, 140, 0, Math.PI * 2);
  g.fill();
  g.fillStyle = '#fff';
  g.font = 'bold 120px sans-serif';
  g.fillText('mqchat', 120, 650);
  const blob = await new Promise((r) => c.toBlob(r, 'image/png'));
  window.testFiles = [new File([blob], name, { type: 'image/png' })];
}

test('files: Ada drops an image, Bo sees its preview and opens it full size; a PDF and an interrupted upload download byte for byte; Cy cannot fetch them', async (t) => {
  if (!(await answers('upload_status', { media: `m-${'0'.repeat(32)}` }))) {
    t.skip('the broker answers no {"op":"upload"} yet (services/media.c)');
    return;
  }
  for (const name of ['ada', 'bo', 'cy']) if (users[name]) await users[name].context.close();
  const ada = await signIn('ada');
  const bo = await signIn('bo');
  const cy = await signIn('cy');
  await channelDialog(ada, '#files', 'create');
  await channelDialog(bo, '#files', 'join');

  // An image dropped on the pane: a thumbnail made in the page goes up first, then the image.
  await ada.evaluate(drawnPng, 'sunset.png');
  await dropFiles(ada);
  await bo.waitForSelector('#messages .attachments .preview img[src^="blob:"]', { timeout: WAIT_MS });
  const media = await lastMedia(bo, 'files');
  assert.deepEqual(media.map((m) => [m.name, m.type, m.thumbnail && m.thumbnail.type]), [['sunset.png', 'image/png', 'image/jpeg']]);
  await bo.waitForFunction(() => document.querySelector('#messages .preview img').naturalWidth > 0, null, { timeout: WAIT_MS });
  // The preview is the thumbnail (320 px wide), not the image.
  assert.equal(await bo.$eval('#messages .preview img', (img) => img.naturalWidth), 320);
  assert.equal(await bo.$eval('#messages li.msg:last-child .body', (b) => b.textContent).catch(() => ''), '',
    'a message of files alone shows no text');
  await shot(bo, 'media-preview');
  await bo.click('#messages .preview');
  await bo.waitForSelector('#lightbox[open] img.full[data-full=true]', { timeout: WAIT_MS });
  await bo.waitForFunction(() => document.querySelector('#lightbox img.full').naturalWidth === 1200, null, { timeout: WAIT_MS });
  await shot(bo, 'media-lightbox');
  await bo.keyboard.press('Escape');
  await bo.waitForSelector('#lightbox', { state: 'hidden', timeout: WAIT_MS });

  // A PDF through the attach button: a file row with its size; Bo's Download saves the same bytes.
  const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(700 * 1024, 7), Buffer.from('\n%%EOF\n')]);
  for (let i = 9; i < pdf.length - 7; i += 4096) pdf[i] = i % 251; // not all one byte
  let started = Date.now();
  await ada.setInputFiles('#attach-input', { name: 'spec.pdf', mimeType: 'application/pdf', buffer: pdf });
  await bo.waitForSelector('#messages .attachments .file .file-name:text-is("spec.pdf")', { timeout: WAIT_MS });
  timings.uploadPdf700KiBMs = Date.now() - started;
  assert.equal(await bo.textContent('#messages .attachments .file .file-size'), '700 KB');
  const pdfEntry = (await lastMedia(bo, 'files'))[0];
  assert.equal(pdfEntry.size, pdf.length);
  started = Date.now();
  const [download] = await Promise.all([bo.waitForEvent('download', { timeout: WAIT_MS }),
    bo.click(`#messages button[data-media-download="${pdfEntry.id}"]`)]);
  assert.equal(download.suggestedFilename(), 'spec.pdf');
  assert.ok(fs.readFileSync(await download.path()).equals(pdf), 'the downloaded bytes are the uploaded ones');
  timings.downloadPdf700KiBMs = Date.now() - started;
  await shot(bo, 'media-file');

  // Cy is no member of #files: asked by id, the server says no_such_media (as for an id that never was).
  const codes = await cy.evaluate(async (ids) => Promise.all(ids.map((id) => window.mqchat.conn.download(id, 0, 100)
    .then(() => 'ok', (err) => err.code))), [pdfEntry.id, media[0].id, `m-${'f'.repeat(32)}`]);
  assert.deepEqual(codes, ['no_such_media', 'no_such_media', 'no_such_media']);

  // An upload the connection drops halfway is interrupted; Retry sends the rest, and the bytes arrive whole.
  await ada.evaluate(() => {
    const conn = window.mqchat.conn;
    const piece = conn.piece;
    let n = 0;
    conn.piece = function (...args) {
      if (++n === 5) { conn.piece = piece; conn.dropSocket(); } // the 5th piece never gets its answer
      return piece.apply(this, args);
    };
  });
  const big = Buffer.alloc(3 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i += 997) big[i] = (i / 997) % 256;
  await ada.setInputFiles('#attach-input', { name: 'data.bin', mimeType: 'application/octet-stream', buffer: big });
  await ada.waitForSelector('#uploads .upload.interrupted button[data-upload-act=retry]', { timeout: WAIT_MS });
  const before = await ada.$eval('#uploads .upload progress', (p) => Number(p.value));
  assert.ok(before > 0 && before < 100, `interrupted at ${before}%`);
  await shot(ada, 'media-upload-interrupted');
  await ada.waitForFunction(() => window.mqchat.status === 'online', null, { timeout: WAIT_MS });
  started = Date.now();
  await ada.click('#uploads .upload.interrupted button[data-upload-act=retry]');
  await bo.waitForSelector('#messages .attachments .file .file-name:text-is("data.bin")', { timeout: WAIT_MS });
  timings.uploadResumed3MiBMs = Date.now() - started;
  assert.equal(await ada.isVisible('#uploads'), false, 'the upload list is empty once sent');
  const bigEntry = (await lastMedia(bo, 'files'))[0];
  const [dl2] = await Promise.all([bo.waitForEvent('download', { timeout: WAIT_MS }),
    bo.click(`#messages button[data-media-download="${bigEntry.id}"]`)]);
  assert.ok(fs.readFileSync(await dl2.path()).equals(big), 'the resumed upload downloads whole');

  // Over plugin_opt_media_max_bytes (25 MiB), pasted into the composer: refused before any byte goes,
  // shown on the upload and as a notice.
  await ada.evaluate((n) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(n)], 'huge.iso', { type: 'application/octet-stream' }));
    document.getElementById('input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, 25 * 1024 * 1024 + 1);
  await ada.waitForSelector('#uploads .upload.failed .error[data-code=too_large]', { timeout: WAIT_MS });
  await ada.waitForSelector('#toasts .toast[data-code=too_large]', { timeout: WAIT_MS });
  await shot(ada, 'media-too-large');
  await ada.click('#uploads .upload.failed button[data-upload-act=cancel]');
  await ada.waitForSelector('#uploads', { state: 'hidden', timeout: WAIT_MS });
  shared.files = true;
});

test('the thread panel and the search box fit a phone screen', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 760 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(broker.httpUrl);
  await page.fill('input[name=username]', 'ada');
  await page.fill('input[name=password]', 'ada-pw');
  await page.click('#signin-form button[type=submit]');
  await page.waitForFunction(() => window.mqchat && window.mqchat.inboxLoaded, null, { timeout: WAIT_MS });
  await openChannelFromMenu(page, 'design');
  if (shared.root) {
    await page.click(`#messages li[data-seq="${shared.root}"] .thread-summary`);
    await page.waitForSelector('#thread-messages .body:text-is("or Monday")', { timeout: WAIT_MS });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
    await shot(page, 'thread-phone');
    await page.click('#thread-close');
  }
  await page.evaluate(() => document.getElementById('search-input').closest('dialog').showModal());
  await page.fill('#search-input', 'roadmap');
  await page.press('#search-input', 'Enter');
  await page.waitForSelector('#search-results .search-hit', { timeout: WAIT_MS });
  await shot(page, 'search-phone');
  if (shared.files) {
    await page.click('#dialog-search button[value=cancel]');
    await page.waitForSelector('#dialog-search', { state: 'hidden', timeout: WAIT_MS });
    await openChannelFromMenu(page, 'files');
    await page.waitForSelector('#messages .preview img[src^="blob:"]', { timeout: WAIT_MS });
    // the sidebar slides away: wait until it is off the screen
    await page.waitForFunction(() => document.querySelector('.sidebar').getBoundingClientRect().right <= 0, null, { timeout: WAIT_MS });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the files are ${overflow} px wider than the screen`);
    await shot(page, 'media-phone');
  }
  await context.close();
});
