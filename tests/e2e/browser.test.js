'use strict';
// Kinto.js in a real browser: headless Chromium (Debian's package) driven by
// playwright-core loads a page from one origin (http://localhost:<port>, a
// small node:http server here) that talks to Syncto on another
// (http://127.0.0.1:<nginx port>), so every call is a CORS request with a
// preflight. The page (browser/app.js, bundled now with esbuild) syncs into
// IndexedDB, pushes a write and provokes each kind of error; the test reads
// what it found from the DOM and saves a screenshot in tests/artifacts/.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const esbuild = require('esbuild');
const { chromium } = require('playwright-core');
const { SyncUser, removeFault, startE2EStack } = require('./lib/harness');
const syncCrypto = require('./lib/sync-crypto');

const CHROMIUM = process.env.SYNCTO_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');
const MAX_BODY = 65536; // nginx client_max_body_size for this stack

let stack;
let tmp;
let pageServer;
let browser;

/** Bundles browser/app.js (Kinto.js, events, sync-crypto) into `dir`. */
async function bundlePage(dir) {
  await esbuild.build({
    entryPoints: [path.join(__dirname, 'browser', 'app.js')],
    outfile: path.join(dir, 'app.bundle.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome110',
    keepNames: true, // error class names (ServerResponse) as the library defines them
    logLevel: 'silent',
  });
  fs.copyFileSync(path.join(__dirname, 'browser', 'index.html'), path.join(dir, 'index.html'));
}

/** Static files of `dir` plus /config.json, on 127.0.0.1 (page origin: http://localhost:<port>). */
function servePage(dir, getConfig) {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/config.json') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(getConfig()));
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    const name = url.pathname === '/' ? 'index.html' : path.basename(url.pathname);
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': types[path.extname(name)] || 'application/octet-stream' });
    res.end(fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found: install Debian's chromium (make deps)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'syncto-e2e-browser-'));
  await bundlePage(path.join(tmp, 'www'));
  stack = await startE2EStack({ SYNCTO_MAX_REQUEST_BODY_BYTES: String(MAX_BODY) });
  browser = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (pageServer) await new Promise((resolve) => pageServer.close(resolve));
  if (stack) await stack.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('Kinto.js in Chromium: CORS sync into IndexedDB, a pushed write, and every error kind parsed', async (t) => {
  const user = new SyncUser(stack);
  const keyBytes = crypto.randomBytes(64);
  const bundle = await syncCrypto.importKeyBundle(new Uint8Array(keyBytes));
  const marks = [
    { id: '{0a1b2c3d-4e5f-4061-8273-9485a6b7c8d9}', title: 'Syncto documentation', bmkUri: 'https://syncto.readthedocs.io/' },
    { id: '-dashFirst01', title: 'Kinto HTTP API', bmkUri: 'https://docs.kinto-storage.org/' },
    { id: 'plainBmk0001', title: 'Firefox Sync storage protocol', bmkUri: 'https://mozilla-services.readthedocs.io/' },
  ];
  const seeded = [];
  for (const m of marks) {
    const clear = { id: m.id, type: 'bookmark', title: m.title, bmkUri: m.bmkUri, parentid: 'toolbar' };
    seeded.push({ id: m.id, payload: await syncCrypto.encryptPayload(bundle, clear), clear });
  }
  const seed = await user.seed('bookmarks', seeded.map(({ id, payload }) => ({ id, payload })));
  await user.seed('forms', [{ id: 'formSeed0001', payload: await syncCrypto.encryptPayload(bundle, { id: 'formSeed0001' }) }]);
  const fault = await user.addStorageFault({
    match: { pathRegex: `^/1\\.5/${await user.uid()}/storage/prefs` },
    status: 503, body: { err: 'storage is down for maintenance' }, headers: { 'Retry-After': '3' },
  });
  t.after(() => removeFault(stack, fault).catch(() => {}));

  const newRecord = { id: '{f00dcafe-1234-4321-abcd-0123456789ab}', cleartext: { id: '{f00dcafe-1234-4321-abcd-0123456789ab}', name: 'email', value: 'me@example.com' } };
  const config = {
    remote: stack.v1,
    bucket: user.bucket,
    headers: user.headers,
    readOnly: 'bookmarks',
    writable: 'forms',
    failing: 'prefs',
    syncKey: keyBytes.toString('base64'),
    newRecord,
    bigPayloadBytes: MAX_BODY * 3,
  };
  pageServer = await servePage(path.join(tmp, 'www'), () => config);
  const pageUrl = `http://localhost:${pageServer.address().port}/`;
  assert.notEqual(new URL(pageUrl).origin, new URL(stack.v1).origin);

  const page = await browser.newPage();
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  const preflights = [];
  const cdp = await browser.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', (e) => {
    if (e.request.method === 'OPTIONS') preflights.push(e.request.url);
  });

  await page.goto(pageUrl);
  await page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'failed',
    null, { timeout: 90000 });
  const results = await page.evaluate(() => JSON.parse(document.getElementById('results').textContent));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'e2e-browser.png'), fullPage: true });
  assert.ok(!results.fatal, `the page failed: ${JSON.stringify(results.fatal)}\n${results.stack}\n${consoleLines.join('\n')}`);

  // 1. Synced into IndexedDB, Sync ids intact, payloads decrypt to what was seeded.
  assert.equal(results.sync.ok, true);
  assert.equal(results.sync.lastModified, seed.modifiedMs);
  const want = seeded.map((s) => s.id).sort();
  assert.deepEqual([...results.sync.created].sort(), want);
  assert.deepEqual(results.sync.records.map((r) => r.id).sort(), want);
  for (const s of seeded) {
    const got = results.sync.records.find((r) => r.id === s.id);
    assert.equal(got.payload, s.payload);
    assert.equal(got.last_modified, seed.modifiedMs);
    assert.deepEqual(got.clear, s.clear);
  }
  assert.deepEqual([...results.sync.fromIndexedDB].sort(), want, 'a new Kinto instance reads them from IndexedDB');
  assert.ok(results.sync.databases.length >= 1, 'an IndexedDB database exists');
  const shown = await page.$$eval('#records tbody tr td:nth-child(3)', (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(shown.sort(), marks.map((m) => m.title).sort());

  // 2. The pushed write is in Sync, with the timestamp the page stored.
  assert.equal(results.push.ok, true, JSON.stringify(results.push.errors));
  assert.deepEqual(results.push.published, [newRecord.id]);
  assert.equal(results.push.status, 'synced');
  const sync = await user.storage('forms');
  const stored = sync.records.get(newRecord.id);
  assert.ok(stored, 'the record reached Sync');
  assert.equal(stored.payload, results.push.payload);
  assert.equal(stored.modifiedMs, results.push.last_modified);
  assert.deepEqual(await syncCrypto.decryptPayload(bundle, stored.payload), newRecord.cleartext);

  // 3. Every error reached the page as a parsed Kinto error, never as an
  // opaque "Failed to fetch".
  const expected = {
    '401 no credentials': [401, 104],
    '404 unknown route': [404, 111],
    '404 missing record': [404, 110],
    '405 read-only collection': [405, 115],
    '412 conflict': [412, 114],
    '413 body too large': [413, 113],
    '503 Sync unavailable': [503, 201],
  };
  assert.deepEqual(results.errors.map((e) => e.label), Object.keys(expected));
  const problems = [];
  for (const e of results.errors) {
    const [status, errno] = expected[e.label];
    const seen = e.resolved ? 'resolved without error'
      : `${e.name}${e.isTypeError ? ' (network error)' : ''} status=${e.status} body=${JSON.stringify(e.data)} message=${e.message}`;
    if (e.resolved || e.isTypeError || e.name !== 'ServerResponse' || e.status !== status || !e.data ||
        e.data.code !== status || e.data.errno !== errno || typeof e.data.error !== 'string') {
      problems.push(`${e.label}: wanted ServerResponse ${status}/${errno}, got ${seen}`);
    }
  }
  assert.deepEqual(problems, [], problems.join('\n'));
  const conflict = results.errors.find((e) => e.label === '412 conflict');
  assert.equal(conflict.data.details.existing.id, newRecord.id);
  assert.equal(conflict.data.details.existing.payload, results.push.payload);

  // The browser preflighted its cross-origin calls.
  assert.ok(preflights.some((u) => u.startsWith(stack.v1)), `no preflight seen (${preflights.length})`);
});
