// The conformance suite on this host: every signature vector and event envelope through the
// component, each case's outcome computed exactly as the Rust host's `payhook conformance --json`
// computes it (host/payhook/src/conformance.rs), then compared with that golden output.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { MACHINES, WebhookError } from './index.js';

/** The secret, clock and tolerance every event envelope is signed and received with. */
export const EVENT_SECRET = 'whsec_conformance';
export const EVENT_NOW = 1767300000;
export const EVENT_TOLERANCE = 300;
/** The payment id of the new payment record each fact is applied to. */
const PAYMENT_ID = 'pi_conformance';

/** A vectors or events file that cannot be used. */
export class ConformanceInputError extends Error {}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads a text file that must be UTF-8 (as Rust's `read_to_string` demands). */
export function readText(path) {
  try {
    return strictUtf8.decode(readFileSync(path));
  } catch (e) {
    throw new ConformanceInputError(`reading ${path}: ${e.message}`);
  }
}

/** The cases of a vectors file (format `stripe-signature-vectors/1`): `vectors`, then `divergent`. */
export function parseVectors(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConformanceInputError(`the vectors file is not JSON: ${e.message}`);
  }
  if (!Array.isArray(doc?.vectors)) throw new ConformanceInputError('the vectors file has no `vectors` array of cases');
  const cases = [...doc.vectors, ...(Array.isArray(doc.divergent) ? doc.divergent : [])];
  return cases.map((v, index) => {
    const str = (field) => {
      if (typeof v?.[field] !== 'string') throw new ConformanceInputError(`vector #${index} has no valid \`${field}\``);
      return v[field];
    };
    const int = (field) => {
      // Integers past 2^53 would be rounded by JSON.parse; refuse them rather than guess.
      if (!Number.isSafeInteger(v?.[field])) throw new ConformanceInputError(`vector #${index} has no valid \`${field}\` (an integer within ±2^53)`);
      return v[field];
    };
    const vector = {
      id: str('id'),
      payload: str('payload'),
      secret: str('secret'),
      header: typeof v.header === 'string' ? v.header : undefined,
      now: int('now'),
      tolerance: int('tolerance'),
    };
    if (str('expected') !== 'divergent') str('expected_verify_header');
    return vector;
  });
}

/** The `*.json` envelopes of a directory, as `[fileName, body]`, sorted by file name bytes. */
export function readEvents(dir) {
  let names;
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json') && n !== '.json');
  } catch (e) {
    throw new ConformanceInputError(`reading ${dir}: ${e.message}`);
  }
  names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (names.length === 0) throw new ConformanceInputError(`${dir} holds no *.json event envelopes`);
  return names.map((n) => [n, readText(join(dir, n))]);
}

/** Every case's `{case, outcome}`: the vectors, then the events. */
export function runCases(engine, vectors, events) {
  return [
    ...vectors.map((v) => ({ case: `vector:${v.id}`, outcome: vectorOutcome(engine, v) })),
    ...events.map(([name, body]) => ({ case: `event:${name}`, outcome: eventOutcome(engine, body) })),
  ];
}

/** A vector received with its own header, secret, clock and tolerance; no decisions. */
export function vectorOutcome(engine, v) {
  return outcome(() => engine.receive(v.header, v.payload, [v.secret], { now: v.now, tolerance: v.tolerance }), () => []);
}

/** An envelope signed and received at the suite's clock, each fact decided by a new record of each machine. */
export function eventOutcome(engine, body) {
  const header = engine.sign(body, EVENT_SECRET, EVENT_NOW);
  return outcome(
    () => engine.receive(header, body, [EVENT_SECRET], { now: EVENT_NOW, tolerance: EVENT_TOLERANCE }),
    (delivery) => delivery.facts.map((fact) => MACHINES.map((machine) => decision(engine, machine, fact))),
  );
}

function outcome(receive, decisions) {
  let delivery;
  try {
    delivery = receive();
  } catch (e) {
    if (e instanceof WebhookError) return { error: e.tag };
    throw e;
  }
  return {
    timestamp: Number(delivery.verified.timestamp),
    secret_index: delivery.verified.secretIndex,
    event_id: delivery.event.id,
    event_type: delivery.event.eventType,
    facts: delivery.facts.map((f) => f.kind.tag),
    decisions: decisions(delivery),
  };
}

function decision(engine, machine, fact) {
  try {
    return engine.applyDocument(machine, newState(engine, machine, fact), fact);
  } catch (e) {
    // The Rust host writes its own error text here; no golden case has one.
    return `machine/${e.code ?? e.message}`;
  }
}

/** The new record each machine starts from for `fact` (as the Rust host's `new_state`). */
function newState(engine, machine, fact) {
  const amount = factAmount(fact);
  switch (machine) {
    case 'invoice':
      return engine.newInvoice(amount);
    case 'appointment':
      return engine.newAppointment(amount.currency);
    case 'payment':
      return engine.newPayment(PAYMENT_ID, amount.currency);
    case 'subscription':
      return engine.newSubscription();
  }
}

/** The amount a fact names, or 20.00 USD when it names none (as the Rust host's `fact_amount`). */
export function factAmount(fact) {
  const { tag, val } = fact.kind;
  switch (tag) {
    case 'payment-succeeded':
    case 'payment-processing':
    case 'dispute-lost':
    case 'invoice-finalized':
    case 'invoice-paid':
      return val;
    case 'payment-failed':
    case 'payout-failed':
      return val.amount;
    case 'payment-requires-action':
    case 'refunded':
    case 'refund-failed':
    case 'dispute-opened':
    case 'invoice-payment-failed':
    case 'payout-paid':
      return val[0];
    case 'checkout-completed-paid':
    case 'checkout-async-payment-succeeded':
      if (val != null) return val;
      break;
  }
  return { minor: 2000n, currency: 'usd' };
}

/** The golden lines (`{"case","outcome",…}`), by case, in order; the summary line is skipped. */
export function parseGolden(text) {
  const golden = new Map();
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || /^\d+ passed, \d+ failed$/.test(trimmed)) return;
    let row;
    try {
      row = JSON.parse(trimmed);
    } catch (e) {
      throw new ConformanceInputError(`golden line ${i + 1} is not JSON: ${e.message}`);
    }
    if (typeof row?.case !== 'string' || !('outcome' in row)) throw new ConformanceInputError(`golden line ${i + 1} has no \`case\` and \`outcome\``);
    if (!golden.has(row.case)) golden.set(row.case, []);
    golden.get(row.case).push(row.outcome);
  });
  return golden;
}

/**
 * Compares each case's outcome with the golden one. Returns `[{case, ok, why}]`: a case is
 * failed when its outcome differs, when the golden file lacks it, or when the golden file has a
 * case this run did not produce.
 */
export function compare(results, golden) {
  const remaining = new Map([...golden].map(([k, v]) => [k, [...v]]));
  const report = results.map(({ case: name, outcome }) => {
    const expected = remaining.get(name)?.shift();
    if (expected === undefined) return { case: name, ok: false, why: ['no line for this case in the golden file'] };
    if (isDeepStrictEqual(outcome, expected)) return { case: name, ok: true, why: [] };
    return { case: name, ok: false, why: difference(expected, outcome, 'outcome') };
  });
  for (const [name, left] of remaining) {
    for (let i = 0; i < left.length; i++) report.push({ case: name, ok: false, why: ['in the golden file, but this run did not produce it'] });
  }
  return report;
}

/** Where two JSON values differ, one line per difference. */
export function difference(expected, actual, path) {
  const isObject = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const lines = [];
    if (expected.length !== actual.length) lines.push(`${path}: expected ${expected.length} items, got ${actual.length}`);
    for (let i = 0; i < Math.min(expected.length, actual.length); i++) lines.push(...difference(expected[i], actual[i], `${path}[${i}]`));
    return lines;
  }
  if (isObject(expected) && isObject(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    return keys.flatMap((k) => {
      if (!(k in actual)) return [`${path}.${k}: expected ${JSON.stringify(expected[k])}, missing`];
      if (!(k in expected)) return [`${path}.${k}: not expected, got ${JSON.stringify(actual[k])}`];
      return difference(expected[k], actual[k], `${path}.${k}`);
    });
  }
  if (isDeepStrictEqual(expected, actual)) return [];
  return [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}
