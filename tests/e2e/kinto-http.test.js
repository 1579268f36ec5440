'use strict';
// kinto-http 5.3.0 (its Node build, with node-fetch) against nginx + syncto
// + the test Sync server. Each test is one thing an application does, and
// asserts on what the client library handed back to it.

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const EventEmitter = require('node:events');
const KintoClient = require('kinto-http').default;
const { ODD_IDS, SyncUser, logMark, opaquePayload, removeFault, startE2EStack } = require('./lib/harness');

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

function clientFor(user, options = {}) {
  return new KintoClient(stack.v1, Object.assign({ headers: user.headers }, options));
}

/** assert.rejects predicate: a parsed Kinto error with this status and errno. */
function kintoError(status, errno, check) {
  return (err) => {
    assert.equal(err.constructor.name, 'ServerResponse', `not a ServerResponse: ${err.stack}`);
    assert.equal(err.response.status, status, err.message);
    assert.equal(err.data.code, status);
    assert.equal(err.data.errno, errno, JSON.stringify(err.data));
    if (check) check(err.data, err);
    return true;
  };
}

function records(n, prefix) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${String(i).padStart(4, '0')}`,
    payload: opaquePayload(`${prefix}${i}`),
    sortindex: i,
  }));
}

test('server info and settings: batch_max_requests 25, no history capability', async () => {
  const user = new SyncUser(stack);
  const client = clientFor(user);
  const info = await client.fetchServerInfo();
  assert.equal(info.project_name, 'syncto');
  assert.equal(info.http_api_version, '1.6');
  assert.equal(info.url, `${stack.v1}/`);
  const settings = await client.fetchServerSettings();
  assert.equal(settings.batch_max_requests, 25);
  assert.equal(settings['cliquet.batch_max_requests'], 25);
  const capabilities = await client.fetchServerCapabilities();
  assert.equal(typeof capabilities, 'object');
  assert.ok(!('history' in capabilities));
  assert.equal(await client.fetchHTTPApiVersion(), '1.6');
});

test('listRecords with a small limit and pages: Infinity returns every record once', async () => {
  const user = new SyncUser(stack);
  const seeded = [
    ...records(10, 'a'),
    ...records(8, 'b'),
    { id: ODD_IDS.dash, payload: opaquePayload('dash'), sortindex: 3 },
    { id: ODD_IDS.guid, payload: opaquePayload('guid') },
    { id: ODD_IDS.long64, payload: opaquePayload('long') },
    { id: 'with space', payload: opaquePayload('space') },
    { id: 'per%cent', payload: opaquePayload('percent') },
  ];
  // Three writes, three timestamps.
  const s1 = await user.seed('bookmarks', seeded.slice(0, 10));
  const s2 = await user.seed('bookmarks', seeded.slice(10, 18));
  const s3 = await user.seed('bookmarks', seeded.slice(18));
  const stamps = new Map(seeded.map((r, i) => [r.id, i < 10 ? s1.modifiedMs : i < 18 ? s2.modifiedMs : s3.modifiedMs]));

  const mark = await logMark(stack);
  const coll = clientFor(user).bucket(user.bucket).collection('bookmarks');
  const res = await coll.listRecords({ limit: 5, pages: Infinity });

  const ids = res.data.map((r) => r.id);
  assert.equal(ids.length, seeded.length, `got ${ids.join(' ')}`);
  assert.equal(new Set(ids).size, seeded.length, 'a record came back twice');
  for (const want of seeded) {
    const got = res.data.find((r) => r.id === want.id);
    assert.ok(got, `missing ${want.id}`);
    assert.equal(got.payload, want.payload);
    assert.equal(got.last_modified, stamps.get(want.id));
    if (want.sortindex) assert.equal(got.sortindex, want.sortindex);
  }
  assert.equal(res.hasNextPage, false);
  assert.equal(res.last_modified, String(s3.modifiedMs));
  // Newest first, as the client asked (_sort=-last_modified).
  const lms = res.data.map((r) => r.last_modified);
  assert.deepEqual(lms, [...lms].sort((x, y) => y - x));

  const pages = (await user.upstreamLog(mark)).filter((e) => e.method === 'GET' && e.path.endsWith('/storage/bookmarks'));
  assert.ok(pages.length >= Math.ceil(seeded.length / 5), `only ${pages.length} Sync page requests`);
  assert.ok(pages.every((e) => e.params.limit === '5'), 'each Sync page asked for limit=5');
});

test('listRecords since the quoted ETag returns only the changes; an empty poll keeps the timestamp', async () => {
  const user = new SyncUser(stack);
  const first = records(4, 'r');
  await user.seed('bookmarks', first);
  const coll = clientFor(user).bucket(user.bucket).collection('bookmarks');

  const etag = await coll.getRecordsTimestamp();
  assert.match(etag, /^"\d+"$/, 'ETag is strong and quoted');
  const all = await coll.listRecords();
  assert.equal(`"${all.last_modified}"`, etag);
  assert.equal(all.data.length, 4);

  const changed = [{ id: 'r0001', payload: opaquePayload('r1 v2') }, { id: 'new1', payload: opaquePayload('new') }];
  const s = await user.seed('bookmarks', changed);

  const delta = await coll.listRecords({ since: etag, pages: Infinity });
  assert.deepEqual(delta.data.map((r) => r.id).sort(), ['new1', 'r0001']);
  assert.equal(delta.data.find((r) => r.id === 'r0001').payload, changed[0].payload);
  assert.equal(delta.last_modified, String(s.modifiedMs));

  // Nothing new: empty list, and the ETag stays at the `since` given (Sync
  // keeps no tombstones, so a bumped timestamp would look like a flush).
  const empty = await coll.listRecords({ since: `"${delta.last_modified}"` });
  assert.deepEqual(empty.data, []);
  assert.equal(empty.last_modified, delta.last_modified);
  // The bare form is accepted too.
  const bare = await coll.listRecords({ since: delta.last_modified });
  assert.deepEqual(bare.data, []);
});

test('listRecords filters (in_id, exclude_id), fields, and getTotalRecords', async () => {
  const user = new SyncUser(stack);
  const seeded = records(6, 'f');
  seeded.push({ id: ODD_IDS.guid, payload: opaquePayload('guid') });
  await user.seed('bookmarks', seeded);
  const coll = clientFor(user).bucket(user.bucket).collection('bookmarks');

  const some = await coll.listRecords({ filters: { in_id: ['f0001', 'f0004', ODD_IDS.guid].join(',') } });
  assert.deepEqual(some.data.map((r) => r.id).sort(), ['f0001', 'f0004', ODD_IDS.guid].sort());
  const rest = await coll.listRecords({ filters: { exclude_id: ['f0000', ODD_IDS.guid].join(',') } });
  assert.deepEqual(rest.data.map((r) => r.id).sort(), ['f0001', 'f0002', 'f0003', 'f0004', 'f0005']);
  const slim = await coll.listRecords({ fields: ['payload'] });
  assert.equal(slim.data.length, seeded.length);
  for (const r of slim.data) {
    assert.equal(typeof r.id, 'string');
    assert.equal(typeof r.last_modified, 'number');
    assert.equal(r.payload, seeded.find((x) => x.id === r.id).payload);
  }
  assert.equal(await coll.getTotalRecords(), seeded.length);
});

test('create, get, update and delete with safe: true, and each conflict carries details.existing', async () => {
  const user = new SyncUser(stack);
  const coll = clientFor(user).bucket(user.bucket).collection('history');
  const id = ODD_IDS.guid;
  const p1 = opaquePayload('v1');
  const p2 = opaquePayload('v2');

  const created = await coll.createRecord({ id, payload: p1, sortindex: 7 }, { safe: true });
  assert.equal(created.data.id, id);
  assert.equal(created.data.payload, p1);
  assert.equal(created.data.sortindex, 7);
  assert.equal(typeof created.data.last_modified, 'number');
  let sync = await user.storage('history');
  assert.equal(sync.records.get(id).payload, p1);
  assert.equal(sync.records.get(id).modifiedMs, created.data.last_modified);

  const got = await coll.getRecord(id);
  assert.deepEqual(got.data, created.data);

  // Create on an existing id.
  await assert.rejects(coll.createRecord({ id, payload: opaquePayload('other') }, { safe: true }),
    kintoError(412, 114, (body) => {
      assert.equal(body.details.existing.id, id);
      assert.equal(body.details.existing.payload, p1);
      assert.equal(body.details.existing.last_modified, created.data.last_modified);
    }));

  const updated = await coll.updateRecord({ ...got.data, payload: p2 }, { safe: true });
  assert.equal(updated.data.id, id);
  assert.equal(updated.data.payload, p2);
  assert.equal(updated.data.sortindex, 7, 'fields not sent keep their value');
  assert.ok(updated.data.last_modified > created.data.last_modified);

  // Update with a stale last_modified.
  await assert.rejects(coll.updateRecord({ ...got.data, payload: opaquePayload('stale') }, { safe: true }),
    kintoError(412, 114, (body) => {
      assert.equal(body.details.existing.payload, p2);
      assert.equal(body.details.existing.last_modified, updated.data.last_modified);
    }));
  // Delete with a stale last_modified.
  await assert.rejects(coll.deleteRecord(got.data, { safe: true }),
    kintoError(412, 114, (body) => {
      assert.equal(body.details.existing.id, id);
      assert.equal(body.details.existing.last_modified, updated.data.last_modified);
    }));
  sync = await user.storage('history');
  assert.equal(sync.records.get(id).payload, p2, 'the conflicting writes changed nothing');

  const deleted = await coll.deleteRecord(updated.data, { safe: true });
  assert.equal(deleted.data.id, id);
  assert.equal(deleted.data.deleted, true);
  assert.equal(typeof deleted.data.last_modified, 'number');
  sync = await user.storage('history');
  assert.equal(sync.records.has(id), false);

  await assert.rejects(coll.getRecord(id), kintoError(404, 110));
});

test('a write to a read-only collection is refused with 405 errno 115', async () => {
  const user = new SyncUser(stack);
  const coll = clientFor(user).bucket(user.bucket).collection('tabs');
  await assert.rejects(coll.createRecord({ id: 'tab000000001', payload: opaquePayload('t') }),
    kintoError(405, 115, (body) => assert.match(body.message, /disabled for this collection/)));
  await assert.rejects(coll.deleteRecord('tab000000001'), kintoError(405, 115));
  assert.equal((await user.storage('tabs')).records.size, 0);
});

test('batch with aggregate: true sorts published, conflicts, skipped and errors', async () => {
  const user = new SyncUser(stack);
  const pE = opaquePayload('existing');
  const seed = await user.seed('history', [
    { id: 'existing0001', payload: pE },
    { id: 'update000001', payload: opaquePayload('u1') },
  ]);
  const pNew = opaquePayload('new');
  const pU2 = opaquePayload('u2');
  const client = clientFor(user);
  const res = await client.batch((b) => {
    const history = b.bucket(user.bucket).collection('history');
    history.createRecord({ id: 'new000000001', payload: pNew, sortindex: 2 });
    history.createRecord({ id: 'existing0001', payload: opaquePayload('clash') });
    history.updateRecord({ id: 'update000001', payload: pU2, last_modified: seed.modifiedMs });
    history.deleteRecord('missing00001', { safe: false });
    b.bucket(user.bucket).collection('tabs').createRecord({ id: 'tab000000001', payload: opaquePayload('t') });
  }, { safe: true, aggregate: true });

  assert.deepEqual(res.published.map((p) => p.data.id).sort(), ['new000000001', 'update000001']);
  const pubNew = res.published.find((p) => p.data.id === 'new000000001').data;
  assert.equal(pubNew.payload, pNew);
  assert.equal(pubNew.sortindex, 2);
  assert.equal(res.published.find((p) => p.data.id === 'update000001').data.payload, pU2);

  assert.equal(res.conflicts.length, 1, JSON.stringify(res.conflicts));
  assert.equal(res.conflicts[0].local.data.id, 'existing0001');
  assert.ok(res.conflicts[0].remote, 'conflict without details.existing');
  assert.equal(res.conflicts[0].remote.id, 'existing0001');
  assert.equal(res.conflicts[0].remote.payload, pE);
  assert.equal(res.conflicts[0].remote.last_modified, seed.modifiedMs);

  assert.equal(res.skipped.length, 1, JSON.stringify(res.skipped));
  assert.equal(res.skipped[0].id, 'missing00001');

  assert.equal(res.errors.length, 1, JSON.stringify(res.errors));
  assert.match(res.errors[0].path, /\/collections\/tabs\/records\/tab000000001$/);
  assert.equal(res.errors[0].error.code, 405);
  assert.equal(res.errors[0].error.errno, 115);

  const sync = await user.storage('history');
  assert.equal(sync.records.get('new000000001').payload, pNew);
  assert.equal(sync.records.get('update000001').payload, pU2);
  assert.equal(sync.records.get('existing0001').payload, pE);
  assert.equal((await user.storage('tabs')).records.size, 0);
});

test('Alert reaches the deprecated event: bucket "syncto" with X-Client-State, and Sync X-Weave-Alert', async (t) => {
  const warn = t.mock.method(console, 'warn', () => {});

  const legacy = new SyncUser(stack, 'legacy');
  await legacy.seed('bookmarks', records(1, 'l'));
  const events = new EventEmitter();
  const alerts = [];
  events.on('deprecated', (a) => alerts.push(a));
  const res = await clientFor(legacy, { events }).bucket('syncto').collection('bookmarks').listRecords();
  assert.equal(res.data.length, 1);
  assert.ok(alerts.length >= 1, 'no deprecated event');
  assert.equal(alerts[0].code, 'soft-eol');
  assert.match(alerts[0].message, /X-Client-State/);
  assert.equal(typeof alerts[0].url, 'string');
  assert.ok(warn.mock.callCount() >= 1, 'kinto-http warns on the console');

  const user = new SyncUser(stack);
  const eol = { code: 'hard-eol', message: 'This Sync service closes on 2027-01-01.', url: 'https://example.com/eol' };
  const fault = await user.addStorageFault({ headers: { 'X-Weave-Alert': JSON.stringify(eol) } });
  try {
    const ev = new EventEmitter();
    const got = [];
    ev.on('deprecated', (a) => got.push(a));
    await clientFor(user, { events: ev }).bucket(user.bucket).collection('bookmarks').listRecords();
    assert.deepEqual(got, [eol]);
  } finally {
    await removeFault(stack, fault);
  }
});

test('OAuth flow: Bearer token and X-KeyID reach the tokenserver; bucket is the 32-hex client state', async () => {
  const user = new SyncUser(stack, 'oauth');
  await user.seed('bookmarks', records(3, 'o'));
  const mark = await logMark(stack);
  const res = await clientFor(user).bucket(user.bucket).collection('bookmarks').listRecords();
  assert.deepEqual(res.data.map((r) => r.id).sort(), ['o0000', 'o0001', 'o0002']);
  const tok = (await user.upstreamLog(mark, 'tokenserver')).filter((e) => e.headers['x-keyid'] === user.keyId);
  assert.ok(tok.length >= 1, 'the tokenserver saw the X-KeyID');
  assert.equal(tok[0].headers.authorization, user.authorization);

  // A key id for another Sync key than the bucket names is refused.
  const other = new SyncUser(stack, 'oauth');
  const mixed = new KintoClient(stack.v1, { headers: { ...user.headers, 'X-KeyID': other.keyId } });
  await assert.rejects(mixed.bucket(user.bucket).collection('bookmarks').listRecords(),
    kintoError(401, 104, (body) => assert.match(body.message, /X-KeyID/)));
  // No credential at all.
  const anon = new KintoClient(stack.v1);
  await assert.rejects(anon.bucket(user.bucket).collection('bookmarks').listRecords(), kintoError(401, 104));
});

test('BrowserID flow: the assertion and the bucket as X-Client-State reach the tokenserver', async () => {
  const user = new SyncUser(stack, 'browserid');
  await user.seed('bookmarks', records(2, 'b'));
  const mark = await logMark(stack);
  const res = await clientFor(user).bucket(user.bucket).collection('bookmarks').listRecords();
  assert.deepEqual(res.data.map((r) => r.id).sort(), ['b0000', 'b0001']);
  const tok = (await user.upstreamLog(mark, 'tokenserver')).filter((e) => e.headers.authorization === user.authorization);
  assert.ok(tok.length >= 1, 'the tokenserver saw the assertion');
  assert.equal(tok[0].headers['x-client-state'], user.clientState);

  const created = await clientFor(user).bucket(user.bucket).collection('history')
    .createRecord({ id: 'bid000000001', payload: opaquePayload('bid') }, { safe: true });
  assert.equal(created.data.id, 'bid000000001');
  assert.equal((await user.storage('history')).records.get('bid000000001').modifiedMs, created.data.last_modified);
});
