'use strict';
// The command-line server: one JSON ready line, serves all three roles,
// stops on SIGTERM and on POST /__control__/shutdown.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { request } = require('../hawkclient');

const SERVER = path.join(__dirname, '..', 'server.js');

function start(args) {
  const child = spawn(process.execPath, [SERVER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve({ line: out.slice(0, nl), rest: () => out.slice(nl + 1) });
    });
    child.on('exit', (code) => reject(new Error('exited ' + code + ': ' + err)));
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, ready, exited };
}

test('ready line, roles, SIGTERM', async () => {
  const s = start(['--port', '0', '--host', '127.0.0.1']);
  try {
    const { line, rest } = await s.ready;
    const info = JSON.parse(line);
    assert.deepEqual(Object.keys(info), ['tokenserver', 'storage', 'control', 'port']);
    assert.ok(Number.isInteger(info.port) && info.port > 0);
    assert.equal(info.tokenserver, 'http://127.0.0.1:' + info.port + '/token/');
    assert.equal(info.storage, 'http://127.0.0.1:' + info.port);
    assert.equal(info.control, 'http://127.0.0.1:' + info.port + '/__control__');
    assert.equal((await request('GET', info.tokenserver + '__lbheartbeat__')).status, 200);
    assert.equal((await request('GET', info.storage + '/1.5/1/info/collections')).status, 401);
    assert.equal((await request('GET', info.control + '/log')).status, 200);
    s.child.kill('SIGTERM');
    const { code } = await s.exited;
    assert.equal(code, 0);
    assert.equal(rest(), '', 'exactly one line on stdout');
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('--config and --node-url; POST /__control__/shutdown ends the process', async () => {
  const s = start(['--port', '0', '--node-url', 'http://sync.example:8080', '--config', '{"tokenDuration":600}']);
  try {
    const info = JSON.parse((await s.ready).line);
    assert.equal(info.storage, 'http://sync.example:8080');
    const cfg = JSON.parse((await request('GET', info.control + '/config')).body);
    assert.equal(cfg.tokenDuration, 600);
    const res = await request('POST', info.control + '/shutdown');
    assert.equal(res.status, 200);
    const { code } = await s.exited;
    assert.equal(code, 0);
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('bad arguments exit with status 2', () => {
  const r = spawnSync(process.execPath, [SERVER, '--port', 'abc'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--port/);
  const u = spawnSync(process.execPath, [SERVER, '--bogus'], { encoding: 'utf8' });
  assert.equal(u.status, 2);
});
