'use strict';
// Worker replacement after syncto.worker_max_requests: each worker leaves
// by itself after its share of requests, the master starts the next one,
// and no request between them fails. The retired workers end through the
// normal stop path (threads joined, pools, curl handles, the PostgreSQL
// cache and the in-memory credentials released): in the ASan/UBSan build
// that is where LeakSanitizer checks each of them (tests/lib/stack.js).
//
//   SYNCTO_BUILD_DIR=build node --test tests/integration/recycle.test.js

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/stack');
const { waitFor } = require('../lib/proc');
const sync = require('../lib/control');
const { bearerUser } = require('../lib/users');

const MAX_REQUESTS = 20;
const ROUNDS = 70; // about seven workers' worth

let stack;
let user;

before(async () => {
  stack = await startStack({
    env: { SYNCTO_WORKERS: '1', SYNCTO_THREADS: '2', SYNCTO_WORKER_MAX_REQUESTS: String(MAX_REQUESTS) },
  });
  user = bearerUser();
  await sync.seed(stack, user, 'tabs', [{ id: 'a-tab', payload: '{"ciphertext":"x","IV":"y","hmac":"z"}' }]);
});

after(async () => {
  if (stack) await stack.stop();
});

afterEach((t) => stack.printLogsIfFailed(t));

const recordsUrl = () => `${stack.v1}/buckets/${user.bucket}/collections/tabs/records`;

/** Pids of the workers that logged a request line since `from`, in order. */
function servingPids(from) {
  const pids = [];
  for (const line of stack.synctoLog(from).split('\n')) {
    if (!line.includes('"syncto.request.summary"')) continue;
    const pid = JSON.parse(line).Pid;
    if (pids[pids.length - 1] !== pid) pids.push(pid);
  }
  return pids;
}

test(`a worker is replaced every ${MAX_REQUESTS} requests and no request fails`, { timeout: 120000 }, async () => {
  const from = stack.synctoLogOffset();
  for (let i = 0; i < ROUNDS; i++) {
    // a records list, and a batch of a list and a record: Sync calls
    // through the worker's caches, response bodies of both kinds
    const list = await fetch(recordsUrl(), { headers: user.headers });
    const listText = await list.text();
    assert.equal(list.status, 200, listText);
    assert.equal(JSON.parse(listText).data.length, 1);
    const batch = await fetch(`${stack.v1}/batch`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        defaults: { headers: user.headers },
        requests: [{ path: `/buckets/${user.bucket}/collections/tabs/records` },
          { path: `/buckets/${user.bucket}/collections/tabs/records/a-tab` }],
      }),
    });
    const text = await batch.text();
    assert.equal(batch.status, 200, text);
    for (const r of JSON.parse(text).responses) assert.equal(r.status, 200, JSON.stringify(r));
  }
  // 2 * ROUNDS FastCGI requests (a batch is one): a worker retires once it
  // has served MAX_REQUESTS, or a few more when its other thread was busy.
  const minRetired = Math.floor((2 * ROUNDS) / (MAX_REQUESTS + 2));
  const count = (re) => (stack.synctoLog(from).match(re) || []).length;
  // Each retiring worker says so and stops; the master then logs that it
  // exited with status 0 ("worker N stopped").
  await waitFor(() => {
    const retiring = count(/stopping \(served worker_max_requests\)/g);
    return retiring >= minRetired && count(/"worker \d+ stopped"/g) === retiring;
  }, {
    timeout: 60000,
    interval: 100,
    what: `at least ${minRetired} workers retired and stopped`,
    fail: () => (stack.synctoLog(from).match(/.*while stopping.*/) || [null])[0],
  });
  const log = stack.synctoLog(from);
  for (const m of log.matchAll(/worker \d+ stopped after (\d+) requests/g)) {
    assert.ok(Number(m[1]) >= MAX_REQUESTS, m[0]);
  }
  assert.doesNotMatch(log, /while stopping|respawning/, 'every retired worker exited with status 0');
  const pids = servingPids(from);
  assert.ok(pids.length > minRetired, `serving workers: ${pids}`);
  assert.equal(new Set(pids).size, pids.length, 'a new process each time');
});
