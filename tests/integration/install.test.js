'use strict';
// `cmake --install` into a temporary prefix: every file an operator needs is
// there, the installed syncto-migrate finds the installed SQL files wherever
// the prefix is, the installed settings file passes --check-config, and the
// systemd unit is valid.
//
//   cd tests && SYNCTO_BUILD_DIR=build node --test integration/install.test.js

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { ROOT } = require('../lib/proc');
const { startCluster } = require('../lib/pg');

const BUILD = path.resolve(ROOT, process.env.SYNCTO_BUILD_DIR || 'build');

let prefix;
let clusterDir;
let cluster;

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024, ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The environment without any SYNCTO_* variable, plus `extra`. */
function cleanEnv(extra = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SYNCTO_')));
  return { ...base, ...extra };
}

before(async () => {
  prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'syncto-prefix-'));
  const r = await run('cmake', ['--install', BUILD, '--prefix', prefix]);
  assert.equal(r.code, 0, `cmake --install failed:\n${r.stdout}${r.stderr}`);
});

after(async () => {
  if (cluster) await cluster.stop();
  for (const d of [prefix, clusterDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

test('installs the programs, settings, SQL, nginx sites and the systemd unit', () => {
  const expected = [
    'bin/syncto',
    'bin/syncto-migrate',
    'etc/syncto/syncto.ini',
    'share/syncto/sql/0001_cache.sql',
    'share/syncto/nginx/syncto-production.conf',
    'share/syncto/nginx/syncto.conf.in',
    'lib/systemd/system/syncto.service',
  ];
  for (const f of expected) assert.ok(fs.existsSync(path.join(prefix, f)), `${f} installed`);
  for (const b of ['bin/syncto', 'bin/syncto-migrate']) {
    const st = fs.statSync(path.join(prefix, b));
    assert.ok(st.mode & 0o111, `${b} is executable`);
  }
  assert.equal(fs.readFileSync(path.join(prefix, 'etc/syncto/syncto.ini'), 'utf8'),
    fs.readFileSync(path.join(ROOT, 'etc/syncto.ini'), 'utf8'));
  assert.equal(fs.readFileSync(path.join(prefix, 'share/syncto/sql/0001_cache.sql'), 'utf8'),
    fs.readFileSync(path.join(ROOT, 'sql/0001_cache.sql'), 'utf8'));
});

test('the unit runs the installed programs of the configured prefix, unprivileged', () => {
  const unit = fs.readFileSync(path.join(prefix, 'lib/systemd/system/syncto.service'), 'utf8');
  const cache = fs.readFileSync(path.join(BUILD, 'CMakeCache.txt'), 'utf8');
  const configured = /^CMAKE_INSTALL_PREFIX:PATH=(.*)$/m.exec(cache)[1];
  const etc = configured === '/usr' ? '/etc' : `${configured}/etc`;
  const line = (key) => unit.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  assert.deepEqual(line('ExecStart'), [`${configured}/bin/syncto --ini ${etc}/syncto/syncto.ini`]);
  assert.deepEqual(line('ExecStartPre'), [`${configured}/bin/syncto --check-config --ini ${etc}/syncto/syncto.ini`]);
  assert.deepEqual(line('ExecReload'), ['/bin/kill -HUP $MAINPID']);
  assert.deepEqual(line('User'), ['syncto']);
  assert.deepEqual(line('Type'), ['simple']);
  assert.deepEqual(line('RuntimeDirectory'), ['syncto']);
  assert.deepEqual(line('NoNewPrivileges'), ['yes']);
  assert.deepEqual(line('ProtectSystem'), ['strict']);
  // The stop timeout covers the workers' graceful timeout plus the
  // master's 5 s grace before SIGKILL.
  const graceful = Number(/^syncto\.graceful_timeout_seconds\s*=\s*(\d+)/m.exec(
    fs.readFileSync(path.join(prefix, 'etc/syncto/syncto.ini'), 'utf8'))[1]);
  assert.ok(Number(line('TimeoutStopSec')[0]) > graceful + 5, `TimeoutStopSec above ${graceful + 5}`);
  // The ini's socket is the one RuntimeDirectory creates.
  assert.match(fs.readFileSync(path.join(prefix, 'etc/syncto/syncto.ini'), 'utf8'),
    /^syncto\.listen\s*=\s*unix:\/run\/syncto\/syncto\.sock\s*$/m);
});

test('systemd accepts the unit', async (t) => {
  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => fs.existsSync(p));
  if (!analyze) {
    t.skip('systemd-analyze is not installed');
    return;
  }
  // verify checks that the programs exist: point the unit at this prefix.
  const unit = fs.readFileSync(path.join(prefix, 'lib/systemd/system/syncto.service'), 'utf8');
  const cache = fs.readFileSync(path.join(BUILD, 'CMakeCache.txt'), 'utf8');
  const configured = /^CMAKE_INSTALL_PREFIX:PATH=(.*)$/m.exec(cache)[1];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncto-unit-'));
  try {
    const file = path.join(dir, 'syncto.service');
    fs.writeFileSync(file, unit.split(`${configured}/`).join(`${prefix}/`));
    const r = await run(analyze, ['verify', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warning');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the installed settings pass --check-config once a secret is given', async () => {
  const ini = path.join(prefix, 'etc/syncto/syncto.ini');
  let r = await run(path.join(prefix, 'bin/syncto'), ['--check-config', '--ini', ini], { env: cleanEnv(), cwd: prefix });
  assert.notEqual(r.code, 0, 'no secret: refused');
  assert.match(r.stderr + r.stdout, /cache_hmac_secret/);
  r = await run(path.join(prefix, 'bin/syncto'), ['--check-config', '--ini', ini],
    { env: cleanEnv({ SYNCTO_CACHE_HMAC_SECRET: crypto.randomBytes(32).toString('hex') }), cwd: prefix });
  assert.equal(r.code, 0, r.stderr + r.stdout);
});

test('the installed syncto-migrate applies the installed SQL files', async () => {
  clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncto-pg-'));
  fs.chmodSync(clusterDir, 0o755);
  cluster = await startCluster(clusterDir);
  await cluster.psql('CREATE DATABASE syncto_install');
  // A marker migration that exists only in the installed tree: applying it
  // proves which directory was read.
  const sqlDir = path.join(prefix, 'share/syncto/sql');
  fs.writeFileSync(path.join(sqlDir, '0002_install_marker.sql'), 'CREATE TABLE install_marker (x int);\n');
  const env = cleanEnv({
    SYNCTO_CACHE_URL: cluster.url('syncto_install'),
    SYNCTO_CACHE_HMAC_SECRET: crypto.randomBytes(32).toString('hex'),
  });
  // Run from a directory without sql/, so that nothing but the binary's own
  // location can lead to the files.
  const r = await run(path.join(prefix, 'bin/syncto-migrate'), ['--ini', path.join(prefix, 'etc/syncto/syncto.ini')],
    { env, cwd: os.tmpdir() });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /applied 0001_cache\.sql/);
  assert.match(r.stdout, /applied 0002_install_marker\.sql/);
  const rows = await cluster.psql("SELECT to_regclass('install_marker') AS t", 'syncto_install');
  assert.equal(rows[0].t, 'install_marker');
  // Run again: nothing to do.
  const again = await run(path.join(prefix, 'bin/syncto-migrate'), ['--ini', path.join(prefix, 'etc/syncto/syncto.ini')],
    { env, cwd: os.tmpdir() });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already at version 2/);
});
