'use strict';
// Benchmark: the cost of a credential-cache hit and of a miss.
//
//   cd tests && SYNCTO_BUILD_DIR=../build node bench/cache.js [--n 1000]
//        [--block 100] [--warmup 300] [--no-browserid]
//
// Starts the whole stack (tests/lib/stack.js: PostgreSQL, the test Sync
// server, syncto with 2 workers x 8 threads and log_level warning, nginx),
// then times N sequential GET /v1/buckets/<cs>/collections/tabs/records per
// case, one request at a time over one keep-alive connection:
//
//   bearer hit     one Bearer token + X-KeyID for every request: after its
//                  first (untimed) request, every one finds its credentials
//                  in the cache (HMAC, SELECT, decryption)
//   bearer miss    a new token for the same user on every request: each one
//                  is a miss (advisory lock, tokenserver call, encryption,
//                  INSERT)
//   browserid hit / miss   the same with BrowserID assertions
//
// The cases take turns in blocks of --block requests (0: each case in one
// go), so that a slow drift of the machine (warm-up, other people's jobs)
// weighs on all of them alike. The test Sync server's control log proves the
// cases are what they claim: one tokenserver call for a whole hit case (its
// first request), one per request for a miss case, and one Sync call per
// request. Prints median, p90 and p99 per case and the differences
// miss - hit. This is documentation, not a test: no duration is asserted.
// Everything it starts is stopped at the end.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { startStack, stopCluster } = require('../lib/stack');
const { ROOT, waitFor } = require('../lib/proc');
const { control, lastSeq } = require('../lib/control');
const { KCA } = require('../lib/users');
const creds = require('../syncserver/credentials');

const MAX_BLOCK = 2000; // the control log keeps 5000 entries; a block logs at most 2 per request

/**
 * The build directory: $SYNCTO_BUILD_DIR taken relative to the current
 * directory (as typed in a shell), else relative to the repository root
 * (as tests/lib/stack.js reads it); default build/.
 */
function buildDir() {
  const v = process.env.SYNCTO_BUILD_DIR || 'build';
  const tries = [...new Set([path.resolve(process.cwd(), v), path.resolve(ROOT, v)])];
  const found = tries.find((d) => fs.existsSync(path.join(d, 'syncto')) && fs.existsSync(path.join(d, 'syncto-migrate')));
  if (!found) throw new Error(`syncto and syncto-migrate not found in ${tries.join(' or ')} (run: make build)`);
  return found;
}

function usage(message) {
  return Object.assign(new Error(message), { usage: true });
}

function parseArgs(argv) {
  const o = { n: 1000, block: 100, browserid: true, warmup: 300 };
  const int = (name, v, min, max) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min || x > max) throw usage(`${name} takes an integer from ${min} to ${max}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--n') {
      o.n = int(a, argv[++i], 1, 1000000);
    } else if (a === '--block') {
      o.block = int(a, argv[++i], 0, 1000000);
    } else if (a === '--warmup') {
      o.warmup = int(a, argv[++i], 0, 1000000);
    } else if (a === '--no-browserid') {
      o.browserid = false;
    } else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: node bench/cache.js [--n N] [--block B] [--warmup W] [--no-browserid]\n');
      process.exit(0);
    } else {
      throw usage(`unknown argument ${a}`);
    }
  }
  if (o.block === 0 || o.block > o.n) o.block = o.n;
  if (o.block > MAX_BLOCK) throw usage(`--block is at most ${MAX_BLOCK} (the control log would lose entries)`);
  return o;
}

// ---- the stack ----------------------------------------------------------

/** Worker pids of syncto's master (its children). */
function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * The harness waits for syncto's "listening on" line, which is logged at
 * info. So syncto starts at info from a copy of etc/syncto.ini, which is
 * then switched to warning and reloaded (SIGHUP): the new workers log no
 * request lines. Settings that must differ from the file's come from the
 * environment, which a reload keeps.
 */
async function startQuietStack(dir) {
  const ini = path.join(dir, 'syncto.ini');
  const text = fs.readFileSync(path.join(ROOT, 'etc', 'syncto.ini'), 'utf8');
  if (!/^syncto\.log_level\s*=.*$/m.test(text)) throw new Error('etc/syncto.ini has no syncto.log_level line');
  fs.writeFileSync(ini, text.replace(/^syncto\.log_level\s*=.*$/m, 'syncto.log_level = info'));
  const stack = await startStack({ ini, build: buildDir(), env: { SYNCTO_WORKERS: '2', SYNCTO_THREADS: '8' } });
  try {
    const master = stack.synctoPid;
    const old = childrenOf(master);
    if (old.length === 0) throw new Error(`cannot list syncto's workers (/proc/${master}/task/${master}/children)`);
    fs.writeFileSync(ini, text.replace(/^syncto\.log_level\s*=.*$/m, 'syncto.log_level = warning'));
    stack.signalSyncto('SIGHUP');
    // The old generation is stopped once the new one is ready.
    await waitFor(() => {
      const now = childrenOf(master);
      return now.length >= 2 && now.every((p) => !old.includes(p));
    }, { timeout: 30000, what: 'syncto reload (log_level warning)' });
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}

/** Tokenserver and Sync calls logged after `since`, and the new last sequence number. */
async function callsSince(stack, since) {
  const { entries, lastSeq: seq } = await control(stack, 'GET', `/log?since=${since}`);
  if (seq - since > entries.length) throw new Error(`control log lost entries (${seq - since} new, ${entries.length} kept)`);
  const token = entries.filter((e) => e.role === 'tokenserver');
  const storage = entries.filter((e) => e.role === 'storage');
  const bad = [...token, ...storage].filter((e) => e.status !== 200);
  if (bad.length) throw new Error(`upstream answered ${bad[0].status} to ${bad[0].role} ${bad[0].method} ${bad[0].path}`);
  return { token: token.length, storage: storage.length, tokenMs: token.map((e) => e.durationMs), seq };
}

// ---- requests -----------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One GET through nginx; resolves to the elapsed milliseconds (body read). */
function timedGet(url, headers) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(url, { method: 'GET', agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${url}: ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`));
          return;
        }
        resolve(ms);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function bearerHeaders(sub, keyId) {
  return { Authorization: `Bearer ${creds.makeOAuthToken({ sub })}`, 'X-KeyID': keyId, Accept: 'application/json' };
}

function browserIdHeaders(fxaUid) {
  return { Authorization: `BrowserID ${creds.makeBrowserIdAssertion({ fxaUid })}`, Accept: 'application/json' };
}

/**
 * One case: a name, the headers of each of its n requests (built before any
 * clock starts) and what its blocks measured.
 */
function makeCase(name, kind, headers) {
  return { name, kind, headers, next: 0, times: [], token: 0, storage: 0, tokenMs: [],
    cpu: { ours: 0, others: 0, steal: 0, wall: 0 } };
}

/**
 * Runs the cases in turns of `block` requests each (the order rotating every
 * round) until every case has made all its requests. The control log is
 * read after each block, outside the timed requests.
 */
async function runInterleaved(stack, url, cases, block) {
  let since = await lastSeq(stack);
  for (let round = 0; cases.some((c) => c.next < c.headers.length); round++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(round + k) % cases.length];
      const end = Math.min(c.next + block, c.headers.length);
      if (c.next >= end) continue;
      const sample = cpuSample();
      for (; c.next < end; c.next++) c.times.push(await timedGet(url, c.headers[c.next]));
      const used = sample();
      for (const key of Object.keys(c.cpu)) c.cpu[key] += used[key];
      const calls = await callsSince(stack, since);
      since = calls.seq;
      c.token += calls.token;
      c.storage += calls.storage;
      c.tokenMs.push(...calls.tokenMs);
    }
  }
}

// ---- CPU accounting, to tell contention from the stack's own work --------

const HZ = 100; // USER_HZ: /proc reports CPU times in 1/100 s on Linux

/** Busy and total CPU time of the machine (all CPUs), in seconds. */
function machineCpu() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal (guest is inside user)
  const idle = f[3] + f[4]; // idle + iowait
  const steal = f[7]; // taken by the hypervisor for other guests
  return { busy: (total - idle - steal) / HZ, steal: steal / HZ };
}

/** CPU seconds used so far by this process and all its live descendants. */
function treeCpu() {
  const procs = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let st;
    try {
      st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    procs.set(Number(d), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / HZ });
  }
  const mine = new Set([process.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of procs) {
      if (!mine.has(pid) && mine.has(p.ppid)) {
        mine.add(pid);
        grew = true;
      }
    }
  }
  const pids = [...mine];
  return { cpu: pids.reduce((a, pid) => a + (procs.get(pid) ? procs.get(pid).cpu : 0), 0) };
}

/**
 * Starts a CPU sample; the returned function ends it and gives the CPU
 * seconds this benchmark's processes used, those everything else on the
 * machine used, those the hypervisor took, and the wall time.
 */
function cpuSample() {
  const m0 = machineCpu();
  const t0 = treeCpu();
  const w0 = process.hrtime.bigint();
  return () => {
    const m1 = machineCpu();
    const t1 = treeCpu();
    const wall = Number(process.hrtime.bigint() - w0) / 1e9;
    // Processes that ended meanwhile are missed; those of the stack live throughout.
    const ours = t1.cpu - t0.cpu;
    const others = Math.max(0, (m1.busy - m0.busy) - ours);
    return { ours, others, steal: m1.steal - m0.steal, wall };
  };
}

// ---- statistics ----------------------------------------------------------

/** Nearest-rank percentile of sorted values. */
function pct(sorted, q) {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

function stats(times) {
  const s = [...times].sort((a, b) => a - b);
  return {
    n: s.length,
    min: s[0],
    median: pct(s, 0.5),
    p90: pct(s, 0.9),
    p99: pct(s, 0.99),
    max: s[s.length - 1],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

const f2 = (x) => x.toFixed(2).padStart(7);

function printTable(rows) {
  const out = [];
  out.push('case            n   median     p90     p99     mean     min      max   tokenserver  sync   cpu ours/others/steal');
  for (const r of rows) {
    const s = stats(r.times);
    out.push(`${r.name.padEnd(14)}${String(s.n).padStart(5)} ${f2(s.median)} ${f2(s.p90)} ${f2(s.p99)}  ` +
      `${f2(s.mean)} ${f2(s.min)} ${f2(s.max)}` +
      `  ${String(r.token).padStart(11)} ${String(r.storage).padStart(5)}   ` +
      ['ours', 'others', 'steal'].map((k) => (r.cpu[k] / r.cpu.wall).toFixed(2)).join(' / '));
  }
  process.stdout.write(out.join('\n') + '\n');
}

function printDiff(label, hit, miss) {
  const h = stats(hit.times);
  const m = stats(miss.times);
  const d = (k) => f2(m[k] - h[k]);
  const tokenMs = miss.tokenMs;
  const tsMean = tokenMs.length ? tokenMs.reduce((a, b) => a + b, 0) / tokenMs.length : NaN;
  process.stdout.write(`${label} miss - hit: median ${d('median')} ms, p90 ${d('p90')} ms, p99 ${d('p99')} ms, ` +
    `mean ${d('mean')} ms (tokenserver's own handling time, mean: ${tsMean.toFixed(2)} ms)\n`);
}

// ---- main ---------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const n = opts.n;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncto-bench-'));
  let stack;
  try {
    const tStart = Date.now();
    stack = await startQuietStack(dir);
    process.stdout.write(`stack up in ${((Date.now() - tStart) / 1000).toFixed(1)} s: syncto ${stack.build}/syncto, ` +
      `2 workers x 8 threads, log_level warning; ${os.cpus().length} CPUs, node ${process.version}\n`);

    const fxaUid = creds.randomFxaUid();
    const cs = creds.randomClientState();
    const keyId = creds.keyIdFor(cs, KCA);
    const url = `${stack.v1}/buckets/${cs}/collections/tabs/records`;
    const records = Array.from({ length: 3 }, (_, i) => ({
      id: `tabs-client-${i}`,
      payload: JSON.stringify({
        ciphertext: Buffer.alloc(600, i + 1).toString('base64'), IV: 'AAAAAAAAAAAAAAAAAAAAAA==', hmac: 'ab'.repeat(32),
      }),
      ttl: 86400,
    }));
    await control(stack, 'POST', '/seed', { fxaUid, clientState: cs, collection: 'tabs', records });

    // Warm-up (untimed), each kind of request in turn: every worker thread
    // opens its PostgreSQL and tokenserver/Sync connections, and the Node
    // processes (this one, the test Sync server) compile their hot paths.
    const warmBearer = bearerHeaders(fxaUid, keyId);
    const warmBid = browserIdHeaders(fxaUid);
    for (let i = 0; i < opts.warmup; i++) {
      await timedGet(url, bearerHeaders(fxaUid, keyId));
      await timedGet(url, warmBearer);
      if (opts.browserid) {
        await timedGet(url, browserIdHeaders(fxaUid));
        await timedGet(url, warmBid);
      }
    }

    const flows = [['bearer', () => bearerHeaders(fxaUid, keyId)]];
    if (opts.browserid) flows.push(['browserid', () => browserIdHeaders(fxaUid)]);
    const cases = [];
    const problems = [];
    for (const [flow, make] of flows) {
      // hit: one credential; its first request (untimed) is its one miss
      const one = make();
      const since = await lastSeq(stack);
      await timedGet(url, one);
      const first = await callsSince(stack, since);
      const hit = makeCase(`${flow} hit`, 'hit', Array.from({ length: n }, () => one));
      hit.token = first.token; // counted in, so that a hit case shows 1
      if (first.token !== 1) problems.push(`${flow} hit: its first request made ${first.token} tokenserver calls, expected 1`);
      // miss: a new credential for the same user on every request
      const miss = makeCase(`${flow} miss`, 'miss', Array.from({ length: n }, make));
      cases.push(hit, miss);
    }

    const logFrom = stack.synctoLogOffset();
    const t0 = Date.now();
    await runInterleaved(stack, url, cases, opts.block);
    const seconds = (Date.now() - t0) / 1000;
    const logged = stack.synctoLogOffset() - logFrom;
    const cached = await stack.pg.psql("SELECT count(*) AS n FROM cache WHERE key LIKE 'credentials\\_%'");

    for (const c of cases) {
      const want = c.kind === 'hit' ? 1 : n;
      if (c.token !== want) problems.push(`${c.name}: ${c.token} tokenserver calls, expected ${want}`);
      if (c.storage !== n) problems.push(`${c.name}: ${c.storage} Sync calls, expected ${n}`);
    }

    process.stdout.write(`\nlatency in ms, ${n} sequential requests per case over one keep-alive connection, ` +
      `cases taking turns in blocks of ${opts.block} (${seconds.toFixed(1)} s in all)\n` +
      '(tokenserver, sync: calls seen by the test Sync server; cpu: cores used meanwhile by this benchmark\n' +
      `and its stack / by every other process on the machine / stolen by the hypervisor, out of ${os.cpus().length})\n`);
    printTable(cases);
    process.stdout.write('\n');
    for (const [flow] of flows) {
      const find = (kind) => cases.find((c) => c.name === `${flow} ${kind}`);
      printDiff(flow.padEnd(9), find('hit'), find('miss'));
    }
    process.stdout.write(`\ncredential rows in the cache table: ${cached[0].n}; syncto log bytes written while timing: ${logged}\n`);
    if (problems.length) {
      process.stdout.write(`\nNOT VALID:\n  ${problems.join('\n  ')}\n`);
      process.exitCode = 1;
    }
  } finally {
    agent.destroy();
    if (stack) await stack.stop();
    await stopCluster();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench/cache.js: ${e.usage ? e.message : e.stack || e}\n`);
  process.exitCode = 1;
});
