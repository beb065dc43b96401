// The engine's WIT errors as thrown JavaScript errors. Every class carries the WIT case name in
// `code` and the case's payload in `detail`; no message ever contains a secret (no WIT case
// carries one).

/** Any error the engine reports. */
export class PayhookError extends Error {
  constructor(message, { code, detail, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    /** The WIT case (`signature-mismatch`, `invalid-json`, …) or, for amounts, the engine's code. */
    this.code = code;
    /** The case's payload as jco lifts it (records with bigint fields), or undefined. */
    this.detail = detail;
  }
}

/** `receive`, `verify` or `decodeStored` refused a delivery: see `SignatureError` and `DecodeError`. */
export class WebhookError extends PayhookError {
  /** `signature` or `decode`: the WIT `webhook-error` case. */
  get kind() {
    return undefined;
  }

  /** `signature/<case>` or `decode/<case>`, as the conformance golden file names outcomes. */
  get tag() {
    return `${this.kind}/${this.code}`;
  }
}

/** The signature did not verify (WIT `signature-error`). A receiver answers 400. */
export class SignatureError extends WebhookError {
  get kind() {
    return 'signature';
  }

  /** From the WIT variant `{tag, val}`. */
  static fromWit(variant) {
    return new SignatureError(signatureMessage(variant), { code: variant.tag, detail: variant.val });
  }
}

/** The signature verified but the body is not a usable event (WIT `decode-error`). */
export class DecodeError extends WebhookError {
  get kind() {
    return 'decode';
  }

  /** From the WIT variant `{tag, val}`. */
  static fromWit(variant) {
    return new DecodeError(decodeMessage(variant), { code: variant.tag, detail: variant.val });
  }
}

/** An amount was refused (WIT `money-error`): `code` is the engine's snake_case code. */
export class AmountError extends PayhookError {
  static fromWit(error) {
    return new AmountError(error.message, { code: error.code });
  }
}

/** A machine call was refused (WIT `machine-error`: `invalid-state` or `invalid-currency`). */
export class MachineError extends PayhookError {
  static fromWit(variant) {
    const message =
      variant.tag === 'invalid-state'
        ? `the state document is not a state of that machine: ${variant.val}`
        : `invalid currency code ${JSON.stringify(variant.val)}`;
    return new MachineError(message, { code: variant.tag, detail: variant.val });
  }
}

/** The component trapped. The instance is discarded; the next call gets a fresh one. */
export class EngineTrap extends PayhookError {
  constructor(cause) {
    super(`the engine component trapped: ${cause?.message ?? cause}`, { code: 'trap', cause });
  }
}

/** Maps a WIT `webhook-error` to the matching class. */
export function webhookError(variant) {
  return variant.tag === 'signature' ? SignatureError.fromWit(variant.val) : DecodeError.fromWit(variant.val);
}

function signatureMessage({ tag, val }) {
  switch (tag) {
    case 'missing-header':
      return 'the Stripe-Signature header is absent or empty';
    case 'header-too-large':
      return `the Stripe-Signature header has ${val.actual} bytes, more than ${val.max}`;
    case 'element-without-equals':
      return `element ${val} of the Stripe-Signature header has no '='`;
    case 'missing-timestamp':
      return 'the Stripe-Signature header has no t=';
    case 'duplicate-timestamp':
      return 'the Stripe-Signature header has t= more than once';
    case 'invalid-timestamp':
      return 'the signed timestamp t= is not 1 to 19 ASCII digits';
    case 'no-v1-signature':
      return 'the Stripe-Signature header has no v1= signature';
    case 'too-many-signatures':
      return `the Stripe-Signature header has ${val.actual} v1 signatures, more than ${val.max}`;
    case 'no-secret':
      return 'no signing secret was given';
    case 'blank-secret':
      return `signing secret #${val} is empty or white space`;
    case 'too-many-secrets':
      return `${val.actual} candidate signing secrets, more than ${val.max}`;
    case 'invalid-tolerance':
      return `the tolerance must be at least 1 second, got ${val}`;
    case 'body-too-large':
      return `the body has ${val.actual} bytes, more than ${val.max}`;
    case 'signature-mismatch':
      return 'no v1 signature matches the body under any candidate secret';
    case 'timestamp-too-old':
      return `the signed timestamp ${val.timestamp} is more than ${val.tolerance} s before now (${val.now})`;
    case 'timestamp-in-future':
      return `the signed timestamp ${val.timestamp} is more than ${val.tolerance} s after now (${val.now})`;
    default:
      return `signature error ${tag}`;
  }
}

function decodeMessage({ tag, val }) {
  switch (tag) {
    case 'invalid-utf8':
      return `the body is not UTF-8 (valid up to byte ${val})`;
    case 'invalid-json':
      return `the body is not a JSON object: ${val.message} at line ${val.line} column ${val.column}`;
    case 'nesting-too-deep':
      return 'the JSON is nested too deeply';
    case 'wrong-type':
      return `${val.field} must be ${val.expected}`;
    case 'missing-field':
      return `the event has no ${val}`;
    case 'not-an-event':
      return `the JSON is ${JSON.stringify(val)}, not an event`;
    case 'thin-event-notification':
      return `a thin event notification (${val.eventType} ${val.id}): fetch the event from the API`;
    case 'invalid-currency':
      return `invalid currency code ${JSON.stringify(val)}`;
    case 'invalid-amount':
      return `${val.field} is not a valid amount`;
    default:
      return `decode error ${tag}`;
  }
}
