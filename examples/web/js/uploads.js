// uploads.js - files on their way to the server (docs/protocol.md, "Media"): `upload` names one and
// gives its id and piece size, the pieces go raw to chat/_media/<media>/<offset> (a few at a time,
// each acknowledged), and once every upload of a file is complete its message is sent with their
// ids. An image goes with a thumbnail the page made, uploaded first as an upload of its own.
//
// An upload the connection interrupted waits for Retry, which asks `upload_status` what arrived
// and sends only the rest: the File and the media id are kept while the page lives. Cancel stops
// sending (the server collects an upload no message references). No DOM: Blobs and the connection.

import { missingPieces, resumeRanges, thumbName } from './media.js';

/** Pieces in flight at once per upload: enough to keep a WebSocket busy, few enough to stop soon. */
const IN_FLIGHT = 4;

/** Refusals that a Retry cannot mend: the upload is failed, not interrupted. */
const FINAL = new Set(['too_large', 'quota_exceeded', 'forbidden', 'not_member', 'no_such_channel', 'bad_request',
  'no_such_media', 'conflict']);

let nextKey = 1;

/**
 * @typedef {object} Upload one file: `parts` is the file and, for an image, its thumbnail first
 * @property {string} key @property {string} channel @property {string} name @property {string} type
 * @property {number} size @property {'uploading'|'interrupted'|'failed'|'sent'} state
 * @property {?{code: string, message: string}} error
 * @property {{blob: Blob, name: string, type: string, size: number, media: ?string, chunk: number,
 *   done: number, complete: boolean, optional: boolean}[]} parts
 */

export class Uploads {
  /**
   * @param {{api(op, fields), piece(media, offset, bytes)}} conn connection.js's Connection
   * @param {{onChange(), onComplete(upload: Upload, ids: string[]), onError(upload, err)}} handlers
   *   onComplete: every part is in; send the message with `ids` as its media (the file's id, or
   *   {id, thumbnail} when the page made a thumbnail)
   */
  constructor(conn, handlers) {
    this.conn = conn;
    this.handlers = handlers;
    this.items = []; // Upload[], in the order they were added
  }

  /** Starts uploading `file` (a File or Blob with a name) to `channel`; `thumbnail` an optional Blob. */
  add(channel, file, thumbnail = null) {
    const name = file.name || 'file';
    const type = file.type || 'application/octet-stream';
    const parts = [];
    if (thumbnail) {
      parts.push(newPart(thumbnail, thumbName(name), thumbnail.type || 'image/jpeg', true));
    }
    parts.push(newPart(file, name, type, false));
    const up = { key: `u${nextKey++}`, channel, name, type, size: file.size, state: 'uploading', error: null,
      parts, run: 0 };
    this.items.push(up);
    this.run(up);
    return up;
  }

  get(key) {
    return this.items.find((u) => u.key === key) || null;
  }

  /** Bytes acknowledged and bytes in all, over the parts still wanted. */
  progress(up) {
    let done = 0;
    let size = 0;
    for (const p of up.parts) { done += p.done; size += p.size; }
    return { done, size };
  }

  /** Stops an upload and forgets it (Cancel, or Dismiss of a failed one). */
  cancel(key) {
    const up = this.get(key);
    if (!up) return;
    up.run++; // the running loop sees a newer run and stops
    this.items = this.items.filter((u) => u !== up);
    this.handlers.onChange();
  }

  /** Picks an interrupted upload up where it stopped. */
  retry(key) {
    const up = this.get(key);
    if (!up || up.state !== 'interrupted') return;
    up.state = 'uploading';
    up.error = null;
    this.run(up);
  }

  async run(up) {
    const run = ++up.run;
    this.handlers.onChange();
    try {
      for (const part of up.parts) {
        if (part.complete) continue;
        try {
          await this.sendPart(up, part, run);
        } catch (err) {
          // A thumbnail that cannot go is left out: the image still can.
          if (!part.optional || up.run !== run || !FINAL.has(err.code)) throw err;
          part.skipped = true;
        }
        if (up.run !== run) return;
      }
    } catch (err) {
      if (up.run !== run) return;
      up.run++; // the other pieces in flight stop at their next step
      up.error = { code: err.code || 'error', message: err.message || String(err) };
      up.state = FINAL.has(err.code) ? 'failed' : 'interrupted';
      this.handlers.onError(up, up.error);
      this.handlers.onChange();
      return;
    }
    if (up.run !== run) return;
    up.state = 'sent';
    this.items = this.items.filter((u) => u !== up);
    const file = up.parts[up.parts.length - 1];
    const thumb = up.parts.length > 1 && !up.parts[0].skipped ? up.parts[0] : null;
    // The send's media entry: the file's id, with its thumbnail's (docs/protocol.md, "Thumbnails").
    this.handlers.onComplete(up, thumb ? [{ id: file.media, thumbnail: thumb.media }] : [file.media]);
    this.handlers.onChange();
  }

  /** One part: named (or its status asked, on a retry), then its missing pieces, IN_FLIGHT at a time. */
  async sendPart(up, part, run) {
    let ranges = [];
    if (!part.media) {
      const r = await this.conn.api('upload', { channel: up.channel, name: part.name, type: part.type, size: part.size });
      part.media = r.media;
      part.chunk = r.chunk;
    } else {
      const status = await this.conn.api('upload_status', { media: part.media });
      if (status.complete) { part.done = part.size; part.complete = true; return; }
      ranges = resumeRanges(status, part.chunk);
      part.done = ranges.reduce((n, [s, e]) => n + Math.max(0, Math.min(e, part.size) - s), 0);
    }
    if (up.run !== run) return;
    const queue = missingPieces(part.size, part.chunk, ranges);
    const worker = async () => {
      while (queue.length && up.run === run) {
        const { offset, length } = queue.shift();
        const bytes = new Uint8Array(await part.blob.slice(offset, offset + length).arrayBuffer());
        if (up.run !== run) return;
        const ack = await this.conn.piece(part.media, offset, bytes);
        if (up.run !== run) return;
        part.done = Math.max(part.done, Math.min(part.size, Number(ack.received) || part.done + length));
        if (ack.complete) part.complete = true;
        this.handlers.onChange();
      }
    };
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, Math.max(1, queue.length)) }, worker));
    if (up.run !== run) return;
    if (!part.complete) {
      // Every piece acknowledged but no "complete" seen (a zero-byte file, or acks raced): ask.
      const status = await this.conn.api('upload_status', { media: part.media });
      if (!status.complete) throw Object.assign(new Error('the upload is not complete'), { code: 'incomplete' });
      part.complete = true;
    }
    part.done = part.size;
  }
}

function newPart(blob, name, type, optional) {
  return { blob, name, type, size: blob.size, media: null, chunk: 0, done: 0, complete: false, optional, skipped: false };
}
