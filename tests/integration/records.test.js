'use strict';
// Kinto records, collections and buckets over Sync, through nginx, against
// the test Sync server. Assertions look at both sides: the Kinto response
// and what Sync received (its request log).
//
//   cd tests && SYNCTO_BUILD_DIR=build node --test integration/records.test.js

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/stack');
const sync = require('../lib/control');
const { browserIdUser: newUser } = require('../lib/users');
const { JSON_CT, readResponse, assertError } = require('../lib/kinto');

const SORT_MSG = "_sort should be one of ('-last_modified', 'newest', '-sortindex', 'index', " +
  "'last_modified', 'oldest')";

let stack;

// ---- helpers --------------------------------------------------------------

const control = (method, path, body) => sync.control(stack, method, path, body);
const lastSeq = () => sync.lastSeq(stack);
/** Storage requests Sync received after `seq`. */
const storageLog = (seq) => sync.logSince(stack, seq, 'storage');
const fault = (rule) => control('POST', '/faults', rule);
const { syncMs } = sync;

/** Seeds records in one write; resolves to that write's timestamp in ms. */
async function seed(user, collection, records) {
  const r = await sync.seed(stack, user, collection, records);
  user.uid = r.uid;
  return syncMs(r.modifiedText);
}

function collUrl(user, coll = 'tabs') {
  return `/buckets/${user.bucket}/collections/${coll}`;
}

function recUrl(user, id, coll = 'tabs') {
  return `${collUrl(user, coll)}/records/${encodeURIComponent(id)}`;
}

/** Kinto call through nginx; resolves to {status, headers, text, json}. */
async function api(method, path, { user, headers = {}, body } = {}) {
  const h = { ...headers };
  if (user && !('Authorization' in h)) h.Authorization = user.auth;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(stack.v1 + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return readResponse(res);
}

function etagOf(res) {
  const v = res.headers.get('etag');
  assert.match(v, /^"\d+"$/);
  return Number(v.slice(1, -1));
}

const ENABLED = {
  SYNCTO_RECORD_TABS_PUT_ENABLED: 'true',
  SYNCTO_RECORD_TABS_DELETE_ENABLED: 'true',
  SYNCTO_RECORD_HISTORY_PUT_ENABLED: 'true',
};

before(async () => {
  stack = await startStack({ env: ENABLED });
});

after(async () => {
  if (stack) await stack.stop();
});

afterEach(async (t) => {
  await control('DELETE', '/faults');
  stack.printLogsIfFailed(t);
});

// ---- records list ---------------------------------------------------------

describe('records list', () => {
  it('maps BSOs to Kinto records with exact integer timestamps', async () => {
    const u = newUser();
    const ts = await seed(u, 'tabs', [
      { id: 'a', payload: 'pa', sortindex: 3 },
      { id: '{6b3f}', payload: 'q"\\/<>\u00e9\n' },
      { id: 'c', payload: 'pc', ttl: 3600 },
    ]);
    const res = await api('GET', `${collUrl(u)}/records`, { user: u });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), JSON_CT);
    const byId = Object.fromEntries(res.json.data.map((r) => [r.id, r]));
    assert.deepEqual(Object.keys(byId).sort(), ['a', 'c', '{6b3f}']);
    assert.deepEqual(byId.a, { id: 'a', last_modified: ts, payload: 'pa', sortindex: 3 });
    assert.deepEqual(byId['{6b3f}'], { id: '{6b3f}', last_modified: ts, payload: 'q"\\/<>\u00e9\n' });
    // Sync never returns ttl: the record has none
    assert.deepEqual(byId.c, { id: 'c', last_modified: ts, payload: 'pc' });
    assert.equal(res.headers.get('etag'), `"${ts}"`);
    assert.equal(res.headers.get('last-modified'), new Date(Math.floor(ts / 1000) * 1000).toUTCString());
    assert.equal(res.headers.get('total-records'), '3');
    assert.equal(res.headers.get('next-page'), null);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('retry-after'), null);
  });

  it('answers {"data": []} for an empty collection (pin 26)', async () => {
    const u = newUser();
    await seed(u, 'history', [{ id: 'h', payload: 'x' }]);
    const res = await api('GET', `${collUrl(u)}/records`, { user: u });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { data: [] });
  });

  it('gives ETag "0" for a collection Sync sends no timestamp for', async () => {
    const u = newUser();
    let res = await api('GET', `${collUrl(u, 'custom')}/records`, { user: u });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { data: [] });
    assert.equal(res.headers.get('etag'), '"0"');
    res = await api('GET', `${collUrl(u, 'custom')}/records?_since=1234`, { user: u });
    assert.equal(res.headers.get('etag'), '"1234"');
  });

  it('translates _since and _sort (pin 16)', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    const seq = await lastSeq();
    const res = await api('GET', `${collUrl(u)}/records?_since=14377478425700&_sort=newest`, { user: u });
    assert.equal(res.status, 200);
    const [e] = await storageLog(seq);
    assert.equal(e.method, 'GET');
    assert.ok(e.path.endsWith('/storage/tabs'));
    assert.equal(e.params.newer, '14377478425.70');
    assert.equal(e.params.sort, 'newest');
    assert.ok('full' in e.params);
  });

  it('accepts a quoted _since and maps _before to older', async () => {
    const u = newUser();
    const t1 = await seed(u, 'tabs', [{ id: 'a', payload: '1' }, { id: 'b', payload: '2' }]);
    const t2 = await seed(u, 'tabs', [{ id: 'c', payload: '3' }]);
    let seq = await lastSeq();
    let res = await api('GET', `${collUrl(u)}/records?_since=%22${t1}%22`, { user: u });
    assert.deepEqual(res.json.data.map((r) => r.id), ['c']);
    assert.equal(res.headers.get('etag'), `"${t2}"`);
    let [e] = await storageLog(seq);
    assert.equal(e.params.newer, (t1 / 1000).toFixed(2));

    seq = await lastSeq();
    res = await api('GET', `${collUrl(u)}/records?_before=${t2}&_sort=oldest`, { user: u });
    assert.deepEqual(res.json.data.map((r) => r.id).sort(), ['a', 'b']);
    [e] = await storageLog(seq);
    assert.equal(e.params.older, (t2 / 1000).toFixed(2));
    assert.equal(e.params.sort, 'oldest');

    res = await api('GET', `${collUrl(u)}/records?_before=%22${t2}%22`, { user: u });
    assert.equal(res.json.data.length, 2);
  });

  it('keeps the client timestamp on an empty _since poll', async () => {
    const u = newUser();
    const t1 = await seed(u, 'tabs', [{ id: 'a', payload: '1' }, { id: 'b', payload: '2' }]);
    let res = await api('GET', `${collUrl(u)}/records?_since=${t1}`, { user: u });
    assert.deepEqual(res.json.data, []);
    assert.equal(res.headers.get('etag'), `"${t1}"`);
    // a deletion moves Sync's collection timestamp but leaves nothing to list
    const del = await api('DELETE', recUrl(u, 'b'), { user: u });
    assert.equal(del.status, 200);
    assert.ok(del.json.data.last_modified > t1);
    res = await api('GET', `${collUrl(u)}/records?_since=${t1}`, { user: u });
    assert.deepEqual(res.json.data, []);
    assert.equal(res.headers.get('etag'), `"${t1}"`);
    // without _since the ETag is the collection timestamp
    res = await api('GET', `${collUrl(u)}/records`, { user: u });
    assert.equal(res.headers.get('etag'), `"${del.json.data.last_modified}"`);
    // a _since poll that returns records gives the collection timestamp too
    res = await api('GET', `${collUrl(u)}/records?_since=${t1 - 10}`, { user: u });
    assert.deepEqual(res.json.data.map((r) => r.id), ['a']);
    assert.equal(res.headers.get('etag'), `"${del.json.data.last_modified}"`);
  });

  it('translates _limit, _token and _sort=index (pin 22) and _sort=oldest (pin 23)', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    let seq = await lastSeq();
    let res = await api('GET', `${collUrl(u)}/records?_limit=2&_token=12345&_sort=index`, { user: u });
    assert.equal(res.status, 200);
    let [e] = await storageLog(seq);
    assert.equal(e.params.limit, '2');
    assert.equal(e.params.offset, '12345');
    assert.equal(e.params.sort, 'index');
    for (const [kinto, sync] of [['oldest', 'oldest'], ['last_modified', 'oldest'], ['-last_modified', 'newest'],
      ['-sortindex', 'index']]) {
      seq = await lastSeq();
      res = await api('GET', `${collUrl(u)}/records?_sort=${kinto}`, { user: u });
      assert.equal(res.status, 200);
      [e] = await storageLog(seq);
      assert.equal(e.params.sort, sync, kinto);
    }
  });

  it('sorts by sortindex and by age', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'low', payload: 'x', sortindex: 1 }, { id: 'high', payload: 'x', sortindex: 9 }]);
    await seed(u, 'tabs', [{ id: 'new', payload: 'x', sortindex: 5 }]);
    let res = await api('GET', `${collUrl(u)}/records?_sort=-sortindex`, { user: u });
    assert.deepEqual(res.json.data.map((r) => r.id), ['high', 'new', 'low']);
    res = await api('GET', `${collUrl(u)}/records?_sort=oldest`, { user: u });
    assert.equal(res.json.data[2].id, 'new');
    res = await api('GET', `${collUrl(u)}/records`, { user: u });
    assert.equal(res.json.data[0].id, 'new');
  });

  it('refuses bad list parameters with the original messages', async () => {
    const u = newUser();
    const cases = [
      ['_since=not-a-number', '_since', '_since should be a number.'], // pin 21
      ['_since=12.5', '_since', '_since should be a number.'],
      ['_before=yesterday', '_before', '_before should be a number.'],
      ['_sort=unknown', '_sort', SORT_MSG], // pin 24
      ['_limit=0', '_limit', '_limit should be a positive integer.'],
      ['_limit=abc', '_limit', '_limit should be a positive integer.'],
      ['_limit=-3', '_limit', '_limit should be a positive integer.'],
    ];
    const seq = await lastSeq();
    for (const [q, name, message] of cases) {
      const res = await api('GET', `${collUrl(u)}/records?${q}`, { user: u });
      assertError(res, 400, 107, 'Invalid parameters', message);
      assert.equal(res.json.message, message, q);
      assert.deepEqual(res.json.details, [{ location: 'querystring', name, description: message }]);
    }
    assert.deepEqual(await storageLog(seq), [], 'nothing reaches Sync');
  });

  it('authenticates before it validates parameters', async () => {
    const u = newUser();
    const res = await api('GET', `${collUrl(u)}/records?_since=not-a-number&_sort=bad`);
    assertError(res, 401, 104, 'Unauthorized', 'Provide a BID assertion Authorization header.');
  });

  it('maps in_ids and in_id to ids, applies exclude_id, ignores _expected and unknown parameters', async () => {
    const u = newUser();
    await seed(u, 'tabs', ['123', '456', '789', 'a', 'b'].map((id) => ({ id, payload: id })));
    let seq = await lastSeq();
    let res = await api('GET', `${collUrl(u)}/records?in_ids=123,456,789`, { user: u }); // pin 25
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.data.map((r) => r.id).sort(), ['123', '456', '789']);
    let [e] = await storageLog(seq);
    assert.equal(e.params.ids, '123,456,789');

    seq = await lastSeq();
    res = await api('GET', `${collUrl(u)}/records?in_id=a%2C%20b%2C%2C&_expected=42&foo=bar&sort=index`, { user: u });
    assert.deepEqual(res.json.data.map((r) => r.id).sort(), ['a', 'b']);
    [e] = await storageLog(seq);
    assert.equal(e.params.ids, 'a,b');
    assert.equal(e.params.sort, undefined);
    assert.equal(e.params._expected, undefined);

    res = await api('GET', `${collUrl(u)}/records?exclude_id=123%2C456&exclude_id=a`, { user: u });
    assert.deepEqual(res.json.data.map((r) => r.id).sort(), ['789', 'b']);
    assert.equal(res.headers.get('total-records'), '2');

    const many = Array.from({ length: 101 }, (_, i) => `id${i}`).join(',');
    res = await api('GET', `${collUrl(u)}/records?in_ids=${many}`, { user: u });
    assertError(res, 400, 107, 'Invalid parameters', 'in_ids');
    res = await api('GET', `${collUrl(u)}/records?in_ids=${many.split(',').slice(0, 100).join(',')}`, { user: u });
    assert.equal(res.status, 200);
  });

  it('honours _fields, keeping id and last_modified', async () => {
    const u = newUser();
    const ts = await seed(u, 'tabs', [{ id: 'a', payload: 'pa', sortindex: 4 }]);
    let res = await api('GET', `${collUrl(u)}/records?_fields=payload`, { user: u });
    assert.deepEqual(res.json.data, [{ id: 'a', last_modified: ts, payload: 'pa' }]);
    res = await api('GET', `${collUrl(u)}/records?_fields=sortindex,id`, { user: u });
    assert.deepEqual(res.json.data, [{ id: 'a', last_modified: ts, sortindex: 4 }]);
    res = await api('GET', `${recUrl(u, 'a')}?_fields=sortindex`, { user: u });
    assert.deepEqual(res.json.data, { id: 'a', last_modified: ts, sortindex: 4 });
  });

  it('sends Total-Records, Quota-Remaining and Next-Page (pin 27)', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    await fault({ match: { role: 'storage', method: 'GET', pathRegex: '/storage/tabs$' },
      headers: { 'X-Weave-Next-Offset': '12345', 'X-Weave-Quota-Remaining': '125' } });
    const res = await api('GET', `${collUrl(u)}/records`, { user: u });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('total-records'), '1');
    assert.equal(res.headers.get('quota-remaining'), '125');
    assert.equal(res.headers.get('next-page'), `${stack.v1}${collUrl(u)}/records?_token=12345`);
  });

  it('leaves Total-Records out with _limit, and pages with Next-Page (pins 28, 30)', async () => {
    const u = newUser();
    await seed(u, 'tabs', ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, payload: id })));
    let res = await api('GET', `${collUrl(u)}/records?_limit=2`, { user: u });
    assert.equal(res.status, 200);
    assert.equal(res.json.data.length, 2);
    assert.equal(res.headers.get('total-records'), null);
    const next = res.headers.get('next-page');
    assert.match(next, new RegExp(`^${stack.v1}${collUrl(u)}/records\\?_limit=2&_token=[^&]+$`));

    // original parameters in their order and raw spelling, unknown ones kept
    res = await api('GET', `${collUrl(u)}/records?_limit=2&sort=index&in_id=a%2Cb%2Cc`, { user: u });
    assert.match(res.headers.get('next-page'),
      new RegExp(`^${stack.v1}${collUrl(u)}/records\\?_limit=2&sort=index&in_id=a%2Cb%2Cc&_token=[^&]+$`));

    // follow the pages: every record once, the same ETag on every page
    const seen = [];
    let url = `${stack.v1}${collUrl(u)}/records?_token=0&_limit=2&_sort=oldest`;
    let etag = null;
    for (let pages = 0; url && pages < 10; pages++) {
      const r = await fetch(url, { headers: { Authorization: u.auth } });
      assert.equal(r.status, 200);
      const body = await r.json();
      seen.push(...body.data.map((x) => x.id));
      if (etag) assert.equal(r.headers.get('etag'), etag);
      etag = r.headers.get('etag');
      url = r.headers.get('next-page');
      if (url) assert.equal(new URL(url).searchParams.getAll('_token').length, 1);
    }
    assert.deepEqual(seen, ['a', 'b', 'c', 'd', 'e']);
  });

  it('answers HEAD with the GET headers and no body', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }, { id: 'b', payload: 'y' }]);
    const get = await api('GET', `${collUrl(u)}/records`, { user: u });
    const head = await api('HEAD', `${collUrl(u)}/records`, { user: u });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    for (const h of ['etag', 'last-modified', 'total-records', 'content-type']) {
      assert.equal(head.headers.get(h), get.headers.get(h), h);
    }
  });

  it('maps If-None-Match to X-If-Modified-Since and answers 304 (pins 17, 29)', async () => {
    const u = newUser();
    const ts = await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    let seq = await lastSeq();
    let res = await api('GET', `${collUrl(u)}/records`, { user: u, headers: { 'If-None-Match': '"14377478425700"' } });
    let [e] = await storageLog(seq);
    assert.equal(e.headers['x-if-modified-since'], '14377478425.70');
    assert.equal(res.status, 304);

    res = await api('GET', `${collUrl(u)}/records`, { user: u, headers: { 'If-None-Match': `"${ts}"` } });
    assert.equal(res.status, 304);
    assert.equal(res.text, '');
    assert.equal(res.headers.get('etag'), `"${ts}"`);

    res = await api('GET', `${collUrl(u)}/records`, { user: u, headers: { 'If-None-Match': `"${ts - 10}"` } });
    assert.equal(res.status, 200);
    assert.equal(res.json.data.length, 1);
  });

  it('maps If-Match to X-If-Unmodified-Since (pin 18)', async () => {
    const u = newUser();
    const ts = await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    const seq = await lastSeq();
    let res = await api('GET', `${collUrl(u)}/records`, { user: u, headers: { 'If-Match': '"14377478425700"' } });
    assert.equal(res.status, 200);
    const [e] = await storageLog(seq);
    assert.equal(e.headers['x-if-unmodified-since'], '14377478425.70');
    res = await api('GET', `${collUrl(u)}/records`, { user: u, headers: { 'If-Match': `"${ts - 10}"` } });
    assertError(res, 412, 114, 'Precondition Failed', 'Resource was modified meanwhile');
    assert.equal(res.headers.get('etag'), `"${ts}"`);
  });

  it('refuses malformed If-Match / If-None-Match (pins 19, 20)', async () => {
    const u = newUser();
    for (const [h, v] of [['If-None-Match', 'abc'], ['If-Match', '42'], ['If-Match', '*'], ['If-Match', 'W/"1"'],
      ['If-None-Match', '"12"x']]) {
      const res = await api('GET', `${collUrl(u)}/records`, { user: u, headers: { [h]: v } });
      assertError(res, 400, 107, 'Invalid parameters', `headers: Invalid value for ${h}`);
      assert.deepEqual(res.json.details, [{ location: 'headers', name: null, description: `Invalid value for ${h}` }]);
    }
  });

  it('passes Backoff and Alert on, never Retry-After on a success', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    await fault({ match: { role: 'storage', method: 'GET' },
      headers: { 'X-Weave-Backoff': '60', 'Retry-After': '10', 'X-Weave-Alert': 'soon' } });
    const res = await api('GET', `${collUrl(u)}/records`, { user: u });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('backoff'), '60');
    assert.equal(res.headers.get('alert'), 'soon');
    assert.equal(res.headers.get('retry-after'), null);
  });

  it('maps Sync failures on a list', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    for (const [status, kstatus, errno] of [[400, 400, 107], [403, 403, 121], [500, 503, 201], [503, 503, 201]]) {
      await fault({ match: { role: 'storage', method: 'GET' }, status, body: 0, times: 1 });
      const res = await api('GET', `${collUrl(u)}/records`, { user: u });
      assertError(res, kstatus, errno, res.json && res.json.error);
      if (kstatus === 503) assert.ok(Number(res.headers.get('retry-after')) > 0);
    }
  });
});

// ---- auth pins ------------------------------------------------------------

describe('authentication on resources', () => {
  it('asks for credentials (pins 5-8)', async () => {
    const u = newUser();
    for (const path of [`${collUrl(u)}/records`, recUrl(u, 'abc')]) {
      let res = await api('GET', path);
      assertError(res, 401, 104, 'Unauthorized', 'Provide a BID assertion Authorization header.');
      res = await api('GET', path.replace(u.bucket, 'syncto'), { user: u });
      assertError(res, 401, 104, 'Unauthorized', 'Provide the tokenserver X-Client-State header.');
    }
  });

  it('serves the legacy "syncto" bucket with X-Client-State and an Alert', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    const res = await api('GET', '/buckets/syncto/collections/tabs/records', {
      user: u, headers: { 'X-Client-State': u.clientState },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.data.map((r) => r.id), ['a']);
    assert.equal(JSON.parse(res.headers.get('alert')).code, 'soft-eol');
  });

  it('maps tokenserver failures (pins 10-12)', async () => {
    let u = newUser();
    await fault({ match: { role: 'tokenserver' }, status: 401, times: 1,
      body: { status: 'invalid-credentials', errors: [{ location: 'body', name: '', description: 'Unauthorized' }] } });
    let res = await api('GET', `${collUrl(u)}/records`, { user: u });
    assertError(res, 401, 105, 'Unauthorized', '401 Unauthorized: {"status":');
    assert.ok(res.json.message.includes('invalid-credentials'));

    u = newUser();
    await fault({ match: { role: 'tokenserver' }, status: 503, body: '', times: 1 });
    res = await api('GET', `${collUrl(u)}/records`, { user: u });
    assertError(res, 503, 201, 'Service Unavailable', 'retry later');

    u = newUser();
    await fault({ match: { role: 'tokenserver' }, drop: true, times: 3 });
    res = await api('GET', `${collUrl(u)}/records`, { user: u });
    assertError(res, 503, 201, 'Service Unavailable',
      'Unable to reach the service. Check your internet connection or firewall configuration.');
  });

  it('answers an unknown URL with a CORS-enabled 404 (pin 9)', async () => {
    const res = await api('GET', '/unknown', { headers: { Origin: 'http://notmyidea.org' } });
    assertError(res, 404, 111, 'Not Found');
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://notmyidea.org');
  });

  it('sends CORS and Cache-Control headers (pins 13, 14, 31)', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    for (const path of [`${collUrl(u)}/records`, recUrl(u, 'a'), collUrl(u)]) {
      const res = await api('GET', path, { user: u, headers: { Origin: 'http://notmyidea.org' } });
      assert.equal(res.status, 200, path);
      assert.ok(res.headers.get('access-control-allow-origin'), path);
      assert.ok(res.headers.get('cache-control'), path);
    }
  });

  it('tells Sync on whose behalf it calls (pin 15)', async () => {
    const u = newUser();
    const hello = await api('GET', '/');
    const version = hello.json.project_version;
    let seq = await lastSeq();
    await api('GET', `${collUrl(u)}/records`, { user: u, headers: { 'User-Agent': 'HTTPie/0.9.2' } });
    let [e] = await storageLog(seq);
    assert.equal(e.headers['user-agent'], `Syncto/${version} (on behalf of HTTPie/0.9.2)`);
    seq = await lastSeq();
    await api('GET', `${collUrl(u)}/records`, { user: u, headers: { 'User-Agent': '' } });
    [e] = await storageLog(seq);
    assert.equal(e.headers['user-agent'], `Syncto/${version}`);
  });
});

// ---- one record -----------------------------------------------------------

describe('one record', () => {
  it('GETs a record with its own ETag, percent-decoded ids included', async () => {
    const u = newUser();
    const t1 = await seed(u, 'tabs', [{ id: 'a', payload: 'pa', sortindex: 2 }]);
    const t2 = await seed(u, 'tabs', [{ id: '{6b3f-x}', payload: 'pg' }, { id: 'sp ace', payload: 's' }]);
    let res = await api('GET', recUrl(u, 'a'), { user: u });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { data: { id: 'a', last_modified: t1, payload: 'pa', sortindex: 2 } });
    assert.equal(res.headers.get('etag'), `"${t1}"`);

    let seq = await lastSeq();
    res = await api('GET', recUrl(u, '{6b3f-x}'), { user: u });
    assert.deepEqual(res.json.data, { id: '{6b3f-x}', last_modified: t2, payload: 'pg' });
    let [e] = await storageLog(seq);
    // braces go raw toward Sync: the path reads the same decoded or not
    assert.ok(e.url.endsWith('/storage/tabs/{6b3f-x}'), e.url);

    // a space must be encoded; a server that signs the raw path accepts it
    await control('POST', '/config', { hawkResource: 'raw' });
    try {
      seq = await lastSeq();
      res = await api('GET', recUrl(u, 'sp ace'), { user: u });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.data.id, 'sp ace');
      [e] = await storageLog(seq);
      assert.ok(e.url.endsWith('/storage/tabs/sp%20ace'), e.url);
    } finally {
      await control('POST', '/config', { hawkResource: 'decoded' });
    }
  });

  it('answers 404 errno 110 for a missing record, and HEAD without a body', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    let res = await api('GET', recUrl(u, 'nope'), { user: u });
    assertError(res, 404, 110, 'Not Found', '404 Not Found');
    res = await api('HEAD', recUrl(u, 'a'), { user: u });
    assert.equal(res.status, 200);
    assert.equal(res.text, '');
    assert.match(res.headers.get('etag'), /^"\d+"$/);
  });

  it('answers 304 on If-None-Match (pin 42) and refuses bad ids', async () => {
    const u = newUser();
    const ts = await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    let res = await api('GET', recUrl(u, 'a'), { user: u, headers: { 'If-None-Match': `"${ts}"` } });
    assert.equal(res.status, 304);
    assert.equal(res.text, '');
    assert.equal(res.headers.get('etag'), `"${ts}"`);

    res = await api('GET', recUrl(u, 'x'.repeat(65)), { user: u });
    assertError(res, 400, 107, 'Invalid parameters', 'Invalid record id');
    res = await api('GET', recUrl(u, 'tab\there'), { user: u });
    assertError(res, 400, 107, 'Invalid parameters', 'Invalid record id');
    res = await api('GET', `/buckets/${u.bucket}/collections/tabs!/records/a`, { user: u });
    assertError(res, 400, 107, 'Invalid parameters', 'Invalid collection id');
    res = await api('GET', `/buckets/${u.bucket}/collections/${'c'.repeat(33)}/records`, { user: u });
    assertError(res, 400, 107, 'Invalid parameters', 'Invalid collection id');
  });

  it('PUTs a record and answers it (pin 35)', async () => {
    const u = newUser();
    const seq = await lastSeq();
    const res = await api('PUT', recUrl(u, 'n1'), { user: u, body: { data: { payload: 'abcd' } } });
    assert.equal(res.status, 200);
    const log = await storageLog(seq);
    const put = log.find((e) => e.method === 'PUT');
    const ts = syncMs(put.response.headers['x-last-modified']);
    assert.deepEqual(res.json, { data: { id: 'n1', payload: 'abcd', last_modified: ts } });
    assert.equal(res.headers.get('etag'), `"${ts}"`);
    assert.deepEqual(JSON.parse(put.body), { payload: 'abcd' });
  });

  it('forwards only payload, sortindex and ttl', async () => {
    const u = newUser();
    const seq = await lastSeq();
    const res = await api('PUT', recUrl(u, 'k1'), { user: u, body: {
      data: { id: 'k1', payload: 'p', sortindex: 7, ttl: 600, last_modified: 1700000000001, _status: 'created', extra: { a: 1 } },
      permissions: {},
    } });
    assert.equal(res.status, 200, res.text);
    const log = await storageLog(seq);
    assert.equal(log.length, 1, 'every field given: no GET after the PUT');
    assert.deepEqual(JSON.parse(log[0].body), { payload: 'p', sortindex: 7, ttl: 600 });
    assert.match(log[0].headers['content-type'], /^application\/json/);
    const ts = syncMs(log[0].response.headers['x-last-modified']);
    assert.deepEqual(res.json.data, { id: 'k1', payload: 'p', sortindex: 7, ttl: 600, last_modified: ts });
    const stored = await control('GET', `/storage?uid=${(await control('GET', `/uid?fxaUid=${u.fxaUid}&clientState=${u.clientState}`)).uid}&collection=tabs`);
    assert.equal(stored.records.length, 1);
    assert.equal(stored.records[0].payload, 'p');
  });

  it('answers the complete record when the PUT leaves fields to Sync', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'r', payload: 'old', sortindex: 5 }]);
    let seq = await lastSeq();
    let res = await api('PUT', recUrl(u, 'r'), { user: u, body: { data: { payload: 'new' } } });
    assert.equal(res.status, 200);
    let log = await storageLog(seq);
    assert.deepEqual(log.map((e) => e.method), ['PUT', 'GET']);
    const ts = syncMs(log[0].response.headers['x-last-modified']);
    assert.deepEqual(res.json.data, { id: 'r', payload: 'new', sortindex: 5, last_modified: ts });

    seq = await lastSeq();
    res = await api('PUT', recUrl(u, 'r'), { user: u, body: { data: { sortindex: 9 } } });
    assert.deepEqual(res.json.data.payload, 'new');
    assert.deepEqual(res.json.data.sortindex, 9);

    // a create-only PUT has nothing older to keep: no GET
    seq = await lastSeq();
    res = await api('PUT', recUrl(u, 'fresh'), { user: u, headers: { 'If-None-Match': '*' }, body: { data: { payload: 'f' } } });
    assert.equal(res.status, 200);
    log = await storageLog(seq);
    assert.deepEqual(log.map((e) => e.method), ['PUT']);
    assert.equal(log[0].headers['x-if-unmodified-since'], '0'); // pin 36
  });

  it('refuses bad PUT bodies (pin 38)', async () => {
    const u = newUser();
    const cases = [
      ['not json', 'body: Invalid JSON'],
      ['{"payload":"foobar"}', 'data in body: Required'],
      ['{"data":{"payload":"a"},"foo":1}', 'foo in body: Unrecognized key'],
      ['{"data":[]}', 'data should be an object'],
      ['{"data":{"payload":12}}', 'data.payload should be a string'],
      ['{"data":{"sortindex":"5"}}', 'data.sortindex should be an integer'],
      ['{"data":{"sortindex":1.5}}', 'data.sortindex should be an integer'],
      ['{"data":{"ttl":-1}}', 'data.ttl should be an integer'],
    ];
    const seq = await lastSeq();
    for (const [body, message] of cases) {
      const res = await api('PUT', recUrl(u, 'x'), { user: u, body });
      assertError(res, 400, 107, 'Invalid parameters', message);
    }
    assert.deepEqual(await storageLog(seq), []);
  });

  it('checks PUT and DELETE in the original order', async () => {
    const u = newUser();
    const meta = (id) => recUrl(u, id, 'meta');
    // PUT: body (400) -> enabled (405) -> If-* (400) -> auth (401)
    let res = await api('PUT', meta('x'), { body: 'nope' });
    assertError(res, 400, 107, 'Invalid parameters', 'body: Invalid JSON');
    res = await api('PUT', meta('x'), { body: { data: {} }, headers: { 'If-Match': 'bad' } });
    assertError(res, 405, 115, 'Method Not Allowed', 'Endpoint disabled for this collection in configuration.');
    res = await api('PUT', recUrl(u, 'x'), { body: { data: {} }, headers: { 'If-Match': 'bad' } });
    assertError(res, 400, 107, 'Invalid parameters', 'headers: Invalid value for If-Match');
    res = await api('PUT', recUrl(u, 'x'), { body: { data: {} } });
    assertError(res, 401, 104, 'Unauthorized');
    // DELETE: enabled (405) -> If-* (400) -> auth (401)
    res = await api('DELETE', meta('x'), { headers: { 'If-Match': 'bad' } });
    assertError(res, 405, 115, 'Method Not Allowed');
    res = await api('DELETE', recUrl(u, 'x'), { headers: { 'If-Match': 'bad' } });
    assertError(res, 400, 107, 'Invalid parameters', 'If-Match');
    res = await api('DELETE', recUrl(u, 'x'));
    assertError(res, 401, 104, 'Unauthorized');
  });

  it('refuses writes where they are disabled (pins 43-45)', async () => {
    const u = newUser();
    let res = await api('PUT', recUrl(u, 'x', 'meta'), { user: u, body: { data: { payload: 'x' } } });
    assertError(res, 405, 115, 'Method Not Allowed', 'Endpoint disabled for this collection in configuration.');
    assert.equal(res.json.message, 'Endpoint disabled for this collection in configuration.');
    res = await api('DELETE', recUrl(u, 'x', 'meta'), { user: u });
    assertError(res, 405, 115, 'Method Not Allowed', 'Endpoint disabled for this collection in configuration.');
    // history: PUT enabled, DELETE not
    res = await api('PUT', recUrl(u, 'x', 'history'), { user: u, body: { data: { payload: 'x' } } });
    assert.equal(res.status, 200);
    res = await api('DELETE', recUrl(u, 'x', 'history'), { user: u });
    assertError(res, 405, 115, 'Method Not Allowed');
  });

  it('DELETE answers 200 with the deletion', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'd', payload: 'x' }]);
    const seq = await lastSeq();
    let res = await api('DELETE', recUrl(u, 'd'), { user: u });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), JSON_CT);
    const [e] = await storageLog(seq);
    assert.equal(e.method, 'DELETE');
    const ts = syncMs(e.response.headers['x-last-modified'] || e.response.body);
    assert.deepEqual(res.json, { data: { id: 'd', last_modified: ts, deleted: true } });
    res = await api('DELETE', recUrl(u, 'd'), { user: u });
    assertError(res, 404, 110, 'Not Found');
  });

  it('maps If-Match on DELETE (pin 33)', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'd', payload: 'x' }]);
    const seq = await lastSeq();
    const res = await api('DELETE', recUrl(u, 'd'), { user: u, headers: { 'If-Match': '"14377478425700"' } });
    assert.equal(res.status, 200);
    const [e] = await storageLog(seq);
    assert.equal(e.headers['x-if-unmodified-since'], '14377478425.70');
  });

  it('answers 412 with details.existing', async () => {
    const u = newUser();
    const ts = await seed(u, 'tabs', [{ id: 'e', payload: 'cur', sortindex: 3 }]);
    const existing = { id: 'e', last_modified: ts, payload: 'cur', sortindex: 3 };
    // create-only on an existing record
    let seq = await lastSeq();
    let res = await api('PUT', recUrl(u, 'e'), { user: u, headers: { 'If-None-Match': '*' }, body: { data: { payload: 'n' } } });
    assertError(res, 412, 114, 'Precondition Failed', 'Resource was modified meanwhile');
    assert.deepEqual(res.json.details, { existing });
    assert.equal(res.headers.get('etag'), `"${ts}"`);
    assert.deepEqual((await storageLog(seq)).map((x) => x.method), ['PUT', 'GET']);
    // a stale If-Match on PUT and on DELETE
    res = await api('PUT', recUrl(u, 'e'), { user: u, headers: { 'If-Match': `"${ts - 10}"` }, body: { data: { payload: 'n' } } });
    assertError(res, 412, 114, 'Precondition Failed');
    assert.deepEqual(res.json.details, { existing });
    res = await api('DELETE', recUrl(u, 'e'), { user: u, headers: { 'If-Match': `"${ts - 10}"` } });
    assertError(res, 412, 114, 'Precondition Failed');
    assert.deepEqual(res.json.details, { existing });
    // a current If-Match passes
    res = await api('PUT', recUrl(u, 'e'), { user: u, headers: { 'If-Match': `"${ts}"` }, body: { data: { payload: 'n', sortindex: 1 } } });
    assert.equal(res.status, 200);
    // a precondition that failed on a record that is gone: existing is null
    seq = await lastSeq();
    await fault({ match: { role: 'storage', method: 'PUT' }, status: 412, body: '', times: 1 });
    res = await api('PUT', recUrl(u, 'gone'), { user: u, headers: { 'If-Match': '"1"' }, body: { data: { payload: 'n' } } });
    assertError(res, 412, 114, 'Precondition Failed');
    assert.deepEqual(res.json.details, { existing: null });
  });

  it('applies If-None-Match "<ms>" to writes too (304, nothing written)', async () => {
    const u = newUser();
    const ts = await seed(u, 'tabs', [{ id: 'w', payload: 'kept', sortindex: 1 }]);
    const seq = await lastSeq();
    let res = await api('PUT', recUrl(u, 'w'), { user: u, headers: { 'If-None-Match': `"${ts}"` },
      body: { data: { payload: 'lost', sortindex: 1 } } });
    assert.equal(res.status, 304);
    assert.equal(res.text, '');
    const [e] = await storageLog(seq);
    assert.equal(e.headers['x-if-modified-since'], (ts / 1000).toFixed(2));
    res = await api('GET', recUrl(u, 'w'), { user: u });
    assert.equal(res.json.data.payload, 'kept');
    // a record deleted elsewhere is re-created by a PUT with If-Match (R2)
    res = await api('PUT', recUrl(u, 'elsewhere'), { user: u, headers: { 'If-Match': `"${ts}"` },
      body: { data: { payload: 'back', sortindex: 1 } } });
    assert.equal(res.status, 200);
  });

  it('maps Sync errors on writes (pins 34, 39, 41)', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    const cases = [[500, 503, 201], [400, 400, 107], [403, 403, 121], [404, 404, 110]];
    for (const method of ['DELETE', 'PUT']) {
      for (const [status, kstatus, errno] of cases) {
        await fault({ match: { role: 'storage', method }, status, body: 0, times: 1 });
        const res = await api(method, recUrl(u, 'a'), { user: u, body: method === 'PUT' ? { data: { payload: 'y', sortindex: 1 } } : undefined });
        assert.equal(res.status, kstatus, `${method} ${status}`);
        assert.equal(res.json.errno, errno);
        if (kstatus === 503) assert.ok(res.headers.get('retry-after'));
        else assert.equal(res.headers.get('retry-after'), null);
      }
    }
  });

  it('passes Alert and Backoff on errors (pin 40)', async () => {
    const u = newUser();
    await fault({ match: { role: 'storage', method: 'PUT' }, status: 400, body: 8, times: 1,
      headers: { 'X-Weave-Alert': 'Something is wrong', 'X-Weave-Backoff': '3600' } });
    const res = await api('PUT', recUrl(u, 'a'), { user: u, body: { data: { payload: 'x' } } });
    assertError(res, 400, 107, 'Bad Request', '400 Bad Request: 8');
    assert.equal(res.headers.get('alert'), 'Something is wrong');
    assert.equal(res.headers.get('backoff'), '3600');
  });
});

// ---- collections and buckets ------------------------------------------------

describe('collections and buckets', () => {
  it('GET collection answers even for a never-written collection (G1)', async () => {
    const u = newUser();
    const ts = await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    let res = await api('GET', collUrl(u), { user: u });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { data: { id: 'tabs', last_modified: ts } });
    assert.equal(res.headers.get('etag'), `"${ts}"`);
    assert.ok(res.headers.get('last-modified'));
    res = await api('GET', `${collUrl(u, 'forms')}?_expected=17`, { user: u });
    assert.deepEqual(res.json, { data: { id: 'forms', last_modified: 0 } });
    assert.equal(res.headers.get('etag'), '"0"');
    res = await api('HEAD', collUrl(u), { user: u });
    assert.equal(res.status, 200);
    assert.equal(res.text, '');
    assert.equal(res.headers.get('etag'), `"${ts}"`);
    res = await api('GET', collUrl(u), { user: u, headers: { 'If-None-Match': `"${ts}"` } });
    assert.equal(res.status, 304);
    res = await api('GET', collUrl(u), { user: u, headers: { 'If-Match': `"${ts - 10}"` } });
    assertError(res, 412, 114, 'Precondition Failed');
    res = await api('GET', collUrl(u));
    assertError(res, 401, 104, 'Unauthorized');
    res = await api('GET', collUrl(u, 'bad name'), { user: u });
    assertError(res, 400, 107, 'Invalid parameters', 'Invalid collection id');
  });

  it('lists collections and describes the bucket from info/collections', async () => {
    const u = newUser();
    let res = await api('GET', `/buckets/${u.bucket}/collections`, { user: u });
    assert.deepEqual(res.json, { data: [] });
    res = await api('GET', `/buckets/${u.bucket}`, { user: u });
    assert.deepEqual(res.json, { data: { id: u.bucket, last_modified: 0 } });
    const t1 = await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    const t2 = await seed(u, 'history', [{ id: 'h', payload: 'x' }]);
    res = await api('GET', `/buckets/${u.bucket}/collections`, { user: u });
    assert.deepEqual(res.json, { data: [{ id: 'history', last_modified: t2 }, { id: 'tabs', last_modified: t1 }] });
    assert.equal(res.headers.get('etag'), `"${t2}"`);
    res = await api('GET', `/buckets/${u.bucket}`, { user: u });
    assert.deepEqual(res.json, { data: { id: u.bucket, last_modified: t2 } });
  });

  it('answers 405 errno 115 to methods a resource does not have', async () => {
    const u = newUser();
    for (const [method, path] of [['POST', `${collUrl(u)}/records`], ['DELETE', `${collUrl(u)}/records`],
      ['PATCH', recUrl(u, 'a')], ['PUT', collUrl(u)], ['DELETE', collUrl(u)], ['POST', `/buckets/${u.bucket}`]]) {
      const res = await api(method, path, { user: u, body: method === 'DELETE' ? undefined : { data: {} } });
      assertError(res, 405, 115, 'Method Not Allowed');
    }
  });
});
