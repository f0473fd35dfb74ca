// ui.js - draws a Chat (chat.js) into the page and turns clicks and keys into its actions.
//
// Everything the server or another user wrote goes into the page as text or as nodes built by
// markdown.js, never as HTML. Redraws are coalesced to one per animation frame; the message list is
// redrawn only when something it shows changed. It draws a window of the channel's rows (window.js),
// at most WINDOW_ROWS however long the channel is, with day separators, the unread divider (where my
// read cursor was when I opened the channel) and messages grouped under one header (format.js).
// At the bottom it follows new messages; scrolled up, the reader's place stays put: the first row in
// view keeps its position on screen whatever is added above it (an older page, or the window moving
// up) or below it (live events, which are then not drawn until the reader comes down to them).

import { $, el } from './dom.js';
import { DirectoryView } from './directory-view.js';
import { Downloads } from './downloads.js';
import { channelName, continues, dayKey, dayLabel, plural, userName } from './format.js';
import { MentionPicker } from './mention-picker.js';
import { makeThumbnail, MediaView } from './media-view.js';
import { LEVEL_LABELS, pageTitle } from './notify.js';
import { daySeparator, memberLine, messageRow, pendingRow, unreadDivider } from './rows.js';
import { SearchView } from './search-view.js';
import { ThreadView } from './thread-view.js';
import { buildTimeline } from './timeline.js';
import { indexOfSeq, shiftDown, shiftUp, SHIFT_ROWS, windowSlice, WINDOW_ROWS } from './window.js';

/** How long a message opened from a search stays highlighted. */
const FLASH_MS = 2500;

/** The window moves, or older messages are fetched, within this many pixels of its edge. */
const EDGE_PX = 200;

function channelLabel(c) {
  return c.visibility === 'dm' ? c.user || c.title : `# ${c.channel}`;
}

export class ChatView {
  constructor(chat) {
    this.chat = chat;
    this.frame = 0;
    this.paneKey = '';
    this.editing = null; // seq of the message being edited
    this.winStart = null; // window.js: the seq of the first row drawn, null for the newest rows
    this.drawn = { rows: [], lo: 0, hi: 0 };
    this.divider = null; // {channel, after}: the unread divider goes after seq `after`
    this.directory = new DirectoryView(chat, () => { this.scrollDown = true; this.update(); });
    this.searchView = new SearchView(chat, (channel, seq) => this.reveal(channel, seq));
    this.threadView = new ThreadView(chat);
    // Files come down once per page (a Blob URL per media id), whichever view shows them.
    this.mediaView = new MediaView(new Downloads(chat.conn, () => this.mediaView.progress()), (err) => chat.toast(err));
    this.threadView.media = this.mediaView;
    this.focus = null; // {channel, seq, ready}: a message to scroll to and highlight (a search result)
    this.picker = new MentionPicker($('input'), $('mention-list'), chat.mentionSource(() => chat.open));
    this.bind();
  }

  /** Asks for a redraw at the next frame (many changes, one redraw). */
  update() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const chat = this.chat;
    const c = chat.channels.get(chat.open) || null;
    $('me-name').textContent = chat.me;
    this.renderStatus();
    this.renderSidebar(c);
    this.renderHeader(c);
    this.renderMessages(c);
    this.renderTyping(c);
    this.threadView.render();
    this.mediaView.renderUploads(chat.uploads, $('uploads'));
    this.renderToasts();
    document.title = pageTitle(this.totalUnread(c));
    $('composer').classList.toggle('disabled', !c);
    $('input').disabled = !c;
    $('attach').disabled = !c;
  }

  renderStatus() {
    const banner = $('status-banner');
    const text = { connecting: 'Connecting…', reconnecting: 'Offline: reconnecting…',
      offline: 'Offline: no network', online: '', denied: '' }[this.chat.status];
    banner.textContent = text || '';
    banner.hidden = !text;
    banner.dataset.state = this.chat.status;
    document.body.dataset.status = this.chat.status;
  }

  /** Unread messages of every channel not muted (the open one of a visible page: none): the title's count. */
  totalUnread(open) {
    const looking = document.visibilityState === 'visible';
    let n = 0;
    for (const c of this.chat.channels.values()) {
      if (c.notify !== 'none' && !(c === open && looking)) n += this.chat.unread(c);
    }
    return n;
  }

  renderSidebar(open) {
    const chat = this.chat;
    const channels = $('channel-list');
    const dms = $('dm-list');
    channels.replaceChildren();
    dms.replaceChildren();
    const looking = document.visibilityState === 'visible';
    for (const c of chat.sortedChannels()) {
      // The open channel of a visible page is being read: its cursor follows within a moment.
      const unread = c === open && looking ? 0 : chat.unread(c);
      // In a direct channel every message counts as a mention: the unread badge says it already.
      const mentions = (c === open && looking) || c.visibility === 'dm' ? 0 : chat.mentionCount(c);
      const item = el('li', {},
        el('button', { class: `channel${c === open ? ' active' : ''}${unread ? ' has-unread' : ''}${c.notify === 'none' ? ' muted' : ''}`,
          'data-channel': c.channel, title: c.notify === 'none' ? `${c.title} (muted)` : c.title },
        c.visibility === 'dm'
          ? el('span', { class: `dot ${chat.presence.get(c.user) ? 'online' : 'offline'}`,
            title: chat.presence.get(c.user) ? 'online' : 'offline' })
          : el('span', { class: 'hash', text: c.visibility === 'private' ? '🔒' : '#' }),
        el('span', { class: 'name', text: c.visibility === 'dm' ? c.user || c.title : c.channel }),
        mentions ? el('span', { class: 'mentions', text: `@${mentions}`, 'aria-label': plural(mentions, 'mention') }) : null,
        unread ? el('span', { class: 'badge', text: String(unread), 'aria-label': `${unread} unread` }) : null));
      (c.visibility === 'dm' ? dms : channels).append(item);
    }
    if (!channels.children.length && chat.inboxLoaded) {
      channels.append(el('li', { class: 'empty', text: 'No channels yet.' }));
    }
  }

  renderHeader(c) {
    $('pane-title').textContent = c ? channelLabel(c) : 'mqchat';
    $('leave').hidden = !c || c.visibility === 'dm';
    $('invite').hidden = !c || c.visibility === 'dm';
    const menu = $('notify-menu');
    menu.hidden = !c;
    if (c) {
      const level = c.notify || 'all';
      $('notify-summary').replaceChildren(el('span', { class: 'bell', text: level === 'none' ? '🔕' : '🔔' }),
        el('span', { class: 'level', text: ` ${{ all: 'All', mentions: 'Mentions', none: 'Muted' }[level] || level}` }));
      $('notify-summary').title = `Notifications: ${LEVEL_LABELS[level] || level}`;
      for (const b of menu.querySelectorAll('button[data-notify]')) b.setAttribute('aria-pressed', String(b.dataset.notify === level));
    }
    const members = $('pane-members');
    members.replaceChildren();
    if (!c || !c.members) return;
    const online = c.members.filter((m) => m.online).length;
    members.append(el('span', { class: 'count', text: `${plural(c.members.length, 'member')} · ${online} online` }));
    const list = el('ul', { class: 'member-list' });
    for (const m of c.members) {
      list.append(el('li', { 'data-user': m.user },
        el('span', { class: `dot ${m.online ? 'online' : 'offline'}`, title: m.online ? 'online' : 'offline' }),
        el('span', { text: m.user }), m.role === 'owner' ? el('span', { class: 'role', text: 'owner' }) : null));
    }
    members.append(list);
  }

  /** No channel open: the first-run guide if I have none at all, else a hint. */
  renderNoChannel(list) {
    list.replaceChildren();
    if (!this.chat.inboxLoaded) return;
    if (this.chat.channels.size) {
      list.append(el('li', { class: 'empty', text: 'Pick a channel in the list.' }));
      return;
    }
    list.append(el('li', { class: 'first-run' },
      el('h2', { text: `Welcome to mqchat, ${this.chat.me}` }),
      el('p', { text: 'You are not in any channel yet. Start here:' }),
      el('div', { class: 'first-run-actions' },
        el('button', { class: 'primary', 'data-first-run': 'new-channel', text: 'Create a channel' }),
        el('button', { 'data-first-run': 'browse', text: 'Browse channels' }),
        el('button', { 'data-first-run': 'new-dm', text: 'Message someone' }))));
  }

  renderMessages(c) {
    const chat = this.chat;
    const list = $('messages');
    if (!c) {
      const key = `none|${chat.inboxLoaded}|${chat.channels.size}`;
      if (key !== this.paneKey) { this.paneKey = key; this.paneChannel = ''; this.renderNoChannel(list); }
      return;
    }
    const channelKey = `${c.channel}|${c.log.epoch}`;
    const sameChannel = this.paneChannel === channelKey;
    if (!sameChannel) {
      // Opening a channel: the divider goes where my read cursor is now (it moves on in a moment).
      this.winStart = null;
      this.divider = c.read < c.log.last && chat.unread(c) > 0 ? { channel: c.channel, after: c.read } : null;
    }
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (this.scrollDown) this.winStart = null;
    const focus = this.focus && this.focus.ready && this.focus.channel === c.channel ? this.focus : null;
    if (focus) {
      // Opened at a message (a search result): a window with it well inside, drawn afresh.
      const all = buildTimeline(c.log.events);
      const at = indexOfSeq(all, focus.seq);
      this.winStart = all.length - at <= WINDOW_ROWS / 2 ? null : all[Math.max(0, at - WINDOW_ROWS / 4)].seq;
      this.paneKey = '';
      this.scrollDown = false;
    }
    // Scrolled up in the newest rows: pin the window where it is, so that live events do not move it.
    if (!focus && sameChannel && this.winStart === null && !atBottom && !this.scrollDown && this.drawn.rows.length) {
      this.winStart = this.drawn.rows[this.drawn.lo].seq;
    }
    const pending = chat.pendingFor(c);
    const keyAt = (start) => [channelKey, c.log.first, c.log.last, c.log.events.length, chat.readByOthers(c),
      pending.map((p) => `${p.body.client_msg_id}:${p.state}:${p.error ? p.error.code : ''}`).join(','),
      this.editing, start, this.divider ? this.divider.after : '', dayKey(Date.now())].join('|');
    let key = keyAt(this.winStart);
    const noteKeyAt = (lo) => [lo, c.loadingOlder, c.log.hasOlder(), c.log.full, c.log.complete].join('|');
    if (key === this.paneKey && !focus) {
      const noteKey = noteKeyAt(this.drawn.lo);
      if (noteKey !== this.noteKey) this.replaceNote(list, c, noteKey);
      return;
    }
    const rows = buildTimeline(c.log.events);
    const anchor = sameChannel && !(atBottom && this.winStart === null) && !this.scrollDown ? this.anchorRow(list) : null;
    let { lo, hi } = windowSlice(rows, this.winStart);
    if (anchor && !focus && lo > 0 && list.scrollTop < EDGE_PX) {
      // At the top with rows above the window (an older page just came in): draw them now, so that
      // what is above the reader's row only grows and the place can be kept (scrollTop cannot go
      // below 0 to make up for a note or separator no longer drawn).
      this.winStart = shiftUp(rows, lo, SHIFT_ROWS, indexOfSeq(rows, Number(anchor.seq)));
      ({ lo, hi } = windowSlice(rows, this.winStart));
      key = keyAt(this.winStart);
    }
    const noteKey = noteKeyAt(lo);
    this.paneKey = key;
    this.paneChannel = channelKey;
    this.drawn = { rows, lo, hi };
    this.noteKey = '';
    list.replaceChildren();
    this.replaceNote(list, c, noteKey);
    const ctx = { me: chat.me, editing: this.editing, readUpTo: chat.readByOthers(c), media: this.mediaView };
    const after = this.divider ? this.divider.after : -1;
    const now = Date.now();
    let dividerRow = null;
    for (let i = lo; i < hi; i++) {
      const row = rows[i];
      const prev = i > 0 ? rows[i - 1] : null;
      if (!prev || dayKey(prev.ts) !== dayKey(row.ts)) list.append(daySeparator(dayLabel(row.ts, now)));
      if (prev && prev.seq <= after && row.seq > after) list.append(dividerRow = unreadDivider());
      // The window's first row always has its header: the one above it is not drawn.
      list.append(row.kind === 'member' ? memberLine(row) : messageRow(row, ctx, i > lo && continues(prev, row, after)));
    }
    if (hi === rows.length) for (const p of pending) list.append(pendingRow(p, chat.me, chat.mediaNames));
    const target = focus && list.querySelector(`li[data-seq="${focus.seq}"]`);
    if (focus) this.focus = null;
    if (target) {
      target.scrollIntoView({ block: 'center' });
      target.classList.add('flash');
      setTimeout(() => target.classList.remove('flash'), FLASH_MS);
    } else if (this.scrollDown || !sameChannel) {
      list.scrollTop = list.scrollHeight;
      // Opened with more unread than fit: start at the divider rather than past it.
      if (dividerRow && !sameChannel) {
        const over = dividerRow.getBoundingClientRect().top - list.getBoundingClientRect().top;
        if (over < 0) list.scrollTop += over - 8;
      }
    } else if (atBottom && this.winStart === null) {
      list.scrollTop = list.scrollHeight;
    } else if (anchor) {
      this.restore(list, anchor);
    }
    this.scrollDown = false;
    if (!target) this.onScroll();
  }

  /**
   * Opens `channel` at message `seq`, scrolled to it and highlighted: older pages are fetched until
   * the log holds it (Chat.reveal). A reply in a thread shows its root, with the thread open.
   */
  async reveal(channel, seq) {
    this.cancelEdit();
    document.body.classList.remove('show-sidebar');
    this.focus = { channel, seq, ready: false };
    const held = await this.chat.reveal(channel, seq);
    if (!this.focus || this.focus.seq !== seq || this.focus.channel !== channel) return; // another one since
    const c = this.chat.channels.get(channel);
    const ev = held && c.log.events.find((e) => e.seq === seq);
    if (!ev) {
      this.focus = null;
      this.chat.toast({ code: 'not_shown', message: `message ${seq} of #${channel} is too far back to show here` });
      return;
    }
    if (ev.thread) {
      this.chat.openThread(channel, ev.thread);
      if (!(await this.chat.reveal(channel, ev.thread))) { this.focus = null; return; } // its root, further back
    }
    this.focus = { channel, seq: ev.thread || seq, ready: true };
    this.paneKey = '';
    this.update();
  }

  /** The line above the rows: older messages loading, to be had by scrolling up, or not kept. */
  replaceNote(list, c, noteKey) {
    const anchor = this.anchorRow(list);
    this.noteKey = noteKey;
    const old = list.firstElementChild && list.firstElementChild.classList.contains('history-note')
      ? list.firstElementChild : null;
    let note = null;
    if (this.drawn.lo > 0) {
      note = null; // rows above the window are held: scrolling up draws them
    } else if (c.loadingOlder) {
      note = el('li', { class: 'history-note loading', role: 'status', text: 'Loading earlier messages…' });
    } else if (c.log.hasOlder()) {
      note = el('li', { class: 'history-note older', text: 'Scroll up for earlier messages.' });
    } else if (c.log.full || (c.log.first > 0 && !c.log.complete)) {
      note = el('li', { class: 'history-note', text: 'Earlier messages are not shown.' });
    }
    if (old && note) old.replaceWith(note);
    else if (old) old.remove();
    else if (note) list.prepend(note);
    if (anchor) this.restore(list, anchor);
  }

  /** The first row with a seq whose bottom is below the list's top edge, and its top on screen. */
  anchorRow(list) {
    const top = list.getBoundingClientRect().top;
    for (const li of list.querySelectorAll('li[data-seq]')) {
      const r = li.getBoundingClientRect();
      if (r.bottom > top) return { seq: li.dataset.seq, top: r.top };
    }
    return null;
  }

  restore(list, anchor) {
    const row = list.querySelector(`li[data-seq="${anchor.seq}"]`);
    if (row) list.scrollTop += row.getBoundingClientRect().top - anchor.top;
  }

  /**
   * Near an edge of the rows drawn: move the window that way, or at the top of everything held,
   * fetch older events; at the bottom of the newest rows, follow new messages again.
   */
  onScroll() {
    const chat = this.chat;
    const c = chat.channels.get(chat.open);
    if (!c) return;
    const list = $('messages');
    const { rows, lo, hi } = this.drawn;
    const below = list.scrollHeight - list.scrollTop - list.clientHeight;
    if (list.scrollTop < EDGE_PX && lo > 0) {
      const anchor = this.anchorRow(list);
      this.moveWindow(shiftUp(rows, lo, SHIFT_ROWS, anchor ? indexOfSeq(rows, Number(anchor.seq)) : -1));
    } else if (list.scrollTop < EDGE_PX) {
      if (!c.loadingOlder && c.log.hasOlder()) chat.loadOlder();
    } else if (below < EDGE_PX && hi < rows.length) {
      this.moveWindow(shiftDown(rows, lo));
    } else if (below < 40 && hi === rows.length && this.winStart !== null) {
      this.moveWindow(null);
    }
  }

  moveWindow(start) {
    if (start === this.winStart) return;
    this.winStart = start;
    this.update();
  }

  renderTyping(c) {
    const names = c ? this.chat.typists(c) : [];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    $('typing').textContent = text;
  }

  renderToasts() {
    const box = $('toasts');
    box.replaceChildren(...this.chat.toasts.map((t) => el('div', { class: 'toast', role: 'alert', 'data-code': t.code },
      el('span', { text: t.text }), el('button', { 'data-toast': t.id, title: 'Dismiss', 'aria-label': 'Dismiss', text: '×' }))));
  }

  // ---- Input ----------------------------------------------------------------------------------

  bind() {
    const chat = this.chat;
    $('channel-list').onclick = $('dm-list').onclick = (e) => {
      const b = e.target.closest('button[data-channel]');
      if (!b) return;
      this.cancelEdit();
      this.scrollDown = true;
      chat.openChannel(b.dataset.channel);
      document.body.classList.remove('show-sidebar');
    };
    const input = $('input');
    input.onkeydown = (e) => {
      if (this.picker.key(e)) return;
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      } else if (e.key === 'Escape' && this.editing !== null) {
        this.cancelEdit();
      }
    };
    input.oninput = () => {
      if (this.editing === null) chat.typing(input.value);
      this.picker.suggest();
      input.style.height = 'auto';
      input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
    };
    $('composer').onsubmit = (e) => { e.preventDefault(); this.submit(); };
    this.bindFiles();
    $('search-open').onclick = () => { document.body.classList.remove('show-sidebar'); this.searchView.show(); };
    document.addEventListener('keydown', (e) => {
      const typing = e.target instanceof HTMLElement && (e.target.isContentEditable
        || ['INPUT', 'TEXTAREA', 'SELECT'].includes(e.target.tagName));
      if (((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'k')
        || (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey)) {
        if (document.querySelector('dialog[open]:not(#dialog-search)')) return;
        e.preventDefault();
        this.searchView.show();
      }
    });
    $('notify-menu').onclick = async (e) => {
      const b = e.target.closest('button[data-notify]');
      if (!b || !chat.open) return;
      $('notify-menu').open = false;
      // A sign-in with a kept token asked nobody: choosing a level is the moment to ask.
      if (b.dataset.notify !== 'none' && typeof Notification !== 'undefined' && Notification.permission === 'default') {
        Notification.requestPermission();
      }
      await chat.setNotify(chat.open, b.dataset.notify);
    };
    $('cancel-edit').onclick = () => this.cancelEdit();
    $('messages').onclick = (e) => this.onMessageClick(e);
    $('messages').onscroll = () => this.onScroll();
    $('toasts').onclick = (e) => {
      const b = e.target.closest('button[data-toast]');
      if (b) chat.dismissToast(b.dataset.toast);
    };
    $('menu').onclick = () => document.body.classList.toggle('show-sidebar');
    $('leave').onclick = () => chat.open && chat.leave(chat.open);
    $('new-channel').onclick = () => this.dialog('dialog-channel');
    $('new-dm').onclick = () => this.dialog('dialog-dm');
    $('invite').onclick = () => this.dialog('dialog-invite');
    $('browse').onclick = () => { document.body.classList.remove('show-sidebar'); this.directory.show(); };
    // Enter in a dialog's field presses its first submit button (Join, Open, Invite): see index.html.
    this.dialogForm('dialog-channel', (form, submitter) => {
      const name = channelName(form.elements.channel.value);
      return submitter && submitter.value === 'create'
        ? chat.createChannel(name, form.elements.private.checked, { quiet: true })
        : chat.joinChannel(name, { quiet: true });
    });
    this.dialogForm('dialog-dm', (form) => chat.openDm(userName(form.elements.user.value), { quiet: true }));
    this.dialogForm('dialog-invite', (form) => chat.invite(chat.open, userName(form.elements.user.value), { quiet: true }));
    for (const id of ['dialog-channel', 'dialog-dm', 'dialog-invite']) {
      const d = $(id);
      d.querySelector('[value=cancel]').onclick = () => d.close();
    }
  }

  /**
   * Files into the open channel: the attach button (a file picker), an image pasted into the
   * composer, files dropped anywhere on the pane. Each shows in the composer's upload list.
   */
  bindFiles() {
    const picker = $('attach-input');
    $('attach').onclick = () => picker.click();
    picker.onchange = () => {
      for (const f of picker.files) this.attachFile(f);
      picker.value = '';
    };
    $('input').addEventListener('paste', (e) => {
      const files = e.clipboardData ? [...e.clipboardData.files] : [];
      if (!files.length) return; // text: pasted as usual
      e.preventDefault();
      for (const f of files) this.attachFile(f);
    });
    const pane = document.querySelector('main.pane');
    const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
    pane.addEventListener('dragover', (e) => {
      if (!hasFiles(e) || !this.chat.open) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
      pane.classList.add('drop-target');
    });
    pane.addEventListener('dragleave', (e) => {
      if (!pane.contains(e.relatedTarget)) pane.classList.remove('drop-target');
    });
    pane.addEventListener('drop', (e) => {
      pane.classList.remove('drop-target');
      if (!hasFiles(e) || !this.chat.open) return;
      e.preventDefault();
      for (const f of e.dataTransfer.files) this.attachFile(f);
    });
    $('uploads').onclick = (e) => {
      const b = e.target.closest('button[data-upload-act]');
      if (!b) return;
      const key = b.closest('li').dataset.upload;
      if (b.dataset.uploadAct === 'retry') this.chat.uploads.retry(key);
      else this.chat.uploads.cancel(key);
    };
  }

  /** One file: an image gets its thumbnail made here first; then Chat uploads and sends it. */
  async attachFile(file) {
    const channel = this.chat.open;
    const thumb = await makeThumbnail(file);
    if (this.chat.open !== channel) return; // switched channels meanwhile: not where it was dropped
    if (this.chat.attach(file, thumb)) this.scrollDown = true;
    this.update();
  }

  /**
   * A dialog whose form runs `action` (resolving {ok, error}); it closes on success and shows the
   * refusal inside itself otherwise (the code, e.g. no_such_user, and the server's words).
   */
  dialogForm(id, action) {
    const d = $(id);
    const error = d.querySelector('.dialog-error');
    d.querySelector('form').onsubmit = async (e) => {
      e.preventDefault();
      const form = e.target;
      error.textContent = '';
      delete error.dataset.code;
      const result = await action(form, e.submitter);
      if (result.ok) {
        form.reset();
        d.close();
        if (id !== 'dialog-invite') this.scrollDown = true;
        this.update();
        return;
      }
      error.dataset.code = result.error.code || 'error';
      error.textContent = result.error.message && result.error.message !== result.error.code
        ? `${result.error.code}: ${result.error.message}` : result.error.code;
    };
  }

  dialog(id) {
    const d = $(id);
    const error = d.querySelector('.dialog-error');
    error.textContent = '';
    delete error.dataset.code;
    d.showModal();
    d.querySelector('input').focus();
  }

  submit() {
    const input = $('input');
    const text = input.value;
    if (!text.trim()) return;
    if (this.editing !== null) {
      this.chat.edit(this.editing, text);
      this.cancelEdit();
      return;
    }
    this.chat.sendMessage(text);
    this.scrollDown = true;
    this.divider = null; // I have answered: what was new is read
    input.value = '';
    input.style.height = 'auto';
  }

  onMessageClick(e) {
    const first = e.target.closest('button[data-first-run]');
    if (first) {
      if (first.dataset.firstRun === 'browse') this.directory.show();
      else this.dialog(first.dataset.firstRun === 'new-dm' ? 'dialog-dm' : 'dialog-channel');
      return;
    }
    const b = e.target.closest('button[data-act]');
    if (!b) return;
    const li = b.closest('li');
    const seq = Number(li.dataset.seq);
    switch (b.dataset.act) {
      case 'react': this.chat.react(seq, b.dataset.emoji, b.dataset.on === 'true'); break;
      case 'delete': this.chat.remove(seq); break;
      case 'discard': this.chat.discard(li.dataset.clientMsgId); break;
      case 'thread': this.chat.openThread(this.chat.open, seq); break;
      case 'retry': this.chat.retry(li.dataset.clientMsgId); break;
      case 'edit': {
        const c = this.chat.channels.get(this.chat.open);
        const row = c && buildTimeline(c.log.events).find((r) => r.seq === seq);
        if (!row) return;
        this.editing = seq;
        $('editing').hidden = false;
        const input = $('input');
        input.value = row.body;
        input.focus();
        this.update();
        break;
      }
      default: break;
    }
  }

  cancelEdit() {
    if (this.editing === null) return;
    this.editing = null;
    $('editing').hidden = true;
    $('input').value = '';
    this.update();
  }
}
