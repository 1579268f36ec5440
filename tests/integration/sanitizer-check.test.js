'use strict';
// The sanitizer check every stack runs when it stops (tests/lib/stack.js):
// a report in a sanitizer.<pid> file or in syncto's stderr makes
// stack.stop() reject with the report; an empty file does not.
//
//   SYNCTO_BUILD_DIR=build node --test tests/integration/sanitizer-check.test.js
//
// A real report needs a bug in syncto, so the reports here are written by
// the test, in the runtime's format, where the runtime would write them:
// what is tested is that the harness finds them. (Every other test file,
// run against the ASan/UBSan build by make integration-asan, is what
// checks syncto itself.)

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startStack } = require('../lib/stack');

const stacks = [];

async function newStack() {
  const stack = await startStack({ syncserver: false });
  stacks.push(stack);
  return stack;
}

after(async () => {
  for (const s of stacks) if (!s.stopped) await s.stop().catch(() => {});
});

const LEAK = [
  '=================================================================',
  '==4242==ERROR: LeakSanitizer: detected memory leaks',
  '',
  'Direct leak of 131072 byte(s) in 1 object(s) allocated from:',
  '    #0 0x7f0000000001 in __interceptor_realloc',
  '    #1 0x550000000002 in move_to src/sy_buf.c:48',
  '',
  'SUMMARY: AddressSanitizer: 131072 byte(s) leaked in 1 allocation(s).',
  '',
].join('\n');

const UB = [
  'src/sy_ts.c:120:17: runtime error: signed integer overflow: 9223372036854775807 + 1 cannot be represented in type \'long int\'',
  '    #0 0x550000000003 in sy_ts_parse src/sy_ts.c:120',
  '    #1 0x550000000004 in records_plan src/sy_views_records.c:77',
].join('\n');

test('a clean stack has no report and stops without error', async () => {
  const stack = await newStack();
  assert.equal((await fetch(`${stack.v1}/`)).status, 200);
  fs.writeFileSync(path.join(stack.dir, 'sanitizer.4241'), ''); // opened, nothing reported
  assert.deepEqual(stack.sanitizerReports(), []);
  await stack.stop();
});

test('a report file with content makes stop() reject, the report in the message', async () => {
  const stack = await newStack();
  fs.writeFileSync(path.join(stack.dir, 'sanitizer.4242'), LEAK);
  assert.equal(stack.sanitizerReports().length, 1);
  await assert.rejects(stack.stop(), (err) => {
    assert.match(err.message, /1 sanitizer report\(s\) from syncto/);
    assert.match(err.message, /----- sanitizer\.4242 -----/);
    assert.match(err.message, /Direct leak of 131072 byte\(s\)/);
    return true;
  });
});

test('a report in syncto\'s stderr makes stop() reject, without the log lines around it', async () => {
  const stack = await newStack();
  assert.equal((await fetch(`${stack.v1}/`)).status, 200);
  const log = path.join(stack.dir, 'syncto.log');
  fs.appendFileSync(log, `${UB}\n`);
  // a line of syncto's own after the report
  const from = stack.synctoLogOffset();
  assert.equal((await fetch(`${stack.v1}/__lbheartbeat__`)).status, 200);
  await stack.procs.syncto.waitForLog('__lbheartbeat__', { from });
  const reports = stack.sanitizerReports();
  assert.equal(reports.length, 1);
  assert.equal(reports[0].file, log);
  assert.equal(reports[0].text, UB);
  await assert.rejects(stack.stop(), /sanitizer report\(s\) from syncto:[^]*runtime error: signed integer overflow/);
});
