'use strict';
// One request as the handlers see it: parsed URL, body, role, the log entry
// it fills in, and `send()` which writes the response exactly once.

const LOGGED_BODY_MAX = 65536;

class Ctx {
  constructor(state, req, res, role, entry) {
    this.state = state;
    this.req = req;
    this.res = res;
    this.role = role;
    this.entry = entry; // null for control requests
    this.method = req.method;
    const q = req.url.indexOf('?');
    this.rawPath = q === -1 ? req.url : req.url.slice(0, q);
    this.rawQuery = q === -1 ? '' : req.url.slice(q + 1);
    this.hasQuery = q !== -1;
    this.headers = req.headers;
    this.body = Buffer.alloc(0);
    this.bodyTooLarge = false;
    this.extraHeaders = null; // added by fault rules to real responses
    this.cut = null; // {bytes, reset}: a fault rule truncates the body
    this.done = false;
  }

  bodyText() {
    return this.body.toString('utf8');
  }

  // Writes the response. `body` may be a string, a Buffer or null (no body).
  // Content-Length is always explicit, except on 304 where there is none.
  send(status, headers, body) {
    if (this.done) return;
    this.done = true;
    const res = this.res;
    if (res.destroyed || res.writableEnded) return;
    const h = Object.assign({}, headers || {});
    if (this.extraHeaders) {
      for (const [k, v] of Object.entries(this.extraHeaders)) {
        for (const old of Object.keys(h)) if (old.toLowerCase() === k.toLowerCase()) delete h[old];
        h[k] = v;
      }
    }
    let payload = null;
    if (status !== 304 && status !== 204 && body !== null && body !== undefined) {
      payload = Buffer.isBuffer(body) ? body : Buffer.from(String(body), 'utf8');
      h['Content-Length'] = String(payload.length);
    } else if (status !== 304 && status !== 204) {
      h['Content-Length'] = '0';
    }
    if (this.entry) {
      const text = payload ? payload.toString('utf8') : '';
      this.entry.status = status;
      this.entry.response = {
        status,
        headers: lowerKeys(h),
        body: text.length > LOGGED_BODY_MAX ? text.slice(0, LOGGED_BODY_MAX) : text,
        bodyTruncated: text.length > LOGGED_BODY_MAX,
      };
      this.entry.durationMs = Date.now() - this.entry.time;
    }
    res.writeHead(status, h);
    if (this.cut && payload) {
      this.writeCut(payload);
      return;
    }
    res.end(payload || undefined);
  }

  // Sends the head and the first cut.bytes bytes of payload, then closes the
  // connection (a reset with cut.reset). The pause before closing lets the
  // client read what was sent, as from a server that dies mid-body.
  writeCut(payload) {
    const { bytes, reset } = this.cut;
    const res = this.res;
    const socket = this.req.socket;
    if (this.entry) this.entry.response.truncatedAt = Math.min(bytes, payload.length);
    res.flushHeaders();
    res.write(payload.subarray(0, Math.min(bytes, payload.length)), () => {
      setTimeout(() => {
        if (reset) socket.resetAndDestroy();
        else socket.destroy();
      }, 50);
    });
  }

  json(status, obj, headers) {
    this.send(status, Object.assign({ 'Content-Type': 'application/json' }, headers || {}), JSON.stringify(obj));
  }
}

function lowerKeys(h) {
  const out = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

module.exports = { Ctx, lowerKeys };
