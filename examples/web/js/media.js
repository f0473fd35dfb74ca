// media.js - the arithmetic of files and images (docs/protocol.md, "Media"): which pieces of an
// upload are still to send, how big a file is in words, which entry of a message is another's
// thumbnail, how big a thumbnail is drawn. Pure: no DOM, no network.

/** The longest side of a thumbnail the client makes of an image, in pixels. */
export const THUMB_MAX_PX = 320;

/** The suffix that names an upload as the thumbnail of the entry named without it (see pairMedia). */
export const THUMB_SUFFIX = '.thumb.jpg';

/**
 * The pieces of a `size`-byte upload still to send, each at most `chunk` bytes, in order: the bytes
 * not covered by `ranges` ([[start, end), ...] as upload_status reports them, in any order, possibly
 * touching). A piece never crosses into a range already held, so nothing is sent twice.
 * @returns {{offset: number, length: number}[]}
 */
export function missingPieces(size, chunk, ranges = []) {
  if (!(chunk > 0)) throw new RangeError('chunk must be positive');
  const held = ranges.map(([s, e]) => [Math.max(0, s), Math.min(size, e)]).filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  const pieces = [];
  let at = 0;
  const gap = (from, to) => {
    for (let o = from; o < to; o += chunk) pieces.push({ offset: o, length: Math.min(chunk, to - o) });
  };
  for (const [s, e] of held) {
    if (s > at) gap(at, s);
    at = Math.max(at, e);
  }
  if (at < size) gap(at, size);
  return pieces;
}

/**
 * Where an interrupted upload picks up: the ranges upload_status gave, or, from an older server that
 * only says `received`, the first `received` bytes (rounded down to a whole piece: a piece is only
 * ever sent whole, but a reply may have been lost).
 */
export function resumeRanges(status, chunk) {
  if (status && Array.isArray(status.ranges)) return status.ranges;
  const received = Math.max(0, Number(status && status.received) || 0);
  const whole = Math.floor(received / chunk) * chunk;
  return whole > 0 ? [[0, whole]] : [];
}

/** "0 B", "999 B", "1.5 KB", "12 KB", "3.4 MB", "1.2 GB": powers of 1024, one decimal below 10. */
export function formatSize(bytes) {
  const n = Math.max(0, Number(bytes) || 0);
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  const text = v < 10 ? (Math.round(v * 10) / 10).toFixed(1).replace(/\.0$/, '') : String(Math.round(v));
  // 1023.6 KB rounds to "1024 KB": say "1 MB" instead.
  if (text === '1024' && u < units.length - 1) return `1 ${units[u + 1]}`;
  return `${text} ${units[u]}`;
}

/** Whether a browser can show this type as an image (and we make thumbnails of it). */
export function isImage(type) {
  return /^image\/(png|jpeg|gif|webp|avif|bmp)$/i.test(type || '');
}

/** The name of the thumbnail upload of a file named `name`. */
export function thumbName(name) {
  return `${name}${THUMB_SUFFIX}`;
}

/**
 * A message's media entries as what to draw: each file, with its thumbnail when the message carries
 * one. The server puts it in the entry (`"thumbnail":{id, type, size, sha256}`, docs/protocol.md,
 * "Thumbnails"). Messages sent before it did carry the thumbnail as an entry of its own, named
 * `<image's name>.thumb.jpg`, right after the image: such an entry is paired the same way.
 * @param {{id, name, type, size, sha256, thumbnail?}[]} entries @returns {{file: object, thumb: ?object}[]}
 */
export function pairMedia(entries) {
  const out = [];
  const list = Array.isArray(entries) ? entries.filter((e) => e && typeof e.id === 'string') : [];
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    const next = list[i + 1];
    const own = e.thumbnail;
    if (own && typeof own.id === 'string' && isImage(own.type)) {
      out.push({ file: e, thumb: { ...own, name: thumbName(e.name) } });
    } else if (isImage(e.type) && next && next.name === thumbName(e.name) && isImage(next.type)) {
      out.push({ file: e, thumb: next });
      i++;
    } else {
      out.push({ file: e, thumb: null });
    }
  }
  return out;
}

/** The size to draw a `w`x`h` image within `max` pixels on its longer side (never enlarged). */
export function fitWithin(w, h, max = THUMB_MAX_PX) {
  if (!(w > 0) || !(h > 0)) return { width: 0, height: 0 };
  const scale = Math.min(1, max / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/**
 * The preview of an image entry: its thumbnail when there is one, else the image itself when it is
 * small enough to fetch for a preview (`maxFull` bytes), else none (a file row instead).
 */
export function previewSource(pair, maxFull = 2 * 1024 * 1024) {
  if (!isImage(pair.file.type)) return null;
  if (pair.thumb) return pair.thumb;
  return pair.file.size <= maxFull ? pair.file : null;
}

/** Percent done of an upload or download, 0..100, whole. */
export function percent(done, size) {
  if (!(size > 0)) return 100;
  return Math.max(0, Math.min(100, Math.floor((done / size) * 100)));
}
