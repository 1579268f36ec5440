'use strict';
// In-memory Sync storage: users, collections, BSOs, batches, and the
// per-user write clock.
//
// Timestamps are integer milliseconds, multiples of 10. Every write of one
// user gets its own timestamp, at least 10 ms after the previous one: like
// go-syncstorage, the write waits until the clock has moved on, so
// timestamps stay close to real time. All requests of one user run one at a
// time (go-syncstorage holds a per-user lock for the whole request).

const { floor10, sleep } = require('./util');

const STANDARD_COLLECTIONS = Object.freeze([
  'clients', 'crypto', 'forms', 'history', 'keys', 'meta',
  'bookmarks', 'prefs', 'tabs', 'passwords', 'addons',
]);

const COLLECTION_RE = /^[a-zA-Z0-9._-]{1,32}$/;
const BSO_ID_RE = /^[ -~]{1,64}$/;
const SORTINDEX_MAX = 999999999;
const TTL_MAX = 999999999;

class Collection {
  constructor(name) {
    this.name = name;
    this.modified = 0;
    this.bsos = new Map(); // id -> {id, payload, sortindex, modified, expiresAt}
  }
}

class User {
  constructor(uid) {
    this.uid = uid;
    this.lastWrite = 0;
    this.queue = Promise.resolve();
    this.clear();
  }

  // Back to a new user: the standard collections at 0, nothing else.
  clear() {
    this.collections = new Map();
    for (const name of STANDARD_COLLECTIONS) this.collections.set(name, new Collection(name));
    this.storageModified = 0;
    this.batches = new Map(); // batch id -> {id, collection, items, created}
  }

  collection(name, create) {
    let c = this.collections.get(name);
    if (!c && create) {
      c = new Collection(name);
      this.collections.set(name, c);
    }
    return c || null;
  }
}

function getUser(state, uid) {
  const key = String(uid);
  let u = state.users.get(key);
  if (!u) {
    u = new User(key);
    state.users.set(key, u);
  }
  return u;
}

// Runs fn() after every earlier request of this user has finished.
function runExclusive(user, fn) {
  const run = () => fn();
  const p = user.queue.then(run, run);
  user.queue = p.then(() => undefined, () => undefined);
  return p;
}

// Allocates the timestamp of a write (call inside runExclusive).
async function nextWriteTs(user) {
  let now = floor10(Date.now());
  while (now < user.lastWrite + 10) {
    await sleep(user.lastWrite + 10 - now);
    now = floor10(Date.now());
  }
  user.lastWrite = now;
  return now;
}

function isLive(bso, now) {
  return bso.expiresAt === null || bso.expiresAt > now;
}

function liveBso(col, id, now) {
  const b = col ? col.bsos.get(id) : undefined;
  return b && isLive(b, now) ? b : null;
}

// Validates one incoming BSO object. `requireId` is for POST items. Returns
// {fields} with only the supplied fields, or {bad: '<field>'}.
function parseBso(obj, requireId) {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return { bad: '-' };
  for (const k of Object.keys(obj)) {
    if (!['id', 'payload', 'sortindex', 'ttl', 'modified', 'collection'].includes(k)) return { bad: k };
  }
  const fields = {};
  if (obj.id !== undefined || requireId) {
    if (typeof obj.id !== 'string' || !BSO_ID_RE.test(obj.id)) return { bad: 'id' };
    fields.id = obj.id;
  }
  if (obj.payload !== undefined && obj.payload !== null) {
    if (typeof obj.payload !== 'string') return { bad: 'payload' };
    fields.payload = obj.payload;
  }
  if (obj.sortindex !== undefined && obj.sortindex !== null) {
    if (!Number.isInteger(obj.sortindex) || Math.abs(obj.sortindex) > SORTINDEX_MAX) return { bad: 'sortindex' };
    fields.sortindex = obj.sortindex;
  }
  if (obj.ttl !== undefined && obj.ttl !== null) {
    if (!Number.isInteger(obj.ttl) || obj.ttl < 0 || obj.ttl > TTL_MAX) return { bad: 'ttl' };
    fields.ttl = obj.ttl;
  }
  return { fields };
}

// Inserts or updates a BSO at timestamp ts. Fields not supplied keep their
// value on a live BSO; a new (or expired) one starts with payload "".
function upsert(col, id, fields, ts) {
  const old = liveBso(col, id, ts);
  const b = old || { id, payload: '', sortindex: null, modified: ts, expiresAt: null };
  if (fields.payload !== undefined) b.payload = fields.payload;
  if (fields.sortindex !== undefined) b.sortindex = fields.sortindex;
  if (fields.ttl !== undefined) b.expiresAt = ts + fields.ttl * 1000;
  b.modified = ts;
  col.bsos.set(id, b);
}

// Payload bytes of the live BSOs, per collection.
function usage(user, now) {
  const out = {};
  for (const c of user.collections.values()) {
    let bytes = 0;
    let count = 0;
    for (const b of c.bsos.values()) {
      if (!isLive(b, now)) continue;
      bytes += Buffer.byteLength(b.payload, 'utf8');
      count++;
    }
    if (count > 0) out[c.name] = { bytes, count };
  }
  return out;
}

// Bulk insert used by the control API: all records get one timestamp.
async function seed(state, uid, collectionName, records) {
  if (!COLLECTION_RE.test(collectionName)) throw new Error('invalid collection name');
  if (!Array.isArray(records)) throw new Error('records must be an array');
  const parsed = records.map((r, i) => {
    const p = parseBso(r, true);
    if (p.bad) throw new Error('record ' + i + ': invalid ' + p.bad);
    return p.fields;
  });
  const user = getUser(state, uid);
  return runExclusive(user, async () => {
    const ts = await nextWriteTs(user);
    const col = user.collection(collectionName, true);
    for (const f of parsed) upsert(col, f.id, f, ts);
    col.modified = ts;
    user.storageModified = ts;
    return ts;
  });
}

module.exports = {
  STANDARD_COLLECTIONS,
  COLLECTION_RE,
  BSO_ID_RE,
  User,
  Collection,
  getUser,
  runExclusive,
  nextWriteTs,
  isLive,
  liveBso,
  parseBso,
  upsert,
  usage,
  seed,
};
