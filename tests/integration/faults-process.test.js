'use strict';
// Fault matrix, process part: signals to syncto while concurrent clients
// keep sending requests, through nginx.
//
//   - a worker SIGKILLed: only the requests in flight on that worker fail
//     (nginx's JSON 502), the master starts a new worker, the pool serves
//     every request again;
//   - SIGHUP: requests held by a slow Sync call across the reload complete
//     with 200, and no request fails;
//   - SIGTERM: the requests in flight complete with 200, new ones are
//     refused at once with nginx's JSON 502 rather than left waiting for
//     the stop to end; syncto started again serves.
//
// The answers are the ones in docs/operations.md ("Process faults").
//
//   SYNCTO_BUILD_DIR=build node --test tests/integration/faults-process.test.js

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startStack } = require('../lib/stack');
const { waitFor, sleep } = require('../lib/proc');
const sync = require('../lib/control');
const { JSON_CT } = require('../lib/kinto');
const { bearerUser } = require('../lib/users');

const WORKERS = 2;
const THREADS = 4;
const CLIENTS = 6;
const ORIGIN = 'https://app.example.org';
const RETRY_AFTER = '7';
const MARGIN_MS = 2500; // see faults-upstream.test.js

let stack;
let users;

before(async () => {
  stack = await startStack({
    env: { SYNCTO_WORKERS: String(WORKERS), SYNCTO_THREADS: String(THREADS), SYNCTO_RETRY_AFTER_SECONDS: RETRY_AFTER },
  });
  users = [];
  for (let i = 0; i < CLIENTS; i++) {
    const u = bearerUser();
    const res = await get(u);
    assert.equal(res.status, 200, res.text); // credentials cached from now on
    users.push(u);
  }
});

after(async () => {
  if (stack) await stack.stop();
});

afterEach(async (t) => {
  if (!stack) return;
  stack.printLogsIfFailed(t);
  await control('DELETE', '/faults');
});

const control = (method, path, body) => sync.control(stack, method, path, body);
const lastSeq = () => sync.lastSeq(stack);
const logSince = (seq, role) => sync.logSince(stack, seq, role);

/** GET of u's records, timed: {status, headers, text, json, start, end}. */
async function get(u) {
  const start = Date.now();
  let res;
  try {
    res = await fetch(`${stack.v1}/buckets/${u.bucket}/collections/tabs/records`,
      { headers: { ...u.headers, Origin: ORIGIN } });
  } catch (e) {
    return { status: 0, text: e.message, start, end: Date.now() };
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, start, end: Date.now() };
}

/** Clients that loop on get() until stop(); resolves to every result. */
function load(clients = users) {
  let stopping = false;
  const results = [];
  const running = clients.map(async (u) => {
    while (!stopping) results.push(await get(u));
  });
  return {
    results,
    stop: async () => {
      stopping = true;
      await Promise.all(running);
      return results;
    },
  };
}

/** Worker pids: the children of syncto's master. */
function workers() {
  const pid = stack.synctoPid;
  return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
}

/** True once `pid` has exited (gone, or a zombie not yet reaped). */
function exited(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

/** nginx's own 502 page: Kinto JSON, CORS, Retry-After. */
function assertNginx502(r) {
  assert.equal(r.status, 502, r.text);
  assert.equal(r.headers.get('content-type'), JSON_CT);
  assert.deepEqual(r.json, { code: 502, errno: 201, error: 'Bad Gateway',
    message: 'Service temporary unavailable due to overloading or maintenance, please retry later.' });
  assert.equal(r.headers.get('access-control-allow-origin'), ORIGIN);
  assert.ok((r.headers.get('access-control-expose-headers') || '').includes('Retry-After'));
  assert.equal(r.headers.get('retry-after'), RETRY_AFTER);
}

/** Starts `n` requests and waits until Sync holds them all (latency fault set). */
async function holdRequests(n) {
  const seq = await lastSeq();
  const held = users.slice(0, n).map((u) => get(u));
  await waitFor(async () => (await logSince(seq, 'storage')).length >= n,
    { timeout: 10000, interval: 50, what: `${n} requests held by Sync` });
  return held;
}

test('a worker SIGKILLed under load: only its requests in flight fail, it is respawned, the pool serves', { timeout: 60000 }, async () => {
  // Requests stay a while on their worker, so that the killed one has some.
  await control('POST', '/faults', { match: { role: 'storage' }, latencyMs: 300 });
  const before = workers();
  assert.equal(before.length, WORKERS);
  const from = stack.synctoLogOffset();
  const run = load();
  await sleep(1000);

  const victim = before[0];
  process.kill(victim, 'SIGKILL');
  await waitFor(() => exited(victim), { timeout: 5000, interval: 5, what: 'the worker gone' });
  const deadAt = Date.now();
  await waitFor(() => {
    const now = workers();
    return now.length === WORKERS && !now.includes(victim);
  }, { timeout: 15000, interval: 50, what: 'a new worker' });
  await sleep(1500);
  const results = await run.stop();

  const failed = results.filter((r) => r.status !== 200);
  const ok = results.length - failed.length;
  assert.ok(ok > 20, `${ok} requests served`);
  assert.ok(failed.length <= THREADS, `${failed.length} failed: at most the killed worker's ${THREADS} threads`);
  for (const r of failed) {
    assertNginx502(r);
    assert.ok(r.start <= deadAt, `a request that started ${r.start - deadAt} ms after the worker died failed`);
  }
  assert.ok(results.filter((r) => r.start > deadAt).length >= CLIENTS, 'requests sent after the kill');
  assert.match(stack.synctoLog(from), new RegExp(`worker ${victim} was killed by signal 9 \\(Killed\\)`));

  // The pool serves again: every client, at once.
  await control('DELETE', '/faults');
  const round = await Promise.all(users.map((u) => get(u)));
  for (const r of round) assert.equal(r.status, 200, r.text);
  process.stderr.write(`SIGKILL row: ${results.length} requests, ${failed.length} failed (502)\n`);
});

test('SIGHUP under load: held requests complete with 200, no request fails', { timeout: 60000 }, async () => {
  await control('POST', '/faults', { match: { role: 'storage' }, latencyMs: 1500, times: 3 });
  const held = await holdRequests(3);
  const run = load(users.slice(3));
  const old = new Set(workers());
  const from = stack.synctoLogOffset();
  stack.signalSyncto('SIGHUP');
  await waitFor(() => {
    const now = workers();
    return now.length === WORKERS && now.every((p) => !old.has(p));
  }, { timeout: 30000, interval: 50, what: 'a new generation of workers' });
  await sleep(500);
  const results = await run.stop();
  const heldResults = await Promise.all(held);

  for (const r of heldResults) assert.equal(r.status, 200, r.text);
  const failed = results.filter((r) => r.status !== 200);
  assert.ok(results.length > 20, `${results.length} requests sent`);
  assert.deepEqual(failed, [], `${failed.length} of ${results.length} requests failed`);
  assert.match(stack.synctoLog(from), /reload complete/);
});

test('SIGTERM under load: requests in flight complete with 200, new ones get a JSON 502 at once', { timeout: 90000 }, async () => {
  const HELD = 3;
  await control('POST', '/faults', { match: { role: 'storage' }, latencyMs: 3000, times: HELD });
  const held = await holdRequests(HELD);
  const master = stack.procs.syncto;
  const stopped = master.stop('SIGTERM', 40000); // resolves once the master has exited
  // The workers have the signal once the master logs it.
  await stack.procs.syncto.waitForLog('stopping', { timeout: 5000 });
  await sleep(200);

  const refused = await Promise.all(users.slice(HELD).map((u) => get(u)));
  const heldResults = await Promise.all(held);
  for (const r of heldResults) assert.equal(r.status, 200, r.text);
  for (const r of refused) {
    assertNginx502(r);
    assert.ok(r.end - r.start <= MARGIN_MS, `refused after ${r.end - r.start} ms`);
  }
  const firstHeldEnd = Math.min(...heldResults.map((r) => r.end));
  for (const r of refused) {
    assert.ok(r.end < firstHeldEnd, 'refused at once, not queued until the stop ends');
  }
  process.stderr.write(`SIGTERM row: held ${heldResults.map((r) => r.end - r.start).join(', ')} ms (200); ` +
    `refused ${refused.map((r) => r.end - r.start).join(', ')} ms (502)\n`);
  await stopped;

  // Started again (which is what a stop is for), it serves.
  await stack.startSyncto();
  const round = await Promise.all(users.map((u) => get(u)));
  for (const r of round) assert.equal(r.status, 200, r.text);
});
