'use strict';
// The worker pool at its default size (etc/syncto.ini and the built-in
// defaults: 2 workers x 512 threads) serves 1024 requests at the same time,
// through nginx: with every storage answer held back 3 s by the test Sync
// server, 1024 record lists sent at once all end in 200, and the Sync
// server's request log shows all 1024 storage requests in flight together. No timings are asserted; the
// overlap is read from the log (arrival time + duration of each request).
//
//   SYNCTO_BUILD_DIR=build node --test tests/integration/concurrency.test.js

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startStack, iniSetting } = require('../lib/stack');
const sync = require('../lib/control');
const { browserIdUser } = require('../lib/users');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const INI = path.join(__dirname, '..', '..', 'etc', 'syncto.ini');
const WORKERS = iniSetting(INI, 'syncto.workers') || '2';
const THREADS = iniSetting(INI, 'syncto.threads') || '512';
const CLIENTS = Number(WORKERS) * Number(THREADS);
const LATENCY_MS = 3000;

let stack;
let users;

const control = (method, path, body) => sync.control(stack, method, path, body);
const { maxInFlight } = sync;

const listUrl = (u) => `${stack.v1}/buckets/${u.clientState}/collections/history/records`;

async function list(u) {
  const res = await fetch(listUrl(u), { headers: { Authorization: u.auth } });
  return { status: res.status, body: await res.text() };
}

/** Runs `fn` over `items`, at most `width` at a time. */
async function inBatches(items, width, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += width) {
    out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  }
  return out;
}

before(async () => {
  stack = await startStack({ env: { SYNCTO_WORKERS: WORKERS, SYNCTO_THREADS: THREADS } });
  users = [];
  for (let i = 0; i < CLIENTS; i++) {
    const u = browserIdUser();
    await sync.seed(stack, u, 'history',
      [{ id: `rec-${i}`, payload: JSON.stringify({ ciphertext: `c${i}`, IV: 'i', hmac: 'h' }) }]);
    users.push(u);
  }
  // Warm the credential cache, one user at a time: from now on no request
  // needs the tokenserver.
  const warm = await inBatches(users, 1, list);
  for (const r of warm) assert.equal(r.status, 200, r.body);
});

after(async () => {
  if (stack) {
    await fetch(`${stack.sync.control}/faults`, { method: 'DELETE' }).catch(() => {});
    await stack.stop();
  }
});

afterEach((t) => stack && stack.printLogsIfFailed(t));

/** Default of `key` in the settings table the server prints. */
function builtinDefault(table, key) {
  const row = table.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
  assert.ok(row, `${key} in --settings-markdown`);
  return row.split('|')[4].trim().replace(/`/g, '');
}

test('the pool runs with the default settings', () => {
  const table = execFileSync(path.join(stack.build, 'syncto'), ['--settings-markdown'], { encoding: 'utf8' });
  assert.equal(WORKERS, builtinDefault(table, 'syncto.workers'));
  assert.equal(THREADS, builtinDefault(table, 'syncto.threads'));
  assert.ok(Number(WORKERS) * Number(THREADS) >= CLIENTS, `${WORKERS} x ${THREADS} threads`);
  assert.match(stack.synctoLog(), new RegExp(`with ${WORKERS} workers x ${THREADS} threads`));
});

test(`${CLIENTS} slow record lists are served at the same time`, async () => {
  const mark = await sync.lastSeq(stack);
  const { rules: [rule] } = await control('POST', '/faults', {
    match: { role: 'storage', method: 'GET', pathRegex: '/storage/history$' },
    latencyMs: LATENCY_MS,
  });
  let results;
  try {
    results = await Promise.all(users.map(list));
  } finally {
    await control('DELETE', '/faults');
  }

  results.forEach((r, i) => {
    assert.equal(r.status, 200, `client ${i}: ${r.body}`);
    const body = JSON.parse(r.body);
    assert.deepEqual(body.data.map((rec) => rec.id), [`rec-${i}`]);
  });

  const entries = await sync.logSince(stack, mark);
  assert.equal(entries.filter((e) => e.role === 'tokenserver').length, 0, 'the credential cache was warm');
  const lists = entries.filter((e) => e.role === 'storage' && /\/storage\/history$/.test(e.path));
  assert.equal(lists.length, CLIENTS);
  for (const e of lists) {
    assert.equal(e.status, 200);
    assert.deepEqual(e.faults, [rule.id], 'held back by the latency rule');
    assert.equal(typeof e.durationMs, 'number');
  }
  assert.equal(new Set(lists.map((e) => e.hawk.uid)).size, CLIENTS, 'one storage request per user');
  assert.equal(maxInFlight(lists), CLIENTS, 'every storage request was in flight at one instant');
});

test('the overlap count is exact', () => {
  // The helper on hand-made intervals: nested, chained, touching, instant.
  assert.equal(maxInFlight([]), 0);
  assert.equal(maxInFlight([{ time: 3, durationMs: 0 }]), 1);
  assert.equal(maxInFlight([{ time: 0, durationMs: 10 }, { time: 5, durationMs: 10 }]), 2);
  assert.equal(maxInFlight([{ time: 0, durationMs: 10 }, { time: 10, durationMs: 10 }]), 1);
  assert.equal(maxInFlight([
    { time: 0, durationMs: 100 }, { time: 10, durationMs: 5 },
    { time: 20, durationMs: 5 }, { time: 22, durationMs: 50 },
  ]), 3);
});
