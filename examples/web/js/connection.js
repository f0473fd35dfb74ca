// connection.js - the MQTT side: one MQTT.js client over WebSocket, and mqchat's request/reply.
//
// mqchat answers every request on this client's reply topic, chat/_reply/<clientid>, whether or not
// we subscribed (docs/protocol.md, "Replies"). Each request carries MQTT 5 Correlation Data, which
// the reply echoes, so a reply finds its request whatever it is (a catch-up page, an API answer, an
// ack or an error). Errors for fire-and-forget publishes (typing, read cursors) carry none and are
// handed to onEvent like any other message. A request still unanswered when the connection drops is
// failed with code "disconnected", so the caller retries after the reconnect (sends keep their
// client_msg_id, so a retry never makes a second message).

import { Buffer } from 'buffer'; // MQTT.js's own (the npm package in the bundle; node's under node)
import mqtt from 'mqtt';

const REQUEST_TIMEOUT_MS = 15000;
// MQTT keepalive: a PINGREQ after this long without sending, and the connection counted lost when
// no answer came within half as long again (MQTT.js). So a broker or a network path that goes silent
// without closing the socket is noticed within 6 s, at the cost of one 2-byte PINGREQ and PINGRESP per
// 4 s of silence. MQTT.js runs its timers in a web worker where it can (timerVariant "auto"), so a
// background tab's throttled timers do not starve the pings.
const KEEPALIVE_S = 4;

/** A failed request: `code` is mqchat's error code (or "disconnected"/"timeout"), `message` its text. */
export class ChatError extends Error {
  constructor(code, message, reply = null) {
    super(message || code);
    this.code = code;
    this.reply = reply;
  }
}

export function newId() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0;
    return (c === 'x' ? r : (r & 3) | 8).toString(16);
  });
}

export class Connection {
  /**
   * Made by app.js and handed to Chat, which starts it with its handlers.
   * @param {{url: string, username: string, password: string, clientId: string}} opts
   */
  constructor(opts) {
    this.opts = opts;
    this.handlers = null;
    this.clientId = opts.clientId;
    this.replyTopic = `chat/_reply/${opts.clientId}`;
    this.pending = new Map(); // key -> {resolve, reject, timer}
    this.nextRef = 1;
    this.client = null;
    this.ever = false;
    this.offline = false; // the browser said the network is gone
    this.channelsSeen = new Set(); // every channel any message came from: for the tests' leak check
  }

  /**
   * Connects, and keeps reconnecting until stop().
   * @param {{onStatus(state: string, detail?: string), onEvent(topic: string, msg: object),
   *          onOnline()}} handlers
   *   onStatus: 'connecting' | 'online' | 'reconnecting' | 'offline' | 'denied'; onOnline runs after each
   *   (re)connect once our subscriptions are in place; onEvent gets every non-reply message.
   */
  start(handlers) {
    this.handlers = handlers;
    this.handlers.onStatus('connecting');
    this.client = mqtt.connect(this.opts.url, {
      protocolVersion: 5,
      clientId: this.opts.clientId,
      username: this.opts.username,
      password: this.opts.password,
      clean: true,
      keepalive: KEEPALIVE_S,
      reconnectPeriod: 1000,
      connectTimeout: 10000,
      resubscribe: false, // we subscribe on every connect, then catch up
    });
    this.client.on('connect', () => this.subscribeThenOnline());
    this.client.on('reconnect', () => this.handlers.onStatus(this.lostStatus()));
    this.client.on('close', () => {
      this.failPending('disconnected', 'the connection was lost');
      if (this.client && !this.client.disconnecting) this.handlers.onStatus(this.lostStatus());
    });
    this.client.on('error', (err) => {
      // CONNACK 0x86/0x87 (bad user name or password / not authorized): retrying will not help.
      if (err && (err.code === 134 || err.code === 135 || err.code === 4 || err.code === 5)) {
        this.handlers.onStatus('denied', 'Wrong user name or password');
        this.stop();
      }
    });
    this.client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
  }

  stop() {
    if (!this.client) return;
    const c = this.client;
    this.client = null;
    this.failPending('disconnected', 'signed out');
    c.end(true);
  }

  lostStatus() {
    if (this.offline) return 'offline';
    return this.ever ? 'reconnecting' : 'connecting';
  }

  /**
   * The browser says the network is gone (its `offline` event) or back (`online`). Gone: the socket
   * is closed at once, rather than waiting for the keepalive to time out, and the status says
   * offline. Back: the next retry (reconnectPeriod, 1 s) reconnects; the status says reconnecting.
   */
  setOffline(offline) {
    this.offline = offline;
    if (!this.client || !this.handlers) return;
    if (offline) {
      this.handlers.onStatus('offline');
      this.dropSocket();
    } else if (!this.client.connected) {
      this.handlers.onStatus(this.lostStatus());
    }
  }

  /** For tests and the "drop connection" debug hook: closes the socket as a network loss would. */
  dropSocket() {
    if (this.client && this.client.stream) this.client.stream.destroy();
  }

  async subscribeThenOnline() {
    const filters = { 'chat/+': { qos: 1 }, 'chat/+/typing': { qos: 0 }, 'chat/+/presence': { qos: 0 },
      'chat/+/read': { qos: 1 } };
    try {
      await this.client.subscribeAsync(filters);
    } catch (err) {
      return; // the connection dropped meanwhile; the next 'connect' tries again
    }
    this.ever = true;
    this.handlers.onStatus('online');
    this.handlers.onOnline();
  }

  dispatch(topic, payload, packet) {
    // A download's bytes: raw, on our reply topic + "/media/<M>/<O>", with the request's Correlation Data.
    if (topic.startsWith(`${this.replyTopic}/media/`)) {
      this.settle(packet, (waiter) => waiter.resolve(new Uint8Array(payload)));
      return;
    }
    if (topic !== this.replyTopic) this.channelsSeen.add(topic.split('/')[1]);
    let msg;
    try {
      msg = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      return; // not mqchat's: every mqchat message is JSON
    }
    if (topic !== this.replyTopic) {
      this.handlers.onEvent(topic, msg);
      return;
    }
    const found = this.settle(packet, (waiter) => {
      if (msg.ok) waiter.resolve(msg);
      else waiter.reject(new ChatError(msg.code, msg.message, msg));
    });
    if (!found && msg.ok === false) this.handlers.onEvent(topic, msg); // an error for a fire-and-forget publish
  }

  /** Hands a reply to the request its Correlation Data names; whether one was waiting. */
  settle(packet, give) {
    const correlation = packet && packet.properties && packet.properties.correlationData;
    const key = correlation ? new TextDecoder().decode(correlation) : null;
    const waiter = key && this.pending.get(key);
    if (!waiter) return false;
    this.pending.delete(key);
    clearTimeout(waiter.timer);
    give(waiter);
    return true;
  }

  /**
   * Publishes `body` (an object, sent as JSON, or bytes, sent as they are) to `topic` with our reply
   * topic and `key` as Correlation Data; resolves with the reply.
   */
  request(key, topic, body, qos = 1) {
    return new Promise((resolve, reject) => {
      if (!this.client || !this.client.connected) {
        reject(new ChatError('disconnected', 'not connected'));
        return;
      }
      if (this.pending.has(key)) {
        reject(new ChatError('busy', `a request ${key} is already waiting`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new ChatError('timeout', 'the server did not answer'));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(key, { resolve, reject, timer });
      const properties = { responseTopic: this.replyTopic, correlationData: new TextEncoder().encode(key) };
      const payload = body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
        : JSON.stringify(body);
      this.client.publish(topic, payload, { qos, properties }, (err) => {
        // A PUBACK with a failure reason code (0x87 for a refused send) comes with mqchat's JSON error
        // on the reply topic, which says why: wait for that. Other errors mean the publish never left.
        if (err && typeof err.code === 'number' && err.code >= 0x80) return;
        if (err && this.pending.get(key)?.timer === timer) {
          this.pending.delete(key);
          clearTimeout(timer);
          reject(new ChatError('disconnected', err.message));
        }
      });
    });
  }

  /** chat/_api: resolves with the reply, rejects with a ChatError. */
  api(op, fields = {}) {
    return this.request(`api:${this.nextRef++}`, 'chat/_api', { op, ...fields });
  }

  /** One catch-up page of `channel` after `since`. */
  sync(channel, since, limit = 1000) {
    return this.request(`sync:${channel}`, `chat/${channel}/sync`, { since, limit });
  }

  /**
   * One backward catch-up page of `channel`: the newest events below `before`, in seq order, with
   * `first` (the lowest seq returned) and `more` (whether any remain below it). Its own request key,
   * so an older page may travel while a forward catch-up runs.
   */
  syncBefore(channel, before, limit = 100) {
    return this.request(`before:${channel}:${before}`, `chat/${channel}/sync`, { before, limit });
  }

  /** One piece of upload `media`: `bytes` (a Uint8Array) at `offset`. Resolves with the piece's ack. */
  piece(media, offset, bytes) {
    return this.request(`piece:${media}:${offset}`, `chat/_media/${media}/${offset}`, bytes);
  }

  /**
   * Bytes of `media` from `offset`: `length` of them (at most the server's chunk), or without it a
   * chunk's worth (fewer at the end). Resolves with a Uint8Array.
   */
  download(media, offset, length = undefined) {
    return this.request(`download:${media}:${offset}`, 'chat/_api', { op: 'download', media, offset, length });
  }

  /** A send (message, edit, delete, reaction): resolves with the ack once the event is durable. */
  send(channel, body) {
    return this.request(`send:${body.client_msg_id}`, `chat/${channel}`, body);
  }

  /** Fire-and-forget signals: typing (QoS 0) and the read cursor (QoS 1). Errors arrive as events. */
  signal(channel, kind, body) {
    if (!this.client || !this.client.connected) return;
    this.client.publish(`chat/${channel}/${kind}`, JSON.stringify(body), { qos: kind === 'typing' ? 0 : 1 });
  }

  failPending(code, message) {
    for (const [key, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new ChatError(code, message));
      this.pending.delete(key);
    }
  }
}
