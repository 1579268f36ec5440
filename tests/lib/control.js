'use strict';
// The test Sync server's control API (tests/syncserver/README.md) as the
// suites and benchmarks use it: any call, the request log, seeding, and
// what its answers hold. Every function takes the stack from startStack().
//
//   const { control, lastSeq, logSince } = require('../lib/control');
//   const seq = await lastSeq(stack);
//   await control(stack, 'POST', '/faults', { match: { role: 'storage' }, status: 503 });
//   const entries = await logSince(stack, seq, 'storage');

/**
 * One call to the control API; resolves to the parsed answer, null when it
 * is empty. Throws when the answer is not a 2xx.
 */
async function control(stack, method, path, body) {
  const res = await fetch(stack.sync.control + path, {
    method,
    headers: body !== undefined ? { 'Content-Type': 'application/json' } : {},
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`control ${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Sequence number of the last request the Sync server logged. */
async function lastSeq(stack) {
  return (await control(stack, 'GET', '/log?since=1e15')).lastSeq;
}

/** Requests logged after `seq`, of one role ('storage', 'tokenserver') or all. */
async function logSince(stack, seq, role) {
  const q = role ? `&role=${role}` : '';
  return (await control(stack, 'GET', `/log?since=${seq}${q}`)).entries;
}

/**
 * Stores `records` ({id, payload, ...}) in one write to `collection` of
 * `user` ({fxaUid, clientState}); resolves to the server's answer
 * ({uid, modified, modifiedText, count}).
 */
function seed(stack, user, collection, records) {
  return control(stack, 'POST', '/seed', { fxaUid: user.fxaUid, clientState: user.clientState, collection, records });
}

/** "1700000000.12" (Sync seconds, as text) -> 1700000000120 (ms), without floats. */
function syncMs(text) {
  const m = /^(\d+)(?:\.(\d{0,3}))?/.exec(String(text));
  if (!m) throw new Error(`not a Sync timestamp: ${text}`);
  return Number(m[1]) * 1000 + Number(((m[2] || '') + '000').slice(0, 3));
}

/**
 * Largest number of log entries in flight at one instant. An entry spans
 * [time, time + durationMs] in whole milliseconds, at least one; an entry
 * that ends in the millisecond another starts does not overlap it.
 */
function maxInFlight(entries) {
  const events = [];
  for (const e of entries) events.push([e.time, 1], [e.time + Math.max(1, e.durationMs), -1]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of events) {
    cur += d;
    if (cur > max) max = cur;
  }
  return max;
}

module.exports = { control, lastSeq, logSince, seed, syncMs, maxInFlight };
