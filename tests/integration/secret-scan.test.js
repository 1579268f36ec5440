'use strict';
// The log check every stack runs when it stops (tests/lib/stack.js,
// tests/lib/secrets.js) can fail: secrets that reach syncto's, nginx's and
// PostgreSQL's logs through real requests make stack.stop() reject, naming
// each file and the kind of secret. (Clients putting secrets in URLs is the
// simplest way to get them into the logs without changing syncto.)
//
//   SYNCTO_BUILD_DIR=build node --test tests/integration/secret-scan.test.js

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/stack');
const { secretIndex, scanFiles, scanText, BLOCK } = require('../lib/secrets');
const { bearerUser, browserIdUser } = require('../lib/users');

let stack;

before(async () => {
  stack = await startStack();
});

after(async () => {
  if (stack && !stack.stopped) await stack.stop();
});

const recordsUrl = (u) => `${stack.v1}/buckets/${u.bucket}/collections/tabs/records`;

test('blocks find whole secrets and long pieces of them, not short ones', () => {
  const value = 'A'.repeat(5) + 'b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7s8t9u0v1w2x3y4z5';
  const index = secretIndex([{ kind: 'thing', value }]);
  assert.equal(scanText(index, `x ${value} y`).length, 1);
  assert.equal(scanText(index, `"k":"${value.slice(7, 7 + 2 * BLOCK - 1)}"`).length, 1);
  assert.equal(scanText(index, value.slice(3, 3 + BLOCK - 1)).length, 0);
  // JWT header segments are common to every token: not searched for.
  const jwt = 'eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.' + 'p'.repeat(40) + '.' + 's'.repeat(40);
  const j = secretIndex([{ kind: 'jwt', value: jwt, jwt: true }]);
  assert.equal(scanText(j, jwt.split('.')[0]).length, 0);
  assert.equal(scanText(j, jwt.split('.')[2]).length, 1);
});

test('a clean run: secrets are known, none is in the logs', async () => {
  const bid = browserIdUser();
  const bearer = bearerUser();
  for (const u of [bid, bearer]) assert.equal((await fetch(recordsUrl(u), { headers: u.headers })).status, 200);
  const secrets = await stack.secrets();
  const kinds = new Set(secrets.map((s) => s.kind));
  for (const k of ['SYNCTO_CACHE_HMAC_SECRET', 'BrowserID assertion', 'OAuth token', 'Hawk id', 'Hawk key']) {
    assert.ok(kinds.has(k), `${k} is looked for`);
  }
  assert.ok(secrets.some((s) => s.value === bearer.token));
  assert.ok(secrets.some((s) => s.value === bid.assertion));
  assert.equal(secrets.filter((s) => s.kind === 'Hawk key').length, 2);
  assert.deepEqual(scanFiles(secretIndex(secrets), stack.logFiles()), []);
});

test('secrets that reach the logs make stack.stop() fail', async () => {
  const u = bearerUser();
  assert.equal((await fetch(recordsUrl(u), { headers: u.headers })).status, 200);
  const secrets = await stack.secrets();
  const key = secrets.filter((s) => s.kind === 'Hawk key').pop().value;
  const hmac = secrets.find((s) => s.kind === 'SYNCTO_CACHE_HMAC_SECRET').value;

  // syncto logs the request path: a Hawk key there
  assert.equal((await fetch(`${stack.v1}/${key}`)).status, 404);
  // nginx's access log has the query: a piece of an OAuth token's signature
  const sig = u.token.split('.')[2].slice(10, 10 + 2 * BLOCK);
  await fetch(`${stack.v1}/?t=${sig}`);
  // PostgreSQL logs a failing statement: the cache HMAC secret
  await assert.rejects(stack.pg.psql(`SELECT '${hmac}'::int`));

  await assert.rejects(stack.stop(), (err) => {
    assert.match(err.message, /secrets found in the logs/);
    assert.match(err.message, /syncto\.log:\d+: Hawk key/);
    assert.match(err.message, /access\.log:\d+: OAuth token/);
    assert.match(err.message, /postgres\.log:\d+: SYNCTO_CACHE_HMAC_SECRET/);
    assert.ok(!err.message.includes(key) && !err.message.includes(hmac), 'the report does not repeat the secret');
    assert.doesNotMatch(err.message, /sanitizer report/, 'nothing else went wrong');
    return true;
  });
});
