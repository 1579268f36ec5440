'use strict';
// Kinto responses as the integration suites read and check them.
//
//   const { readResponse, assertError } = require('../lib/kinto');
//   const res = await readResponse(await fetch(`${stack.v1}/buckets`));
//   assertError(res, 401, 104, 'Unauthorized');

const assert = require('node:assert/strict');

/** Content-Type of every JSON body Syncto sends. */
const JSON_CT = 'application/json; charset=UTF-8';

/** {status, headers, text, json} of a fetch() response; json is undefined when the body is not JSON. */
async function readResponse(res) {
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * A Kinto error as cliquet formats it: `status`, `errno` and `error` (the
 * reason phrase) in a JSON body, a message that contains `message` when
 * given, and no "info" member.
 */
function assertError(res, status, errno, error, message) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers.get('content-type'), JSON_CT);
  assert.equal(res.json.code, status);
  assert.equal(res.json.errno, errno);
  assert.equal(res.json.error, error);
  if (message !== undefined) assert.ok(res.json.message.includes(message), `message: ${res.json.message}`);
  assert.equal(res.json.info, undefined);
}

module.exports = { JSON_CT, readResponse, assertError };
