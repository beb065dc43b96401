import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { Engine } from '../src/index.js';
import { createApp, processStored } from '../examples/express.mjs';

const SECRET = 'whsec_express_test';
const NOW = 1767300000;
const BODY = readFileSync(new URL('../../../tests/fixtures/stripe-events/events/invoice.paid.json', import.meta.url));
const engine = new Engine();
const stored = [];
let server;
let url;

before(async () => {
  const app = createApp({ secrets: [SECRET], engine, now: () => NOW, store: async (d) => stored.push(d) });
  await new Promise((resolve) => {
    server = app.listen(0, '127.0.0.1', resolve);
  });
  url = `http://127.0.0.1:${server.address().port}/webhooks/stripe`;
});

after(() => server.close());

const post = (body, headers) => fetch(url, { method: 'POST', body, headers });

it('answers 200 to a signed delivery, after storing its raw body', async () => {
  const res = await post(BODY, { 'content-type': 'application/json', 'stripe-signature': engine.sign(BODY, SECRET, NOW) });
  assert.equal(res.status, 200);
  assert.equal(stored.length, 1);
  assert.ok(stored[0].body.equals(BODY));
  assert.deepEqual(processStored(engine, stored[0].body), { event: 'invoice.paid', facts: ['invoice-paid'] });
});

it('answers 400 to a tampered body, a missing header and a wrong secret', async () => {
  const header = engine.sign(BODY, SECRET, NOW);
  const tampered = Buffer.concat([BODY, Buffer.from(' ')]);
  const cases = [
    [tampered, { 'content-type': 'application/json', 'stripe-signature': header }, 'signature/signature-mismatch'],
    [BODY, { 'content-type': 'application/json' }, 'signature/missing-header'],
    [BODY, { 'content-type': 'text/plain', 'stripe-signature': engine.sign(BODY, 'whsec_other', NOW) }, 'signature/signature-mismatch'],
  ];
  for (const [body, headers, error] of cases) {
    const res = await post(body, headers);
    assert.equal(res.status, 400);
    const json = await res.json();
    assert.equal(json.error, error);
    assert.ok(!JSON.stringify(json).includes(SECRET));
  }
  assert.equal(stored.length, 1);
});
