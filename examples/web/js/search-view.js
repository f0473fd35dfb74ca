// search-view.js - the search box (a dialog opened by Ctrl/Cmd-K, or `/` outside the composer):
// draws a Search (search.js) as results grouped by channel, each hit of a snippet a <mark> made from
// the snippet's text pieces (search-query.js splits it; nothing is parsed as HTML), "More results"
// for the next page, and a click opening the channel at that message.

import { $, clock, el } from './dom.js';
import { dayLabel } from './format.js';
import { Search } from './search.js';
import { splitSnippet } from './search-query.js';

const TYPE_PAUSE_MS = 250; // asks once typing pauses this long (Enter asks at once)

export class SearchView {
  /**
   * @param {import('./chat.js').Chat} chat
   * @param {(channel: string, seq: number) => void} reveal opens the channel at the message
   */
  constructor(chat, reveal) {
    this.chat = chat;
    this.reveal = reveal;
    this.search = new Search(chat.conn, () => this.render());
    this.timer = 0;
    const dialog = $('dialog-search');
    const input = $('search-input');
    input.oninput = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search.ask(input.value), TYPE_PAUSE_MS);
    };
    $('search-form').onsubmit = (e) => {
      e.preventDefault();
      clearTimeout(this.timer);
      this.search.ask(input.value);
    };
    $('search-more').onclick = () => this.search.more();
    $('search-results').onclick = (e) => {
      const b = e.target.closest('button[data-seq]');
      if (!b) return;
      dialog.close();
      this.reveal(b.dataset.channel, Number(b.dataset.seq));
    };
    dialog.querySelector('[value=cancel]').onclick = () => dialog.close();
  }

  show() {
    const dialog = $('dialog-search');
    if (!dialog.open) dialog.showModal();
    $('search-input').select();
    this.render();
  }

  where(channel) {
    const c = this.chat.channels.get(channel);
    return c && c.visibility === 'dm' ? `@${c.user || c.title}` : `# ${channel}`;
  }

  render() {
    const s = this.search;
    const items = s.groups().map((g) => el('li', { class: 'search-group', 'data-channel': g.channel },
      el('h3', { text: this.where(g.channel) }),
      el('ul', {}, ...g.results.map((r) => el('li', {},
        // type=button: a submit button in the form would be what Enter in the box presses.
        el('button', { type: 'button', class: 'search-hit', 'data-channel': r.channel, 'data-seq': r.seq },
          el('span', { class: 'hit-head' }, el('span', { class: 'author', text: r.from }),
            el('time', { text: `${dayLabel(r.ts)} ${clock(r.ts)}`, title: new Date(r.ts).toLocaleString() })),
          el('span', { class: 'snippet' }, ...splitSnippet(r.snippet || r.body || '').map((p) =>
            (p.hit ? el('mark', { text: p.text }) : p.text)))))))));
    if (s.stale && !s.loading) {
      items.push(el('li', { class: 'search-note', role: 'status', text: 'The server is still indexing: the newest messages may be missing. Search again in a moment.' }));
    }
    if (s.loading) items.push(el('li', { class: 'search-note', role: 'status', text: 'Searching…' }));
    else if (s.fields && !s.results.length && !s.error) items.push(el('li', { class: 'search-note', text: 'No messages match.' }));
    else if (!s.fields) {
      items.push(el('li', { class: 'search-note', text: 'Words to find; in:#channel and from:@user narrow it; "a phrase", road* a prefix.' }));
    }
    $('search-results').replaceChildren(...items);
    $('search-more').hidden = !s.hasMore() || s.loading;
    const error = $('dialog-search').querySelector('.dialog-error');
    error.textContent = s.error ? `${s.error.code}: ${s.error.message}` : '';
    if (s.error) error.dataset.code = s.error.code;
    else delete error.dataset.code;
  }
}
