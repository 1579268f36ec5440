'use strict';
// A 5,000-record history (about 3 MB of Kinto JSON): one response, pages
// with _limit, Sync's own page cap, and the worker's memory around it.
//
//   cd tests && SYNCTO_BUILD_DIR=build node --test integration/large.test.js
//
// The stack runs one worker with one thread, so that the memory figures
// read from /proc are those of the thread that served the requests. Under
// AddressSanitizer a freed block waits in a quarantine (256 MiB by default)
// before it goes back: the quarantine is made small (4 MiB, about one
// body) so that the figures mean the same thing as with the plain
// allocator; LeakSanitizer also checks the worker when it exits.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { startStack } = require('../lib/stack');
const sync = require('../lib/control');
const { browserIdUser } = require('../lib/users');

const N = 5000;
const PAYLOAD_BYTES = 600;

let stack;
let user;
let seededAt;
const payloads = new Map();

const control = (method, path, body) => sync.control(stack, method, path, body);

const listUrl = (q = '') => `${stack.v1}/buckets/${user.bucket}/collections/history/records${q}`;

async function get(url) {
  const t = performance.now();
  const res = await fetch(url, { headers: { Authorization: user.auth } });
  const text = await res.text();
  return { res, text, ms: performance.now() - t };
}

/** Follows Next-Page from `url`; resolves to {ids, pages, etags}. */
async function follow(url) {
  const ids = [];
  const etags = new Set();
  let pages = 0;
  while (url) {
    const { res, text } = await get(url);
    assert.equal(res.status, 200, text.slice(0, 200));
    const body = JSON.parse(text);
    for (const r of body.data) {
      assert.equal(r.payload, payloads.get(r.id));
      ids.push(r.id);
    }
    etags.add(res.headers.get('etag'));
    url = res.headers.get('next-page');
    pages++;
    assert.ok(pages <= N, 'pagination does not end');
  }
  return { ids, pages, etags };
}

function assertEachOnce(ids) {
  assert.equal(ids.length, N);
  const seen = new Set(ids);
  assert.equal(seen.size, N);
  for (const id of payloads.keys()) assert.ok(seen.has(id), id);
}

/** Pids of syncto's worker processes (children of the master). */
function workerPids() {
  const master = stack.synctoPid;
  const pids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === master) pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** VmRSS and VmHWM (bytes) of a process. */
function memory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

before(async () => {
  stack = await startStack({ env: { SYNCTO_WORKERS: '1', SYNCTO_THREADS: '1', ASAN_OPTIONS: 'quarantine_size_mb=4' } });
  user = browserIdUser();
  const records = [];
  for (let i = 0; i < N; i++) {
    const id = crypto.randomBytes(9).toString('base64url');
    const payload = JSON.stringify({ ciphertext: crypto.randomBytes(420).toString('base64'), IV: 'x', hmac: 'y' })
      .slice(0, PAYLOAD_BYTES);
    payloads.set(id, payload);
    records.push({ id, payload, sortindex: i });
  }
  const r = await sync.seed(stack, user, 'history', records);
  seededAt = sync.syncMs(r.modifiedText);
});

after(async () => {
  if (stack) await stack.stop();
});

afterEach(async (t) => {
  await control('POST', '/config', { maxGetLimit: 1000 });
  stack.printLogsIfFailed(t);
});

describe('a 5,000-record history', () => {
  it('is served whole in one response', async () => {
    await control('POST', '/config', { maxGetLimit: 0 });
    await get(listUrl('?_limit=1')); // credentials
    const runs = [];
    let last;
    for (let i = 0; i < 3; i++) {
      last = await get(listUrl());
      runs.push(last.ms);
    }
    const { res, text } = last;
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers.get('content-length')), Buffer.byteLength(text));
    const body = JSON.parse(text);
    assert.equal(body.data.length, N);
    assertEachOnce(body.data.map((r) => r.id));
    for (const r of body.data) {
      assert.equal(r.last_modified, seededAt);
      assert.equal(r.payload, payloads.get(r.id));
    }
    // newest first, then Sync's order; sortindex kept
    assert.equal(typeof body.data[0].sortindex, 'number');
    assert.equal(res.headers.get('etag'), `"${seededAt}"`);
    assert.equal(res.headers.get('total-records'), String(N));
    assert.equal(res.headers.get('next-page'), null);
    const size = Buffer.byteLength(text);
    assert.ok(size > 3e6, `${size} bytes`);
    runs.sort((a, b) => a - b);
    process.stderr.write(`5,000 records: ${size} bytes of JSON, ${runs[1].toFixed(0)} ms (median of 3)\n`);
  });

  it('pages with _limit, each record exactly once', async () => {
    const { ids, pages, etags } = await follow(listUrl('?_limit=700&_sort=index'));
    assertEachOnce(ids);
    assert.equal(pages, Math.ceil(N / 700));
    assert.deepEqual([...etags], [`"${seededAt}"`]);
  });

  it('follows Sync\'s own page cap without _limit', async () => {
    const first = await get(listUrl());
    assert.equal(JSON.parse(first.text).data.length, 1000);
    assert.ok(first.res.headers.get('next-page'));
    const { ids, pages } = await follow(listUrl());
    assertEachOnce(ids);
    assert.equal(pages, 5);
  });

  it('keeps memory per request bounded and releases it', async () => {
    await control('POST', '/config', { maxGetLimit: 0 });
    const [pid] = workerPids();
    assert.ok(pid, 'worker found');
    await get(listUrl('?_limit=1'));
    const base = memory(pid);
    const { text } = await get(listUrl());
    const size = Buffer.byteLength(text);
    const afterOne = memory(pid);
    for (let i = 0; i < 8; i++) await get(listUrl());
    const afterMany = memory(pid);
    const peak = afterOne.hwm - base.rss;
    process.stderr.write(`memory: body ${size} B, peak above idle ${peak} B (${(peak / size).toFixed(1)}x), ` +
      `RSS after 1 list ${afterOne.rss} B, after 9 ${afterMany.rss} B\n`);
    // the Sync answer and the response, each about the body's size: no
    // tree of either
    assert.ok(peak < 4 * size, `peak ${peak} B for a ${size} B body`);
    // both go back to the system when each request ends (glibc keeps a
    // large block it freed from the second one on, unless told otherwise)
    assert.ok(afterOne.rss - base.rss < size / 4, `RSS kept ${afterOne.rss - base.rss} B after one list`);
    assert.ok(afterMany.rss - base.rss < size / 4, `RSS kept ${afterMany.rss - base.rss} B after 9 lists`);
    // nothing accumulates from one request to the next
    assert.ok(afterMany.rss - afterOne.rss < size, `RSS grew by ${afterMany.rss - afterOne.rss} B`);
    assert.ok(afterMany.hwm - afterOne.hwm < size, `peak grew by ${afterMany.hwm - afterOne.hwm} B`);
  });
});
