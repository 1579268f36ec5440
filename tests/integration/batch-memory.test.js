'use strict';
// A worker's memory stays flat over many batches of list sub-requests: each
// sub-response body is released with the request, like a top-level one.
//
//   SYNCTO_BUILD_DIR=build node --test tests/integration/batch-memory.test.js
//
// One worker with one thread, so that every batch goes to the process whose
// VmRSS is read from /proc. Each sub-request lists one page of _limit
// records, a Kinto body of about 90 kB: its buffer grows by doubling to
// 128 KiB, below the workers' mmap threshold (256 KiB), so a body that is
// never freed stays in the heap and in VmRSS. 300 batches of 10 such
// sub-requests leaking their bodies would add about 3000 x 128 KiB = 375 MiB;
// the tolerance, 32 MiB, is an order of magnitude below that and leaves the
// allocator room to keep some spare memory after the warm-up.
//
// Under AddressSanitizer a freed block waits in a quarantine (256 MiB by
// default) before it is reused, which alone would look like growth here: the
// quarantine is made small (4 MiB) so that the figures mean the same thing.
// LeakSanitizer also checks the worker when it exits (stack.stop()).
//
// The test runs from this tree against an older build too (the settings
// file is then the one of the build's sources, see tests/lib/stack.js).

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { startStack } = require('../lib/stack');
const sync = require('../lib/control');
const { browserIdUser } = require('../lib/users');

const RECORDS = 150;
const LIMIT = 100; // records per listed page; a Next-Page remains
const CIPHERTEXT_BYTES = 600; // random bytes, base64 in the payload
const SUBREQUESTS = 10;
const WARMUP_BATCHES = 60;
const BATCHES = 300;
const TOLERANCE_BYTES = 32 * 1024 * 1024;
const MiB = 1024 * 1024;

let stack;
let user;

before(async () => {
  stack = await startStack({
    env: { SYNCTO_WORKERS: '1', SYNCTO_THREADS: '1', ASAN_OPTIONS: 'quarantine_size_mb=4' },
  });
  user = browserIdUser();
  const records = [];
  for (let i = 0; i < RECORDS; i++) {
    const payload = JSON.stringify({
      ciphertext: crypto.randomBytes(CIPHERTEXT_BYTES).toString('base64'),
      IV: crypto.randomBytes(16).toString('base64'),
      hmac: crypto.randomBytes(32).toString('hex'),
    });
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

/** Runs n batches; resolves to the size of one sub-response body (bytes). */
async function runBatches(n) {
  const body = JSON.stringify({
    defaults: { method: 'GET', headers: { Authorization: user.auth } },
    requests: Array.from({ length: SUBREQUESTS },
      () => ({ path: `/buckets/${user.bucket}/collections/history/records?_limit=${LIMIT}` })),
  });
  let subBytes = 0;
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${stack.v1}/batch`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    const text = await res.text();
    assert.equal(res.status, 200, text.slice(0, 300));
    const { responses } = JSON.parse(text);
    assert.equal(responses.length, SUBREQUESTS);
    for (const r of responses) {
      assert.equal(r.status, 200, JSON.stringify(r).slice(0, 300));
      assert.equal(r.body.data.length, LIMIT);
      assert.ok(r.headers['Next-Page'], 'a next page is announced');
    }
    subBytes = Buffer.byteLength(JSON.stringify(responses[0].body));
  }
  return subBytes;
}

describe('batch memory', () => {
  it(`stays flat over ${BATCHES} batches of ${SUBREQUESTS} list sub-requests`, async () => {
    const pid = workerPid();
    const subBytes = await runBatches(WARMUP_BATCHES);
    const before = rss(pid);
    await runBatches(BATCHES);
    const afterRss = rss(pid);
    assert.equal(workerPid(), pid, 'the worker was replaced meanwhile');
    const growth = afterRss - before;
    const perSub = growth / (BATCHES * SUBREQUESTS);
    process.stderr.write(`batch memory: sub-response bodies of ${subBytes} bytes; worker ${pid} VmRSS `
      + `${(before / MiB).toFixed(1)} MiB after ${WARMUP_BATCHES} batches of warm-up, `
      + `${(afterRss / MiB).toFixed(1)} MiB after ${BATCHES} more (${(growth / MiB).toFixed(1)} MiB, `
      + `${(perSub / 1024).toFixed(1)} KiB per sub-request)\n`);
    assert.ok(growth < TOLERANCE_BYTES,
      `VmRSS grew by ${(growth / MiB).toFixed(1)} MiB over ${BATCHES * SUBREQUESTS} list sub-requests `
      + `(tolerance ${TOLERANCE_BYTES / MiB} MiB)`);
  });
});
