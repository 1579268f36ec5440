'use strict';
// Fault injection rules, set through the control API. A rule:
//   {match: {role, method, pathRegex, queryRegex}, latencyMs, status, body,
//    headers, drop, truncateBytes, reset, times}
// Every field is optional; an empty `match` matches every tokenserver and
// storage request (control requests are never faulted). For each request
// all matching rules are looked at in order:
//   - latencies add up, and headers of rules without status/drop are added
//     to the real response (e.g. X-Weave-Backoff on a 200);
//   - the first rule with `status` or `drop` answers instead of the server
//     (after the latency): `drop` destroys the socket without a response.
//   - `truncateBytes: N` cuts the body after N bytes: the headers announce
//     the whole body (Content-Length), N bytes are sent, then the connection
//     closes. On an answering rule it cuts that rule's body; on a rule
//     without status it cuts the real answer (the first such rule counts).
//   - `reset: true` closes with a TCP reset (RST) instead of a normal close,
//     after `truncateBytes` bytes, or at once with `drop`.
// `times` counts matches; the rule is removed when it reaches 0. A later
// status/drop rule that is shadowed by an earlier one is not counted.

function normalize(raw, id) {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('a fault rule must be an object');
  const known = ['match', 'latencyMs', 'status', 'body', 'headers', 'drop', 'truncateBytes', 'reset', 'times'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) throw new Error('unknown rule field ' + k);
  const m = raw.match || {};
  if (typeof m !== 'object' || Array.isArray(m)) throw new Error('match must be an object');
  for (const k of Object.keys(m)) {
    if (!['role', 'method', 'pathRegex', 'queryRegex'].includes(k)) throw new Error('unknown match field ' + k);
  }
  if (m.role !== undefined && m.role !== 'tokenserver' && m.role !== 'storage') {
    throw new Error("match.role must be 'tokenserver' or 'storage'");
  }
  if (m.method !== undefined && typeof m.method !== 'string') throw new Error('match.method must be a string');
  const rule = {
    id,
    match: {},
    latencyMs: 0,
    status: null,
    body: undefined,
    headers: {},
    drop: false,
    truncateBytes: null, // bytes of the body sent before closing; null = all
    reset: false,
    times: null, // remaining matches; null = unlimited
    hits: 0,
  };
  if (m.role !== undefined) rule.match.role = m.role;
  if (m.method !== undefined) rule.match.method = m.method.toUpperCase();
  for (const k of ['pathRegex', 'queryRegex']) {
    if (m[k] === undefined) continue;
    if (typeof m[k] !== 'string') throw new Error('match.' + k + ' must be a string');
    try {
      rule[k === 'pathRegex' ? 'pathRe' : 'queryRe'] = new RegExp(m[k]);
    } catch (e) {
      throw new Error('match.' + k + ': ' + e.message);
    }
    rule.match[k] = m[k];
  }
  if (raw.latencyMs !== undefined) {
    if (typeof raw.latencyMs !== 'number' || !(raw.latencyMs >= 0) || raw.latencyMs > 600000) {
      throw new Error('latencyMs must be a number of milliseconds in [0, 600000]');
    }
    rule.latencyMs = raw.latencyMs;
  }
  if (raw.status !== undefined) {
    if (!Number.isInteger(raw.status) || raw.status < 100 || raw.status > 599) throw new Error('status must be an HTTP status');
    rule.status = raw.status;
  }
  if (raw.body !== undefined) rule.body = raw.body;
  if (raw.headers !== undefined) {
    if (!raw.headers || typeof raw.headers !== 'object' || Array.isArray(raw.headers)) throw new Error('headers must be an object');
    for (const [k, v] of Object.entries(raw.headers)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new Error('header ' + k + ' must be a string');
      rule.headers[k] = String(v);
    }
  }
  if (raw.drop !== undefined) {
    if (typeof raw.drop !== 'boolean') throw new Error('drop must be a boolean');
    rule.drop = raw.drop;
  }
  if (raw.truncateBytes !== undefined && raw.truncateBytes !== null) {
    if (!Number.isInteger(raw.truncateBytes) || raw.truncateBytes < 0) {
      throw new Error('truncateBytes must be a non-negative integer');
    }
    rule.truncateBytes = raw.truncateBytes;
  }
  if (raw.reset !== undefined) {
    if (typeof raw.reset !== 'boolean') throw new Error('reset must be a boolean');
    rule.reset = raw.reset;
  }
  if (rule.reset && !rule.drop && rule.truncateBytes === null) {
    throw new Error('reset needs drop or truncateBytes');
  }
  if (rule.drop && rule.truncateBytes !== null) throw new Error('drop sends no body to truncate');
  if (raw.times !== undefined && raw.times !== null) {
    if (!Number.isInteger(raw.times) || raw.times < 1) throw new Error('times must be a positive integer');
    rule.times = raw.times;
  }
  return rule;
}

function publicRule(r) {
  const out = { id: r.id, match: r.match, latencyMs: r.latencyMs, hits: r.hits, remaining: r.times };
  if (r.status !== null) out.status = r.status;
  if (r.body !== undefined) out.body = r.body;
  if (Object.keys(r.headers).length) out.headers = r.headers;
  if (r.drop) out.drop = true;
  if (r.truncateBytes !== null) out.truncateBytes = r.truncateBytes;
  if (r.reset) out.reset = true;
  return out;
}

function add(state, raw) {
  const rule = normalize(raw, state.faults.nextId);
  state.faults.nextId += 1;
  state.faults.rules.push(rule);
  return rule;
}

function matches(rule, ctx) {
  const m = rule.match;
  if (m.role !== undefined && m.role !== ctx.role) return false;
  if (m.method !== undefined && m.method !== ctx.method) return false;
  if (rule.pathRe && !rule.pathRe.test(ctx.rawPath)) return false;
  if (rule.queryRe && !rule.queryRe.test(ctx.rawQuery)) return false;
  return true;
}

// Decides what the rules do to this request: {latencyMs, action, headers,
// cut, ids}. `action` is the answering rule or null; `cut` is
// {bytes, reset} when the body is to be truncated, else null.
function evaluate(state, ctx) {
  let latencyMs = 0;
  let action = null;
  let cut = null;
  const headers = {};
  const ids = [];
  for (const rule of state.faults.rules.slice()) {
    if (!matches(rule, ctx)) continue;
    const answers = rule.status !== null || rule.drop;
    if (answers && action) continue;
    rule.hits += 1;
    ids.push(rule.id);
    if (rule.times !== null) {
      rule.times -= 1;
      if (rule.times === 0) state.faults.rules = state.faults.rules.filter((r) => r !== rule);
    }
    latencyMs += rule.latencyMs;
    if (answers) {
      action = rule;
      if (rule.truncateBytes !== null) cut = { bytes: rule.truncateBytes, reset: rule.reset };
    } else {
      Object.assign(headers, rule.headers);
      if (rule.truncateBytes !== null && !cut) cut = { bytes: rule.truncateBytes, reset: rule.reset };
    }
  }
  if (action && action.truncateBytes === null) cut = null;
  return { latencyMs, action, headers, cut, ids };
}

// Writes the response of an answering rule.
function respond(ctx, rule) {
  const h = {};
  let body = null;
  if (rule.body !== undefined) {
    body = typeof rule.body === 'string' ? rule.body : JSON.stringify(rule.body);
    if (!Object.keys(rule.headers).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  }
  Object.assign(h, rule.headers);
  ctx.send(rule.status, h, body);
}

module.exports = { add, evaluate, respond, publicRule, normalize };
