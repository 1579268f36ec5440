'use strict';
// What metrics and request logs cost per request: median latency of
// sequential requests through nginx on loopback, with
//   on:  StatsD to a local receiver + one JSON log line per request (info)
//   off: no StatsD + log_level = error (no request line)
// for GET /v1/__lbheartbeat__ (no upstream call) and a records list against
// the test Sync server (credentials from the PostgreSQL cache, one Sync
// call). Not a test: it prints figures for docs/operations.md.
//
//   cmake --build build && cd tests && \
//     SYNCTO_BUILD_DIR=build node bench/overhead.js [lbheartbeat requests] [records requests] [rounds]
//
// Each configuration runs `rounds` times (default 2), alternating, on a
// fresh syncto; the figure kept for a configuration is the median of all
// its samples.

const http = require('node:http');
const os = require('node:os');
const { spawn } = require('node:child_process');
const { startStack } = require('../lib/stack');
const { seed } = require('../lib/control');
const { bearerUser } = require('../lib/users');

const N_HEARTBEAT = Number(process.argv[2] || 10000);
const N_RECORDS = Number(process.argv[3] || 2000);
const ROUNDS = Number(process.argv[4] || 2);
const WARMUP = 500;

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(url, headers) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get(url, { agent, headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: ${res.statusCode}`));
        else resolve(Number(process.hrtime.bigint() - t0) / 1e6);
      });
    });
    req.on('error', reject);
  });
}

async function series(url, headers, n) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = await get(url, headers);
  return out;
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, median: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), mean };
}

/** A StatsD receiver in its own process, counting what it gets. */
function startReceiver() {
  const code = `
    const s = require('node:dgram').createSocket('udp4');
    let datagrams = 0, lines = 0;
    s.on('message', (m) => { datagrams++; lines += m.toString().split('\\n').filter(Boolean).length; });
    s.bind(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: s.address().port }) + '\\n'));
    process.on('SIGTERM', () => { process.stdout.write(JSON.stringify({ datagrams, lines }) + '\\n'); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  const lines = [];
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  const next = () => new Promise((resolve) => {
    const poll = () => (lines.length ? resolve(lines.shift()) : setTimeout(poll, 10));
    poll();
  });
  return {
    port: next().then((l) => l.port),
    async stop() {
      child.kill('SIGTERM');
      return next();
    },
  };
}

async function main() {
  const receiver = startReceiver();
  const port = await receiver.port;
  const configs = {
    on: { SYNCTO_STATSD_URL: `udp://127.0.0.1:${port}`, SYNCTO_LOGGING_RENDERER: 'json', SYNCTO_LOG_LEVEL: 'info' },
    off: { SYNCTO_STATSD_URL: '', SYNCTO_LOGGING_RENDERER: 'json', SYNCTO_LOG_LEVEL: 'error' },
  };
  // Started at info: the harness waits for the "listening on" line.
  const stack = await startStack({ env: configs.on });
  const u = bearerUser();
  const user = { url: `${stack.v1}/buckets/${u.bucket}/collections/tabs/records`, headers: u.headers };
  // Ten small records, as a tabs collection holds.
  await seed(stack, u, 'tabs', Array.from({ length: 10 }, (_, i) => ({ id: `tab${i}`, payload: 'x'.repeat(300) })));

  const samples = { on: { hb: [], rec: [] }, off: { hb: [], rec: [] } };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of ['on', 'off']) {
        const env = { ...configs[name] };
        if (name === 'off') {
          // log_level=error also hides the "listening on" line the harness
          // waits for: start it by hand and wait for the socket only.
          await stack.procs.syncto.stop('SIGTERM', 40000);
          await startQuiet(stack, env);
        } else {
          await stack.restartSyncto(env);
        }
        await series(`${stack.v1}/__lbheartbeat__`, {}, WARMUP);
        await series(user.url, user.headers, Math.min(WARMUP, N_RECORDS));
        samples[name].hb.push(...await series(`${stack.v1}/__lbheartbeat__`, {}, N_HEARTBEAT));
        samples[name].rec.push(...await series(user.url, user.headers, N_RECORDS));
        process.stderr.write(`round ${round + 1} ${name}: done\n`);
      }
    }
  } finally {
    await stack.stop();
  }
  const got = await receiver.stop();

  const fmt = (x) => x.toFixed(3);
  const rows = [];
  for (const [label, key] of [['GET /v1/__lbheartbeat__', 'hb'], ['GET .../records (Sync)', 'rec']]) {
    const on = summary(samples.on[key]);
    const off = summary(samples.off[key]);
    rows.push(`| ${label} | ${on.n} | ${fmt(off.median)} | ${fmt(on.median)} | ${fmt(on.median - off.median)} | ` +
      `${fmt(off.p90)} / ${fmt(on.p90)} | ${fmt(off.p99)} / ${fmt(on.p99)} |`);
  }
  const cpu = os.cpus();
  console.log(`machine: ${cpu.length} x ${cpu[0].model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
    `${os.type()} ${os.release()}, node ${process.version}`);
  console.log(`rounds: ${ROUNDS} per configuration, alternating; sequential requests, keep-alive to nginx`);
  console.log(`StatsD receiver got ${got.datagrams} datagrams, ${got.lines} lines`);
  console.log('');
  console.log('| request | samples per config | median off (ms) | median on (ms) | overhead (ms) | p90 off / on | p99 off / on |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
}

/** Starts syncto with `env` without waiting for a log line: only for the socket. */
async function startQuiet(stack, env) {
  const path = require('node:path');
  const { Proc, waitFor, canConnect } = require('../lib/proc');
  const e = { ...stack.env, ...env };
  const listen = e.SYNCTO_LISTEN;
  require('node:fs').rmSync(listen.slice(5), { force: true });
  const p = new Proc('syncto', path.join(stack.build, 'syncto'), ['--ini', stack.ini],
    { env: e, log: path.join(stack.dir, 'syncto.log') });
  p.start();
  stack.procs.syncto = p;
  await waitFor(() => canConnect(listen), { timeout: 30000, what: 'syncto socket', fail: () => p.deadReason() });
  await new Promise((r) => setTimeout(r, 300)); // the workers' threads
  return p;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
