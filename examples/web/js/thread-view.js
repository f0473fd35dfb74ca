// thread-view.js - the thread panel beside the messages: a thread's root and its replies (Chat's
// threadEvents(): the `thread` op's pages merged with what the channel's log holds, so live replies
// appear as they arrive), its replies not yet stored, and a composer that sends with `thread`.

import { $, el } from './dom.js';
import { plural } from './format.js';
import { MentionPicker } from './mention-picker.js';
import { messageRow, pendingRow } from './rows.js';
import { buildTimeline } from './timeline.js';

export class ThreadView {
  /** @param {import('./chat.js').Chat} chat */
  constructor(chat) {
    this.chat = chat;
    this.key = '';
    this.media = null; // media-view.js's MediaView, set by ChatView: a message's files and images
    const input = $('thread-input');
    this.picker = new MentionPicker(input, $('thread-mention-list'), chat.mentionSource(() => chat.thread && chat.thread.channel));
    input.oninput = () => this.picker.suggest();
    input.onkeydown = (e) => {
      if (this.picker.key(e)) return;
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      } else if (e.key === 'Escape') {
        chat.closeThread();
      }
    };
    $('thread-composer').onsubmit = (e) => { e.preventDefault(); this.submit(); };
    $('thread-close').onclick = () => chat.closeThread();
    $('thread-messages').onclick = (e) => {
      const b = e.target.closest('button[data-act=react]');
      const t = chat.thread;
      if (b && t) chat.react(Number(b.closest('li').dataset.seq), b.dataset.emoji, b.dataset.on === 'true');
    };
  }

  submit() {
    const input = $('thread-input');
    if (!input.value.trim()) return;
    this.chat.sendReply(input.value);
    input.value = '';
    this.stick = true;
  }

  render() {
    const chat = this.chat;
    const t = chat.thread;
    const panel = $('thread');
    document.body.classList.toggle('thread-open', !!t);
    panel.hidden = !t;
    if (!t) { this.key = ''; return; }
    const events = chat.threadEvents();
    const pending = chat.threadPending();
    const key = [t.channel, t.root, t.loading, events.length, events.at(-1)?.seq,
      pending.map((p) => `${p.body.client_msg_id}:${p.state}`).join(',')].join('|');
    if (key === this.key) return;
    const opening = !this.key.startsWith(`${t.channel}|${t.root}|`);
    this.key = key;
    const list = $('thread-messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    $('thread-where').textContent = `# ${t.channel}`;
    const rows = buildTimeline(events, { replies: true });
    const ctx = { me: chat.me, editing: null, readUpTo: chat.readByOthers(chat.channels.get(t.channel) || { readCursors: {} }),
      inThread: true, media: this.media };
    const root = rows.find((r) => r.seq === t.root);
    const replies = rows.filter((r) => r.kind === 'message' && r.seq !== t.root);
    const live = replies.filter((r) => !r.deleted).length;
    const items = [];
    if (root) items.push(messageRow(root, ctx, false));
    items.push(el('li', { class: 'thread-count', role: 'separator' },
      el('span', { text: t.loading && !replies.length ? 'Loading replies…' : plural(live, 'reply', 'replies') })));
    for (const r of replies) items.push(messageRow(r, ctx, false));
    for (const p of pending) items.push(pendingRow(p, chat.me));
    list.replaceChildren(...items);
    if (opening || atBottom || this.stick) list.scrollTop = list.scrollHeight;
    this.stick = false;
    if (opening) $('thread-input').focus();
  }
}
