'use strict';
// The programs docs/clients.md gives application developers, run as they are
// printed there against nginx + syncto + the test Sync server. Each code
// block marked `<!-- file: NAME -->` is written to a scratch directory and
// run with node; sync-crypto.js must be the file the other suites use.

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { SyncUser, opaquePayload, startE2EStack } = require('./lib/harness');
const syncCrypto = require('./lib/sync-crypto');

const DOC = path.resolve(__dirname, '..', '..', 'docs', 'clients.md');
const LIB = path.join(__dirname, 'lib', 'sync-crypto.js');

/** {name: code} of the blocks marked <!-- file: name --> in the guide. */
function docFiles() {
  const text = fs.readFileSync(DOC, 'utf8');
  const files = {};
  for (const m of text.matchAll(/<!-- file: (\S+) -->\n```js\n([\s\S]*?)```/g)) files[m[1]] = m[2];
  return files;
}

let stack;
let dir;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncto-e2e-docs-'));
  for (const [name, code] of Object.entries(docFiles())) fs.writeFileSync(path.join(dir, name), code);
  stack = await startE2EStack();
});

after(async () => {
  if (stack) await stack.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

afterEach((t) => {
  if (stack) stack.printLogsIfFailed(t);
});

/** Runs one of the guide's programs; resolves to {code, stdout, stderr}. */
function runExample(name, env) {
  return new Promise((resolve) => {
    execFile(process.execPath, [name], {
      cwd: dir,
      timeout: 120000,
      env: { ...process.env, NODE_PATH: path.join(__dirname, 'node_modules'), ...env },
    }, (err, stdout, stderr) => resolve({ code: err ? err.code ?? err.signal : 0, stdout, stderr }));
  });
}

test('the guide shows sync-crypto.js exactly as the suites run it', () => {
  const files = docFiles();
  assert.deepEqual(Object.keys(files).sort(), ['history-http.js', 'sync-bookmarks.js', 'sync-crypto.js']);
  assert.equal(files['sync-crypto.js'], fs.readFileSync(LIB, 'utf8'));
});

test('sync-bookmarks.js from the guide pulls and decrypts bookmarks and pushes a form entry', async () => {
  const user = new SyncUser(stack);
  const syncKey = crypto.randomBytes(64);
  const root = await syncCrypto.importKeyBundle(new Uint8Array(syncKey));
  const defaultPair = [crypto.randomBytes(32).toString('base64'), crypto.randomBytes(32).toString('base64')];
  const formsPair = [crypto.randomBytes(32).toString('base64'), crypto.randomBytes(32).toString('base64')];
  await user.seed('crypto', [{
    id: 'keys',
    payload: await syncCrypto.encryptPayload(root, { id: 'keys', collection: 'crypto', default: defaultPair, collections: { forms: formsPair } }),
  }]);
  const bmBundle = await syncCrypto.importKeyPair(defaultPair);
  const marks = [
    { id: 'toolbar00001', type: 'bookmark', title: 'Kinto documentation', bmkUri: 'https://docs.kinto-storage.org/' },
    { id: '{5d6e7f80-91a2-4b3c-8d4e-5f60718293a4}', type: 'bookmark', title: 'Syncto', bmkUri: 'https://syncto.readthedocs.io/' },
  ];
  await user.seed('bookmarks', await Promise.all(marks.map(async (m) => ({ id: m.id, payload: await syncCrypto.encryptPayload(bmBundle, m) }))));

  const out = await runExample('sync-bookmarks.js', {
    SYNCTO_URL: stack.v1,
    FXA_TOKEN: user.oauthToken,
    SYNC_KEY_ID: user.keyId,
    SYNC_KEY: syncKey.toString('base64url'),
  });
  assert.equal(out.code, 0, `exit ${out.code}\n${out.stdout}\n${out.stderr}`);
  assert.match(out.stdout, /^pulled 2 new and 0 changed records$/m);
  for (const m of marks) assert.ok(out.stdout.includes(`${m.id} bookmark ${m.title} ${m.bmkUri}`), out.stdout);
  const published = /^published (\{[0-9a-f-]{36}\})$/m.exec(out.stdout);
  assert.ok(published, out.stdout);

  const stored = (await user.storage('forms')).records.get(published[1]);
  assert.ok(stored, 'the new form entry is in Sync');
  const clear = await syncCrypto.decryptPayload(await syncCrypto.importKeyPair(formsPair), stored.payload);
  assert.deepEqual(clear, { id: published[1], name: 'email', value: 'me@example.com' });
});

test('history-http.js from the guide lists, writes safely and batches with kinto-http', async () => {
  const user = new SyncUser(stack);
  await user.seed('history', [
    { id: 'hist00000001', payload: opaquePayload('1') },
    { id: 'hist00000002', payload: opaquePayload('2') },
  ]);
  const payload = opaquePayload('written by the example');
  const out = await runExample('history-http.js', {
    SYNCTO_URL: stack.v1,
    FXA_TOKEN: user.oauthToken,
    SYNC_KEY_ID: user.keyId,
    PAYLOAD: payload,
  });
  assert.equal(out.code, 0, `exit ${out.code}\n${out.stdout}\n${out.stderr}`);
  const lines = out.stdout.trim().split('\n');
  assert.match(lines[0], /^2 records, 0 changed since "\d+"$/);
  assert.equal(lines[1], '1 0 1 0', 'published, conflicts, skipped, errors');

  const sync = await user.storage('history');
  assert.deepEqual([...sync.records.keys()].sort(), ['hist00000001', 'hist00000002', 'mNoPqRsTuVwX']);
  assert.equal(sync.records.get('mNoPqRsTuVwX').payload, payload);
});
