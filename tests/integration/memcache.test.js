'use strict';
// The worker's in-memory credential cache in front of PostgreSQL, through
// nginx, one worker process and a real PostgreSQL whose sessions from
// syncto log every statement: once a user is warm, its requests make no
// PostgreSQL query (the statements naming its cache key are counted in the
// cluster's log; with the layer off, every request makes one); a Sync 401
// drops the entry with the row (one tokenserver refresh, then memory
// again); the same credential with another bucket never hits; a copy never
// outlives its row; with PostgreSQL down, warm users are served from memory
// while new ones ask the tokenserver each time; the StatsD counters.
//
//   SYNCTO_BUILD_DIR=build node --test tests/integration/memcache.test.js

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startStack } = require('../lib/stack');
const { waitFor } = require('../lib/proc');
const sync = require('../lib/control');
const { startStatsd } = require('../lib/statsd');
const { KCA, bearerUser, browserIdUser } = require('../lib/users');
const creds = require('../syncserver/credentials');

let stack;
let statsd;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const control = (method, p, body) => sync.control(stack, method, p, body);
const lastSeq = () => sync.lastSeq(stack);
const logSince = (seq, role) => sync.logSince(stack, seq, role);

const recordsUrl = (cs) => `${stack.v1}/buckets/${cs}/collections/history/records?_limit=10`;

async function get(u, cs = u.clientState, headers = u.headers) {
  const res = await fetch(recordsUrl(cs), { headers });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  return body;
}

const tokenCalls = (entries) => entries.filter((e) => e.role === 'tokenserver');
const storageCalls = (entries) => entries.filter((e) => e.role === 'storage');

/** The PostgreSQL cache key of a user (docs/upstream.md, section 4). */
function cacheKey(u, cs = u.clientState) {
  const msg = u.token !== undefined ? `bearer\n${u.keyId}\n${u.token}` : `${u.assertion}\n${cs}`;
  const mac = crypto.createHmac('sha256', stack.env.SYNCTO_CACHE_HMAC_SECRET).update(msg).digest('hex');
  return `credentials_${mac}`;
}

// ---- PostgreSQL's statement log -------------------------------------------

const pgLog = () => path.join(stack.pg.cluster.dir, 'postgres.log');
const pgLogSize = () => fs.statSync(pgLog()).size;

/**
 * The cluster's log from byte `from`, once everything before now is in it:
 * a marker statement is logged after whatever syncto's sessions sent.
 */
async function pgLogSince(from) {
  const marker = `memcache-marker-${crypto.randomBytes(6).toString('hex')}`;
  await stack.pg.psql(`SELECT '${marker}'`);
  let text = '';
  await waitFor(() => {
    const fd = fs.openSync(pgLog(), 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(size - from);
      fs.readSync(fd, buf, 0, buf.length, from);
      text = buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
    return text.includes(marker);
  }, { timeout: 10000, interval: 50, what: 'the PostgreSQL log' });
  return text;
}

/** Statements logged since `from` whose parameter is `key`, by kind (get, set, delete...). */
async function statementsFor(key, from) {
  const lines = (await pgLogSince(from)).split('\n');
  const kinds = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /execute (sy_cache_\w+):/.exec(lines[i]);
    if (m && i + 1 < lines.length && lines[i + 1].includes(`$1 = '${key}'`)) kinds.push(m[1].slice(9));
  }
  return kinds;
}

const count = (kinds, kind) => kinds.filter((k) => k === kind).length;

/** StatsD counters named `name` since index `from`, summed. */
const counter = (name, from) => statsd.metrics(from).filter((m) => m.name === name && m.type === 'c')
  .reduce((n, m) => n + m.value, 0);

before(async () => {
  statsd = await startStatsd();
  stack = await startStack({ env: { SYNCTO_WORKERS: '1', SYNCTO_THREADS: '4', SYNCTO_STATSD_URL: statsd.url } });
  // Every statement of syncto's sessions, with its parameters, goes to the
  // cluster's log: new sessions of this database only, so syncto restarts.
  await stack.pg.psql(`ALTER DATABASE "${stack.pg.database}" SET log_statement = 'all'`);
  await stack.restartSyncto();
});

after(async () => {
  if (stack) await stack.stop();
  if (statsd) await statsd.close();
});

afterEach((t) => stack && stack.printLogsIfFailed(t));

test('a warm user makes no PostgreSQL query and no tokenserver call per request', async () => {
  const u = bearerUser();
  const key = cacheKey(u);
  let seq = await lastSeq();
  let from = pgLogSize();
  await get(u); // a miss: tokenserver, stored in PostgreSQL and in memory
  let kinds = await statementsFor(key, from);
  assert.equal(count(kinds, 'set'), 1, kinds.join(' '));
  assert.equal(tokenCalls(await logSince(seq)).length, 1);

  seq = await lastSeq();
  from = pgLogSize();
  const metricsFrom = statsd.lines.length;
  const N = 40;
  for (let i = 0; i < N; i++) await get(u);
  kinds = await statementsFor(key, from);
  assert.deepEqual(kinds, [], 'no PostgreSQL statement for the warm credential');
  const entries = await logSince(seq);
  assert.equal(tokenCalls(entries).length, 0);
  assert.equal(storageCalls(entries).length, N);
  for (const e of storageCalls(entries)) assert.equal(e.hawk.ok, true);
  await waitFor(() => counter('syncto.cache.memory.hit', metricsFrom) === N, { timeout: 10000, what: 'memory hits' });
  assert.equal(counter('syncto.cache.hit', metricsFrom), N, 'cache.hit counts lookups of either layer');
  assert.equal(counter('syncto.cache.memory.miss', metricsFrom), 0);
  assert.equal(counter('syncto.cache.miss', metricsFrom), 0);
});

test('a Sync 401 drops the entry with the row: one tokenserver refresh, then memory again', async () => {
  const u = bearerUser();
  const key = cacheKey(u);
  await get(u);
  await get(u); // from memory

  await control('POST', '/expire-tokens', {});
  let seq = await lastSeq();
  let from = pgLogSize();
  try {
    await get(u);
  } finally {
    await control('POST', '/expire-tokens', { before: null });
  }
  let entries = await logSince(seq);
  assert.equal(tokenCalls(entries).length, 1, 'one refresh');
  const sent = storageCalls(entries);
  assert.deepEqual(sent.map((e) => e.status), [401, 200]);
  assert.notEqual(sent[0].hawk.id, sent[1].hawk.id);
  let kinds = await statementsFor(key, from);
  assert.equal(count(kinds, 'delete'), 1, kinds.join(' '));
  assert.equal(count(kinds, 'set'), 1, kinds.join(' '));
  const freshId = sent[1].hawk.id;

  // the fresh credentials, from memory: no PostgreSQL, no tokenserver
  seq = await lastSeq();
  from = pgLogSize();
  for (let i = 0; i < 5; i++) await get(u);
  entries = await logSince(seq);
  assert.equal(tokenCalls(entries).length, 0);
  for (const e of storageCalls(entries)) assert.equal(e.hawk.id, freshId);
  kinds = await statementsFor(key, from);
  assert.deepEqual(kinds, []);
});

test('a Sync 401 whose refresh fails leaves nothing in memory', async () => {
  const u = bearerUser();
  await get(u);
  await get(u); // from memory
  await control('POST', '/expire-tokens', {});
  try {
    // the refresh after the 401 meets a failing tokenserver: 503
    await control('POST', '/faults', { match: { role: 'tokenserver' }, status: 503, body: { status: 'error' }, times: 1 });
    let seq = await lastSeq();
    const res = await fetch(recordsUrl(u.clientState), { headers: u.headers });
    await res.text();
    assert.equal(res.status, 503);
    let entries = await logSince(seq);
    assert.deepEqual(storageCalls(entries).map((e) => e.status), [401]);
    assert.equal(tokenCalls(entries).length, 1);

    // the refused token was dropped from memory too: the next request asks
    // the tokenserver first and is not refused again
    seq = await lastSeq();
    await get(u);
    entries = await logSince(seq);
    assert.deepEqual(storageCalls(entries).map((e) => e.status), [200]);
    assert.equal(tokenCalls(entries).length, 1);
  } finally {
    await control('DELETE', '/faults');
    await control('POST', '/expire-tokens', { before: null });
  }
});

test('the same credential with another bucket never hits the other entry', async () => {
  // Bearer: one token, a key id per client state.
  const token = creds.makeOAuthToken();
  const cs1 = creds.randomClientState();
  const cs2 = creds.randomClientState();
  const headersFor = (cs) => ({ Authorization: `Bearer ${token}`, 'X-KeyID': creds.keyIdFor(cs, KCA) });
  let seq = await lastSeq();
  const order = [cs1, cs2, cs1, cs2, cs1, cs2];
  for (const cs of order) await get({ clientState: cs }, cs, headersFor(cs));
  let entries = await logSince(seq);
  const tok = tokenCalls(entries);
  assert.equal(tok.length, 2);
  const idOf = Object.fromEntries(tok.map((e) => [e.headers['x-keyid'], JSON.parse(e.response.body).id]));
  const sent = storageCalls(entries);
  assert.equal(sent.length, order.length);
  order.forEach((cs, i) => assert.equal(sent[i].hawk.id, idOf[creds.keyIdFor(cs, KCA)], `request ${i}`));

  // BrowserID: one assertion used with two buckets.
  const b = browserIdUser();
  const other = creds.randomClientState();
  seq = await lastSeq();
  await get(b);
  await get(b);
  const res = await fetch(recordsUrl(other), { headers: b.headers });
  await res.text();
  entries = await logSince(seq);
  // the second bucket asked the tokenserver itself (whatever it answered)
  assert.equal(tokenCalls(entries).length, 2);
  assert.equal(tokenCalls(entries)[1].headers['x-client-state'], other);
  assert.notEqual(cacheKey(b), cacheKey(b, other));
});

test('a copy never outlives its PostgreSQL row', { timeout: 60000 }, async () => {
  const u = bearerUser();
  const key = cacheKey(u);
  await get(u);
  // A new worker with nothing in memory; the row is made to expire soon.
  await stack.restartSyncto();
  await stack.pg.psql(`UPDATE cache SET ttl = (now() AT TIME ZONE 'UTC') + interval '4 seconds' WHERE key = '${key}'`);
  const t0 = Date.now();
  let seq = await lastSeq();
  let from = pgLogSize();
  await get(u); // from the row, into memory
  await get(u); // from memory
  let kinds = await statementsFor(key, from);
  assert.equal(count(kinds, 'get'), 1, kinds.join(' '));
  assert.equal(tokenCalls(await logSince(seq)).length, 0);

  await sleep(Math.max(0, 4500 - (Date.now() - t0)));
  seq = await lastSeq();
  from = pgLogSize();
  await get(u);
  // memory let it go with the row: both missed, and the tokenserver was asked
  assert.equal(tokenCalls(await logSince(seq)).length, 1);
  kinds = await statementsFor(key, from);
  assert.ok(count(kinds, 'get') >= 1, kinds.join(' '));
  assert.equal(count(kinds, 'set'), 1, kinds.join(' '));
});

test('PostgreSQL down: warm users are served from memory, new users ask the tokenserver each time',
  { timeout: 120000 }, async () => {
    const warm = bearerUser();
    await get(warm);
    await get(warm);
    await stack.pg.stop();
    try {
      let seq = await lastSeq();
      for (let i = 0; i < 5; i++) await get(warm);
      assert.equal(tokenCalls(await logSince(seq)).length, 0, 'the warm user costs no tokenserver call');

      const cold = bearerUser();
      seq = await lastSeq();
      for (let i = 0; i < 3; i++) await get(cold);
      // as without the memory layer: nothing is kept while PostgreSQL is down
      assert.equal(tokenCalls(await logSince(seq)).length, 3);
    } finally {
      await stack.pg.start();
    }
    await waitFor(async () => (await fetch(`${stack.v1}/__heartbeat__`)).status === 200,
      { timeout: 60000, interval: 500, what: 'heartbeat after PostgreSQL restart' });
  });

test('with syncto.cache_memory_entries = 0 every request reads PostgreSQL', { timeout: 60000 }, async () => {
  await stack.restartSyncto({ SYNCTO_CACHE_MEMORY_ENTRIES: '0' });
  try {
    const u = bearerUser();
    const key = cacheKey(u);
    await get(u);
    const seq = await lastSeq();
    const from = pgLogSize();
    const metricsFrom = statsd.lines.length;
    for (let i = 0; i < 10; i++) await get(u);
    const kinds = await statementsFor(key, from);
    assert.equal(count(kinds, 'get'), 10, kinds.join(' '));
    assert.equal(tokenCalls(await logSince(seq)).length, 0);
    await waitFor(() => counter('syncto.cache.hit', metricsFrom) === 10, { timeout: 10000, what: 'cache hits' });
    assert.equal(counter('syncto.cache.memory.hit', metricsFrom) + counter('syncto.cache.memory.miss', metricsFrom), 0,
      'no memory counters when the layer is off');
  } finally {
    await stack.restartSyncto({ SYNCTO_CACHE_MEMORY_ENTRIES: '2048' });
  }
});
