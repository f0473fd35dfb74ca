// downloads.js - a message's files fetched back (docs/protocol.md, "Media"): `download` answers with
// raw bytes, at most a chunk at a time, on our reply topic; the pieces are asked one after another and
// put together, checked against the entry's sha256, and kept as a Blob URL per media id while the
// page lives (a redraw of the pane shows a preview again without fetching it again). No DOM.

import { isImage } from './media.js';

/** A piece asked again after a timeout (an answer dropped), at most this often, before giving up. */
const TRIES = 3;

export class Downloads {
  /** @param {{download(media, offset, length?): Promise<Uint8Array>}} conn @param {() => void} onChange */
  constructor(conn, onChange = () => {}) {
    this.conn = conn;
    this.onChange = onChange;
    this.blobs = new Map(); // media id -> Promise<{blob, bytes, url}>
    this.state = new Map(); // media id -> {done, size, error}
  }

  /** What is known of `id`'s download: {done, size, error} or null when never asked. */
  status(id) {
    return this.state.get(id) || null;
  }

  /** The entry's bytes as a Blob with a URL (fetched once; a failure may be asked again). */
  fetch(entry) {
    let p = this.blobs.get(entry.id);
    if (!p) {
      p = this.load(entry).catch((err) => {
        this.blobs.delete(entry.id);
        throw err;
      });
      this.blobs.set(entry.id, p);
    }
    return p;
  }

  async load(entry) {
    const st = { done: 0, size: entry.size, error: null };
    this.state.set(entry.id, st);
    this.onChange();
    try {
      const bytes = await readAll(this.conn, entry.id, entry.size, (n) => { st.done += n; this.onChange(); });
      if (entry.sha256 && !(await sameSha256(bytes, entry.sha256))) {
        throw Object.assign(new Error('the bytes received do not match the file\'s sha256'), { code: 'corrupt' });
      }
      // Only the image types the page previews keep theirs: anything else (text/html, image/svg+xml)
      // is bytes to save, never content the browser might render from a Blob URL.
      const blob = new Blob([bytes], { type: isImage(entry.type) ? entry.type : 'application/octet-stream' });
      st.done = st.size;
      this.onChange();
      return { blob, bytes, url: URL.createObjectURL(blob) };
    } catch (err) {
      st.error = { code: err.code || 'error', message: err.message || String(err) };
      this.onChange();
      throw err;
    }
  }
}

/**
 * `size` bytes of `id`, one answer after another from offset 0. No `length` is asked: each answer
 * is the server's chunk (whatever it is configured to), fewer at the end of the file.
 *
 * One request at a time, not several: the server drops the answers to a client whose socket has more
 * than half its send buffer unsent (io/reply.c: a client that stops reading must not pile up memory),
 * and several large answers at once can do that: with 256 KiB chunks, 4 in flight lost answers (and
 * then the connection). Nor is it slower: 3 MiB in 64 KiB chunks to headless Chromium took 419 ms one
 * at a time, 462 ms two, 646 ms four (loopback, a loaded 2-core machine).
 */
export async function readAll(conn, id, size, onBytes = () => {}) {
  const out = new Uint8Array(size);
  let at = 0;
  while (at < size) {
    const got = await askAgain(() => conn.download(id, at));
    if (!got.length) throw Object.assign(new Error(`no bytes at ${at} of ${size}`), { code: 'short' });
    out.set(got.subarray(0, size - at), at);
    at += got.length;
    onBytes(got.length);
  }
  return out;
}

async function askAgain(ask) {
  for (let i = 1; ; i++) {
    try {
      return await ask();
    } catch (err) {
      if (err.code !== 'timeout' || i >= TRIES) throw err;
    }
  }
}

/** Whether `bytes` hash to `hex` (true where the page has no WebCrypto: nothing to check with). */
export async function sameSha256(bytes, hex) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) return true;
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') === hex.toLowerCase();
}
