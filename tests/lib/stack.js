'use strict';
// The whole Syncto stack for integration tests, on 127.0.0.1 and free ports,
// in a private temporary directory:
//
//   PostgreSQL (one cluster per test file, one database per stack)
//   the test Sync server (tests/syncserver)
//   syncto-migrate, then syncto on a unix socket
//   nginx from nginx/*.conf.in
//
//   const { startStack } = require('../lib/stack');
//   const stack = await startStack({ env: { SYNCTO_RECORD_TABS_PUT_ENABLED: 'true' } });
//   const res = await fetch(`${stack.v1}/`);
//   await stack.stop();
//
// The stack object:
//   url, v1            http://127.0.0.1:PORT (nginx) and url + '/v1'
//   sync               the test Sync server: {url (storage), control,
//                      tokenServerUrl, info (its ready line), port, pid, stop()}
//                      or null with { syncserver: false }
//   pg                 {url, database, psql(sql) -> rows, stop(), start(),
//                      running}; stop()/start() act on the whole cluster
//   env                the environment syncto runs with
//   synctoPid, nginxPid
//   signalSyncto(sig)  e.g. 'SIGHUP' (reload)
//   stopSyncto(), startSyncto(env), restartSyncto(env)
//   synctoLog(from), synctoLogOffset()   syncto's stderr, whole or from an offset
//   logs(lines)        tails of every log, for failure reports
//   printLogsIfFailed(t)   for afterEach: prints logs() after a failed test
//   stop()             stops everything, checks the logs for secrets and the
//                      sanitizer reports (below) and removes the directory
//   sanitizerReports() the sanitizer reports written so far, [{file, text}]
//
// No secret in the logs: stop() searches syncto's, syncto-migrate's,
// nginx's (error and access) and PostgreSQL's logs for every secret this
// process handed out or saw issued: the BrowserID assertions and OAuth
// tokens made by tests/syncserver/credentials.js, the Hawk ids and keys the
// test tokenserver issued (its GET /__control__/tokens) and syncto's secret
// settings (syncto.cache_hmac_secret...). If one is found, stop() rejects,
// naming the file, line and kind of secret, which fails the test file's
// after() hook. A stack that is started and never stopped fails the test
// process at exit, since its logs were never checked.
//
// No sanitizer report: syncto and syncto-migrate run with ASAN_OPTIONS,
// UBSAN_OPTIONS and LSAN_OPTIONS that send AddressSanitizer,
// UndefinedBehaviorSanitizer and LeakSanitizer reports to files in the
// stack's directory (sanitizer.<pid>), stop at the first error, check leaks
// at every process exit (a sanitizer build's workers leave through exit(),
// see src/sy_master.c) and leave out the third-party leaks listed in
// tests/lsan.supp. A build without sanitizers ignores them. Options already
// in the environment come last, so they win (e.g. ASAN_OPTIONS=detect_leaks=0
// to look at something else). If a report file has any content, or a report
// shows in syncto's or syncto-migrate's stderr (where UBSan writes in a
// build with both sanitizers), stop() rejects with the reports in its
// message, which fails the test file. A process killed with SIGKILL makes no
// leak check.
//
// The build directory is $SYNCTO_BUILD_DIR (default: build). Set
// SYNCTO_TEST_KEEP=1 to keep the temporary directory (configs and logs).
// The processes also stop when the test process exits, however it exits
// (parent-death signal); the directory goes too unless it was SIGKILLed.

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { ROOT, Proc, freePort, waitFor, canConnect, serviceUser } = require('./proc');
const { startCluster } = require('./pg');
const { startNginx } = require('./nginx');
const { madeCredentials } = require('../syncserver/credentials');
const { secretIndex, scanFiles } = require('./secrets');

const BUILD = path.resolve(ROOT, process.env.SYNCTO_BUILD_DIR || 'build');
const DEFAULT_INI = path.join(ROOT, 'etc', 'syncto.ini');
const SYNCSERVER = path.join(ROOT, 'tests', 'syncserver', 'server.js');
const LSAN_SUPPRESSIONS = path.join(ROOT, 'tests', 'lsan.supp');
const SANITIZER_PREFIX = 'sanitizer';

/**
 * ASAN/UBSAN/LSAN_OPTIONS for the processes of a stack in `dir`: ours, then
 * those of each environment in `envs` (later ones win).
 *
 * AddressSanitizer: the first error ends the process (exit status 1, no core
 * dump), the leak check runs at every exit, string functions are checked
 * over their whole argument, and a stack frame used after its function
 * returned is an error too. UndefinedBehaviorSanitizer stops at the first
 * report with its stack. Reports go to dir/sanitizer.<pid>; in a build with
 * both sanitizers, GCC's runtime writes UBSan's to stderr all the same,
 * hence the scan of the logs as well (sanitizerReportsInText()).
 */
function sanitizerEnv(dir, ...envs) {
  const logPath = path.join(dir, SANITIZER_PREFIX);
  const join = (name, ours) => [ours, ...envs.map((e) => e[name])].filter(Boolean).join(':');
  return {
    ASAN_OPTIONS: join('ASAN_OPTIONS', ['detect_leaks=1', 'halt_on_error=1', 'abort_on_error=0',
      'strict_string_checks=1', 'detect_stack_use_after_return=1', `log_path=${logPath}`].join(':')),
    UBSAN_OPTIONS: join('UBSAN_OPTIONS', `print_stacktrace=1:halt_on_error=1:log_path=${logPath}`),
    LSAN_OPTIONS: join('LSAN_OPTIONS', `suppressions=${LSAN_SUPPRESSIONS}:print_suppressions=0`),
  };
}

// The first line of a sanitizer report: UBSan's "file:line:col: runtime
// error: ...", the "==pid==ERROR: AddressSanitizer: ..." banner of ASan and
// LSan (or a WARNING from their runtime), a fault caught by ASan.
const REPORT_START = /^(?:\S+:\d+(?::\d+)?: runtime error: |==\d+==\s*(?:ERROR|WARNING): \w*Sanitizer|\w+Sanitizer:DEADLYSIGNAL)/;
const REPORT_LINES = 60;
// A line of syncto's own: MozLog JSON, or text that starts with the time.
const LOG_LINE = /^(?:\{|\d{4}-\d\d-\d\dT)/;

/**
 * Sanitizer reports in `text`, what a process wrote to its stderr: each
 * from its first line to its last stack frame (at most REPORT_LINES lines,
 * up to the next line of syncto's own). syncto's lines are JSON or start
 * with the time, so they never look like one.
 */
function sanitizerReportsInText(text) {
  const lines = text.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (!REPORT_START.test(lines[i])) continue;
    const start = i;
    let end = i + 1;
    // frames ("    #3 0x... in f file:line"), notes, SUMMARY, blank lines
    while (end < lines.length && end - start < REPORT_LINES && !LOG_LINE.test(lines[end])
      && !REPORT_START.test(lines[end])) end++;
    out.push(lines.slice(start, end).join('\n').trimEnd());
    i = end - 1;
  }
  return out;
}

/** The same for the log `file`: [{file, text}]. */
function sanitizerReportsInLog(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return sanitizerReportsInText(text).map((t) => ({ file, text: t }));
}

/**
 * The settings file shipped with the sources a build directory was
 * configured from (its CMakeCache.txt names them), so that an older build
 * runs with its own settings and defaults; etc/syncto.ini of this tree when
 * the build names no sources that have one.
 */
function iniOfBuild(build) {
  try {
    const cache = fs.readFileSync(path.join(build, 'CMakeCache.txt'), 'utf8');
    const m = /^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/m.exec(cache);
    const ini = m && path.join(m[1], 'etc', 'syncto.ini');
    if (ini && fs.existsSync(ini)) return ini;
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  return DEFAULT_INI;
}

/**
 * Sanitizer reports of the stack in `dir`: [{file, text}], the files
 * dir/sanitizer.<pid> oldest first, then those found in the stderr of
 * syncto (syncto.log) and syncto-migrate (migrate.log). A file with nothing
 * in it is no report.
 */
function readSanitizerReports(dir) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(`${SANITIZER_PREFIX}.`))
    .map((n) => path.join(dir, n))
    .map((file) => ({ file, mtime: fs.statSync(file).mtimeMs, text: fs.readFileSync(file, 'utf8') }))
    .filter((r) => r.text.trim() !== '')
    .sort((a, b) => a.mtime - b.mtime)
    .map(({ file, text }) => ({ file, text }))
    .concat(['syncto.log', 'migrate.log'].flatMap((n) => sanitizerReportsInLog(path.join(dir, n))));
}

// The server's own defaults for the settings nginx must agree with.
const DEFAULTS = {
  'syncto.max_request_body_bytes': '4194304',
  'syncto.retry_after_seconds': '30',
};

/** Value of `key` in an INI file as syncto reads it (any section, last wins). */
function iniSetting(file, key) {
  let value;
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line[0] === '#' || line[0] === ';' || line[0] === '[') continue;
    const eq = line.indexOf('=');
    if (eq < 0 || line.slice(0, eq).trim().toLowerCase() !== key) continue;
    value = line.slice(eq + 1).trim();
    if (value.length >= 2 && value[0] === '"' && value.endsWith('"')) value = value.slice(1, -1);
  }
  return value;
}

/** Settings whose values are secrets (environment names). */
const SECRET_SETTING = /SECRET|DSN|PASSWORD/;

/** syncto.rate_limit -> SYNCTO_RATE_LIMIT */
const envName = (key) => key.toUpperCase().replace(/\./g, '_');

/** Effective setting for syncto started with `env` and `ini`. */
function setting(env, ini, key) {
  const v = env[envName(key)];
  if (v !== undefined && v !== '') return v;
  return iniSetting(ini, key) ?? DEFAULTS[key];
}

// One PostgreSQL cluster per test process (each test file runs in its own).
let clusterPromise = null;
let clusterDir = null;
let dbCounter = 0;

function sharedCluster() {
  if (!clusterPromise) {
    clusterDir = makeTempDir('syncto-pg-');
    clusterPromise = startCluster(clusterDir);
    clusterPromise.catch(() => {});
  }
  return clusterPromise;
}

const tempDirs = new Set();
function makeTempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755); // the service account traverses it (socket, data)
  tempDirs.add(dir);
  return dir;
}

function removeTempDir(dir) {
  tempDirs.delete(dir);
  if (process.env.SYNCTO_TEST_KEEP) {
    process.stderr.write(`stack: kept ${dir}\n`);
    return;
  }
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}

// Stacks started and not yet stopped (their logs are checked at stop()).
const unchecked = new Set();

process.on('exit', () => {
  if (unchecked.size > 0) {
    process.stderr.write(`stack: ${unchecked.size} stack(s) never stopped: their logs were not checked for secrets\n`);
    process.exitCode = 1;
  }
  // Proc's exit hook has signalled the processes; their files go too.
  for (const dir of [...tempDirs]) {
    try {
      removeTempDir(dir);
    } catch {
      // best effort: a process may still be writing there
    }
  }
});

function runToEnd(cmd, args, { env, log }) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      fs.appendFileSync(log, stdout + stderr);
      if (err) reject(new Error(`${path.basename(cmd)} failed (${err.code ?? err.signal}):\n${stderr}${stdout}`));
      else resolve();
    });
  });
}

/** Picks the tokenserver base URL out of the Sync server's ready line. */
function tokenServerUrl(info, port) {
  return typeof info.tokenserver === 'string' ? info.tokenserver : `http://127.0.0.1:${port}/token/`;
}

async function startSyncServer(dir, args) {
  // --port 0: it binds a free port itself and names it in its ready line
  const proc = new Proc('syncserver', process.execPath, [SYNCSERVER, '--port', '0', ...args], {
    log: path.join(dir, 'syncserver.out'), errLog: path.join(dir, 'syncserver.log'),
  });
  proc.start();
  const line = await waitFor(() => {
    const out = proc.logText(0, proc.log);
    for (const l of out.split('\n')) {
      if (!l.trim().startsWith('{')) continue;
      try {
        return JSON.parse(l);
      } catch {
        // not complete yet
      }
    }
    return null;
  }, { timeout: 15000, what: 'syncserver ready line', fail: () => proc.deadReason() });
  const port = line.port;
  return {
    proc,
    port,
    info: line,
    /** Base URL of the storage part (the ready line's `storage`). */
    url: typeof line.storage === 'string' ? line.storage : `http://127.0.0.1:${port}`,
    /** Base URL of the control API (the ready line's `control`). */
    control: typeof line.control === 'string' ? line.control : `http://127.0.0.1:${port}/__control__`,
    tokenServerUrl: tokenServerUrl(line, port),
    get pid() {
      return proc.pid;
    },
    stop: () => proc.stop('SIGTERM'),
  };
}

/**
 * Starts the stack. Options:
 *   env         extra SYNCTO_* settings for syncto (and syncto-migrate);
 *               its ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS are added
 *               to the stack's own
 *   rateLimit   nginx requests/s per address (default: SYNCTO_RATE_LIMIT in
 *               env, else 0 = off, so that tests are not throttled)
 *   syncserver  false to skip the test Sync server; default: started when
 *               tests/syncserver/server.js exists
 *   syncserverArgs  extra command-line arguments for it
 *   ini         settings file (default: etc/syncto.ini of the sources the
 *               build was configured from, iniOfBuild(); this tree's for
 *               its own builds)
 *   build       build directory (default $SYNCTO_BUILD_DIR or build)
 */
async function startStack(opts = {}) {
  const build = opts.build ? path.resolve(ROOT, opts.build) : BUILD;
  const ini = opts.ini || iniOfBuild(build);
  for (const bin of ['syncto', 'syncto-migrate']) {
    if (!fs.existsSync(path.join(build, bin))) throw new Error(`${path.join(build, bin)} not found (run: make build)`);
  }
  const cluster = await sharedCluster();
  const dir = makeTempDir('syncto-stack-');
  const logFile = (name) => path.join(dir, `${name}.log`);
  const db = `syncto_${process.pid}_${++dbCounter}`;
  await cluster.createDb(db);

  const procs = {};
  // Secret setting values syncto was started with, over the stack's life.
  const settingSecrets = new Map();
  const rememberSettings = (e) => {
    for (const [k, v] of Object.entries(e)) {
      if (k.startsWith('SYNCTO_') && SECRET_SETTING.test(k) && v) settingSecrets.set(`${k}=${v}`, { kind: k, value: v });
    }
  };
  const stack = {
    dir,
    build,
    ini,
    url: null,
    v1: null,
    sync: null,
    pg: null,
    stopped: false,
  };

  /**
   * Tails of every process's log (syncto, nginx, syncserver, migrate,
   * postgres) as one string, `lines` lines each.
   */
  stack.logs = (lines = 40) => {
    const parts = [];
    for (const name of ['syncto', 'nginx', 'migrate', 'syncserver']) {
      const f = logFile(name);
      if (!fs.existsSync(f)) continue;
      const text = fs.readFileSync(f, 'utf8').split('\n').slice(-lines - 1).join('\n');
      parts.push(`----- ${name} (${f}) -----\n${text}`);
    }
    parts.push(`----- postgres -----\n${cluster.proc.tail(lines)}`);
    return parts.join('\n');
  };

  try {
    // The test Sync server.
    const wantSync = opts.syncserver ?? fs.existsSync(SYNCSERVER);
    if (wantSync) {
      stack.sync = await startSyncServer(dir, opts.syncserverArgs || []);
      procs.syncserver = stack.sync.proc;
    }

    // syncto's environment: the caller's, minus any SYNCTO_* it had, plus
    // what this stack needs, plus the test's overrides.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SYNCTO_')));
    const socket = path.join(dir, 'syncto.sock');
    const env = {
      ...base,
      SYNCTO_LISTEN: `unix:${socket}`,
      SYNCTO_CACHE_URL: cluster.url(db),
      SYNCTO_CACHE_HMAC_SECRET: crypto.randomBytes(32).toString('hex'),
      SYNCTO_WORKERS: '2',
      SYNCTO_THREADS: '8',
      ...(stack.sync ? { SYNCTO_TOKEN_SERVER_URL: stack.sync.tokenServerUrl } : {}),
      ...(opts.env || {}),
      ...sanitizerEnv(dir, base, opts.env || {}),
    };
    const rateLimit = Number(opts.rateLimit ?? env.SYNCTO_RATE_LIMIT ?? 0);
    env.SYNCTO_RATE_LIMIT = String(rateLimit);
    stack.env = env;

    await runToEnd(path.join(build, 'syncto-migrate'), ['--ini', ini], { env, log: logFile('migrate') });

    const startSyncto = async (extraEnv = {}) => {
      const e = { ...stack.env, ...extraEnv };
      stack.env = e;
      rememberSettings(e);
      const listen = e.SYNCTO_LISTEN;
      if (listen.startsWith('unix:')) fs.rmSync(listen.slice(5), { force: true });
      const p = new Proc('syncto', path.join(build, 'syncto'), ['--ini', ini], { env: e, log: logFile('syncto') });
      const from = p.logOffset();
      p.start();
      procs.syncto = p;
      await p.waitForLog('listening on', { from, timeout: 30000 });
      await waitFor(() => canConnect(listen), { timeout: 10000, what: `syncto on ${listen}`,
        fail: () => p.deadReason() });
      // nginx's workers run as the service account when we are root
      if (serviceUser() && listen.startsWith('unix:')) fs.chmodSync(listen.slice(5), 0o666);
      return p;
    };
    await startSyncto();

    const port = await freePort();
    procs.nginx = await startNginx(path.join(dir, 'nginx'), {
      port,
      fcgi: env.SYNCTO_LISTEN,
      maxBody: setting(env, ini, 'syncto.max_request_body_bytes'),
      retryAfter: setting(env, ini, 'syncto.retry_after_seconds'),
      rate: rateLimit,
      log: logFile('nginx'),
    });
    stack.url = `http://127.0.0.1:${port}`;
    stack.v1 = `${stack.url}/v1`;
    stack.port = port;

    stack.pg = {
      url: cluster.url(db),
      database: db,
      cluster,
      /** Runs SQL in this stack's database; resolves to rows of the last statement. */
      psql: (sql) => cluster.psql(sql, db),
      /** Stops the whole cluster (fast shutdown), to simulate an outage. */
      stop: () => cluster.stop(),
      /** Starts it again on the same port. */
      start: () => cluster.start(),
      get running() {
        return cluster.running;
      },
    };

    Object.defineProperty(stack, 'synctoPid', { get: () => procs.syncto && procs.syncto.pid, enumerable: true });
    Object.defineProperty(stack, 'syncoPid', { get: () => procs.syncto && procs.syncto.pid });
    Object.defineProperty(stack, 'nginxPid', { get: () => procs.nginx && procs.nginx.pid, enumerable: true });
    stack.procs = procs;

    /** Sends a signal to syncto's master process. */
    stack.signalSyncto = (sig) => procs.syncto.signal(sig);

    /** Stops syncto gracefully (SIGTERM); nginx then answers 502. */
    stack.stopSyncto = () => procs.syncto.stop('SIGTERM', 40000);

    /** Starts syncto again (after stopSyncto), with `env` added to its settings. */
    stack.startSyncto = (extraEnv) => startSyncto(extraEnv);

    /** Stops syncto and starts it again with `env` added to its settings. */
    stack.restartSyncto = async (extraEnv) => {
      await procs.syncto.stop('SIGTERM', 40000);
      return startSyncto(extraEnv);
    };

    /** Output of syncto since its start (or since `from`, a logOffset()). */
    stack.synctoLog = (from = 0) => procs.syncto.logText(from);
    stack.synctoLogOffset = () => procs.syncto.logOffset();

    /** For afterEach((t) => stack.printLogsIfFailed(t)): prints logs() after a failed test. */
    stack.printLogsIfFailed = (t) => {
      if (t && t.passed === false) process.stderr.write(`\n${t.name} failed; logs:\n${stack.logs()}\n`);
    };

    /** Sanitizer reports written so far by syncto or syncto-migrate. */
    stack.sanitizerReports = () => readSanitizerReports(dir);

    /** Every log file of the stack: syncto, syncto-migrate, nginx, PostgreSQL. */
    stack.logFiles = () => [logFile('syncto'), logFile('migrate'), logFile('nginx'),
      path.join(dir, 'nginx', 'access.log'), cluster.proc.log, cluster.proc.errLog].filter(Boolean);

    /**
     * The secrets to look for: [{kind, value, jwt}]. Asks the test Sync
     * server for the tokens it issued, so call it while it runs.
     */
    stack.secrets = async () => {
      const out = [...settingSecrets.values()];
      for (const c of madeCredentials()) out.push({ ...c, jwt: true });
      if (stack.sync && procs.syncserver.running) {
        const res = await fetch(`${stack.sync.control}/tokens`);
        if (!res.ok) throw new Error(`syncserver GET /tokens: ${res.status}`);
        for (const t of (await res.json()).tokens) {
          out.push({ kind: 'Hawk id', value: t.id }, { kind: 'Hawk key', value: t.key });
        }
      }
      return out;
    };

    /**
     * Stops everything this stack started and removes its directory;
     * rejects if a secret was found in a log or if a sanitizer reported
     * anything, the reports in the message (the directory is removed all
     * the same, unless SYNCTO_TEST_KEEP is set). The leak check runs as each
     * syncto process exits, so this is the moment every report is in.
     */
    stack.stop = async () => {
      if (stack.stopped) return;
      stack.stopped = true;
      unchecked.delete(stack);
      let secrets = null;
      let secretsError = null;
      try {
        secrets = await stack.secrets();
      } catch (e) {
        secretsError = e;
      }
      if (procs.nginx) await procs.nginx.stop('SIGTERM', 10000);
      if (procs.syncto) await procs.syncto.stop('SIGTERM', 40000);
      if (procs.syncserver) await procs.syncserver.stop('SIGTERM', 10000);
      if (!cluster.running) await cluster.start().catch(() => {});
      await cluster.psql(`DROP DATABASE IF EXISTS "${db}"`).catch(() => {});
      const hits = secrets ? scanFiles(secretIndex(secrets), stack.logFiles()) : [];
      const reports = readSanitizerReports(dir);
      const logs = reports.length ? stack.logs(20) : '';
      removeTempDir(dir);
      const problems = [];
      if (secretsError) problems.push(`stack.stop: cannot list the secrets to look for: ${secretsError.message}`);
      if (hits.length > 0) {
        const lines = hits.map((h) => `  ${path.basename(h.file)}:${h.line}: ${h.kind} (${h.hint})`);
        problems.push(`secrets found in the logs:\n${lines.join('\n')}`);
      }
      if (reports.length > 0) {
        const text = reports.map((r) => `----- ${path.basename(r.file)} -----\n${r.text}`).join('\n');
        problems.push(`${reports.length} sanitizer report(s) from syncto:\n${text}\n${logs}`);
      }
      if (problems.length > 0) throw new Error(problems.join('\n'));
    };
    unchecked.add(stack);
  } catch (e) {
    for (const p of Object.values(procs)) await p.stop('SIGTERM', 5000).catch(() => {});
    const reports = readSanitizerReports(dir).map((r) => `----- ${path.basename(r.file)} -----\n${r.text}`);
    const logs = [stack.logs(), ...reports].join('\n');
    if (!process.env.SYNCTO_TEST_KEEP) removeTempDir(dir);
    e.message += logs ? `\n${logs}` : `\n(stack files in ${dir})`;
    throw e;
  }
  return stack;
}

/** Stops the shared PostgreSQL cluster of this test process (optional: it also stops at exit). */
async function stopCluster() {
  if (!clusterPromise) return;
  const c = await clusterPromise.catch(() => null);
  clusterPromise = null;
  if (c) await c.stop();
  if (clusterDir) removeTempDir(clusterDir);
}

module.exports = {
  startStack, stopCluster, iniSetting, setting, iniOfBuild, sanitizerReportsInText,
};
