// media-view.js - files and images in the page: a message's attachments (an image's preview, which
// opens the lightbox; a file's name, size and Download), the lightbox (full size, Esc or a click
// outside closes it), the composer's uploads (progress, Cancel, Retry), and the thumbnail the page
// makes of an image before uploading it. Names and types come from other users: text only.

import { $, el } from './dom.js';
import { fitWithin, formatSize, isImage, pairMedia, percent, previewSource, THUMB_MAX_PX } from './media.js';

/**
 * A thumbnail of an image File: at most THUMB_MAX_PX on its longer side, JPEG. Null when the browser
 * cannot decode it (the image still goes, without one) or it is no bigger than a thumbnail anyway.
 */
export async function makeThumbnail(file) {
  if (!isImage(file.type) || typeof createImageBitmap !== 'function') return null;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return null;
  }
  const { width, height } = fitWithin(bitmap.width, bitmap.height, THUMB_MAX_PX);
  if (width === bitmap.width && height === bitmap.height && file.size < 64 * 1024) {
    bitmap.close();
    return null; // small already: its own bytes are the preview
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff'; // JPEG has no transparency: a transparent PNG's background turns white, not black
  g.fillRect(0, 0, width, height);
  g.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  return new Promise((resolve) => canvas.toBlob((b) => resolve(b), 'image/jpeg', 0.82));
}

export class MediaView {
  /** @param {import('./downloads.js').Downloads} downloads @param {(err) => void} toast */
  constructor(downloads, toast) {
    this.downloads = downloads;
    this.toast = toast;
    this.lightbox = $('lightbox');
    this.lightbox.onclick = (e) => {
      // A click on the backdrop (the dialog itself, outside its content) or on × closes it.
      if (e.target === this.lightbox || e.target.closest('[data-close]')) this.lightbox.close();
    };
  }

  /** A download moved on: every Download button of it says how far (the rows are not redrawn for it). */
  progress() {
    for (const b of document.querySelectorAll('button[data-media-download]')) {
      const st = this.downloads.status(b.dataset.mediaDownload);
      const busy = st && !st.error && st.done < st.size;
      b.disabled = Boolean(busy);
      b.textContent = busy ? `Downloading ${percent(st.done, st.size)}%` : 'Download';
      const row = b.closest('.file');
      if (!row) continue;
      const old = row.querySelector('.error');
      if (old) old.remove();
      row.classList.toggle('failed', Boolean(st && st.error));
      if (st && st.error) row.append(errorLine(st.error));
    }
  }

  /** The attachments of a message row: a <div> to put under its body, or null. */
  attachments(media) {
    const pairs = pairMedia(media);
    if (!pairs.length) return null;
    const box = el('div', { class: 'attachments' });
    for (const pair of pairs) {
      const src = previewSource(pair);
      box.append(src ? this.imagePreview(pair, src) : this.fileRow(pair.file));
    }
    return box;
  }

  imagePreview(pair, src) {
    const f = pair.file;
    const img = el('img', { alt: f.name, 'data-media': f.id });
    const box = el('button', { class: 'preview', type: 'button', title: `${f.name} (${formatSize(f.size)}): open full size`,
      'data-media-open': f.id }, img);
    this.downloads.fetch(src).then(({ url }) => { img.src = url; }, (err) => {
      box.replaceWith(this.fileRow(f, err));
    });
    box.onclick = () => this.open(pair);
    return box;
  }

  fileRow(f, err = null) {
    const st = this.downloads.status(f.id);
    const busy = st && !st.error && st.done < st.size;
    const error = err || (st && st.error);
    const row = el('div', { class: `file${error ? ' failed' : ''}`, 'data-media': f.id },
      el('span', { class: 'file-icon', 'aria-hidden': 'true', text: isImage(f.type) ? '🖼' : '📄' }),
      el('span', { class: 'file-name', text: f.name, title: f.name }),
      el('span', { class: 'file-size', text: formatSize(f.size) }),
      el('button', { class: 'link', type: 'button', 'data-media-download': f.id, disabled: busy,
        text: busy ? `Downloading ${percent(st.done, st.size)}%` : 'Download' }));
    if (error) row.append(errorLine(error));
    row.querySelector('button').onclick = () => this.save(f);
    return row;
  }

  /** Download: the pieces fetched (once), then saved under the file's name through a Blob URL. */
  async save(f) {
    try {
      const { url } = await this.downloads.fetch(f);
      const a = el('a', { href: url, download: f.name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      this.toast(err);
    }
  }

  /** The lightbox: the image at full size (its thumbnail meanwhile), its name, size and Download. */
  async open(pair) {
    const f = pair.file;
    const img = el('img', { alt: f.name, class: 'full' });
    const note = el('span', { class: 'lightbox-note', role: 'status', text: 'Loading…' });
    const download = el('button', { type: 'button', class: 'link', text: 'Download' });
    download.onclick = () => this.save(f);
    this.lightbox.replaceChildren(
      el('div', { class: 'lightbox-body' }, img),
      el('div', { class: 'lightbox-bar' }, el('span', { class: 'file-name', text: f.name }),
        el('span', { class: 'file-size', text: formatSize(f.size) }), note, download,
        el('button', { type: 'button', class: 'link', 'data-close': '', title: 'Close (Esc)', 'aria-label': 'Close', text: '×' })));
    if (pair.thumb) this.downloads.fetch(pair.thumb).then(({ url }) => { if (!img.src) img.src = url; }, () => {});
    this.lightbox.showModal();
    try {
      const { url } = await this.downloads.fetch(f);
      img.src = url;
      img.dataset.full = 'true';
      note.textContent = '';
    } catch (err) {
      note.textContent = `${err.code || 'error'}: ${err.message}`;
      note.dataset.code = err.code || 'error';
    }
  }

  /** The composer's uploads: one line each, a progress bar, Cancel (Retry and Dismiss when stopped). */
  renderUploads(uploads, list) {
    list.replaceChildren(...uploads.items.map((up) => {
      const { done, size } = uploads.progress(up);
      const pct = percent(done, size);
      return el('li', { class: `upload ${up.state}`, 'data-upload': up.key },
        el('span', { class: 'file-name', text: up.name, title: up.name }),
        el('span', { class: 'file-size', text: formatSize(up.size) }),
        el('progress', { max: '100', value: String(pct), 'aria-label': `${up.name}: ${pct}%` }),
        el('span', { class: 'pct', text: up.state === 'failed' ? '' : `${pct}%` }),
        up.error ? errorLine(up.error) : null,
        up.state === 'interrupted' ? el('button', { type: 'button', class: 'link', 'data-upload-act': 'retry', text: 'Retry' }) : null,
        el('button', { type: 'button', class: 'link', 'data-upload-act': 'cancel',
          text: up.state === 'failed' ? 'Dismiss' : 'Cancel' }));
    }));
    list.hidden = uploads.items.length === 0;
  }
}

/** A refusal as the page shows it: its code (too_large, quota_exceeded, no_such_media, ...) and words. */
function errorLine(error) {
  return el('span', { class: 'error', role: 'alert', 'data-code': error.code,
    text: `${error.code}${error.message && error.message !== error.code ? `: ${error.message}` : ''}` });
}
