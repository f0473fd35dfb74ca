// window.js - which of a channel's rows the message pane draws: a window of at most WINDOW_ROWS
// consecutive rows, so that the page holds a bounded number of nodes however long the channel is.
//
// The window is named by the seq of its first row, or null for "the newest rows" (the pane follows
// new messages). Scrolling to within an edge of the drawn rows moves the window by SHIFT_ROWS that
// way (ui.js keeps the reader's place on screen while it redraws); reaching the newest row makes it
// follow again. Naming the window by a seq rather than an index keeps it in place when older rows
// are put in front (a page of history) or newer ones arrive. Pure: the unit tests run it under node.

export const WINDOW_ROWS = 200;
export const SHIFT_ROWS = 100;

/** The index of the first row whose seq is >= seq (rows are in seq order); rows.length if none. */
export function indexOfSeq(rows, seq) {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid].seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The rows to draw: [lo, hi) of `rows`.
 * @param {{seq: number}[]} rows the timeline, in seq order
 * @param {?number} start the seq of the window's first row; null for the newest rows
 * @param {number} [size]
 */
export function windowSlice(rows, start, size = WINDOW_ROWS) {
  if (start === null || start === undefined) {
    return { lo: Math.max(0, rows.length - size), hi: rows.length };
  }
  const lo = Math.max(0, Math.min(indexOfSeq(rows, start), rows.length - size));
  return { lo, hi: Math.min(rows.length, lo + size) };
}

/** Rows kept drawn below the reader's row when the window moves up: more than a screen holds. */
export const KEEP_BELOW = 60;

/**
 * The window's start after moving it `by` rows towards the oldest (from a window starting at lo),
 * but not so far that the row at index `keep` (the reader's) and KEEP_BELOW rows after it leave it.
 */
export function shiftUp(rows, lo, by = SHIFT_ROWS, keep = -1, size = WINDOW_ROWS) {
  if (!rows.length) return null;
  let next = Math.max(0, lo - by);
  if (keep >= 0) next = Math.max(next, Math.min(keep, keep + KEEP_BELOW - size));
  return rows[Math.min(next, rows.length - 1)].seq;
}

/** ... and towards the newest: null (follow) once it would reach the newest row. */
export function shiftDown(rows, lo, by = SHIFT_ROWS, size = WINDOW_ROWS) {
  const next = lo + by;
  if (next + size >= rows.length) return null;
  return rows[next].seq;
}
