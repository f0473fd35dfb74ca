// search.js - the search box's state, without the DOM (search-view.js draws it): the `search` op
// (docs/protocol.md, "Search") asked with what the box says (search-query.js), its pages followed
// by cursor on "More results", and a newer question dropping the answers of an older one.

import { groupByChannel, parseSearch } from './search-query.js';

export const SEARCH_PAGE = 20;

export class Search {
  /** @param {{api(op: string, fields: object): Promise<object>}} conn @param {() => void} onChange */
  constructor(conn, onChange) {
    this.conn = conn;
    this.onChange = onChange;
    this.reset();
  }

  reset() {
    this.text = '';
    this.fields = null; // the op's fields for `text` (parseSearch), null when there is nothing to ask
    this.results = [];
    this.cursor = null; // the next page's cursor; null: no further page
    this.loading = false;
    this.error = null;
    this.stale = false; // the server's index was still behind: the newest messages may be missing
    this.asked = 0; // counts questions: an answer to an older one is dropped
  }

  /** Asks afresh for what the box now says (nothing, for only filters or spaces). */
  async ask(text) {
    const fields = parseSearch(text);
    const id = ++this.asked;
    this.text = text;
    this.fields = fields.query ? fields : null;
    this.results = [];
    this.cursor = null;
    this.error = null;
    this.stale = false;
    this.loading = false;
    if (this.fields) await this.page(id);
    else this.onChange();
  }

  /** The next older page of the current question, if there is one. */
  more() {
    if (!this.fields || this.loading || !this.cursor) return Promise.resolve();
    return this.page(this.asked, this.cursor);
  }

  async page(id, cursor = undefined) {
    this.loading = true;
    this.onChange();
    try {
      const reply = await this.conn.api('search', { ...this.fields, limit: SEARCH_PAGE, ...(cursor ? { cursor } : {}) });
      if (id !== this.asked) return;
      this.results = this.results.concat(reply.results || []);
      this.cursor = reply.cursor || null;
      this.stale = this.stale || reply.stale === true;
    } catch (err) {
      if (id === this.asked) this.error = err;
    } finally {
      if (id === this.asked) {
        this.loading = false;
        this.onChange();
      }
    }
  }

  groups() { return groupByChannel(this.results); }

  hasMore() { return !!this.cursor; }
}
