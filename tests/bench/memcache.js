'use strict';
// Benchmark: what the in-memory credential layer saves on a cached request.
//
//   cd tests && SYNCTO_BUILD_DIR=../build node bench/memcache.js [--n 3000]
//        [--block 100] [--warmup 300] [--before-build DIR]
//
// Two stacks side by side on one PostgreSQL cluster (tests/lib/stack.js:
// the test Sync server, syncto with 2 workers x 8 threads and the log
// level of etc/syncto.ini, nginx), each with one Bearer user whose history collection
// holds ten records:
//
//   before   syncto.cache_memory_entries = 0: every request looks its
//            credentials up in PostgreSQL (one SELECT); with --before-build,
//            that build's syncto instead (e.g. one without the layer), with
//            the etc/syncto.ini of its source tree (DIR/../etc/syncto.ini)
//            when there is one
//   after    the default (2048): credentials from the worker's memory
//
// and times N sequential GET /v1/buckets/<cs>/collections/history/records
// ?_limit=10 on each, one at a time over one keep-alive connection, the two
// taking turns in blocks of --block requests (order swapped every block) so
// that a drift of the machine weighs on both alike. The test Sync server's
// log proves each timed request made one Sync call and no tokenserver call;
// pg_stat_database shows the PostgreSQL transactions of each stack's
// database during the timed part. Documentation, not a test: no duration is
// asserted. Everything it starts is stopped at the end.

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { startStack, stopCluster } = require('../lib/stack');
const { ROOT } = require('../lib/proc');
const { lastSeq, logSince, seed } = require('../lib/control');
const { bearerUser } = require('../lib/users');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
  const o = { n: 3000, block: 100, warmup: 300, beforeBuild: null };
  const int = (name, v, min, max) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min || x > max) throw new Error(`${name} takes an integer from ${min} to ${max}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--n') o.n = int(a, argv[++i], 1, 100000);
    else if (a === '--block') o.block = int(a, argv[++i], 1, 2000);
    else if (a === '--warmup') o.warmup = int(a, argv[++i], 0, 100000);
    else if (a === '--before-build') o.beforeBuild = path.resolve(process.cwd(), argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function buildDir() {
  const v = process.env.SYNCTO_BUILD_DIR || 'build';
  const tries = [path.resolve(process.cwd(), v), path.resolve(ROOT, v)];
  const found = tries.find((d) => fs.existsSync(path.join(d, 'syncto')));
  if (!found) throw new Error(`syncto not found in ${tries.join(' or ')}`);
  return found;
}

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

function summary(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, median: at(50), p90: at(90), p99: at(99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** Committed transactions of the stack's database, once idle sessions have reported them. */
async function xacts(stack) {
  const rows = await stack.pg.psql(`SELECT xact_commit FROM pg_stat_database WHERE datname = '${stack.pg.database}'`);
  return Number(rows[0].xact_commit);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const build = buildDir();
  const env = {};
  const beforeIni = o.beforeBuild && path.join(o.beforeBuild, '..', 'etc', 'syncto.ini');
  const cases = [
    o.beforeBuild
      ? { name: 'before', build: o.beforeBuild, env, ini: fs.existsSync(beforeIni) ? beforeIni : undefined }
      : { name: 'before', build, env: { ...env, SYNCTO_CACHE_MEMORY_ENTRIES: '0' } },
    { name: 'after', build, env },
  ];
  try {
    for (const c of cases) {
      c.stack = await startStack({ build: c.build, env: c.env, ini: c.ini });
      const u = bearerUser();
      await seed(c.stack, u, 'history', Array.from({ length: 10 }, (_, i) => ({ id: `h${i}`, payload: 'x'.repeat(300) })));
      c.url = `${c.stack.v1}/buckets/${u.bucket}/collections/history/records?_limit=10`;
      c.headers = u.headers;
      c.samples = [];
      c.sync = 0;
      c.tokens = 0;
    }
    for (let i = 0; i < o.warmup; i++) for (const c of cases) await get(c.url, c.headers);
    // PostgreSQL backends report their counters when idle, within 10 s.
    await sleep(11000);
    for (const c of cases) c.xactBefore = await xacts(c.stack);
    const t0 = Date.now();
    for (let done = 0, k = 0; done < o.n; done += o.block, k++) {
      const m = Math.min(o.block, o.n - done);
      for (const c of k % 2 ? [...cases].reverse() : cases) {
        const seq = await lastSeq(c.stack);
        for (let i = 0; i < m; i++) c.samples.push(await get(c.url, c.headers));
        const entries = await logSince(c.stack, seq);
        c.sync += entries.filter((e) => e.role === 'storage').length;
        c.tokens += entries.filter((e) => e.role === 'tokenserver').length;
      }
    }
    const seconds = (Date.now() - t0) / 1000;
    await sleep(11000);
    for (const c of cases) c.xacts = (await xacts(c.stack)) - c.xactBefore;

    const cpus = os.cpus();
    const fmt = (x) => x.toFixed(3);
    console.log(`machine: ${cpus.length} x ${cpus[0].model.trim()}, Linux ${os.release()}, node ${process.version}; ` +
      `load average after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log(`N = ${o.n} per case, blocks of ${o.block}, ${o.warmup} untimed rounds first; timed part ${seconds.toFixed(1)} s`);
    console.log(`before: ${cases[0].build === build ? 'this build, syncto.cache_memory_entries = 0' : cases[0].build}; after: ${build}`);
    console.log('');
    console.log('| case | median ms | p90 ms | p99 ms | mean ms | Sync calls | tokenserver calls | PostgreSQL transactions |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const c of cases) {
      const s = summary(c.samples);
      const valid = c.sync === o.n && c.tokens === 0 ? '' : ' NOT VALID';
      console.log(`| ${c.name}${valid} | ${fmt(s.median)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${fmt(s.mean)} | ${c.sync} | ${c.tokens} | ${c.xacts} |`);
    }
    const [b, a] = cases.map((c) => summary(c.samples));
    console.log(`| after - before | ${fmt(a.median - b.median)} | ${fmt(a.p90 - b.p90)} | ${fmt(a.p99 - b.p99)} | ${fmt(a.mean - b.mean)} | | | |`);
  } finally {
    agent.destroy();
    for (const c of cases) if (c.stack) await c.stack.stop().catch(() => {});
    await stopCluster();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
