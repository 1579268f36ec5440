'use strict';
// A TCP forwarder on a fixed loopback port that a test can take down and
// bring back: while it is down, connecting to its port is refused, as when
// the service behind it is stopped; once it is up again the port is the
// same, so nothing that points at it has to be reconfigured or restarted.
// Used to put the tokenserver or the Sync node "out of service" without
// losing the test Sync server's state.
//
//   const proxy = new TcpProxy();
//   const port = await proxy.listen();         // a free port, kept for good
//   proxy.target = { host: '127.0.0.1', port: 8000 };
//   await proxy.down();                        // refused, open connections cut
//   await proxy.up();                          // forwarding again, same port

const net = require('node:net');

class TcpProxy {
  constructor(target = null) {
    this.target = target;
    this.port = null;
    this.server = null;
    this.sockets = new Set();
    this.connections = 0; // accepted since the start
  }

  /** Starts forwarding; the first call picks the port (or takes `port`). */
  listen(port = this.port ?? 0) {
    return new Promise((resolve, reject) => {
      const server = net.createServer((client) => this.forward(client));
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.removeListener('error', reject);
        this.server = server;
        this.port = server.address().port;
        resolve(this.port);
      });
    });
  }

  forward(client) {
    this.connections += 1;
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    if (!this.target) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host || '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    // A reset on one side is passed on as a reset; a close as a close.
    const link = (from, to) => {
      from.on('error', () => (to.destroyed ? null : to.resetAndDestroy()));
      from.on('end', () => to.end());
    };
    link(client, upstream);
    link(upstream, client);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** True while it accepts connections. */
  get isUp() {
    return this.server !== null;
  }

  /** Stops listening and cuts every open connection: new ones are refused. */
  down() {
    if (!this.server) return Promise.resolve();
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async up() {
    if (this.server) return;
    await this.listen(this.port);
  }
}

module.exports = { TcpProxy };
