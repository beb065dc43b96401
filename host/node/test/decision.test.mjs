import assert from 'node:assert/strict';
import { it } from 'node:test';
import { rawMember, readDecision } from '../src/decision.js';

it('cuts a member out of a document byte for byte', () => {
  const doc = '{ "a" : "x}\\"{" , "applied" : {"next": {"k": [1, {"s": "]}"}], "n": 12345678901234567890}, "effects": []} }';
  assert.equal(rawMember(rawMember(doc, 'applied'), 'next'), '{"k": [1, {"s": "]}"}], "n": 12345678901234567890}');
  assert.equal(rawMember(doc, 'missing'), null);
});

it('reads both kinds of decision', () => {
  const applied = readDecision('{"applied":{"next":{"status":"paid"},"effects":[{"effect":"invoice_paid"}]}}');
  assert.deepEqual({ ...applied, document: undefined }, { applied: true, next: '{"status":"paid"}', effects: [{ effect: 'invoice_paid' }], ignored: null, document: undefined });
  const rejected = readDecision('{"ignored":{"rejected":{"condition":"currency_mismatch"}}}');
  assert.equal(rejected.applied, false);
  assert.deepEqual(rejected.ignored, { rejected: { condition: 'currency_mismatch' } });
});
