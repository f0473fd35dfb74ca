// ui.js - draws a Chat (chat.js) into the page and turns clicks and keys into its actions.
//
// Everything the server or another user wrote goes into the page as text (textContent), never as
// HTML. Redraws are coalesced to one per animation frame; the message list is rebuilt only when
// something it shows changed, and stays scrolled to the bottom if it was there. Scrolled up, the
// reader's place stays put: the first row in view keeps its position on screen whatever is added
// above it (an older page, fetched on reaching the top) or below it (live events).

import { buildTimeline } from './timeline.js';

const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉'];
/** Older messages are fetched when the pane is scrolled to within this many pixels of its top. */
const LOAD_OLDER_PX = 200;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function clock(ts) {
  if (!ts) return '';
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function channelLabel(c) {
  return c.visibility === 'dm' ? c.user || c.title : `# ${c.channel}`;
}

export class ChatView {
  constructor(chat) {
    this.chat = chat;
    this.frame = 0;
    this.paneKey = '';
    this.editing = null; // seq of the message being edited
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
    this.renderToasts();
    $('composer').classList.toggle('disabled', !c);
    $('input').disabled = !c;
  }

  renderStatus() {
    const banner = $('status-banner');
    const text = { connecting: 'Connecting…', reconnecting: 'Reconnecting…', online: '', denied: '' }[this.chat.status];
    banner.textContent = text || '';
    banner.hidden = !text;
    banner.dataset.state = this.chat.status;
    document.body.dataset.status = this.chat.status;
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
      const item = el('li', {},
        el('button', { class: `channel${c === open ? ' active' : ''}${unread ? ' has-unread' : ''}`,
          'data-channel': c.channel, title: c.title },
        c.visibility === 'dm'
          ? el('span', { class: `dot ${chat.presence.get(c.user) ? 'online' : 'offline'}`,
            title: chat.presence.get(c.user) ? 'online' : 'offline' })
          : el('span', { class: 'hash', text: c.visibility === 'private' ? '🔒' : '#' }),
        el('span', { class: 'name', text: c.visibility === 'dm' ? c.user || c.title : c.channel }),
        unread ? el('span', { class: 'badge', text: String(unread), 'aria-label': `${unread} unread` }) : null));
      (c.visibility === 'dm' ? dms : channels).append(item);
    }
    if (!channels.children.length && chat.inboxLoaded) {
      channels.append(el('li', { class: 'empty', text: 'No channels yet: join or create one.' }));
    }
  }

  renderHeader(c) {
    $('pane-title').textContent = c ? channelLabel(c) : 'mqchat';
    $('leave').hidden = !c || c.visibility === 'dm';
    $('invite').hidden = !c || c.visibility === 'dm';
    const members = $('pane-members');
    members.replaceChildren();
    if (!c || !c.members) return;
    const online = c.members.filter((m) => m.online).length;
    members.append(el('span', { class: 'count', text: `${c.members.length} members · ${online} online` }));
    const list = el('ul', { class: 'member-list' });
    for (const m of c.members) {
      list.append(el('li', { 'data-user': m.user },
        el('span', { class: `dot ${m.online ? 'online' : 'offline'}`, title: m.online ? 'online' : 'offline' }),
        el('span', { text: m.user }), m.role === 'owner' ? el('span', { class: 'role', text: 'owner' }) : null));
    }
    members.append(list);
  }

  renderMessages(c) {
    const chat = this.chat;
    const list = $('messages');
    const pending = c ? chat.pendingFor(c) : [];
    // What the rows depend on, but for how far down the history goes (log.first): when only that
    // changed (an older page came in), the new rows are put in front of those drawn, not all redrawn.
    const rest = c ? [c.channel, c.log.epoch, c.log.last, chat.readByOthers(c),
      pending.map((p) => `${p.body.client_msg_id}:${p.state}:${p.error ? p.error.code : ''}`).join(','),
      this.editing].join('|') : '';
    const key = c ? `${rest}|${c.log.first}|${c.log.events.length}` : '';
    const noteKey = c ? [c.loadingOlder, c.log.hasOlder(), c.log.full, c.log.complete].join('|') : '';
    if (key === this.paneKey) {
      if (noteKey !== this.noteKey) this.replaceNote(list, c, noteKey);
      return;
    }
    const sameChannel = c && this.paneChannel === `${c.channel}|${c.log.epoch}`;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    // The reader's place: the first row at least partly in view, and where it is on screen. Rows
    // added above it (an older page) or below (live events) must not move it.
    const anchor = sameChannel && !atBottom && !this.scrollDown ? this.anchorRow(list) : null;
    const drawnFirst = this.paneFirst;
    const older = sameChannel && rest === this.paneRest && c.log.first < drawnFirst
      && c.log.events.length > 0 && list.querySelector('li[data-seq]');
    this.paneKey = key;
    this.paneRest = rest;
    this.paneFirst = c ? c.log.first : 0;
    this.paneChannel = c ? `${c.channel}|${c.log.epoch}` : '';
    if (older) {
      // Only older rows: folded with everything (an older page's edits and reactions target rows of
      // that page or older), and put in front of the first row drawn.
      const above = document.createDocumentFragment();
      const readUpTo = chat.readByOthers(c);
      for (const row of buildTimeline(c.log.events)) {
        if (row.seq > drawnFirst) break;
        above.append(row.kind === 'member' ? this.memberLine(row) : this.messageRow(row, readUpTo));
      }
      list.insertBefore(above, list.querySelector('li[data-seq]'));
      this.replaceNote(list, c, noteKey);
    } else {
      list.replaceChildren();
      this.noteKey = '';
      if (!c) {
        list.append(el('li', { class: 'empty', text: 'Pick a channel, or join one with +.' }));
        return;
      }
      this.replaceNote(list, c, noteKey);
      const readUpTo = chat.readByOthers(c);
      for (const row of buildTimeline(c.log.events)) {
        list.append(row.kind === 'member' ? this.memberLine(row) : this.messageRow(row, readUpTo));
      }
      for (const p of pending) list.append(this.pendingRow(p));
    }
    if (atBottom || this.scrollDown || !sameChannel) {
      list.scrollTop = list.scrollHeight;
    } else if (anchor) {
      const row = list.querySelector(`li[data-seq="${anchor.seq}"]`);
      if (row) list.scrollTop += row.getBoundingClientRect().top - anchor.top;
    }
    this.scrollDown = false;
    this.maybeLoadOlder();
  }

  /** The line above the rows: older messages loading, to be had by scrolling up, or not kept. */
  replaceNote(list, c, noteKey) {
    const anchor = this.anchorRow(list);
    this.noteKey = noteKey;
    const old = list.firstElementChild && list.firstElementChild.classList.contains('history-note')
      ? list.firstElementChild : null;
    let note = null;
    if (c.loadingOlder) {
      note = el('li', { class: 'history-note loading', role: 'status', text: 'Loading earlier messages…' });
    } else if (c.log.hasOlder()) {
      note = el('li', { class: 'history-note older', text: 'Scroll up for earlier messages.' });
    } else if (c.log.full || (c.log.first > 0 && !c.log.complete)) {
      note = el('li', { class: 'history-note', text: 'Earlier messages are not shown.' });
    }
    if (old && note) old.replaceWith(note);
    else if (old) old.remove();
    else if (note) list.prepend(note);
    if (anchor) {
      const row = list.querySelector(`li[data-seq="${anchor.seq}"]`);
      if (row) list.scrollTop += row.getBoundingClientRect().top - anchor.top;
    }
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

  /** Near the top of the pane (or the pane not full yet) with older events to fetch: fetch them. */
  maybeLoadOlder() {
    const c = this.chat.channels.get(this.chat.open);
    if (!c || c.loadingOlder || !c.log.hasOlder()) return;
    if ($('messages').scrollTop < LOAD_OLDER_PX) this.chat.loadOlder();
  }

  memberLine(row) {
    let text;
    if (row.type === 'join') text = row.from && row.from !== row.user ? `${row.from} added ${row.user}` : `${row.user} joined`;
    else text = row.from && row.from !== row.user ? `${row.from} removed ${row.user}` : `${row.user} left`;
    return el('li', { class: 'member-line', 'data-seq': row.seq }, el('span', { text }), el('time', { text: clock(row.ts) }));
  }

  messageRow(row, readUpTo) {
    const own = row.from === this.chat.me;
    const li = el('li', { class: `msg${own ? ' own' : ''}${row.deleted ? ' deleted' : ''}${row.seq === this.editing ? ' editing' : ''}`,
      'data-seq': row.seq });
    const head = el('div', { class: 'msg-head' },
      el('span', { class: 'author', text: row.from }),
      el('time', { text: clock(row.ts), title: new Date(row.ts).toLocaleString() }));
    if (own && !row.deleted) {
      const read = readUpTo >= row.seq;
      head.append(el('span', { class: `tick${read ? ' read' : ''}`, title: read ? 'Read' : 'Sent', text: read ? '✓✓' : '✓' }));
    }
    const main = el('div', { class: 'msg-main' }, head,
      el('div', { class: 'body', text: row.deleted ? 'This message was deleted.' : row.body }),
      row.edited && !row.deleted ? el('span', { class: 'edited', text: '(edited)' }) : null);
    if (row.reactions.length) {
      const reactions = el('div', { class: 'reactions' });
      for (const r of row.reactions) {
        const mine = r.users.includes(this.chat.me);
        reactions.append(el('button', { class: `reaction${mine ? ' mine' : ''}`, 'data-act': 'react',
          'data-emoji': r.emoji, 'data-on': mine ? 'false' : 'true', title: r.users.join(', '),
          text: `${r.emoji} ${r.users.length}` }));
      }
      main.append(reactions);
    }
    li.append(el('div', { class: 'avatar', text: (row.from || '?').slice(0, 1).toUpperCase() }), main);
    if (!row.deleted) {
      const actions = el('div', { class: 'actions' });
      for (const emoji of QUICK_REACTIONS) {
        actions.append(el('button', { 'data-act': 'react', 'data-emoji': emoji, 'data-on': 'true', title: `React ${emoji}`, text: emoji }));
      }
      if (own) {
        actions.append(el('button', { 'data-act': 'edit', title: 'Edit', text: 'Edit' }),
          el('button', { 'data-act': 'delete', title: 'Delete', text: 'Delete' }));
      }
      li.append(actions);
    }
    return li;
  }

  pendingRow(p) {
    const failed = p.state === 'failed';
    return el('li', { class: `msg own pending${failed ? ' failed' : ''}`, 'data-client-msg-id': p.body.client_msg_id },
      el('div', { class: 'avatar', text: this.chat.me.slice(0, 1).toUpperCase() }),
      el('div', { class: 'msg-main' },
        el('div', { class: 'msg-head' }, el('span', { class: 'author', text: this.chat.me }),
          el('span', { class: 'state', text: failed ? 'Not sent' : 'Sending…' })),
        el('div', { class: 'body', text: p.body.body }),
        p.error ? el('div', { class: failed ? 'error' : 'retrying', role: failed ? 'alert' : null,
          text: `${p.error.code}: ${p.error.message}${failed ? '' : ' (trying again)'}` }) : null,
        failed ? el('button', { class: 'discard', 'data-act': 'retry', text: 'Retry' }) : null,
        failed ? el('button', { class: 'discard', 'data-act': 'discard', text: 'Discard' }) : null));
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
      el('span', { text: t.text }), el('button', { 'data-toast': t.id, title: 'Dismiss', text: '×' }))));
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
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      } else if (e.key === 'Escape' && this.editing !== null) {
        this.cancelEdit();
      }
    };
    input.oninput = () => {
      if (this.editing === null) chat.typing(input.value);
      input.style.height = 'auto';
      input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
    };
    $('composer').onsubmit = (e) => { e.preventDefault(); this.submit(); };
    $('cancel-edit').onclick = () => this.cancelEdit();
    $('messages').onclick = (e) => this.onMessageClick(e);
    $('messages').onscroll = () => this.maybeLoadOlder();
    $('toasts').onclick = (e) => {
      const b = e.target.closest('button[data-toast]');
      if (b) chat.dismissToast(b.dataset.toast);
    };
    $('menu').onclick = () => document.body.classList.toggle('show-sidebar');
    $('leave').onclick = () => chat.open && chat.leave(chat.open);
    $('new-channel').onclick = () => this.dialog('dialog-channel');
    $('new-dm').onclick = () => this.dialog('dialog-dm');
    $('invite').onclick = () => this.dialog('dialog-invite');
    $('dialog-channel').onsubmit = async (e) => {
      e.preventDefault();
      const form = e.target;
      const name = form.elements.channel.value.trim();
      const ok = e.submitter && e.submitter.value === 'create'
        ? await chat.createChannel(name, form.elements.private.checked)
        : await chat.joinChannel(name);
      if (ok) { form.reset(); $('dialog-channel').close(); this.scrollDown = true; }
    };
    $('dialog-dm').onsubmit = async (e) => {
      e.preventDefault();
      const ok = await chat.openDm(e.target.elements.user.value.trim());
      if (ok) { e.target.reset(); $('dialog-dm').close(); this.scrollDown = true; }
    };
    $('dialog-invite').onsubmit = async (e) => {
      e.preventDefault();
      const ok = await chat.invite(chat.open, e.target.elements.user.value.trim());
      if (ok) { e.target.reset(); $('dialog-invite').close(); }
    };
    for (const d of document.querySelectorAll('dialog')) {
      d.querySelector('[value=cancel]').onclick = (e) => { e.preventDefault(); d.close(); };
    }
  }

  dialog(id) {
    const d = $(id);
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
    input.value = '';
    input.style.height = 'auto';
  }

  onMessageClick(e) {
    const b = e.target.closest('button[data-act]');
    if (!b) return;
    const li = b.closest('li');
    const seq = Number(li.dataset.seq);
    switch (b.dataset.act) {
      case 'react': this.chat.react(seq, b.dataset.emoji, b.dataset.on === 'true'); break;
      case 'delete': this.chat.remove(seq); break;
      case 'discard': this.chat.discard(li.dataset.clientMsgId); break;
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
