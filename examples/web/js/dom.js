// dom.js - the one way the page's modules make elements: attributes and text, never HTML.

/**
 * An element with attributes (`class`, `text` for its textContent, anything else as an attribute;
 * undefined, null and false leave one out) and children (nodes or strings, appended as text).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export const $ = (id) => document.getElementById(id);

/** "14:05" in the reader's locale. */
export function clock(ts) {
  if (!ts) return '';
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
