// visibility.js - whether the person can see the page, for chat.js.
//
// The read cursor moves only while the page is visible: a message that arrives in a background tab
// is not read yet, and becomes read when the tab comes to the front. chat.js asks through this small
// interface rather than reading `document`, so it runs under node with a plain object instead.

/**
 * @typedef {object} Visibility
 * @property {() => boolean} isVisible whether the page is on screen now
 * @property {(listener: () => void) => () => void} onChange calls `listener` whenever that may have
 *   changed; returns the function that stops it
 */

/** @param {Document} doc the page's document @returns {Visibility} */
export function pageVisibility(doc) {
  return {
    isVisible: () => doc.visibilityState === 'visible',
    onChange(listener) {
      doc.addEventListener('visibilitychange', listener);
      return () => doc.removeEventListener('visibilitychange', listener);
    },
  };
}
