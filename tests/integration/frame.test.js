'use strict';
// The foundation, through nginx: root and utility endpoints, redirects,
// error format, CORS, HEAD, the errors nginx produces itself (413, 429,
// 502), which must look like syncto's, and the SIGHUP reload.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startStack } = require('../lib/stack');
const { ROOT, waitFor } = require('../lib/proc');
const { JSON_CT, readResponse } = require('../lib/kinto');

const EXPOSED = ['Alert', 'Backoff', 'Retry-After', 'Content-Length', 'Content-Type', 'ETag', 'Last-Modified',
  'Next-Page', 'Total-Records', 'Total-Objects', 'Quota-Remaining', 'Cache-Control', 'Expires', 'Pragma'];
const MAX_BODY = 65536;

/** fetch without following redirects; resolves to {status, headers, text, json}. */
async function request(url, opts = {}) {
  return readResponse(await fetch(url, { redirect: 'manual', ...opts }));
}

/** Checks a Kinto error response: status, errno, JSON type, CORS for `origin`. */
function assertKintoError(res, code, errno, error, origin) {
  assert.equal(res.status, code, res.text);
  assert.equal(res.headers.get('content-type'), JSON_CT);
  assert.ok(res.json, `not JSON: ${res.text}`);
  assert.equal(res.json.code, code);
  assert.equal(res.json.errno, errno);
  if (error) assert.equal(res.json.error, error);
  assert.equal(typeof res.json.message, 'string');
  assert.equal('info' in res.json, false, 'no "info" member');
  if (origin) assert.equal(res.headers.get('access-control-allow-origin'), origin);
}

function assertExposes(res) {
  const exposed = (res.headers.get('access-control-expose-headers') || '').split(',').map((h) => h.trim().toLowerCase());
  for (const h of EXPOSED) assert.ok(exposed.includes(h.toLowerCase()), `${h} not in Access-Control-Expose-Headers`);
}

/** Path and query of a Location header, resolved against `base`. */
function location(res, base) {
  const loc = res.headers.get('location');
  assert.ok(loc, 'Location header');
  const u = new URL(loc, base);
  return u.pathname + u.search;
}

describe('frame through nginx', () => {
  let stack;
  before(async () => {
    stack = await startStack({
      env: { SYNCTO_FXA_OAUTH_CLIENT_ID: 'frame-test-client', SYNCTO_MAX_REQUEST_BODY_BYTES: String(MAX_BODY) },
    });
  });
  after(async () => {
    if (stack) await stack.stop();
  });
  afterEach((t) => stack && stack.printLogsIfFailed(t));

  describe('redirects', () => {
    const cases = [
      ['/', '/v1/'],
      ['/v1', '/v1/'],
      ['/buckets/syncto/collections/tabs/records?_limit=2', '/v1/buckets/syncto/collections/tabs/records?_limit=2'],
      ['/__heartbeat__', '/v1/__heartbeat__'],
      ['/v1/__lbheartbeat__/', '/v1/__lbheartbeat__'],
      ['/v1/buckets/syncto/collections/tabs/records/?_since=12&_sort=newest',
        '/v1/buckets/syncto/collections/tabs/records?_since=12&_sort=newest'],
    ];
    for (const [from, to] of cases) {
      it(`GET ${from} -> 307 ${to}`, async () => {
        const res = await request(stack.url + from);
        assert.equal(res.status, 307, res.text);
        assert.equal(location(res, stack.url), to);
      });
    }
  });

  describe('GET /v1/', () => {
    it('describes the server', async () => {
      const res = await request(`${stack.v1}/`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('content-type'), JSON_CT);
      const b = res.json;
      assert.equal(b.project_name, 'syncto');
      assert.match(b.project_version, /^\d+\.\d+\.\d+/);
      assert.match(b.project_docs, /^https?:\/\//);
      assert.match(b.http_api_version, /^1\.\d+$/);
      assert.equal(b.url, `${stack.v1}/`);
      assert.equal(b.settings.batch_max_requests, 25);
      assert.equal(b.settings['cliquet.batch_max_requests'], 25);
      assert.equal(b.settings.readonly, false);
      assert.equal(typeof b.capabilities, 'object');
      assert.ok(b.capabilities !== null && !Array.isArray(b.capabilities), 'capabilities is an object');
      assert.equal('history' in b.capabilities, false, 'history is not advertised');
    });

    it('answers with BrowserID and X-Client-State headers present', async () => {
      const res = await request(`${stack.v1}/`, {
        headers: {
          Authorization: 'BrowserID xyz',
          'X-Client-State': '0123456789abcdef0123456789abcdef',
          'Content-Type': 'application/json',
          Accept: 'application/json',
        },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.project_name, 'syncto');
      assert.equal(res.json.settings.batch_max_requests, 25);
    });

    it('builds url from X-Forwarded-Proto and X-Forwarded-Host', async () => {
      const res = await request(`${stack.v1}/`, {
        headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'sync.example.com' },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.url, 'https://sync.example.com/v1/');
    });

    it('sends Cache-Control: no-cache and exposes the Kinto headers', async () => {
      const res = await request(`${stack.v1}/`, { headers: { Origin: 'http://localhost:3000' } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('cache-control') || '', /no-cache/);
      assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:3000');
      assertExposes(res);
      assert.equal(res.headers.get('retry-after'), null, 'no Retry-After on a 2xx');
    });

    it('HEAD gives the headers and no body', async () => {
      const res = await request(`${stack.v1}/`, { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), JSON_CT);
      assert.equal(res.text, '');
    });

    it('POST is 405 errno 115', async () => {
      const res = await request(`${stack.v1}/`, {
        method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json', Origin: 'http://localhost:3000' },
      });
      assertKintoError(res, 405, 115, 'Method Not Allowed', 'http://localhost:3000');
    });
  });

  describe('utility endpoints', () => {
    it('GET /v1/__lbheartbeat__ is 200 {}', async () => {
      const res = await request(`${stack.v1}/__lbheartbeat__`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('content-type'), JSON_CT);
      assert.deepEqual(res.json, {});
    });

    it('GET /v1/__version__ names version, commit and source', async () => {
      const res = await request(`${stack.v1}/__version__`);
      assert.equal(res.status, 200, res.text);
      assert.match(res.json.version, /^\d+\.\d+\.\d+/);
      assert.equal(typeof res.json.commit, 'string');
      assert.ok(res.json.commit.length > 0);
      assert.match(res.json.source, /^https?:\/\//);
    });

    it('GET /v1/fxa-oauth/params gives the configured OAuth parameters', async () => {
      const res = await request(`${stack.v1}/fxa-oauth/params`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.client_id, 'frame-test-client');
      assert.match(res.json.oauth_uri, /^https?:\/\//);
      assert.match(res.json.scope, /oldsync/);
    });
  });

  describe('errors and CORS', () => {
    it('unknown route is 404 errno 111 with the Origin echoed', async () => {
      const res = await request(`${stack.v1}/unknown`, { headers: { Origin: 'notmyidea.org' } });
      assertKintoError(res, 404, 111, 'Not Found', 'notmyidea.org');
      assertExposes(res);
    });

    it('answers a preflight without authentication', async () => {
      const res = await request(`${stack.v1}/buckets/syncto/collections/tabs/records`, {
        method: 'OPTIONS',
        headers: {
          Origin: 'http://localhost:3000',
          'Access-Control-Request-Method': 'PUT',
          'Access-Control-Request-Headers': 'authorization,content-type,if-match,x-client-state',
        },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:3000');
      const methods = (res.headers.get('access-control-allow-methods') || '').split(',').map((m) => m.trim());
      for (const m of ['GET', 'HEAD', 'PUT', 'DELETE', 'POST', 'OPTIONS']) {
        assert.ok(methods.includes(m), `${m} in Access-Control-Allow-Methods`);
      }
      const allowed = (res.headers.get('access-control-allow-headers') || '').toLowerCase().split(',')
        .map((h) => h.trim());
      for (const h of ['authorization', 'content-type', 'if-match', 'x-client-state']) {
        assert.ok(allowed.includes(h), `${h} in Access-Control-Allow-Headers`);
      }
      assert.equal(res.headers.get('access-control-max-age'), '3600');
    });

    it('a body over client_max_body_size is 413 errno 113, JSON with CORS', async () => {
      const res = await request(`${stack.v1}/batch`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Origin: 'http://localhost:3000' },
        body: JSON.stringify({ requests: [], pad: 'x'.repeat(MAX_BODY + 10) }),
      });
      assertKintoError(res, 413, 113, 'Request Entity Too Large', 'http://localhost:3000');
      assertExposes(res);
    });

    it('a chunked body over the limit is 413 errno 113 too', async () => {
      const big = new TextEncoder().encode(`{"requests":[],"pad":"${'y'.repeat(MAX_BODY + 10)}"}`);
      const body = new ReadableStream({
        start(controller) {
          for (let i = 0; i < big.length; i += 8192) controller.enqueue(big.subarray(i, i + 8192));
          controller.close();
        },
      });
      const res = await request(`${stack.v1}/batch`, {
        method: 'POST', body, duplex: 'half', headers: { 'Content-Type': 'application/json' },
      });
      assertKintoError(res, 413, 113, 'Request Entity Too Large', '*');
    });
  });

  describe('syncto down', () => {
    it('nginx answers 502 errno 201 with CORS and Retry-After', async () => {
      await stack.stopSyncto();
      try {
        const res = await request(`${stack.v1}/`, { headers: { Origin: 'http://localhost:3000' } });
        assertKintoError(res, 502, 201, null, 'http://localhost:3000');
        assertExposes(res);
        assert.match(res.headers.get('retry-after') || '', /^\d+$/);
      } finally {
        await stack.startSyncto();
      }
      const again = await request(`${stack.v1}/__lbheartbeat__`);
      assert.equal(again.status, 200, 'serves again once restarted');
    });
  });
});

describe('rate limiting in nginx', () => {
  let stack;
  before(async () => {
    stack = await startStack({ rateLimit: 1, syncserver: false });
  });
  after(async () => {
    if (stack) await stack.stop();
  });
  afterEach((t) => stack && stack.printLogsIfFailed(t));

  it('a burst beyond the limit gets 429 errno 117 with Retry-After', async () => {
    // 1 r/s with a burst of 20: 60 requests at once cannot all pass.
    const all = await Promise.all(Array.from({ length: 60 }, () => request(`${stack.v1}/__lbheartbeat__`, {
      headers: { Origin: 'http://localhost:3000' },
    })));
    const ok = all.filter((r) => r.status === 200);
    const limited = all.filter((r) => r.status === 429);
    assert.ok(ok.length >= 1, 'some requests pass');
    assert.ok(limited.length >= 1, `some requests are refused (${all.map((r) => r.status).join(',')})`);
    assert.equal(ok.length + limited.length, all.length);
    const r = limited[0];
    assertKintoError(r, 429, 117, 'Too Many Requests', 'http://localhost:3000');
    assertExposes(r);
    assert.match(r.headers.get('retry-after') || '', /^\d+$/);
  });
});

describe('SIGHUP', () => {
  let stack;
  let dir;
  let ini;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncto-ini-'));
    ini = path.join(dir, 'syncto.ini');
    fs.copyFileSync(path.join(ROOT, 'etc', 'syncto.ini'), ini);
    stack = await startStack({ ini, syncserver: false });
  });
  after(async () => {
    if (stack) await stack.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach((t) => stack && stack.printLogsIfFailed(t));

  it('reloads the settings file without stopping the service', async () => {
    const params = async () => (await request(`${stack.v1}/fxa-oauth/params`)).json;
    assert.notEqual((await params()).client_id, 'reloaded-client');
    const pid = stack.synctoPid;
    const text = fs.readFileSync(ini, 'utf8');
    assert.match(text, /^syncto\.fxa_oauth_client_id\s*=.*$/m);
    fs.writeFileSync(ini, text.replace(/^syncto\.fxa_oauth_client_id\s*=.*$/m,
      'syncto.fxa_oauth_client_id = reloaded-client'));
    stack.signalSyncto('SIGHUP');
    await waitFor(async () => (await params()).client_id === 'reloaded-client',
      { timeout: 20000, interval: 100, what: 'new settings served' });
    assert.equal(stack.synctoPid, pid, 'same master process');
    const res = await request(`${stack.v1}/__lbheartbeat__`);
    assert.equal(res.status, 200);
  });
});
