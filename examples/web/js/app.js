// app.js - the page's entry point: sign in, then hand over to Chat (state) and ChatView (drawing).
//
// The broker serves this page (http_dir) on its WebSocket listener, so MQTT goes to the same host and
// port the page came from. window.mqchat is the running Chat, for the browser console and the tests.

import { Chat } from './chat.js';
import { ChatView } from './ui.js';
import { lastUser, rememberUser } from './storage.js';

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
  form.elements.username.value = form.elements.username.value || lastUser();
  (form.elements.username.value ? form.elements.password : form.elements.username).focus();
}

function signIn(username, password) {
  rememberUser(username);
  let view = null;
  chat = new Chat({ url: brokerUrl(), username, password }, () => {
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
