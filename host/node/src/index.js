// payhook's engine component in Node.js. The component (payhook:engine@0.1.2) is transpiled by
// jco at build time into gen/ (`npm run build`); this module gives it a JavaScript API:
//
// - results that succeed return jco's lifted values (records as objects with camelCase fields,
//   variants as `{tag, val}`, options as `undefined`, s64 as bigint);
// - WIT errors are thrown as typed errors (`SignatureError`, `DecodeError`, `AmountError`,
//   `MachineError`), each with the WIT case in `code` and its payload in `detail`;
// - `apply` returns the decision document read into `{applied, next, effects, ignored, document}`.
//
// The engine is sans-IO: it reads no clock and touches nothing. The defaults here (`now` is the
// host's clock, `tolerance` 300 s) are the host's choice.
import { readFileSync } from 'node:fs';
import { instantiate } from '../gen/engine.js';
import { readDecision } from './decision.js';
import { AmountError, DecodeError, EngineTrap, MachineError, SignatureError, webhookError } from './errors.js';

export { AmountError, DecodeError, EngineTrap, MachineError, PayhookError, SignatureError, WebhookError } from './errors.js';
export { readDecision } from './decision.js';

/** The engine refuses bodies above 1 MiB; the host refuses them before copying them in. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Stripe's default tolerance for the signed timestamp, in seconds. */
export const DEFAULT_TOLERANCE = 300;
/** The state machines, in the order the conformance suite applies them. */
export const MACHINES = Object.freeze(['invoice', 'appointment', 'payment', 'subscription']);

let coreModule;
function core() {
  coreModule ??= new WebAssembly.Module(readFileSync(new URL('../gen/engine.core.wasm', import.meta.url)));
  return coreModule;
}

/** The compiled core module, e.g. to check that it imports nothing. */
export function coreWasmModule() {
  return core();
}

/**
 * A loaded engine. By default one instance serves every call (the fast path); with
 * `{ freshInstance: true }` each call gets a new instance, so no state survives between calls.
 * After a trap the instance is discarded and the next call instantiates a new one.
 * Not for concurrent use from several threads (workers each make their own).
 */
export class Engine {
  #fresh;
  #root = null;

  constructor({ freshInstance = false } = {}) {
    this.#fresh = freshInstance;
  }

  /**
   * Verifies a `Stripe-Signature` header over the raw body. Returns `{timestamp, secretIndex}`;
   * throws `SignatureError`.
   */
  verify(header, body, secrets, { now, tolerance } = {}) {
    const args = webhookArgs(header, body, secrets, now, tolerance);
    return this.#call((root) => {
      try {
        return root.webhook.verify(...args);
      } catch (e) {
        throw mapped(e, SignatureError.fromWit);
      }
    });
  }

  /**
   * Verifies, decodes and derives facts: the fast path for a webhook receiver. Returns
   * `{verified, event, facts}`; throws `SignatureError` or `DecodeError`.
   */
  receive(header, body, secrets, { now, tolerance } = {}) {
    const args = webhookArgs(header, body, secrets, now, tolerance);
    return this.#call((root) => {
      try {
        return root.webhook.receive(...args);
      } catch (e) {
        throw mapped(e, webhookError);
      }
    });
  }

  /**
   * Decodes a body that was verified when it arrived and stored unchanged. Returns
   * `{event, facts}`; throws `DecodeError`. Never call it on an unverified body.
   */
  decodeStored(body) {
    const text = bodyText(body);
    return this.#call((root) => {
      try {
        return root.webhook.decodeStored(text);
      } catch (e) {
        throw mapped(e, DecodeError.fromWit);
      }
    });
  }

  /** Signs `body` as Stripe would at `timestamp` (unix seconds); returns `t=…,v1=…`. */
  sign(body, secret, timestamp) {
    const text = bodyText(body);
    return this.#call((root) => root.webhook.sign(text, secret, BigInt(timestamp)));
  }

  /** Parses a decimal text in `currency` into `{minor, currency}` exactly; throws `AmountError`. */
  parseAmount(text, currency) {
    return this.#amount((root) => root.amounts.parseAmount(text, currency));
  }

  /** Formats `{minor, currency}` with the currency's digits (`2000 eur` → `20.00`). */
  formatAmount(amount) {
    return this.#amount((root) => root.amounts.formatAmount(money(amount)));
  }

  /** Throws `AmountError` unless `amount` may be charged. */
  checkChargeable(amount) {
    this.#amount((root) => root.amounts.checkChargeable(money(amount)));
  }

  /** Throws `AmountError` unless `amount` may be refunded when `refundable` minor units remain. */
  checkRefund(amount, refundable) {
    this.#amount((root) => root.amounts.checkRefund(money(amount), BigInt(refundable)));
  }

  /** A finalized invoice of `amountDue`, open for payment: its state document (JSON text). */
  newInvoice(amountDue) {
    return this.#machine((root) => root.machines.newInvoice(money(amountDue)));
  }

  /** A new appointment holding its slot, in `currency`: its state document. */
  newAppointment(currency) {
    return this.#machine((root) => root.machines.newAppointment(currency));
  }

  /** A new payment with Stripe id `id` in `currency`: its state document. */
  newPayment(id, currency) {
    return this.#machine((root) => root.machines.newPayment(id, currency));
  }

  /** A new subscription: its state document. */
  newSubscription() {
    return this.#call((root) => root.machines.newSubscription());
  }

  /**
   * Applies `fact` (from `receive` or `decodeStored`) to a record of `machine` whose state
   * document is `state`. Returns `{applied, next, effects, ignored, document}`: `next` is the
   * new state document to store (null when ignored), `document` the engine's decision text.
   * Throws `MachineError`.
   */
  apply(machine, state, fact) {
    return readDecision(this.applyDocument(machine, state, fact));
  }

  /** As `apply`, but returns the decision document exactly as the engine wrote it. */
  applyDocument(machine, state, fact) {
    if (!MACHINES.includes(machine)) throw new TypeError(`unknown machine ${JSON.stringify(machine)}; one of ${MACHINES.join(', ')}`);
    return this.#machine((root) => root.machines.apply(machine, state, fact));
  }

  #amount(f) {
    return this.#call((root) => {
      try {
        return f(root);
      } catch (e) {
        throw mapped(e, AmountError.fromWit);
      }
    });
  }

  #machine(f) {
    return this.#call((root) => {
      try {
        return f(root);
      } catch (e) {
        throw mapped(e, MachineError.fromWit);
      }
    });
  }

  #instance() {
    if (this.#fresh) return instantiate(core, {});
    this.#root ??= instantiate(core, {});
    return this.#root;
  }

  #call(f) {
    const root = this.#instance();
    try {
      return f(root);
    } catch (e) {
      if (isOurs(e)) throw e;
      // A trap, or the glue failing mid-call: this instance is not to be trusted again.
      this.#root = null;
      throw e instanceof WebAssembly.RuntimeError ? new EngineTrap(e) : e;
    }
  }
}

let defaultEngine;

/** The shared engine behind the module-level functions (one reused instance). */
export function engine() {
  defaultEngine ??= new Engine();
  return defaultEngine;
}

export const verify = (header, body, secrets, options) => engine().verify(header, body, secrets, options);
export const receive = (header, body, secrets, options) => engine().receive(header, body, secrets, options);
export const decodeStored = (body) => engine().decodeStored(body);
export const sign = (body, secret, timestamp) => engine().sign(body, secret, timestamp);
export const parseAmount = (text, currency) => engine().parseAmount(text, currency);
export const formatAmount = (amount) => engine().formatAmount(amount);
export const checkChargeable = (amount) => engine().checkChargeable(amount);
export const checkRefund = (amount, refundable) => engine().checkRefund(amount, refundable);
export const newInvoice = (amountDue) => engine().newInvoice(amountDue);
export const newAppointment = (currency) => engine().newAppointment(currency);
export const newPayment = (id, currency) => engine().newPayment(id, currency);
export const newSubscription = () => engine().newSubscription();
export const apply = (machine, state, fact) => engine().apply(machine, state, fact);

function isOurs(e) {
  return e instanceof SignatureError || e instanceof DecodeError || e instanceof AmountError || e instanceof MachineError;
}

/** jco throws a WIT `err` as a `ComponentError` whose `payload` is the error value. */
function mapped(e, fromWit) {
  if (e?.constructor?.name === 'ComponentError' && 'payload' in e) return fromWit(e.payload);
  return e;
}

function webhookArgs(header, body, secrets, now, tolerance) {
  const bytes = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body?.byteLength;
  if (bytes > MAX_BODY_BYTES) {
    // Refused before it is copied into the sandbox; the engine would refuse it too.
    throw SignatureError.fromWit({ tag: 'body-too-large', val: { actual: BigInt(bytes), max: BigInt(MAX_BODY_BYTES) } });
  }
  const text = bodyText(body);
  const list = typeof secrets === 'string' ? [secrets] : Array.from(secrets ?? []);
  return [
    header ?? undefined,
    text,
    list,
    BigInt(now ?? Math.floor(Date.now() / 1000)),
    BigInt(tolerance ?? DEFAULT_TOLERANCE),
  ];
}

/** The raw body as text: a string as it is, bytes only when they are UTF-8 (as every Stripe event is). */
function bodyText(body) {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) {
    const validUpTo = utf8ValidUpTo(body);
    if (validUpTo !== body.length) throw DecodeError.fromWit({ tag: 'invalid-utf8', val: validUpTo });
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  }
  throw new TypeError('the body must be a string, a Buffer or a Uint8Array (the raw request body)');
}

/** How many leading bytes are valid UTF-8 (the WIT `invalid-utf8` payload). */
function utf8ValidUpTo(bytes) {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let n;
    let min;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [n, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [n, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return i;
}

function money(amount) {
  if (amount === null || typeof amount !== 'object') throw new TypeError('an amount is {minor, currency}');
  return { minor: BigInt(amount.minor), currency: amount.currency };
}
