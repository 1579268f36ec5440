'use strict';
// Shared pieces of the benchmarks in tests/bench: the stack with the
// default pool of etc/syncto.ini, the test Sync server's control API and
// identities (from tests/lib), a keep-alive HTTP client, statistics, /proc
// readings and Markdown tables. The benchmarks document figures; they assert nothing
// about time.

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { startStack, stopCluster, iniSetting, iniOfBuild } = require('../lib/stack');
const { control, seed, maxInFlight } = require('../lib/control');
const { browserIdUser: newUser } = require('../lib/users');

const INI = path.join(__dirname, '..', '..', 'etc', 'syncto.ini');

/** Pool size of a settings file (the shipped defaults): {workers, threads}. */
function defaultPool(ini = INI) {
  return {
    workers: iniSetting(ini, 'syncto.workers') || '2',
    threads: iniSetting(ini, 'syncto.threads') || '64',
  };
}

/**
 * Starts the whole stack with the default pool (the test harness would
 * otherwise run a small one); `env` adds settings, `opts` goes to
 * startStack (e.g. {build}). A build from other sources runs with the
 * settings file of those sources.
 */
async function startBenchStack(env = {}, opts = {}) {
  const ini = opts.ini || (opts.build ? iniOfBuild(path.resolve(__dirname, '..', '..', opts.build)) : INI);
  const pool = defaultPool(ini);
  const stack = await startStack({ ...opts, ini, env: { SYNCTO_WORKERS: pool.workers, SYNCTO_THREADS: pool.threads, ...env } });
  stack.pool = pool;
  return stack;
}

/** Stops the stack and this process's PostgreSQL cluster. */
async function stopBenchStack(stack) {
  if (stack) await stack.stop();
  await stopCluster();
}

// Keep-alive connections to nginx, as a browser would hold them; no cap on
// their number.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });

/**
 * Sends one request; resolves to {status, headers, body (string), bytes,
 * ms}. Never rejects: a network error gives status 0 and the message.
 */
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve) => {
    const t = performance.now();
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const h = { ...headers };
    if (data) {
      h['Content-Type'] = h['Content-Type'] || 'application/json';
      h['Content-Length'] = String(data.length);
    }
    const req = http.request(url, { method, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: buf.toString('utf8'), bytes: buf.length,
          ms: performance.now() - t });
      });
      res.on('error', (e) => resolve({ status: 0, headers: {}, body: e.message, bytes: 0, ms: performance.now() - t }));
    });
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: e.message, bytes: 0, ms: performance.now() - t }));
    req.end(data);
  });
}

/** Closes the idle keep-alive connections (lets the process exit). */
function closeConnections() {
  agent.destroy();
}

const sorted = (xs) => [...xs].sort((a, b) => a - b);

/** Median of a list of numbers (mean of the middle two for an even length). */
function median(xs) {
  if (!xs.length) return NaN;
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The p-th percentile (0..100), nearest rank. */
function percentile(xs, p) {
  if (!xs.length) return NaN;
  const s = sorted(xs);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

/** Parent pid of a process, or null when it is gone. */
function ppidOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Pids of the children of `parent`. */
function childrenOf(parent) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(d) && ppidOf(Number(d)) === parent) out.push(Number(d));
  }
  return out;
}

/** syncto's worker processes: the children of its master. */
function workerPids(stack) {
  return childrenOf(stack.synctoPid).sort((a, b) => a - b);
}

/** VmRSS and VmHWM of a process, in bytes. */
function memory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const TICK = 100; // USER_HZ on Linux

/** CPU time (user + system, seconds) a process has used, 0 when gone. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime
  } catch {
    return 0;
  }
}

/**
 * The processes of the stack by role, for CPU accounting: syncto (master
 * and workers), nginx (master and workers), the test Sync server,
 * PostgreSQL (postmaster and backends) and this benchmark process.
 */
function stackProcesses(stack) {
  const pg = stack.pg.cluster.proc.pid;
  return {
    syncto: [stack.synctoPid, ...workerPids(stack)],
    nginx: [stack.nginxPid, ...childrenOf(stack.nginxPid)],
    syncserver: [stack.sync.pid],
    postgres: [pg, ...childrenOf(pg)],
    client: [process.pid],
  };
}

/** CPU seconds used so far by each role of stackProcesses(). */
function cpuByRole(stack) {
  const out = {};
  for (const [role, pids] of Object.entries(stackProcesses(stack))) {
    out[role] = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  }
  return out;
}

/** Per-role share of the machine's CPUs used between two cpuByRole() readings. */
function cpuShare(before, after, seconds) {
  const out = {};
  for (const k of Object.keys(after)) out[k] = (after[k] - (before[k] || 0)) / seconds / os.cpus().length;
  return out;
}

/** A Markdown table: `head` is a list of column titles, `rows` lists of cells. */
function table(head, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

const fmtMs = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const fmtPct = (x) => `${(100 * x).toFixed(0)} %`;
const fmtBytes = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

/** One line describing the machine and the pool, for the top of a report. */
function machine(stack) {
  const cpus = os.cpus();
  return `${cpus.length} CPUs (${cpus[0] ? cpus[0].model.trim() : '?'}), ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, node ${process.version}; ` +
    `syncto ${stack.pool.workers} workers x ${stack.pool.threads} threads; load average before: ` +
    os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

/** Runs main(), prints a failure, always stops the stack, exits. */
function run(main) {
  const state = { stack: null };
  const stopAll = async () => {
    closeConnections();
    await stopBenchStack(state.stack).catch((e) => process.stderr.write(`stop: ${e.message}\n`));
  };
  process.on('SIGINT', () => stopAll().then(() => process.exit(130)));
  process.on('SIGTERM', () => stopAll().then(() => process.exit(143)));
  main(state)
    .then(stopAll, async (e) => {
      process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
      if (state.stack) process.stderr.write(`${state.stack.logs(20)}\n`);
      await stopAll();
      process.exitCode = 1;
    });
}

module.exports = {
  defaultPool, startBenchStack, stopBenchStack, control, newUser, seed, request, closeConnections,
  median, percentile, maxInFlight, workerPids, childrenOf, cpuSeconds, memory, cpuByRole, cpuShare, table, fmtMs, fmtPct,
  fmtBytes, machine, run,
};
