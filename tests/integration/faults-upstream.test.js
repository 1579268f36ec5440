'use strict';
// Fault matrix, upstream part: what a Kinto client gets through nginx when
// the tokenserver or the Sync node fails in each way a network service can
// fail, how long it waits for that answer, and that the next request after
// the fault is gone succeeds without restarting anything.
//
// Each row asserts the Kinto answer (status, errno, message, Retry-After,
// CORS headers), a "did not hang" bound (the configured upstream timeout of
// every call the request makes, plus MARGIN_MS), and the recovery. The
// answers are the ones in docs/operations.md ("Upstream faults").
//
// The tokenserver and the Sync node are reached through TCP forwarders
// (tests/lib/tcpproxy.js) so that they can be taken down (connection
// refused) and brought back on the same port while the test Sync server
// keeps its state; the other faults are the test Sync server's rules.
//
//   SYNCTO_BUILD_DIR=build node --test tests/integration/faults-upstream.test.js

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/stack');
const { TcpProxy } = require('../lib/tcpproxy');
const sync = require('../lib/control');
const { JSON_CT } = require('../lib/kinto');
const { bearerUser, browserIdUser } = require('../lib/users');

// Short upstream timeouts, so that the slow rows stay short.
const TS_TIMEOUT_S = 1;
const SYNC_TIMEOUT_S = 1.5;
const RETRY_AFTER = '7'; // syncto.retry_after_seconds: a value no upstream sends here
const MAX_UPSTREAM = 65536; // syncto.max_upstream_response_bytes, its minimum
// Scheduling and process start-up on a shared 2-core machine, on top of
// the configured timeouts: generous, since it only tells "answered" from
// "hung".
const MARGIN_MS = 2500;
const ORIGIN = 'https://app.example.org';

const UNREACHABLE = 'Unable to reach the service. Check your internet connection or firewall configuration.';
const UNAVAILABLE = 'Service temporary unavailable due to overloading or maintenance, please retry later.';

let stack;
const tsProxy = new TcpProxy();
const syncProxy = new TcpProxy();

before(async () => {
  const tsPort = await tsProxy.listen();
  const syncPort = await syncProxy.listen();
  stack = await startStack({
    syncserverArgs: ['--node-url', `http://127.0.0.1:${syncPort}`],
    env: {
      SYNCTO_WORKERS: '2',
      SYNCTO_THREADS: '8',
      SYNCTO_TOKEN_SERVER_URL: `http://127.0.0.1:${tsPort}/token/`,
      SYNCTO_TOKEN_SERVER_CONNECT_TIMEOUT_SECONDS: String(TS_TIMEOUT_S),
      SYNCTO_TOKEN_SERVER_TIMEOUT_SECONDS: String(TS_TIMEOUT_S),
      SYNCTO_TOKEN_SERVER_HEARTBEAT_TIMEOUT_SECONDS: String(TS_TIMEOUT_S),
      SYNCTO_SYNC_CONNECT_TIMEOUT_SECONDS: String(SYNC_TIMEOUT_S),
      SYNCTO_SYNC_TIMEOUT_SECONDS: String(SYNC_TIMEOUT_S),
      SYNCTO_MAX_UPSTREAM_RESPONSE_BYTES: String(MAX_UPSTREAM),
      SYNCTO_RETRY_AFTER_SECONDS: RETRY_AFTER,
      SYNCTO_RECORD_TABS_PUT_ENABLED: 'true',
      SYNCTO_RECORD_TABS_DELETE_ENABLED: 'true',
    },
  });
  tsProxy.target = { port: stack.sync.port };
  syncProxy.target = { port: stack.sync.port };
});

after(async () => {
  if (stack) await stack.stop();
  await tsProxy.down();
  await syncProxy.down();
});

afterEach(async (t) => {
  if (!stack) return;
  stack.printLogsIfFailed(t);
  await control('DELETE', '/faults');
  await tsProxy.up();
  await syncProxy.up();
});

// ---- helpers ------------------------------------------------------------

const control = (method, path, body) => sync.control(stack, method, path, body);
const fault = async (rule) => (await control('POST', '/faults', rule)).rules[0];
const lastSeq = () => sync.lastSeq(stack);
const logSince = (seq, role) => sync.logSince(stack, seq, role);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const recordsUrl = (u, coll = 'tabs') => `${stack.v1}/buckets/${u.bucket}/collections/${coll}/records`;

/** A request with an Origin, timed: {status, headers, json, text, ms}. */
async function call(url, { method = 'GET', headers = {}, body } = {}) {
  const t0 = Date.now();
  const res = await fetch(url, {
    method,
    headers: { Origin: ORIGIN, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const ms = Date.now() - t0;
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json, ms };
}

/** Kinto error body and headers, CORS included. */
function assertKintoError(res, status, errno, message) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers.get('content-type'), JSON_CT);
  assert.deepEqual(Object.keys(res.json).sort(), ['code', 'errno', 'error', 'message']);
  assert.equal(res.json.code, status);
  assert.equal(res.json.errno, errno);
  if (message instanceof RegExp) assert.match(res.json.message, message);
  else if (message !== undefined) assert.equal(res.json.message, message);
  assertCors(res);
}

function assertCors(res) {
  assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN);
  const expose = (res.headers.get('access-control-expose-headers') || '').split(/,\s*/);
  for (const h of ['Retry-After', 'Backoff', 'Alert', 'ETag']) assert.ok(expose.includes(h), `exposes ${h}`);
}

/** 503 errno 201 with `message`, Retry-After `retryAfter`, within `timeouts` upstream timeouts. */
function assert503(res, message, { retryAfter = RETRY_AFTER, boundMs }) {
  assertKintoError(res, 503, 201, message);
  assert.equal(res.headers.get('retry-after'), retryAfter);
  assertBound(res, boundMs);
}

function assertBound(res, boundMs) {
  assert.ok(res.ms <= boundMs, `answered after ${res.ms} ms, bound ${boundMs} ms`);
}

const tsBound = (calls = 1) => calls * TS_TIMEOUT_S * 1000 + MARGIN_MS;
const syncBound = (calls = 1) => calls * SYNC_TIMEOUT_S * 1000 + MARGIN_MS;

/** A user whose credentials are cached (one successful request made). */
async function warmUser() {
  const u = bearerUser();
  const res = await call(recordsUrl(u), { headers: u.headers });
  assert.equal(res.status, 200, res.text);
  return u;
}

/** The client request succeeds again. */
async function assertRecovered(u) {
  const res = await call(recordsUrl(u), { headers: u.headers });
  assert.equal(res.status, 200, res.text);
  assertCors(res);
  assert.equal(res.headers.get('retry-after'), null);
  return res;
}

/** Forgets the back-off deadlines upstream 503s record (the workers re-read within 1 s). */
async function clearBackoff() {
  await stack.pg.psql("DELETE FROM cache WHERE key LIKE 'backoff_%'");
  await sleep(1100);
}

const tokenCalls = (entries) => entries.filter((e) => e.role === 'tokenserver' && e.path === '/token/1.0/sync/1.5');

// ---- tokenserver ----------------------------------------------------------

test('tokenserver down (connection refused): 503 unreachable at once, heartbeat sync false, then back', async () => {
  await tsProxy.down();
  const u = bearerUser();
  const res = await call(recordsUrl(u), { headers: u.headers });
  assert503(res, UNREACHABLE, { boundMs: MARGIN_MS });
  const hb = await call(`${stack.v1}/__heartbeat__`);
  assert.equal(hb.status, 503);
  assert.deepEqual(hb.json, { cache: true, sync: false });
  assertBound(hb, tsBound());

  await tsProxy.up();
  await assertRecovered(u);
  assert.deepEqual((await call(`${stack.v1}/__heartbeat__`)).json, { cache: true, sync: true });
});

test('tokenserver slower than its timeout: 503 unreachable after the timeout, then back', async () => {
  await fault({ match: { role: 'tokenserver' }, latencyMs: 4000 });
  const u = browserIdUser();
  const res = await call(recordsUrl(u), { headers: u.headers });
  assert503(res, UNREACHABLE, { boundMs: tsBound() });
  assert.ok(res.ms >= TS_TIMEOUT_S * 1000 - 50, `waited for the timeout (${res.ms} ms)`);
  await control('DELETE', '/faults');
  await assertRecovered(u);
});

test('tokenserver slower than its timeout, a burst with one new credential: each waits at most two timeouts + 1 s', async () => {
  // The first request takes the credential's lock and calls the
  // tokenserver; the others wait for its answer (at most the timeout + 1 s),
  // then, as it failed, call the tokenserver themselves.
  await fault({ match: { role: 'tokenserver' }, latencyMs: 4000 });
  const u = bearerUser();
  const burst = await Promise.all(Array.from({ length: 4 }, () => call(recordsUrl(u), { headers: u.headers })));
  for (const res of burst) assert503(res, UNREACHABLE, { boundMs: tsBound(2) + 1000 });
  await control('DELETE', '/faults');
  const seq = await lastSeq();
  const again = await Promise.all(Array.from({ length: 4 }, () => call(recordsUrl(u), { headers: u.headers })));
  for (const res of again) assert.equal(res.status, 200, res.text);
  assert.equal(tokenCalls(await logSince(seq)).length, 1, 'one tokenserver call for the burst once it answers');
});

test('tokenserver 401: 401 errno 105, no Retry-After, nothing cached', async () => {
  const rule = await fault({ match: { role: 'tokenserver' }, status: 401,
    body: { status: 'invalid-credentials', errors: [{ location: 'body', name: '', description: 'Unauthorized' }] } });
  const u = bearerUser();
  const res = await call(recordsUrl(u), { headers: u.headers });
  assertKintoError(res, 401, 105, /^401 Unauthorized: \{"status":"invalid-credentials"/);
  assert.equal(res.headers.get('retry-after'), null);
  assertBound(res, tsBound());
  await control('DELETE', `/faults/${rule.id}`);
  const seq = await lastSeq();
  await assertRecovered(u);
  assert.equal(tokenCalls(await logSince(seq)).length, 1, 'the refusal was not cached');
});

test('tokenserver 503: its Retry-After is passed on (the configured one without it)', async () => {
  await fault({ match: { role: 'tokenserver' }, status: 503, body: { status: 'error', errors: [] },
    headers: { 'Retry-After': '17' }, times: 1 });
  let u = bearerUser();
  let res = await call(recordsUrl(u), { headers: u.headers });
  assert503(res, UNAVAILABLE, { retryAfter: '17', boundMs: tsBound() });
  await assertRecovered(u);

  await fault({ match: { role: 'tokenserver' }, status: 503, body: { status: 'error', errors: [] }, times: 1 });
  u = bearerUser();
  res = await call(recordsUrl(u), { headers: u.headers });
  assert503(res, UNAVAILABLE, { boundMs: tsBound() });
  await assertRecovered(u);
  await clearBackoff();
});

test('tokenserver garbage (200 that is not JSON, or JSON without credentials): 503, then back', async () => {
  for (const rule of [
    { status: 200, body: '<html>Welcome to our captive portal</html>', headers: { 'Content-Type': 'text/html' } },
    { status: 200, body: { status: 'ok' } },
    { status: 200, body: { id: 'x', key: 'y', uid: 1, api_endpoint: 'ftp://example.org/1.5/1', duration: 300 } },
  ]) {
    await fault({ match: { role: 'tokenserver' }, ...rule, times: 1 });
    const u = bearerUser();
    const res = await call(recordsUrl(u), { headers: u.headers });
    assert503(res, UNAVAILABLE, { boundMs: tsBound() });
    await assertRecovered(u);
  }
});

test('tokenserver truncated body (Content-Length larger than what is sent): 503 unreachable, then back', async () => {
  const u = bearerUser();
  await fault({ match: { role: 'tokenserver' }, truncateBytes: 40, times: 1 });
  const seq = await lastSeq();
  const res = await call(recordsUrl(u), { headers: u.headers });
  assert503(res, UNREACHABLE, { boundMs: tsBound() });
  const cut = tokenCalls(await logSince(seq, 'tokenserver'));
  assert.equal(cut.length, 1);
  assert.equal(cut[0].response.truncatedAt, 40);
  await assertRecovered(u);
});

// ---- Sync -----------------------------------------------------------------

test('Sync down (connection refused): 503 unreachable at once, then back', async () => {
  const u = await warmUser();
  await syncProxy.down();
  const put = await call(`${recordsUrl(u)}/r1`, { method: 'PUT', headers: u.headers, body: { data: { payload: 'p' } } });
  assert503(put, UNREACHABLE, { boundMs: MARGIN_MS });
  const res = await call(recordsUrl(u), { headers: u.headers });
  assert503(res, UNREACHABLE, { boundMs: MARGIN_MS });
  await syncProxy.up();
  const back = await assertRecovered(u);
  assert.deepEqual(back.json, { data: [] }, 'the PUT refused while Sync was down wrote nothing');
});

test('Sync slower than its timeout: 503 unreachable after the timeout, then back', async () => {
  const u = await warmUser();
  await fault({ match: { role: 'storage' }, latencyMs: 5000 });
  const res = await call(recordsUrl(u), { headers: u.headers });
  assert503(res, UNREACHABLE, { boundMs: syncBound() });
  assert.ok(res.ms >= SYNC_TIMEOUT_S * 1000 - 50, `waited for the timeout (${res.ms} ms)`);
  await control('DELETE', '/faults');
  await assertRecovered(u);
});

test('Sync slow in a batch: the batch fails as a whole, within one timeout per sequential call', async () => {
  const u = await warmUser();
  await fault({ match: { role: 'storage' }, latencyMs: 5000 });
  const requests = [1, 2, 3].map((i) => ({ method: 'PUT', path: `/buckets/${u.bucket}/collections/tabs/records/b${i}`,
    body: { data: { payload: `p${i}` } } }));
  const seq = await lastSeq();
  const res = await call(`${stack.v1}/batch`, { method: 'POST', headers: u.headers, body: { requests } });
  assert503(res, UNREACHABLE, { boundMs: syncBound(1) });
  const sent = (await logSince(seq, 'storage')).length;
  assert.equal(sent, 1, 'the writes after the one that timed out were not sent');
  await control('DELETE', '/faults');
  await assertRecovered(u);
});

test('Sync 5xx: 503 errno 201, Retry-After from a Sync 503 or the configured one, then back', async () => {
  const u = await warmUser();
  for (const [status, headers, retryAfter] of [
    [500, {}, RETRY_AFTER],
    [502, {}, RETRY_AFTER],
    [504, {}, RETRY_AFTER],
    [503, { 'Retry-After': '10' }, '10'],
  ]) {
    await fault({ match: { role: 'storage' }, status, body: 0, headers, times: 1 });
    const res = await call(recordsUrl(u), { headers: u.headers });
    assert503(res, UNAVAILABLE, { retryAfter, boundMs: syncBound() });
    await assertRecovered(u);
  }
  await clearBackoff();
});

test('Sync garbage JSON: 503 errno 201, then back', async () => {
  const u = await warmUser();
  // A write answered without any timestamp (no X-Last-Modified, no usable
  // body) is unusable too: a made-up last_modified would mislead the client.
  for (const [method, body, url] of [
    ['GET', '[{"id":"a","payload":', recordsUrl(u)],
    ['GET', '{"not":"a list"}', recordsUrl(u)],
    ['GET', '"a string"', `${recordsUrl(u)}/g1`],
    ['PUT', 'not a timestamp', `${recordsUrl(u)}/g1`],
    ['PUT', '{"modified":"soon"}', `${recordsUrl(u)}/g1`],
    ['DELETE', '', `${recordsUrl(u)}/g1`],
  ]) {
    await fault({ match: { role: 'storage', method }, status: 200, body, times: 1 });
    const res = await call(url, { method, headers: u.headers, body: method === 'PUT' ? { data: { payload: 'p' } } : undefined });
    assert503(res, UNAVAILABLE, { boundMs: syncBound() });
    await assertRecovered(u);
  }
});

test('Sync truncated body (Content-Length larger than what is sent): 503 unreachable, then back', async () => {
  const u = await warmUser();
  await sync.seed(stack, u, 'tabs', [{ id: 'r1', payload: 'x'.repeat(500) }]);
  await fault({ match: { role: 'storage' }, truncateBytes: 100, times: 1 });
  const res = await call(recordsUrl(u), { headers: u.headers });
  assert503(res, UNREACHABLE, { boundMs: syncBound() });
  const back = await assertRecovered(u);
  assert.equal(back.json.data.length, 1);
});

test('Sync connection reset mid-body: 503 unreachable, then back', async () => {
  const u = await warmUser();
  await sync.seed(stack, u, 'tabs', [{ id: 'r1', payload: 'x'.repeat(500) }]);
  await fault({ match: { role: 'storage' }, truncateBytes: 100, reset: true, times: 1 });
  const res = await call(recordsUrl(u), { headers: u.headers });
  assert503(res, UNREACHABLE, { boundMs: syncBound() });
  const back = await assertRecovered(u);
  assert.equal(back.json.data.length, 1);
});

test('Sync answer over max_upstream_response_bytes: 503 errno 201, then back', async () => {
  const u = await warmUser();
  // A well-formed list, just over the cap.
  const item = { id: 'big', modified: 1700000000.0, payload: 'x'.repeat(1000) };
  const n = Math.ceil(MAX_UPSTREAM / JSON.stringify(item).length) + 1;
  const body = JSON.stringify(Array.from({ length: n }, (_, i) => ({ ...item, id: `big${i}` })));
  assert.ok(body.length > MAX_UPSTREAM);
  await fault({ match: { role: 'storage', method: 'GET' }, status: 200, body, times: 1 });
  const res = await call(recordsUrl(u), { headers: u.headers });
  assert503(res, UNAVAILABLE, { boundMs: syncBound() });
  await assertRecovered(u);
});

test('Sync 401: exactly one credentials refresh, then 401 errno 105; back once Sync accepts', async () => {
  const u = await warmUser();
  await fault({ match: { role: 'storage' }, status: 401, body: 0 });
  let seq = await lastSeq();
  const res = await call(recordsUrl(u), { headers: u.headers });
  assertKintoError(res, 401, 105, '401 Unauthorized: 0');
  assert.equal(res.headers.get('retry-after'), null);
  // two Sync calls, the refresh between them, within their timeouts
  assertBound(res, syncBound(2) + tsBound(1) - MARGIN_MS);
  const entries = await logSince(seq);
  assert.equal(tokenCalls(entries).length, 1, 'one refresh');
  assert.deepEqual(entries.filter((e) => e.role === 'storage').map((e) => e.status), [401, 401]);

  await control('DELETE', '/faults');
  seq = await lastSeq();
  await assertRecovered(u);
  assert.equal(tokenCalls(await logSince(seq)).length, 0, 'the refreshed credentials were cached');
});
