// broker.mjs - a real mosquitto with the mqchat plugin for the browser tests: a TCP listener and a
// WebSocket listener that serves the built client (http_dir), in a temporary directory, on free
// loopback ports. The JavaScript counterpart of tests/harness/th_broker.c, honouring the same
// environment (MQCHAT_MOSQUITTO, MQCHAT_PLUGIN, MQCHAT_BROKER_PRELOAD, MQCHAT_BROKER_ASAN_OPTIONS).
// Also a TCP client (MQTT.js under node) for ground truth: the log as catch-up serves it.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';

export const USERS = ['ada', 'bo', 'cy', 'dee', 'eve'];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

async function waitFor(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class Broker {
  /** @param {{webDir: string, plugin: string, extra?: string[]}} opts */
  constructor(opts) {
    this.opts = opts;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqchat-web-'));
    this.proc = null;
  }

  async start() {
    if (!this.port) {
      this.port = await freePort();
      this.wsPort = await freePort();
      this.writeFiles();
    }
    const env = { ...process.env };
    if (process.env.MQCHAT_BROKER_PRELOAD) {
      env.LD_PRELOAD = process.env.MQCHAT_BROKER_PRELOAD;
      env.ASAN_OPTIONS = process.env.MQCHAT_BROKER_ASAN_OPTIONS || 'detect_leaks=0:abort_on_error=1';
    }
    const mosquitto = process.env.MQCHAT_MOSQUITTO || '/usr/sbin/mosquitto';
    const stderr = fs.openSync(path.join(this.dir, 'stderr.log'), 'a');
    this.proc = spawn(mosquitto, ['-c', path.join(this.dir, 'mosquitto.conf')],
      { env, stdio: ['ignore', stderr, stderr] });
    fs.closeSync(stderr);
    this.exited = false;
    this.proc.once('exit', () => { this.exited = true; });
    await waitFor(async () => {
      if (this.exited) throw new Error(`mosquitto exited during startup:\n${this.log()}`);
      return (await portAccepts(this.port)) && (await portAccepts(this.wsPort));
    }, 20000, 'the broker to listen');
  }

  writeFiles() {
    const passwd = path.join(this.dir, 'passwd');
    fs.writeFileSync(passwd, '');
    for (const user of USERS) execFileSync('mosquitto_passwd', ['-b', passwd, user, `${user}-pw`]);
    const conf = [
      `listener ${this.port} 127.0.0.1`,
      // Mosquitto 2.0.11's WebSocket listener ignores the address and listens on every interface;
      // the tests only ever connect to 127.0.0.1.
      `listener ${this.wsPort} 127.0.0.1`,
      'protocol websockets',
      `http_dir ${this.opts.webDir}`,
      'allow_anonymous false',
      `password_file ${passwd}`,
      'set_tcp_nodelay true',
      'max_queued_messages 1000',
      'persistence false',
      `log_dest file ${path.join(this.dir, 'broker.log')}`,
      'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
      `user ${os.userInfo().username}`,
      `plugin ${this.opts.plugin}`,
      `plugin_opt_database ${path.join(this.dir, 'chat.db')}`,
      ...(this.opts.extra || []),
    ];
    fs.writeFileSync(path.join(this.dir, 'mosquitto.conf'), conf.join('\n') + '\n');
  }

  get httpUrl() { return `http://127.0.0.1:${this.wsPort}/`; }

  /** SIGKILL: a crash. */
  async kill9() {
    if (!this.proc || this.exited) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await gone;
  }

  /** SIGSTOP: the broker stops answering without closing any socket (a hang, a dead network path). */
  pause() {
    if (this.proc && !this.exited) this.proc.kill('SIGSTOP');
  }

  resume() {
    if (this.proc && !this.exited) this.proc.kill('SIGCONT');
  }

  async stop() {
    if (!this.proc || this.exited) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    await gone;
    clearTimeout(timer);
  }

  log() {
    const read = (f) => { try { return fs.readFileSync(path.join(this.dir, f), 'utf8'); } catch { return ''; } };
    return read('broker.log') + read('stderr.log');
  }

  cleanup() {
    if (!process.env.TH_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
    else console.log(`# broker directory kept: ${this.dir}`);
  }
}

/** A TCP client (MQTT 5) as `user`, with request/reply through Response Topic + Correlation Data. */
export async function tcpClient(broker, user, clientId = `tcp-${user}-${process.pid}`) {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
    protocolVersion: 5, clientId, username: user, password: `${user}-pw`, clean: true, reconnectPeriod: 0,
  });
  const replyTopic = `chat/_reply/${clientId}`;
  const waiting = new Map();
  let next = 1;
  client.on('message', (topic, payload, packet) => {
    const corr = packet.properties && packet.properties.correlationData;
    const key = corr && corr.toString();
    if (topic === replyTopic && waiting.has(key)) {
      waiting.get(key)(JSON.parse(payload.toString()));
      waiting.delete(key);
    }
  });
  const request = (topic, body) => new Promise((resolve, reject) => {
    const key = String(next++);
    const timer = setTimeout(() => reject(new Error(`no reply to ${topic} ${JSON.stringify(body)}`)), 10000);
    waiting.set(key, (reply) => { clearTimeout(timer); resolve(reply); });
    client.publish(topic, JSON.stringify(body),
      { qos: 1, properties: { responseTopic: replyTopic, correlationData: Buffer.from(key) } });
  });
  return {
    client,
    request,
    api: (op, fields = {}) => request('chat/_api', { op, ...fields }),
    send: (channel, body) => request(`chat/${channel}`, { client_msg_id: `tcp-${Date.now()}-${next}`, body }),
    /** The whole log of a channel, by catch-up. */
    async history(channel) {
      const events = [];
      let since = 0;
      for (;;) {
        const page = await request(`chat/${channel}/sync`, { since, limit: 1000 });
        if (!page.ok) throw new Error(`sync ${channel}: ${JSON.stringify(page)}`);
        events.push(...page.events);
        since = page.next;
        if (!page.more) return events;
      }
    },
    end: () => client.endAsync(),
  };
}
