// bench/idle_conns.mjs - holds COUNT idle MQTT 3.1.1 connections to a broker (keepalive 0, so no
// PINGREQ ever), to measure what many connections cost the rest of the broker (bench/ws.sh, WS_IDLE).
// Prints "READY <n>" once every CONNACK arrived, then holds them until killed.
import net from 'node:net';

const [port, count] = process.argv.slice(2).map(Number);

// CONNECT, MQTT 3.1.1, clean session, keepalive 0, client id "idle-<i>".
function connectPacket(i) {
  const id = Buffer.from(`idle-${i}`);
  const variable = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0]);
  const body = Buffer.concat([variable, Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

const sockets = [];
let ready = 0;
const deadline = setTimeout(() => {
  console.error(`only ${ready} of ${count} connections accepted in 120 s`);
  process.exit(1);
}, 120000);

function open(i) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(connectPacket(i)));
    s.once('data', (d) => {
      if (d[0] !== 0x20 || d[3] !== 0) return reject(new Error(`connection ${i}: CONNACK ${d.toString('hex')}`));
      ready++;
      resolve();
    });
    s.on('error', reject);
    sockets.push(s);
  });
}

// In batches, so the broker's listen backlog never overflows.
for (let i = 0; i < count; i += 500) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + 500); j++) batch.push(open(j));
  await Promise.all(batch);
}
clearTimeout(deadline);
console.log(`READY ${ready}`);
setInterval(() => {}, 1 << 30);
