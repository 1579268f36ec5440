'use strict';
// Tokenserver: both flows, the duration rule, the error bodies of
// the tokenserver error table, heartbeats, and the token id/key construction.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startServer } = require('../testkit');
const creds = require('../credentials');
const { tokenRequest, request } = require('../hawkclient');
const tokenlib = require('../lib/tokenlib');

let kit;
test.before(async () => {
  kit = await startServer();
});
test.after(() => kit.close());

const ts = (opts) => tokenRequest(kit.info.tokenserver, opts);
const errBody = (status, location, name, description) => ({ status, errors: [{ location, name, description }] });

function decodeId(id) {
  const raw = Buffer.from(id, 'base64url');
  return { payload: JSON.parse(raw.subarray(0, raw.length - 32).toString('utf8')), sig: raw.subarray(raw.length - 32) };
}

test('tokenlib reproduces the syncstorage-rs fixture key for its token id', () => {
  const id = 'eyJ1aWQiOiAxLCAibm9kZSI6ICJodHRwOi8vbG9jYWxob3N0OjUwMDAiLCAiZXhwaXJlcyI6IDE4ODQ5Njg0MzkuMCwgImZ4YV91aWQiOiAiMzE5Yjk4Zjk5NjFmZjFkYmRkMDczMTNjZDZiYTkyNWEiLCAiZnhhX2tpZCI6ICJkZTY5N2FkNjZkODQ1YjI4NzNjOWQ3ZTEzYjg5NzFhZiIsICJoYXNoZWRfZnhhX3VpZCI6ICIwZThkZjVkNDEzOThhMzg5OTEzYmQ4NDAyNDM1NjQ5NTE4YWY0NjQ5M2RhMWQ0YTQzN2E0NmRjMTc4NGM1MDFhIiwgImhhc2hlZF9kZXZpY2VfaWQiOiAiMmJjYjkyZjRkNDY5OGMzZDdiMDgzYTNjNjk4YTE2Y2NkNzhiYzJhOGQyMGE5NmU0YmIxMjhkZGNlYWY0ZTBiNiIsICJzYWx0IjogIjJiMzA3YiJ9lXaC5pIOenf7qL1AWlgKFvYH63nakyniTXP-7acS5cw=';
  const t = tokenlib.parseToken('Ted Koppel is a robot', id);
  assert.equal(t.key, 'dSi3EoZyHwgDp-O9OG1jRHtmbGl2M1bwcWsi04C4F58=');
  assert.equal(t.payload.uid, 1);
  assert.equal(t.payload.salt, '2b307b');
  assert.throws(() => tokenlib.parseToken('another secret', id), /TokenSignatureMismatchErr/);
});

test('keyIdFor matches the spec example', () => {
  assert.equal(creds.keyIdFor('601c4497372419ee1789bf931f8c68f5', 1444122508836), '1444122508836-YBxElzckGe4Xib-TH4xo9Q');
  assert.equal(creds.keyIdFor('bbbb', 2345), '0000000002345-u7s');
});

test('OAuth flow: 200 with every token field', async () => {
  const cs = creds.randomClientState();
  const sub = creds.randomFxaUid();
  const before = Math.floor(Date.now() / 1000);
  const res = await ts({ authorization: 'Bearer ' + creds.makeOAuthToken({ sub }), keyId: creds.keyIdFor(cs, 1444122508836) });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.match(res.headers['x-timestamp'], /^\d+$/);
  assert.ok(Number(res.headers['x-timestamp']) >= before);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['id', 'key', 'uid', 'api_endpoint', 'duration', 'hashalg', 'hashed_fxa_uid', 'node_type']);
  assert.equal(body.key.length, 44);
  assert.match(body.key, /^[A-Za-z0-9_-]{43}=$/);
  assert.match(body.id, /^[A-Za-z0-9_-]+=*$/);
  assert.equal(body.id.length % 4, 0);
  assert.ok(Number.isInteger(body.uid) && String(body.uid).length <= 10);
  assert.equal(body.api_endpoint, kit.info.storage + '/1.5/' + body.uid);
  assert.equal(body.duration, 3600);
  assert.equal(body.hashalg, 'sha256');
  assert.match(body.hashed_fxa_uid, /^[0-9a-f]{32}$/);
  const { payload, sig } = decodeId(body.id);
  assert.equal(payload.uid, body.uid);
  assert.equal(payload.node, kit.info.storage);
  assert.equal(payload.fxa_uid, sub);
  assert.equal(payload.fxa_kid, creds.keyIdFor(cs, 1444122508836));
  assert.equal(payload.hashed_fxa_uid, body.hashed_fxa_uid);
  assert.match(payload.salt, /^[0-9a-f]{6}$/);
  assert.ok(payload.expires >= before + 3600 && payload.expires <= before + 3602);
  // The id is signed with the server secret and the key derives from it.
  const parsed = tokenlib.parseToken(kit.state.secret, body.id);
  assert.equal(parsed.key, body.key);
  assert.equal(sig.length, 32);
});

test('same identity keeps its uid; another client state is another storage', async () => {
  const sub = creds.randomFxaUid();
  const cs1 = creds.randomClientState();
  const cs2 = creds.randomClientState();
  const get = async (cs) => (await ts({ authorization: 'Bearer ' + creds.makeOAuthToken({ sub }), keyId: creds.keyIdFor(cs, 1) })).json();
  const a = await get(cs1);
  const b = await get(cs1);
  const c = await get(cs2);
  assert.equal(a.uid, b.uid);
  assert.notEqual(a.id, b.id);
  assert.notEqual(a.uid, c.uid);
  // BrowserID with the same fxa uid and client state lands on the same uid.
  const d = await ts({ authorization: 'BrowserID ' + creds.makeBrowserIdAssertion({ fxaUid: sub }), clientState: cs1 });
  assert.equal(d.status, 200);
  assert.equal(d.json().uid, a.uid);
});

test('OAuth errors: scope, expiry, malformed token, X-KeyID, X-Client-State', async () => {
  const cs = creds.randomClientState();
  const kid = creds.keyIdFor(cs, 1444122508836);
  const good = 'Bearer ' + creds.makeOAuthToken();
  const cases = [
    [{ authorization: 'Bearer ' + creds.makeOAuthToken({ scope: 'profile' }), keyId: kid }, 401, errBody('invalid-credentials', 'body', '', 'Unauthorized')],
    [{ authorization: 'Bearer ' + creds.makeOAuthToken({ expSec: Math.floor(Date.now() / 1000) - 5 }), keyId: kid }, 401, errBody('invalid-credentials', 'body', '', 'Unauthorized')],
    [{ authorization: 'Bearer not-a-jwt', keyId: kid }, 401, errBody('invalid-credentials', 'body', '', 'Unauthorized')],
    [{ authorization: good }, 401, errBody('invalid-key-id', 'header', '', 'Missing X-KeyID header')],
    [{ authorization: good, keyId: 'nodash' }, 401, errBody('invalid-credentials', 'body', '', 'Unauthorized')],
    [{ authorization: good, keyId: 'abc-YBxElzckGe4Xib-TH4xo9Q' }, 401, errBody('invalid-credentials', 'body', '', 'Unauthorized')],
    [{ authorization: good, keyId: '1444122508836-YBxElzckGe4Xib-TH4xo9Q==' }, 401, errBody('invalid-credentials', 'body', '', 'Unauthorized')],
    [{ authorization: good, keyId: kid, clientState: 'not valid!' }, 400, errBody('error', 'header', 'X-Client-State', 'Invalid client state value')],
    [{ authorization: good, keyId: kid, clientState: creds.randomClientState() }, 401, errBody('invalid-client-state', 'body', '', 'Unauthorized')],
    [{ authorization: good, keyId: kid, clientState: cs }, 200, null],
    [{}, 401, errBody('error', 'body', '', 'Unauthorized')],
    [{ authorization: 'Bearer' }, 401, errBody('error', 'body', '', 'Unauthorized')],
    [{ authorization: 'Basic dXNlcjpwYXNz' }, 401, errBody('error', 'body', '', 'Unsupported')],
  ];
  for (const [opts, status, body] of cases) {
    const res = await ts(opts);
    assert.equal(res.status, status, JSON.stringify(opts) + ' -> ' + res.body);
    if (body) {
      assert.deepEqual(res.json(), body);
      assert.equal(res.headers['x-timestamp'], undefined);
    }
  }
});

test('BrowserID flow: success, expired assertion, bad assertion, audience', async () => {
  const cs = creds.randomClientState();
  const fxaUid = creds.randomFxaUid();
  const ok = await ts({ authorization: 'BrowserID ' + creds.makeBrowserIdAssertion({ fxaUid }), clientState: cs });
  assert.equal(ok.status, 200);
  const body = ok.json();
  assert.equal(decodeId(body.id).payload.fxa_uid, fxaUid);
  assert.match(decodeId(body.id).payload.fxa_kid, /^\d{13}-[A-Za-z0-9_-]{22}$/);
  // The scheme name is case-insensitive.
  assert.equal((await ts({ authorization: 'browserid ' + creds.makeBrowserIdAssertion({ fxaUid }), clientState: cs })).status, 200);

  const expired = await ts({ authorization: 'BrowserID ' + creds.makeBrowserIdAssertion({ expMs: Date.now() - 1000 }), clientState: cs });
  assert.equal(expired.status, 401);
  assert.deepEqual(expired.json(), errBody('invalid-timestamp', 'body', '', 'Unauthorized'));
  assert.match(expired.headers['x-timestamp'], /^\d+$/);
  const certExpired = await ts({ authorization: 'BrowserID ' + creds.makeBrowserIdAssertion({ certExpMs: Date.now() - 1000 }), clientState: cs });
  assert.deepEqual(certExpired.json(), errBody('invalid-timestamp', 'body', '', 'Unauthorized'));

  for (const bad of ['garbage', 'a.b.c', creds.makeBrowserIdAssertion().split('~')[0]]) {
    const r = await ts({ authorization: 'BrowserID ' + bad, clientState: cs });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json(), errBody('invalid-credentials', 'body', '', 'Unauthorized'));
  }
  const unverified = await ts({ authorization: 'BrowserID ' + creds.makeBrowserIdAssertion({ tokenVerified: false }), clientState: cs });
  assert.deepEqual(unverified.json(), errBody('invalid-credentials', 'body', '', 'Unauthorized'));
  const badState = await ts({ authorization: 'BrowserID ' + creds.makeBrowserIdAssertion(), clientState: 'x'.repeat(33) });
  assert.equal(badState.status, 400);
  assert.deepEqual(badState.json(), errBody('error', 'header', 'X-Client-State', 'Invalid client state value'));

  await kit.control('POST', '/config', { browseridAudience: 'https://syncto.example/' });
  try {
    const wrongAud = await ts({ authorization: 'BrowserID ' + creds.makeBrowserIdAssertion(), clientState: cs });
    assert.deepEqual(wrongAud.json(), errBody('invalid-credentials', 'body', '', 'Unauthorized'));
    const rightAud = await ts({ authorization: 'BrowserID ' + creds.makeBrowserIdAssertion({ aud: 'https://syncto.example/' }), clientState: cs });
    assert.equal(rightAud.status, 200);
    await kit.control('POST', '/config', { browserid: false });
    const off = await ts({ authorization: 'BrowserID ' + creds.makeBrowserIdAssertion({ aud: 'https://syncto.example/' }), clientState: cs });
    assert.equal(off.status, 401);
    assert.deepEqual(off.json(), errBody('error', 'body', '', 'Unsupported'));
  } finally {
    await kit.control('POST', '/config', { browseridAudience: null, browserid: true });
  }
});

test('duration: honoured up to the token lifetime, otherwise the default', async () => {
  const cases = [['600', 600], ['0', 0], ['3600', 3600], ['7200', 3600], ['-1', 3600], ['lolwut', 3600], ['1.5', 3600]];
  for (const [q, want] of cases) {
    const res = await ts({
      authorization: 'Bearer ' + creds.makeOAuthToken(),
      keyId: creds.keyIdFor(creds.randomClientState(), 1),
      duration: q,
    });
    assert.equal(res.status, 200);
    assert.equal(res.json().duration, want, 'duration=' + q);
    const exp = decodeId(res.json().id).payload.expires;
    assert.ok(Math.abs(exp - (Math.floor(Date.now() / 1000) + want)) <= 2);
  }
});

test('unsupported application or version, heartbeats', async () => {
  const base = kit.info.tokenserver;
  const h = { Authorization: 'Bearer ' + creds.makeOAuthToken() };
  const app = await request('GET', base + '1.0/foo/1.5', { headers: h });
  assert.equal(app.status, 404);
  assert.deepEqual(app.json(), errBody('error', 'url', 'application', 'Unsupported application'));
  const ver = await request('GET', base + '1.0/sync/1.1', { headers: h });
  assert.equal(ver.status, 404);
  assert.deepEqual(ver.json(), errBody('error', 'url', '1.1', 'Unsupported application version'));

  const hb = await request('GET', base + '__heartbeat__');
  assert.equal(hb.status, 200);
  const hbBody = hb.json();
  assert.deepEqual(Object.keys(hbBody), ['version', 'database', 'status']);
  assert.equal(hbBody.status, 'Ok');
  assert.equal(hbBody.database, 'Ok');
  const lb = await request('GET', base + '__lbheartbeat__');
  assert.equal(lb.status, 200);
  assert.equal(lb.body, '{}');
});

test('uids are stable across servers sharing nothing but the inputs', async () => {
  const other = await startServer();
  try {
    const sub = creds.randomFxaUid();
    const cs = creds.randomClientState();
    const get = async (k) => (await tokenRequest(k.info.tokenserver, {
      authorization: 'Bearer ' + creds.makeOAuthToken({ sub }), keyId: creds.keyIdFor(cs, 5),
    })).json();
    const [a, b] = [await get(kit), await get(other)];
    assert.equal(a.uid, b.uid);
    // Different secrets: a token of one server is not valid on the other.
    assert.throws(() => tokenlib.parseToken(other.state.secret, a.id), /TokenSignatureMismatchErr/);
    assert.notEqual(crypto.createHash('sha256').update(a.key).digest('hex'), crypto.createHash('sha256').update(b.key).digest('hex'));
  } finally {
    await other.close();
  }
});
