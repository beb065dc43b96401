// A Stripe webhook endpoint on Express with the payhook engine.
//
//   STRIPE_WEBHOOK_SECRET=whsec_… node examples/express.mjs     # listens on 127.0.0.1:4242
//
// The signature covers the exact bytes Stripe sent, so the route takes the RAW body
// (`express.raw`), never a re-serialised JSON object. A bad signature is a 400 (Stripe retries);
// a verified delivery is handed to `store` (put it in your inbox, keyed by event id) and only
// then acknowledged with a 200. Deciding what it means happens after, from the stored body.
import express from 'express';
import { fileURLToPath } from 'node:url';
import { Engine, SignatureError } from '../src/index.js';

/**
 * The app: `POST /webhooks/stripe`. `secrets` are the endpoint's signing secrets, newest first;
 * `store({body, verified})` persists the raw delivery before the 2xx; `now()` is the clock.
 */
export function createApp({ secrets, store = async () => {}, engine = new Engine(), now = () => Math.floor(Date.now() / 1000) }) {
  const app = express();
  app.post('/webhooks/stripe', express.raw({ type: () => true, limit: '1mb' }), async (req, res, next) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let verified;
    try {
      verified = engine.verify(req.get('stripe-signature'), body, secrets, { now: now() });
    } catch (e) {
      // The message names the condition and never a secret; the code is the WIT case.
      if (e instanceof SignatureError) return res.status(400).json({ error: e.tag, message: e.message });
      if (e.code === 'invalid-utf8') return res.status(400).json({ error: e.tag, message: e.message });
      return next(e);
    }
    try {
      await store({ body, verified });
    } catch (e) {
      return next(e); // not stored: a 500, so Stripe delivers it again
    }
    res.status(200).json({ received: true });
  });
  return app;
}

/** What a worker does with a stored delivery: decode it, then decide for each fact. */
export function processStored(engine, body) {
  const { event, facts } = engine.decodeStored(body);
  return { event: event.eventType, facts: facts.map((f) => f.kind.tag) };
}

if (import.meta.url.startsWith('file:') && fileURLToPath(import.meta.url) === process.argv[1]) {
  const secret = process.env.STRIPE_WEBHOOK_SECRET;
  if (!secret) {
    console.error('set STRIPE_WEBHOOK_SECRET to the endpoint signing secret (whsec_…)');
    process.exit(2);
  }
  const engine = new Engine();
  const store = async ({ body }) => console.log('stored', processStored(engine, body));
  const port = Number(process.env.PORT ?? 4242);
  createApp({ secrets: [secret], store, engine }).listen(port, '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${port}/webhooks/stripe`);
  });
}
