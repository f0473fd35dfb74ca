// bench/ws.mjs - large payloads to a WebSocket client and to a TCP client, side by side, on an idle
// broker (issue 14): one publish of SIZE bytes outside chat/ (any broker), and, with mqchat, one
// catch-up page of PAGE events. Prints "RESULT <key> <ms>" lines; bench/ws.sh runs it against plain
// Mosquitto and against Mosquitto with mqchat. Each measure waits 300 ms first, so the broker is idle
// (asleep in epoll_wait) when it starts: the case Mosquitto 2.0.11 serves slowly over WebSockets.
import { readFileSync } from 'node:fs';
import mqtt from '../examples/web/node_modules/mqtt/build/index.js';

const [tcpPort, wsPort, mode, size = '1048576', pageEvents = '500'] = process.argv.slice(2);
const idle = () => new Promise((r) => setTimeout(r, 300));
// The broker's CPU time (user + system, ms) from /proc, when bench/ws.sh passes its pid.
const brokerPid = process.env.BROKER_PID;
const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
function brokerCpuMs() {
  if (!brokerPid) return NaN;
  const fields = readFileSync(`/proc/${brokerPid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerMs;
}

function connect(url, username) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { username, password: 'x', protocolVersion: 5, reconnectPeriod: 0,
      clientId: `${username}-${Math.random().toString(16).slice(2, 10)}` });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

async function bigPublish(pub, sub, label) {
  const topic = `bench/big/${label}`;
  await sub.subscribeAsync(topic, { qos: 0 });
  const payload = Buffer.alloc(Number(size), 120);
  await idle();
  const got = new Promise((r) => sub.once('message', (t, m) => r(m.length)));
  const cpu0 = brokerCpuMs();
  const t0 = performance.now();
  pub.publish(topic, payload, { qos: 0 });
  const len = await got;
  const ms = performance.now() - t0;
  if (len !== payload.length) throw new Error(`${label}: ${len} bytes arrived of ${payload.length}`);
  console.log(`RESULT publish.${size}.${label}_ms ${ms.toFixed(1)} (broker CPU ${(brokerCpuMs() - cpu0).toFixed(0)} ms)`);
}

async function catchupPage(client, label) {
  const reply = `chat/_reply/${client.options.clientId}`;
  await client.subscribeAsync(reply, { qos: 0 });
  await idle();
  const got = new Promise((r) => client.once('message', (t, m) => r(JSON.parse(m.toString()))));
  const t0 = performance.now();
  client.publish('chat/big/sync', JSON.stringify({ since: 0, limit: Number(pageEvents) }), { qos: 1 });
  const page = await got;
  if (!page.ok || page.events.length < Number(pageEvents)) throw new Error(`${label}: ${JSON.stringify(page).slice(0, 200)}`);
  console.log(`RESULT catchup.${pageEvents}.${label}_ms ${(performance.now() - t0).toFixed(1)} (${JSON.stringify(page).length} bytes)`);
}

const tcp = `mqtt://127.0.0.1:${tcpPort}`;
const ws = `ws://127.0.0.1:${wsPort}`;
const pub = await connect(tcp, 'ada');
const subTcp = await connect(tcp, 'bo');
const subWs = await connect(ws, 'bo');
await bigPublish(pub, subTcp, 'tcp');
await bigPublish(pub, subWs, 'ws');
if (mode === 'mqchat') {
  const body = 'x'.repeat(900);
  const create = await pub.publishAsync('chat/_api', JSON.stringify({ op: 'create', channel: 'big', members: ['bo'] }), { qos: 1 });
  void create;
  for (let i = 0; i < Number(pageEvents); i++) await pub.publishAsync('chat/big', JSON.stringify({ body }), { qos: 1 });
  await catchupPage(subTcp, 'tcp');
  await catchupPage(subWs, 'ws');
}
for (const c of [pub, subTcp, subWs]) c.end(true);
