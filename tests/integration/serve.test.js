'use strict';
// `make serve` (etc/dev/serve.sh): the whole stack comes up from nothing,
// answers through nginx, and leaves no process behind when stopped or when
// one of its processes dies.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ROOT, freePort, waitFor } = require('../lib/proc');
const { sanitizerReportsInText } = require('../lib/stack');

const BUILD = path.resolve(ROOT, process.env.SYNCTO_BUILD_DIR || 'build');

/** pid -> {ppid, cmdline, environ} for every process we can read. */
function processTable() {
  const table = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      const read = (f) => {
        try {
          return fs.readFileSync(`/proc/${name}/${f}`, 'utf8').replace(/\0/g, ' ');
        } catch {
          return '';
        }
      };
      table.set(Number(name), { ppid: Number(fields[1]), cmdline: read('cmdline'), environ: read('environ') });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

/** Live descendants of `pid`. */
function descendants(pid) {
  const table = processTable();
  const out = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift();
    for (const [child, info] of table) {
      if (info.ppid === p) {
        out.push({ pid: child, cmdline: info.cmdline });
        queue.push(child);
      }
    }
  }
  return out;
}

/** Live processes whose command line or environment mentions `dir`. */
function processesUsing(dir) {
  const out = [];
  for (const [pid, info] of processTable()) {
    if (pid === process.pid) continue;
    if (info.cmdline.includes(dir) || info.environ.includes(dir)) out.push({ pid, cmdline: info.cmdline });
  }
  return out;
}

const alive = (pid) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

/** Starts serve.sh with its state in `varDir`; resolves once it printed its URL. */
async function startServe(varDir) {
  const port = await freePort();
  const env = { ...process.env, SYNCTO_PORT: String(port), SYNCTO_VAR_DIR: varDir, SYNCTO_BUILD_DIR: BUILD };
  for (const k of ['SYNCTO_CACHE_URL', 'SYNCTO_LISTEN', 'SYNCTO_CACHE_HMAC_SECRET', 'SYNCTO_INI']) delete env[k];
  const child = spawn('sh', [path.join(ROOT, 'etc', 'dev', 'serve.sh')], {
    cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = { child, port, out: '', code: undefined, signal: undefined };
  child.stdout.on('data', (d) => {
    run.out += d;
  });
  child.stderr.on('data', (d) => {
    run.out += d;
  });
  run.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      run.code = code;
      run.signal = signal;
      resolve();
    });
  });
  await waitFor(() => run.out.includes('Syncto is running at'), {
    timeout: 90000,
    interval: 100,
    what: 'serve.sh',
    fail: () => (run.code !== undefined ? `exited with ${run.code}:\n${run.out}` : null),
  });
  return run;
}

async function stopAndCheck(run, varDir, signal = 'SIGTERM') {
  const kids = descendants(run.child.pid);
  assert.ok(kids.length >= 3, `serve.sh runs postgres, syncto and nginx (${JSON.stringify(kids)})`);
  if (signal) run.child.kill(signal);
  let timer;
  await Promise.race([run.exited, new Promise((r) => {
    timer = setTimeout(r, 90000);
  })]);
  clearTimeout(timer);
  assert.notEqual(run.code, undefined, `serve.sh exited:\n${run.out}`);
  await waitFor(() => kids.every((k) => !alive(k.pid)), { timeout: 10000, what: 'children gone' })
    .catch(() => {});
  assert.deepEqual(kids.filter((k) => alive(k.pid)), [], 'every process serve.sh started is gone');
  assert.deepEqual(processesUsing(varDir), [], `no process left using ${varDir}`);
  // A sanitizer build writes its reports (leaks at exit included) to
  // syncto's stderr, which serve.sh passes on.
  assert.deepEqual(sanitizerReportsInText(run.out), [], 'no sanitizer report');
}

describe('etc/dev/serve.sh', () => {
  let varDir;
  let run;
  before(() => {
    varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncto-serve-'));
    fs.chmodSync(varDir, 0o755);
  });
  after(async () => {
    if (run && run.code === undefined) {
      run.child.kill('SIGTERM');
      await run.exited;
    }
    if (varDir) fs.rmSync(varDir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('starts everything, answers on /v1/, stops everything on SIGTERM', async () => {
    run = await startServe(varDir);
    assert.match(run.out, new RegExp(`Syncto is running at http://127\\.0\\.0\\.1:${run.port}/v1/`));
    assert.match(run.out, /creating a PostgreSQL cluster/);
    const res = await fetch(`http://127.0.0.1:${run.port}/v1/`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.project_name, 'syncto');
    assert.equal(body.url, `http://127.0.0.1:${run.port}/v1/`);
    assert.ok(fs.existsSync(path.join(varDir, 'secret')), 'the cache secret is kept in the var directory');
    await stopAndCheck(run, varDir);
  });

  it('reuses the cluster and the secret on the next start', async () => {
    const secret = fs.readFileSync(path.join(varDir, 'secret'), 'utf8');
    run = await startServe(varDir);
    assert.doesNotMatch(run.out, /creating a PostgreSQL cluster/);
    assert.equal(fs.readFileSync(path.join(varDir, 'secret'), 'utf8'), secret);
    const res = await fetch(`http://127.0.0.1:${run.port}/v1/__lbheartbeat__`);
    assert.equal(res.status, 200);
    await stopAndCheck(run, varDir);
  });

  it('stops the others when one process dies', async () => {
    run = await startServe(varDir);
    const syncto = descendants(run.child.pid).find((k) => k.cmdline.startsWith(`${path.join(BUILD, 'syncto')} `));
    assert.ok(syncto, 'syncto found');
    process.kill(syncto.pid, 'SIGTERM');
    await stopAndCheck(run, varDir, null);
    assert.notEqual(run.code, 0, 'serve.sh reports the failure');
  });
});
