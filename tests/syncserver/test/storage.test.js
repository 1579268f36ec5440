'use strict';
// Storage API against the go-syncstorage transcripts
// (as go-syncstorage answers): statuses, bodies and headers, in the same
// order as the transcripts, on one user.

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

const TS_RE = /^\d+\.\d{2}$/;
const get = (path, opts) => kit.hawk(u, 'GET', path, opts);
const put = (path, body, opts) => kit.hawk(u, 'PUT', path, Object.assign({ body }, opts || {}));
const post = (path, body, opts) => kit.hawk(u, 'POST', path, Object.assign({ body }, opts || {}));
const del = (path, opts) => kit.hawk(u, 'DELETE', path, opts);

// Asserts header values; `undefined` asserts absence.
function headers(res, want) {
  for (const [k, v] of Object.entries(want)) {
    const got = res.headers[k.toLowerCase()];
    if (v instanceof RegExp) assert.match(String(got), v, k);
    else assert.equal(got, v, k);
  }
}

const state = {};

test('GET info/collections, new user', async () => {
  const res = await get('/info/collections');
  assert.equal(res.status, 200);
  assert.equal(res.body, '{}');
  headers(res, { 'Content-Type': 'application/json', 'X-Last-Modified': '0.00', 'X-Weave-Timestamp': '0.00' });
});

test('GET standard collection never written (tabs)', async () => {
  const res = await get('/storage/tabs?full=1');
  assert.equal(res.status, 200);
  assert.equal(res.body, '[]');
  headers(res, { 'X-Last-Modified': '0.00', 'X-Weave-Records': '0', 'X-Weave-Timestamp': '0.00' });
  for (const c of ['clients', 'crypto', 'forms', 'history', 'keys', 'meta', 'bookmarks', 'prefs', 'passwords', 'addons']) {
    const r = await get('/storage/' + c);
    assert.equal(r.headers['x-last-modified'], '0.00', c);
  }
});

test('GET unknown custom collection: [] without X-Last-Modified or X-Weave-Records', async () => {
  const res = await get('/storage/mycoll?full=1');
  assert.equal(res.status, 200);
  assert.equal(res.body, '[]');
  headers(res, { 'Content-Type': 'application/json', 'X-Last-Modified': undefined, 'X-Weave-Records': undefined, 'X-Weave-Timestamp': TS_RE });
  assert.ok(Math.abs(Number(res.headers['x-weave-timestamp']) - Date.now() / 1000) < 5);
});

test('PUT record: bare timestamp', async () => {
  const res = await put('/storage/tabs/rec1', { payload: '{"ciphertext":"one"}', sortindex: 3 });
  assert.equal(res.status, 200);
  assert.match(res.body, TS_RE);
  headers(res, { 'Content-Type': 'application/json', 'X-Last-Modified': res.body, 'X-Weave-Timestamp': res.body });
  state.t1 = res.body;
  state.t2 = (await put('/storage/tabs/rec2', { payload: '{"ciphertext":"two"}', sortindex: 2 })).body;
  state.t3 = (await put('/storage/tabs/rec3', { payload: '{"ciphertext":"three"}' })).body;
  assert.ok(Number(state.t1) < Number(state.t2) && Number(state.t2) < Number(state.t3));
  // Timestamps of one user's writes are at least 10 ms apart.
  assert.ok(Math.round(Number(state.t2) * 100) - Math.round(Number(state.t1) * 100) >= 1);
});

test('GET collection full=1, newest first, sortindex left out when 0', async () => {
  const res = await get('/storage/tabs?full=1');
  assert.equal(res.status, 200);
  assert.equal(res.body,
    '[{"id":"rec3","modified":' + state.t3 + ',"payload":"{\\"ciphertext\\":\\"three\\"}"},' +
    '{"id":"rec2","modified":' + state.t2 + ',"payload":"{\\"ciphertext\\":\\"two\\"}","sortindex":2},' +
    '{"id":"rec1","modified":' + state.t1 + ',"payload":"{\\"ciphertext\\":\\"one\\"}","sortindex":3}]');
  headers(res, { 'X-Last-Modified': state.t3, 'X-Weave-Records': '3', 'X-Weave-Timestamp': state.t3, 'X-Weave-Next-Offset': undefined });
});

test('paging: limit=2 gives X-Weave-Next-Offset 2, offset=2 gives the last page', async () => {
  const p1 = await get('/storage/tabs?full=1&limit=2');
  assert.deepEqual(p1.json().map((b) => b.id), ['rec3', 'rec2']);
  headers(p1, { 'X-Weave-Next-Offset': '2', 'X-Weave-Records': '2', 'X-Last-Modified': state.t3 });
  const p2 = await get('/storage/tabs?full=1&limit=2&offset=2');
  assert.deepEqual(p2.json().map((b) => b.id), ['rec1']);
  headers(p2, { 'X-Weave-Next-Offset': undefined, 'X-Weave-Records': '1', 'X-Last-Modified': state.t3 });
});

test('GET collection without full: ids only', async () => {
  const res = await get('/storage/tabs');
  assert.equal(res.body, '["rec3","rec2","rec1"]');
  headers(res, { 'X-Weave-Records': '3', 'X-Last-Modified': state.t3 });
});

test('GET record: X-Last-Modified is the record timestamp', async () => {
  const res = await get('/storage/tabs/rec1');
  assert.equal(res.status, 200);
  assert.equal(res.body, '{"id":"rec1","modified":' + state.t1 + ',"payload":"{\\"ciphertext\\":\\"one\\"}","sortindex":3}');
  headers(res, { 'Content-Type': 'application/json', 'X-Last-Modified': state.t1, 'X-Weave-Timestamp': state.t1 });
});

test('X-If-Modified-Since -> 304, empty, no Content-Type', async () => {
  for (const [path, lm] of [['/storage/tabs?full=1', state.t3], ['/storage/tabs/rec1', state.t1], ['/info/collections', state.t3]]) {
    const res = await get(path, { headers: { 'X-If-Modified-Since': state.t3 } });
    assert.equal(res.status, 304, path);
    assert.equal(res.body, '');
    headers(res, { 'Content-Type': undefined, 'Content-Length': undefined, 'X-Last-Modified': lm, 'X-Weave-Timestamp': lm });
  }
  const older = await get('/storage/tabs?full=1&limit=1', { headers: { 'X-If-Modified-Since': state.t1 } });
  assert.equal(older.status, 200);
  assert.deepEqual(older.json().map((b) => b.id), ['rec3']);
  headers(older, { 'X-Weave-Next-Offset': '1', 'X-Weave-Records': '1' });
});

test('X-If-Unmodified-Since older -> 412 on GET, PUT, POST, DELETE', async () => {
  const msg = (ts, lm) => {
    const d = ((Math.round(Number(ts) * 100) - Math.round(Number(lm) * 100)) / 100).toFixed(2);
    return '{"err":"Condition requires ' + ts + ', but modified at ' + lm + ' (\u25b3 ' + d + 's)"}';
  };
  const h = { 'X-If-Unmodified-Since': state.t1 };
  const r1 = await get('/storage/tabs', { headers: h });
  assert.equal(r1.status, 412);
  assert.equal(r1.body, msg(state.t1, state.t3));
  headers(r1, { 'Content-Type': 'application/json', 'X-Last-Modified': state.t3, 'X-Weave-Timestamp': state.t3 });
  const r2 = await put('/storage/tabs/rec3', { payload: 'no' }, { headers: h });
  assert.equal(r2.status, 412);
  assert.equal(r2.body, msg(state.t1, state.t3));
  const r3 = await post('/storage/tabs', [{ id: 'x', payload: 'no' }], { headers: h });
  assert.equal(r3.status, 412);
  headers(r3, { 'X-Last-Modified': state.t3 });
  const r4 = await del('/storage/tabs/rec2', { headers: h });
  assert.equal(r4.status, 412);
  assert.equal(r4.body, msg(state.t1, state.t2));
  headers(r4, { 'X-Last-Modified': state.t2 });
  // Nothing was written.
  assert.equal((await get('/storage/tabs')).body, '["rec3","rec2","rec1"]');
  // 0 means "must not exist": fine for a new record, 412 for an existing one.
  assert.equal((await put('/storage/tabs/new0', { payload: 'n' }, { headers: { 'X-If-Unmodified-Since': '0' } })).status, 200);
  assert.equal((await put('/storage/tabs/new0', { payload: 'n' }, { headers: { 'X-If-Unmodified-Since': '0' } })).status, 412);
  assert.equal((await del('/storage/tabs/new0')).status, 200);
  // Both headers -> 400.
  const both = await get('/storage/tabs', { headers: { 'X-If-Unmodified-Since': state.t3, 'X-If-Modified-Since': state.t3 } });
  assert.equal(both.status, 400);
  const bad = await get('/storage/tabs', { headers: { 'X-If-Modified-Since': 'yesterday' } });
  assert.equal(bad.status, 400);
  state.t3 = (await get('/storage/tabs')).headers['x-last-modified'];
});

test('404s: missing record, record in missing collection', async () => {
  const r1 = await get('/storage/tabs/nope');
  assert.equal(r1.status, 404);
  assert.equal(r1.body, '{"err":"BSO Not Found: Not Found"}');
  headers(r1, { 'Content-Type': 'application/json', 'X-Last-Modified': undefined, 'X-Weave-Timestamp': TS_RE });
  const r2 = await get('/storage/nocoll/rec1');
  assert.equal(r2.status, 404);
  assert.equal(r2.body, '{"err":"Collection Not Found: Not Found"}');
  headers(r2, { 'X-Last-Modified': undefined });
});

test('bad BSOs -> 400 with the bare body 8', async () => {
  const bodies = [
    JSON.stringify({ payload: 'x', foo: 1 }),
    JSON.stringify({ payload: 42 }),
    'not json',
    JSON.stringify([{ payload: 'x' }]),
    JSON.stringify({ payload: 'x', sortindex: 1.5 }),
    JSON.stringify({ payload: 'x', sortindex: 1000000000 }),
    JSON.stringify({ payload: 'x', ttl: -1 }),
    JSON.stringify({ payload: 'x', ttl: '10' }),
  ];
  for (const b of bodies) {
    const res = await put('/storage/tabs/rec4', b);
    assert.equal(res.status, 400, b);
    assert.equal(res.body, '8');
    headers(res, { 'Content-Type': 'application/json', 'X-Weave-Timestamp': TS_RE, 'X-Last-Modified': undefined });
  }
  // modified, collection and id are accepted and ignored; the URL id wins.
  const ok = await put('/storage/tabs/rec4', { id: 'other', modified: 1, collection: 'x', payload: 'p' });
  assert.equal(ok.status, 200);
  assert.equal((await get('/storage/tabs/rec4')).json().id, 'rec4');
  assert.equal((await get('/storage/tabs/other')).status, 404);
  assert.equal((await del('/storage/tabs/rec4')).status, 200);
});

test('PUT updates only the fields sent', async () => {
  await put('/storage/tabs/upd', { payload: 'first', sortindex: 7 });
  const t = (await put('/storage/tabs/upd', { sortindex: 9 })).body;
  const b = (await get('/storage/tabs/upd')).json();
  assert.deepEqual(b, { id: 'upd', modified: Number(t), payload: 'first', sortindex: 9 });
  await put('/storage/tabs/upd', { payload: 'second' });
  assert.equal((await get('/storage/tabs/upd')).json().sortindex, 9);
  // An explicit sortindex 0 is left out of the output, as go does.
  await put('/storage/tabs/upd', { sortindex: 0 });
  assert.equal((await get('/storage/tabs/upd')).body.includes('sortindex'), false);
  assert.equal((await del('/storage/tabs/upd')).status, 200);
});

test('POST records', async () => {
  const res = await post('/storage/tabs', [{ id: 'rec5', payload: 'five' }, { id: 'rec6', payload: 'six', sortindex: 6 }]);
  assert.equal(res.status, 200);
  const m = /^\{"modified":(\d+\.\d{2}),"success":\["rec5","rec6"\],"failed":\{\}\}$/.exec(res.body);
  assert.ok(m, res.body);
  headers(res, { 'Content-Type': 'application/json', 'X-Last-Modified': m[1], 'X-Weave-Timestamp': m[1] });
  state.t5 = m[1];
  const b5 = (await get('/storage/tabs/rec5')).json();
  const b6 = (await get('/storage/tabs/rec6')).json();
  assert.equal(b5.modified, Number(m[1]));
  assert.equal(b6.modified, Number(m[1]));
});

test('info/collections lists written collections, info/quota, counts and usage', async () => {
  const res = await get('/info/collections');
  assert.equal(res.body, '{"tabs":' + state.t5 + '}');
  headers(res, { 'X-Last-Modified': state.t5, 'X-Weave-Timestamp': state.t5, 'X-Weave-Records': '1' });
  const quota = await get('/info/quota');
  assert.equal(quota.status, 200);
  const [usedKb, limit] = quota.json();
  assert.equal(limit, null);
  const bytes = ['{"ciphertext":"one"}', '{"ciphertext":"two"}', '{"ciphertext":"three"}', 'five', 'six'].join('').length;
  assert.equal(usedKb, bytes / 1024);
  headers(quota, { 'X-Last-Modified': state.t5 });
  assert.deepEqual((await get('/info/collection_counts')).json(), { tabs: 5 });
  assert.deepEqual((await get('/info/collection_usage')).json(), { tabs: bytes / 1024 });
});

test('Accept: text/html -> 406; Content-Type: text/html -> 415', async () => {
  const r1 = await get('/storage/tabs', { accept: 'text/html' });
  assert.equal(r1.status, 406);
  assert.equal(r1.body, '{"err":"Unsupported Accept header: text/html"}');
  headers(r1, { 'Content-Type': 'application/json', 'X-Weave-Timestamp': TS_RE });
  for (const a of ['*/*', 'application/newlines']) assert.equal((await get('/storage/tabs', { accept: a })).status, 200);
  assert.equal((await get('/storage/tabs', { accept: null })).status, 200);
  const r2 = await put('/storage/tabs/rec7', { payload: 'x' }, { contentType: 'text/html' });
  assert.equal(r2.status, 415);
  assert.equal(r2.body, '{"err":"Not acceptable Content-Type: text/html"}');
  assert.equal((await put('/storage/tabs/rec7', { payload: 'x' }, { contentType: 'text/plain' })).status, 200);
  assert.equal((await put('/storage/tabs/rec7', { payload: 'x' }, { contentType: 'application/json; charset=utf-8' })).status, 200);
  assert.equal((await del('/storage/tabs/rec7')).status, 200);
});

test('Accept: application/newlines gives one JSON value per line', async () => {
  const res = await get('/storage/tabs?full=1&sort=oldest&limit=2', { accept: 'application/newlines' });
  assert.equal(res.headers['content-type'], 'application/newlines');
  const lines = res.body.split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[2], '');
  assert.deepEqual(lines.slice(0, 2).map((l) => JSON.parse(l).id), ['rec1', 'rec2']);
});

test('DELETE record -> bare timestamp as text/plain; again -> 404', async () => {
  const res = await del('/storage/tabs/rec1');
  assert.equal(res.status, 200);
  assert.match(res.body, TS_RE);
  headers(res, { 'Content-Type': 'text/plain', 'X-Last-Modified': res.body, 'X-Weave-Timestamp': res.body });
  assert.equal((await get('/storage/tabs')).headers['x-last-modified'], res.body);
  const again = await del('/storage/tabs/rec1');
  assert.equal(again.status, 404);
  assert.equal(again.body, '{"err":"BSO id: rec1 Not Found"}');
  headers(again, { 'Content-Type': 'application/json' });
});

test('DELETE in an unknown custom collection: record -> 406, collection -> 404', async () => {
  const r1 = await del('/storage/mycoll/rec1');
  assert.equal(r1.status, 406);
  assert.equal(r1.body, '{"err":"Could not find collection: Not Found"}');
  const r2 = await del('/storage/mycoll');
  assert.equal(r2.status, 404);
  assert.equal(r2.body, '{"err":"Collection not found"}');
});

test('DELETE collection resets its modified to 0.00; info/collections drops it', async () => {
  const res = await del('/storage/tabs');
  assert.equal(res.status, 200);
  const m = /^\{"modified":(\d+\.\d{2})\}$/.exec(res.body);
  assert.ok(m, res.body);
  headers(res, { 'Content-Type': 'application/json', 'X-Last-Modified': m[1], 'X-Weave-Timestamp': m[1] });
  const after = await get('/storage/tabs?full=1');
  assert.equal(after.body, '[]');
  headers(after, { 'X-Last-Modified': '0.00', 'X-Weave-Records': '0', 'X-Weave-Timestamp': '0.00' });
  const stale = await get('/storage/tabs?full=1', { headers: { 'X-If-Modified-Since': state.t1 } });
  assert.equal(stale.status, 304);
  headers(stale, { 'X-Last-Modified': '0.00' });
  const info = await get('/info/collections');
  assert.equal(info.body, '{}');
  headers(info, { 'X-Last-Modified': m[1], 'X-Weave-Timestamp': m[1] });
});

test('GET info/configuration: the go template, tabs and all, no X-Last-Modified', async () => {
  const res = await get('/info/configuration');
  assert.equal(res.status, 200);
  assert.equal(res.body, '{\n\t\t"max_post_records":100,\n\t\t"max_post_bytes":2097152,\n\t\t"max_total_records":1000,\n' +
    '\t\t"max_total_bytes":20971520,\n\t\t"max_request_bytes":2097152,\n\t    "max_record_payload_bytes":2097152}');
  assert.equal(res.body.length, 185);
  headers(res, { 'Content-Type': 'application/json', 'X-Last-Modified': undefined, 'X-Weave-Timestamp': TS_RE });
  await kit.control('POST', '/config', { limits: { max_post_records: 7 } });
  try {
    assert.equal((await get('/info/configuration')).json().max_post_records, 7);
  } finally {
    await kit.control('POST', '/config', { limits: { max_post_records: 100 } });
  }
});

test('DELETE /1.5/<uid>: everything goes, bare timestamp as text/plain', async () => {
  await put('/storage/history/h1', { payload: 'h' });
  await put('/storage/custom/c1', { payload: 'c' });
  const res = await kit.hawk(u, 'DELETE', '');
  assert.equal(res.status, 200);
  assert.match(res.body, TS_RE);
  headers(res, { 'Content-Type': 'text/plain', 'X-Last-Modified': res.body });
  assert.equal((await get('/info/collections')).body, '{}');
  assert.equal((await get('/storage/history')).body, '[]');
  const custom = await get('/storage/custom');
  assert.equal(custom.headers['x-last-modified'], undefined);
});
