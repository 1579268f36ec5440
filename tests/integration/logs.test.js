'use strict';
// Every log line joins its request: what the tokenserver client, the
// credential cache and the PostgreSQL cache log while serving a request
// carries that request's id (X-Request-Id here), through nginx, the worker
// pool and real failures: a tokenserver that answers 503, answers a 200
// that is no token, or drops the connection; a cache row that is not a JSON
// string, one that does not decrypt; PostgreSQL stopped. Then, over a run
// of ordinary and failing requests at the debug level, no line is left
// without the id of one of them.
//
//   SYNCTO_BUILD_DIR=build node --test tests/integration/logs.test.js

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startStack } = require('../lib/stack');
const { waitFor } = require('../lib/proc');
const sync = require('../lib/control');
const { bearerUser } = require('../lib/users');

let stack;

const control = (method, p, body) => sync.control(stack, method, p, body);
const recordsUrl = (u) => `${stack.v1}/buckets/${u.clientState}/collections/tabs/records`;

/** A fresh request id, unique within the run. */
const newRid = (what) => `logs-${what}-${crypto.randomBytes(4).toString('hex')}`;

async function get(u, rid, expected = 200) {
  const res = await fetch(recordsUrl(u), { headers: { ...u.headers, 'X-Request-Id': rid } });
  const body = await res.text();
  assert.equal(res.status, expected, body);
  return body;
}

/** The PostgreSQL cache key of a Bearer user (docs/upstream.md, section 4). */
function cacheKey(u) {
  const msg = `bearer\n${u.keyId}\n${u.token}`;
  const mac = crypto.createHmac('sha256', stack.env.SYNCTO_CACHE_HMAC_SECRET).update(msg).digest('hex');
  return `credentials_${mac}`;
}

/** syncto's log lines from byte `from`, parsed (every one must be JSON). */
function linesFrom(from) {
  return stack.synctoLog(from).split('\n').filter(Boolean).map((l) => {
    try {
      return JSON.parse(l);
    } catch (e) {
      assert.fail(`not a JSON log line: ${l}`);
    }
    return null;
  });
}

/** Waits for the request's summary line, then returns every line from `from`. */
async function afterRequest(from, rid) {
  return waitFor(() => {
    const lines = linesFrom(from);
    return lines.some((o) => o.Type === 'syncto.request.summary' && o.Fields.rid === rid) ? lines : null;
  }, { timeout: 10000, what: `summary line of ${rid}` });
}

/** The line of request rid whose message contains text; fails without one. */
function lineOf(lines, rid, text) {
  const found = lines.find((o) => o.Type === 'syncto' && typeof o.Fields.msg === 'string' &&
    o.Fields.msg.includes(text) && o.Fields.rid === rid);
  const near = lines.filter((o) => o.Type === 'syncto').map((o) => JSON.stringify(o.Fields));
  assert.ok(found, `no "${text}" line with rid ${rid} among:\n${near.join('\n')}`);
  return found;
}

before(async () => {
  stack = await startStack({
    env: {
      SYNCTO_LOGGING_RENDERER: 'json',
      SYNCTO_LOG_LEVEL: 'debug',
      // every credential lookup reads PostgreSQL, so that its rows count
      SYNCTO_CACHE_MEMORY_ENTRIES: '0',
    },
  });
});
after(async () => {
  if (stack) await stack.stop();
});
afterEach((t) => stack && stack.printLogsIfFailed(t));

test('a tokenserver failure is logged on a line with the request id', async () => {
  const cases = [
    { fault: { status: 503, body: { status: 'retry later' } }, text: 'tokenserver answered 503' },
    { fault: { status: 200, body: { nope: 1 } }, text: 'tokenserver answered 200 with an unusable body' },
    { fault: { drop: true }, text: 'tokenserver unreachable' },
  ];
  for (const c of cases) {
    const rid = newRid('ts');
    const from = stack.synctoLogOffset();
    await control('POST', '/faults', { match: { role: 'tokenserver' }, times: 1, ...c.fault });
    await get(bearerUser(), rid, 503);
    const line = lineOf(await afterRequest(from, rid), rid, c.text);
    assert.ok(line.Severity <= 6, JSON.stringify(line));
  }
});

test('cache rows that cannot be read are logged on the line of the request that met them', async () => {
  const u = bearerUser();
  await get(u, newRid('warm'));
  const key = cacheKey(u);
  const rows = await stack.pg.psql(`SELECT count(*) AS n FROM cache WHERE key = '${key}'`);
  assert.equal(Number(rows[0].n), 1, 'the credentials were cached');

  // not a JSON string literal: the PostgreSQL cache says so
  await stack.pg.psql(`UPDATE cache SET value = 'not json' WHERE key = '${key}'`);
  let rid = newRid('row');
  let from = stack.synctoLogOffset();
  await get(u, rid);
  lineOf(await afterRequest(from, rid), rid, 'is not a JSON string');

  // a JSON string that does not decrypt: the credential cache drops it
  await stack.pg.psql(`UPDATE cache SET value = '"00ff"' WHERE key = '${key}'`);
  rid = newRid('cred');
  from = stack.synctoLogOffset();
  await get(u, rid);
  lineOf(await afterRequest(from, rid), rid, 'credential cache: dropping an entry that does not decrypt');
});

test('with PostgreSQL stopped, the cache\'s lines carry the request id', { timeout: 120000 }, async () => {
  const u = bearerUser();
  const rid = newRid('pg');
  await stack.pg.stop();
  try {
    const from = stack.synctoLogOffset();
    await get(u, rid); // straight to the tokenserver
    const lines = await afterRequest(from, rid);
    const cache = lines.filter((o) => o.Type === 'syncto' && /^cache: /.test(o.Fields.msg || ''));
    assert.ok(cache.length >= 1, 'the cache logged the outage');
    for (const o of cache) assert.equal(o.Fields.rid, rid, JSON.stringify(o));
  } finally {
    await stack.pg.start();
  }
  await waitFor(async () => (await fetch(`${stack.v1}/__heartbeat__`)).status === 200,
    { timeout: 60000, interval: 500, what: 'heartbeat after PostgreSQL restart' });
});

test('no line of a request is without its request id', async () => {
  const u = bearerUser();
  const rids = [];
  const from = stack.synctoLogOffset();
  const send = async (url, init = {}, what = 'req') => {
    const rid = newRid(what);
    rids.push(rid);
    const res = await fetch(url, { ...init, headers: { ...(init.headers || {}), 'X-Request-Id': rid } });
    await res.arrayBuffer();
    return res.status;
  };
  assert.equal(await send(recordsUrl(u), { headers: u.headers }, 'list'), 200);
  assert.equal(await send(`${recordsUrl(u)}/r1`, { headers: u.headers }, 'get'), 404);
  assert.equal(await send(recordsUrl(u), {}, 'anon'), 401);
  assert.equal(await send(`${stack.v1}/nowhere`, {}, 'unknown'), 404);
  await control('POST', '/faults', { match: { role: 'storage' }, status: 503, body: 0, times: 1 });
  assert.equal(await send(recordsUrl(u), { headers: u.headers }, 'sync503'), 503);
  const other = bearerUser();
  await control('POST', '/faults', { match: { role: 'tokenserver' }, status: 401, body: { status: 'invalid-credentials' }, times: 1 });
  assert.equal(await send(recordsUrl(other), { headers: other.headers }, 'ts401'), 401);
  assert.equal(await send(`${stack.v1}/batch`, {
    method: 'POST',
    headers: { ...u.headers, 'Content-Type': 'application/json' },
    body: JSON.stringify({ requests: [{ path: `/buckets/${u.clientState}/collections/tabs/records` },
      { path: `/buckets/${u.clientState}/collections/forms/records` }] }),
  }, 'batch'), 200);

  const lines = await afterRequest(from, rids[rids.length - 1]);
  const summaries = lines.filter((o) => o.Type === 'syncto.request.summary');
  assert.deepEqual(summaries.map((o) => o.Fields.rid).sort(), [...rids].sort(), 'one summary per request');
  const summaryOf = (what) => summaries.find((o) => o.Fields.rid.startsWith(`logs-${what}-`)).Fields;
  assert.equal(summaryOf('anon').errno, 104);
  assert.equal(summaryOf('unknown').errno, 111);
  assert.equal(summaryOf('list').errno, undefined);
  const others = lines.filter((o) => o.Type !== 'syncto.request.summary');
  for (const o of others) assert.ok(rids.includes(o.Fields.rid), `a line without a request id: ${JSON.stringify(o)}`);
  // the requests that went upstream logged about it (debug and above)
  for (const what of ['list', 'get', 'sync503', 'ts401', 'batch']) {
    const rid = rids.find((r) => r.startsWith(`logs-${what}-`));
    assert.ok(others.some((o) => o.Fields.rid === rid), `no line of ${what} (${rid}) besides its summary`);
  }
});
