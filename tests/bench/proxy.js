'use strict';
// Syncto side by side with a plain nginx proxy_pass hop to the same test
// Sync server, in one run. Both paths ask the test Sync server for the same
// thing (GET /1.5/<uid>/storage/history?full=1&limit=10, Hawk verified by it
// with the npm `hawk` package); Syncto also turns the Kinto request into that
// call (credentials from its cache, Hawk signing) and the answer into Kinto
// JSON. What the ratio shows is the cost of the Syncto hop over a proxy hop.
//
//   SYNCTO_BUILD_DIR=build node tests/bench/proxy.js [--builds build-old,build] [--seconds 8]
//       [--users 256] [--env SYNCTO_THREADS=256,...] [--only throughput,slow,latency,large,batch] [--perf /tmp/syncto]
//
// --perf P also records a profile of syncto's workers under the 64-connection
// load (perf record -g) into P.<build>.data, in a run of its own before the
// measured one: `perf report -i P.<build>.data --no-children`.
//
// Scenarios (Markdown tables on stdout):
//   throughput  wrk, 64 connections, no added latency: req/s
//   slow        wrk, every storage answer held 50 ms, 256 and 1,024 connections
//   latency     wrk, 1 connection: p50 / p99
//   large       one 5,000-record history (~2.9 MB) in one response, sequential:
//               median time, and the worker's peak memory growth (VmHWM)
//   batch       300 POST /v1/batch of 10 list sub-requests, after every thread
//               served some: worker RSS growth
//
// The baseline cannot sign Hawk per request, so for the run the test Sync
// server accepts a replayed nonce and any clock skew (checkNonce false,
// skewSec one day): each user's request is signed once beforehand and
// nginx's clients send that header. The MAC is still verified on every
// request. Load comes from wrk (Debian package), which picks a user per
// request round robin. Each build listed in --builds gets its own stack;
// the baseline runs against each stack's test Sync server, right after the
// Syncto figure it is compared with.

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const hawk = require('hawk');
const { tokenRequest } = require('../syncserver/hawkclient');
const { Proc, freePort, waitFor, canConnect, serviceUser, nginxBin } = require('../lib/proc');
const { bearerUser } = require('../lib/users');
const {
  startBenchStack, stopBenchStack, control, seed, request, median, percentile, workerPids, childrenOf, cpuSeconds,
  cpuByRole, memory, table,
  fmtMs, fmtBytes, machine, closeConnections,
} = require('./common');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const BUILDS = option('builds', process.env.SYNCTO_BUILD_DIR || 'build').split(',');
const SECONDS = Number(option('seconds', '8'));
const USERS = Number(option('users', '256'));
const ONLY = option('only', 'throughput,slow,latency,large,batch').split(',');
const SLOW_MS = 50;
const LARGE_N = 5000;
const LARGE_RUNS = Number(option('large-runs', '10'));
const BATCHES = Number(option('batches', '300'));
// --env K=V,K=V: settings for syncto (e.g. SYNCTO_THREADS=256)
const ENV = Object.fromEntries(option('env', '').split(',').filter(Boolean).map((kv) => kv.split('=')));
const PERF = option('perf', null); // perf.data path prefix: profiles syncto's workers

/** perf record of pids for `seconds` (call graphs), into file. */
function perfRecord(pids, seconds, file) {
  return new Promise((resolve) => {
    execFile('perf', ['record', '-F', '499', '--call-graph', 'dwarf,32768', '-o', file, '-p', pids.join(','), '--', 'sleep', String(seconds)],
      { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        if (err) process.stderr.write(`perf: ${err.message} ${stderr}\n`);
        resolve();
      });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function wrkBin() {
  for (const p of ['/usr/bin/wrk', '/usr/local/bin/wrk']) if (fs.existsSync(p)) return p;
  throw new Error('wrk not found: apt-get install wrk (etc/dev/install-deps.sh installs it)');
}

/** A wrk Lua script sending requests[i] round robin: [{path, headers}]. */
function wrkScript(dir, name, requests) {
  const q = (s) => JSON.stringify(s); // a JSON string is a valid Lua string here (ASCII)
  const lines = ['local reqs = {'];
  for (const r of requests) {
    const h = Object.entries(r.headers).map(([k, v]) => `[${q(k)}]=${q(v)}`).join(',');
    lines.push(`  {${q(r.path)}, {${h}}},`);
  }
  lines.push('}', 'local i = 0', 'request = function()', '  i = i % #reqs + 1',
    '  return wrk.format("GET", reqs[i][1], reqs[i][2])', 'end');
  const file = path.join(dir, `${name}.lua`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Runs wrk; resolves to {rps, p50, p99, errors, non2xx, requests}. */
function wrk(url, script, connections, seconds) {
  const threads = Math.min(2, connections);
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s',
    '--latency', '-s', script, url];
  return new Promise((resolve, reject) => {
    execFile(wrkBin(), args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk: ${err.message} ${stderr}`));
      const num = (re) => {
        const m = re.exec(stdout);
        return m ? Number(m[1]) : 0;
      };
      const ms = (label) => {
        const m = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(stdout);
        if (!m) return NaN;
        return Number(m[1]) * { us: 1e-3, ms: 1, s: 1e3 }[m[2]];
      };
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
      resolve({
        rps: num(/Requests\/sec:\s+([\d.]+)/),
        requests: num(/(\d+) requests in/),
        p50: ms('50'),
        p99: ms('99'),
        non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
        errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
        raw: stdout,
      });
    });
  });
}

/** nginx with one proxy_pass location to the test Sync server. */
async function startProxy(dir, syncPort) {
  const port = await freePort();
  const run = path.join(dir, 'proxy');
  fs.mkdirSync(path.join(run, 'tmp'), { recursive: true });
  const svc = serviceUser();
  const conf = path.join(run, 'nginx.conf');
  // The same process shape as the Syncto stack's nginx
  // (nginx/nginx-dev.conf.in): one worker, an access log, keep-alive
  // clients; upstream connections kept alive as Syncto's libcurl keeps its.
  fs.writeFileSync(conf, `${svc ? `user ${svc.name};` : ''}
worker_processes 1;
pid ${run}/nginx.pid;
error_log stderr warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
  access_log ${run}/access.log;
  client_body_temp_path ${run}/tmp/body;
  proxy_temp_path ${run}/tmp/proxy;
  fastcgi_temp_path ${run}/tmp/fastcgi;
  scgi_temp_path ${run}/tmp/scgi;
  uwsgi_temp_path ${run}/tmp/uwsgi;
  keepalive_timeout 30s;
  # max_fails=0: a keep-alive connection the Sync server closed (node's
  # 5 s idle timeout) must not mark the only server down.
  upstream sync { server 127.0.0.1:${syncPort} max_fails=0; keepalive 1024; keepalive_timeout 4s; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://sync;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1:${syncPort};
      proxy_buffer_size 16k;
      proxy_buffers 16 16k;
      proxy_read_timeout 300s;
    }
  }
}
`);
  const proc = new Proc('nginx-proxy', nginxBin(), ['-p', run, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'],
    { log: path.join(run, 'nginx.log'), cwd: run, deathSignal: 'QUIT' });
  proc.start();
  await waitFor(() => canConnect(`127.0.0.1:${port}`), { timeout: 15000, what: 'proxy nginx', fail: () => proc.deadReason() });
  return { proc, url: `http://127.0.0.1:${port}` };
}

/** Sync credentials of a user, straight from the tokenserver. */
async function tokenOf(stack, u) {
  const r = await tokenRequest(stack.sync.tokenServerUrl, { authorization: u.auth, keyId: u.keyId });
  if (r.status !== 200) throw new Error(`tokenserver: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

/** The Hawk header for GET pathAndQuery on the test Sync server (ts now). */
function hawkHeader(syncPort, token, pathAndQuery) {
  const q = pathAndQuery.indexOf('?');
  return hawk.client.header({
    protocol: 'http:', hostname: '127.0.0.1', port: String(syncPort),
    pathname: pathAndQuery.slice(0, q), search: pathAndQuery.slice(q),
  }, 'GET', { credentials: { id: token.id, key: token.key, algorithm: 'sha256' } }).header;
}

function records(n, payloadBytes) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const payload = JSON.stringify({ ciphertext: crypto.randomBytes(payloadBytes).toString('base64'), IV: 'x', hmac: 'y' });
    out.push({ id: crypto.randomBytes(9).toString('base64url'), payload, sortindex: i });
  }
  return out;
}

const worker0 = (stack) => workerPids(stack)[0];
const ratio = (a, b) => (b > 0 ? (a / b).toFixed(2) : '-');
const rps = (x) => x.rps.toFixed(0);

/** Everything for one build; returns rows keyed by scenario. */
async function benchBuild(build, state) {
  const out = { build };
  // The default pool of etc/syncto.ini, with its request log line (info).
  const stack = await startBenchStack(ENV, { build });
  if (ENV.SYNCTO_WORKERS) stack.pool.workers = ENV.SYNCTO_WORKERS;
  if (ENV.SYNCTO_THREADS) stack.pool.threads = ENV.SYNCTO_THREADS;
  state.stack = stack;
  out.machine = machine(stack);
  out.pool = `${stack.pool.workers}x${stack.pool.threads}`;
  await control(stack, 'POST', '/config', { checkNonce: false, skewSec: 86400 });
  const syncPort = stack.sync.port;
  const proxy = await startProxy(stack.dir, syncPort);
  state.proxy = proxy;

  const users = [];
  for (let i = 0; i < USERS; i++) users.push(bearerUser());
  const small = records(20, 400);
  const synctoReqs = [];
  const proxyReqs = [];
  for (const u of users) {
    await seed(stack, u, 'history', small);
    const path10 = `/v1/buckets/${u.bucket}/collections/history/records?_limit=10`;
    const r = await request(`${stack.url}${path10}`, { headers: u.headers }); // warms the cache
    if (r.status !== 200) throw new Error(`warm-up: ${r.status} ${r.body}`);
    synctoReqs.push({ path: path10, headers: u.headers });
    const token = await tokenOf(stack, u);
    const syncPath = `${new URL(token.api_endpoint).pathname}/storage/history?full=1&limit=10`;
    proxyReqs.push({ path: syncPath, headers: { Authorization: hawkHeader(syncPort, token, syncPath), Accept: 'application/json' } });
  }
  // Both answers carry the same records.
  {
    const a = await request(`${stack.url}${synctoReqs[0].path}`, { headers: synctoReqs[0].headers });
    const b = await request(`${proxy.url}${proxyReqs[0].path}`, { headers: proxyReqs[0].headers });
    const ids = JSON.parse(a.body).data.map((x) => x.id).sort().join();
    const bids = JSON.parse(b.body).map((x) => x.id).sort().join();
    if (a.status !== 200 || b.status !== 200 || ids !== bids) {
      throw new Error(`syncto and proxy disagree: ${a.status} ${b.status} ${a.body.slice(0, 200)} ${b.body.slice(0, 200)}`);
    }
  }
  const sScript = wrkScript(stack.dir, 'syncto', synctoReqs);
  const pScript = wrkScript(stack.dir, 'proxy', proxyReqs);
  // CPU time of each part per request: syncto's side (its workers, its
  // nginx, PostgreSQL), the proxy's nginx, and the test Sync server.
  const proxyCpu = () => [proxy.proc.pid, ...childrenOf(proxy.proc.pid)].reduce((a, p) => a + cpuSeconds(p), 0);
  const measured = async (url, script, conns, seconds) => {
    const c0 = { ...cpuByRole(stack), proxy: proxyCpu() };
    const r = await wrk(url, script, conns, seconds);
    if (r.non2xx || r.errors) process.stderr.write(`wrk ${url}: ${r.non2xx} non-2xx, ${r.errors} socket errors\n`);
    const c1 = { ...cpuByRole(stack), proxy: proxyCpu() };
    const per = (k) => (r.requests > 0 ? ((c1[k] - c0[k]) * 1e6) / r.requests : NaN);
    r.cpu = { syncto: per('syncto'), nginx: per('nginx'), postgres: per('postgres'), proxy: per('proxy'), syncserver: per('syncserver') };
    return r;
  };
  const pair = async (conns, seconds) => {
    await control(stack, 'DELETE', '/log');
    const s = await measured(stack.url, sScript, conns, seconds);
    await control(stack, 'DELETE', '/log');
    const p = await measured(proxy.url, pScript, conns, seconds);
    return { s, p };
  };

  if (ONLY.includes('throughput')) {
    await pair(64, 2); // warm-up of both paths
    if (PERF) {
      const file = `${PERF}.${path.basename(build)}.data`;
      await Promise.all([wrk(stack.url, sScript, 64, SECONDS), perfRecord(workerPids(stack), Math.min(4, SECONDS - 1), file)]);
      process.stderr.write(`perf: ${file}\n`);
    }
    out.throughput = await pair(64, SECONDS);
  }
  if (ONLY.includes('latency')) {
    out.latency = await pair(1, SECONDS);
  }
  if (ONLY.includes('slow')) {
    await control(stack, 'POST', '/faults', { match: { role: 'storage' }, latencyMs: SLOW_MS });
    out.slow = [];
    for (const c of [256, 1024]) {
      await pair(c, 2);
      const r = await pair(c, SECONDS);
      const rss = workerPids(stack).map((pid) => memory(pid).rss);
      out.slow.push({ conns: c, ...r, rss: rss.reduce((a, b) => a + b, 0) });
    }
    await control(stack, 'DELETE', '/faults');
  }
  if (ONLY.includes('large')) out.large = await large(stack, proxy, syncPort);
  if (ONLY.includes('batch')) out.batch = await batchLeak(stack, users);

  await proxy.proc.stop('SIGQUIT');
  state.proxy = null;
  await stack.stop();
  state.stack = null;
  return out;
}

/** One 5,000-record history in one response, both ways; worker memory. */
async function large(stack, proxy, syncPort) {
  await control(stack, 'POST', '/config', { maxGetLimit: 0 });
  const u = bearerUser();
  await seed(stack, u, 'history', records(LARGE_N, 420));
  const url = `${stack.url}/v1/buckets/${u.bucket}/collections/history/records`;
  const first = await request(url, { headers: u.headers });
  if (first.status !== 200 || JSON.parse(first.body).data.length !== LARGE_N) throw new Error(`large: ${first.status}`);
  const token = await tokenOf(stack, u);
  const syncPath = `${new URL(token.api_endpoint).pathname}/storage/history?full=1`;
  const hh = { Authorization: hawkHeader(syncPort, token, syncPath), Accept: 'application/json' };
  // Every request on one keep-alive connection to nginx lands on any
  // worker: measure the growth of all workers and keep the largest.
  const pids = workerPids(stack);
  const before = Object.fromEntries(pids.map((p) => [p, memory(p)]));
  const sMs = [];
  const pMs = [];
  let bytes = 0;
  let sBytes = 0;
  for (let i = 0; i < LARGE_RUNS; i++) {
    const a = await request(url, { headers: u.headers });
    if (a.status !== 200) throw new Error(`large syncto: ${a.status}`);
    sMs.push(a.ms);
    sBytes = a.bytes;
    const b = await request(`${proxy.url}${syncPath}`, { headers: hh });
    if (b.status !== 200) throw new Error(`large proxy: ${b.status} ${b.body.slice(0, 100)}`);
    pMs.push(b.ms);
    bytes = b.bytes;
  }
  await sleep(200);
  const after = Object.fromEntries(pids.map((p) => [p, memory(p)]));
  let peak = 0;
  let rss = 0;
  for (const p of pids) {
    peak = Math.max(peak, after[p].hwm - before[p].rss);
    rss = Math.max(rss, after[p].rss - before[p].rss);
  }
  await control(stack, 'POST', '/config', { maxGetLimit: 1000 });
  return { syncto: median(sMs), proxy: median(pMs), bytes, sBytes, peak, rss, beforeRss: Math.max(...pids.map((p) => before[p].rss)) };
}

/** BATCHES batches of 10 list sub-requests; RSS of every worker. */
async function batchLeak(stack, users) {
  const u = users[0];
  const body = {
    defaults: { method: 'GET', headers: u.headers },
    requests: Array.from({ length: 10 }, (_, i) => ({ path: `/buckets/${u.bucket}/collections/history/records?_limit=${i + 5}` })),
  };
  const send = async () => {
    const r = await request(`${stack.v1}/batch`, { method: 'POST', headers: u.headers, body });
    if (r.status !== 200) throw new Error(`batch: ${r.status} ${r.body.slice(0, 200)}`);
  };
  // Warm-up: every thread of the pool serves some batches first (its
  // arena, request pool, libcurl handle and connections), so that what
  // follows measures what a batch leaves behind, not threads starting.
  const threads = Number(stack.pool.workers) * Number(stack.pool.threads);
  for (let i = 0; i < threads * 2; i += 8) await Promise.all(Array.from({ length: 8 }, send));
  const pids = workerPids(stack);
  const before = pids.map((p) => memory(p).rss);
  for (let i = 0; i < BATCHES; i++) await send();
  const after = pids.map((p) => memory(p).rss);
  return { growth: Math.max(...after.map((a, i) => a - before[i])), before: Math.max(...before) };
}

function report(results) {
  const lines = [`Machine: ${results[0].machine}`, ''];
  const has = (k) => results.some((r) => r[k]);
  if (has('throughput')) {
    lines.push(`### Cached-credential GET …/records?_limit=10, 64 connections (${SECONDS} s, ${USERS} users)`, '');
    lines.push(table(['build', 'syncto req/s', 'proxy_pass req/s', 'ratio', 'syncto p50 ms', 'proxy p50 ms', 'errors / non-2xx'],
      results.filter((r) => r.throughput).map(({ build, throughput: { s, p } }) => [build, rps(s), rps(p), ratio(s.rps, p.rps),
        fmtMs(s.p50), fmtMs(p.p50), `${s.errors + p.errors} / ${s.non2xx + p.non2xx}`])), '');
    lines.push('CPU time per request (µs), from /proc of each process during the same runs:', '');
    lines.push(table(['build', 'syncto workers', 'its nginx', 'PostgreSQL', 'syncto path total', 'proxy_pass nginx',
      'Sync server (syncto run)', 'Sync server (proxy run)'],
    results.filter((r) => r.throughput).map(({ build, throughput: { s, p } }) => [build, s.cpu.syncto.toFixed(0),
      s.cpu.nginx.toFixed(0), s.cpu.postgres.toFixed(0), (s.cpu.syncto + s.cpu.nginx + s.cpu.postgres).toFixed(0),
      p.cpu.proxy.toFixed(0), s.cpu.syncserver.toFixed(0), p.cpu.syncserver.toFixed(0)])), '');
  }
  if (has('slow')) {
    lines.push(`### Same, every storage answer held ${SLOW_MS} ms`, '');
    const rows = [];
    for (const r of results.filter((x) => x.slow)) {
      for (const { conns, s, p, rss } of r.slow) {
        rows.push([r.build, r.pool, conns, rps(s), rps(p), ratio(s.rps, p.rps), fmtMs(s.p50), fmtMs(p.p50), fmtMs(s.p99),
          fmtMs(p.p99), `${s.errors + p.errors} / ${s.non2xx + p.non2xx}`, fmtBytes(rss)]);
      }
    }
    lines.push(table(['build', 'pool', 'connections', 'syncto req/s', 'proxy_pass req/s', 'ratio', 'syncto p50', 'proxy p50',
      'syncto p99', 'proxy p99', 'errors / non-2xx', 'workers RSS after'], rows), '');
  }
  if (has('latency')) {
    lines.push('### One connection: latency (ms)', '');
    lines.push(table(['build', 'syncto p50', 'proxy p50', 'added p50', 'syncto p99', 'proxy p99', 'added p99'],
      results.filter((r) => r.latency).map(({ build, latency: { s, p } }) => [build, fmtMs(s.p50), fmtMs(p.p50),
        (s.p50 - p.p50).toFixed(2), fmtMs(s.p99), fmtMs(p.p99), (s.p99 - p.p99).toFixed(2)])), '');
  }
  if (has('large')) {
    lines.push(`### ${LARGE_N}-record history in one response (median of ${LARGE_RUNS})`, '');
    lines.push(table(['build', 'Sync body', 'Kinto body', 'syncto ms', 'proxy ms', 'added ms', 'worker peak growth', 'x body',
      'RSS kept after'], results.filter((r) => r.large).map(({ build, large: l }) => [build, fmtBytes(l.bytes), fmtBytes(l.sBytes),
      fmtMs(l.syncto), fmtMs(l.proxy), fmtMs(l.syncto - l.proxy), fmtBytes(l.peak), (l.peak / l.bytes).toFixed(1),
      fmtBytes(Math.max(0, l.rss))])), '');
  }
  if (has('batch')) {
    lines.push(`### ${BATCHES} batches of 10 list sub-requests`, '');
    lines.push(table(['build', 'worker RSS before', 'growth', 'per sub-request'],
      results.filter((r) => r.batch).map(({ build, batch: b }) => [build, fmtBytes(b.before), fmtBytes(Math.max(0, b.growth)),
        fmtBytes(Math.max(0, b.growth) / (BATCHES * 10))])), '');
  }
  return lines.join('\n');
}

async function main() {
  const state = { stack: null, proxy: null };
  const stopAll = async () => {
    closeConnections();
    if (state.proxy) await state.proxy.proc.stop('SIGQUIT').catch(() => {});
    await stopBenchStack(state.stack).catch(() => {});
  };
  process.on('SIGINT', () => stopAll().then(() => process.exit(130)));
  process.on('SIGTERM', () => stopAll().then(() => process.exit(143)));
  const results = [];
  try {
    for (const b of BUILDS) {
      process.stderr.write(`bench: ${b}\n`);
      results.push(await benchBuild(path.resolve(b), state));
      await stopBenchStack(null);
    }
    process.stdout.write(report(results.map((r) => ({ ...r, build: path.basename(r.build) }))) + '\n');
  } catch (e) {
    process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
    if (state.stack) process.stderr.write(`${state.stack.logs(20)}\n`);
    process.exitCode = 1;
  }
  await stopAll();
}

main();
