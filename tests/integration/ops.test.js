'use strict';
// Operating Syncto, through nginx against the test Sync server: the StatsD
// metrics of the request path, the one structured log line per request
// (and what must never appear in any log line), Sentry reports of upstream
// and internal failures, Backoff under heavy load, Retry-After on 5xx, and
// the end-of-service switch (soft-eol, then hard-eol).
//
//   cd tests && SYNCTO_BUILD_DIR=build node --test integration/ops.test.js

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startStack } = require('../lib/stack');
const { waitFor } = require('../lib/proc');
const sync = require('../lib/control');
const { bearerUser, browserIdUser } = require('../lib/users');
const { readResponse } = require('../lib/kinto');
const { startStatsd } = require('../lib/statsd');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- helpers --------------------------------------------------------------

/** The control API of one stack's test Sync server (lib/control.js). */
const controlOf = (stack) => (method, path, body) => sync.control(stack, method, path, body);

async function req(url, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(url, {
    method,
    redirect: 'manual',
    headers: body !== undefined ? { 'Content-Type': 'application/json', ...headers } : headers,
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  return readResponse(res);
}

/** GET with node:http, to see every header line as sent (rawHeaders). */
function rawGet(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const r = http.request(url, { method: 'GET', headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, rawHeaders: res.rawHeaders,
        body: Buffer.concat(chunks).toString() }));
    });
    r.on('error', reject);
    r.end();
  });
}

/** An HTTP server standing in for Sentry: every request received. */
async function startSentry() {
  const got = [];
  const srv = http.createServer((r, res) => {
    const chunks = [];
    r.on('data', (c) => chunks.push(c));
    r.on('end', () => {
      got.push({ method: r.method, url: r.url, headers: r.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"id":"0"}');
    });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    dsn: `http://opspublickey@127.0.0.1:${srv.address().port}/42`,
    got,
    close: () => new Promise((resolve) => srv.close(resolve)),
  };
}

const recordsUrl = (stack, cs, coll = 'tabs') => `${stack.v1}/buckets/${cs}/collections/${coll}/records`;

// ---- StatsD, logs, Sentry -----------------------------------------------

describe('metrics, logs and error reports', () => {
  let stack;
  let statsd;
  let sentry;
  let control;

  before(async () => {
    statsd = await startStatsd();
    sentry = await startSentry();
    stack = await startStack({
      env: {
        SYNCTO_STATSD_URL: statsd.url,
        SYNCTO_SENTRY_DSN: sentry.dsn,
        SYNCTO_LOGGING_RENDERER: 'json',
        SYNCTO_LOG_LEVEL: 'info',
        SYNCTO_RECORD_TABS_PUT_ENABLED: 'true',
      },
    });
    control = controlOf(stack);
  });
  after(async () => {
    if (stack) await stack.stop();
    if (statsd) await statsd.close();
    if (sentry) await sentry.close();
  });
  afterEach((t) => stack && stack.printLogsIfFailed(t));

  it('sends a counter and a timer per request, by route, method and status', async () => {
    const from = statsd.lines.length;
    assert.equal((await req(`${stack.v1}/`)).status, 200);
    assert.equal((await req(`${stack.v1}/unknown`)).status, 404);
    assert.equal((await req(`${stack.v1}/__lbheartbeat__`, { method: 'HEAD' })).status, 200);

    await statsd.waitFor((m) => m.line === 'syncto.request.hello.get.200:1|c', 'hello counter', from);
    const timer = await statsd.waitFor((m) => m.name === 'syncto.request.hello.get', 'hello timer', from);
    assert.equal(timer.type, 'ms');
    assert.ok(timer.value >= 0 && timer.value < 10000, timer.line);
    await statsd.waitFor((m) => m.line === 'syncto.request.unknown.get.404:1|c', '404 counter', from);
    await statsd.waitFor((m) => m.line === 'syncto.request.lbheartbeat.head.200:1|c', 'HEAD counter', from);
    const busy = await statsd.waitFor((m) => m.name === 'syncto.pool.busy_threads', 'busy gauge', from);
    assert.equal(busy.type, 'g');
    assert.ok(busy.value >= 1 && busy.value <= 8, busy.line);
  });

  it('times tokenserver and Sync calls, counts statuses and cache hits', async () => {
    const u = bearerUser();
    let from = statsd.lines.length;
    assert.equal((await req(recordsUrl(stack, u.clientState), { headers: u.headers })).status, 200);
    await statsd.waitFor((m) => m.line === 'syncto.request.records.get.200:1|c', 'records counter', from);
    const names = () => statsd.metrics(from).map((m) => m.name);
    await waitFor(() => names().includes('syncto.syncclient.status_code.200'), { what: 'status_code', timeout: 10000 });
    const ts = statsd.metrics(from).find((m) => m.name === 'syncto.tokenserver.tokenserverclient.get_hawk_credentials');
    assert.ok(ts, names().join(' '));
    assert.equal(ts.type, 'ms');
    assert.ok(ts.value >= 0 && ts.value < 15000, ts.line);
    const sync = statsd.metrics(from).find((m) => m.name === 'syncto.syncclient.syncclient.get_records');
    assert.ok(sync && sync.type === 'ms' && sync.value >= 0 && sync.value < 30000, names().join(' '));
    assert.ok(statsd.metrics(from).some((m) => m.line === 'syncto.cache.miss:1|c'), 'cache.miss');
    assert.ok(!statsd.metrics(from).some((m) => m.name === 'syncto.cache.hit'), 'no cache.hit yet');

    // Same credential again: from the cache, no tokenserver call.
    from = statsd.lines.length;
    assert.equal((await req(recordsUrl(stack, u.clientState), { headers: u.headers })).status, 200);
    await statsd.waitFor((m) => m.line === 'syncto.request.records.get.200:1|c', 'records counter', from);
    await statsd.waitFor((m) => m.line === 'syncto.cache.hit:1|c', 'cache.hit', from);
    assert.ok(!names().includes('syncto.tokenserver.tokenserverclient.get_hawk_credentials'), names().join(' '));

    // A Sync error status is counted under its own code.
    from = statsd.lines.length;
    await control('POST', '/faults', { match: { role: 'storage' }, status: 404, body: 0, times: 1 });
    assert.equal((await req(recordsUrl(stack, u.clientState), { headers: u.headers })).status, 404);
    await statsd.waitFor((m) => m.line === 'syncto.syncclient.status_code.404:1|c', 'status_code.404', from);
    await statsd.waitFor((m) => m.line === 'syncto.request.records.get.404:1|c', 'records 404', from);
  });

  it('logs one JSON line per request, with upstream timing and a hashed user, never a secret', async () => {
    const logFrom = stack.synctoLogOffset();
    const seq = (await control('GET', '/log?since=1e15')).lastSeq;
    const bid = browserIdUser();
    const bearer = bearerUser();
    const payload = `OPS-SECRET-PAYLOAD-${Date.now()}-ciphertext`;
    const rids = { list: 'opslogs-list-1', put: 'opslogs-put-1', bid: 'opslogs-bid-1', hello: 'opslogs-hello-1' };

    let r = await req(recordsUrl(stack, bearer.clientState), { headers: { ...bearer.headers, 'X-Request-Id': rids.list } });
    assert.equal(r.status, 200, r.text);
    r = await req(`${recordsUrl(stack, bearer.clientState)}/rec1`, {
      method: 'PUT',
      headers: { ...bearer.headers, 'X-Request-Id': rids.put },
      body: { data: { payload, sortindex: 3 } },
    });
    assert.equal(r.status, 200, r.text);
    r = await req(recordsUrl(stack, bid.clientState), { headers: { ...bid.headers, 'X-Request-Id': rids.bid } });
    assert.equal(r.status, 200, r.text);
    r = await req(`${stack.v1}/`, { headers: { 'X-Request-Id': rids.hello } });
    assert.equal(r.status, 200);

    // What the tokenserver and Sync saw: the secrets that must stay out.
    const entries = (await control('GET', `/log?since=${seq}`)).entries;
    const secrets = [payload, bid.assertion, bearer.token, bearer.keyId];
    const issued = entries.filter((e) => e.role === 'tokenserver' && e.response && e.response.status === 200);
    assert.equal(issued.length, 2, 'one token per identity');
    const hashed = [];
    for (const e of issued) {
      const t = JSON.parse(e.response.body);
      secrets.push(t.id, t.key);
      hashed.push(t.hashed_fxa_uid);
    }
    for (const e of entries.filter((x) => x.role === 'storage')) {
      const mac = /mac="([^"]+)"/.exec(e.headers.authorization || '');
      if (mac) secrets.push(mac[1]);
    }
    // The assertion's JWT parts alone, in case a part were logged.
    secrets.push(...bid.assertion.split('~').flatMap((p) => p.split('.')).filter((p) => p.length > 20));

    let lines;
    await waitFor(() => {
      lines = stack.synctoLog(logFrom).split('\n').filter(Boolean);
      return lines.filter((l) => l.includes('syncto.request.summary')).length >= 4;
    }, { timeout: 10000, what: 'summary lines' });

    const summaries = {};
    for (const line of lines) {
      let o;
      assert.doesNotThrow(() => {
        o = JSON.parse(line);
      }, `not JSON: ${line}`);
      assert.equal(typeof o.Timestamp, 'number');
      assert.equal(typeof o.Severity, 'number');
      assert.equal(typeof o.Fields, 'object');
      for (const s of secrets) assert.ok(!line.includes(s), `a secret (${s.slice(0, 12)}...) in: ${line}`);
      if (o.Type === 'syncto.request.summary') summaries[o.Fields.rid] = o.Fields;
    }
    for (const [what, rid] of Object.entries(rids)) assert.ok(summaries[rid], `summary of ${what}`);

    const list = summaries[rids.list];
    assert.equal(list.method, 'GET');
    assert.equal(list.path, `/v1/buckets/${bearer.clientState}/collections/tabs/records`);
    assert.equal(list.code, 200);
    assert.equal(list.route, 'records');
    assert.equal(typeof list.t, 'number');
    assert.equal(list.upstream_calls, 2, 'tokenserver + Sync');
    assert.ok(list.upstream_ms >= 0 && list.upstream_ms <= list.t + 1, JSON.stringify(list));
    assert.ok(hashed.includes(list.uid), `uid ${list.uid} is the tokenserver's hashed_fxa_uid`);

    const put = summaries[rids.put];
    assert.equal(put.method, 'PUT');
    assert.equal(put.code, 200);
    assert.equal(put.route, 'record');
    assert.equal(put.upstream_calls, 1, 'credentials from the cache, one Sync call');
    assert.equal(put.uid, list.uid, 'same user, same hash');

    const b = summaries[rids.bid];
    assert.equal(b.code, 200);
    assert.match(b.uid, /^[0-9a-f]{32}$/);
    assert.notEqual(b.uid, list.uid);

    const hello = summaries[rids.hello];
    assert.equal(hello.upstream_calls, 0);
    assert.equal(hello.upstream_ms, 0);
    assert.equal('uid' in hello, false, 'no user without credentials');

    // A failed authentication has no uid and leaks nothing either.
    const off = stack.synctoLogOffset();
    const badToken = `${bearer.token}x`;
    r = await req(recordsUrl(stack, bearer.clientState), { headers: { Authorization: `Bearer ${badToken}` } });
    assert.equal(r.status, 401);
    await waitFor(() => stack.synctoLog(off).includes('syncto.request.summary'), { timeout: 10000, what: 'line' });
    assert.ok(!stack.synctoLog(off).includes(badToken));
  });

  it('reports a Sync outage to Sentry, once per failed request, without secrets', async () => {
    const u = bearerUser();
    assert.equal((await req(recordsUrl(stack, u.clientState), { headers: u.headers })).status, 200);
    const before = sentry.got.length;
    await control('POST', '/faults', { match: { role: 'storage' }, status: 503, body: 0, times: 1 });
    let r = await req(recordsUrl(stack, u.clientState), { headers: { ...u.headers, 'X-Request-Id': 'opssentry-503' } });
    assert.equal(r.status, 503);
    assert.match(r.headers.get('retry-after') || '', /^\d+$/);
    const drop = (await control('POST', '/faults', { match: { role: 'storage' }, drop: true })).rules[0];
    try {
      r = await req(recordsUrl(stack, u.clientState), { headers: { ...u.headers, 'X-Request-Id': 'opssentry-drop' } });
      assert.equal(r.status, 503);
    } finally {
      await control('DELETE', `/faults/${drop.id}`);
    }

    const events = await waitFor(() => {
      const evs = sentry.got.slice(before).map((g) => ({ ...g, event: JSON.parse(g.body) }));
      return evs.length >= 2 ? evs : null;
    }, { timeout: 15000, what: 'two Sentry events' });
    await sleep(500);
    assert.equal(sentry.got.length - before, 2, 'one event per failed request');

    const byRid = Object.fromEntries(events.map((e) => [e.event.tags.request_id, e]));
    const e503 = byRid['opssentry-503'];
    const eDrop = byRid['opssentry-drop'];
    assert.ok(e503 && eDrop, JSON.stringify(events.map((e) => e.event.tags)));
    for (const e of [e503, eDrop]) {
      assert.equal(e.method, 'POST');
      assert.equal(e.url, '/api/42/store/');
      assert.match(e.headers['x-sentry-auth'], /sentry_key=opspublickey/);
      assert.equal(e.event.level, 'error');
      assert.equal(e.event.tags.route, 'records');
      assert.match(e.event.event_id, /^[0-9a-f]{32}$/);
      for (const s of [u.token, u.keyId, u.clientState]) assert.ok(!e.body.includes(s), `secret in ${e.body}`);
    }
    assert.match(e503.event.message, /sync answered 503/);
    assert.match(eDrop.event.message, /sync unreachable/);
  });

  it('reports a tokenserver outage and a failing batch too', async () => {
    const before = sentry.got.length;
    const u = bearerUser();
    await control('POST', '/faults', { match: { role: 'tokenserver' }, status: 503, body: '', times: 1 });
    let r = await req(recordsUrl(stack, u.clientState), { headers: { ...u.headers, 'X-Request-Id': 'opssentry-ts' } });
    assert.equal(r.status, 503);

    // A batch whose sub-request meets a Sync 503 fails as a whole: 503 with
    // Retry-After, and one event.
    await control('POST', '/faults', { match: { role: 'storage' }, status: 503, body: 0, times: 1 });
    r = await req(`${stack.v1}/batch`, {
      method: 'POST',
      headers: { ...u.headers, 'X-Request-Id': 'opssentry-batch' },
      body: { requests: [{ method: 'GET', path: `/buckets/${u.clientState}/collections/tabs/records` }] },
    });
    assert.equal(r.status, 503, r.text);
    assert.match(r.headers.get('retry-after') || '', /^\d+$/);

    const events = await waitFor(() => {
      const evs = sentry.got.slice(before).map((g) => JSON.parse(g.body));
      return evs.length >= 2 ? evs : null;
    }, { timeout: 15000, what: 'two Sentry events' });
    const ts = events.find((e) => e.tags.request_id === 'opssentry-ts');
    assert.ok(ts);
    assert.match(ts.message, /tokenserver answered 503/);
    const batch = events.find((e) => e.tags.request_id === 'opssentry-batch');
    assert.ok(batch);
    assert.equal(batch.tags.route, 'batch');
    assert.match(batch.message, /sync answered 503/);
    for (const e of events) assert.ok(!JSON.stringify(e).includes(u.token));
  });

  it('sends no event for client errors', async () => {
    const before = sentry.got.length;
    const u = bearerUser();
    assert.equal((await req(`${stack.v1}/unknown`)).status, 404);
    assert.equal((await req(recordsUrl(stack, u.clientState))).status, 401);
    await control('POST', '/faults', { match: { role: 'storage' }, status: 404, body: 0, times: 1 });
    assert.equal((await req(recordsUrl(stack, u.clientState), { headers: u.headers })).status, 404);
    await sleep(1000);
    assert.equal(sentry.got.length, before);
  });
});

// ---- Backoff under heavy load -------------------------------------------

describe('Backoff under heavy load', () => {
  let stack;
  let statsd;
  let control;

  before(async () => {
    statsd = await startStatsd();
    stack = await startStack({
      env: {
        SYNCTO_WORKERS: '1',
        SYNCTO_THREADS: '4',
        SYNCTO_BACKOFF: '45',
        SYNCTO_BACKOFF_THRESHOLD: '0.5',
        SYNCTO_STATSD_URL: statsd.url,
      },
    });
    control = controlOf(stack);
  });
  after(async () => {
    if (stack) await stack.stop();
    if (statsd) await statsd.close();
  });
  afterEach((t) => stack && stack.printLogsIfFailed(t));

  it('sends Backoff while most threads are busy, and not once they are free', async () => {
    const u = bearerUser();
    // Credentials in the cache first, so that only the Sync reads are slow.
    assert.equal((await req(recordsUrl(stack, u.clientState), { headers: u.headers })).status, 200);
    let r = await req(`${stack.v1}/__lbheartbeat__`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('backoff'), null, 'idle: no Backoff');

    const seq = (await control('GET', '/log?since=1e15')).lastSeq;
    const rule = (await control('POST', '/faults', {
      match: { role: 'storage', method: 'GET', pathRegex: '/storage/tabs$' }, latencyMs: 3000,
    })).rules[0];
    const from = statsd.lines.length;
    let slow;
    try {
      // 3 of the 4 threads wait on Sync; the 4th serves the probes below:
      // 4 busy of 4 > 0.5.
      slow = Array.from({ length: 3 }, () => req(recordsUrl(stack, u.clientState), { headers: u.headers }));
      await waitFor(async () => (await control('GET', `/log?since=${seq}&role=storage`)).entries.length >= 3,
        { timeout: 10000, what: 'three slow reads in flight' });
      r = await req(`${stack.v1}/__lbheartbeat__`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('backoff'), '45', 'lbheartbeat under load');
      r = await req(`${stack.v1}/`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('backoff'), '45', 'hello under load');
      assert.equal(r.headers.get('retry-after'), null, 'never Retry-After on a 2xx');
      // Errors carry no load Backoff.
      r = await req(`${stack.v1}/unknown`);
      assert.equal(r.status, 404);
      assert.equal(r.headers.get('backoff'), null);
    } finally {
      await control('DELETE', `/faults/${rule.id}`);
    }
    const done = await Promise.all(slow);
    for (const d of done) assert.equal(d.status, 200);

    r = await req(`${stack.v1}/__lbheartbeat__`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('backoff'), null, 'load gone: no Backoff');

    // Every thread was busy when the probes arrived.
    await statsd.waitFor((m) => m.line === 'syncto.pool.saturated:1|c', 'pool.saturated', from);
    await statsd.waitFor((m) => m.line === 'syncto.pool.busy_threads:4|g', 'busy_threads 4', from);
  });

  it('keeps a pending longer upstream back-off when a shorter one follows', async () => {
    await stack.pg.psql("DELETE FROM cache WHERE key LIKE 'backoff_%'");
    await sleep(1100); // the worker's memo re-reads PostgreSQL at most once a second
    const u = bearerUser();
    await control('POST', '/faults', { match: { role: 'storage' }, headers: { 'X-Weave-Backoff': '600' }, times: 1 });
    let r = await req(recordsUrl(stack, u.clientState), { headers: u.headers });
    assert.equal(r.headers.get('backoff'), '600');
    await control('POST', '/faults', { match: { role: 'storage' }, headers: { 'X-Weave-Backoff': '5' }, times: 1 });
    r = await req(recordsUrl(stack, u.clientState), { headers: u.headers });
    const b = Number(r.headers.get('backoff'));
    assert.ok(b > 590 && b <= 600, `Backoff: ${r.headers.get('backoff')}`);
    await sleep(1100);
    r = await req(`${stack.v1}/__lbheartbeat__`);
    r = await req(recordsUrl(stack, u.clientState), { headers: u.headers });
    assert.ok(Number(r.headers.get('backoff')) > 590, `still the long one: ${r.headers.get('backoff')}`);
    const rows = await stack.pg.psql("SELECT value FROM cache WHERE key LIKE 'backoff_%'");
    assert.equal(rows.length, 1);
    const deadline = Number(String(rows[0].value).replace(/"/g, ''));
    assert.ok(deadline > Date.now() + 590000, JSON.stringify(rows));
    await stack.pg.psql("DELETE FROM cache WHERE key LIKE 'backoff_%'");
  });
});

// ---- end of service -----------------------------------------------------

function isoDay(offsetDays) {
  return new Date(Date.now() + offsetDays * 86400000).toISOString().slice(0, 10);
}

/** Values of every `Alert` header line of a raw response. */
function alerts(raw) {
  const out = [];
  for (let i = 0; i < raw.rawHeaders.length; i += 2) {
    if (raw.rawHeaders[i].toLowerCase() === 'alert') out.push(raw.rawHeaders[i + 1]);
  }
  return out;
}

describe('end of service', () => {
  let stack;
  const soonDay = isoDay(30);

  before(async () => {
    stack = await startStack({
      env: {
        SYNCTO_EOS: soonDay,
        SYNCTO_EOS_MESSAGE: 'Syncto closes; export your data.',
        SYNCTO_EOS_URL: 'https://docs.example.org/eos',
        SYNCTO_LOGGING_RENDERER: 'text',
      },
    });
  });
  after(async () => {
    if (stack) await stack.stop();
  });
  afterEach((t) => stack && stack.printLogsIfFailed(t));

  it('before the date: a soft-eol Alert on every response and eos in GET /v1/', async () => {
    const hello = await req(`${stack.v1}/`);
    assert.equal(hello.status, 200);
    assert.equal(hello.json.eos, soonDay);
    const alert = JSON.parse(hello.headers.get('alert'));
    assert.deepEqual(alert, { code: 'soft-eol', message: 'Syncto closes; export your data.',
      url: 'https://docs.example.org/eos' });

    const u = bearerUser();
    const list = await req(recordsUrl(stack, u.clientState), { headers: u.headers });
    assert.equal(list.status, 200);
    assert.equal(JSON.parse(list.headers.get('alert')).code, 'soft-eol');
    const missing = await req(`${stack.v1}/unknown`);
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.headers.get('alert')).code, 'soft-eol');

    // X-Client-State has its own soft-eol notice: one Alert header only,
    // the end of service.
    const raw = await rawGet(`${stack.v1}/buckets/syncto/collections/tabs/records`, {
      Authorization: `Bearer ${u.token}`, 'X-KeyID': u.keyId, 'X-Client-State': u.clientState,
    });
    assert.equal(raw.status, 200, raw.body);
    const a = alerts(raw);
    assert.equal(a.length, 1, JSON.stringify(a));
    assert.equal(JSON.parse(a[0]).message, 'Syncto closes; export your data.');
  });

  it('from the date on: 410 errno 202 with a hard-eol Alert; heartbeats stay up', async () => {
    await stack.restartSyncto({ SYNCTO_EOS: isoDay(-1) });
    const hello = await req(`${stack.v1}/`, { headers: { Origin: 'http://localhost:3000' } });
    assert.equal(hello.status, 410);
    assert.equal(hello.json.code, 410);
    assert.equal(hello.json.errno, 202);
    assert.equal(hello.json.error, 'Gone');
    assert.equal(hello.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.deepEqual(JSON.parse(hello.headers.get('alert')), { code: 'hard-eol',
      message: 'Syncto closes; export your data.', url: 'https://docs.example.org/eos' });
    assert.equal(hello.headers.get('retry-after'), null);

    const u = bearerUser();
    const seq = (await (await fetch(`${stack.sync.info.control}/log?since=1e15`)).json()).lastSeq;
    const list = await req(recordsUrl(stack, u.clientState), { headers: u.headers });
    assert.equal(list.status, 410);
    assert.equal(list.json.errno, 202);
    const entries = (await (await fetch(`${stack.sync.info.control}/log?since=${seq}`)).json()).entries;
    assert.equal(entries.length, 0, 'no upstream call after the end of service');

    const batch = await req(`${stack.v1}/batch`, { method: 'POST', body: { requests: [] } });
    assert.equal(batch.status, 410);

    for (const p of ['/__lbheartbeat__', '/__heartbeat__', '/__version__']) {
      const r = await req(`${stack.v1}${p}`);
      assert.ok(r.status === 200 || (p === '/__heartbeat__' && r.status === 503), `${p}: ${r.status}`);
      assert.equal(JSON.parse(r.headers.get('alert')).code, 'hard-eol', p);
    }
  });
});
