'use strict';
// A StatsD server on 127.0.0.1 for the suites: every line received, in order.
//
//   const { startStatsd } = require('../lib/statsd');
//   const statsd = await startStatsd();   // SYNCTO_STATSD_URL: statsd.url
//   await statsd.waitFor((m) => m.line === 'syncto.cache.hit:1|c', 'cache.hit', from);

const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const { waitFor } = require('./proc');

async function startStatsd() {
  const sock = dgram.createSocket('udp4');
  const lines = [];
  sock.on('message', (msg) => {
    for (const l of msg.toString('utf8').split('\n')) if (l) lines.push(l);
  });
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return {
    url: `udp://127.0.0.1:${sock.address().port}`,
    lines,
    /** Parsed lines {name, value, type} from index `from`. */
    metrics(from = 0) {
      return lines.slice(from).map((l) => {
        const m = /^([^:]+):([^|]+)\|([a-z]+)$/.exec(l);
        assert.ok(m, `StatsD line: ${l}`);
        return { name: m[1], value: Number(m[2]), type: m[3], line: l };
      });
    },
    async waitFor(pred, what, from = 0) {
      return waitFor(() => this.metrics(from).find(pred), { timeout: 10000, what: `metric ${what}` });
    },
    close: () => new Promise((resolve) => sock.close(resolve)),
  };
}

module.exports = { startStatsd };
