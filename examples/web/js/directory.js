// directory.js - the "Browse channels" list: the server's public channels, a page at a time.
//
// The server lists public channels by name (docs/protocol.md, `{"op":"directory","after","limit"}`),
// each with its member count and whether we are in it, and says where the next page starts
// (`next`, null at the end). Private channels and DMs are never listed. This keeps the pages fetched
// so far and fetches the next on demand; joining goes through Chat (which refreshes the inbox and
// opens the channel) and marks the row joined. No DOM: ui.js draws it, the unit tests run it with a
// fake connection.

export const DIRECTORY_PAGE = 50;

export class Directory {
  /**
   * @param {{api(op: string, fields?: object): Promise<object>}} conn
   * @param {() => void} onChange called whenever what is shown changed
   * @param {number} [limit] channels per page
   */
  constructor(conn, onChange, limit = DIRECTORY_PAGE) {
    this.conn = conn;
    this.onChange = onChange;
    this.limit = limit;
    this.reset();
  }

  /** Forgets the pages: the next more() fetches the first again. */
  reset() {
    this.channels = []; // [{channel, title, members, member}] in name order
    this.next = undefined; // where the next page starts; null: no more; undefined: nothing fetched
    this.loading = false;
    this.error = null;
    this.generation = (this.generation || 0) + 1;
  }

  /** Whether a further page may exist. */
  hasMore() { return this.next !== null; }

  /** Fetches the next page (the first after reset()). Resolves when it is in (or refused). */
  async more() {
    if (this.loading || !this.hasMore()) return;
    const generation = this.generation;
    this.loading = true;
    this.error = null;
    this.onChange();
    try {
      const fields = { limit: this.limit };
      if (this.next) fields.after = this.next;
      const reply = await this.conn.api('directory', fields);
      if (generation !== this.generation) return; // reset meanwhile: a stale page
      const known = new Set(this.channels.map((c) => c.channel));
      for (const c of reply.channels || []) if (!known.has(c.channel)) this.channels.push({ ...c });
      this.next = typeof reply.next === 'string' && reply.next ? reply.next : null;
    } catch (err) {
      if (generation === this.generation) this.error = err;
    } finally {
      if (generation === this.generation) this.loading = false;
      this.onChange();
    }
  }

  /** A channel of the list was joined (or left): its row says so, and counts us. */
  joined(id, member = true) {
    const c = this.channels.find((x) => x.channel === id);
    if (!c || c.member === member) return;
    c.member = member;
    c.members = Math.max(0, (c.members || 0) + (member ? 1 : -1));
    this.onChange();
  }
}
