// chat.js - the client's state and everything it does, without the DOM (ui.js draws it).
//
// On every (re)connect: subscribe, fetch the inbox (channels, unread counts), retry unacknowledged
// sends, and catch each channel up from its cursor. Live events and catch-up pages both go through
// ChannelLog.offer(), so each event is applied once and in order; a gap in live delivery starts a
// catch-up. Every change calls onChange(), which ui.js coalesces into one redraw per frame.

import { ChannelLog, KEEP_EVENTS } from './channel-log.js';
import { Connection, newId } from './connection.js';
import { countUnread } from './timeline.js';
import { loadState, saveState } from './storage.js';

const TYPING_REFRESH_MS = 3000; // we repeat typing:true this often while typing
const TYPING_SHOW_MS = 6500;    // and forget someone's typing:true this long after the last one
const READ_DELAY_MS = 250;
const SAVE_DELAY_MS = 300;
const TOAST_MS = 10000;
// Refusals that say "not now" rather than "no": a send is tried again, up to MAX_ATTEMPTS times.
// "timeout" is ours: no answer at all (an edge whose core just went away may drop a send).
const RETRYABLE = new Set(['timeout', 'unavailable', 'rate_limited']);
const MAX_ATTEMPTS = 8;

export class Chat {
  /**
   * @param {{url: string, username: string, password: string}} login
   * @param {() => void} onChange
   */
  constructor(login, onChange) {
    this.me = login.username;
    this.onChange = onChange;
    this.saved = loadState(this.me);
    this.status = 'connecting';
    this.statusDetail = '';
    this.channels = new Map(); // id -> channel state (see channelState())
    this.presence = new Map(); // user -> online
    this.outbox = new Map();   // client_msg_id -> {channel, body, state, error, seq}
    this.toasts = [];
    this.open = this.saved.open;
    this.inboxLoaded = false;
    this.inboxPromise = null;
    this.inboxAgain = false;
    for (const item of this.saved.outbox) {
      if (item && item.channel && item.body && item.body.client_msg_id) {
        this.outbox.set(item.body.client_msg_id, { channel: item.channel, body: item.body, state: 'sending' });
      }
    }
    let clientId = sessionStorage.getItem(`mqchat:client:${this.me}`);
    if (!clientId) {
      clientId = `web-${this.me}-${newId().slice(0, 8)}`;
      sessionStorage.setItem(`mqchat:client:${this.me}`, clientId);
    }
    this.clientId = clientId;
    this.conn = new Connection({ ...login, clientId }, {
      onStatus: (state, detail) => { this.status = state; this.statusDetail = detail || ''; this.changed(); },
      onOnline: () => this.resume(),
      onEvent: (topic, msg) => this.onEvent(topic, msg),
    });
    this.typingSentAt = 0;
    this.saveTimer = null;
    this.readTimer = null;
    this.onVisibility = () => this.scheduleRead();
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  start() { this.conn.start(); }

  stop() {
    document.removeEventListener('visibilitychange', this.onVisibility);
    clearTimeout(this.readTimer);
    for (const item of this.outbox.values()) clearTimeout(item.retryTimer);
    this.flushSave();
    this.conn.stop();
  }

  changed() { this.onChange(); }

  // ---- Connecting and converging --------------------------------------------------------------

  async resume() {
    const fresh = await this.refreshInbox();
    for (const item of this.outbox.values()) {
      if (item.state === 'sending') this.transmit(item);
    }
    for (const c of this.channels.values()) if (!fresh.has(c.channel)) this.catchUp(c);
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
      serverUnread: info.unread || 0, serverHead: info.head || 0,
      activity: (info.last && info.last.ts) || 0, log, synced: false, syncing: false, again: false,
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
          serverUnread: info.unread || 0, serverHead: info.head || 0 });
        if (info.last && info.last.ts > c.activity) c.activity = info.last.ts;
      }
    }
    for (const id of [...this.channels.keys()]) {
      if (!seen.has(id)) this.channels.delete(id); // left, or removed by an owner
    }
    this.inboxLoaded = true;
    if (!this.open || !this.channels.has(this.open)) this.open = this.sortedChannels()[0]?.channel || null;
    for (const id of fresh) this.catchUp(this.channels.get(id));
    this.scheduleSave();
    this.changed();
    return fresh;
  }

  /** Pages from the cursor to the head; a second call while one runs makes it go round again. */
  async catchUp(c) {
    if (c.syncing) { c.again = true; return; }
    c.syncing = true;
    try {
      if (c.log.epoch === null) c.log.adoptEpoch(c.epoch, Math.max(0, c.head - KEEP_EVENTS));
      let more = true;
      while (more || c.again) {
        c.again = false;
        const page = await this.conn.sync(c.channel, c.log.last);
        if (c.log.adoptEpoch(page.epoch, Math.max(0, page.head - KEEP_EVENTS))) {
          c.again = true; // another log: start again from its window
          continue;
        }
        for (const ev of page.events) this.apply(c, ev);
        c.head = Math.max(c.head, page.head);
        more = page.more;
      }
      c.synced = true;
      this.scheduleRead();
      this.changed();
    } catch (err) {
      if (err.code === 'not_member' || err.code === 'no_such_channel') this.refreshInbox();
      else if (err.code !== 'disconnected') this.toast(err);
    } finally {
      c.syncing = false;
    }
  }

  /** One event, live or from a page: applied at most once, in seq order. */
  apply(c, ev) {
    const verdict = c.log.offer(ev);
    if (verdict === 'gap') {
      this.catchUp(c);
      return;
    }
    if (verdict !== 'applied') return;
    c.head = Math.max(c.head, ev.seq);
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
      case undefined: this.apply(c, msg); break;
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
    this.open = id;
    const c = this.channels.get(id);
    if (!c.members) this.fetchMembers(c);
    this.scheduleRead();
    this.scheduleSave();
    this.changed();
  }

  sendMessage(text) {
    const c = this.channels.get(this.open);
    if (!c || !text.trim()) return;
    this.stopTyping();
    const body = { client_msg_id: newId(), body: text };
    const item = { channel: c.channel, body, state: 'sending' };
    this.outbox.set(body.client_msg_id, item);
    this.scheduleSave();
    this.changed();
    this.transmit(item);
  }

  /** Sends an outbox item; on a lost connection it stays queued and resume() sends it again. */
  async transmit(item) {
    clearTimeout(item.retryTimer);
    item.retryTimer = null;
    try {
      const ack = await this.conn.send(item.channel, item.body);
      item.state = 'acked';
      item.seq = ack.seq;
      item.error = null;
      const c = this.channels.get(item.channel);
      if (c && c.log.last >= ack.seq) this.outbox.delete(item.body.client_msg_id);
      else if (c) this.catchUp(c); // the live copy went missing: fetch it
    } catch (err) {
      // A lost connection: resume() sends it again after the reconnect.
      if (err.code === 'disconnected' || err.code === 'busy') return;
      if (RETRYABLE.has(err.code) && (item.attempts = (item.attempts || 0) + 1) <= MAX_ATTEMPTS) {
        // Safe to repeat: the same client_msg_id is stored once. The server may say when.
        const hint = err.reply && err.reply.retry_after_ms;
        const delay = typeof hint === 'number' ? hint : Math.min(30000, 1000 * 2 ** (item.attempts - 1));
        item.error = err; // shown beside "Sending…"
        item.retryTimer = setTimeout(() => {
          if (this.outbox.get(item.body.client_msg_id) === item && item.state === 'sending') this.transmit(item);
        }, delay);
      } else {
        item.state = 'failed';
        item.error = err;
        this.toast(err);
      }
    }
    this.scheduleSave();
    this.changed();
  }

  /** Sends a failed message again, with its original client_msg_id. */
  retry(clientMsgId) {
    const item = this.outbox.get(clientMsgId);
    if (!item || item.state !== 'failed') return;
    item.state = 'sending';
    item.attempts = 0;
    item.error = null;
    this.changed();
    this.transmit(item);
  }

  discard(clientMsgId) {
    const item = this.outbox.get(clientMsgId);
    if (item) clearTimeout(item.retryTimer);
    this.outbox.delete(clientMsgId);
    this.scheduleSave();
    this.changed();
  }

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

  /** Runs an account request; on success refreshes the inbox and opens `open(reply)`. */
  async account(op, fields, open) {
    try {
      const reply = await this.conn.api(op, fields);
      await this.refreshInbox();
      const id = open && open(reply);
      if (id) this.openChannel(id);
      return true;
    } catch (err) {
      this.toast(err);
      return false;
    }
  }

  createChannel(channel, isPrivate) {
    return this.account('create', { channel, visibility: isPrivate ? 'private' : 'public' }, (r) => r.channel);
  }

  joinChannel(channel) { return this.account('join', { channel }, (r) => r.channel); }
  openDm(user) { return this.account('dm', { user }, (r) => r.channel); }
  leave(channel) { return this.account('leave', { channel }, () => null); }
  invite(channel, user) { return this.account('invite', { channel, user }, () => channel); }

  // ---- Derived state --------------------------------------------------------------------------

  /** Channels, then direct messages, each latest activity first. */
  sortedChannels() {
    const all = [...this.channels.values()];
    const byActivity = (a, b) => b.activity - a.activity || a.channel.localeCompare(b.channel);
    return [...all.filter((c) => c.visibility !== 'dm').sort(byActivity),
      ...all.filter((c) => c.visibility === 'dm').sort(byActivity)];
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
      && !(i.seq && i.seq <= c.log.last));
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
    if (!c || document.visibilityState !== 'visible' || this.status !== 'online') return;
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
    const outbox = [...this.outbox.values()].filter((i) => i.state === 'sending')
      .map((i) => ({ channel: i.channel, body: i.body }));
    saveState(this.me, { channels, readCursors, outbox, open: this.open });
  }
}
