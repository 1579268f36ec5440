'use strict';
// Control API: faults (latency, status with headers, drop, times, headers
// on real responses), the request log, seeding, raw storage, config, reset.

const net = require('node:net');
const test = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('../testkit');
const { request, tokenRequest } = require('../hawkclient');
const creds = require('../credentials');

let kit;
let u;
test.before(async () => {
  kit = await startServer();
  u = await kit.oauthCredentials();
});
test.after(() => kit.close());
test.afterEach(() => kit.control('DELETE', '/faults'));

const heartbeat = () => request('GET', kit.info.tokenserver + '__heartbeat__');

test('fault: 503 with backoff headers on matching storage requests, `times` expires it', async () => {
  const add = await kit.control('POST', '/faults', {
    match: { role: 'storage', method: 'GET', pathRegex: '/storage/history$' },
    status: 503,
    body: 0,
    headers: { 'X-Weave-Backoff': '3600', 'X-Backoff': '3600', 'Retry-After': '10', 'X-Weave-Alert': 'maintenance' },
    times: 2,
  });
  assert.equal(add.status, 200);
  const rule = add.body.rules[0];
  assert.equal(rule.remaining, 2);
  for (let i = 0; i < 2; i++) {
    const res = await kit.hawk(u, 'GET', '/storage/history');
    assert.equal(res.status, 503);
    assert.equal(res.body, '0');
    assert.equal(res.headers['x-weave-backoff'], '3600');
    assert.equal(res.headers['x-backoff'], '3600');
    assert.equal(res.headers['retry-after'], '10');
    assert.equal(res.headers['x-weave-alert'], 'maintenance');
  }
  assert.equal((await kit.hawk(u, 'GET', '/storage/history')).status, 200);
  assert.deepEqual((await kit.control('GET', '/faults')).body.rules, []);
  // Not matching: another path, another method.
  await kit.control('POST', '/faults', { match: { pathRegex: '/storage/history$', method: 'GET' }, status: 500 });
  assert.equal((await kit.hawk(u, 'GET', '/storage/tabs')).status, 200);
  assert.equal((await kit.hawk(u, 'PUT', '/storage/history/x', { body: { payload: 'x' } })).status, 200);
  assert.equal((await kit.hawk(u, 'GET', '/storage/history')).status, 500);
});

test('fault: tokenserver errors with a JSON body', async () => {
  const body = { status: 'error', errors: [{ location: 'body', name: '', description: 'Resource is not available' }] };
  await kit.control('POST', '/faults', { match: { role: 'tokenserver', pathRegex: '^/token/1\\.0/' }, status: 503, body, headers: { 'Retry-After': '30' } });
  const res = await tokenRequest(kit.info.tokenserver, {
    authorization: 'Bearer ' + creds.makeOAuthToken(),
    keyId: creds.keyIdFor(creds.randomClientState(), 1),
  });
  assert.equal(res.status, 503);
  assert.deepEqual(res.json(), body);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(res.headers['retry-after'], '30');
  // The heartbeat does not match the rule.
  assert.equal((await heartbeat()).status, 200);
});

test('fault: latency delays the real answer; empty match applies to all', async () => {
  await kit.control('POST', '/faults', { latencyMs: 300 });
  const t0 = Date.now();
  const res = await heartbeat();
  assert.equal(res.status, 200);
  assert.ok(Date.now() - t0 >= 290, 'latency applied');
  const t1 = Date.now();
  assert.equal((await kit.hawk(u, 'GET', '/info/collections')).status, 200);
  assert.ok(Date.now() - t1 >= 290, 'latency applied to storage too');
  // Control requests are never delayed or faulted.
  const t2 = Date.now();
  await kit.control('GET', '/faults');
  assert.ok(Date.now() - t2 < 290);
});

test('fault: drop closes the connection without an answer', async () => {
  await kit.control('POST', '/faults', { match: { role: 'storage' }, drop: true, times: 1 });
  await assert.rejects(kit.hawk(u, 'GET', '/info/collections'), (err) => ['ECONNRESET', 'UND_ERR_SOCKET'].includes(err.code) || /socket hang up/.test(err.message));
  assert.equal((await kit.hawk(u, 'GET', '/info/collections')).status, 200);
  const log = (await kit.control('GET', '/log?role=storage')).body.entries;
  const dropped = log.filter((e) => e.dropped);
  assert.ok(dropped.length >= 1);
  assert.equal(dropped[dropped.length - 1].status, null);
});

/**
 * GET `path` over a bare socket: {head, body (bytes after the head), how}
 * where how is 'end' (a normal close) or the socket error code (a reset).
 */
function rawGet(path) {
  return new Promise((resolve) => {
    const sock = net.connect(kit.info.port, '127.0.0.1');
    const chunks = [];
    const done = (how) => {
      const all = Buffer.concat(chunks).toString('latin1');
      const i = all.indexOf('\r\n\r\n');
      resolve({ head: i < 0 ? all : all.slice(0, i), body: i < 0 ? '' : all.slice(i + 4), how });
    };
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => done('end'));
    sock.on('error', (e) => done(e.code));
    sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

test('fault: truncateBytes announces the whole body, sends part of it, then closes', async () => {
  const body = JSON.stringify({ id: 'x'.repeat(200), key: 'k' });
  await kit.control('POST', '/faults', { match: { role: 'tokenserver' }, status: 200, body, truncateBytes: 30, times: 1 });
  let r = await rawGet('/token/1.0/sync/1.5');
  assert.match(r.head, /^HTTP\/1\.1 200 /);
  assert.match(r.head, new RegExp(`\r\nContent-Length: ${body.length}\r\n`, 'i'));
  assert.equal(r.body, body.slice(0, 30));
  assert.equal(r.how, 'end');

  // Without status: the real answer is cut.
  await kit.control('POST', '/faults', { match: { role: 'tokenserver' }, truncateBytes: 5, times: 1 });
  r = await rawGet('/token/__heartbeat__');
  assert.match(r.head, /^HTTP\/1\.1 200 /);
  const full = Number(/content-length: (\d+)/i.exec(r.head)[1]);
  assert.ok(full > 5);
  assert.equal(r.body, '{"ver');
  assert.equal(r.how, 'end');
  const log = (await kit.control('GET', '/log?role=tokenserver')).body.entries;
  assert.equal(log[log.length - 1].response.truncatedAt, 5);

  // The rule is used up: the next answer is whole.
  r = await rawGet('/token/__heartbeat__');
  assert.equal(r.how, 'end');
  assert.equal(JSON.parse(r.body).status, 'Ok');
});

test('fault: reset closes with a TCP reset, mid-body or without an answer', async () => {
  await kit.control('POST', '/faults', { match: { role: 'tokenserver' }, truncateBytes: 5, reset: true, times: 1 });
  let r = await rawGet('/token/__heartbeat__');
  assert.match(r.head, /^HTTP\/1\.1 200 /);
  assert.equal(r.body, '{"ver');
  assert.equal(r.how, 'ECONNRESET');

  await kit.control('POST', '/faults', { match: { role: 'tokenserver' }, drop: true, reset: true, times: 1 });
  r = await rawGet('/token/__heartbeat__');
  assert.equal(r.head, '');
  assert.equal(r.how, 'ECONNRESET');
  assert.equal((await heartbeat()).status, 200);
});

test('fault: headers without status are added to the real response', async () => {
  await kit.control('POST', '/faults', { match: { role: 'storage' }, headers: { 'X-Weave-Backoff': '60' } });
  const res = await kit.hawk(u, 'GET', '/storage/tabs');
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-weave-backoff'], '60');
  assert.equal(res.headers['x-last-modified'] !== undefined, true);
});

test('fault: the first answering rule wins; shadowed rules keep their count', async () => {
  await kit.control('POST', '/faults', [
    { match: { role: 'storage' }, status: 502, times: 1 },
    { match: { role: 'storage' }, status: 504, times: 1 },
  ]);
  assert.equal((await kit.hawk(u, 'GET', '/storage/tabs')).status, 502);
  assert.equal((await kit.hawk(u, 'GET', '/storage/tabs')).status, 504);
  assert.equal((await kit.hawk(u, 'GET', '/storage/tabs')).status, 200);
});

test('fault: bad rules are refused and add nothing', async () => {
  for (const bad of [{ status: 99 }, { match: { role: 'nope' } }, { drop: 'yes' }, { match: { pathRegex: '(' } }, { colour: 1 }, [{ status: 500 }, { times: 0 }],
    { truncateBytes: -1 }, { truncateBytes: 1.5 }, { reset: true }, { reset: 1, drop: true }, { drop: true, truncateBytes: 3 }]) {
    const r = await kit.control('POST', '/faults', bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.equal(typeof r.body.error, 'string');
  }
  assert.deepEqual((await kit.control('GET', '/faults')).body.rules, []);
  const one = (await kit.control('POST', '/faults', { status: 500 })).body.rules[0];
  assert.equal((await kit.control('DELETE', '/faults/' + one.id)).status, 200);
  assert.equal((await kit.control('DELETE', '/faults/' + one.id)).status, 404);
});

test('log: since filtering, request details, clearing', async () => {
  const since = (await kit.control('GET', '/log')).body.lastSeq;
  await kit.hawk(u, 'PUT', '/storage/tabs/logged?x=1', { body: { payload: 'secret-ish' }, headers: { 'X-Custom': 'Yes' } });
  await heartbeat();
  const { entries, lastSeq } = (await kit.control('GET', '/log?since=' + since)).body;
  assert.equal(entries.length, 2);
  assert.equal(lastSeq, since + 2);
  const [p, h] = entries;
  assert.equal(p.seq, since + 1);
  assert.equal(p.role, 'storage');
  assert.equal(p.method, 'PUT');
  assert.equal(p.path, '/1.5/' + u.uid + '/storage/tabs/logged');
  assert.equal(p.query, 'x=1');
  assert.deepEqual(p.params, { x: '1' });
  assert.equal(p.headers['x-custom'], 'Yes');
  assert.equal(p.headers['content-type'], 'application/json');
  assert.equal(p.body, '{"payload":"secret-ish"}');
  assert.equal(p.hawk.ok, true);
  assert.equal(p.hawk.hash, true);
  assert.equal(p.status, 200);
  assert.equal(p.response.status, 200);
  assert.match(p.response.body, /^\d+\.\d{2}$/);
  assert.equal(typeof p.time, 'number');
  assert.equal(h.role, 'tokenserver');
  assert.equal(h.hawk, null);
  assert.deepEqual((await kit.control('GET', '/log?since=' + lastSeq)).body.entries, []);
  assert.equal((await kit.control('GET', '/log?since=' + since + '&role=tokenserver')).body.entries.length, 1);
  assert.equal((await kit.control('GET', '/log?since=' + since + '&method=put')).body.entries.length, 1);
  const cleared = await kit.control('DELETE', '/log');
  assert.equal(cleared.status, 200);
  assert.deepEqual((await kit.control('GET', '/log')).body.entries, []);
  // Sequence numbers keep growing after a clear.
  await heartbeat();
  assert.equal((await kit.control('GET', '/log')).body.entries[0].seq, lastSeq + 1);
});

test('seed: 5000 history records in one call, readable through storage and control', async () => {
  const fxaUid = creds.randomFxaUid();
  const clientState = creds.randomClientState();
  const records = Array.from({ length: 5000 }, (_, i) => ({ id: 'h' + String(i).padStart(11, '0'), payload: '{"ciphertext":"' + i + '"}', sortindex: i }));
  const seeded = await kit.control('POST', '/seed', { fxaUid, clientState, collection: 'history', records });
  assert.equal(seeded.status, 200);
  assert.equal(seeded.body.count, 5000);
  assert.match(seeded.body.modifiedText, /^\d+\.\d{2}$/);
  // A token for the same identity reaches the seeded storage.
  const c = await kit.oauthCredentials({ fxaUid, clientState });
  assert.equal(String(c.uid), seeded.body.uid);
  const info = await kit.hawk(c, 'GET', '/info/collections');
  assert.equal(info.body, '{"history":' + seeded.body.modifiedText + '}');
  const page = await kit.hawk(c, 'GET', '/storage/history?full=1&sort=index&limit=3');
  assert.deepEqual(page.json().map((b) => b.sortindex), [4999, 4998, 4997]);
  assert.equal(page.headers['x-weave-next-offset'], '3');
  const raw = await kit.control('GET', '/storage?fxaUid=' + fxaUid + '&clientState=' + clientState + '&collection=history');
  assert.equal(raw.body.records.length, 5000);
  assert.equal(raw.body.modified, seeded.body.modified);
  const summary = await kit.control('GET', '/storage?uid=' + c.uid);
  assert.equal(summary.body.collections.history.count, 5000);
  assert.equal(summary.body.collections.tabs.count, 0);
  const nested = await kit.control('POST', '/seed', { user: { fxaUid, clientState }, collection: 'tabs', records: [{ id: 't', payload: 'p' }] });
  assert.equal(nested.body.uid, String(c.uid));
  // Bad input.
  assert.equal((await kit.control('POST', '/seed', { uid: c.uid, collection: 'bad name', records: [] })).status, 400);
  assert.equal((await kit.control('POST', '/seed', { uid: c.uid, collection: 'history', records: [{ payload: 'no id' }] })).status, 400);
  assert.equal((await kit.control('POST', '/seed', { collection: 'history', records: [] })).status, 400);
});

test('tokens: every issued Hawk id and key, until a reset', async () => {
  const a = await kit.oauthCredentials();
  const b = await kit.oauthCredentials();
  const { tokens } = (await kit.control('GET', '/tokens')).body;
  for (const c of [a, b]) {
    const t = tokens.find((x) => x.id === c.id);
    assert.ok(t, 'issued token listed');
    assert.equal(t.key, c.key);
    assert.equal(String(t.uid), String(c.uid));
    assert.equal(typeof t.issuedAt, 'number');
  }
  await kit.control('POST', '/reset');
  assert.deepEqual((await kit.control('GET', '/tokens')).body.tokens, []);
  u = await kit.oauthCredentials(); // the other tests' user, issued again
});

test('uid lookup, config validation, reset', async () => {
  const fxaUid = creds.randomFxaUid();
  const clientState = creds.randomClientState();
  const looked = await kit.control('GET', '/uid?fxaUid=' + fxaUid + '&clientState=' + clientState);
  const c = await kit.oauthCredentials({ fxaUid, clientState });
  assert.equal(looked.body.uid, String(c.uid));
  assert.equal((await kit.control('POST', '/config', { nope: 1 })).status, 400);
  assert.equal((await kit.control('POST', '/config', { limits: { max_post_records: -1 } })).status, 400);
  assert.equal((await kit.control('POST', '/config', { hawkResource: 'sideways' })).status, 400);
  assert.equal((await kit.control('GET', '/config')).body.limits.max_post_records, 100);

  await kit.hawk(c, 'PUT', '/storage/tabs/r', { body: { payload: 'x' } });
  await kit.control('POST', '/faults', { status: 500 });
  await kit.control('POST', '/config', { skewSec: 5 });
  const reset = await kit.control('POST', '/reset');
  assert.equal(reset.status, 200);
  assert.deepEqual((await kit.control('GET', '/faults')).body.rules, []);
  assert.equal((await kit.control('GET', '/config')).body.skewSec, 60);
  assert.deepEqual((await kit.control('GET', '/log')).body.entries, []);
  // Storage is empty again; the id still verifies (same secret).
  const res = await kit.hawk(c, 'GET', '/storage/tabs');
  assert.equal(res.status, 200);
  assert.equal(res.body, '[]');
  assert.equal((await kit.control('GET', '/nope')).status, 404);
});
