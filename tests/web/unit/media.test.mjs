// Files and images (examples/web/js/media.js, uploads.js, downloads.js): which pieces are still to
// send, where an interrupted upload resumes, sizes in words, thumbnails paired with their image;
// an upload against a fake server that loses the connection halfway and is resumed by Retry, sending
// no byte twice; a download put together from short answers and checked against its sha256.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { fitWithin, formatSize, missingPieces, pairMedia, percent, previewSource, resumeRanges, thumbName }
  from '../../../examples/web/js/media.js';
import { Uploads } from '../../../examples/web/js/uploads.js';
import { readAll, sameSha256 } from '../../../examples/web/js/downloads.js';

const K = 1024;

test('pieces of an upload: whole chunks, the last one short, none for an empty file', () => {
  assert.deepEqual(missingPieces(10, 4), [{ offset: 0, length: 4 }, { offset: 4, length: 4 }, { offset: 8, length: 2 }]);
  assert.deepEqual(missingPieces(8, 4), [{ offset: 0, length: 4 }, { offset: 4, length: 4 }]);
  assert.deepEqual(missingPieces(0, 4), []);
  assert.deepEqual(missingPieces(3, 256 * K), [{ offset: 0, length: 3 }]);
  assert.throws(() => missingPieces(10, 0), RangeError);
});

test('pieces still to send skip the ranges the server holds, in any order, touching or not', () => {
  // held: [0,4) and [8,12) of 14 bytes, chunk 4: the gap 4..8, then 12..14
  assert.deepEqual(missingPieces(14, 4, [[8, 12], [0, 4]]), [{ offset: 4, length: 4 }, { offset: 12, length: 2 }]);
  // a gap shorter than a chunk is one short piece that stops where the held range starts
  assert.deepEqual(missingPieces(12, 4, [[0, 2], [4, 12]]), [{ offset: 2, length: 2 }]);
  // overlapping and touching ranges; a range past the size is clipped
  assert.deepEqual(missingPieces(10, 4, [[0, 5], [3, 7], [7, 8], [9, 40]]), [{ offset: 8, length: 1 }]);
  assert.deepEqual(missingPieces(10, 4, [[0, 10]]), []);
});

test('where an interrupted upload resumes: the ranges, or whole pieces of `received`', () => {
  assert.deepEqual(resumeRanges({ received: 5, ranges: [[0, 3], [4, 6]] }, 4), [[0, 3], [4, 6]]);
  assert.deepEqual(resumeRanges({ received: 9 }, 4), [[0, 8]]);
  assert.deepEqual(resumeRanges({ received: 3 }, 4), []);
  assert.deepEqual(resumeRanges({}, 4), []);
  assert.deepEqual(resumeRanges(null, 4), []);
});

test('sizes in words', () => {
  assert.equal(formatSize(0), '0 B');
  assert.equal(formatSize(999), '999 B');
  assert.equal(formatSize(1023), '1023 B');
  assert.equal(formatSize(1024), '1 KB');
  assert.equal(formatSize(1536), '1.5 KB');
  assert.equal(formatSize(12 * K + 300), '12 KB');
  assert.equal(formatSize(1024 * K - 1), '1 MB');
  assert.equal(formatSize(3.45 * K * K), '3.5 MB');
  assert.equal(formatSize(25 * K * K), '25 MB');
  assert.equal(formatSize(1.2 * K * K * K), '1.2 GB');
  assert.equal(formatSize(-5), '0 B');
  assert.equal(formatSize('x'), '0 B');
});

test('an image and its thumbnail are one attachment; anything else stands alone', () => {
  const img = { id: 'm-1', name: 'cat.png', type: 'image/png', size: 900 * K, sha256: 'a' };
  const thumb = { id: 'm-2', name: thumbName('cat.png'), type: 'image/jpeg', size: 20 * K, sha256: 'b' };
  const pdf = { id: 'm-3', name: 'spec.pdf', type: 'application/pdf', size: 50 * K, sha256: 'c' };
  assert.deepEqual(pairMedia([img, thumb, pdf]), [{ file: img, thumb }, { file: pdf, thumb: null }]);
  // a ".thumb.jpg" of another name, or before its image, is a file of its own
  const stray = { ...thumb, name: 'dog.png.thumb.jpg' };
  assert.deepEqual(pairMedia([img, stray]), [{ file: img, thumb: null }, { file: stray, thumb: null }]);
  assert.deepEqual(pairMedia([thumb, img]), [{ file: thumb, thumb: null }, { file: img, thumb: null }]);
  assert.deepEqual(pairMedia(undefined), []);
  // the server's form: the thumbnail inside the image's entry
  const own = { id: 'm-9', type: 'image/jpeg', size: 20, sha256: 'c' };
  const withThumb = { ...img, thumbnail: own };
  assert.deepEqual(pairMedia([withThumb, pdf]),
    [{ file: withThumb, thumb: { ...own, name: thumbName(img.name) } }, { file: pdf, thumb: null }]);
  assert.deepEqual(pairMedia([null, { name: 'no id' }]), []);
});

test('the preview: the thumbnail, else a small image itself, else none; sizes within 320 px', () => {
  const img = { id: 'm-1', name: 'a.png', type: 'image/png', size: 900 * K };
  const thumb = { id: 'm-2', name: 'a.png.thumb.jpg', type: 'image/jpeg', size: 20 * K };
  assert.equal(previewSource({ file: img, thumb }), thumb);
  assert.equal(previewSource({ file: img, thumb: null }), img);
  assert.equal(previewSource({ file: { ...img, size: 20 * K * K }, thumb: null }), null);
  assert.equal(previewSource({ file: { ...img, type: 'application/pdf' }, thumb: null }), null);
  assert.deepEqual(fitWithin(1600, 1200), { width: 320, height: 240 });
  assert.deepEqual(fitWithin(100, 4000), { width: 8, height: 320 });
  assert.deepEqual(fitWithin(200, 100), { width: 200, height: 100 }); // never enlarged
  assert.deepEqual(fitWithin(0, 100), { width: 0, height: 0 });
  assert.equal(percent(50, 200), 25);
  assert.equal(percent(0, 0), 100);
  assert.equal(percent(300, 200), 100);
});

/**
 * A fake server for uploads: records every piece, acknowledges with the bytes held, and fails the
 * piece at `failAt` (once) as a dropped connection would.
 */
function fakeServer({ chunk = 4, failAt = -1, refuse = null } = {}) {
  const uploads = new Map();
  const pieces = [];
  let next = 1;
  const total = (u) => u.held.reduce((n, h) => n + h, 0);
  return {
    pieces,
    uploads,
    async api(op, f) {
      if (op === 'upload') {
        if (refuse) throw Object.assign(new Error(`${refuse} refused`), { code: refuse });
        const id = `m-${next++}`;
        uploads.set(id, { ...f, ranges: [], held: new Array(f.size).fill(0), bytes: new Uint8Array(f.size) });
        return { ok: true, media: id, chunk };
      }
      if (op === 'upload_status') {
        const u = uploads.get(f.media);
        return { ok: true, media: f.media, received: total(u), complete: total(u) === u.size, ranges: u.ranges };
      }
      throw new Error(op);
    },
    async piece(media, offset, bytes) {
      await new Promise((r) => setImmediate(r));
      if (offset === failAt) {
        failAt = -1;
        throw Object.assign(new Error('the connection was lost'), { code: 'disconnected' });
      }
      const u = uploads.get(media);
      pieces.push({ media, offset, length: bytes.length });
      u.bytes.set(bytes, offset);
      u.ranges.push([offset, offset + bytes.length]);
      u.held.fill(1, offset, offset + bytes.length);
      return { ok: true, kind: 'upload', media, received: total(u), complete: total(u) === u.size };
    },
  };
}

function blobOf(text, type = 'text/plain') {
  return new Blob([text], { type });
}

/** Waits (at most 3 s) until cond() holds. */
function waitFor(cond) {
  const until = Date.now() + 3000;
  return new Promise((resolve, reject) => {
    const tick = () => (cond() ? resolve() : Date.now() > until ? reject(new Error('never')) : setTimeout(tick, 1));
    tick();
  });
}

test('an upload sends every piece once, then the message with the file and its thumbnail', async () => {
  const server = fakeServer();
  const done = [];
  const ups = new Uploads(server, { onChange() {}, onComplete: (up, ids) => done.push(ids), onError() {} });
  const file = Object.assign(blobOf('0123456789'), { name: 'n.txt' });
  ups.add('general', file, blobOf('thumb', 'image/jpeg'));
  await waitFor(() => done.length === 1);
  assert.deepEqual(done[0], [{ id: 'm-2', thumbnail: 'm-1' }]); // the file, with its thumbnail (uploaded first)
  assert.equal(server.uploads.get('m-1').name, 'n.txt.thumb.jpg');
  assert.equal(new TextDecoder().decode(server.uploads.get('m-2').bytes), '0123456789');
  assert.equal(server.pieces.filter((p) => p.media === 'm-2').length, 3);
  assert.equal(ups.items.length, 0);
});

test('an interrupted upload waits for Retry, which sends only what the server lacks', async () => {
  const server = fakeServer({ failAt: 8 });
  const done = [];
  const errors = [];
  const ups = new Uploads(server, { onChange() {}, onComplete: (up, ids) => done.push(ids), onError: (up, e) => errors.push(e.code) });
  const text = 'abcdefghijklmnopqrstuvwxyz'; // 26 bytes: 7 pieces of 4
  const up = ups.add('general', Object.assign(blobOf(text), { name: 'a.txt' }));
  await waitFor(() => up.state === 'interrupted');
  assert.deepEqual(errors, ['disconnected']);
  assert.equal(done.length, 0);
  // The pieces in flight when it broke land meanwhile; then Retry asks what arrived.
  await waitFor(() => server.pieces.length === 5);
  const before = server.pieces.map((p) => p.offset);
  ups.retry(up.key);
  await waitFor(() => done.length === 1);
  assert.equal(new TextDecoder().decode(server.uploads.get('m-1').bytes), text);
  // only what the server lacked went again: the failed piece and the one never started
  assert.deepEqual(server.pieces.slice(before.length).map((p) => p.offset).sort((a, b) => a - b), [8, 24]);
});

test('a refused upload (too_large, quota_exceeded) is failed, not retried', async () => {
  for (const code of ['too_large', 'quota_exceeded']) {
    const server = fakeServer({ refuse: code });
    const ups = new Uploads(server, { onChange() {}, onComplete() { throw new Error('sent'); }, onError() {} });
    const up = ups.add('general', Object.assign(blobOf('x'), { name: 'x' }));
    await waitFor(() => up.state === 'failed');
    assert.equal(up.error.code, code);
    ups.retry(up.key); // nothing: only an interrupted upload is retried
    assert.equal(up.state, 'failed');
    ups.cancel(up.key);
    assert.equal(ups.items.length, 0);
  }
});

test('Cancel stops an upload: no message, no more pieces', async () => {
  const server = fakeServer({ chunk: 1 });
  let sent = false;
  const ups = new Uploads(server, { onChange() {}, onComplete() { sent = true; }, onError() {} });
  const up = ups.add('general', Object.assign(blobOf('x'.repeat(200)), { name: 'x' }));
  await waitFor(() => server.pieces.length >= 3);
  ups.cancel(up.key);
  const n = server.pieces.length;
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(server.pieces.length <= n + 4, 'at most the pieces already in flight');
  assert.equal(sent, false);
  assert.equal(ups.items.length, 0);
});

test('a download is put together from the server\'s chunks and checked against its sha256', async () => {
  const bytes = crypto.randomBytes(700 * K);
  const conn = {
    calls: 0,
    async download(id, offset, length) {
      this.calls++;
      assert.equal(length, undefined, 'no length asked: the server sends its chunk');
      const n = Math.min(100 * K, bytes.length - offset); // a server whose chunk is 100 KiB
      return new Uint8Array(bytes.subarray(offset, offset + n));
    },
  };
  let seen = 0;
  const got = await readAll(conn, 'm-1', bytes.length, (n) => { seen += n; });
  assert.ok(Buffer.from(got).equals(bytes));
  assert.equal(seen, bytes.length);
  assert.equal(conn.calls, 7); // 700 KiB in answers of 100 KiB
  const hex = crypto.createHash('sha256').update(bytes).digest('hex');
  assert.equal(await sameSha256(got, hex), true);
  got[5] ^= 1;
  assert.equal(await sameSha256(got, hex), false);
});
