'use strict';
// A 5,000-record history (about 3 MB of Kinto JSON): time to list it in one
// response and by pages of 1,000 records following Next-Page, the bytes
// sent, and the resident memory of syncto's worker processes before and
// after. Medians over --runs runs (10).
//
//   SYNCTO_BUILD_DIR=build node tests/bench/large.js [--runs N]
//
// The stack runs the default pool (etc/syncto.ini). For the single response
// the test Sync server is told to lift go-syncstorage's 1,000-record page
// cap (maxGetLimit 0), so that one Sync request brings everything. Memory
// is VmRSS / VmHWM from /proc/<pid>/status of each worker (the children of
// the master). Prints Markdown.

const crypto = require('node:crypto');
const {
  startBenchStack, control, newUser, seed, request, median, percentile, workerPids, memory, table, fmtMs,
  fmtBytes, machine, run,
} = require('./common');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const RUNS = Number(option('runs', '10'));
const N = 5000;
const PAGE = 1000;
const PAYLOAD_BYTES = 600;

run(async (state) => {
  // {build}: a build from other sources runs with its own settings file
  const stack = await startBenchStack({}, { build: process.env.SYNCTO_BUILD_DIR || 'build' });
  state.stack = stack;
  const u = newUser();
  const records = [];
  for (let i = 0; i < N; i++) {
    const payload = JSON.stringify({ ciphertext: crypto.randomBytes(420).toString('base64'), IV: 'x', hmac: 'y' })
      .slice(0, PAYLOAD_BYTES);
    records.push({ id: crypto.randomBytes(9).toString('base64url'), payload, sortindex: i });
  }
  await seed(stack, u, 'history', records);
  const listUrl = `${stack.v1}/buckets/${u.bucket}/collections/history/records`;
  const auth = { Authorization: u.auth };

  const get = async (url) => {
    const r = await request(url, { headers: auth });
    if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.body.slice(0, 200)}`);
    return r;
  };
  const whole = async () => {
    const r = await get(listUrl);
    const n = JSON.parse(r.body).data.length;
    if (n !== N || r.headers['next-page']) throw new Error(`one response had ${n} records`);
    return { ms: r.ms, bytes: r.bytes, pages: 1 };
  };
  const paged = async () => {
    const t = performance.now();
    let url = `${listUrl}?_limit=${PAGE}`;
    let bytes = 0;
    let pages = 0;
    const seen = new Set();
    while (url) {
      const r = await get(url);
      for (const rec of JSON.parse(r.body).data) seen.add(rec.id);
      bytes += r.bytes;
      pages++;
      url = r.headers['next-page'];
      if (pages > N) throw new Error('pagination does not end');
    }
    if (seen.size !== N) throw new Error(`pages held ${seen.size} distinct records`);
    return { ms: performance.now() - t, bytes, pages };
  };
  const mem = () => Object.fromEntries(workerPids(stack).map((pid) => [pid, memory(pid)]));

  await get(`${listUrl}?_limit=1`); // credentials into the cache
  const before = mem();
  const rows = [];
  const upstream = [];
  const results = {};
  for (const [name, fn, cap] of [['one response', whole, 0], [`pages of ${PAGE} (Next-Page)`, paged, 1000]]) {
    await control(stack, 'POST', '/config', { maxGetLimit: cap });
    const runs = [];
    const syncMs = [];
    for (let i = 0; i < RUNS; i++) {
      const { lastSeq } = await control(stack, 'GET', '/log?since=1e15');
      runs.push(await fn());
      const { entries } = await control(stack, 'GET', `/log?role=storage&since=${lastSeq}`);
      syncMs.push(entries.reduce((sum, e) => sum + e.durationMs, 0));
    }
    results[name] = { runs, syncMs, mem: mem() };
    const ms = runs.map((r) => r.ms);
    rows.push([name, runs[0].pages, fmtBytes(runs[0].bytes), fmtMs(median(ms)), fmtMs(percentile(ms, 10)),
      fmtMs(percentile(ms, 90)), fmtMs(median(syncMs))]);
    upstream.push(median(syncMs));
    process.stderr.write(`${name}: median ${fmtMs(median(ms))} ms\n`);
  }
  await control(stack, 'POST', '/config', { maxGetLimit: 1000 });

  const memRows = Object.keys(before).map((pid) => {
    const cells = [pid, fmtBytes(before[pid].rss)];
    for (const r of Object.values(results)) cells.push(fmtBytes(r.mem[pid].rss), fmtBytes(r.mem[pid].hwm));
    return cells;
  });
  const names = Object.keys(results);
  process.stdout.write(`# large: ${N} history records of ${PAYLOAD_BYTES} B payload, ${RUNS} runs each\n\n` +
    `${machine(stack)}\n\n`);
  process.stdout.write(`${table(
    ['listing', 'responses', 'bytes (bodies)', 'median ms', 'p10 ms', 'p90 ms', 'of which Sync server (median ms)'],
    rows,
  )}\n\nsyncto workers' memory (VmRSS; VmHWM = peak RSS since the worker started):\n\n`);
  process.stdout.write(`${table(
    ['worker pid', 'RSS before', `RSS after ${names[0]}`, 'peak', `RSS after ${names[1]}`, 'peak'], memRows,
  )}\n`);
});
