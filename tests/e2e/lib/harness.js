'use strict';
// Shared plumbing of the end-to-end suites: the stack they run against, test
// users with both authentication flows, and direct access to the test Sync
// server (control API for seeding, inspecting and faults; Hawk-signed
// storage calls for changes made "by another Sync client", e.g. Firefox).

const crypto = require('node:crypto');
const { startStack } = require('../../lib/stack');
const { control, lastSeq, seed, syncMs } = require('../../lib/control');
const creds = require('../../syncserver/credentials');
const { hawkRequest, tokenRequest } = require('../../syncserver/hawkclient');

// Collections the suites write to through Syncto; every other one stays
// read-only (Syncto's default).
const WRITABLE = ['history', 'forms'];

/** Settings that open PUT and DELETE on WRITABLE, plus `extra`. */
function writableEnv(extra) {
  const env = {};
  for (const c of WRITABLE) {
    env[`SYNCTO_RECORD_${c.toUpperCase()}_PUT_ENABLED`] = 'true';
    env[`SYNCTO_RECORD_${c.toUpperCase()}_DELETE_ENABLED`] = 'true';
  }
  return Object.assign(env, extra || {});
}

/** Starts nginx + syncto + PostgreSQL + the test Sync server. */
async function startE2EStack(extraEnv) {
  return startStack({ env: writableEnv(extraEnv) });
}

/** A fake encrypted Sync payload: the JSON shape Firefox writes, random bytes. */
function opaquePayload(label) {
  return JSON.stringify({
    ciphertext: crypto.randomBytes(48).toString('base64'),
    IV: crypto.randomBytes(16).toString('base64'),
    hmac: crypto.createHash('sha256').update(String(label)).digest('hex'),
  });
}

// Sync record ids that Kinto's default id schema would refuse; Syncto must
// carry them through paths, batch sub-requests and listings untouched.
const ODD_IDS = Object.freeze({
  dash: '-abc',
  guid: '{6b3f5c1e-2a4d-4c8e-9f1a-0b2c3d4e5f60}',
  long64: '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-',
});

/** An id schema for Kinto.js that accepts every Sync id (1-64 printable ASCII). */
const SYNC_ID_SCHEMA = Object.freeze({
  generate() {
    throw new Error('Sync record ids are chosen by the client: create with { useRecordId: true }');
  },
  validate(id) {
    return typeof id === 'string' && /^[ -~]{1,64}$/.test(id);
  },
});

/**
 * A Firefox Account with a Sync key, as a Syncto client sees it.
 *   flow 'oauth'     Authorization: Bearer <token> + X-KeyID, bucket = hex client state
 *   flow 'browserid' Authorization: BrowserID <assertion>, bucket = hex client state
 *   flow 'legacy'    BrowserID, bucket "syncto" + X-Client-State (deprecated)
 */
class SyncUser {
  constructor(stack, flow = 'oauth') {
    this.stack = stack;
    this.flow = flow;
    this.fxaUid = creds.randomFxaUid();
    this.clientState = creds.randomClientState();
    this.keysChangedAt = 1700000000000 + crypto.randomInt(1000000);
    if (flow === 'oauth') {
      this.oauthToken = creds.makeOAuthToken({ sub: this.fxaUid });
      this.keyId = creds.keyIdFor(this.clientState, this.keysChangedAt);
      this.authorization = `Bearer ${this.oauthToken}`;
      this.headers = { Authorization: this.authorization, 'X-KeyID': this.keyId };
      this.bucket = this.clientState;
    } else if (flow === 'browserid' || flow === 'legacy') {
      this.assertion = creds.makeBrowserIdAssertion({ fxaUid: this.fxaUid, keysChangedAt: this.keysChangedAt });
      this.authorization = `BrowserID ${this.assertion}`;
      this.headers = { Authorization: this.authorization };
      this.bucket = this.clientState;
      if (flow === 'legacy') {
        this.headers['X-Client-State'] = this.clientState;
        this.bucket = 'syncto';
      }
    } else {
      throw new Error('unknown flow ' + flow);
    }
    this._uid = null;
    this._syncCreds = null;
  }

  /** The user's storage uid at the test Sync server. */
  async uid() {
    if (!this._uid) {
      const q = new URLSearchParams({ fxaUid: this.fxaUid, clientState: this.clientState });
      this._uid = (await control(this.stack, 'GET', `/uid?${q}`)).uid;
    }
    return this._uid;
  }

  /**
   * Writes records straight into Sync (one timestamp for all). Resolves to
   * {modified, modifiedMs, count}.
   */
  async seed(collection, records) {
    const r = await seed(this.stack, this, collection, records);
    return { modified: r.modified, modifiedMs: syncMs(r.modifiedText), count: r.count };
  }

  /** What Sync holds: {records: Map(id -> {payload, sortindex, modifiedMs})}, live records only. */
  async storage(collection) {
    const q = new URLSearchParams({ fxaUid: this.fxaUid, clientState: this.clientState, collection });
    const dump = await control(this.stack, 'GET', `/storage?${q}`);
    const records = new Map();
    for (const r of dump.records) {
      if (!r.expired) records.set(r.id, { payload: r.payload, sortindex: r.sortindex, modifiedMs: r.modifiedMs });
    }
    return { records };
  }

  /** Storage credentials from the tokenserver, as another Sync client would get them. */
  async syncCredentials() {
    if (!this._syncCreds) {
      const res = await tokenRequest(this.stack.sync.tokenServerUrl, {
        authorization: this.authorization,
        keyId: this.keyId,
        clientState: this.flow === 'oauth' ? undefined : this.clientState,
      });
      if (res.status !== 200) throw new Error(`tokenserver: ${res.status} ${res.body}`);
      this._syncCreds = res.json();
    }
    return this._syncCreds;
  }

  /** DELETE of one BSO directly in Sync (Hawk); resolves to the status. */
  async syncDelete(collection, id) {
    const c = await this.syncCredentials();
    const url = `${c.api_endpoint}/storage/${collection}/${encodeURIComponent(id)}`;
    const res = await hawkRequest(c, 'DELETE', url);
    if (res.status !== 200) throw new Error(`Sync DELETE ${id}: ${res.status} ${res.body}`);
    return res.status;
  }

  /** Adds a fault rule limited to this user's storage requests; resolves to its id. */
  async addStorageFault(rule) {
    const uid = await this.uid();
    const match = Object.assign({ role: 'storage', pathRegex: `^/1\\.5/${uid}/` }, rule.match || {});
    const r = await control(this.stack, 'POST', '/faults', Object.assign({}, rule, { match }));
    return r.rules[0].id;
  }

  /** Requests this user's Syncto made to Sync storage (or the tokenserver) since `since`. */
  async upstreamLog(since = 0, role = 'storage') {
    const log = await control(this.stack, 'GET', `/log?since=${since}&role=${role}`);
    if (role !== 'storage') return log.entries;
    const uid = await this.uid();
    return log.entries.filter((e) => e.path.startsWith(`/1.5/${uid}/`));
  }
}

/** Removes a fault rule. */
function removeFault(stack, id) {
  return control(stack, 'DELETE', `/faults/${id}`);
}

/** Sequence number of the last request the Sync server logged. */
const logMark = lastSeq;

module.exports = {
  ODD_IDS,
  SYNC_ID_SCHEMA,
  SyncUser,
  control,
  logMark,
  opaquePayload,
  removeFault,
  startE2EStack,
};
