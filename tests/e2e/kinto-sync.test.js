'use strict';
// Kinto.js 17.1.1 (collection.sync() into a local database) against nginx +
// syncto + the test Sync server. Local storage is Kinto.js's in-memory
// adapter; the browser suite covers the IndexedDB one.

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const EventEmitter = require('node:events');
const Kinto = require('kinto').default;
const Memory = require('kinto/lib/cjs/adapters/memory').default;
const { ODD_IDS, SYNC_ID_SCHEMA, SyncUser, control, logMark, opaquePayload, startE2EStack } = require('./lib/harness');
const syncCrypto = require('./lib/sync-crypto');
const { clientStateFromKb, keyIdFor } = require('../syncserver/credentials');

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

/** A Kinto.js instance for `user`, with the options docs/clients.md recommends. */
function kintoFor(user, options = {}) {
  return new Kinto(Object.assign({
    remote: stack.v1,
    bucket: user.bucket,
    headers: user.headers,
    events: new EventEmitter(),
    retry: 1,
    // A fresh, empty in-memory database for each collection.
    adapter: () => new Memory(),
  }, options));
}

function localById(list) {
  return new Map(list.data.map((r) => [r.id, r]));
}

test('PULL_ONLY sync of a read-only collection keeps Sync ids, then follows upstream changes and deletions', async () => {
  const user = new SyncUser(stack);
  const seeded = [
    { id: ODD_IDS.dash, payload: opaquePayload('dash'), sortindex: 5 },
    { id: ODD_IDS.guid, payload: opaquePayload('guid') },
    { id: ODD_IDS.long64, payload: opaquePayload('long') },
    { id: 'plainId00001', payload: opaquePayload('plain') },
  ];
  const s1 = await user.seed('bookmarks', seeded);
  const coll = kintoFor(user).collection('bookmarks', { idSchema: SYNC_ID_SCHEMA });

  const r1 = await coll.sync({ strategy: PULL_ONLY });
  assert.equal(r1.ok, true, JSON.stringify(r1.errors));
  assert.equal(r1.lastModified, s1.modifiedMs);
  assert.deepEqual(r1.created.map((r) => r.id).sort(), seeded.map((r) => r.id).sort());
  let local = localById(await coll.list());
  assert.equal(local.size, seeded.length);
  for (const want of seeded) {
    const got = local.get(want.id);
    assert.ok(got, `missing ${want.id}`);
    assert.equal(got.payload, want.payload);
    assert.equal(got.last_modified, s1.modifiedMs);
    assert.equal(got._status, 'synced');
  }
  assert.equal(local.get(ODD_IDS.dash).sortindex, 5);
  assert.equal((await coll.get(ODD_IDS.guid)).data.payload, seeded[1].payload, 'get() accepts a {guid} id');
  assert.equal(await coll.db.getLastModified(), s1.modifiedMs);

  // Another Sync client (Firefox) deletes a record: Sync bumps the collection
  // timestamp and keeps no tombstone. The next pull must not look like a
  // server flush.
  await user.syncDelete('bookmarks', ODD_IDS.dash);
  const r2 = await coll.sync({ strategy: PULL_ONLY });
  assert.equal(r2.ok, true);
  assert.equal(r2.created.length + r2.updated.length, 0);
  assert.equal(r2.lastModified, s1.modifiedMs, 'the empty poll keeps the local timestamp');

  // It then changes one record and adds another.
  const changed = [{ id: ODD_IDS.guid, payload: opaquePayload('guid v2') }, { id: 'added000001', payload: opaquePayload('added') }];
  const s2 = await user.seed('bookmarks', changed);
  const r3 = await coll.sync({ strategy: PULL_ONLY });
  assert.equal(r3.ok, true);
  assert.equal(r3.lastModified, s2.modifiedMs);
  assert.deepEqual(r3.created.map((r) => r.id), ['added000001']);
  assert.deepEqual(r3.updated.map((u) => u.new.id), [ODD_IDS.guid]);
  local = localById(await coll.list());
  assert.equal(local.get(ODD_IDS.guid).payload, changed[0].payload);
  assert.equal(local.get(ODD_IDS.guid).last_modified, s2.modifiedMs);
  assert.equal(local.get('added000001').payload, changed[1].payload);
  // Sync has no tombstones: a record deleted upstream stays in the local copy.
  assert.ok(local.has(ODD_IDS.dash));
});

test('MANUAL sync pushes local creates, updates and deletes to a writable collection', async () => {
  const user = new SyncUser(stack);
  const seeded = [
    { id: 'formA0000001', payload: opaquePayload('A') },
    { id: 'formB0000001', payload: opaquePayload('B') },
    { id: 'formC0000001', payload: opaquePayload('C'), sortindex: 9 },
  ];
  await user.seed('forms', seeded);
  const coll = kintoFor(user).collection('forms', { idSchema: SYNC_ID_SCHEMA });
  const pulled = await coll.sync();
  assert.equal(pulled.ok, true);
  assert.equal(pulled.created.length, 3);

  const newGuid = { id: '{0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b}', payload: opaquePayload('new guid'), sortindex: 3 };
  const newDash = { id: '-newDash0001', payload: opaquePayload('new dash') };
  await coll.create(newGuid, { useRecordId: true });
  await coll.create(newDash, { useRecordId: true });
  const a = (await coll.get('formA0000001')).data;
  const pA2 = opaquePayload('A v2');
  await coll.update({ ...a, payload: pA2 });
  await coll.delete('formB0000001');

  const r = await coll.sync();
  assert.equal(r.ok, true, JSON.stringify({ errors: r.errors, conflicts: r.conflicts }));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.conflicts, []);
  assert.deepEqual(r.published.map((p) => p.id).sort(), [newDash.id, newGuid.id, 'formA0000001', 'formB0000001'].sort());

  const sync = await user.storage('forms');
  assert.equal(sync.records.get(newGuid.id).payload, newGuid.payload);
  assert.equal(sync.records.get(newGuid.id).sortindex, 3);
  assert.equal(sync.records.get(newDash.id).payload, newDash.payload);
  assert.equal(sync.records.get('formA0000001').payload, pA2);
  assert.equal(sync.records.has('formB0000001'), false);
  assert.equal(sync.records.get('formC0000001').payload, seeded[2].payload);

  const local = localById(await coll.list());
  assert.deepEqual([...local.keys()].sort(), [newDash.id, newGuid.id, 'formA0000001', 'formC0000001'].sort());
  for (const [id, rec] of local) {
    assert.equal(rec._status, 'synced', id);
    assert.equal(rec.last_modified, sync.records.get(id).modifiedMs, `${id} carries Sync's timestamp`);
  }
  assert.equal(local.get(newGuid.id).sortindex, 3);

  // Nothing left to push; the next sync is clean (no flush error).
  const again = await coll.sync();
  assert.equal(again.ok, true);
  assert.equal(again.published.length, 0);
  assert.equal(again.created.length + again.updated.length, 0);
});

test('a sync of empty and never-written collections succeeds with nothing to import', async () => {
  const user = new SyncUser(stack);
  for (const name of ['addons', 'syncto-e2e-custom']) {
    const coll = kintoFor(user).collection(name, { idSchema: SYNC_ID_SCHEMA });
    const r = await coll.sync({ strategy: PULL_ONLY });
    assert.equal(r.ok, true, name);
    assert.equal(r.created.length, 0, name);
    assert.equal((await coll.list()).data.length, 0, name);
    const again = await coll.sync({ strategy: PULL_ONLY });
    assert.equal(again.ok, true, `${name}, second sync`);
  }
});

test('a push of more changes than batch_max_requests is split and every record reaches Sync', async () => {
  const user = new SyncUser(stack);
  const coll = kintoFor(user).collection('forms', { idSchema: SYNC_ID_SCHEMA });
  const made = [];
  for (let i = 0; i < 60; i++) {
    const rec = { id: `bulk${String(i).padStart(8, '0')}`, payload: opaquePayload(`bulk ${i}`), sortindex: i };
    made.push(rec);
    await coll.create(rec, { useRecordId: true });
  }
  const r = await coll.sync();
  assert.equal(r.ok, true, JSON.stringify(r.errors.slice(0, 2)));
  assert.equal(r.published.length, made.length);
  const sync = await user.storage('forms');
  assert.equal(sync.records.size, made.length);
  for (const rec of made) assert.equal(sync.records.get(rec.id).payload, rec.payload, rec.id);
  const local = await coll.list();
  assert.ok(local.data.every((x) => x._status === 'synced' && x.last_modified === sync.records.get(x.id).modifiedMs));
});

test('a sync keeps working after the Sync token expired (Syncto fetches a new one)', async () => {
  const user = new SyncUser(stack);
  await user.seed('bookmarks', [{ id: 'expiry000001', payload: opaquePayload('1') }]);
  const coll = kintoFor(user).collection('bookmarks', { idSchema: SYNC_ID_SCHEMA });
  assert.equal((await coll.sync({ strategy: PULL_ONLY })).ok, true);

  await control(stack, 'POST', '/expire-tokens', {});
  try {
    const s = await user.seed('bookmarks', [{ id: 'expiry000002', payload: opaquePayload('2') }]);
    const mark = await logMark(stack);
    const r = await coll.sync({ strategy: PULL_ONLY });
    assert.equal(r.ok, true);
    assert.deepEqual(r.created.map((x) => x.id), ['expiry000002']);
    assert.equal(r.lastModified, s.modifiedMs);
    const tokens = await user.upstreamLog(mark, 'tokenserver');
    assert.ok(tokens.some((e) => e.headers['x-keyid'] === user.keyId && e.status === 200), 'a fresh token was fetched');
  } finally {
    await control(stack, 'POST', '/expire-tokens', { before: null });
  }
});

test('MANUAL sync: Sync records changed between pull and push come back as conflicts with the remote version', async () => {
  const user = new SyncUser(stack);
  await user.seed('forms', [
    { id: 'conflictUpd1', payload: opaquePayload('u v1') },
    { id: 'conflictDel1', payload: opaquePayload('d v1') },
  ]);
  // Another Sync client writes both records while this one is between its
  // pull and its push (the incoming-changes hook runs right after the pull).
  let race = null;
  const remoteUpd = opaquePayload('u remote');
  const remoteDel = opaquePayload('d remote');
  const hooks = {
    'incoming-changes': [async (payload) => {
      if (race === 'armed') {
        race = await user.seed('forms', [{ id: 'conflictUpd1', payload: remoteUpd }, { id: 'conflictDel1', payload: remoteDel }]);
      }
      return payload;
    }],
  };
  const coll = kintoFor(user).collection('forms', { idSchema: SYNC_ID_SCHEMA, hooks });
  await coll.sync();
  const local = (await coll.get('conflictUpd1')).data;
  const localEdit = opaquePayload('u local');
  await coll.update({ ...local, payload: localEdit });
  await coll.delete('conflictDel1');

  race = 'armed';
  const r = await coll.sync();
  assert.equal(typeof race, 'object', 'the concurrent write happened');
  assert.equal(r.ok, false);
  assert.deepEqual(r.errors, []);
  const byId = new Map(r.conflicts.map((c) => [c.remote && c.remote.id, c]));
  assert.equal(r.conflicts.length, 2, JSON.stringify(r.conflicts));
  const upd = byId.get('conflictUpd1');
  assert.equal(upd.type, 'outgoing');
  assert.equal(upd.local.payload, localEdit);
  assert.equal(upd.remote.payload, remoteUpd);
  assert.equal(upd.remote.last_modified, race.modifiedMs);
  const del = byId.get('conflictDel1');
  assert.equal(del.type, 'outgoing');
  assert.equal(del.remote.payload, remoteDel);
  let sync = await user.storage('forms');
  assert.equal(sync.records.get('conflictUpd1').payload, remoteUpd, 'the stale write was refused');
  assert.equal(sync.records.get('conflictDel1').payload, remoteDel, 'the stale delete was refused');

  // SERVER_WINS takes Sync's versions.
  const resolved = await coll.sync({ strategy: Kinto.syncStrategy.SERVER_WINS });
  assert.equal(resolved.ok, true, JSON.stringify(resolved.conflicts));
  assert.equal((await coll.get('conflictUpd1')).data.payload, remoteUpd);
  assert.equal((await coll.get('conflictDel1')).data.payload, remoteDel);
  sync = await user.storage('forms');
  assert.equal(sync.records.get('conflictUpd1').payload, remoteUpd);
});

test('a push to a read-only collection lands in result.errors (405 errno 115), sync does not throw', async () => {
  const user = new SyncUser(stack);
  const coll = kintoFor(user).collection('tabs', { idSchema: SYNC_ID_SCHEMA });
  await coll.create({ id: 'localTab0001', payload: opaquePayload('tab') }, { useRecordId: true });
  const r = await coll.sync();
  assert.equal(r.ok, false);
  assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
  assert.equal(r.errors[0].type, 'outgoing');
  assert.equal(r.errors[0].error.errno, 115);
  assert.equal(r.errors[0].error.code, 405);
  assert.equal((await coll.get('localTab0001')).data._status, 'created', 'the record waits for a later push');
  assert.equal((await user.storage('tabs')).records.size, 0);
});

test('encrypted payloads pass through untouched and decrypt with the keys from crypto/keys', async () => {
  const user = new SyncUser(stack);
  // What Firefox keeps in Sync: crypto/keys encrypted with the account's Sync
  // key (the oldsync scoped key, 64 bytes), records encrypted with the
  // default key pair found in crypto/keys.
  const syncKey = globalThis.crypto.getRandomValues(new Uint8Array(64));
  const root = await syncCrypto.importKeyBundle(syncKey);
  const pair = [Buffer.from(crypto.randomBytes(32)).toString('base64'), Buffer.from(crypto.randomBytes(32)).toString('base64')];
  await user.seed('crypto', [{ id: 'keys', payload: await syncCrypto.encryptPayload(root, { id: 'keys', collection: 'crypto', default: pair, collections: {} }) }]);
  const clear = { id: 'enc000000001', histUri: 'https://example.com/\u00e9', title: 'Ünïcode title', visits: [] };
  const payload = await syncCrypto.encryptPayload(await syncCrypto.importKeyPair(pair), clear);
  await user.seed('history', [{ id: clear.id, payload }]);

  // The steps docs/clients.md shows.
  const kinto = kintoFor(user);
  const keysRecord = await kinto.api.bucket(user.bucket).collection('crypto').getRecord('keys');
  const keys = await syncCrypto.decryptPayload(await syncCrypto.importKeyBundle(syncKey), keysRecord.data.payload);
  const bundle = await syncCrypto.importKeyPair(keys.collections.history || keys.default);
  const coll = kinto.collection('history', { idSchema: SYNC_ID_SCHEMA });
  await coll.sync({ strategy: PULL_ONLY });
  const rec = (await coll.get(clear.id)).data;
  assert.equal(rec.payload, payload, 'byte for byte');
  assert.deepEqual(await syncCrypto.decryptPayload(bundle, rec.payload), clear);

  await assert.rejects(syncCrypto.decryptPayload(root, rec.payload), /HMAC mismatch/);

  // The key id and bucket id the docs derive from kB.
  const kB = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const keyId = await syncCrypto.keyIdFromKb(kB, 1444122508836);
  const bucket = syncCrypto.bucketFromKeyId(keyId);
  assert.match(keyId, /^1444122508836-[A-Za-z0-9_-]{22}$/);
  assert.equal(bucket, clientStateFromKb(Buffer.from(kB)));
  assert.equal(keyId, keyIdFor(bucket, 1444122508836));
});
