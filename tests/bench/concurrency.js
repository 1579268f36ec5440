'use strict';
// Throughput and latency of a record list with a slow Sync server, for 1 to
// 256 concurrent clients, with the default pool (etc/syncto.ini: 2 workers x
// 64 threads). Every storage answer is held back LATENCY_MS by the test Sync
// server, so each request spends most of its life waiting on the network:
// what bounds throughput is the number of threads, not of processes.
//
//   SYNCTO_BUILD_DIR=build node tests/bench/concurrency.js [--seconds N] [--latency MS] [--levels 1,16,64]
//        [--no-cold]
//
// Each client is its own user (the test Sync server handles the requests of
// one user one at a time, as go-syncstorage does), its credentials cached
// beforehand, and sends its next request as soon as the previous one is
// answered, over a keep-alive connection to nginx. Then (unless --no-cold)
// bursts of 16 and 128 new users whose credentials are not cached yet send
// their first request all at once, and once more. Prints Markdown.

const {
  startBenchStack, control, newUser, seed, request, median, percentile, maxInFlight, cpuByRole,
  cpuShare, table, fmtMs, fmtPct, machine, run,
} = require('./common');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const SECONDS = Number(option('seconds', '5'));
const WARM_SECONDS = 1;
const LATENCY_MS = Number(option('latency', '200'));
const LEVELS = option('levels', '1,16,64,128,256').split(',').map(Number);
const USERS = Math.max(...LEVELS);
const COLD = !process.argv.includes('--no-cold');

/** Runs `clients` closed-loop clients for WARM_SECONDS + SECONDS. */
async function level(stack, users, clients) {
  await control(stack, 'DELETE', '/log');
  const samples = [];
  const t0 = performance.now();
  const from = t0 + WARM_SECONDS * 1000;
  const until = from + SECONDS * 1000;
  let cpu0 = null;
  const cpuTimer = setTimeout(() => {
    cpu0 = cpuByRole(stack);
  }, WARM_SECONDS * 1000);
  const loop = async (u) => {
    const url = `${stack.v1}/buckets/${u.bucket}/collections/history/records`;
    while (performance.now() < until) {
      const start = performance.now();
      const r = await request(url, { headers: { Authorization: u.auth } });
      samples.push({
        start, end: performance.now(), ms: r.ms, status: r.status, backoff: r.headers.backoff !== undefined,
      });
    }
  };
  await Promise.all(users.slice(0, clients).map(loop));
  clearTimeout(cpuTimer);
  const cpu = cpuShare(cpu0, cpuByRole(stack), (performance.now() - from) / 1000);

  const done = samples.filter((s) => s.end >= from && s.end < until);
  const started = samples.filter((s) => s.start >= from && s.start < until);
  const ok = started.filter((s) => s.status === 200);
  const { entries } = await control(stack, 'GET', '/log?role=storage&since=0');
  const inWindow = entries.filter((e) => e.durationMs !== null);
  return {
    clients,
    rps: done.filter((s) => s.status === 200).length / SECONDS,
    p50: percentile(ok.map((s) => s.ms), 50),
    p90: percentile(ok.map((s) => s.ms), 90),
    p99: percentile(ok.map((s) => s.ms), 99),
    errors: started.filter((s) => s.status !== 200).length,
    errorStatuses: [...new Set(started.filter((s) => s.status !== 200).map((s) => s.status))],
    backoff: started.length ? started.filter((s) => s.backoff).length / started.length : 0,
    upstreamInFlight: maxInFlight(inWindow),
    upstreamMedianMs: median(inWindow.map((e) => e.durationMs)),
    cpu,
  };
}

/**
 * `count` new users send their first record list all at once (nothing in
 * the credential cache), then all at once again: latency, tokenserver calls
 * and the cache's complaints in syncto's log, for each burst.
 */
async function coldBursts(stack, count) {
  const users = [];
  for (let i = 0; i < count; i++) {
    const u = newUser();
    await seed(stack, u, 'history', [{ id: 'a', payload: 'p' }]);
    users.push(u);
  }
  const out = [];
  for (const burst of ['first', 'second']) {
    const { lastSeq } = await control(stack, 'GET', '/log?since=1e15');
    const from = stack.synctoLogOffset();
    const rs = await Promise.all(users.map((u) => request(`${stack.v1}/buckets/${u.bucket}/collections/history/records`,
      { headers: { Authorization: u.auth } })));
    const { entries } = await control(stack, 'GET', `/log?role=tokenserver&since=${lastSeq}`);
    const log = stack.synctoLog(from);
    const ok = rs.filter((r) => r.status === 200).map((r) => r.ms);
    out.push({
      users: count,
      burst,
      ok: ok.length,
      p50: percentile(ok, 50),
      max: Math.max(...ok),
      tokenserver: entries.length,
      poolTimeouts: (log.match(/no free PostgreSQL connection/g) || []).length,
      notStored: (log.match(/could not store an entry/g) || []).length,
    });
  }
  return out;
}

run(async (state) => {
  const stack = await startBenchStack();
  state.stack = stack;
  const users = [];
  for (let i = 0; i < USERS; i++) {
    const u = newUser();
    await seed(stack, u, 'history', Array.from({ length: 10 }, (_, j) => ({
      id: `r${i}-${j}`, payload: JSON.stringify({ ciphertext: 'x'.repeat(200), IV: 'i', hmac: 'h' }),
    })));
    users.push(u);
  }
  // Credentials into the cache, one user at a time.
  for (const u of users) {
    const r = await request(`${stack.v1}/buckets/${u.bucket}/collections/history/records`,
      { headers: { Authorization: u.auth } });
    if (r.status !== 200) throw new Error(`warm-up: ${r.status} ${r.body}`);
  }
  await control(stack, 'POST', '/faults', { match: { role: 'storage', method: 'GET' }, latencyMs: LATENCY_MS });

  const header = machine(stack);
  const cold = [];
  if (COLD) {
    for (const n of [16, 128]) cold.push(...(await coldBursts(stack, n)));
  }
  const results = [];
  for (const c of LEVELS) {
    const r = await level(stack, users, c);
    results.push(r);
    process.stderr.write(`${c} clients: ${r.rps.toFixed(1)} req/s, p50 ${fmtMs(r.p50)} ms, errors ${r.errors}\n`);
  }
  const ceiling = (c) => (Math.min(c, Number(stack.pool.workers) * Number(stack.pool.threads)) * 1000) / LATENCY_MS;
  process.stdout.write(`# concurrency: GET records, ${LATENCY_MS} ms upstream latency, ${SECONDS} s per level\n\n` +
    `${header}\n\n`);
  process.stdout.write(`${table(
    ['clients', 'req/s', 'ideal req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'errors', 'Backoff', 'Sync in flight (max)',
      'Sync median ms'],
    results.map((r) => [r.clients, r.rps.toFixed(1), ceiling(r.clients).toFixed(0), fmtMs(r.p50), fmtMs(r.p90),
      fmtMs(r.p99), r.errors ? `${r.errors} (${r.errorStatuses.join(',')})` : '0', fmtPct(r.backoff),
      r.upstreamInFlight, fmtMs(r.upstreamMedianMs)]),
  )}\n\nCPU (share of all cores) while measuring:\n\n`);
  process.stdout.write(`${table(
    ['clients', 'syncto', 'nginx', 'Sync server', 'PostgreSQL', 'client'],
    results.map((r) => [r.clients, fmtPct(r.cpu.syncto), fmtPct(r.cpu.nginx), fmtPct(r.cpu.syncserver),
      fmtPct(r.cpu.postgres), fmtPct(r.cpu.client)]),
  )}\n`);
  if (cold.length) {
    process.stdout.write(`\nNew users, credentials not cached yet, all at once (then again):\n\n${table(
      ['users', 'burst', '200s', 'p50 ms', 'max ms', 'tokenserver calls', 'cache pool timeouts', 'entries not stored'],
      cold.map((r) => [r.users, r.burst, r.ok, fmtMs(r.p50), fmtMs(r.max), r.tokenserver, r.poolTimeouts,
        r.notStored]),
    )}\n`);
  }
});
