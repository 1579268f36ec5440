'use strict';
// POST /v1/batch of 25 record GETs against one GET, with the test Sync
// server answering at once and with 50 ms of added latency on every storage
// request. The 25 GETs are also sent by the client itself, one after the
// other and all at once, for comparison. Medians over --runs runs (20).
//
//   SYNCTO_BUILD_DIR=build node tests/bench/batch.js [--runs N]
//
// The stack runs the default pool (etc/syncto.ini); the credentials are in
// the cache before anything is timed. Prints Markdown.

const {
  startBenchStack, control, newUser, seed, request, median, percentile, maxInFlight, table, fmtMs,
  machine, run,
} = require('./common');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const RUNS = Number(option('runs', '20'));
const N = 25;
const LATENCIES = [0, 50];

run(async (state) => {
  const stack = await startBenchStack();
  state.stack = stack;
  const u = newUser();
  const ids = Array.from({ length: N }, (_, i) => `r${String(i).padStart(2, '0')}`);
  await seed(stack, u, 'history', ids.map((id, i) => ({
    id, payload: JSON.stringify({ ciphertext: `${'c'.repeat(300)}${i}`, IV: 'i', hmac: 'h' }), sortindex: i,
  })));
  const recPath = (id) => `/buckets/${u.bucket}/collections/history/records/${id}`;
  const auth = { Authorization: u.auth };
  const batchBody = { defaults: { method: 'GET', headers: auth }, requests: ids.map((id) => ({ path: recPath(id) })) };

  const expectOk = (r, what) => {
    if (r.status !== 200) throw new Error(`${what}: ${r.status} ${r.body.slice(0, 200)}`);
  };
  const one = async () => {
    const r = await request(`${stack.v1}${recPath(ids[0])}`, { headers: auth });
    expectOk(r, 'GET');
    return r.ms;
  };
  const batch = async () => {
    const r = await request(`${stack.v1}/batch`, { method: 'POST', body: batchBody });
    expectOk(r, 'batch');
    const body = JSON.parse(r.body);
    if (body.responses.length !== N || body.responses.some((x, i) => x.status !== 200 || x.body.data.id !== ids[i])) {
      throw new Error(`batch answered ${r.body.slice(0, 300)}`);
    }
    return r.ms;
  };
  const sequential = async () => {
    const t = performance.now();
    for (const id of ids) expectOk(await request(`${stack.v1}${recPath(id)}`, { headers: auth }), 'GET');
    return performance.now() - t;
  };
  const parallel = async () => {
    const t = performance.now();
    const rs = await Promise.all(ids.map((id) => request(`${stack.v1}${recPath(id)}`, { headers: auth })));
    rs.forEach((r) => expectOk(r, 'GET'));
    return performance.now() - t;
  };

  // Credentials into the cache; connections to nginx opened.
  await one();
  await parallel();

  const rows = [];
  for (const latency of LATENCIES) {
    await control(stack, 'DELETE', '/faults');
    if (latency) await control(stack, 'POST', '/faults', { match: { role: 'storage' }, latencyMs: latency });
    const measure = async (name, fn) => {
      const ms = [];
      const overlap = [];
      for (let i = 0; i < RUNS; i++) {
        const { lastSeq } = await control(stack, 'GET', '/log?since=1e15');
        ms.push(await fn());
        const { entries } = await control(stack, 'GET', `/log?role=storage&since=${lastSeq}`);
        overlap.push(maxInFlight(entries));
      }
      rows.push([`${latency} ms`, name, fmtMs(median(ms)), fmtMs(percentile(ms, 10)), fmtMs(percentile(ms, 90)),
        median(overlap)]);
      process.stderr.write(`${latency} ms, ${name}: median ${fmtMs(median(ms))} ms\n`);
    };
    await measure('one GET', one);
    await measure(`batch of ${N} GETs`, batch);
    await measure(`${N} GETs, one after another`, sequential);
    await measure(`${N} GETs, all at once (${N} connections)`, parallel);
  }
  await control(stack, 'DELETE', '/faults');

  process.stdout.write(`# batch: ${N} record GETs in one POST /v1/batch, ${RUNS} runs each\n\n${machine(stack)}\n\n`);
  process.stdout.write(`${table(
    ['Sync latency', 'what', 'median ms', 'p10 ms', 'p90 ms', 'Sync requests in flight (median of max)'], rows,
  )}\n`);
});
