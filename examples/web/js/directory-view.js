// directory-view.js - the "Browse channels" dialog: draws a Directory (directory.js), pages on
// "More channels" (and on scrolling to the end of the list), and joins or opens a channel.

import { $, el } from './dom.js';
import { Directory } from './directory.js';
import { plural } from './format.js';

export class DirectoryView {
  /** @param {import('./chat.js').Chat} chat @param {(id: string) => void} opened after a join or open */
  constructor(chat, opened) {
    this.chat = chat;
    this.opened = opened;
    this.dir = new Directory(chat.conn, () => this.render());
    this.joining = new Set();
    const dialog = $('dialog-directory');
    $('directory-more').onclick = () => this.dir.more();
    $('directory-list').onscroll = (e) => {
      const l = e.target;
      if (l.scrollHeight - l.scrollTop - l.clientHeight < 40) this.dir.more();
    };
    $('directory-list').onclick = (e) => this.onClick(e);
    dialog.querySelector('[value=cancel]').onclick = () => dialog.close();
  }

  /** Opens the dialog at the first page, fetched afresh (counts change). */
  show() {
    this.dir.reset();
    this.joining.clear();
    this.render();
    $('dialog-directory').showModal();
    this.dir.more();
  }

  async onClick(e) {
    const b = e.target.closest('button[data-join], button[data-open]');
    if (!b) return;
    if (b.dataset.open) {
      this.chat.openChannel(b.dataset.open);
      $('dialog-directory').close();
      this.opened(b.dataset.open);
      return;
    }
    const id = b.dataset.join;
    this.joining.add(id);
    this.render();
    const result = await this.chat.joinChannel(id, { quiet: true });
    this.joining.delete(id);
    if (result.ok) {
      this.dir.joined(id);
      this.opened(id);
    } else {
      this.dir.error = result.error;
    }
    this.render();
  }

  render() {
    const dir = this.dir;
    const list = $('directory-list');
    const items = dir.channels.map((c) => {
      const member = c.member || this.chat.channels.has(c.channel);
      const action = member
        ? el('button', { class: 'link joined', 'data-open': c.channel, text: 'Joined · Open' })
        : el('button', { class: 'primary', 'data-join': c.channel, disabled: this.joining.has(c.channel),
          text: this.joining.has(c.channel) ? 'Joining…' : 'Join' });
      return el('li', { 'data-channel': c.channel },
        el('div', { class: 'dir-main' },
          el('span', { class: 'dir-name', text: `# ${c.channel}` }),
          c.title && c.title !== c.channel ? el('span', { class: 'dir-title', text: c.title }) : null,
          el('span', { class: 'dir-count', text: plural(c.members || 0, 'member') })),
        action);
    });
    if (dir.loading) items.push(el('li', { class: 'dir-note', role: 'status', text: 'Loading…' }));
    else if (!dir.channels.length && !dir.hasMore()) items.push(el('li', { class: 'dir-note', text: 'No public channels yet: create one with +.' }));
    list.replaceChildren(...items);
    $('directory-more').hidden = !dir.hasMore() || dir.loading || dir.next === undefined;
    const error = $('dialog-directory').querySelector('.dialog-error');
    error.textContent = dir.error ? `${dir.error.code}: ${dir.error.message}` : '';
    if (dir.error) error.dataset.code = dir.error.code;
    else delete error.dataset.code;
  }
}
