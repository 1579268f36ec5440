'use strict';
// Helpers for tests that embed the test Sync server in-process: start it on
// a free port, obtain storage credentials, drive the control API.

const { createServer } = require('./server');
const creds = require('./credentials');
const { request, hawkRequest, tokenRequest } = require('./hawkclient');

/**
 * Starts a server on 127.0.0.1:0. Resolves to a kit:
 *   srv, info                  the server and its ready line
 *   control(method, path, body)  control API call -> {status, body (parsed)}
 *   oauthCredentials(opts)     a fresh user's tokenserver answer (Bearer flow)
 *   hawk(creds, method, path, opts)  signed storage request, path relative
 *                              to the user's api_endpoint
 *   close()
 */
async function startServer(options) {
  const srv = createServer(options || {});
  const info = await srv.listen(0, '127.0.0.1');
  const kit = {
    srv,
    info,
    state: srv.state,
    async control(method, path, body) {
      const res = await request(method, info.control + path, {
        headers: body !== undefined ? { 'Content-Type': 'application/json' } : {},
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: res.body ? JSON.parse(res.body) : null, headers: res.headers };
    },
    async oauthCredentials(opts) {
      const o = opts || {};
      const clientState = o.clientState || creds.randomClientState();
      const res = await tokenRequest(info.tokenserver, {
        authorization: 'Bearer ' + creds.makeOAuthToken({ sub: o.fxaUid }),
        keyId: creds.keyIdFor(clientState, o.keysChangedAt || 1444122508836),
        duration: o.duration,
      });
      if (res.status !== 200) throw new Error('tokenserver answered ' + res.status + ' ' + res.body);
      return Object.assign(res.json(), { clientState });
    },
    hawk(c, method, path, opts) {
      return hawkRequest(c, method, c.api_endpoint + path, opts);
    },
    close: () => srv.close(),
  };
  return kit;
}

module.exports = { startServer };
