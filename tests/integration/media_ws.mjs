// media_ws.mjs - test_media's WebSocket client (MQTT.js, as the browser uses it): uploads a file in
// 64 KiB pieces over MQTT-over-WebSocket, several in flight, then downloads it back and checks every
// byte and the sha256. Prints one line "ok <sha256> upload_mb_s=U download_mb_s=D" or exits non-zero
// with the reason (bench/media.sh runs it with 25 MB for the WebSocket figures).
// Usage: node media_ws.mjs <tests/web dir (for its node_modules)> <ws port> <user> <channel> <size>
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import path from 'node:path';

const [webDir, port, user, channel, sizeText] = process.argv.slice(2);
const require = createRequire(path.join(webDir, 'package.json'));
const mqtt = require('mqtt');
const size = Number(sizeText);
const CHUNK = 65536;
const data = crypto.randomBytes(size);
const sha = crypto.createHash('sha256').update(data).digest('hex');
const clientId = `${user}-ws-media`;
const reply = `chat/_reply/${clientId}`;
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail('timed out'), 120000).unref();

const client = mqtt.connect(`ws://127.0.0.1:${port}`, {
  clientId, username: user, password: `${user}-pw`, protocolVersion: 4, reconnectPeriod: 0,
});
const waiters = [];
const received = new Map();
client.on('message', (topic, payload) => {
  if (topic.startsWith(`${reply}/media/`)) {
    received.set(Number(topic.split('/').pop()), payload);
  } else if (topic === reply) {
    const w = waiters.shift();
    if (w) w(JSON.parse(payload.toString()));
  }
  for (const check of [...pending]) check();
});
const pending = new Set();
const next = () => new Promise((resolve) => waiters.push(resolve));
const until = (cond) => new Promise((resolve) => {
  const check = () => { if (cond()) { pending.delete(check); resolve(); } };
  pending.add(check);
  check();
});

client.on('error', (e) => fail(`mqtt: ${e.message}`));
client.on('connect', async () => {
  client.publish('chat/_api', JSON.stringify({ op: 'upload', channel, name: 'ws.bin', type: 'application/octet-stream', size }), { qos: 1 });
  const up = await next();
  if (!up.ok || up.chunk !== CHUNK) fail(`upload: ${JSON.stringify(up)}`);
  let last;
  const acks = [];
  const t0 = performance.now();
  const pieces = Math.ceil(size / CHUNK);
  // 8 pieces in flight
  for (let i = 0; i < pieces; i++) {
    const off = i * CHUNK;
    client.publish(`chat/_media/${up.media}/${off}`, data.subarray(off, Math.min(size, off + CHUNK)), { qos: 1 });
    acks.push(next());
    if (acks.length >= 8) { last = await acks.shift(); if (!last.ok) fail(`piece: ${JSON.stringify(last)}`); }
  }
  while (acks.length) { last = await acks.shift(); if (!last.ok) fail(`piece: ${JSON.stringify(last)}`); }
  if (!last.complete || last.sha256 !== sha) fail(`last ack: ${JSON.stringify(last)}`);
  const t1 = performance.now();
  // 16 requests in flight: answers to a client that has stopped reading would be dropped
  for (let i = 0; i < pieces; i++) {
    await until(() => i - received.size < 16);
    client.publish('chat/_api', JSON.stringify({ op: 'download', media: up.media, offset: i * CHUNK }), { qos: 0 });
  }
  await until(() => received.size === pieces);
  const t2 = performance.now();
  const back = Buffer.concat([...received.keys()].sort((a, b) => a - b).map((k) => received.get(k)));
  const backSha = crypto.createHash('sha256').update(back).digest('hex');
  if (backSha !== sha || back.length !== size) fail(`downloaded ${back.length} bytes, sha256 ${backSha}`);
  const mbs = (ms) => (size / 1e6 / (ms / 1e3)).toFixed(1);
  console.log(`ok ${sha} upload_mb_s=${mbs(t1 - t0)} download_mb_s=${mbs(t2 - t1)}`);
  client.end(true, () => process.exit(0));
});
