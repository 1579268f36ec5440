'use strict';
// Process plumbing for the test harness: free ports, polling, the service
// account used when the tests run as root, and Proc, a child process whose
// output goes to a log file and which dies with the test process.

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const SERVICE_USER = 'syncto';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port free on 127.0.0.1 at the time of the call. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Polls `check` until it returns a truthy value (returned), `fail` returns a
 * message (thrown), or `timeout` ms pass (thrown, naming `what`).
 */
async function waitFor(check, { timeout = 30000, interval = 50, what = 'condition', fail } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    const why = fail ? await fail() : null;
    if (why) throw new Error(`${what}: ${why}`);
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeout} ms`);
    await sleep(interval);
  }
}

/** Resolves true when `addr` ("unix:/path" or "host:port") accepts a connection. */
function canConnect(addr) {
  return new Promise((resolve) => {
    const opts = addr.startsWith('unix:')
      ? { path: addr.slice(5) }
      : { host: addr.slice(0, addr.lastIndexOf(':')), port: Number(addr.slice(addr.lastIndexOf(':') + 1)) };
    const c = net.connect(opts, () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

let serviceCache;
/**
 * When running as root: the unprivileged account (created on first use) that
 * runs PostgreSQL, which refuses root, and nginx's workers. null otherwise.
 */
function serviceUser() {
  if (serviceCache !== undefined) return serviceCache;
  if (process.getuid() !== 0) {
    serviceCache = null;
    return null;
  }
  const id = (flag) => Number(execFileSync('id', [flag, SERVICE_USER], { stdio: ['ignore', 'pipe', 'ignore'] }));
  try {
    id('-u');
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent',
      '--shell', '/usr/sbin/nologin', SERVICE_USER], { stdio: 'inherit' });
  }
  serviceCache = { name: SERVICE_USER, uid: id('-u'), gid: id('-g') };
  return serviceCache;
}

/** chown -R to the service account (no-op when not root). */
function chownService(p) {
  const svc = serviceUser();
  if (svc) execFileSync('chown', ['-R', `${svc.uid}:${svc.gid}`, p]);
}

/** The nginx executable (Debian keeps it in /usr/sbin). */
function nginxBin() {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) {
    if (fs.existsSync(p)) return p;
  }
  return 'nginx';
}

const live = new Set();

/**
 * A child process of the stack. Its stdout and stderr go to `log` (or
 * stdout alone to `log` and stderr to `errLog`). It is started through
 * setpriv with a parent-death signal, so it stops even if the test process
 * is killed, and, with `asService`, as the unprivileged account when root.
 */
class Proc {
  constructor(name, cmd, args, { env = process.env, cwd = ROOT, log, errLog, asService = false,
    deathSignal = 'TERM' } = {}) {
    Object.assign(this, { name, cmd, args, env, cwd, log, errLog, asService, deathSignal });
    this.child = null;
    this.exitCode = null;
    this.exitSignal = null;
    this.exited = null;
  }

  start() {
    const pre = ['--pdeathsig', this.deathSignal];
    const svc = this.asService ? serviceUser() : null;
    if (svc) pre.unshift(`--reuid=${svc.uid}`, `--regid=${svc.gid}`, '--clear-groups');
    const out = fs.openSync(this.log, 'a');
    const err = this.errLog ? fs.openSync(this.errLog, 'a') : out;
    try {
      this.child = spawn('setpriv', [...pre, '--', this.cmd, ...this.args], {
        env: this.env, cwd: this.cwd, stdio: ['ignore', out, err],
      });
    } finally {
      fs.closeSync(out);
      if (err !== out) fs.closeSync(err);
    }
    this.exitCode = null;
    this.exitSignal = null;
    const child = this.child;
    // A forgotten stop() must not keep the test process alive: the exit
    // hook below and the parent-death signal stop the child instead.
    child.unref();
    live.add(this);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        if (this.child === child) {
          this.exitCode = code;
          this.exitSignal = signal;
          live.delete(this);
        }
        resolve({ code, signal });
      });
      child.on('error', (e) => {
        this.exitCode = -1;
        this.startError = e;
        live.delete(this);
        resolve({ code: -1, signal: null });
      });
    });
    return this;
  }

  get pid() {
    return this.child ? this.child.pid : undefined;
  }

  get running() {
    return this.child !== null && this.exitCode === null && this.exitSignal === null;
  }

  /** Why the process is not running, or null while it runs. */
  deadReason() {
    if (this.running) return null;
    if (this.startError) return `${this.name} could not start: ${this.startError.message}`;
    return `${this.name} exited (${this.exitSignal || `code ${this.exitCode}`})\n${this.tail(30)}`;
  }

  signal(sig) {
    if (this.running) process.kill(this.child.pid, sig);
  }

  /** Sends `sig`, waits up to `timeout` ms for the exit, then SIGKILL. */
  async stop(sig = 'SIGTERM', timeout = 15000) {
    if (!this.running) return;
    this.signal(sig);
    let timer;
    const killed = new Promise((resolve) => {
      timer = setTimeout(() => {
        this.signal('SIGKILL');
        resolve();
      }, timeout);
    });
    await Promise.race([this.exited, killed]);
    await this.exited;
    clearTimeout(timer);
  }

  /** Current size of the log, to look for output written after this point. */
  logOffset(file = this.errLog || this.log) {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  }

  logText(from = 0, file = this.errLog || this.log) {
    try {
      const buf = fs.readFileSync(file);
      return buf.subarray(Math.min(from, buf.length)).toString('utf8');
    } catch {
      return '';
    }
  }

  /** The last `n` lines of the log(s). */
  tail(n = 40) {
    const files = this.errLog ? [this.log, this.errLog] : [this.log];
    return files.map((f) => this.logText(0, f).split('\n').slice(-n - 1).join('\n')).join('\n');
  }

  /** Waits until `pattern` (string or RegExp) appears in the log after `from`. */
  async waitForLog(pattern, { from = 0, timeout = 30000, file } = {}) {
    const matches = (t) => (typeof pattern === 'string' ? t.includes(pattern) : pattern.test(t));
    return waitFor(() => matches(this.logText(from, file)), {
      timeout, what: `${this.name}: waiting for ${pattern}`, fail: () => this.deadReason(),
    });
  }
}

// The same signal as the parent-death one, sent as soon as the process
// exits normally, so that nothing outlives a test file that forgot stop().
process.on('exit', () => {
  for (const p of live) {
    try {
      process.kill(p.pid, `SIG${p.deathSignal}`);
    } catch {
      // already gone
    }
  }
});

// Killed by a signal, node skips 'exit' hooks: turn the usual ones into an
// exit so that the hooks above (and the harness's cleanup) run.
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(sig, () => process.exit(code));
}

module.exports = {
  ROOT, Proc, freePort, waitFor, sleep, canConnect, serviceUser, chownService, nginxBin,
};
