'use strict';
// Many new users at once on one worker process: 64 users whose credentials
// are not cached yet send their first request together, to a single worker
// with 64 threads, while the tokenserver takes 300 ms to answer. Each user
// costs exactly one tokenserver call, every answer is stored in the
// credential cache (a second burst of the same users makes no tokenserver
// call at all), and no request ever waits in vain for a pooled PostgreSQL
// connection. Then 16 new users send 4 requests each, all at once: one
// tokenserver call per user. No timings are asserted.
//
//   SYNCTO_BUILD_DIR=build node --test tests/integration/cache-burst.test.js

const { test, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('../lib/stack');
const creds = require('../syncserver/credentials');

const USERS = 64;
const TOKENSERVER_LATENCY_MS = 300;
const KCA = 1444122508836;

let stack;
let users;

async function control(method, p, body) {
  const res = await fetch(stack.sync.control + p, {
    method,
    headers: body !== undefined ? { 'Content-Type': 'application/json' } : {},
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  assert.ok(res.ok, `control ${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const lastSeq = async () => (await control('GET', '/log?since=999999999')).lastSeq;

/** A new user with one record of its own; even ones use Bearer, odd ones BrowserID. */
async function newUser(i) {
  const fxaUid = creds.randomFxaUid();
  const clientState = creds.randomClientState();
  let headers;
  let credential;
  if (i % 2 === 0) {
    credential = creds.makeOAuthToken({ sub: fxaUid });
    headers = { Authorization: `Bearer ${credential}`, 'X-KeyID': creds.keyIdFor(clientState, KCA) };
  } else {
    credential = creds.makeBrowserIdAssertion({ fxaUid });
    headers = { Authorization: `BrowserID ${credential}` };
  }
  await control('POST', '/seed', {
    fxaUid, clientState, collection: 'history',
    records: [{ id: `rec-${i}`, payload: JSON.stringify({ ciphertext: `c${i}`, IV: 'i', hmac: 'h' }) }],
  });
  return { i, clientState, credential, headers };
}

async function list(u) {
  const res = await fetch(`${stack.v1}/buckets/${u.clientState}/collections/history/records`, { headers: u.headers });
  return { status: res.status, body: await res.text() };
}

/**
 * The given users' requests all at once (by default one per user); returns
 * the answers, the tokenserver requests and syncto's log meanwhile.
 */
async function burst(requests = users) {
  const seq = await lastSeq();
  const from = stack.synctoLogOffset();
  const results = await Promise.all(requests.map(list));
  const { entries } = await control('GET', `/log?since=${seq}&role=tokenserver`);
  return { results, tokenCalls: entries, log: stack.synctoLog(from) };
}

function assertAnswers(results, requests = users) {
  results.forEach((r, j) => {
    const { i } = requests[j];
    assert.equal(r.status, 200, `user ${i}: ${r.body}`);
    assert.deepEqual(JSON.parse(r.body).data.map((rec) => rec.id), [`rec-${i}`]);
  });
}

const callsFor = (entries, u) => entries.filter((e) => (e.headers.authorization || '').includes(u.credential));

function assertNoPoolTimeout(log, burstName) {
  const lines = log.split('\n').filter((l) => l.includes('no free PostgreSQL connection'));
  assert.equal(lines.length, 0, `${burstName} burst: requests waited in vain for a pooled PostgreSQL ` +
    `connection, e.g.: ${lines[0]}`);
}

before(async () => {
  stack = await startStack({ env: { SYNCTO_WORKERS: '1', SYNCTO_THREADS: String(USERS) } });
  users = [];
  for (let i = 0; i < USERS; i++) users.push(await newUser(i));
  await control('POST', '/faults', { match: { role: 'tokenserver' }, latencyMs: TOKENSERVER_LATENCY_MS });
});

after(async () => {
  if (stack) await stack.stop();
});

afterEach((t) => stack && stack.printLogsIfFailed(t));

test(`${USERS} new users at once on one worker: one tokenserver call each, all of them cached`, async () => {
  const first = await burst();
  const rows = await stack.pg.psql("SELECT count(*) AS n FROM cache WHERE key LIKE 'credentials\\_%'");
  const second = await burst();

  assertAnswers(first.results);
  assert.equal(first.tokenCalls.length, USERS, 'first burst: one tokenserver call per new user');
  for (const u of users) {
    assert.equal(callsFor(first.tokenCalls, u).length, 1, `first burst: tokenserver calls for user ${u.i}`);
  }
  assert.equal(Number(rows[0].n), USERS, 'one cache entry per user after the first burst');
  assertAnswers(second.results);
  assert.equal(second.tokenCalls.length, 0, 'second burst: every credential came from the cache');
  assertNoPoolTimeout(first.log, 'first');
  assertNoPoolTimeout(second.log, 'second');
});

// A new Kinto client opens with several requests at once. Even while every
// connection that may keep a lock is taken by other new users, the requests
// of one user on one worker wait for a single tokenserver call.
test(`${USERS / 4} new users sending 4 requests each, all at once: one tokenserver call per user`, async () => {
  const group = [];
  for (let i = USERS; i < USERS + USERS / 4; i++) group.push(await newUser(i));
  const requests = group.flatMap((u) => [u, u, u, u]);
  const { results, tokenCalls, log } = await burst(requests);
  assertAnswers(results, requests);
  for (const u of group) assert.equal(callsFor(tokenCalls, u).length, 1, `tokenserver calls for user ${u.i}`);
  assert.equal(tokenCalls.length, group.length);
  assertNoPoolTimeout(log, 'this');
});
