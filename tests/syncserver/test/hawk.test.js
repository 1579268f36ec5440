'use strict';
// Hawk verification of storage requests: the go-syncstorage answers of
// what go-syncstorage answers, the Host-header rule, payload hashes, and the
// token-expiry switches.

const test = require('node:test');
const assert = require('node:assert/strict');
const hawk = require('hawk');
const { startServer } = require('../testkit');
const { request, hawkRequest } = require('../hawkclient');
const tokenlib = require('../lib/tokenlib');

let kit;
let user;
test.before(async () => {
  kit = await startServer();
  user = await kit.oauthCredentials();
});
test.after(() => kit.close());

const now = () => Math.floor(Date.now() / 1000);

test('a correctly signed request passes and the log records the verdict', async () => {
  const since = (await kit.control('GET', '/log')).body.lastSeq;
  const res = await kit.hawk(user, 'GET', '/info/collections');
  assert.equal(res.status, 200);
  const entries = (await kit.control('GET', '/log?since=' + since)).body.entries;
  assert.equal(entries.length, 1);
  const e = entries[0];
  assert.equal(e.role, 'storage');
  assert.equal(e.method, 'GET');
  assert.equal(e.path, '/1.5/' + user.uid + '/info/collections');
  assert.equal(e.status, 200);
  assert.equal(e.hawk.ok, true);
  assert.equal(e.hawk.uid, String(user.uid));
  assert.equal(e.hawk.port, String(kit.info.port));
  assert.match(e.headers.authorization, /^Hawk id="/);
});

test('missing Authorization -> 401 with Www-Authenticate: Hawk, no X-Weave-Timestamp', async () => {
  const res = await request('GET', user.api_endpoint + '/info/collections', { headers: { Accept: 'application/json' } });
  assert.equal(res.status, 401);
  assert.equal(res.body, '{"err":"Hawk: AuthError: hawk: no Authorization header or bewit parameter found"}');
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(res.headers['www-authenticate'], 'Hawk');
  assert.ok(res.rawHeaders.includes('Www-Authenticate'));
  assert.equal(res.headers['x-weave-timestamp'], undefined);
});

test('bad MAC (wrong key) -> 403, not 401', async () => {
  const res = await kit.hawk(user, 'GET', '/info/collections', { key: 'x'.repeat(43) + '=' });
  assert.equal(res.status, 403);
  assert.equal(res.body, '{"err":"Hawk: auth invalid: hawk: invalid MAC"}');
  assert.equal(res.headers['www-authenticate'], 'Hawk');
  assert.equal(res.headers['x-weave-timestamp'], undefined);
});

test('token signed with another secret -> 401 TokenSignatureMismatchErr', async () => {
  const forged = tokenlib.makeToken('not the server secret', { uid: user.uid, node: kit.info.storage, expires: now() + 3600 });
  const res = await kit.hawk({ id: forged.id, key: forged.key, api_endpoint: user.api_endpoint }, 'GET', '/info/collections');
  assert.equal(res.status, 401);
  assert.equal(res.body, '{"err":"Hawk: Invalid token: TokenSignatureMismatchErr"}');
  assert.equal(res.headers['www-authenticate'], undefined);
});

test('uid in URL != token uid -> 401', async () => {
  const res = await hawkRequest(user, 'GET', kit.info.storage + '/1.5/4242/info/collections');
  assert.equal(res.status, 401);
  assert.equal(res.body, '{"err":"Hawk: UID in URL (4242) != Token UID (' + user.uid + ')"}');
});

test('timestamp skew over 60 s -> 403 with the measured skew', async () => {
  const res = await kit.hawk(user, 'GET', '/info/collections', { ts: now() - 120 });
  assert.equal(res.status, 403);
  const m = /^\{"err":"Hawk: timestamp skew too large (\d+\.\d{3})"\}$/.exec(res.body);
  assert.ok(m, res.body);
  assert.ok(Number(m[1]) >= 119 && Number(m[1]) < 130);
  assert.equal(res.headers['www-authenticate'], 'Hawk');
  const ahead = await kit.hawk(user, 'GET', '/info/collections', { ts: now() + 120 });
  assert.equal(ahead.status, 403);
  assert.match(ahead.body, /timestamp skew too large -1\d\d\.\d{3}/);
  assert.equal((await kit.hawk(user, 'GET', '/info/collections', { ts: now() - 30 })).status, 200);
});

test('replayed nonce -> 403', async () => {
  const t = now();
  const first = await kit.hawk(user, 'GET', '/info/collections', { ts: t, nonce: 'fixed-nonce' });
  assert.equal(first.status, 200);
  const again = await kit.hawk(user, 'GET', '/info/collections', { ts: t, nonce: 'fixed-nonce' });
  assert.equal(again.status, 403);
  assert.equal(again.body, '{"err":"Hawk: Replay nonce=fixed-nonce"}');
  assert.equal(again.headers['www-authenticate'], 'Hawk');
});

test('host and port come from the Host header; no port means 443', async () => {
  // Signed with the real port, Host without a port: the server checks 443.
  const noPort = await kit.hawk(user, 'GET', '/info/collections', { hostHeader: '127.0.0.1' });
  assert.equal(noPort.status, 403);
  assert.equal(noPort.body, '{"err":"Hawk: auth invalid: hawk: invalid MAC"}');
  // Signed with 443 and Host without a port: accepted.
  const signed443 = await kit.hawk(user, 'GET', '/info/collections', { hostHeader: '127.0.0.1', signPort: 443 });
  assert.equal(signed443.status, 200);
  // A Host name other than the address also counts as given.
  const named = await kit.hawk(user, 'GET', '/info/collections', { hostHeader: 'sync.example:8443', signHost: 'sync.example', signPort: 8443 });
  assert.equal(named.status, 200);
});

test('the MAC covers the decoded path (go) unless hawkResource is raw (rs)', async () => {
  await kit.control('POST', '/seed', { uid: user.uid, collection: 'tabs', records: [{ id: 'a b', payload: 'x' }] });
  const path = new URL(user.api_endpoint).pathname + '/storage/tabs/a%20b';
  // Signed over the decoded path "/.../a b", sent as "/.../a%20b".
  const signedDecoded = () => request('GET', kit.info.storage + path, {
    rawPath: path,
    headers: {
      Accept: 'application/json',
      Authorization: hawk.client.header({
        protocol: 'http:', hostname: '127.0.0.1', port: String(kit.info.port), pathname: path.replace('%20', ' '), search: '',
      }, 'GET', { credentials: { id: user.id, key: user.key, algorithm: 'sha256' } }).header,
    },
  });
  const signedRaw = () => kit.hawk(user, 'GET', '/storage/tabs/a%20b', { rawPath: path });
  const ok = await signedDecoded();
  assert.equal(ok.status, 200);
  assert.equal(ok.json().id, 'a b');
  assert.equal((await signedRaw()).status, 403);
  await kit.control('POST', '/config', { hawkResource: 'raw' });
  try {
    assert.equal((await signedRaw()).status, 200);
    assert.equal((await signedDecoded()).status, 403);
  } finally {
    await kit.control('POST', '/config', { hawkResource: 'decoded' });
  }
});

test('payload hash: checked when present, optional otherwise', async () => {
  const body = JSON.stringify({ payload: 'hashed' });
  const ok = await kit.hawk(user, 'PUT', '/storage/tabs/h1', { body });
  assert.equal(ok.status, 200);
  const noHash = await kit.hawk(user, 'PUT', '/storage/tabs/h2', { body, hash: false });
  assert.equal(noHash.status, 200);
  // The hash ignores Content-Type parameters and case.
  const ctParams = await kit.hawk(user, 'PUT', '/storage/tabs/h3', { body, contentType: 'Application/JSON; charset=utf-8' });
  assert.equal(ctParams.status, 200);

  // Sign one body, send another.
  const header = hawk.client.header(user.api_endpoint + '/storage/tabs/h4', 'PUT', {
    credentials: { id: user.id, key: user.key, algorithm: 'sha256' },
    payload: body,
    contentType: 'application/json',
  }).header;
  const tampered = await request('PUT', user.api_endpoint + '/storage/tabs/h4', {
    headers: { Authorization: header, 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ payload: 'tampered' }),
  });
  assert.equal(tampered.status, 403);
  assert.equal(tampered.body, '{"err":"Hawk: payload hash invalid"}');
  assert.equal(tampered.headers['www-authenticate'], 'Hawk');

  // A hash with no Content-Type.
  const noCt = hawk.client.header(user.api_endpoint + '/info/collections', 'GET', {
    credentials: { id: user.id, key: user.key, algorithm: 'sha256' },
    payload: '',
    contentType: '',
  }).header;
  const res = await request('GET', user.api_endpoint + '/info/collections', { headers: { Authorization: noCt } });
  assert.equal(res.status, 400);
  assert.equal(res.body, '{"err":"Hawk: Content-Type required"}');
});

test('malformed headers -> 403', async () => {
  const send = (auth) => request('GET', user.api_endpoint + '/info/collections', { headers: { Authorization: auth } });
  const notHawk = await send('Bearer abc');
  assert.equal(notHawk.status, 403);
  assert.equal(notHawk.body, '{"err":"Hawk: Malformed hawk header, field: scheme, err: must be Hawk"}');
  const noMac = await send('Hawk id="' + user.id + '", ts="' + now() + '", nonce="abc"');
  assert.equal(noMac.status, 403);
  assert.match(noMac.body, /Malformed hawk header, field: mac/);
  const badTs = await send('Hawk id="' + user.id + '", ts="soon", nonce="abc", mac="AAAA"');
  assert.equal(badTs.status, 403);
  assert.match(badTs.body, /field: ts, err: not an integer/);
});

test('expire-tokens: issued tokens get 401 body 0, new ones work', async () => {
  const a = await kit.oauthCredentials();
  assert.equal((await kit.hawk(a, 'GET', '/info/collections')).status, 200);
  const cut = await kit.control('POST', '/expire-tokens');
  assert.equal(cut.status, 200);
  try {
    const res = await kit.hawk(a, 'GET', '/info/collections');
    assert.equal(res.status, 401);
    assert.equal(res.body, '0');
    assert.equal(res.headers['content-type'], 'application/json');
    const since = (await kit.control('GET', '/log')).body.lastSeq;
    await new Promise((r) => setTimeout(r, 5));
    const b = await kit.oauthCredentials({ fxaUid: undefined });
    assert.equal((await kit.hawk(b, 'GET', '/info/collections')).status, 200);
    const log = (await kit.control('GET', '/log?since=' + since + '&role=storage')).body.entries;
    assert.equal(log[0].hawk.ok, true);
  } finally {
    await kit.control('POST', '/expire-tokens', { before: null });
  }
  assert.equal((await kit.hawk(a, 'GET', '/info/collections')).status, 200);
});

test('token expiry is not enforced by default (go), and is with enforceTokenExpiry (rs)', async () => {
  const old = tokenlib.makeToken(kit.state.secret, { uid: user.uid, node: kit.info.storage, expires: now() - 3600 });
  const c = { id: old.id, key: old.key, api_endpoint: user.api_endpoint };
  assert.equal((await kit.hawk(c, 'GET', '/info/collections')).status, 200);
  await kit.control('POST', '/config', { enforceTokenExpiry: true });
  try {
    const r = await kit.hawk(c, 'GET', '/storage/tabs');
    assert.equal(r.status, 401);
    assert.equal(r.body, '0');
    // rs exempts info/collections.
    assert.equal((await kit.hawk(c, 'GET', '/info/collections')).status, 200);
  } finally {
    await kit.control('POST', '/config', { enforceTokenExpiry: false });
  }
});
