'use strict';
// Control API under /__control__ (JSON in, JSON out, never Hawk-protected).
// See README.md for the full list of routes and shapes.

const faults = require('./faults');
const store = require('./store');
const { uidFor } = require('./tokenserver');
const { applyConfig } = require('./state');
const { fmtTs, parseQuery } = require('./util');

const PREFIX = '/__control__';

class BadRequest extends Error {}

function parseJsonBody(ctx, fallback) {
  const text = ctx.bodyText();
  if (text.trim() === '') {
    if (fallback !== undefined) return fallback;
    throw new BadRequest('a JSON body is required');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BadRequest('body is not JSON: ' + e.message);
  }
}

// A user designated by {uid}, {fxaUid, clientState} or {user: {...}}.
function resolveUid(state, src) {
  if (src.user && typeof src.user === 'object') return resolveUid(state, src.user);
  if (src.uid !== undefined && src.uid !== null && src.uid !== '') {
    const s = String(src.uid);
    if (!/^\d{1,20}$/.test(s)) throw new BadRequest('uid must be a decimal integer');
    return s;
  }
  if (typeof src.fxaUid === 'string' && src.fxaUid !== '') {
    return String(uidFor(state, src.fxaUid, typeof src.clientState === 'string' ? src.clientState : ''));
  }
  throw new BadRequest('give uid, or fxaUid (+ clientState)');
}

function logEntries(state, q) {
  const since = q.since !== undefined ? Number(q.since) : 0;
  if (!Number.isFinite(since)) throw new BadRequest('since must be a number');
  let entries = state.log.entries.filter((e) => e.seq > since);
  if (q.role) entries = entries.filter((e) => e.role === q.role);
  if (q.method) entries = entries.filter((e) => e.method === q.method.toUpperCase());
  return { entries, lastSeq: state.log.seq };
}

function rawStorage(state, q) {
  const uid = resolveUid(state, q);
  const user = state.users.get(uid);
  const now = Date.now();
  const view = (b) => ({
    id: b.id,
    modified: Number(fmtTs(b.modified)),
    modifiedMs: b.modified,
    payload: b.payload,
    sortindex: b.sortindex,
    expiresAt: b.expiresAt,
    expired: !store.isLive(b, now),
  });
  if (q.collection) {
    const col = user ? user.collection(q.collection, false) : null;
    return {
      uid,
      collection: q.collection,
      exists: !!col,
      modified: col ? Number(fmtTs(col.modified)) : null,
      records: col ? [...col.bsos.values()].map(view) : [],
    };
  }
  const collections = {};
  if (user) {
    for (const c of user.collections.values()) {
      collections[c.name] = { modified: Number(fmtTs(c.modified)), count: c.bsos.size };
    }
  }
  return {
    uid,
    exists: !!user,
    modified: user ? Number(fmtTs(user.storageModified)) : 0,
    collections,
    batches: user ? [...user.batches.values()].map((b) => ({ id: b.id, collection: b.collection, count: b.items.length })) : [],
  };
}

// hooks.shutdown() is provided by the server (closes it, ends the CLI).
async function route(ctx, hooks) {
  const state = ctx.state;
  const path = ctx.rawPath.slice(PREFIX.length).replace(/\/+$/, '');
  const q = parseQuery(ctx.rawQuery);
  const m = ctx.method;

  if (path === '' && m === 'GET') {
    return [200, {
      routes: [
        'GET /log?since=N[&role=][&method=]', 'DELETE /log',
        'GET /faults', 'POST /faults', 'DELETE /faults', 'DELETE /faults/<id>',
        'POST /seed', 'GET /storage?uid=|fxaUid=&clientState=[&collection=]', 'GET /uid?fxaUid=&clientState=',
        'POST /expire-tokens', 'GET /tokens', 'GET /config', 'POST /config', 'POST /reset', 'POST /shutdown',
      ],
    }];
  }
  if (path === '/log') {
    if (m === 'GET') return [200, logEntries(state, q)];
    if (m === 'DELETE') {
      const n = state.log.entries.length;
      state.log.entries = [];
      return [200, { cleared: n, lastSeq: state.log.seq }];
    }
  }
  if (path === '/faults') {
    if (m === 'GET') return [200, { rules: state.faults.rules.map(faults.publicRule) }];
    if (m === 'POST') {
      const body = parseJsonBody(ctx);
      const list = Array.isArray(body) ? body : Array.isArray(body.rules) ? body.rules : [body];
      // Validate all first so that a bad rule adds nothing.
      list.forEach((r) => {
        try {
          faults.normalize(r, 0);
        } catch (e) {
          throw new BadRequest(e.message);
        }
      });
      return [200, { rules: list.map((r) => faults.publicRule(faults.add(state, r))) }];
    }
    if (m === 'DELETE') {
      const n = state.faults.rules.length;
      state.faults.rules = [];
      return [200, { cleared: n }];
    }
  }
  const fm = /^\/faults\/(\d+)$/.exec(path);
  if (fm && m === 'DELETE') {
    const before = state.faults.rules.length;
    state.faults.rules = state.faults.rules.filter((r) => r.id !== Number(fm[1]));
    if (state.faults.rules.length === before) return [404, { error: 'no such rule' }];
    return [200, { removed: Number(fm[1]) }];
  }
  if (path === '/seed' && m === 'POST') {
    const body = parseJsonBody(ctx);
    const uid = resolveUid(state, body);
    if (typeof body.collection !== 'string') throw new BadRequest('collection is required');
    let ts;
    try {
      ts = await store.seed(state, uid, body.collection, body.records);
    } catch (e) {
      throw new BadRequest(e.message);
    }
    return [200, { uid, collection: body.collection, modified: Number(fmtTs(ts)), modifiedText: fmtTs(ts), count: body.records.length }];
  }
  if (path === '/storage' && m === 'GET') return [200, rawStorage(state, q)];
  if (path === '/uid' && m === 'GET') return [200, { uid: resolveUid(state, q) }];
  if (path === '/expire-tokens' && m === 'POST') {
    const body = parseJsonBody(ctx, {});
    const before = body.before !== undefined ? body.before : Date.now();
    if (before !== null && (typeof before !== 'number' || !Number.isFinite(before))) {
      throw new BadRequest('before must be a time in ms, or null to stop expiring');
    }
    state.tokensExpiredBefore = before;
    return [200, { expiredBefore: before }];
  }
  if (path === '/tokens' && m === 'GET') {
    // Every token issued since the start (or the last reset): what a test
    // needs to check that no log holds a Hawk id or key.
    const tokens = [...state.tokens].map(([id, t]) => ({ id, key: t.key, uid: t.uid, issuedAt: t.issuedAt }));
    return [200, { tokens }];
  }
  if (path === '/config') {
    if (m === 'GET') return [200, state.config];
    if (m === 'POST') {
      const body = parseJsonBody(ctx);
      const next = JSON.parse(JSON.stringify(state.config));
      try {
        applyConfig(next, body);
      } catch (e) {
        throw new BadRequest(e.message);
      }
      state.config = next;
      return [200, state.config];
    }
  }
  if (path === '/reset' && m === 'POST') {
    state.reset();
    return [200, { reset: true }];
  }
  if (path === '/shutdown' && m === 'POST') {
    setImmediate(() => hooks.shutdown());
    return [200, { shutdown: true }];
  }
  return [404, { error: 'no such control route: ' + m + ' ' + ctx.rawPath }];
}

async function handle(ctx, hooks) {
  let status;
  let body;
  try {
    [status, body] = await route(ctx, hooks);
  } catch (e) {
    if (!(e instanceof BadRequest)) throw e;
    [status, body] = [400, { error: e.message }];
  }
  ctx.json(status, body);
}

module.exports = { handle, PREFIX };
