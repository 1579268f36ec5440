'use strict';
// POST /storage/<coll>: per-item failures, request-level errors, limits,
// the batch protocol; and GET query parameters (ids, newer/older, sort,
// limit/offset validation, TTL).

const test = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('../testkit');

let kit;
let u;
test.before(async () => {
  kit = await startServer();
  u = await kit.oauthCredentials();
});
test.after(() => kit.close());

const get = (path, opts) => kit.hawk(u, 'GET', path, opts);
const post = (path, body, opts) => kit.hawk(u, 'POST', path, Object.assign({ body }, opts || {}));
const put = (path, body) => kit.hawk(u, 'PUT', path, { body });

test('POST: per-item failures next to successes', async () => {
  const res = await post('/storage/forms', [
    { id: 'ok1', payload: 'a' },
    { id: 'badpayload', payload: 1 },
    { id: 'badsort', payload: 'x', sortindex: 'high' },
    { id: 'badttl', payload: 'x', ttl: 1.5 },
    { id: 'extra', payload: 'x', color: 'red' },
    { payload: 'no id' },
    { id: 'ok2', payload: 'b', ttl: 3600 },
  ]);
  assert.equal(res.status, 200);
  const body = res.json();
  assert.deepEqual(body.success, ['ok1', 'ok2']);
  assert.deepEqual(body.failed, {
    badpayload: ['invalid payload'],
    badsort: ['invalid sortindex'],
    badttl: ['invalid ttl'],
    extra: ['invalid color'],
    '': ['invalid id'],
  });
  assert.equal(res.headers['x-last-modified'], body.modified.toFixed(2));
  assert.deepEqual((await get('/storage/forms')).json().sort(), ['ok1', 'ok2']);
  // The rs/py shape on request.
  await kit.control('POST', '/config', { postFailedShape: 'string' });
  try {
    const r = await post('/storage/forms', [{ id: 'bad', payload: 2 }]);
    assert.deepEqual(r.json().failed, { bad: 'invalid payload' });
    assert.deepEqual(r.json().success, []);
  } finally {
    await kit.control('POST', '/config', { postFailedShape: 'list' });
  }
});

test('POST: request-level errors', async () => {
  const bad = [
    [JSON.stringify({ id: 'notalist' }), 400, '8'],
    ['[{"id":', 400, '8'],
    [JSON.stringify([{ id: 'a', payload: 'x' }, 'str']), 400, '8'],
    [JSON.stringify([{ id: 'dup', payload: 'x' }, { id: 'dup', payload: 'y' }]), 400, '8'],
  ];
  for (const [body, status, text] of bad) {
    const res = await post('/storage/forms', body);
    assert.equal(res.status, status, body);
    assert.equal(res.body, text);
  }
  const ct = await post('/storage/forms', '[]', { contentType: 'text/html' });
  assert.equal(ct.status, 415);
  assert.equal(ct.body, '{"err":"Not acceptable Content-Type: text/html"}');
  const nl = await post('/storage/forms', '{"id":"n1","payload":"a"}\n\n{"id":"n2","payload":"b"}\n', { contentType: 'application/newlines' });
  assert.equal(nl.status, 200);
  assert.deepEqual(nl.json().success, ['n1', 'n2']);
});

test('POST: limits (records per request, announced sizes, body size)', async () => {
  await kit.control('POST', '/config', { limits: { max_post_records: 3, max_post_bytes: 400 } });
  try {
    const four = [1, 2, 3, 4].map((i) => ({ id: 'l' + i, payload: 'p' }));
    const tooMany = await post('/storage/prefs', four);
    assert.equal(tooMany.status, 413);
    assert.equal(tooMany.body, '{"err":"Exceeded 3 BSO per request"}');
    const announced = await post('/storage/prefs', four.slice(0, 1), { headers: { 'X-Weave-Records': '9' } });
    assert.equal(announced.status, 400);
    assert.equal(announced.body, '17');
    const notInt = await post('/storage/prefs', four.slice(0, 1), { headers: { 'X-Weave-Bytes': 'lots' } });
    assert.equal(notInt.status, 400);
    assert.equal(notInt.body, '{"err":"Invalid integer value for X-Weave-Bytes"}');
    const big = await post('/storage/prefs', [{ id: 'big', payload: 'x'.repeat(500) }]);
    assert.equal(big.status, 400);
    assert.equal(big.body, '17');
  } finally {
    await kit.control('POST', '/config', { limits: { max_post_records: 100, max_post_bytes: 2097152 } });
  }
  await kit.control('POST', '/config', { limits: { max_request_bytes: 1000, max_record_payload_bytes: 100 } });
  try {
    const huge = await put('/storage/prefs/huge', { payload: 'x'.repeat(2000) });
    assert.equal(huge.status, 413);
    assert.equal(huge.body, '17');
    const payload = await put('/storage/prefs/p', { payload: 'x'.repeat(200) });
    assert.equal(payload.status, 413);
    assert.equal(payload.body, '{"err":"Payload too big"}');
    const inPost = await post('/storage/prefs', [{ id: 'p', payload: 'x'.repeat(200) }, { id: 'q', payload: 'ok' }]);
    assert.deepEqual(inPost.json().failed, { p: ['Payload too large'] });
    assert.deepEqual(inPost.json().success, ['q']);
  } finally {
    await kit.control('POST', '/config', { limits: { max_request_bytes: 2097152, max_record_payload_bytes: 2097152 } });
  }
});

test('batch: create (202), append, commit (200), records appear only at commit', async () => {
  const before = (await get('/storage/bookmarks')).headers['x-last-modified'];
  const start = await post('/storage/bookmarks?batch=true', [{ id: 'b1', payload: '1' }]);
  assert.equal(start.status, 202);
  const { batch, success, failed } = start.json();
  assert.equal(typeof batch, 'string');
  assert.deepEqual(success, ['b1']);
  assert.deepEqual(failed, {});
  const append = await post('/storage/bookmarks?batch=' + encodeURIComponent(batch), [{ id: 'b2', payload: '2' }, { id: 'b1', payload: '1bis' }]);
  assert.equal(append.status, 202);
  assert.equal(append.json().batch, batch);
  assert.equal((await get('/storage/bookmarks')).body, '[]');
  assert.equal((await get('/storage/bookmarks')).headers['x-last-modified'], before);
  const commit = await post('/storage/bookmarks?batch=' + encodeURIComponent(batch) + '&commit=true', [{ id: 'b3', payload: '3' }]);
  assert.equal(commit.status, 200);
  const c = commit.json();
  assert.deepEqual(Object.keys(c), ['modified', 'success', 'failed']);
  assert.deepEqual(c.success, ['b1', 'b2', 'b3']);
  assert.equal(commit.headers['x-last-modified'], c.modified.toFixed(2));
  const all = (await get('/storage/bookmarks?full=1&sort=oldest')).json();
  assert.deepEqual(all.map((b) => [b.id, b.payload, b.modified]), [['b1', '1bis', c.modified], ['b2', '2', c.modified], ['b3', '3', c.modified]]);
  // The batch is gone after commit.
  const reuse = await post('/storage/bookmarks?batch=' + encodeURIComponent(batch), [{ id: 'b4', payload: '4' }]);
  assert.equal(reuse.status, 400);
});

test('batch: unknown id -> 400, commit without batch -> 400, batch=true&commit=true = plain POST', async () => {
  const unknown = await post('/storage/bookmarks?batch=b999', [{ id: 'x', payload: 'x' }]);
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body, '{"err":"Batch id: b999 does not exist: Not Found"}');
  const noBatch = await post('/storage/bookmarks?commit=true', [{ id: 'x', payload: 'x' }]);
  assert.equal(noBatch.status, 400);
  assert.equal(noBatch.body, '{"err":"Batch ID expected with commit"}');
  const once = await post('/storage/bookmarks?batch=true&commit=true', [{ id: 'once', payload: 'o' }]);
  assert.equal(once.status, 200);
  assert.deepEqual(once.json().success, ['once']);
  assert.equal((await get('/storage/bookmarks/once')).status, 200);
  // A batch belongs to its collection.
  const other = (await post('/storage/bookmarks?batch=true', [])).json().batch;
  assert.equal((await post('/storage/history?batch=' + other, [])).status, 400);
  // Too many records in a batch.
  await kit.control('POST', '/config', { limits: { max_total_records: 2 } });
  try {
    const id = (await post('/storage/bookmarks?batch=true', [{ id: 't1', payload: 'x' }, { id: 't2', payload: 'x' }])).json().batch;
    const over = await post('/storage/bookmarks?batch=' + id + '&commit=true', [{ id: 't3', payload: 'x' }]);
    assert.equal(over.status, 400);
    assert.equal(over.body, '17');
    assert.equal((await get('/storage/bookmarks/t1')).status, 404);
  } finally {
    await kit.control('POST', '/config', { limits: { max_total_records: 1000 } });
  }
});

test('GET: ids, newer, older, sort, and parameter validation', async () => {
  const t = [];
  for (const [id, si] of [['q1', 10], ['q2', 30], ['q3', 20]]) {
    t.push((await put('/storage/clients/' + id, { payload: id, sortindex: si })).body);
  }
  const ids = async (q) => (await get('/storage/clients' + q)).json();
  assert.deepEqual(await ids(''), ['q3', 'q2', 'q1']);
  assert.deepEqual(await ids('?sort=oldest'), ['q1', 'q2', 'q3']);
  assert.deepEqual(await ids('?sort=index'), ['q2', 'q3', 'q1']);
  assert.deepEqual(await ids('?newer=' + t[0]), ['q3', 'q2']);
  assert.deepEqual(await ids('?older=' + t[2]), ['q2', 'q1']);
  assert.deepEqual(await ids('?newer=' + t[0] + '&older=' + t[2]), ['q2']);
  assert.deepEqual(await ids('?ids=q1,%20q3,zz'), ['q3', 'q1']);
  assert.deepEqual(await ids('?ids=q1%2Cq2&sort=oldest'), ['q1', 'q2']);
  const r = await get('/storage/clients?ids=q1,q2&full=1');
  assert.equal(r.headers['x-weave-records'], '2');
  const many = Array.from({ length: 101 }, (_, i) => 'i' + i).join(',');
  for (const q of ['?sort=random', '?limit=-1', '?limit=abc', '?offset=x', '?newer=abc', '?older=-5', '?ids=' + many, '?ids=' + 'x'.repeat(65), '?ids=a,,b']) {
    const res = await get('/storage/clients' + q);
    assert.equal(res.status, 400, q);
    assert.equal(res.body, '0', q);
  }
  assert.equal((await get('/storage/clients?ids=' + many.split(',').slice(0, 100).join(','))).status, 200);
});

test('GET: a page cap applies without limit (go: 1000), offsets walk the rest', async () => {
  const records = Array.from({ length: 25 }, (_, i) => ({ id: 'r' + String(i).padStart(2, '0'), payload: 'p' + i }));
  await kit.control('POST', '/seed', { uid: u.uid, collection: 'passwords', records });
  await kit.control('POST', '/config', { maxGetLimit: 10 });
  try {
    const seen = [];
    let offset = null;
    let pages = 0;
    do {
      const res = await get('/storage/passwords?sort=oldest' + (offset ? '&offset=' + offset : ''));
      seen.push(...res.json());
      offset = res.headers['x-weave-next-offset'];
      pages += 1;
      assert.ok(pages < 10);
    } while (offset);
    assert.equal(pages, 3);
    assert.deepEqual(seen, records.map((r) => r.id).sort());
    assert.equal((await get('/storage/passwords?limit=50')).json().length, 10);
  } finally {
    await kit.control('POST', '/config', { maxGetLimit: 1000 });
  }
  assert.equal((await get('/storage/passwords')).json().length, 25);
});

test('TTL: expired records are invisible', async () => {
  assert.equal((await put('/storage/meta/gone', { payload: 'x', ttl: 0 })).status, 200);
  assert.equal((await put('/storage/meta/kept', { payload: 'x', ttl: 3600 })).status, 200);
  assert.equal((await get('/storage/meta/gone')).status, 404);
  assert.deepEqual((await get('/storage/meta')).json(), ['kept']);
  const raw = (await kit.control('GET', '/storage?uid=' + u.uid + '&collection=meta')).body;
  const gone = raw.records.find((r) => r.id === 'gone');
  assert.equal(gone.expired, true);
  // Deleting an expired record is a 404, a new PUT revives it from scratch.
  assert.equal((await kit.hawk(u, 'DELETE', '/storage/meta/gone')).status, 404);
  await put('/storage/meta/gone', { sortindex: 5 });
  assert.deepEqual((await get('/storage/meta/gone')).json().payload, '');
});

test('unknown routes and bad names -> 404 with body 0', async () => {
  for (const p of ['/storage', '/storage/', '/nothing', '/storage/tabs/a/b', '/storage/' + 'c'.repeat(33), '/storage/bad!name']) {
    const res = await get(p);
    assert.equal(res.status, 404, p);
    assert.equal(res.body, '0', p);
  }
  const badId = await get('/storage/tabs/' + 'i'.repeat(65));
  assert.equal(badId.status, 404);
  assert.equal(badId.body, '{"err":"Invalid bso ID"}');
});
