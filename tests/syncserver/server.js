#!/usr/bin/env node
'use strict';
// Test Sync server: a tokenserver (/token/...), a Sync 1.5 storage server
// (/1.5/<uid>/...) and a control API (/__control__/...) in one node:http
// process, for Syncto's integration and end-to-end tests.
//
//   node tests/syncserver/server.js [--port N] [--host 127.0.0.1]
//        [--secret S] [--node-url URL] [--max-lifetime SECONDS] [--config JSON]
//
// prints one JSON line when ready:
//   {"tokenserver":"http://127.0.0.1:P/token/","storage":"http://127.0.0.1:P",
//    "control":"http://127.0.0.1:P/__control__","port":P}
//
// In-process use: const {createServer} = require('./server');
//   const srv = createServer({}); const info = await srv.listen(); ...;
//   await srv.close();

const http = require('node:http');
const { createState } = require('./lib/state');
const { Ctx, lowerKeys } = require('./lib/context');
const tokenserver = require('./lib/tokenserver');
const storage = require('./lib/storage');
const control = require('./lib/control');
const faults = require('./lib/faults');
const { readBody, sleep, parseQuery } = require('./lib/util');

const CONTROL_BODY_MAX = 256 * 1024 * 1024;
const TOKEN_BODY_MAX = 1024 * 1024;

function roleOf(path) {
  if (path === control.PREFIX || path.startsWith(control.PREFIX + '/')) return 'control';
  if (path === '/token' || path.startsWith('/token/')) return 'tokenserver';
  return 'storage';
}

function newLogEntry(state, req, ctx, body) {
  state.log.seq += 1;
  const entry = {
    seq: state.log.seq,
    time: Date.now(),
    isoTime: new Date().toISOString(),
    role: ctx.role,
    method: req.method,
    path: ctx.rawPath,
    query: ctx.rawQuery,
    params: parseQuery(ctx.rawQuery),
    url: req.url,
    headers: lowerKeys(req.headers),
    body: body.toString('utf8'),
    hawk: null,
    faults: [],
    status: null,
    dropped: false,
    response: null,
    durationMs: null,
  };
  state.log.entries.push(entry);
  if (state.log.entries.length > state.log.limit) state.log.entries.splice(0, state.log.entries.length - state.log.limit);
  return entry;
}

async function dispatch(state, hooks, req, res) {
  const q = req.url.indexOf('?');
  const role = roleOf(q === -1 ? req.url : req.url.slice(0, q));
  const cap = role === 'storage' ? state.config.limits.max_request_bytes
    : role === 'control' ? CONTROL_BODY_MAX : TOKEN_BODY_MAX;
  const { buf, tooLarge } = await readBody(req, cap);
  const ctx = new Ctx(state, req, res, role, null);
  ctx.body = buf;
  ctx.bodyTooLarge = tooLarge;

  if (role === 'control') {
    await control.handle(ctx, hooks);
    return;
  }
  ctx.entry = newLogEntry(state, req, ctx, buf);

  const f = faults.evaluate(state, ctx);
  ctx.entry.faults = f.ids;
  if (f.latencyMs > 0) await sleep(f.latencyMs);
  if (hooks.closed()) {
    req.socket.destroy();
    return;
  }
  if (f.action && f.action.drop) {
    ctx.entry.dropped = true;
    ctx.done = true;
    if (f.action.reset) req.socket.resetAndDestroy();
    else req.socket.destroy();
    return;
  }
  ctx.cut = f.cut;
  if (f.action) {
    faults.respond(ctx, f.action);
    return;
  }
  if (Object.keys(f.headers).length) ctx.extraHeaders = f.headers;

  if (role === 'tokenserver') tokenserver.handle(ctx);
  else await storage.handle(ctx);
}

// options: {port, host, secret, nodeUrl, config: {...settings}, logLimit}
function createServer(options) {
  const opts = Object.assign({}, options || {});
  const state = createState(opts);
  const sockets = new Set();
  let closed = false;
  let info = null;
  let closing = null;
  let onShutdown = null;

  const hooks = {
    closed: () => closed,
    shutdown: () => {
      api.close().then(() => {
        if (onShutdown) onShutdown();
      });
    },
  };

  const server = http.createServer((req, res) => {
    dispatch(state, hooks, req, res).catch((err) => {
      if (res.headersSent || res.destroyed) return;
      const body = JSON.stringify({ err: 'test server error: ' + (err && err.message) });
      res.writeHead(500, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const api = {
    state,
    server,
    get info() {
      return info;
    },
    // Resolves to {tokenserver, storage, control, port}.
    listen(port, host) {
      const p = port !== undefined ? port : opts.port !== undefined ? opts.port : 0;
      const h = host || opts.host || '127.0.0.1';
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, h, () => {
          server.removeListener('error', reject);
          const real = server.address().port;
          const hostInUrl = h.includes(':') ? '[' + h + ']' : h;
          const base = 'http://' + hostInUrl + ':' + real;
          state.nodeUrl = (opts.nodeUrl || base).replace(/\/+$/, '');
          info = {
            tokenserver: base + '/token/',
            storage: state.nodeUrl,
            control: base + control.PREFIX,
            port: real,
          };
          resolve(info);
        });
      });
    },
    close() {
      if (closing) return closing;
      closed = true;
      closing = new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
    onShutdown(fn) {
      onShutdown = fn;
    },
  };
  return api;
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error('missing value for ' + a);
      i += 1;
      return argv[i];
    };
    if (a === '--port') out.port = Number(next());
    else if (a === '--host') out.host = next();
    else if (a === '--secret') out.secret = next();
    else if (a === '--node-url') out.nodeUrl = next();
    else if (a === '--max-lifetime') out.maxLifetime = Number(next());
    else if (a === '--config') out.config = JSON.parse(next());
    else if (a === '-h' || a === '--help') out.help = true;
    else throw new Error('unknown argument ' + a);
  }
  if (out.port !== undefined && !(Number.isInteger(out.port) && out.port >= 0 && out.port < 65536)) {
    throw new Error('--port must be 0..65535');
  }
  return out;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write('syncserver: ' + e.message + '\n');
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write('usage: server.js [--port N] [--host 127.0.0.1] [--secret S] [--node-url URL] ' +
      '[--max-lifetime SECONDS] [--config JSON]\n');
    return;
  }
  const srv = createServer(args);
  const info = await srv.listen();
  process.stdout.write(JSON.stringify(info) + '\n');

  // The server stops by itself: on SIGTERM/SIGINT, on POST
  // /__control__/shutdown, when its parent process goes away, and after
  // --max-lifetime seconds (default 2 h).
  const stop = (code) => {
    srv.close().then(() => process.exit(code));
    setTimeout(() => process.exit(code), 2000).unref();
  };
  srv.onShutdown(() => process.exit(0));
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop(0);
  }, 1000).unref();
  const lifetime = args.maxLifetime !== undefined ? args.maxLifetime : 7200;
  if (lifetime > 0) setTimeout(() => stop(0), lifetime * 1000);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write('syncserver: ' + (e && e.stack ? e.stack : e) + '\n');
    process.exit(1);
  });
}

module.exports = { createServer, parseArgs };
