'use strict';
// Backoff, Retry-After and Sync failures as kinto-http and Kinto.js meet
// them. A back-off announced by a Sync node (X-Weave-Backoff, or Retry-After
// on a 503) holds for every user of that node until it expires, so these
// tests run on a stack of their own.

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const EventEmitter = require('node:events');
const KintoClient = require('kinto-http').default;
const Kinto = require('kinto').default;
const Memory = require('kinto/lib/cjs/adapters/memory').default;
const { SYNC_ID_SCHEMA, SyncUser, opaquePayload, removeFault, startE2EStack } = require('./lib/harness');

const { PULL_ONLY } = Kinto.syncStrategy;

let stack;

before(async () => {
  stack = await startE2EStack();
});

after(async () => {
  if (stack) await stack.stop();
});

afterEach((t) => {
  if (stack) stack.printLogsIfFailed(t);
});

/** A kinto-http client whose backoff events land in `seen` (release times, ms). */
function watchedClient(user, seen) {
  const events = new EventEmitter();
  events.on('backoff', (releaseAt) => seen.push(releaseAt));
  return new KintoClient(stack.v1, { headers: user.headers, events });
}

test('X-Weave-Backoff on a Sync success reaches the backoff event of kinto-http', async () => {
  const user = new SyncUser(stack);
  await user.seed('bookmarks', [{ id: 'k0000000001', payload: opaquePayload('k') }]);
  const seen = [];
  const client = watchedClient(user, seen);
  const fault = await user.addStorageFault({ headers: { 'X-Weave-Backoff': '120' } });
  try {
    const before = Date.now();
    const res = await client.bucket(user.bucket).collection('bookmarks').listRecords();
    assert.equal(res.data.length, 1);
    assert.ok(seen.some((t) => t >= before + 110 * 1000), `backoff events: ${seen}`);
    assert.ok(client.backoff > 100 * 1000, `client.backoff = ${client.backoff}`);
  } finally {
    await removeFault(stack, fault);
  }
});

test('X-Weave-Backoff on a Sync error reaches the backoff event along with the 503', async () => {
  const user = new SyncUser(stack);
  const seen = [];
  const client = watchedClient(user, seen);
  const fault = await user.addStorageFault({
    status: 503, headers: { 'X-Weave-Backoff': '300' }, body: { err: 'overloaded' }, times: 1,
  });
  try {
    const before = Date.now();
    await assert.rejects(client.bucket(user.bucket).collection('bookmarks').listRecords(), (err) => {
      assert.equal(err.constructor.name, 'ServerResponse');
      assert.equal(err.response.status, 503);
      assert.equal(err.data.errno, 201);
      return true;
    });
    assert.ok(seen.some((t) => t >= before + 290 * 1000), `backoff events: ${seen}`);
  } finally {
    await removeFault(stack, fault).catch(() => {});
  }
});

test('Backoff makes the next Kinto.js sync() refuse until ignoreBackoff', async () => {
  const user = new SyncUser(stack);
  await user.seed('bookmarks', [{ id: 'backoff00001', payload: opaquePayload('b') }]);
  const kinto = new Kinto({
    remote: stack.v1, bucket: user.bucket, headers: user.headers, events: new EventEmitter(), adapter: () => new Memory(),
  });
  const releases = [];
  kinto.events.on('backoff', (t) => releases.push(t));
  const coll = kinto.collection('bookmarks', { idSchema: SYNC_ID_SCHEMA });

  const fault = await user.addStorageFault({ headers: { 'X-Weave-Backoff': '600' } });
  try {
    const r = await coll.sync({ strategy: PULL_ONLY });
    assert.equal(r.ok, true);
    assert.deepEqual(r.created.map((c) => c.id), ['backoff00001']);
    assert.ok(releases.some((t) => t > Date.now() + 500 * 1000), `backoff events: ${releases}`);
  } finally {
    await removeFault(stack, fault);
  }
  await assert.rejects(coll.sync({ strategy: PULL_ONLY }), /back off/);
  const forced = await coll.sync({ strategy: PULL_ONLY, ignoreBackoff: true });
  assert.equal(forced.ok, true);
});

test('Kinto.js retry: a 503 with Retry-After is resent once and the sync succeeds', async () => {
  const user = new SyncUser(stack);
  await user.seed('bookmarks', [{ id: 'retry0000001', payload: opaquePayload('r') }]);
  const kinto = new Kinto({
    remote: stack.v1, bucket: user.bucket, headers: user.headers, events: new EventEmitter(), retry: 1,
    adapter: () => new Memory(),
  });
  const retries = [];
  kinto.events.on('retry-after', (t) => retries.push(t));
  const coll = kinto.collection('bookmarks', { idSchema: SYNC_ID_SCHEMA });
  // The first listing of the collection fails upstream, once.
  const fault = await user.addStorageFault({
    match: { method: 'GET', pathRegex: `^/1\\.5/${await user.uid()}/storage/bookmarks$` },
    status: 503, headers: { 'Retry-After': '1' }, body: { err: 'try again' }, times: 1,
  });
  try {
    const r = await coll.sync({ strategy: PULL_ONLY, retry: 1, ignoreBackoff: true });
    assert.equal(r.ok, true);
    assert.deepEqual(r.created.map((c) => c.id), ['retry0000001']);
    assert.equal(retries.length, 1, 'one Retry-After seen');
  } finally {
    await removeFault(stack, fault).catch(() => {});
  }
});

test('a Sync 503 in the middle of a push: the batch is resent, and the next sync settles the echo conflict', async () => {
  const user = new SyncUser(stack);
  const kinto = new Kinto({
    remote: stack.v1, bucket: user.bucket, headers: user.headers, events: new EventEmitter(), adapter: () => new Memory(),
  });
  const coll = kinto.collection('forms', { idSchema: SYNC_ID_SCHEMA });
  const made = ['pushA0000001', 'pushB0000001', 'pushC0000001'].map((id) => ({ id, payload: opaquePayload(id) }));
  for (const rec of made) await coll.create(rec, { useRecordId: true });
  // Sync fails the second write once; Syncto stops the batch there and
  // answers 503 with Sync's Retry-After, which Kinto.js (retry: 1) honours.
  const fault = await user.addStorageFault({
    match: { method: 'PUT', pathRegex: `/storage/forms/${made[1].id}$` },
    status: 503, headers: { 'Retry-After': '1' }, body: { err: 'busy' }, times: 1,
  });
  try {
    const r = await coll.sync({ strategy: Kinto.syncStrategy.MANUAL, retry: 1, ignoreBackoff: true });
    // The resent batch meets the first record, already written: a conflict
    // whose remote side is the very record sent.
    assert.equal(r.ok, false);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.published.map((p) => p.id).sort(), [made[1].id, made[2].id]);
    assert.equal(r.conflicts.length, 1, JSON.stringify(r.conflicts));
    assert.equal(r.conflicts[0].local.id, made[0].id);
    assert.equal(r.conflicts[0].remote.id, made[0].id);
    assert.equal(r.conflicts[0].remote.payload, made[0].payload);
  } finally {
    await removeFault(stack, fault).catch(() => {});
  }
  const sync = await user.storage('forms');
  for (const rec of made) assert.equal(sync.records.get(rec.id).payload, rec.payload, rec.id);

  const again = await coll.sync({ strategy: Kinto.syncStrategy.MANUAL, retry: 1, ignoreBackoff: true });
  assert.equal(again.ok, true, JSON.stringify(again.conflicts));
  assert.equal(again.published.length, 0);
  const local = await coll.list();
  assert.ok(local.data.every((x) => x._status === 'synced'), JSON.stringify(local.data.map((x) => x._status)));
});

test('a back-off announced by a Sync node also reaches other users of that node', async () => {
  const one = new SyncUser(stack);
  const other = new SyncUser(stack);
  const fault = await one.addStorageFault({ headers: { 'X-Weave-Backoff': '900' }, times: 1 });
  try {
    await new KintoClient(stack.v1, { headers: one.headers }).bucket(one.bucket).collection('bookmarks').listRecords();
  } finally {
    await removeFault(stack, fault).catch(() => {});
  }
  // `other` meets no fault: the node's 900 s (longer than any earlier one
  // here) comes from the first user's answer. Worker processes other than
  // the one that saw it learn of it within a second or so: ask a few times.
  const seen = [];
  const client = watchedClient(other, seen);
  const before = Date.now();
  for (let i = 0; i < 20 && !seen.some((t) => t > before + 800 * 1000); i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 250));
    await client.bucket(other.bucket).collection('bookmarks').listRecords();
  }
  assert.ok(seen.some((t) => t > before + 800 * 1000), `backoff events: ${seen}`);
});
