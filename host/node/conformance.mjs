#!/usr/bin/env node
// Runs the conformance suite on the Node host and compares every case's outcome with the Rust
// host's golden output. Ends with `N passed, N failed`; exits 1 on any failure, 2 on bad input.
//
//   node conformance.mjs                      # the repo's fixtures against tests/fixtures/conformance/expected.jsonl
//   node conformance.mjs --vectors FILE --events DIR --expected FILE
//                                             # other files, against `payhook conformance --json --vectors FILE --events DIR`
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from './src/index.js';
import { ConformanceInputError, compare, parseGolden, parseVectors, readEvents, readText, runCases } from './src/conformance.js';

const fixtures = (path) => fileURLToPath(new URL(`../../tests/fixtures/${path}`, import.meta.url));

function main() {
  const { values } = parseArgs({
    options: {
      vectors: { type: 'string' },
      events: { type: 'string' },
      expected: { type: 'string' },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
  });
  if ((values.vectors || values.events) && !values.expected) {
    throw new ConformanceInputError(
      '--vectors/--events need --expected FILE: the Rust host\'s `payhook conformance --json` output for the same files',
    );
  }
  const vectors = parseVectors(readText(values.vectors ?? fixtures('stripe-vectors/vectors.json')));
  const events = readEvents(values.events ?? fixtures('stripe-events/events'));
  const golden = parseGolden(readText(values.expected ?? fixtures('conformance/expected.jsonl')));

  const report = compare(runCases(new Engine(), vectors, events), golden);
  for (const r of report) {
    if (!r.ok) console.log(`FAIL ${r.case}\n${r.why.map((l) => `  ${l}`).join('\n')}`);
    else if (values.verbose) console.log(`ok   ${r.case}`);
  }
  const failed = report.filter((r) => !r.ok).length;
  console.log(`${report.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (e) {
  if (!(e instanceof ConformanceInputError) && !(e instanceof TypeError && e.code?.startsWith('ERR_PARSE_ARGS'))) throw e;
  console.error(`error: ${e.message}`);
  process.exitCode = 2;
}
