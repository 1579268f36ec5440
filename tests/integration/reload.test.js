'use strict';
// Reloading under load: while concurrent clients keep sending requests
// (utility and Sync-backed), syncto's master gets SIGHUP three times, each
// after a change to its settings file. No request may fail, and the new
// settings must be served. Then the log level is lowered the same way.
//
//   cd tests && SYNCTO_BUILD_DIR=build node --test integration/reload.test.js

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startStack } = require('../lib/stack');
const { ROOT, waitFor, sleep } = require('../lib/proc');
const { bearerUser } = require('../lib/users');

const CLIENTS = 8;
const LOAD_MS = 5000;

let stack;
let dir;
let ini;

/** Rewrites `key = value` in the copied settings file (appends it if absent). */
function setIni(key, value) {
  const text = fs.readFileSync(ini, 'utf8');
  const re = new RegExp(`^${key.replace(/\./g, '\\.')}\\s*=.*$`, 'm');
  fs.writeFileSync(ini, re.test(text) ? text.replace(re, `${key} = ${value}`) : `${text}\n${key} = ${value}\n`);
}

/** Worker pids: the children of syncto's master. */
function workers() {
  const pid = stack.synctoPid;
  const text = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/**
 * Sends SIGHUP and waits until the master runs only a new generation of
 * workers (the old ones have finished their requests and exited). The
 * master's own "reload complete" line may be silenced by log_level.
 */
async function reload() {
  const old = new Set(workers());
  const n = old.size;
  stack.signalSyncto('SIGHUP');
  await waitFor(() => {
    const now = workers();
    return now.length === n && now.every((p) => !old.has(p));
  }, { timeout: 40000, interval: 100, what: 'a new generation of workers' });
}

async function batchMax() {
  const res = await fetch(`${stack.v1}/`);
  assert.equal(res.status, 200);
  return (await res.json()).settings.batch_max_requests;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncto-reload-'));
  ini = path.join(dir, 'syncto.ini');
  fs.copyFileSync(path.join(ROOT, 'etc', 'syncto.ini'), ini);
  stack = await startStack({ ini, env: { SYNCTO_WORKERS: '2', SYNCTO_THREADS: '4' } });
});

after(async () => {
  if (stack) await stack.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

afterEach((t) => stack && stack.printLogsIfFailed(t));

test('SIGHUP three times under load: every request answered 200, new settings served', { timeout: 120000 }, async () => {
  const users = Array.from({ length: CLIENTS }, () => {
    const u = bearerUser();
    return { url: `${stack.v1}/buckets/${u.bucket}/collections/tabs/records`, headers: u.headers };
  });
  assert.equal(await batchMax(), 25);

  const results = [];
  let stop = false;
  const client = async (u, i) => {
    for (let n = 0; !stop; n++) {
      const hello = n % 2 === 0;
      const started = Date.now();
      let status;
      let detail = '';
      try {
        const res = await fetch(hello ? `${stack.v1}/` : u.url, { headers: hello ? {} : u.headers });
        status = res.status;
        const text = await res.text();
        if (status !== 200) detail = text.slice(0, 200);
      } catch (e) {
        status = 0;
        detail = e.message;
      }
      results.push({ client: i, hello, status, detail, at: started });
    }
  };
  const running = users.map(client);

  const started = Date.now();
  await sleep(600);
  for (const value of [26, 27, 28]) {
    setIni('syncto.batch_max_requests', value);
    await reload();
    await sleep(400);
  }
  const left = LOAD_MS - (Date.now() - started);
  if (left > 0) await sleep(left);
  stop = true;
  await Promise.all(running);

  const failed = results.filter((r) => r.status !== 200);
  assert.ok(results.length > 100, `${results.length} requests sent`);
  assert.ok(results.some((r) => !r.hello), 'Sync-backed requests sent');
  assert.deepEqual(failed, [], `${failed.length} of ${results.length} requests failed`);
  assert.equal(await batchMax(), 28, 'the last settings are served');
  assert.match(stack.synctoLog(), /reload complete/);
});

test('a SIGHUP that lowers log_level to error silences the request lines', { timeout: 60000 }, async () => {
  const marker = (rid) => fetch(`${stack.v1}/__lbheartbeat__`, { headers: { 'X-Request-Id': rid } });
  let from = stack.synctoLogOffset();
  await marker('reload-before-1');
  await waitFor(() => stack.synctoLog(from).includes('reload-before-1'), { timeout: 10000, what: 'logged at info' });

  setIni('syncto.log_level', 'error');
  await reload();
  await sleep(500); // the old generation finishes its last requests
  from = stack.synctoLogOffset();
  for (let i = 0; i < 20; i++) assert.equal((await marker(`reload-after-${i}`)).status, 200);
  await sleep(500);
  const text = stack.synctoLog(from);
  assert.ok(!text.includes('syncto.request.summary'), text);
  assert.ok(!text.includes('reload-after-'), text);

  // And back.
  setIni('syncto.log_level', 'info');
  await reload();
  await sleep(500);
  from = stack.synctoLogOffset();
  await marker('reload-again-1');
  await waitFor(() => stack.synctoLog(from).includes('reload-again-1'), { timeout: 10000, what: 'logged again' });
});
