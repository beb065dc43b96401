// The package's API. The WIT types (Verified, Delivery, Decoded, Fact, Money, …) are generated
// from the component by jco at build time (`npm run build` writes gen/interfaces/*.d.ts).
import type { Decoded, Delivery, Fact, Verified, SignatureError as WitSignatureError, DecodeError as WitDecodeError } from '../gen/interfaces/payhook-engine-webhook.js';
import type { Money } from '../gen/interfaces/payhook-engine-types.js';
import type { Machine } from '../gen/interfaces/payhook-engine-machines.js';

export type { Decoded, Delivery, Event, Fact, FactKind, StripeObject, Verified } from '../gen/interfaces/payhook-engine-webhook.js';
export type { Money } from '../gen/interfaces/payhook-engine-types.js';
export type { Machine } from '../gen/interfaces/payhook-engine-machines.js';

/** An amount as an input: `minor` may be a number or a bigint. Outputs always carry a bigint. */
export interface MoneyInput {
  minor: number | bigint;
  currency: string;
}

/** The raw request body: text, or bytes that must be UTF-8. */
export type Body = string | Uint8Array;

export interface WebhookOptions {
  /** Unix seconds; defaults to the host's clock. */
  now?: number | bigint;
  /** Seconds either side of `now`; defaults to 300. Must be at least 1. */
  tolerance?: number | bigint;
}

/** The decision document `apply` returns, read. */
export interface Decision {
  /** True when the fact changed the record. */
  applied: boolean;
  /** The new state document to store, exactly as the engine wrote it; null when ignored. */
  next: string | null;
  /** What the host must do (`{"effect": "invoice_paid", …}`); empty when ignored. */
  effects: Array<{ effect: string; [field: string]: unknown }>;
  /** `"stale"`, `"duplicate"`, `"not_applicable"` or `{rejected: {condition}}`; null when applied. */
  ignored: string | { rejected: { condition: string; [field: string]: unknown } } | null;
  /** The whole decision document as the engine wrote it. */
  document: string;
}

export class PayhookError extends Error {
  /** The WIT case (`signature-mismatch`, …) or, for amounts, the engine's snake_case code. */
  readonly code: string;
  /** The case's payload as jco lifts it. */
  readonly detail: unknown;
}
export class WebhookError extends PayhookError {
  readonly kind: 'signature' | 'decode';
  /** `signature/<case>` or `decode/<case>`. */
  readonly tag: string;
}
export class SignatureError extends WebhookError {
  readonly kind: 'signature';
  readonly code: WitSignatureError['tag'];
  static fromWit(variant: WitSignatureError): SignatureError;
}
export class DecodeError extends WebhookError {
  readonly kind: 'decode';
  readonly code: WitDecodeError['tag'];
  static fromWit(variant: WitDecodeError): DecodeError;
}
export class AmountError extends PayhookError {}
export class MachineError extends PayhookError {
  readonly code: 'invalid-state' | 'invalid-currency';
}
export class EngineTrap extends PayhookError {
  readonly code: 'trap';
}

export const MAX_BODY_BYTES: number;
export const DEFAULT_TOLERANCE: number;
export const MACHINES: readonly Machine[];

export class Engine {
  constructor(options?: { freshInstance?: boolean });
  verify(header: string | null | undefined, body: Body, secrets: string | string[], options?: WebhookOptions): Verified;
  receive(header: string | null | undefined, body: Body, secrets: string | string[], options?: WebhookOptions): Delivery;
  decodeStored(body: Body): Decoded;
  sign(body: Body, secret: string, timestamp: number | bigint): string;
  parseAmount(text: string, currency: string): Money;
  formatAmount(amount: MoneyInput): string;
  checkChargeable(amount: MoneyInput): void;
  checkRefund(amount: MoneyInput, refundable: number | bigint): void;
  newInvoice(amountDue: MoneyInput): string;
  newAppointment(currency: string): string;
  newPayment(id: string, currency: string): string;
  newSubscription(): string;
  apply(machine: Machine, state: string, fact: Fact): Decision;
  applyDocument(machine: Machine, state: string, fact: Fact): string;
}

/** The shared engine behind the module-level functions. */
export function engine(): Engine;
export function coreWasmModule(): WebAssembly.Module;
export function readDecision(document: string): Decision;

export function verify(header: string | null | undefined, body: Body, secrets: string | string[], options?: WebhookOptions): Verified;
export function receive(header: string | null | undefined, body: Body, secrets: string | string[], options?: WebhookOptions): Delivery;
export function decodeStored(body: Body): Decoded;
export function sign(body: Body, secret: string, timestamp: number | bigint): string;
export function parseAmount(text: string, currency: string): Money;
export function formatAmount(amount: MoneyInput): string;
export function checkChargeable(amount: MoneyInput): void;
export function checkRefund(amount: MoneyInput, refundable: number | bigint): void;
export function newInvoice(amountDue: MoneyInput): string;
export function newAppointment(currency: string): string;
export function newPayment(id: string, currency: string): string;
export function newSubscription(): string;
export function apply(machine: Machine, state: string, fact: Fact): Decision;
