'use strict';
// Memory and syncto's own time for one 5,000-record history listed in one
// response, in a fresh worker: VmRSS / VmHWM of the worker (from
// /proc/<pid>/status) when idle, after the first list, and after --runs
// more; syncto's share of each list's time (the request log's t minus
// upstream_ms, whole milliseconds). Prints Markdown.
//
//   SYNCTO_BUILD_DIR=build node tests/bench/large-memory.js [--runs N] [--threads T]
//
// One worker process with T threads (default 1, so that one thread serves
// every request and its malloc arena is the one measured). The test Sync
// server's 1,000-record page cap is lifted so one Sync request brings all.

const crypto = require('node:crypto');
const {
  startBenchStack, control, newUser, seed, request, median, workerPids, memory, table, fmtBytes, run,
} = require('./common');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const RUNS = Number(option('runs', '10'));
const THREADS = option('threads', '1');
const N = 5000;
const PAYLOAD_BYTES = 600;

/** {t, upstream} of the request lines for `path` in the syncto log text. */
function timings(text, path) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.includes(path)) continue;
    try {
      const f = JSON.parse(line).Fields;
      if (f && f.path === path && f.t !== undefined) out.push({ t: f.t, upstream: f.upstream_ms });
    } catch {
      // not a JSON line
    }
  }
  return out;
}

run(async (state) => {
  const stack = await startBenchStack({ SYNCTO_WORKERS: '1', SYNCTO_THREADS: THREADS });
  stack.pool = { workers: '1', threads: THREADS };
  state.stack = stack;
  const u = newUser();
  const records = [];
  for (let i = 0; i < N; i++) {
    const payload = JSON.stringify({ ciphertext: crypto.randomBytes(420).toString('base64'), IV: 'x', hmac: 'y' })
      .slice(0, PAYLOAD_BYTES);
    records.push({ id: crypto.randomBytes(9).toString('base64url'), payload, sortindex: i });
  }
  await seed(stack, u, 'history', records);
  await control(stack, 'POST', '/config', { maxGetLimit: 0 });
  const path = `/v1/buckets/${u.bucket}/collections/history/records`;
  const listUrl = `${stack.v1}/buckets/${u.bucket}/collections/history/records`;
  const get = async (url) => {
    const r = await request(url, { headers: { Authorization: u.auth } });
    if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.body.slice(0, 200)}`);
    return r;
  };
  const [pid] = workerPids(stack);
  await get(`${listUrl}?_limit=1`); // credentials into the cache
  const idle = memory(pid);
  const offset = stack.synctoLogOffset();
  const first = await get(listUrl);
  if (JSON.parse(first.body).data.length !== N) throw new Error('not every record came back');
  const afterOne = memory(pid);
  for (let i = 0; i < RUNS; i++) await get(listUrl);
  const afterMany = memory(pid);
  // the log line is written after the response: give it a moment
  await new Promise((r) => setTimeout(r, 200));
  const own = timings(stack.synctoLog(offset), path).map((x) => x.t - x.upstream);

  process.stdout.write(`# one 5,000-record list (${fmtBytes(first.bytes)} of Kinto JSON), 1 worker x ${THREADS} ` +
    `thread(s), ${RUNS} more lists after the first\n\n`);
  process.stdout.write(`${table(
    ['idle RSS', 'peak after 1 list (VmHWM)', 'peak - idle', '(peak - idle) / body', 'RSS after 1 list',
      `RSS after ${RUNS + 1}`, `peak after ${RUNS + 1}`, 'syncto own ms (median, t - upstream_ms)'],
    [[fmtBytes(idle.rss), fmtBytes(afterOne.hwm), fmtBytes(afterOne.hwm - idle.rss),
      ((afterOne.hwm - idle.rss) / first.bytes).toFixed(1), fmtBytes(afterOne.rss), fmtBytes(afterMany.rss),
      fmtBytes(afterMany.hwm), own.length ? median(own).toFixed(0) : '-']],
  )}\n`);
});
