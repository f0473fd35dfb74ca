// signin.js - "Stay signed in": a session token kept in this browser instead of the password.
//
// After a sign-in with the password (and the box ticked), the client asks the server for a session
// token (`{"op":"session"}` on chat/_api, docs/protocol.md) and keeps the user name and the token in
// localStorage; the password is never kept. A reload then connects with the token as the password
// and goes straight to the channels. The server accepts a token only from its own user, and refuses
// one that was revoked ("Sign out" sends `{"op":"logout"}`, which revokes the token this connection
// signed in with) or has expired: the client then forgets it and shows the sign-in form with why.
// A server without the op answers with an error: nothing is kept, and the next visit asks for the
// password as before. No DOM: app.js wires it to the page.

const KEY = 'mqchat:v1:session';
const MAX_TOKEN = 200; // the contract's bound: anything longer is not a token of ours

/** What is kept: the user name and the token, or null. */
export class SessionStore {
  /** @param {{getItem(k: string): ?string, setItem(k: string, v: string): void, removeItem(k: string): void}} local */
  constructor(local) {
    this.local = local;
  }

  load() {
    try {
      const s = JSON.parse(this.local.getItem(KEY) || 'null');
      if (s && typeof s.user === 'string' && s.user && typeof s.token === 'string' && s.token
          && s.token.length <= MAX_TOKEN) {
        return { user: s.user, token: s.token, session: typeof s.session === 'string' ? s.session : null };
      }
    } catch {
      // unreadable: as if nothing were kept
    }
    return null;
  }

  save(user, reply) {
    if (typeof reply.token !== 'string' || !reply.token || reply.token.length > MAX_TOKEN) return false;
    try {
      this.local.setItem(KEY, JSON.stringify({ user, token: reply.token, session: reply.session || null,
        expires_ts: reply.expires_ts || null }));
      return true;
    } catch {
      return false; // storage full or disabled: the next visit asks for the password
    }
  }

  forget() {
    try {
      this.local.removeItem(KEY);
    } catch {
      // nothing to forget
    }
  }
}

/**
 * Asks the server for a session token for this (password) connection and keeps it.
 * Resolves true if one was kept; false if the server refused (an older server, the op turned off).
 * @param {{api(op: string, fields?: object): Promise<object>}} conn
 */
export async function keepSession(conn, store, user) {
  try {
    const reply = await conn.api('session');
    return store.save(user, reply);
  } catch {
    return false;
  }
}

/**
 * Revokes the token this connection signed in with (if any) and forgets the kept one. Waits at most
 * `waitMs` for the answer: signing out never hangs on a dead connection (the token then expires on
 * its own, and is gone from this browser anyway).
 */
export async function endSession(conn, store, waitMs = 2000) {
  // The kept session by its id: the token this connection signed in with, or the one it was given
  // after a password sign-in. Without one, the token this connection used (if it used one).
  const kept = store.load();
  store.forget();
  let timer;
  try {
    await Promise.race([conn.api('logout', kept && kept.session ? { session: kept.session } : {}),
      new Promise((resolve) => { timer = setTimeout(resolve, waitMs); })]);
  } catch {
    // not connected, or an older server: the token stays valid until it expires, but is forgotten here
  } finally {
    clearTimeout(timer);
  }
}

export const REFUSED_TOKEN = 'Your saved sign-in is no longer valid (signed out elsewhere, or expired). Sign in again.';
