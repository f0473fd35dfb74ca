// app.js - the page's entry point: sign in, then hand over to Chat (state) and ChatView (drawing).
//
// The composition root: it makes the connection, the storage and the visibility from the browser's
// objects (localStorage, sessionStorage, document) and gives them to Chat, which reaches for no
// global itself (so the unit tests run it under node with fakes).
// The broker serves this page (http_dir) on its WebSocket listener, so MQTT goes to the same host and
// port the page came from. window.mqchat is the running Chat, for the browser console and the tests.

import { Chat } from './chat.js';
import { Connection, newId } from './connection.js';
import { ChatStorage } from './storage.js';
import { ChatView } from './ui.js';
import { pageVisibility } from './visibility.js';

const storage = new ChatStorage({ local: localStorage, session: sessionStorage });
const visibility = pageVisibility(document);
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

function signIn(username, password) {
  storage.rememberUser(username);
  const clientId = storage.clientId(username, () => `web-${username}-${newId().slice(0, 8)}`);
  const conn = new Connection({ url: brokerUrl(), username, password, clientId });
  let view = null;
  chat = new Chat({ user: username, conn, storage, visibility }, () => {
    if (chat.status === 'denied') {
      signOut(chat.statusDetail);
      return;
    }
    view.update();
  });
  view = new ChatView(chat);
  window.mqchat = chat;
  signin.hidden = true;
  app.hidden = false;
  chat.start();
  view.update();
}

function signOut(error = '') {
  if (chat) {
    chat.stop();
    chat = null;
    window.mqchat = null;
  }
  form.elements.password.value = '';
  showSignin(error);
}

form.onsubmit = (e) => {
  e.preventDefault();
  signIn(form.elements.username.value.trim(), form.elements.password.value);
};
document.getElementById('signout').onclick = () => signOut();
window.addEventListener('pagehide', () => chat && chat.flushSave());
showSignin();
