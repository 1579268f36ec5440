'use strict';
// The upstream path end to end, through nginx and the worker pool, against
// the test Sync server: both auth flows reach Sync with valid Hawk, the
// PostgreSQL credential cache (single flight across workers, no plaintext,
// survival of a PostgreSQL outage), tokenserver and Sync failures, the one
// retry after a Sync 401, the shared back-off and the User-Agent.

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startStack } = require('../lib/stack');
const { freePort, waitFor } = require('../lib/proc');
const sync = require('../lib/control');
const { KCA, bearerUser, browserIdUser } = require('../lib/users');
const creds = require('../syncserver/credentials');

let stack;

before(async () => {
  stack = await startStack({ env: { SYNCTO_WORKERS: '4', SYNCTO_THREADS: '8' } });
});

after(async () => {
  if (stack) await stack.stop();
});

afterEach((t) => stack && stack.printLogsIfFailed(t));

// ---- helpers ------------------------------------------------------------

const control = (method, path, body) => sync.control(stack, method, path, body);
const lastSeq = () => sync.lastSeq(stack);
const logSince = (seq, role) => sync.logSince(stack, seq, role);

const recordsUrl = (cs, coll = 'tabs') => `${stack.v1}/buckets/${cs}/collections/${coll}/records`;

/** GET through node:http, which sends only the headers given (no default User-Agent). */
function rawGet(url, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function getJson(url, headers) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

function assertKintoError(res, status, errno, messagePart) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.headers.get('content-type'), 'application/json; charset=UTF-8');
  assert.equal(res.body.code, status);
  assert.equal(res.body.errno, errno);
  if (messagePart !== undefined) assert.ok(res.body.message.includes(messagePart), res.body.message);
  assert.equal(res.body.info, undefined);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Forgets every recorded back-off: the rows, then the workers' memos, which
 * re-read PostgreSQL at most once a second.
 */
async function clearBackoff() {
  await stack.pg.psql("DELETE FROM cache WHERE key LIKE 'backoff_%'");
  await sleep(1100);
}

const tokenCallsFor = (entries, credential) =>
  entries.filter((e) => e.role === 'tokenserver' && (e.headers.authorization || '').includes(credential));

// ---- both flows ---------------------------------------------------------

test('Bearer + X-KeyID reaches Sync with a valid Hawk signature', async () => {
  const u = bearerUser();
  const seq = await lastSeq();
  const res = await getJson(recordsUrl(u.clientState), u.headers);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, { data: [] });

  const entries = await logSince(seq);
  const tok = tokenCallsFor(entries, u.token);
  assert.equal(tok.length, 1);
  assert.equal(tok[0].path, '/token/1.0/sync/1.5');
  assert.match(tok[0].query, /^duration=\d+$/);
  assert.equal(tok[0].headers['x-keyid'], u.keyId);
  assert.equal(tok[0].headers['x-client-state'], undefined);
  assert.equal(tok[0].status, 200);

  const sync = entries.filter((e) => e.role === 'storage');
  assert.equal(sync.length, 1);
  assert.equal(sync[0].hawk.ok, true, JSON.stringify(sync[0].hawk));
  assert.match(sync[0].path, /^\/1\.5\/\d+\/storage\/tabs$/);
  assert.match(sync[0].query, /^full=1/);
  assert.equal(sync[0].hawk.hash, false);
  assert.equal(sync[0].headers.host, sync[0].hawk.port ? `${sync[0].hawk.host}:${sync[0].hawk.port}` : sync[0].hawk.host);
  assert.equal(sync[0].status, 200);
});

test('BrowserID reaches Sync with a valid Hawk signature', async () => {
  const u = browserIdUser();
  const seq = await lastSeq();
  const res = await getJson(recordsUrl(u.clientState), u.headers);
  assert.equal(res.status, 200, JSON.stringify(res.body));

  const entries = await logSince(seq);
  const tok = tokenCallsFor(entries, u.assertion);
  assert.equal(tok.length, 1);
  assert.equal(tok[0].headers.authorization, `BrowserID ${u.assertion}`);
  assert.equal(tok[0].headers['x-client-state'], u.clientState);
  assert.equal(tok[0].headers['x-keyid'], undefined);
  const sync = entries.filter((e) => e.role === 'storage');
  assert.equal(sync.length, 1);
  assert.equal(sync[0].hawk.ok, true, JSON.stringify(sync[0].hawk));
});

test('bucket syncto + X-Client-State works and answers a soft-eol Alert', async () => {
  const u = browserIdUser();
  const res = await getJson(`${stack.v1}/buckets/syncto/collections/tabs/records`,
    { ...u.headers, 'X-Client-State': u.clientState });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const alert = JSON.parse(res.headers.get('alert'));
  assert.deepEqual(alert, {
    code: 'soft-eol',
    message: 'X-Client-State header is deprecated and should not be provided anymore.',
    url: 'https://syncto.readthedocs.io/',
  });
});

test('a {guid} record id is signed and sent with its braces', async () => {
  const u = bearerUser();
  const id = '{6a2c0e6b-5b5f-4d0a-9f3e-0c6f1d2e3a4b}';
  const seq = await lastSeq();
  const res = await getJson(`${recordsUrl(u.clientState)}/${encodeURIComponent(id)}`, u.headers);
  assertKintoError(res, 404, 110, '404 Not Found');
  const sync = (await logSince(seq, 'storage'));
  assert.equal(sync.length, 1);
  assert.ok(sync[0].path.endsWith(`/storage/tabs/${id}`), sync[0].path);
  assert.equal(sync[0].hawk.ok, true, JSON.stringify(sync[0].hawk));
});

// ---- refusals before any upstream call ---------------------------------

test('auth refusals: 401 errno 104, no tokenserver call, never WWW-Authenticate: Basic', async () => {
  const u = bearerUser();
  const other = creds.randomClientState();
  const seq = await lastSeq();
  const cases = [
    [recordsUrl(u.clientState), {}, 'Provide a BID assertion Authorization header.'],
    [recordsUrl(u.clientState), { Authorization: 'Basic Zm9vOmJhcg==' }, 'Provide a BID assertion Authorization header.'],
    [`${stack.v1}/buckets/syncto/collections/tabs/records`, { Authorization: 'BrowserID abcd' },
      'Provide the tokenserver X-Client-State header.'],
    [`${stack.v1}/buckets/1234/collections/tabs/records`, { Authorization: 'BrowserID abcd' },
      'The provided bucket ID is incorrect.'],
    [recordsUrl(other), u.headers, 'The X-KeyID header does not match the bucket ID.'],
    [recordsUrl(u.clientState), { Authorization: `Bearer ${u.token}` },
      'Provide the X-KeyID header along with the Bearer token.'],
  ];
  for (const [url, headers, message] of cases) {
    const res = await getJson(url, headers);
    assertKintoError(res, 401, 104, message);
    assert.equal(res.body.error, 'Unauthorized');
    assert.ok(!/basic/i.test(res.headers.get('www-authenticate') || ''), 'no Basic challenge');
  }
  assert.equal((await logSince(seq)).length, 0, 'nothing reached the Sync server');
});

// ---- the credential cache ----------------------------------------------

test('20 concurrent requests with one credential across 4 workers: one tokenserver call', async () => {
  const u = bearerUser();
  const seq = await lastSeq();
  const results = await Promise.all(Array.from({ length: 20 }, () => getJson(recordsUrl(u.clientState), u.headers)));
  for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
  const entries = await logSince(seq);
  assert.equal(tokenCallsFor(entries, u.token).length, 1);
  const sync = entries.filter((e) => e.role === 'storage');
  assert.equal(sync.length, 20);
  for (const e of sync) assert.equal(e.hawk.ok, true);
});

test('the cache table holds no plaintext credential, token, Hawk id or key', async () => {
  const bid = browserIdUser();
  const oauth = bearerUser();
  const seq = await lastSeq();
  assert.equal((await getJson(recordsUrl(bid.clientState), bid.headers)).status, 200);
  assert.equal((await getJson(recordsUrl(oauth.clientState), oauth.headers)).status, 200);
  const answers = (await logSince(seq, 'tokenserver')).map((e) => JSON.parse(e.response.body));
  assert.equal(answers.length, 2);

  const rows = await stack.pg.psql("SELECT key, value FROM cache WHERE key LIKE 'credentials_%'");
  assert.ok(rows.length >= 2, `cache rows: ${rows.length}`);
  const dump = JSON.stringify(rows);
  const secrets = [bid.assertion, oauth.token, oauth.keyId, bid.clientState, oauth.clientState];
  for (const a of answers) secrets.push(a.id, a.key, a.api_endpoint);
  // also any long-enough piece of them
  for (const s of secrets) {
    assert.ok(!dump.includes(s), 'a secret is in the cache table');
    assert.ok(!dump.includes(s.slice(0, 24)), 'part of a secret is in the cache table');
  }
  for (const r of rows) {
    assert.match(r.key, /^credentials_[0-9a-f]{64}$/);
    assert.match(r.value, /^"?[0-9a-f]+"?$/);
  }
});

test('the same credential with another client state does not reuse the entry', async () => {
  const token = creds.makeOAuthToken();
  const cs1 = creds.randomClientState();
  const cs2 = creds.randomClientState();
  const seq = await lastSeq();
  for (const cs of [cs1, cs2, cs1, cs2]) {
    const res = await getJson(recordsUrl(cs), { Authorization: `Bearer ${token}`, 'X-KeyID': creds.keyIdFor(cs, KCA) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  const tok = tokenCallsFor(await logSince(seq), token);
  assert.equal(tok.length, 2);
  assert.deepEqual(tok.map((e) => e.headers['x-keyid']).sort(),
    [creds.keyIdFor(cs1, KCA), creds.keyIdFor(cs2, KCA)].sort());
});

test('expired credentials: the tokenserver refuses, 401 errno 105, nothing cached', async () => {
  const before = await stack.pg.psql("SELECT count(*) AS n FROM cache WHERE key LIKE 'credentials_%'");
  const bid = browserIdUser({ expMs: Date.now() - 60000 });
  let res = await getJson(recordsUrl(bid.clientState), bid.headers);
  assertKintoError(res, 401, 105, '401 Unauthorized: ');
  assert.ok(res.body.message.includes('invalid-timestamp'), res.body.message);

  const oauth = bearerUser({ expSec: Math.floor(Date.now() / 1000) - 60 });
  const seq = await lastSeq();
  res = await getJson(recordsUrl(oauth.clientState), oauth.headers);
  assertKintoError(res, 401, 105, 'invalid-credentials');
  const tok = tokenCallsFor(await logSince(seq), oauth.token);
  assert.equal(tok.length, 1);
  assert.equal(tok[0].query, '', 'no duration asked for an expired credential');
  const afterRows = await stack.pg.psql("SELECT count(*) AS n FROM cache WHERE key LIKE 'credentials_%'");
  assert.equal(afterRows[0].n, before[0].n);
});

// ---- Sync 401: refresh once --------------------------------------------

test('a Sync 401 evicts the entry and retries once with fresh credentials', async () => {
  const u = bearerUser();
  assert.equal((await getJson(recordsUrl(u.clientState), u.headers)).status, 200);

  // Tokens issued so far are now refused by storage with 401 "0".
  await control('POST', '/expire-tokens', {});
  let seq = await lastSeq();
  let res = await getJson(recordsUrl(u.clientState), u.headers);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  let entries = await logSince(seq);
  assert.equal(tokenCallsFor(entries, u.token).length, 1);
  let sync = entries.filter((e) => e.role === 'storage');
  assert.deepEqual(sync.map((e) => e.status), [401, 200]);
  assert.notEqual(sync[0].hawk.id, sync[1].hawk.id);
  await control('POST', '/expire-tokens', { before: null });

  // The fresh credentials were cached: the next request makes no tokenserver call.
  seq = await lastSeq();
  assert.equal((await getJson(recordsUrl(u.clientState), u.headers)).status, 200);
  assert.equal(tokenCallsFor(await logSince(seq), u.token).length, 0);

  // Storage keeps answering 401: one retry only, then 401 errno 105.
  await control('POST', '/faults', { match: { role: 'storage' }, status: 401, body: 0 });
  try {
    seq = await lastSeq();
    res = await getJson(recordsUrl(u.clientState), u.headers);
    assertKintoError(res, 401, 105, '401 Unauthorized: 0');
    entries = await logSince(seq);
    assert.equal(tokenCallsFor(entries, u.token).length, 1);
    assert.equal(entries.filter((e) => e.role === 'storage').length, 2);
  } finally {
    await control('DELETE', '/faults');
  }
});

// ---- upstream failures ---------------------------------------------------

test('tokenserver failures: 401, 503 with its Retry-After, dropped connection', async () => {
  try {
    await control('POST', '/faults', { match: { role: 'tokenserver' }, status: 503, body: { status: 'error' },
      headers: { 'Retry-After': '17' }, times: 1 });
    let u = bearerUser();
    let res = await getJson(recordsUrl(u.clientState), u.headers);
    assertKintoError(res, 503, 201, 'retry later');
    assert.equal(res.headers.get('retry-after'), '17');

    // Unlimited: libcurl sends a request again, once, when a reused
    // keep-alive connection dies before any answer.
    const drop = (await control('POST', '/faults', { match: { role: 'tokenserver' }, drop: true })).rules[0];
    u = bearerUser();
    res = await getJson(recordsUrl(u.clientState), u.headers);
    assertKintoError(res, 503, 201,
      'Unable to reach the service. Check your internet connection or firewall configuration.');
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    await control('DELETE', `/faults/${drop.id}`);

    await control('POST', '/faults', { match: { role: 'tokenserver' }, status: 401,
      body: { status: 'invalid-credentials', errors: [] }, times: 1 });
    u = bearerUser();
    res = await getJson(recordsUrl(u.clientState), u.headers);
    assertKintoError(res, 401, 105, '401 Unauthorized: {"status":"invalid-credentials"');
  } finally {
    await control('DELETE', '/faults');
  }
});

test('Sync failures: 503 keeps a sane Retry-After, a dropped connection is unreachable', async () => {
  const u = bearerUser();
  assert.equal((await getJson(recordsUrl(u.clientState), u.headers)).status, 200);
  try {
    await control('POST', '/faults', { match: { role: 'storage' }, status: 503, body: 0,
      headers: { 'Retry-After': '10' }, times: 1 });
    let res = await getJson(recordsUrl(u.clientState), u.headers);
    assertKintoError(res, 503, 201, 'retry later');
    assert.equal(res.headers.get('retry-after'), '10');

    const drop = (await control('POST', '/faults', { match: { role: 'storage' }, drop: true })).rules[0];
    res = await getJson(recordsUrl(u.clientState), u.headers);
    assertKintoError(res, 503, 201, 'Unable to reach the service.');
    await control('DELETE', `/faults/${drop.id}`);

    await clearBackoff();
    await control('POST', '/faults', { match: { role: 'storage' }, status: 400, body: 8,
      headers: { 'X-Weave-Alert': 'going away', 'X-Weave-Backoff': '2' }, times: 1 });
    res = await getJson(recordsUrl(u.clientState), u.headers);
    assertKintoError(res, 400, 107, '400 Bad Request: 8');
    assert.equal(res.body.error, 'Bad Request');
    assert.equal(res.headers.get('alert'), 'going away');
    assert.equal(res.headers.get('backoff'), '2');
    assert.equal(res.headers.get('retry-after'), null);
  } finally {
    await control('DELETE', '/faults');
  }
});

test('tokenserver unreachable (nothing listening): 503 unreachable, heartbeat sync false', async () => {
  const good = stack.env.SYNCTO_TOKEN_SERVER_URL;
  const port = await freePort();
  await stack.restartSyncto({ SYNCTO_TOKEN_SERVER_URL: `http://127.0.0.1:${port}/token/` });
  try {
    const u = bearerUser();
    const res = await getJson(recordsUrl(u.clientState), u.headers);
    assertKintoError(res, 503, 201, 'Unable to reach the service.');
    const hb = await getJson(`${stack.v1}/__heartbeat__`);
    assert.equal(hb.status, 503);
    assert.deepEqual(hb.body, { cache: true, sync: false });
  } finally {
    await stack.restartSyncto({ SYNCTO_TOKEN_SERVER_URL: good });
  }
  const hb = await getJson(`${stack.v1}/__heartbeat__`);
  assert.equal(hb.status, 200);
  assert.deepEqual(hb.body, { cache: true, sync: true });
});

test('PostgreSQL stopped mid-traffic and restarted: every request served, one tokenserver call each while down, then the cache again', { timeout: 120000 }, async () => {
  // Concurrent clients with cached credentials keep sending requests while
  // PostgreSQL is stopped (fast shutdown: connections cut mid-query) and
  // started again. No request may fail or hang: without the cache the
  // credentials come from the tokenserver on each request.
  const BOUND_MS = 5000; // the cache's own timeouts are 2 s (statement) and its connect timeout
  const clients = [];
  for (let i = 0; i < 6; i++) {
    const u = bearerUser();
    assert.equal((await getJson(recordsUrl(u.clientState), u.headers)).status, 200);
    clients.push(u);
  }
  const results = [];
  let stopping = false;
  const running = clients.map(async (u) => {
    while (!stopping) {
      const t0 = Date.now();
      let status;
      let detail = '';
      try {
        const res = await getJson(recordsUrl(u.clientState), u.headers);
        status = res.status;
        if (status !== 200) detail = JSON.stringify(res.body);
      } catch (e) {
        status = 0;
        detail = e.message;
      }
      results.push({ status, detail, ms: Date.now() - t0 });
    }
  });
  try {
    await sleep(500);
    await stack.pg.stop();
    await sleep(1000);
    try {
      const u = bearerUser();
      const seq = await lastSeq();
      for (let i = 0; i < 3; i++) {
        const res = await getJson(recordsUrl(u.clientState), u.headers);
        assert.equal(res.status, 200, JSON.stringify(res.body));
      }
      // without the cache, every request asks the tokenserver
      assert.equal(tokenCallsFor(await logSince(seq), u.token).length, 3);
      const hb = await getJson(`${stack.v1}/__heartbeat__`);
      assert.equal(hb.status, 503);
      assert.deepEqual(hb.body, { cache: false, sync: true });
    } finally {
      await stack.pg.start();
    }
    await waitFor(async () => (await getJson(`${stack.v1}/__heartbeat__`)).status === 200,
      { timeout: 60000, interval: 500, what: 'heartbeat after PostgreSQL restart' });
    // Each worker reconnects on its own, at most once a second after a
    // failure: soon, requests with one credential make one tokenserver call
    // again, whichever workers serve them.
    await waitFor(async () => {
      const u = bearerUser();
      const seq = await lastSeq();
      for (let i = 0; i < 8; i++) assert.equal((await getJson(recordsUrl(u.clientState), u.headers)).status, 200);
      return tokenCallsFor(await logSince(seq), u.token).length === 1;
    }, { timeout: 30000, interval: 500, what: 'the credential cache used again' });
  } finally {
    stopping = true;
    await Promise.all(running);
  }
  const failed = results.filter((r) => r.status !== 200);
  assert.ok(results.length > 30, `${results.length} requests sent`);
  assert.deepEqual(failed, [], `${failed.length} of ${results.length} requests failed`);
  const slowest = Math.max(...results.map((r) => r.ms));
  assert.ok(slowest <= BOUND_MS, `slowest request: ${slowest} ms`);
  process.stderr.write(`PostgreSQL row: ${results.length} requests, 0 failed, slowest ${slowest} ms\n`);
});

// ---- User-Agent ------------------------------------------------------------

test('User-Agent: on behalf of the client, or Syncto alone', async () => {
  const u = bearerUser();
  const url = recordsUrl(u.clientState);
  let seq = await lastSeq();
  let res = await rawGet(url, { ...u.headers, 'User-Agent': 'HTTPie/0.9.2' });
  assert.equal(res.status, 200, res.body);
  let sync = await logSince(seq, 'storage');
  assert.match(sync[0].headers['user-agent'], /^Syncto\/\d+\.\d+\.\d+ \(on behalf of HTTPie\/0\.9\.2\)$/);

  seq = await lastSeq();
  res = await rawGet(url, u.headers);
  assert.equal(res.status, 200, res.body);
  sync = await logSince(seq, 'storage');
  assert.match(sync[0].headers['user-agent'], /^Syncto\/\d+\.\d+\.\d+$/);
});

// ---- back-off ------------------------------------------------------------
// The test server is tokenserver and Sync node on one host, so both share
// the "backoff_<host>" row, as they would on a self-hosted stack.

test('a tokenserver back-off shows on every response, even without upstream calls', { timeout: 60000 }, async () => {
  await clearBackoff();
  await control('POST', '/faults', { match: { role: 'tokenserver' }, headers: { 'X-Backoff': '120' }, times: 1 });
  const u = bearerUser();
  const res = await getJson(recordsUrl(u.clientState), u.headers);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('backoff'), '120');
  await sleep(1100); // the other workers' memos are at most a second old
  const results = await Promise.all(Array.from({ length: 16 }, () => getJson(`${stack.v1}/`)));
  for (const r of results) {
    assert.equal(r.status, 200);
    const b = Number(r.headers.get('backoff'));
    assert.ok(b > 60 && b <= 120, `Backoff: ${r.headers.get('backoff')}`);
  }
});

test('a Sync back-off reaches the clients of every worker', { timeout: 60000 }, async () => {
  await clearBackoff();
  const u = bearerUser();
  let res = await getJson(recordsUrl(u.clientState), u.headers);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('backoff'), null);
  await control('POST', '/faults', { match: { role: 'storage' }, headers: { 'X-Weave-Backoff': '300' }, times: 1 });
  res = await getJson(recordsUrl(u.clientState), u.headers);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('backoff'), '300');
  assert.equal(res.headers.get('retry-after'), null, 'no Retry-After on a 2xx');

  // The fault is used up: Sync no longer sends it, yet every response for
  // that node, whatever worker serves it, still carries the back-off.
  await sleep(1100);
  const results = await Promise.all(Array.from({ length: 16 }, () => getJson(recordsUrl(u.clientState), u.headers)));
  for (const r of results) {
    assert.equal(r.status, 200);
    const b = Number(r.headers.get('backoff'));
    assert.ok(b > 250 && b <= 300, `Backoff: ${r.headers.get('backoff')}`);
    assert.equal(r.headers.get('retry-after'), null);
  }
  const rows = await stack.pg.psql("SELECT key, value FROM cache WHERE key LIKE 'backoff_%'");
  assert.ok(rows.some((r) => r.key === `backoff_${new URL(stack.sync.url).host}`), JSON.stringify(rows));
  await clearBackoff();
});
