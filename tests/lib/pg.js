'use strict';
// A throwaway PostgreSQL cluster for the tests: created in a private
// directory, listening on a unix socket there and on 127.0.0.1, trusting
// local connections, owned by the unprivileged service account when root.

const fs = require('node:fs');
const path = require('node:path');
const { execFile, execFileSync } = require('node:child_process');
const { Proc, freePort, waitFor, chownService, serviceUser } = require('./proc');

const SUPERUSER = 'syncto';

/** Directory of initdb/postgres/psql (Debian keeps them off PATH). */
function pgBinDir() {
  const base = '/usr/lib/postgresql';
  if (fs.existsSync(base)) {
    const majors = fs.readdirSync(base).filter((d) => /^\d+$/.test(d)).sort((a, b) => b - a);
    for (const m of majors) {
      const bin = path.join(base, m, 'bin');
      if (fs.existsSync(path.join(bin, 'initdb'))) return bin;
    }
  }
  for (const dir of (process.env.PATH || '').split(':')) {
    if (dir && fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  throw new Error('PostgreSQL server binaries not found (run: make deps)');
}

/** Parses psql's --csv output into rows (objects keyed by column name). */
function parseCsv(text, nullMark) {
  const records = [];
  let row = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
      wasQuoted = true;
    } else if (c === ',' || c === '\n') {
      row.push(!wasQuoted && field === nullMark ? null : field);
      field = '';
      wasQuoted = false;
      if (c === '\n') {
        records.push(row);
        row = [];
      }
    } else if (c !== '\r') {
      field += c;
    }
  }
  if (field !== '' || row.length) {
    row.push(!wasQuoted && field === nullMark ? null : field);
    records.push(row);
  }
  if (records.length === 0) return [];
  const [header, ...rows] = records;
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

const NULL_MARK = '\\N';

/**
 * Creates and starts a cluster in `dir` (which must exist). Returns
 * {port, host, socketDir, url(db), psql(sql, db), createDb(name),
 *  stop(), start(), running, proc}.
 */
async function startCluster(dir, { log = path.join(dir, 'postgres.log') } = {}) {
  const bin = pgBinDir();
  const data = path.join(dir, 'data');
  const socketDir = path.join(dir, 'sock');
  fs.mkdirSync(data, { mode: 0o700 });
  fs.mkdirSync(socketDir, { mode: 0o755 });
  chownService(dir);
  const svc = serviceUser();
  const asSvc = svc ? ['setpriv', `--reuid=${svc.uid}`, `--regid=${svc.gid}`, '--clear-groups', '--'] : [];
  const initdb = [...asSvc, path.join(bin, 'initdb'), '-D', data, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8',
    '--locale=C', '--no-instructions', '-N'];
  try {
    execFileSync(initdb[0], initdb.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`initdb failed: ${e.stderr || e.message}`);
  }
  const port = await freePort();
  const proc = new Proc('postgres', path.join(bin, 'postgres'), [
    '-D', data, '-p', String(port), '-k', socketDir,
    '-c', 'listen_addresses=127.0.0.1',
    // throwaway data: durability buys nothing here
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
  ], { log, asService: true, deathSignal: 'QUIT', cwd: dir });

  const cluster = {
    port,
    host: '127.0.0.1',
    socketDir,
    dir,
    proc,
    get running() {
      return proc.running;
    },
    /** libpq URI of database `db` over TCP. */
    url(db) {
      return `postgresql://${SUPERUSER}@127.0.0.1:${port}/${db}`;
    },
    /** libpq URI of database `db` over the unix socket. */
    socketUrl(db) {
      return `postgresql://${SUPERUSER}@/${db}?host=${socketDir}&port=${port}`;
    },
    async start() {
      if (proc.running) return;
      proc.start();
      await waitFor(() => isReady(bin, socketDir, port), {
        timeout: 30000, interval: 100, what: 'postgres', fail: () => proc.deadReason(),
      });
    },
    /** Fast shutdown: connected clients are cut off at once. */
    async stop() {
      await proc.stop('SIGINT', 30000);
    },
    /** Runs `sql` in database `db`; resolves to the rows of the last statement. */
    psql(sql, db = 'postgres') {
      return new Promise((resolve, reject) => {
        execFile(path.join(bin, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--csv', '-P', `null=${NULL_MARK}`,
          '-h', socketDir, '-p', String(port), '-U', SUPERUSER, '-d', db, '-c', sql],
        { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
          if (err) reject(new Error(`psql: ${stderr || err.message}`));
          else resolve(parseCsv(stdout, NULL_MARK));
        });
      });
    },
    async createDb(name) {
      await cluster.psql(`CREATE DATABASE "${name}"`);
    },
  };
  await cluster.start();
  return cluster;
}

function isReady(bin, socketDir, port) {
  return new Promise((resolve) => {
    execFile(path.join(bin, 'pg_isready'), ['-q', '-h', socketDir, '-p', String(port), '-U', SUPERUSER,
      '-d', 'postgres'], (err) => resolve(!err));
  });
}

module.exports = { startCluster, pgBinDir, parseCsv };
