'use strict';
// POST /v1/batch through nginx against the test Sync server: the body
// schema, defaults and header inheritance, ordering, failure rules, one
// credentials lookup per batch, and concurrent reads.
//
//   cd tests && SYNCTO_BUILD_DIR=build node --test integration/batch.test.js

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/stack');
const sync = require('../lib/control');
const { browserIdUser: newUser } = require('../lib/users');
const { JSON_CT, readResponse, assertError } = require('../lib/kinto');

let stack;

// ---- helpers --------------------------------------------------------------

const control = (method, path, body) => sync.control(stack, method, path, body);
const lastSeq = () => sync.lastSeq(stack);
const logSince = (seq, role = 'storage') => sync.logSince(stack, seq, role);
const fault = (rule) => control('POST', '/faults', rule);

/** Seeds records in one write; resolves to that write's timestamp in ms. */
async function seed(user, collection, records) {
  return sync.syncMs((await sync.seed(stack, user, collection, records)).modifiedText);
}

const rec = (u, id, coll = 'tabs') => `/buckets/${u.bucket}/collections/${coll}/records/${id}`;

/** POST /v1/batch with `body` (object or raw string) and extra headers. */
async function batch(body, headers = {}) {
  const res = await fetch(`${stack.v1}/batch`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return readResponse(res);
}

before(async () => {
  stack = await startStack({ env: { SYNCTO_RECORD_TABS_PUT_ENABLED: 'true', SYNCTO_RECORD_TABS_DELETE_ENABLED: 'true' } });
});

after(async () => {
  if (stack) await stack.stop();
});

afterEach(async (t) => {
  await control('DELETE', '/faults');
  stack.printLogsIfFailed(t);
});

// ---- tests ----------------------------------------------------------------

describe('batch', () => {
  it('runs sub-requests in order and answers each one', async () => {
    const u = newUser();
    const t1 = await seed(u, 'tabs', [{ id: 'a', payload: 'pa' }]);
    const seq = await lastSeq();
    const res = await batch({
      defaults: { headers: { Authorization: u.auth } },
      requests: [
        { path: `/buckets/${u.bucket}/collections/tabs/records` },
        { method: 'PUT', path: rec(u, 'x'), body: { data: { payload: 'px', sortindex: 2 } } },
        { path: rec(u, 'x') },
        { method: 'DELETE', path: rec(u, 'x') },
        { method: 'GET', path: rec(u, 'x') },
      ],
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('content-type'), JSON_CT);
    const r = res.json.responses;
    assert.deepEqual(r.map((x) => x.status), [200, 200, 200, 200, 404]);
    assert.deepEqual(r.map((x) => x.path), [
      `/v1/buckets/${u.bucket}/collections/tabs/records`, `/v1${rec(u, 'x')}`, `/v1${rec(u, 'x')}`,
      `/v1${rec(u, 'x')}`, `/v1${rec(u, 'x')}`]);
    assert.deepEqual(r[0].body, { data: [{ id: 'a', last_modified: t1, payload: 'pa' }] });
    assert.equal(r[0].headers.ETag, `"${t1}"`);
    const put = r[1].body.data;
    assert.deepEqual(r[2].body, { data: put });
    assert.equal(r[2].headers.ETag, `"${put.last_modified}"`);
    // DELETE answers 200 with a body inside a batch too
    assert.equal(r[3].body.data.id, 'x');
    assert.equal(r[3].body.data.deleted, true);
    assert.ok(r[3].body.data.last_modified > put.last_modified);
    assert.equal(r[4].body.errno, 110);
    const log = await logSince(seq);
    assert.deepEqual(log.map((e) => e.method), ['GET', 'PUT', 'GET', 'DELETE', 'GET']);
  });

  it('keeps a conflicting PUT inside a 200, with details.existing (pin 37)', async () => {
    const u = newUser();
    const put = { method: 'PUT', path: rec(u, 'dup'), headers: { 'If-None-Match': '*' }, body: { data: { payload: 'abcd' } } };
    const res = await batch({ defaults: { headers: { Authorization: u.auth } }, requests: [put, put] });
    assert.equal(res.status, 200);
    const [first, second] = res.json.responses;
    assert.equal(first.status, 200);
    assert.equal(second.status, 412);
    assert.equal(second.body.errno, 114);
    assert.deepEqual(second.body.details.existing, first.body.data);
  });

  it('inherits headers: the batch request, then defaults, then its own', async () => {
    const u = newUser();
    const other = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'mine' }]);
    await seed(other, 'tabs', [{ id: 'a', payload: 'theirs' }]);
    const res = await batch({
      defaults: { headers: { authorization: `BrowserID not-an-assertion` } },
      requests: [
        // own header wins over the defaults, whatever its case
        { path: rec(u, 'a'), headers: { AUTHORIZATION: u.auth } },
        // the defaults win over the batch request's
        { path: rec(u, 'a') },
        { path: rec(other, 'a'), headers: { Authorization: other.auth } },
      ],
    }, { Authorization: u.auth });
    assert.equal(res.status, 200);
    const r = res.json.responses;
    assert.equal(r[0].status, 200);
    assert.equal(r[0].body.data.payload, 'mine');
    assert.equal(r[1].status, 401);
    assert.equal(r[2].body.data.payload, 'theirs');

    // the batch request's headers alone are enough
    const res2 = await batch({ requests: [{ path: rec(u, 'a') }] }, { Authorization: u.auth });
    assert.equal(res2.json.responses[0].status, 200);
    // and the batch itself needs no auth
    const res3 = await batch({ requests: [{ path: '/' }, { path: rec(u, 'a') }] });
    assert.equal(res3.status, 200);
    assert.equal(res3.json.responses[0].status, 200);
    assert.equal(res3.json.responses[0].body.project_name, 'syncto');
    assert.equal(res3.json.responses[1].status, 401);
    assert.equal(res3.json.responses[1].body.errno, 104);
  });

  it('merges defaults recursively without overriding', async () => {
    const u = newUser();
    const seq = await lastSeq();
    const res = await batch({
      defaults: { method: 'PUT', headers: { Authorization: u.auth }, body: { data: { payload: 'd', sortindex: 4 } } },
      requests: [
        { path: rec(u, 'a'), body: { data: { payload: 'own' } } },
        { path: rec(u, 'b') },
        { path: rec(u, 'a'), method: 'GET' },
      ],
    });
    assert.equal(res.status, 200, res.text);
    const r = res.json.responses;
    assert.deepEqual(r.map((x) => x.status), [200, 200, 200]);
    assert.equal(r[0].body.data.payload, 'own');
    assert.equal(r[0].body.data.sortindex, 4);
    assert.equal(r[1].body.data.payload, 'd');
    assert.equal(r[2].body.data.payload, 'own');
    const puts = (await logSince(seq)).filter((e) => e.method === 'PUT');
    assert.deepEqual(puts.map((e) => JSON.parse(e.body)), [{ payload: 'own', sortindex: 4 }, { payload: 'd', sortindex: 4 }]);
  });

  it('prefixes /v1, decodes paths and keeps query strings', async () => {
    const u = newUser();
    const ts = await seed(u, 'tabs', ['{g-1}', 'b', 'c'].map((id) => ({ id, payload: id })));
    const res = await batch({
      defaults: { headers: { Authorization: u.auth } },
      requests: [
        { path: `/v1${rec(u, 'b')}` },
        { path: rec(u, '{g-1}') },
        { path: rec(u, '%7Bg-1%7D') },
        { path: `/buckets/${u.bucket}/collections/tabs/records?_limit=1&_sort=oldest` },
        { method: 'HEAD', path: rec(u, 'b') },
      ],
    });
    assert.equal(res.status, 200, res.text);
    const r = res.json.responses;
    assert.deepEqual(r.map((x) => x.status), [200, 200, 200, 200, 200]);
    assert.equal(r[0].path, `/v1${rec(u, 'b')}`);
    assert.equal(r[1].path, `/v1${rec(u, '{g-1}')}`);
    assert.equal(r[2].path, `/v1${rec(u, '{g-1}')}`);
    assert.deepEqual(r[1].body, r[2].body);
    assert.equal(r[1].body.data.id, '{g-1}');
    assert.equal(r[3].body.data.length, 1);
    assert.match(r[3].headers['Next-Page'],
      new RegExp(`^${stack.v1}/buckets/${u.bucket}/collections/tabs/records\\?_limit=1&_sort=oldest&_token=\\w+$`));
    assert.equal(r[3].headers['Total-Records'], undefined);
    assert.equal(r[3].headers.ETag, `"${ts}"`);
    assert.equal(r[4].body, '');
    assert.equal(r[4].headers.ETag, `"${ts}"`);
  });

  it('keeps 4xx answers inside a 200', async () => {
    const u = newUser();
    const res = await batch({
      defaults: { headers: { Authorization: u.auth } },
      requests: [
        { path: rec(u, 'missing') },
        { path: `/buckets/${u.bucket}/collections/tabs/records?_since=soon` },
        { method: 'PUT', path: rec(u, 'x', 'meta'), body: { data: { payload: 'x' } } },
        { method: 'POST', path: `/buckets/${u.bucket}/collections/tabs/records`, body: { data: {} } },
        { method: 'PATCH', path: rec(u, 'x'), body: { data: {} } },
        { method: 'TRACE', path: rec(u, 'x') },
        { path: '/nowhere' },
        { method: 'PUT', path: rec(u, 'x'), body: { nodata: 1 } },
      ],
    });
    assert.equal(res.status, 200, res.text);
    const r = res.json.responses;
    assert.deepEqual(r.map((x) => x.status), [404, 400, 405, 405, 405, 405, 404, 400]);
    assert.deepEqual(r.map((x) => x.body.errno), [110, 107, 115, 115, 115, 115, 111, 107]);
    assert.equal(r[1].body.message, '_since should be a number.');
    assert.equal(r[2].body.message, 'Endpoint disabled for this collection in configuration.');
  });

  it('fails as a whole on a 5xx, after the writes before it', async () => {
    const u = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    await fault({ match: { role: 'storage', method: 'GET', pathRegex: '/storage/tabs/boom$' }, status: 500, body: 0 });
    const seq = await lastSeq();
    const res = await batch({
      defaults: { headers: { Authorization: u.auth } },
      requests: [
        { method: 'PUT', path: rec(u, 'first'), body: { data: { payload: '1', sortindex: 1 } } },
        { path: rec(u, 'boom') },
        { method: 'PUT', path: rec(u, 'last'), body: { data: { payload: '2', sortindex: 1 } } },
      ],
    });
    assertError(res, 503, 201, 'Service Unavailable', 'retry later');
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    const log = await logSince(seq);
    assert.deepEqual(log.map((e) => `${e.method} ${e.path.split('/').pop()}`), ['PUT first', 'GET boom']);
  });

  it('validates the body', async () => {
    const many = Array.from({ length: 26 }, () => ({ path: '/' }));
    const cases = [
      ['not json', 'body: Invalid JSON'],
      ['', 'body: Invalid JSON'],
      ['[]', 'body: Should be an object'],
      [{}, 'requests in body: Required'],
      [{ requests: {} }, 'requests in body: Should be an array'],
      [{ requests: [], foo: 1 }, 'foo in body: Unrecognized key'],
      [{ requests: ['x'] }, 'requests.0 in body: Should be an object'],
      [{ requests: [{ path: '/', foo: 1 }] }, 'requests.0.foo in body: Unrecognized key'],
      [{ requests: [{ path: '/', method: 'get' }] }, 'requests.0.method in body'],
      [{ requests: [{ path: '/', method: 'OPTIONS' }] }, 'requests.0.method in body'],
      [{ requests: [{ path: '/' }, {}] }, 'requests.1.path in body: Required'],
      [{ requests: [{ path: 'v1/' }] }, 'requests.0.path in body'],
      [{ requests: [{ path: 7 }] }, 'requests.0.path in body'],
      [{ requests: [{ path: '/', headers: { A: 1 } }] }, 'requests.0.headers.A in body'],
      [{ requests: [{ path: '/', headers: [] }] }, 'requests.0.headers in body'],
      [{ requests: [{ path: '/', body: 'x' }] }, 'requests.0.body in body'],
      [{ requests: [], defaults: [] }, 'defaults in body'],
      [{ requests: [], defaults: { bogus: 1 } }, 'defaults.bogus in body'],
      [{ requests: many }, 'requests in body: Number of requests is limited to 25'],
      [{ requests: [{ path: '/batch' }] }, 'Recursive call on /batch endpoint is forbidden.'],
      [{ requests: [{ path: '/v1/batch' }] }, 'Recursive call on /batch endpoint is forbidden.'],
      [{ requests: [{ path: '/v1/batch/?x=1' }] }, 'Recursive call on /batch endpoint is forbidden.'],
      [{ defaults: { path: '/batch' }, requests: [{}] }, 'Recursive call on /batch endpoint is forbidden.'],
    ];
    for (const [body, message] of cases) {
      const res = await batch(body);
      assertError(res, 400, 107, 'Invalid parameters', message);
    }
    let res = await batch({ requests: [] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { responses: [] });
    res = await batch({ requests: many.slice(1) });
    assert.equal(res.status, 200);
    assert.equal(res.json.responses.length, 25);
    // a record id that merely contains "batch" is not the batch endpoint
    const u = newUser();
    res = await batch({ requests: [{ path: rec(u, 'batch') }] }, { Authorization: u.auth });
    assert.equal(res.json.responses[0].status, 404);
    // GET /v1/ advertises the same limit
    const hello = await (await fetch(`${stack.v1}/`)).json();
    assert.equal(hello.settings.batch_max_requests, 25);
  });

  it('asks the tokenserver once per credential', async () => {
    const u = newUser();
    const v = newUser();
    await seed(u, 'tabs', [{ id: 'a', payload: 'x' }]);
    const seq = await lastSeq();
    const requests = [];
    for (let i = 0; i < 10; i++) requests.push({ path: rec(u, i % 2 ? 'a' : `m${i}`) });
    requests.push({ path: rec(v, 'a'), headers: { Authorization: v.auth } });
    const res = await batch({ defaults: { headers: { Authorization: u.auth } }, requests });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.responses.map((x) => x.status), [404, 200, 404, 200, 404, 200, 404, 200, 404, 200, 404]);
    const tokens = await logSince(seq, 'tokenserver');
    assert.equal(tokens.length, 2);
    assert.equal((await logSince(seq, 'storage')).length, 11);
  });

  it('keeps writes in order between runs of reads, follow-ups included', async () => {
    const u = newUser();
    const t0 = await seed(u, 'tabs', [{ id: 'a', payload: 'p1', sortindex: 1 }]);
    const seq = await lastSeq();
    const put = (p) => ({ method: 'PUT', path: rec(u, 'a'), body: { data: { payload: p, sortindex: 1 } } });
    const res = await batch({
      defaults: { headers: { Authorization: u.auth } },
      requests: [
        { path: rec(u, 'a') }, put('p2'), { path: rec(u, 'a') },
        { path: rec(u, 'a'), headers: { 'If-Match': `"${t0}"` } }, put('p3'), { path: rec(u, 'a') },
      ],
    });
    const r = res.json.responses;
    assert.deepEqual(r.map((x) => x.status), [200, 200, 200, 412, 200, 200]);
    assert.deepEqual([r[0], r[2], r[5]].map((x) => x.body.data.payload), ['p1', 'p2', 'p3']);
    assert.equal(r[3].body.details.existing.payload, 'p2');
    const log = await logSince(seq);
    assert.deepEqual(log.map((e) => e.method), ['GET', 'PUT', 'GET', 'GET', 'GET', 'PUT', 'GET']);
  });

  it('carries Backoff and Alert of sub-responses to the batch answer', async () => {
    const u = newUser();
    await fault({ match: { role: 'storage', method: 'GET' }, headers: { 'X-Weave-Backoff': '30', 'X-Weave-Alert': 'hi' } });
    const res = await batch({ requests: [{ path: rec(u, 'a') }] }, { Authorization: u.auth });
    assert.equal(res.status, 200);
    assert.equal(res.json.responses[0].headers.Backoff, '30');
    assert.equal(res.headers.get('backoff'), '30');
    assert.equal(res.headers.get('alert'), 'hi');
  });

  it('sends a run of reads to Sync concurrently', async () => {
    const LATENCY = 50;
    const u = newUser();
    const ids = Array.from({ length: 25 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    await seed(u, 'tabs', ids.map((id) => ({ id, payload: id })));
    const one = () => fetch(`${stack.v1}${rec(u, 'r00')}`, { headers: { Authorization: u.auth } });
    assert.equal((await one()).status, 200); // credentials cached from here on
    await fault({ match: { role: 'storage' }, latencyMs: LATENCY });

    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const singles = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const r = await one();
      await r.text();
      singles.push(performance.now() - t);
    }
    const body = { defaults: { headers: { Authorization: u.auth } }, requests: ids.map((id) => ({ path: rec(u, id) })) };
    const batches = [];
    let seq;
    for (let i = 0; i < 3; i++) {
      seq = await lastSeq();
      const t = performance.now();
      const res = await batch(body);
      batches.push(performance.now() - t);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json.responses.map((x) => x.body.data.id), ids);
    }
    const single = median(singles);
    const whole = median(batches);
    process.stderr.write(`batch of 25 GETs: ${whole.toFixed(1)} ms; one GET: ${single.toFixed(1)} ms ` +
      `(upstream latency ${LATENCY} ms)\n`);
    assert.ok(single >= LATENCY, `one GET took ${single} ms`);
    assert.ok(whole < 3 * single, `batch ${whole.toFixed(1)} ms vs one GET ${single.toFixed(1)} ms`);
    // Sync saw the calls overlap: most arrived before the first one was answered
    const log = await logSince(seq);
    assert.equal(log.length, 25);
    const firstDone = Math.min(...log.map((e) => e.time + e.durationMs));
    assert.ok(log.filter((e) => e.time < firstDone).length >= 10, 'calls overlapped');
  });
});
