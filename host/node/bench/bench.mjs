// Per-call cost of verify + decode + decide on the Node host: `receive` of the 3 KB
// payment_intent.succeeded envelope, then `apply` to an invoice for each fact. Prints a Markdown
// table. A measurement, not a test: run it by hand (`npm run bench`).
//
//   node bench/bench.mjs [--iterations N] [--fresh-iterations N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Engine } from '../src/index.js';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '20000' },
    'fresh-iterations': { type: 'string', default: '1000' },
  },
});
const N = Number(values.iterations);
const FRESH_N = Number(values['fresh-iterations']);

const BODY = readFileSync(new URL('../../../tests/fixtures/stripe-events/events/payment_intent.succeeded.json', import.meta.url), 'utf8');
const SECRET = 'whsec_bench';
const NOW = 1767300000;

const reused = new Engine();
const HEADER = reused.sign(BODY, SECRET, NOW);
const INVOICE = reused.newInvoice({ minor: 2000, currency: 'usd' });

function receiveAndDecide(engine) {
  const delivery = engine.receive(HEADER, BODY, [SECRET], { now: NOW });
  for (const fact of delivery.facts) engine.apply('invoice', INVOICE, fact);
}

/** Mean, median and 99th percentile in µs over `n` timed calls, after `warmup` untimed ones. */
function measure(f, n, warmup) {
  for (let i = 0; i < warmup; i++) f();
  const samples = new Float64Array(n);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    samples[i] = performance.now() - t;
  }
  const total = performance.now() - start;
  samples.sort();
  const us = (ms) => (ms * 1000).toFixed(1);
  return { n, mean: us(total / n), p50: us(samples[Math.floor(n / 2)]), p99: us(samples[Math.floor(n * 0.99)]) };
}

const facts = reused.receive(HEADER, BODY, [SECRET], { now: NOW }).facts;
const rows = [
  ['receive + apply(invoice) per fact, reused instance', measure(() => receiveAndDecide(reused), N, N / 4)],
  ['verify only, reused instance', measure(() => reused.verify(HEADER, BODY, [SECRET], { now: NOW }), N, N / 4)],
  ['decodeStored only, reused instance', measure(() => reused.decodeStored(BODY), N, N / 4)],
  ['apply(invoice) only, reused instance', measure(() => reused.apply('invoice', INVOICE, facts[0]), N, N / 4)],
  ['receive + apply(invoice), fresh instance per call', measure(() => receiveAndDecide(new Engine({ freshInstance: true })), FRESH_N, 5)],
];

console.log(`Node ${process.version}, ${BODY.length}-byte body, ${facts.length} fact(s)\n`);
console.log('| what | calls | mean µs | p50 µs | p99 µs |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [what, r] of rows) console.log(`| ${what} | ${r.n} | ${r.mean} | ${r.p50} | ${r.p99} |`);
