'use strict';
// Sync 1.5 storage API, answering as go-syncstorage
// does: same statuses, bodies, header names and
// header presence. Where the transcripts are silent the choice is noted.

const hawkauth = require('./hawkauth');
const store = require('./store');
const { fmtTs, parseTsMs, goJsonString, decodePath, parseQuery, floor10 } = require('./util');

const { COLLECTION_RE, BSO_ID_RE } = store;
const MAX_IDS = 100;

// ---------------------------------------------------------------- replies

// Every response past the Hawk layer carries X-Weave-Timestamp: a copy of
// X-Last-Modified when there is one, else the current time.
function reply(ctx, status, headers, body) {
  const h = Object.assign({}, headers);
  h['X-Weave-Timestamp'] = h['X-Last-Modified'] !== undefined ? h['X-Last-Modified'] : fmtTs(floor10(Date.now()));
  ctx.send(status, h, body);
}

const JSON_CT = { 'Content-Type': 'application/json' };

function problem(ctx, status, msg, headers) {
  reply(ctx, status, Object.assign({}, JSON_CT, headers || {}), JSON.stringify({ err: msg }));
}

// Bare Weave error numbers: 0 generic, 8 invalid BSO, 17 size limit.
function weave(ctx, status, code) {
  reply(ctx, status, JSON_CT, String(code));
}

// Accept: empty, */*, application/json or application/newlines; anything
// else is 406. Returns 'json', 'newlines', or null after answering.
function acceptMode(ctx) {
  const a = ctx.headers.accept;
  if (a === undefined || a === '' || a === '*/*' || a === 'application/json') return 'json';
  if (a === 'application/newlines') return 'newlines';
  problem(ctx, 406, 'Unsupported Accept header: ' + a);
  return null;
}

function mediaType(ctx) {
  return (ctx.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
}

// X-If-Modified-Since / X-If-Unmodified-Since against `modified` (ms).
// Returns true when it has answered (304, 412 or 400).
function sentNotModified(ctx, modified) {
  const ims = ctx.headers['x-if-modified-since'] || '';
  const ius = ctx.headers['x-if-unmodified-since'] || '';
  if (ims !== '' && ius !== '') {
    problem(ctx, 400, 'X-If-Modified-Since and X-If-Unmodified-Since both provided');
    return true;
  }
  if (ims !== '') {
    const ts = parseTsMs(ims);
    if (ts === null) {
      problem(ctx, 400, 'Invalid X-If-Modified-Since');
      return true;
    }
    if (modified <= ts) {
      reply(ctx, 304, { 'X-Last-Modified': fmtTs(modified) }, null);
      return true;
    }
  } else if (ius !== '') {
    const ts = parseTsMs(ius);
    if (ts === null) {
      problem(ctx, 400, 'Invalid X-If-Unmodified-Since');
      return true;
    }
    if (modified > ts) {
      problem(ctx, 412, 'Condition requires ' + fmtTs(ts) + ', but modified at ' + fmtTs(modified) +
        ' (\u25b3 ' + fmtTs(ts - modified) + 's)', { 'X-Last-Modified': fmtTs(modified) });
      return true;
    }
  }
  return false;
}

function bsoJson(b) {
  let s = '{"id":' + goJsonString(b.id) + ',"modified":' + fmtTs(b.modified) + ',"payload":' + goJsonString(b.payload);
  if (b.sortindex) s += ',"sortindex":' + b.sortindex; // omitted when 0 or unset, as go does
  return s + '}';
}

function listBody(mode, items) {
  if (mode === 'newlines') {
    return { ct: 'application/newlines', body: items.map((i) => i + '\n').join('') };
  }
  return { ct: 'application/json', body: '[' + items.join(',') + ']' };
}

// ------------------------------------------------------------------- info

function infoCollections(ctx, user) {
  if (!acceptMode(ctx)) return;
  if (sentNotModified(ctx, user.storageModified)) return;
  const parts = [];
  for (const c of user.collections.values()) {
    if (c.modified > 0) parts.push(goJsonString(c.name) + ':' + fmtTs(c.modified));
  }
  reply(ctx, 200, {
    'Content-Type': 'application/json',
    'X-Last-Modified': fmtTs(user.storageModified),
    'X-Weave-Records': String(parts.length),
  }, '{' + parts.join(',') + '}');
}

function infoUsage(ctx, user, what) {
  if (!acceptMode(ctx)) return;
  if (sentNotModified(ctx, user.storageModified)) return;
  const u = store.usage(user, Date.now());
  const out = {};
  for (const [name, v] of Object.entries(u)) out[name] = what === 'counts' ? v.count : v.bytes / 1024;
  reply(ctx, 200, Object.assign({ 'X-Last-Modified': fmtTs(user.storageModified) }, JSON_CT), JSON.stringify(out));
}

function infoQuota(ctx, user) {
  if (sentNotModified(ctx, user.storageModified)) return;
  let bytes = 0;
  for (const v of Object.values(store.usage(user, Date.now()))) bytes += v.bytes;
  reply(ctx, 200, Object.assign({ 'X-Last-Modified': fmtTs(user.storageModified) }, JSON_CT), JSON.stringify([bytes / 1024, null]));
}

// go-syncstorage writes this object from a template, tabs and all.
function infoConfiguration(ctx) {
  const l = ctx.state.config.limits;
  const body = '{\n' +
    '\t\t"max_post_records":' + l.max_post_records + ',\n' +
    '\t\t"max_post_bytes":' + l.max_post_bytes + ',\n' +
    '\t\t"max_total_records":' + l.max_total_records + ',\n' +
    '\t\t"max_total_bytes":' + l.max_total_bytes + ',\n' +
    '\t\t"max_request_bytes":' + l.max_request_bytes + ',\n' +
    '\t    "max_record_payload_bytes":' + l.max_record_payload_bytes + '}';
  reply(ctx, 200, JSON_CT, body);
}

// ------------------------------------------------------------- collection

// Query parameters of GET /storage/<coll>. Returns null after answering 400
// (bare `0`, as rs does for every query validation error).
function collectionQuery(ctx) {
  const q = parseQuery(ctx.rawQuery);
  const bad = () => {
    weave(ctx, 400, 0);
    return null;
  };
  const out = { ids: null, newer: null, older: null, full: 'full' in q, limit: 0, offset: 0, sort: 'newest' };
  if (q.ids !== undefined && q.ids !== '') {
    const ids = q.ids.split(',');
    if (ids.length > MAX_IDS) return bad();
    out.ids = new Set();
    for (const raw of ids) {
      const id = raw.trim();
      if (!BSO_ID_RE.test(id)) return bad();
      out.ids.add(id);
    }
  }
  for (const k of ['newer', 'older']) {
    if (q[k] !== undefined && q[k] !== '') {
      out[k] = parseTsMs(q[k]);
      if (out[k] === null) return bad();
    }
  }
  for (const k of ['limit', 'offset']) {
    if (q[k] !== undefined && q[k] !== '') {
      if (!/^\d{1,9}$/.test(q[k])) return bad();
      out[k] = Number(q[k]);
    }
  }
  if (q.sort !== undefined && q.sort !== '') {
    if (!['newest', 'oldest', 'index'].includes(q.sort)) return bad();
    out.sort = q.sort;
  }
  return out;
}

const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const SORTERS = {
  newest: (a, b) => b.modified - a.modified || byId(a, b),
  oldest: (a, b) => a.modified - b.modified || byId(a, b),
  index: (a, b) => (b.sortindex || 0) - (a.sortindex || 0) || b.modified - a.modified || byId(a, b),
};

function collectionGet(ctx, user, name) {
  const mode = acceptMode(ctx);
  if (!mode) return;
  const col = user.collection(name, false);
  if (!col) {
    // Unknown custom collection: an empty list, without X-Last-Modified or
    // X-Weave-Records.
    reply(ctx, 200, JSON_CT, '[]');
    return;
  }
  const q = collectionQuery(ctx);
  if (!q) return;
  if (sentNotModified(ctx, col.modified)) return;
  const now = Date.now();
  const all = [];
  for (const b of col.bsos.values()) {
    if (!store.isLive(b, now)) continue;
    if (q.ids && !q.ids.has(b.id)) continue;
    if (q.newer !== null && !(b.modified > q.newer)) continue;
    if (q.older !== null && !(b.modified < q.older)) continue;
    all.push(b);
  }
  all.sort(SORTERS[q.sort]);
  const cap = ctx.state.config.maxGetLimit;
  let limit = q.limit > 0 ? q.limit : Infinity;
  if (cap > 0 && limit > cap) limit = cap;
  const page = all.slice(q.offset, q.offset + limit);
  const headers = {
    'X-Last-Modified': fmtTs(col.modified),
    'X-Weave-Records': String(page.length),
  };
  if (q.offset + page.length < all.length) headers['X-Weave-Next-Offset'] = String(q.offset + page.length);
  const lb = listBody(mode, page.map((b) => (q.full ? bsoJson(b) : goJsonString(b.id))));
  headers['Content-Type'] = lb.ct;
  reply(ctx, 200, headers, lb.body);
}

function failedJson(ctx, failed) {
  const asList = ctx.state.config.postFailedShape === 'list';
  const parts = Object.entries(failed).map(([id, reason]) =>
    goJsonString(id) + ':' + (asList ? '[' + goJsonString(reason) + ']' : goJsonString(reason)));
  return '{' + parts.join(',') + '}';
}

function postResult(ctx, modified, success, failed) {
  return '{"modified":' + fmtTs(modified) + ',"success":[' + success.map(goJsonString).join(',') +
    '],"failed":' + failedJson(ctx, failed) + '}';
}

// Parses a POST body into items. Returns {valid: [fields], failed: {id:
// reason}} or null after answering.
function postItems(ctx, mt) {
  const limits = ctx.state.config.limits;
  let raw;
  const text = ctx.bodyText();
  try {
    if (mt === 'application/newlines') {
      raw = text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
    } else {
      raw = JSON.parse(text);
    }
  } catch (e) {
    weave(ctx, 400, 8);
    return null;
  }
  if (!Array.isArray(raw)) {
    weave(ctx, 400, 8);
    return null;
  }
  const valid = [];
  const failed = {};
  const seen = new Set();
  for (const item of raw) {
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      weave(ctx, 400, 8);
      return null;
    }
    const id = typeof item.id === 'string' ? item.id : '';
    if (typeof item.id === 'string') {
      if (seen.has(id)) {
        weave(ctx, 400, 8); // duplicate id in one request (rs, py)
        return null;
      }
      seen.add(id);
    }
    const p = store.parseBso(item, true);
    if (p.bad) {
      failed[id] = 'invalid ' + p.bad;
    } else if (p.fields.payload !== undefined && Buffer.byteLength(p.fields.payload, 'utf8') > limits.max_record_payload_bytes) {
      failed[id] = 'Payload too large';
    } else {
      valid.push(p.fields);
    }
  }
  return { valid, failed };
}

// X-Weave-Records / -Bytes / -Total-Records / -Total-Bytes announced by the
// client, and the body size itself. Returns true when it has answered.
function postLimitsExceeded(ctx) {
  const l = ctx.state.config.limits;
  const checks = [
    ['x-weave-total-records', 'X-Weave-Total-Records', l.max_total_records],
    ['x-weave-total-bytes', 'X-Weave-Total-Bytes', l.max_total_bytes],
    ['x-weave-records', 'X-Weave-Records', l.max_post_records],
    ['x-weave-bytes', 'X-Weave-Bytes', l.max_post_bytes],
  ];
  for (const [h, name, max] of checks) {
    const v = ctx.headers[h];
    if (v === undefined || v === '') continue;
    if (!/^[+-]?\d+$/.test(v)) {
      problem(ctx, 400, 'Invalid integer value for ' + name);
      return true;
    }
    if (Number(v) > max) {
      weave(ctx, 400, 17);
      return true;
    }
  }
  if (ctx.body.length > l.max_post_bytes) {
    weave(ctx, 400, 17);
    return true;
  }
  return false;
}

async function collectionPost(ctx, user, name) {
  const state = ctx.state;
  const limits = state.config.limits;
  const mt = mediaType(ctx);
  if (mt !== 'application/json' && mt !== 'text/plain' && mt !== 'application/newlines') {
    problem(ctx, 415, 'Not acceptable Content-Type: ' + mt);
    return;
  }
  let col = user.collection(name, false);
  if (sentNotModified(ctx, col ? col.modified : 0)) return;
  const q = parseQuery(ctx.rawQuery);
  const batchId = q.batch !== undefined ? q.batch : '';
  const commit = 'commit' in q;
  if (commit && q.batch === undefined) {
    problem(ctx, 400, 'Batch ID expected with commit');
    return;
  }
  if (postLimitsExceeded(ctx)) return;
  const items = postItems(ctx, mt);
  if (!items) return;
  if (items.valid.length > limits.max_post_records) {
    problem(ctx, 413, 'Exceeded ' + limits.max_post_records + ' BSO per request');
    return;
  }

  const write = async (list) => {
    const ts = await store.nextWriteTs(user);
    col = user.collection(name, true);
    const ids = [];
    for (const f of list) {
      store.upsert(col, f.id, f, ts);
      if (!ids.includes(f.id)) ids.push(f.id);
    }
    col.modified = ts;
    user.storageModified = ts;
    return { ts, ids };
  };

  if (batchId === '') {
    // Plain POST: write the valid items at once.
    if (items.valid.length === 0) {
      const m = col ? col.modified : 0;
      reply(ctx, 200, Object.assign({ 'X-Last-Modified': fmtTs(m) }, JSON_CT), postResult(ctx, m, [], items.failed));
      return;
    }
    const { ts, ids } = await write(items.valid);
    reply(ctx, 200, Object.assign({ 'X-Last-Modified': fmtTs(ts) }, JSON_CT), postResult(ctx, ts, ids, items.failed));
    return;
  }

  // Batch upload.
  const now = Date.now();
  for (const [id, b] of user.batches) {
    if (now - b.created > state.config.batchTtlSec * 1000) user.batches.delete(id);
  }
  let batch;
  if (batchId === 'true') {
    state.batchSeq += 1;
    batch = { id: 'b' + state.batchSeq, collection: name, items: [], created: now };
    user.batches.set(batch.id, batch);
  } else {
    batch = user.batches.get(batchId);
    if (!batch || batch.collection !== name) {
      problem(ctx, 400, 'Batch id: ' + batchId + ' does not exist: Not Found');
      return;
    }
  }
  for (const f of items.valid) batch.items.push(f);
  let totalBytes = 0;
  for (const f of batch.items) totalBytes += f.payload !== undefined ? Buffer.byteLength(f.payload, 'utf8') : 0;
  if (batch.items.length > limits.max_total_records || totalBytes > limits.max_total_bytes) {
    user.batches.delete(batch.id);
    weave(ctx, 400, 17);
    return;
  }
  if (!commit) {
    const m = col ? col.modified : 0;
    const body = '{"batch":' + goJsonString(batch.id) + ',"success":[' +
      items.valid.map((f) => goJsonString(f.id)).join(',') + '],"failed":' + failedJson(ctx, items.failed) + '}';
    reply(ctx, 202, Object.assign({ 'X-Last-Modified': fmtTs(m) }, JSON_CT), body);
    return;
  }
  user.batches.delete(batch.id);
  if (batch.items.length === 0) {
    const m = col ? col.modified : 0;
    reply(ctx, 200, Object.assign({ 'X-Last-Modified': fmtTs(m) }, JSON_CT), postResult(ctx, m, [], items.failed));
    return;
  }
  const { ts, ids } = await write(batch.items);
  reply(ctx, 200, Object.assign({ 'X-Last-Modified': fmtTs(ts) }, JSON_CT), postResult(ctx, ts, ids, items.failed));
}

async function collectionDelete(ctx, user, name) {
  const col = user.collection(name, false);
  if (!col) {
    problem(ctx, 404, 'Collection not found');
    return;
  }
  if (sentNotModified(ctx, col.modified)) return;
  const q = parseQuery(ctx.rawQuery);
  let ids = null;
  if (q.ids !== undefined) {
    ids = q.ids.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (ids.length > MAX_IDS) {
      weave(ctx, 400, 0);
      return;
    }
  }
  const ts = await store.nextWriteTs(user);
  if (ids) {
    for (const id of ids) col.bsos.delete(id);
    col.modified = ts;
  } else {
    // The whole collection: its modified goes back to 0 and info/collections
    // drops it (go-syncstorage).
    col.bsos.clear();
    col.modified = 0;
    for (const [bid, b] of user.batches) if (b.collection === name) user.batches.delete(bid);
  }
  user.storageModified = ts;
  reply(ctx, 200, Object.assign({ 'X-Last-Modified': fmtTs(ts) }, JSON_CT), '{"modified":' + fmtTs(ts) + '}');
}

// ------------------------------------------------------------------ items

function itemGet(ctx, user, name, id) {
  const mode = acceptMode(ctx);
  if (!mode) return;
  const col = user.collection(name, false);
  if (!col) {
    problem(ctx, 404, 'Collection Not Found: Not Found');
    return;
  }
  const b = store.liveBso(col, id, Date.now());
  if (!b) {
    problem(ctx, 404, 'BSO Not Found: Not Found');
    return;
  }
  if (sentNotModified(ctx, b.modified)) return;
  reply(ctx, 200, {
    'Content-Type': mode === 'newlines' ? 'application/newlines' : 'application/json',
    'X-Last-Modified': fmtTs(b.modified),
  }, bsoJson(b) + (mode === 'newlines' ? '\n' : ''));
}

async function itemPut(ctx, user, name, id) {
  if (!acceptMode(ctx)) return;
  const mt = mediaType(ctx);
  if (mt !== 'application/json' && mt !== 'text/plain') {
    problem(ctx, 415, 'Not acceptable Content-Type: ' + mt);
    return;
  }
  const existing = store.liveBso(user.collection(name, false), id, Date.now());
  if (sentNotModified(ctx, existing ? existing.modified : 0)) return;
  let obj;
  try {
    obj = JSON.parse(ctx.bodyText());
  } catch (e) {
    weave(ctx, 400, 8);
    return;
  }
  const p = store.parseBso(obj, false);
  if (p.bad) {
    weave(ctx, 400, 8);
    return;
  }
  if (p.fields.payload !== undefined &&
      Buffer.byteLength(p.fields.payload, 'utf8') > ctx.state.config.limits.max_record_payload_bytes) {
    problem(ctx, 413, 'Payload too big');
    return;
  }
  const ts = await store.nextWriteTs(user);
  const col = user.collection(name, true);
  store.upsert(col, id, p.fields, ts);
  col.modified = ts;
  user.storageModified = ts;
  const m = fmtTs(ts);
  reply(ctx, 200, { 'Content-Type': 'application/json', 'X-Last-Modified': m }, m);
}

async function itemDelete(ctx, user, name, id) {
  const col = user.collection(name, false);
  if (!col) {
    problem(ctx, 406, 'Could not find collection: Not Found');
    return;
  }
  const b = store.liveBso(col, id, Date.now());
  if (!b) {
    problem(ctx, 404, 'BSO id: ' + id + ' Not Found');
    return;
  }
  if (sentNotModified(ctx, b.modified)) return;
  const ts = await store.nextWriteTs(user);
  col.bsos.delete(id);
  col.modified = ts;
  user.storageModified = ts;
  const m = fmtTs(ts);
  reply(ctx, 200, { 'Content-Type': 'text/plain', 'X-Last-Modified': m }, m);
}

async function deleteEverything(ctx, user) {
  const ts = await store.nextWriteTs(user);
  user.clear();
  const m = fmtTs(ts);
  reply(ctx, 200, { 'Content-Type': 'text/plain', 'X-Last-Modified': m }, m);
}

// ----------------------------------------------------------------- router

async function route(ctx, user, rest) {
  const m = ctx.method;
  if (rest === '' || rest === '/storage') {
    if (m === 'DELETE') return deleteEverything(ctx, user);
    return weave(ctx, 404, 0);
  }
  if (m === 'GET') {
    if (rest === '/info/collections') return infoCollections(ctx, user);
    if (rest === '/info/collection_usage') return infoUsage(ctx, user, 'usage');
    if (rest === '/info/collection_counts') return infoUsage(ctx, user, 'counts');
    if (rest === '/info/quota') return infoQuota(ctx, user);
    if (rest === '/info/configuration') return infoConfiguration(ctx);
  }
  const parts = rest.split('/');
  if (parts[1] !== 'storage' || parts.length < 3 || parts.length > 4 || parts[2] === '') {
    return weave(ctx, 404, 0);
  }
  const name = parts[2];
  const id = parts.length === 4 ? parts[3] : null;
  if (id === '') return weave(ctx, 404, 0);
  if (!COLLECTION_RE.test(name)) return weave(ctx, 404, 0); // rs: bad name -> 404
  if (id === null) {
    if (m === 'GET') return collectionGet(ctx, user, name);
    if (m === 'POST') return collectionPost(ctx, user, name);
    if (m === 'DELETE') return collectionDelete(ctx, user, name);
    return weave(ctx, 404, 0);
  }
  if (!BSO_ID_RE.test(id)) return problem(ctx, 404, 'Invalid bso ID');
  if (m === 'GET') return itemGet(ctx, user, name, id);
  if (m === 'PUT') return itemPut(ctx, user, name, id);
  if (m === 'DELETE') return itemDelete(ctx, user, name, id);
  return weave(ctx, 404, 0);
}

async function handle(ctx) {
  const decoded = decodePath(ctx.rawPath);
  if (decoded === null) {
    ctx.send(400, { 'Content-Type': 'text/plain; charset=utf-8' }, '400 Bad Request');
    return;
  }
  if (!decoded.startsWith('/1.5/')) {
    weave(ctx, 404, 0);
    return;
  }
  const auth = await hawkauth.authenticate(ctx, decoded);
  if (!auth) return;
  if (ctx.bodyTooLarge) {
    weave(ctx, 413, 17);
    return;
  }
  const user = store.getUser(ctx.state, auth.uid);
  const rest = decoded.slice(('/1.5/' + auth.uid).length);
  await store.runExclusive(user, () => route(ctx, user, rest));
}

module.exports = { handle };
