import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  AmountError,
  DecodeError,
  Engine,
  MachineError,
  MAX_BODY_BYTES,
  SignatureError,
  WebhookError,
  coreWasmModule,
  decodeStored,
  newInvoice,
  parseAmount,
  receive,
  sign,
  verify,
} from '../src/index.js';

const fixture = (name) => readFileSync(new URL(`../../../tests/fixtures/stripe-events/events/${name}`, import.meta.url), 'utf8');
const SECRET = 'whsec_node_test';
const NOW = 1767300000;
const BODY = fixture('payment_intent.succeeded.json');
const HEADER = sign(BODY, SECRET, NOW);

describe('the component', () => {
  it('imports nothing', () => {
    assert.deepEqual(WebAssembly.Module.imports(coreWasmModule()), []);
  });
});

describe('verify', () => {
  it('returns the signed timestamp and which secret matched', () => {
    assert.deepEqual(verify(HEADER, BODY, SECRET, { now: NOW }), { timestamp: BigInt(NOW), secretIndex: 0 });
    assert.equal(verify(HEADER, BODY, ['whsec_newer', SECRET], { now: NOW }).secretIndex, 1);
  });

  it('takes the raw body as bytes too', () => {
    assert.equal(verify(HEADER, Buffer.from(BODY), SECRET, { now: NOW }).secretIndex, 0);
  });

  it('throws SignatureError naming the WIT case', () => {
    const cases = [
      [() => verify(HEADER, `${BODY} `, SECRET, { now: NOW }), 'signature-mismatch'],
      [() => verify(undefined, BODY, SECRET, { now: NOW }), 'missing-header'],
      [() => verify(HEADER, BODY, SECRET, { now: NOW + 301 }), 'timestamp-too-old'],
      [() => verify(HEADER, BODY, SECRET, { now: NOW, tolerance: 0 }), 'invalid-tolerance'],
      [() => verify(HEADER, BODY, [], { now: NOW }), 'no-secret'],
    ];
    for (const [call, code] of cases) {
      assert.throws(call, (e) => e instanceof SignatureError && e instanceof WebhookError && e.code === code && e.tag === `signature/${code}`);
    }
  });

  it('gives the window of a stale timestamp and never a secret', () => {
    const e = catching(() => verify(HEADER, BODY, SECRET, { now: NOW + 1000 }));
    assert.deepEqual(e.detail, { timestamp: BigInt(NOW), now: BigInt(NOW + 1000), tolerance: 300n });
    assert.ok(!e.message.includes(SECRET) && !e.stack.includes(SECRET));
  });

  it('refuses a body over 1 MiB before copying it in', () => {
    const e = catching(() => verify(HEADER, 'x'.repeat(MAX_BODY_BYTES + 1), SECRET, { now: NOW }));
    assert.equal(e.code, 'body-too-large');
    assert.deepEqual(e.detail, { actual: BigInt(MAX_BODY_BYTES + 1), max: BigInt(MAX_BODY_BYTES) });
    assert.equal(catching(() => verify(HEADER, Buffer.alloc(MAX_BODY_BYTES + 1, 0xff), SECRET, { now: NOW })).code, 'body-too-large');
  });

  it('refuses bytes that are not UTF-8 with the valid prefix length', () => {
    const e = catching(() => verify(HEADER, Buffer.from([0x7b, 0x22, 0xc3, 0x28]), SECRET, { now: NOW }));
    assert.ok(e instanceof DecodeError);
    assert.equal(e.code, 'invalid-utf8');
    assert.equal(e.detail, 2);
  });
});

describe('receive and decodeStored', () => {
  it('verifies, decodes and derives the facts', () => {
    const d = receive(HEADER, BODY, SECRET, { now: NOW });
    assert.equal(d.event.eventType, 'payment_intent.succeeded');
    assert.equal(d.event.object.tag, 'payment-intent');
    assert.deepEqual(d.facts.map((f) => f.kind.tag), ['payment-succeeded']);
    assert.deepEqual(d.facts[0].kind.val, { minor: 2000n, currency: 'usd' });
    assert.deepEqual(decodeStored(BODY), { event: d.event, facts: d.facts });
  });

  it('throws DecodeError for a verified body that is not an event', () => {
    const body = '{"object": "charge", "id": "ch_1"}';
    const e = catching(() => receive(sign(body, SECRET, NOW), body, SECRET, { now: NOW }));
    assert.ok(e instanceof DecodeError);
    assert.equal(e.tag, 'decode/not-an-event');
    const json = catching(() => decodeStored('{"id": '));
    assert.equal(json.code, 'invalid-json');
    assert.equal(json.detail.line, 1);
  });
});

describe('amounts', () => {
  it('parses and formats exactly', () => {
    assert.deepEqual(parseAmount('20.00', 'eur'), { minor: 2000n, currency: 'eur' });
    assert.deepEqual(parseAmount('500', 'jpy'), { minor: 500n, currency: 'jpy' });
    const engine = new Engine();
    assert.equal(engine.formatAmount({ minor: 5120, currency: 'kwd' }), '5.120');
  });

  it('throws AmountError with the engine code', () => {
    assert.throws(() => parseAmount('1.234', 'eur'), (e) => e instanceof AmountError && e.code === 'too_many_fraction_digits');
    const engine = new Engine();
    assert.throws(() => engine.checkChargeable({ minor: 10, currency: 'usd' }), (e) => e instanceof AmountError && e.code === 'below_minimum');
    assert.equal(engine.checkChargeable({ minor: 50, currency: 'usd' }), undefined);
    assert.throws(() => engine.checkRefund({ minor: 600, currency: 'usd' }, 500), AmountError);
  });
});

describe('machines', () => {
  const engine = new Engine();
  const fact = receive(HEADER, BODY, SECRET, { now: NOW }).facts[0];

  it('applies a fact to a new invoice and returns the next state exactly as the engine wrote it', () => {
    const decision = engine.apply('invoice', newInvoice({ minor: 2000, currency: 'usd' }), fact);
    assert.equal(decision.applied, true);
    assert.equal(JSON.parse(decision.next).status, 'paid');
    assert.ok(decision.document.includes(decision.next));
    assert.ok(decision.effects.some((e) => e.effect === 'invoice_paid'));
    assert.equal(decision.ignored, null);
  });

  it('ignores the same fact applied twice', () => {
    const first = engine.apply('invoice', engine.newInvoice({ minor: 2000, currency: 'usd' }), fact);
    const again = engine.apply('invoice', first.next, fact);
    assert.equal(again.applied, false);
    assert.equal(again.next, null);
    assert.equal(again.ignored, 'duplicate');
  });

  it('builds every kind of record', () => {
    for (const state of [engine.newAppointment('eur'), engine.newPayment('pi_1', 'eur'), engine.newSubscription()]) {
      assert.equal(typeof JSON.parse(state), 'object');
    }
  });

  it('throws MachineError for a state of another machine or a bad currency', () => {
    assert.throws(() => engine.apply('invoice', engine.newSubscription(), fact), (e) => e instanceof MachineError && e.code === 'invalid-state');
    assert.throws(() => engine.newAppointment('euro'), (e) => e instanceof MachineError && e.code === 'invalid-currency');
    assert.throws(() => engine.apply('ledger', '{}', fact), TypeError);
  });
});

describe('a fresh instance per call', () => {
  it('gives the same results', () => {
    const fresh = new Engine({ freshInstance: true });
    assert.deepEqual(fresh.receive(HEADER, BODY, SECRET, { now: NOW }), receive(HEADER, BODY, SECRET, { now: NOW }));
    assert.throws(() => fresh.verify(HEADER, 'tampered', SECRET, { now: NOW }), SignatureError);
  });
});

function catching(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail('expected an error');
}
