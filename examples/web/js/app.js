// app.js - the page's entry point: sign in, then hand over to Chat (state) and ChatView (drawing).
//
// The composition root: it makes the connection, the storage and the visibility from the browser's
// objects (localStorage, sessionStorage, document) and gives them to Chat, which reaches for no
// global itself (so the unit tests run it under node with fakes).
// The broker serves this page (http_dir) on its WebSocket listener, so MQTT goes to the same host and
// port the page came from. window.mqchat is the running Chat, for the browser console and the tests.
// With "Stay signed in" (signin.js) a session token is kept instead of the password, and a reload
// signs in with it without showing the form.

import { Chat } from './chat.js';
import { Connection, newId } from './connection.js';
import { endSession, keepSession, REFUSED_TOKEN, SessionStore } from './signin.js';
import { ChatStorage } from './storage.js';
import { ChatView } from './ui.js';
import { pageVisibility } from './visibility.js';

const storage = new ChatStorage({ local: localStorage, session: sessionStorage });
const sessions = new SessionStore(localStorage);
const visibility = pageVisibility(document);

/** Desktop notifications through the browser's Notification API, while it is permitted. */
const notifier = {
  show(title, body, tag, onClick) {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    const n = new Notification(title, { body, tag });
    n.onclick = () => { window.focus(); onClick(); n.close(); };
  },
};
const signin = document.getElementById('signin');
const form = document.getElementById('signin-form');
const app = document.getElementById('app');
let chat = null;

function brokerUrl() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/mqtt`;
}

function showSignin(error = '') {
  app.hidden = true;
  signin.hidden = false;
  document.getElementById('signin-error').textContent = error;
  form.elements.username.value = form.elements.username.value || storage.lastUser();
  (form.elements.username.value ? form.elements.password : form.elements.username).focus();
}

/**
 * Connects as `username` with `secret`: the password typed, or (withToken) a kept session token.
 * `stay`: after a password sign-in, ask for a session token and keep it.
 */
function signIn(username, secret, { withToken = false, stay = false } = {}) {
  storage.rememberUser(username);
  const clientId = storage.clientId(username, () => `web-${username}-${newId().slice(0, 8)}`);
  const conn = new Connection({ url: brokerUrl(), username, password: secret, clientId });
  let view = null;
  let asked = false;
  chat = new Chat({ user: username, conn, storage, visibility, notifier }, () => {
    if (chat.status === 'denied') {
      const why = withToken ? REFUSED_TOKEN : chat.statusDetail;
      if (withToken) sessions.forget();
      stopChat();
      showSignin(why);
      return;
    }
    if (stay && !asked && chat.status === 'online') {
      asked = true;
      keepSession(conn, sessions, username);
    }
    view.update();
  });
  view = new ChatView(chat);
  window.mqchat = chat;
  if (!navigator.onLine) conn.offline = true;
  signin.hidden = true;
  app.hidden = false;
  chat.start();
  view.update();
}

function stopChat() {
  if (!chat) return;
  chat.stop();
  chat = null;
  window.mqchat = null;
}

/** Sign out: the kept session is revoked on the server (if we can reach it) and forgotten here. */
async function signOut() {
  if (chat) await endSession(chat.conn, sessions);
  stopChat();
  form.elements.password.value = '';
  showSignin();
}

form.onsubmit = (e) => {
  e.preventDefault();
  // Asked while the person acts (browsers ignore the question otherwise); the answer is theirs.
  if (typeof Notification !== 'undefined' && Notification.permission === 'default') Notification.requestPermission();
  sessions.forget();
  signIn(form.elements.username.value.trim(), form.elements.password.value, { stay: form.elements.stay.checked });
  form.elements.password.value = ''; // not kept in the page either
};
document.getElementById('signout').onclick = () => signOut();
window.addEventListener('pagehide', () => chat && chat.flushSave());
window.addEventListener('offline', () => chat && chat.conn.setOffline(true));
window.addEventListener('online', () => chat && chat.conn.setOffline(false));

const kept = sessions.load();
if (kept) signIn(kept.user, kept.token, { withToken: true });
else showSignin();
