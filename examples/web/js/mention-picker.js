// mention-picker.js - the `@` list of a composer: as `@` starts a word, the channel's members whose
// name starts with what follows are offered above the field; arrows move, Enter or Tab (or a click)
// put `@name ` in, Escape closes. `@channel` and `@here` (everyone) are offered once a letter of them
// is typed. The text work is mentions.js's; this is the keys and the list.

import { el } from './dom.js';
import { EVERYONE, insertMention, mentionAt, offers } from './mentions.js';

export class MentionPicker {
  /**
   * @param {HTMLTextAreaElement} input the composer's field
   * @param {HTMLElement} list the <ul> shown above it
   * @param {{members(): ?string[], me: string, online(user: string): boolean}} source who can be named
   */
  constructor(input, list, source) {
    this.input = input;
    this.list = list;
    this.source = source;
    this.state = null; // {start, names, index} while the list is shown
    input.addEventListener('blur', () => this.close());
    input.addEventListener('click', () => this.suggest());
    list.onmousedown = (e) => {
      e.preventDefault(); // keeps the focus in the field
      const li = e.target.closest('li[data-user]');
      if (li) this.pick(li.dataset.user);
    };
  }

  /** After each input: offer who matches the `@name` being typed before the caret, if any. */
  suggest() {
    const { input } = this;
    const members = this.source.members();
    const at = members && input.selectionStart === input.selectionEnd ? mentionAt(input.value, input.selectionStart) : null;
    const names = at ? offers(members, at.prefix, this.source.me) : [];
    if (!names.length) { this.close(); return; }
    const kept = this.state ? names.indexOf(this.state.names[this.state.index]) : -1;
    this.state = { start: at.start, names, index: Math.max(kept, 0) };
    this.render();
  }

  /** A keydown in the field: true when the list took it (the caller then does nothing with it). */
  key(e) {
    const s = this.state;
    if (!s) return false;
    const n = s.names.length;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      s.index = (s.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.render();
    } else if ((e.key === 'Enter' && !e.shiftKey && !e.isComposing) || e.key === 'Tab') {
      this.pick(s.names[s.index]);
    } else if (e.key === 'Escape') {
      this.close();
    } else {
      return false;
    }
    e.preventDefault();
    e.stopPropagation();
    return true;
  }

  pick(name) {
    const { input } = this;
    if (!this.state) return;
    const next = insertMention(input.value, this.state.start, input.selectionStart, name);
    input.value = next.text;
    input.setSelectionRange(next.caret, next.caret);
    this.close();
    input.focus();
  }

  close() {
    if (!this.state) return;
    this.state = null;
    this.render();
  }

  render() {
    const { list } = this;
    list.hidden = !this.state;
    if (!this.state) { list.replaceChildren(); return; }
    const { names, index } = this.state;
    list.replaceChildren(...names.map((name, i) => el('li', { 'data-user': name, role: 'option',
      'aria-selected': String(i === index), class: i === index ? 'selected' : null },
    EVERYONE.includes(name) && !this.source.members()?.includes(name)
      ? el('span', { class: 'everyone', text: '@' }) : el('span', { class: `dot ${this.source.online(name) ? 'online' : 'offline'}` }),
    el('span', { text: name }),
    EVERYONE.includes(name) ? el('span', { class: 'hint', text: 'everyone in the channel' }) : null)));
  }
}
