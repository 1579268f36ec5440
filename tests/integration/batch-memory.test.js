'use strict';
// A worker's memory stays flat over many batches of list sub-requests: each
// sub-response body is released with the request, like a top-level one.
//
//   cd tests && SYNCTO_BUILD_DIR=build node --test integration/batch-memory.test.js
//
// One worker with one thread, so that every batch goes to the process whose
// VmRSS is read from /proc. Under AddressSanitizer the freed memory waits in
// a quarantine before it is reused; the quarantine is made small here so
// that the figures are comparable (LeakSanitizer also checks the worker at
// its exit).

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { startStack } = require('../lib/stack');
const sync = require('../lib/control');
const { browserIdUser } = require('../lib/users');

const RECORDS = 40;
const PAYLOAD_BYTES = 500;
const SUBREQUESTS = 10;
const WARMUP_BATCHES = 60;
const BATCHES = 300;
// Each list body is about RECORDS * (PAYLOAD_BYTES + escaping + ids) = 22 kB:
// leaking every one of them would add 300 * 10 * 22 kB = 66 MB.
const TOLERANCE_BYTES = 8 * 1024 * 1024;

let stack;
let user;

before(async () => {
  stack = await startStack({
    env: { SYNCTO_WORKERS: '1', SYNCTO_THREADS: '1', ASAN_OPTIONS: 'quarantine_size_mb=1' },
  });
  user = browserIdUser();
  const records = [];
  for (let i = 0; i < RECORDS; i++) {
    const payload = JSON.stringify({ ciphertext: crypto.randomBytes(400).toString('base64'), IV: 'x', hmac: 'y' })
      .slice(0, PAYLOAD_BYTES);
    records.push({ id: crypto.randomBytes(9).toString('base64url'), payload, sortindex: i });
  }
  await sync.seed(stack, user, 'history', records);
});

after(async () => {
  if (stack) await stack.stop();
});

afterEach((t) => stack.printLogsIfFailed(t));

/** The one worker: the only child of syncto's master. */
function workerPid() {
  const master = stack.synctoPid;
  const kids = fs.readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  assert.equal(kids.length, 1, `workers: ${kids}`);
  return Number(kids[0]);
}

/** VmRSS of a process, in bytes. */
function rss(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)[1]) * 1024;
}

async function runBatches(n) {
  const body = JSON.stringify({
    defaults: { method: 'GET', headers: { Authorization: user.auth } },
    requests: Array.from({ length: SUBREQUESTS }, () => ({ path: `/buckets/${user.bucket}/collections/history/records` })),
  });
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${stack.v1}/batch`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    const text = await res.text();
    assert.equal(res.status, 200, text.slice(0, 300));
    const { responses } = JSON.parse(text);
    assert.equal(responses.length, SUBREQUESTS);
    for (const r of responses) {
      assert.equal(r.status, 200, JSON.stringify(r).slice(0, 300));
      assert.equal(r.body.data.length, RECORDS);
    }
  }
}

describe('batch memory', () => {
  it(`stays flat over ${BATCHES} batches of ${SUBREQUESTS} list sub-requests`, async () => {
    const pid = workerPid();
    await runBatches(WARMUP_BATCHES);
    const before = rss(pid);
    await runBatches(BATCHES);
    const afterRss = rss(pid);
    assert.equal(workerPid(), pid, 'the worker was replaced meanwhile');
    const growth = afterRss - before;
    process.stderr.write(`batch memory: worker ${pid} VmRSS ${(before / 1048576).toFixed(1)} MiB after warm-up, `
      + `${(afterRss / 1048576).toFixed(1)} MiB after ${BATCHES} batches (${(growth / 1048576).toFixed(1)} MiB)\n`);
    assert.ok(growth < TOLERANCE_BYTES,
      `VmRSS grew by ${growth} bytes over ${BATCHES * SUBREQUESTS} list sub-requests (tolerance ${TOLERANCE_BYTES})`);
  });
});
