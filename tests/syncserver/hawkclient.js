'use strict';
// A small Hawk client for tests that talk to the test Sync server directly
// (its own tests, or tests that want to look at storage through the real
// protocol). Signs with the npm `hawk` package's client API; sends with
// node:http so the Host header and the request path go out exactly as given.

const http = require('node:http');
const hawk = require('hawk');

/**
 * Plain HTTP request. Resolves to {status, headers, body, json()}; `body`
 * is the response text. opts: {headers, body (string or Buffer)}.
 */
function request(method, url, opts) {
  const o = opts || {};
  const u = new URL(url);
  const path = o.rawPath !== undefined ? o.rawPath : u.pathname + u.search;
  return new Promise((resolve, reject) => {
    const req = http.request({
      method,
      host: u.hostname,
      port: u.port,
      path,
      headers: o.headers || {},
      agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          json: () => JSON.parse(body),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (o.body !== undefined && o.body !== null) req.write(o.body);
    req.end();
  });
}

/**
 * Hawk-signed request with tokenserver credentials {id, key}.
 * opts:
 *   body         string, Buffer, or any other value (sent as JSON)
 *   contentType  default application/json when there is a body
 *   hash         include the payload hash (default: true when there is a body)
 *   accept       Accept header (default application/json; null = none)
 *   headers      extra request headers
 *   rawPath      request path (and query) to send and sign, verbatim
 *   signHost, signPort   host/port to sign (default: those of `url`)
 *   hostHeader   Host header to send (default: host:port of `url`)
 *   ts, nonce    fixed Hawk ts (seconds) and nonce
 *   key          sign with this key instead of creds.key
 */
function hawkRequest(creds, method, url, opts) {
  const o = opts || {};
  const u = new URL(url);
  const path = o.rawPath !== undefined ? o.rawPath : u.pathname + u.search;
  const q = path.indexOf('?');
  let body;
  if (o.body !== undefined) {
    body = typeof o.body === 'string' || Buffer.isBuffer(o.body) ? o.body : JSON.stringify(o.body);
  }
  const contentType = o.contentType !== undefined ? o.contentType : body !== undefined ? 'application/json' : undefined;
  const withHash = o.hash !== undefined ? o.hash : body !== undefined;
  const signed = hawk.client.header({
    protocol: u.protocol,
    hostname: o.signHost !== undefined ? o.signHost : u.hostname,
    port: o.signPort !== undefined ? String(o.signPort) : u.port,
    pathname: q === -1 ? path : path.slice(0, q),
    search: q === -1 ? '' : path.slice(q),
  }, method, {
    credentials: { id: creds.id, key: o.key || creds.key, algorithm: 'sha256' },
    timestamp: o.ts,
    nonce: o.nonce,
    payload: withHash ? (body === undefined ? '' : body) : undefined,
    contentType: withHash ? (contentType || '') : undefined,
  });
  const headers = Object.assign({}, o.headers || {});
  headers.Host = o.hostHeader !== undefined ? o.hostHeader : u.host;
  headers.Authorization = signed.header;
  if (o.accept !== null) headers.Accept = o.accept || 'application/json';
  if (contentType !== undefined && contentType !== null) headers['Content-Type'] = contentType;
  return request(method, url, { headers, body, rawPath: path });
}

/**
 * GET {tokenserverUrl}1.0/sync/1.5 with the given headers.
 * opts: {authorization, keyId, clientState, duration, headers}
 */
function tokenRequest(tokenserverUrl, opts) {
  const o = opts || {};
  const headers = Object.assign({}, o.headers || {});
  if (o.authorization !== undefined) headers.Authorization = o.authorization;
  if (o.keyId !== undefined) headers['X-KeyID'] = o.keyId;
  if (o.clientState !== undefined) headers['X-Client-State'] = o.clientState;
  const base = tokenserverUrl.replace(/\/+$/, '');
  const query = o.duration !== undefined ? '?duration=' + encodeURIComponent(o.duration) : '';
  return request('GET', base + '/1.0/sync/1.5' + query, { headers });
}

module.exports = { request, hawkRequest, tokenRequest };
