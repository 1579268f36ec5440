'use strict';
// nginx for the tests, rendered from the same templates as `make serve`
// (nginx/nginx-dev.conf.in + nginx/syncto.conf.in).

const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { ROOT, Proc, waitFor, canConnect, serviceUser, nginxBin } = require('./proc');

/** Replaces every @NAME@ of `file` from `vars`; throws if one is left. */
function renderTemplate(file, vars) {
  const text = fs.readFileSync(file, 'utf8').replace(/@([A-Z_]+)@/g, (m, name) => {
    if (!(name in vars)) throw new Error(`${file}: no value for ${m}`);
    return String(vars[name]);
  });
  return text;
}

/** The burst allowed above `rate` (generous: page fetches then a batch). */
function burstFor(rate) {
  return Math.max(20, rate * 2);
}

/**
 * Writes the configuration into `dir` and starts nginx on 127.0.0.1:`port`
 * in front of `fcgi` ("unix:/path" or "host:port"). Returns the Proc, with
 * `reload()` added.
 */
async function startNginx(dir, { port, fcgi, maxBody, rate = 0, retryAfter = 30, log }) {
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const site = path.join(dir, 'syncto.conf');
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(site, renderTemplate(path.join(ROOT, 'nginx', 'syncto.conf.in'), {
    LISTEN: `127.0.0.1:${port}`,
    FCGI: fcgi,
    MAX_BODY: maxBody,
    RATE: rate,
    BURST: burstFor(rate),
    RATE_ON: rate > 0 ? '' : '#',
    RETRY_AFTER: retryAfter,
  }));
  const svc = serviceUser();
  fs.writeFileSync(conf, renderTemplate(path.join(ROOT, 'nginx', 'nginx-dev.conf.in'), {
    RUNDIR: dir,
    USER: svc ? `user ${svc.name};` : '',
    SITE: site,
  }));
  const args = ['-p', dir, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'];
  await new Promise((resolve, reject) => {
    execFile(nginxBin(), ['-q', '-t', ...args], (err, stdout, stderr) => {
      if (err) reject(new Error(`nginx -t: ${stderr}`));
      else resolve();
    });
  });
  const proc = new Proc('nginx', nginxBin(), args, { log, cwd: dir, deathSignal: 'QUIT' });
  proc.start();
  await waitFor(() => canConnect(`127.0.0.1:${port}`), {
    timeout: 15000, what: 'nginx', fail: () => proc.deadReason(),
  });
  proc.conf = conf;
  return proc;
}

module.exports = { startNginx, renderTemplate, burstFor };
