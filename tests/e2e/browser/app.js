// The page of the browser suite: a small web application that uses Kinto.js
// (bundled by the test with esbuild) against Syncto from another origin.
// It reads its settings from /config.json on its own origin, then:
//   1. syncs a read-only Sync collection into IndexedDB (PULL_ONLY) and shows
//      the records, payloads decrypted with the Sync key bundle;
//   2. creates a record locally in a writable collection and pushes it;
//   3. provokes each kind of error and shows what the client library got.
// Everything lands in the DOM; #results holds the same as JSON for the test.

import Kinto, { KintoClient } from 'kinto';
import { EventEmitter } from 'events';
import { decryptPayload, encryptPayload, importKeyBundle } from '../lib/sync-crypto';

const SYNC_ID_SCHEMA = {
  generate() {
    throw new Error('Sync record ids are chosen by the client');
  },
  validate: (id) => typeof id === 'string' && /^[ -~]{1,64}$/.test(id),
};

function b64ToBytes(b64) {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

// One table row; `cls` ('ok' or 'bad') colours the cell at index `col`.
function row(tableId, cells, cls, col) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c === undefined || c === null ? '' : String(c);
    tr.appendChild(td);
  }
  tr.firstChild.className = 'id';
  if (cls) tr.children[col].className = cls;
  document.querySelector(`#${tableId} tbody`).appendChild(tr);
}

// What an application can learn from a failed call: a Kinto error (status,
// errno, body) or, when CORS hides the response, a bare network TypeError.
function describe(err) {
  return {
    name: err && err.constructor ? err.constructor.name : typeof err,
    isTypeError: err instanceof TypeError,
    message: String(err && err.message),
    status: err && err.response ? err.response.status : null,
    data: err && err.data !== undefined ? err.data : null,
  };
}

async function expectError(label, fn) {
  try {
    await fn();
    return { label, resolved: true };
  } catch (err) {
    return { label, resolved: false, ...describe(err) };
  }
}

async function main() {
  const cfg = await (await fetch('/config.json')).json();
  const results = { origin: location.origin, remote: cfg.remote };
  const bundle = await importKeyBundle(b64ToBytes(cfg.syncKey));
  const events = new EventEmitter();
  const kinto = new Kinto({ remote: cfg.remote, bucket: cfg.bucket, headers: cfg.headers, events, retry: 1 });

  // 1. Read-only collection into IndexedDB.
  const bookmarks = kinto.collection(cfg.readOnly, { idSchema: SYNC_ID_SCHEMA });
  const pulled = await bookmarks.sync({ strategy: Kinto.syncStrategy.PULL_ONLY });
  const list = await bookmarks.list({ order: 'id' });
  results.sync = {
    ok: pulled.ok,
    lastModified: pulled.lastModified,
    created: pulled.created.map((r) => r.id),
    records: [],
  };
  for (const rec of list.data) {
    const clear = await decryptPayload(bundle, rec.payload);
    results.sync.records.push({ id: rec.id, last_modified: rec.last_modified, payload: rec.payload, clear });
    row('records', [rec.id, rec.last_modified, clear.title, clear.bmkUri]);
  }
  // A second instance reads the same IndexedDB database without the network.
  const reopened = new Kinto({ remote: cfg.remote, bucket: cfg.bucket, headers: cfg.headers });
  results.sync.fromIndexedDB = (await reopened.collection(cfg.readOnly, { idSchema: SYNC_ID_SCHEMA }).list()).data
    .map((r) => r.id);
  results.sync.databases = (await indexedDB.databases()).map((d) => d.name);

  // 2. A local write pushed to a writable collection.
  const forms = kinto.collection(cfg.writable, { idSchema: SYNC_ID_SCHEMA });
  const payload = await encryptPayload(bundle, cfg.newRecord.cleartext);
  await forms.create({ id: cfg.newRecord.id, payload }, { useRecordId: true });
  const pushed = await forms.sync();
  const after = (await forms.get(cfg.newRecord.id)).data;
  results.push = {
    ok: pushed.ok,
    published: pushed.published.map((r) => r.id),
    errors: pushed.errors,
    status: after._status,
    last_modified: after.last_modified,
    payload,
  };
  row('push', [cfg.writable, cfg.newRecord.id, pushed.ok ? `published, last_modified ${after.last_modified}` : 'failed'],
    pushed.ok ? 'ok' : 'bad', 2);

  // 3. Each kind of error, straight from the HTTP client.
  const api = new KintoClient(cfg.remote, { headers: cfg.headers });
  const anonymous = new KintoClient(cfg.remote);
  const b = cfg.bucket;
  const errors = [
    await expectError('401 no credentials', () => anonymous.bucket(b).collection(cfg.readOnly).listRecords()),
    await expectError('404 unknown route', () => api.http.request(`${cfg.remote}/nowhere`, { headers: cfg.headers })),
    await expectError('404 missing record', () => api.bucket(b).collection(cfg.readOnly).getRecord('noSuchRecord')),
    await expectError('405 read-only collection', () =>
      api.bucket(b).collection(cfg.readOnly).createRecord({ id: 'pageWrite001', payload })),
    await expectError('412 conflict', () =>
      api.bucket(b).collection(cfg.writable).createRecord({ id: cfg.newRecord.id, payload }, { safe: true })),
    await expectError('413 body too large', () =>
      api.bucket(b).collection(cfg.writable).createRecord({ id: 'bigRecord001', payload: 'x'.repeat(cfg.bigPayloadBytes) })),
    await expectError('503 Sync unavailable', () => api.bucket(b).collection(cfg.failing).listRecords()),
  ];
  results.errors = errors;
  for (const e of errors) {
    const parsed = !e.resolved && e.data && typeof e.data.errno === 'number';
    row('errors', [e.label, e.resolved ? 'no error' : e.name, e.status, e.data && e.data.errno,
      e.resolved ? '' : e.message], parsed ? 'ok' : 'bad', 1);
  }

  document.getElementById('results').textContent = JSON.stringify(results);
  document.getElementById('status').textContent =
    `synced ${results.sync.records.length} records from ${cfg.remote} into IndexedDB at ${location.origin}`;
  document.getElementById('status').className = 'ok';
  document.body.dataset.state = 'done';
}

main().catch((err) => {
  document.getElementById('results').textContent = JSON.stringify({ fatal: describe(err), stack: String(err.stack) });
  document.getElementById('status').textContent = `failed: ${err.message}`;
  document.getElementById('status').className = 'bad';
  document.body.dataset.state = 'failed';
});
