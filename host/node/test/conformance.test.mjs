import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { Engine } from '../src/index.js';
import { compare, difference, parseGolden, parseVectors, readEvents, readText, runCases } from '../src/conformance.js';

const fixtures = (path) => fileURLToPath(new URL(`../../../tests/fixtures/${path}`, import.meta.url));

it('gives exactly the Rust host\'s outcome for every case of the golden file', () => {
  const vectors = parseVectors(readText(fixtures('stripe-vectors/vectors.json')));
  const events = readEvents(fixtures('stripe-events/events'));
  const report = compare(runCases(new Engine(), vectors, events), parseGolden(readText(fixtures('conformance/expected.jsonl'))));
  assert.equal(report.length, vectors.length + events.length);
  assert.deepEqual(report.filter((r) => !r.ok), []);
});

it('reports a changed, missing or extra case as failed', () => {
  const golden = parseGolden('{"case":"a","outcome":{"error":"signature/missing-header"}}\n{"case":"c","outcome":{}}\n2 passed, 0 failed\n');
  const report = compare([{ case: 'a', outcome: { error: 'signature/no-secret' } }, { case: 'b', outcome: {} }], golden);
  assert.deepEqual(report.map((r) => [r.case, r.ok]), [['a', false], ['b', false], ['c', false]]);
  assert.deepEqual(report[0].why, ['outcome.error: expected "signature/missing-header", got "signature/no-secret"']);
});

it('names each difference by its path', () => {
  assert.deepEqual(difference({ facts: ['x'], n: 1 }, { facts: ['y', 'z'], n: 1, extra: true }, 'o'), [
    'o.extra: not expected, got true',
    'o.facts: expected 1 items, got 2',
    'o.facts[0]: expected "x", got "y"',
  ]);
});
