// chat.js - the client's state and everything it does, without the DOM (ui.js draws it).
//
// On every (re)connect: subscribe, fetch the inbox (channels, unread counts), send the outbox again
// (outbox.js), and catch each channel up from its cursor (sync.js, which also applies live events,
// each once and in order, and catches up on a gap). Every change calls onChange(), which ui.js
// coalesces into one redraw per frame.
//
// Chat is given what it works with (the connection, the browser's storage, the page's visibility)
// rather than reaching for globals: app.js passes the real ones, the unit tests fakes.

import { ChannelLog } from './channel-log.js';
import { newId } from './connection.js';
import { Outbox } from './outbox.js';
import { notification, shouldNotify } from './notify.js';
import { Sync } from './sync.js';
import { Uploads } from './uploads.js';
import { countMentions, countUnread, threadEvents } from './timeline.js';

const TYPING_REFRESH_MS = 3000; // we repeat typing:true this often while typing
const TYPING_SHOW_MS = 6500;    // and forget someone's typing:true this long after the last one
const READ_DELAY_MS = 250;
const SAVE_DELAY_MS = 300;
const TOAST_MS = 6000; // short: a toast is a notice, the failed message itself keeps its error
const REVEAL_PAGES = 60; // reveal() fetches at most this many older pages to reach a message
const REVEAL_WAIT_MS = 5000; // ... and waits this long for a channel's first page or a newer message

export class Chat {
  /**
   * @param {object} deps
   * @param {string} deps.user who signed in
   * @param {import('./connection.js').Connection} deps.conn not started yet: start() starts it (the
   *   unit tests give an object with the same methods)
   * @param {import('./storage.js').ChatStorage} deps.storage what is kept between visits
   * @param {import('./visibility.js').Visibility} deps.visibility whether the page is on screen
   * @param {?{show(title: string, body: string, tag: string, onClick: () => void): void}} [deps.notifier] desktop
   *   notifications (app.js: the browser's Notification API, when permitted); none: no notifications
   * @param {() => void} onChange
   */
  constructor({ user, conn, storage, visibility, notifier = null }, onChange) {
    this.me = user;
    this.conn = conn;
    this.storage = storage;
    this.visibility = visibility;
    this.notifier = notifier;
    this.thread = null; // the thread panel: {channel, root, rootEvent, events: Map seq->ev, loading, error}
    this.clientId = conn.clientId; // our device, in typing signals
    this.onChange = onChange;
    this.saved = storage.load(this.me);
    this.status = 'connecting';
    this.statusDetail = '';
    this.channels = new Map(); // id -> channel state (see channelState())
    this.presence = new Map(); // user -> online
    this.toasts = [];
    this.open = this.saved.open;
    this.inboxLoaded = false;
    this.inboxPromise = null;
    this.inboxAgain = false;
    this.outbox = new Outbox(conn, {
      onAcked: (item) => this.acked(item),
      onFailed: (item, err) => this.toast(err),
      onChange: () => { this.scheduleSave(); this.changed(); },
    }, this.saved.outbox);
    this.sync = new Sync(conn, {
      onApplied: (c, ev) => this.applied(c, ev),
      onSynced: () => { this.scheduleRead(); this.changed(); },
      onOlder: () => this.changed(),
      onError: (c, err) => {
        if (err.code === 'not_member' || err.code === 'no_such_channel') this.refreshInbox();
        else if (err.code !== 'disconnected') this.toast(err);
      },
    });
    // Files on their way up: once one is in, its message goes through the outbox like any other.
    this.mediaNames = new Map(); // media id -> the name of a file uploaded from this page
    this.uploads = new Uploads(conn, {
      onChange: () => this.changed(),
      onComplete: (up, ids) => {
        this.mediaNames.set(typeof ids[0] === 'string' ? ids[0] : ids[0].id, up.name);
        this.outbox.add(up.channel, { client_msg_id: newId(), body: '', media: ids });
      },
      // A lost connection shows in the banner and on the upload (with Retry): no notice for it too.
      onError: (up, err) => { if (err.code !== 'disconnected') this.toast(err); },
    });
    this.typingSentAt = 0;
    this.saveTimer = null;
    this.readTimer = null;
    // Coming back to the page reads what arrived meanwhile; the badges and the title's count change
    // at once (the open channel counts as read only while the page is seen).
    this.unwatchVisibility = visibility.onChange(() => { this.scheduleRead(); this.changed(); });
  }

  start() {
    this.conn.start({
      onStatus: (state, detail) => { this.status = state; this.statusDetail = detail || ''; this.changed(); },
      onOnline: () => this.resume(),
      onEvent: (topic, msg) => this.onEvent(topic, msg),
    });
  }

  stop() {
    this.unwatchVisibility();
    clearTimeout(this.readTimer);
    this.outbox.stop();
    this.flushSave();
    this.conn.stop();
  }

  changed() { this.onChange(); }

  // ---- Connecting and converging --------------------------------------------------------------

  async resume() {
    const fresh = await this.refreshInbox();
    this.outbox.resend();
    for (const c of this.channels.values()) if (!fresh.has(c.channel)) this.sync.catchUp(c);
    for (const c of this.channels.values()) {
      if (c.visibility === 'dm' || c.channel === this.open) this.fetchMembers(c);
    }
  }

  channelState(info) {
    const saved = this.saved.channels[info.channel];
    const log = new ChannelLog(info.channel, saved && saved.epoch === info.epoch ? saved : {});
    return {
      channel: info.channel, title: info.title || info.channel, visibility: info.visibility,
      user: info.user || null, epoch: info.epoch, head: info.head || 0, read: info.read || 0,
      serverUnread: info.unread || 0, serverHead: info.head || 0, serverMentions: info.mentions || 0,
      notify: info.notify || 'all',
      activity: (info.last && info.last.ts) || 0, log, synced: false, loadingOlder: false,
      readCursors: { ...(this.saved.readCursors[info.channel] || {}) },
      typing: new Map(), members: null,
    };
  }

  /**
   * Fetches the inbox; channels new to us start catching up. Resolves with the set of new ones.
   * Calls while a fetch is under way share it, and make it fetch once more afterwards.
   */
  refreshInbox() {
    if (this.inboxPromise) {
      this.inboxAgain = true;
      return this.inboxPromise;
    }
    this.inboxPromise = (async () => {
      const fresh = new Set();
      do {
        this.inboxAgain = false;
        for (const id of await this.fetchInbox()) fresh.add(id);
      } while (this.inboxAgain);
      return fresh;
    })().finally(() => { this.inboxPromise = null; });
    return this.inboxPromise;
  }

  async fetchInbox() {
    const fresh = new Set();
    let reply;
    try {
      reply = await this.conn.api('channels');
    } catch (err) {
      if (err.code !== 'disconnected') this.toast(err);
      return fresh;
    }
    const seen = new Set();
    for (const info of reply.channels || []) {
      seen.add(info.channel);
      let c = this.channels.get(info.channel);
      if (!c || c.epoch !== info.epoch) {
        c = this.channelState(info);
        this.channels.set(info.channel, c);
        fresh.add(c.channel);
      } else {
        Object.assign(c, { title: info.title || info.channel, visibility: info.visibility, user: info.user || null,
          head: Math.max(c.head, info.head || 0), read: Math.max(c.read, info.read || 0),
          serverUnread: info.unread || 0, serverHead: info.head || 0, serverMentions: info.mentions || 0,
          notify: info.notify || c.notify || 'all' });
        if (info.last && info.last.ts > c.activity) c.activity = info.last.ts;
      }
    }
    for (const id of [...this.channels.keys()]) {
      if (!seen.has(id)) this.channels.delete(id); // left, or removed by an owner
    }
    this.inboxLoaded = true;
    if (!this.open || !this.channels.has(this.open)) this.open = this.sortedChannels()[0]?.channel || null;
    for (const id of fresh) this.sync.catchUp(this.channels.get(id));
    this.scheduleSave();
    this.changed();
    return fresh;
  }

  /** An event newly applied to c's log (sync.js), live or from a catch-up page. */
  applied(c, ev) {
    if (ev.type === 'message') c.activity = Math.max(c.activity, ev.ts || 0);
    if (ev.from === this.me && ev.client_msg_id && this.outbox.has(ev.client_msg_id)) {
      this.outbox.delete(ev.client_msg_id);
    }
    if ((ev.type === 'join' || ev.type === 'leave') && c.members) this.fetchMembers(c);
    if (ev.type === 'leave' && ev.user === this.me) this.refreshInbox();
    this.scheduleSave();
    this.scheduleRead();
    this.changed();
  }

  async fetchMembers(c) {
    try {
      const reply = await this.conn.api('members', { channel: c.channel });
      c.members = reply.members;
      for (const m of reply.members) {
        this.presence.set(m.user, !!m.online);
        if (m.user !== this.me && typeof m.read === 'number') {
          c.readCursors[m.user] = Math.max(c.readCursors[m.user] || 0, m.read);
        }
      }
      this.changed();
    } catch (err) {
      if (err.code !== 'disconnected') this.toast(err);
    }
  }

  // ---- What the broker sends ------------------------------------------------------------------

  onEvent(topic, msg) {
    if (topic === this.conn.replyTopic) {
      if (msg.ok === false) this.toast(msg); // an error for a typing or read publish
      return;
    }
    const parts = topic.split('/');
    const c = this.channels.get(parts[1]);
    if (!c) {
      // A channel we were just added to (a DM someone opened, an invite): the inbox knows it.
      if (parts.length === 2) this.refreshInbox();
      return;
    }
    switch (parts[2]) {
      case undefined:
        if (this.sync.offer(c, msg) === 'applied') this.notifyOf(c, msg);
        break;
      case 'typing': this.onTyping(c, msg); break;
      case 'presence':
        this.presence.set(msg.user, !!msg.online);
        if (c.members) for (const m of c.members) if (m.user === msg.user) m.online = !!msg.online;
        this.changed();
        break;
      case 'read':
        if (msg.user === this.me) c.read = Math.max(c.read, msg.seq);
        else c.readCursors[msg.user] = Math.max(c.readCursors[msg.user] || 0, msg.seq);
        this.scheduleSave();
        this.changed();
        break;
      default: break;
    }
  }

  /** A live event just applied: a desktop notification if the page is hidden and c's level wants it. */
  notifyOf(c, ev) {
    if (!this.notifier) return;
    const dm = c.visibility === 'dm';
    if (!shouldNotify({ level: c.notify, ev, me: this.me, dm, visible: this.visibility.isVisible() })) return;
    const n = notification(ev, dm ? 'a direct message' : `#${c.channel}`);
    this.notifier.show(n.title, n.body, `${c.channel}:${ev.seq}`, () => this.openChannel(c.channel));
  }

  onTyping(c, msg) {
    if (msg.device === this.clientId) return;
    if (msg.typing) {
      const until = Date.now() + TYPING_SHOW_MS;
      c.typing.set(msg.device, { user: msg.user, until });
      setTimeout(() => {
        const t = c.typing.get(msg.device);
        if (t && t.until <= Date.now()) { c.typing.delete(msg.device); this.changed(); }
      }, TYPING_SHOW_MS + 50);
    } else {
      c.typing.delete(msg.device);
    }
    this.changed();
  }

  // ---- What the user does ---------------------------------------------------------------------

  openChannel(id) {
    if (!this.channels.has(id)) return;
    if (this.thread && this.thread.channel !== id) this.thread = null; // the panel belongs to its channel
    this.open = id;
    const c = this.channels.get(id);
    if (!c.members) this.fetchMembers(c);
    this.scheduleRead();
    this.scheduleSave();
    this.changed();
  }

  /** The reader scrolled to the top of the open channel: fetch the page of older events, if any. */
  loadOlder() {
    const c = this.channels.get(this.open);
    return c ? this.sync.loadOlder(c) : Promise.resolve();
  }

  sendMessage(text) {
    const c = this.channels.get(this.open);
    if (!c || !text.trim()) return;
    this.stopTyping();
    this.outbox.add(c.channel, { client_msg_id: newId(), body: text });
  }

  /** Uploads `file` (and an image's `thumbnail` Blob) to the open channel, then sends it. */
  attach(file, thumbnail = null) {
    const c = this.channels.get(this.open);
    return c ? this.uploads.add(c.channel, file, thumbnail) : null;
  }

  /**
   * Opens channel `id` at message `seq` (a search result): older pages are fetched until the log
   * holds it (at most REVEAL_PAGES of them, within the log's MAX_EVENTS). Resolves whether it does.
   */
  async reveal(id, seq) {
    const c = this.channels.get(id);
    if (!c) return false;
    this.openChannel(id);
    const until = Date.now() + REVEAL_WAIT_MS;
    while ((c.log.epoch === null || c.log.last < seq) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50)); // a new channel's first page, or the live event
    }
    for (let pages = 0; pages < REVEAL_PAGES && c.log.first >= seq && c.log.hasOlder();) {
      if (c.loadingOlder) { await new Promise((r) => setTimeout(r, 50)); continue; }
      c.olderPausedUntil = 0;
      await this.sync.loadOlder(c);
      pages++;
    }
    return c.log.first < seq && c.log.last >= seq;
  }

  // ---- Threads --------------------------------------------------------------------------------

  /**
   * Opens the thread panel on message `root` of channel `id`: the `thread` op's pages, then live
   * replies from the channel's log (threadRows() merges both).
   */
  async openThread(id, root) {
    const t = { channel: id, root, rootEvent: null, events: new Map(), loading: true, error: null };
    this.thread = t;
    this.changed();
    try {
      let since = 0;
      for (let page = 0; page < 100; page++) {
        const reply = await this.conn.api('thread', { channel: id, root, since });
        if (this.thread !== t) return;
        t.rootEvent = reply.root;
        for (const ev of reply.replies || []) t.events.set(ev.seq, ev);
        if (!reply.more || reply.next <= since) break;
        since = reply.next;
      }
    } catch (err) {
      if (this.thread === t) t.error = err;
      if (err.code !== 'disconnected') this.toast(err);
    } finally {
      t.loading = false;
      this.changed();
    }
  }

  closeThread() {
    this.thread = null;
    this.changed();
  }

  /** The open thread's events, root first: what the op gave, and what the log holds since. */
  threadEvents() {
    const t = this.thread;
    if (!t) return [];
    const c = this.channels.get(t.channel);
    const all = new Map(t.events);
    if (c) for (const ev of threadEvents(c.log.events, t.root)) all.set(ev.seq, ev);
    const root = (c && c.log.events.find((e) => e.seq === t.root)) || t.rootEvent;
    const rest = [...all.values()].sort((a, b) => a.seq - b.seq);
    // The root's own edits and reactions are channel events: take them from the log when held.
    const rootChanges = c ? c.log.events.filter((e) => e.target === t.root) : [];
    return [...(root ? [root] : []), ...rootChanges, ...rest].sort((a, b) => a.seq - b.seq);
  }

  sendReply(text) {
    const t = this.thread;
    if (!t || !text.trim()) return;
    this.outbox.add(t.channel, { client_msg_id: newId(), body: text, thread: t.root });
  }

  /** The open thread's replies still in the outbox. */
  threadPending() {
    const t = this.thread;
    const c = t && this.channels.get(t.channel);
    if (!c) return [];
    return [...this.outbox.values()].filter((i) => i.channel === t.channel && i.body.thread === t.root
      && !(i.seq && i.seq <= c.log.last));
  }

  /**
   * Who the `@` list of a composer offers: the members of the channel `channel()` names (fetched
   * when it was opened), with their presence.
   */
  mentionSource(channel) {
    return {
      me: this.me,
      members: () => {
        const c = this.channels.get(channel());
        return c && c.members ? c.members.map((m) => m.user) : null;
      },
      online: (user) => !!this.presence.get(user),
    };
  }

  // ---- Notification level ---------------------------------------------------------------------

  /** Sets my notification level for a channel (`all`, `mentions`, `none`): stored by the server. */
  async setNotify(id, level) {
    const c = this.channels.get(id);
    try {
      const reply = await this.conn.api('notify', { channel: id, level });
      if (c) c.notify = reply.level || level;
      this.changed();
      return true;
    } catch (err) {
      this.toast(err);
      return false;
    }
  }

  /** The server stored a send: done once the log has it, else the live copy went missing: fetch it. */
  acked(item) {
    const c = this.channels.get(item.channel);
    if (c && c.log.last >= item.seq) this.outbox.delete(item.body.client_msg_id);
    else if (c) this.sync.catchUp(c);
  }

  /** Sends a failed message again, with its original client_msg_id. */
  retry(clientMsgId) { this.outbox.retry(clientMsgId); }

  discard(clientMsgId) { this.outbox.discard(clientMsgId); }

  /** Edits, deletes and reactions: events in the log like messages; errors are shown. */
  async sendChange(fields) {
    const c = this.channels.get(this.open);
    if (!c) return;
    try {
      await this.conn.send(c.channel, { client_msg_id: newId(), ...fields });
    } catch (err) {
      this.toast(err);
    }
  }

  edit(seq, body) { return this.sendChange({ type: 'edit', target: seq, body }); }
  remove(seq) { return this.sendChange({ type: 'delete', target: seq }); }
  react(seq, emoji, on) { return this.sendChange({ type: 'reaction', target: seq, emoji, on }); }

  typing(text) {
    const c = this.channels.get(this.open);
    if (!c) return;
    if (!text) { this.stopTyping(); return; }
    const now = Date.now();
    if (now - this.typingSentAt < TYPING_REFRESH_MS && this.typingChannel === c.channel) return;
    this.typingSentAt = now;
    this.typingChannel = c.channel;
    this.conn.signal(c.channel, 'typing', { typing: true });
  }

  stopTyping() {
    if (!this.typingChannel) return;
    this.conn.signal(this.typingChannel, 'typing', { typing: false });
    this.typingChannel = null;
    this.typingSentAt = 0;
  }

  /**
   * Runs an account request; on success refreshes the inbox and opens `open(reply)`. Resolves
   * {ok: true} or {ok: false, error}; the error is also a toast unless `quiet` (a dialog shows it).
   */
  async account(op, fields, open, { quiet = false } = {}) {
    try {
      const reply = await this.conn.api(op, fields);
      await this.refreshInbox();
      const id = open && open(reply);
      if (id) this.openChannel(id);
      return { ok: true };
    } catch (err) {
      if (!quiet) this.toast(err);
      return { ok: false, error: err };
    }
  }

  createChannel(channel, isPrivate, opts) {
    return this.account('create', { channel, visibility: isPrivate ? 'private' : 'public' }, (r) => r.channel, opts);
  }

  joinChannel(channel, opts) { return this.account('join', { channel }, (r) => r.channel, opts); }
  openDm(user, opts) { return this.account('dm', { user }, (r) => r.channel, opts); }
  leave(channel, opts) { return this.account('leave', { channel }, () => null, opts); }
  invite(channel, user, opts) { return this.account('invite', { channel, user }, () => channel, opts); }

  // ---- Derived state --------------------------------------------------------------------------

  /** Channels, then direct messages, each latest activity first. */
  sortedChannels() {
    const all = [...this.channels.values()];
    const byActivity = (a, b) => b.activity - a.activity || a.channel.localeCompare(b.channel);
    return [...all.filter((c) => c.visibility !== 'dm').sort(byActivity),
      ...all.filter((c) => c.visibility === 'dm').sort(byActivity)];
  }

  /** Messages that mention me above my read cursor: the server's count, or the log's when it covers them. */
  mentionCount(c) {
    if (!c.synced) return c.serverMentions;
    if (c.read >= c.log.last) return 0;
    const dm = c.visibility === 'dm';
    if (c.read >= c.log.first) return countMentions(c.log.events, this.me, c.read, dm);
    return c.serverMentions + countMentions(c.log.events.filter((e) => e.seq > c.serverHead), this.me, c.read, dm);
  }

  unread(c) {
    if (!c.synced) return c.serverUnread;
    if (c.read >= c.log.last) return 0;
    if (c.read >= c.log.first) return countUnread(c.log.events, this.me, c.read);
    // The kept history starts after the read cursor: the server counted up to its head then.
    return c.serverUnread + countUnread(c.log.events.filter((e) => e.seq > c.serverHead), this.me, c.read);
  }

  /** Highest read cursor of anyone else: own messages up to it show as read. */
  readByOthers(c) {
    let max = 0;
    for (const seq of Object.values(c.readCursors)) max = Math.max(max, seq);
    return max;
  }

  typists(c) {
    const now = Date.now();
    const users = new Set();
    for (const t of c.typing.values()) if (t.until > now && t.user !== this.me) users.add(t.user);
    return [...users].sort();
  }

  pendingFor(c) {
    return [...this.outbox.values()].filter((i) => i.channel === c.channel && i.body.body !== undefined
      && !i.body.thread && !(i.seq && i.seq <= c.log.last));
  }

  toast(err) {
    const code = err.code || 'error';
    const text = err.message && err.message !== code ? `${code}: ${err.message}` : code;
    const t = { id: newId(), code, text };
    this.toasts.push(t);
    setTimeout(() => this.dismissToast(t.id), TOAST_MS);
    this.changed();
  }

  dismissToast(id) {
    this.toasts = this.toasts.filter((t) => t.id !== id);
    this.changed();
  }

  // ---- Read cursor and persistence ------------------------------------------------------------

  scheduleRead() {
    if (this.readTimer) return;
    this.readTimer = setTimeout(() => { this.readTimer = null; this.markRead(); }, READ_DELAY_MS);
  }

  markRead() {
    const c = this.channels.get(this.open);
    if (!c || !this.visibility.isVisible() || this.status !== 'online') return;
    if (c.log.last > c.read) {
      c.read = c.log.last;
      this.conn.signal(c.channel, 'read', { seq: c.read });
      this.changed();
    }
  }

  scheduleSave() {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.flushSave(), SAVE_DELAY_MS);
  }

  flushSave() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    const channels = {};
    const readCursors = {};
    for (const c of this.channels.values()) {
      channels[c.channel] = c.log.toJSON();
      readCursors[c.channel] = c.readCursors;
    }
    this.storage.save(this.me, { channels, readCursors, outbox: this.outbox.toJSON(), open: this.open });
  }
}
