'use strict';
// The whole mutable state of one test Sync server: settings, the identity
// -> uid table, issued tokens, per-user storage, the Hawk nonce cache, the
// request log and the fault rules. `reset()` brings it back to a fresh start
// (the master secret is kept, so ids issued earlier still parse).

const crypto = require('node:crypto');

// Limits reported by info/configuration: the values of the reference
// transcripts (as go-syncstorage answers).
const DEFAULT_LIMITS = Object.freeze({
  max_post_records: 100,
  max_post_bytes: 2097152,
  max_total_records: 1000,
  max_total_bytes: 20971520,
  max_request_bytes: 2097152,
  max_record_payload_bytes: 2097152,
});

function defaultConfig() {
  return {
    limits: Object.assign({}, DEFAULT_LIMITS),
    // Tokenserver
    tokenDuration: 3600, // rs default; `duration` may only shorten it
    browserid: true, // accept `Authorization: BrowserID` (legacy tokenserver)
    browseridAudience: null, // when set, the assertion `aud` must equal it
    nodeType: 'spanner',
    // Storage
    skewSec: 60, // Hawk ts tolerance (go-syncstorage: one minute)
    hawkResource: 'decoded', // 'decoded' (go: URL.Path) or 'raw' (rs: path as sent)
    checkNonce: true, // replayed nonces -> 403 (go-syncstorage)
    enforceTokenExpiry: false, // go never checks `expires`; true = rs rule
    maxGetLimit: 1000, // go default page cap without `limit` (0 = none)
    postFailedShape: 'list', // go: {"id":["reason"]}; 'string': rs/py {"id":"reason"}
    batchTtlSec: 7200,
  };
}

function createState(options) {
  const opts = options || {};
  const state = {
    secret: opts.secret || crypto.randomBytes(32).toString('hex'),
    metricsSecret: null,
    config: null,
    nodeUrl: null, // set when the server listens
  };
  state.metricsSecret = 'metrics:' + state.secret;
  state.reset = function reset() {
    state.config = defaultConfig();
    applyConfig(state.config, opts.config || {});
    state.identities = new Map(); // "fxaUid\nclientState" -> uid
    state.uidOwners = new Map(); // uid -> identity key
    state.users = new Map(); // uid (string) -> User
    state.tokens = new Map(); // token id -> {issuedAt, uid, key}
    state.tokensExpiredBefore = null; // ms; tokens issued at or before -> 401
    state.nonces = new Map(); // nonce key -> first seen (ms)
    state.batchSeq = 0;
    if (!state.log) state.log = { seq: 0, entries: [], limit: opts.logLimit || 5000 };
    state.log.entries = [];
    state.faults = { nextId: 1, rules: [] };
  };
  state.reset();
  return state;
}

// Merges a partial configuration into `config`, validating types. Throws an
// Error with a readable message on bad input.
function applyConfig(config, patch) {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) {
    throw new Error('config must be an object');
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'limits') {
      if (!v || typeof v !== 'object') throw new Error('limits must be an object');
      for (const [lk, lv] of Object.entries(v)) {
        if (!(lk in DEFAULT_LIMITS)) throw new Error('unknown limit ' + lk);
        if (!Number.isSafeInteger(lv) || lv < 0) throw new Error('limit ' + lk + ' must be a non-negative integer');
        config.limits[lk] = lv;
      }
      continue;
    }
    if (!(k in config)) throw new Error('unknown setting ' + k);
    const cur = config[k];
    if (k === 'browseridAudience') {
      if (v !== null && typeof v !== 'string') throw new Error('browseridAudience must be a string or null');
    } else if (k === 'hawkResource') {
      if (v !== 'decoded' && v !== 'raw') throw new Error("hawkResource must be 'decoded' or 'raw'");
    } else if (k === 'postFailedShape') {
      if (v !== 'list' && v !== 'string') throw new Error("postFailedShape must be 'list' or 'string'");
    } else if (typeof cur === 'number') {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(k + ' must be a non-negative number');
    } else if (typeof cur !== typeof v) {
      throw new Error(k + ' must be a ' + typeof cur);
    }
    config[k] = v;
  }
}

module.exports = { createState, applyConfig, defaultConfig, DEFAULT_LIMITS };
