// The API from TypeScript (type-checked by `npm run typecheck`; not run).
import { readFileSync } from 'node:fs';
import { Engine, SignatureError, type Decision, type Delivery } from '@payhook/engine';

export function settle(engine: Engine, header: string | undefined, body: Buffer, invoiceState: string): Decision[] {
  let delivery: Delivery;
  try {
    delivery = engine.receive(header, body, ['whsec_…'], { tolerance: 300 });
  } catch (e) {
    if (e instanceof SignatureError && e.code === 'timestamp-too-old') return [];
    throw e;
  }
  const out: Decision[] = [];
  for (const fact of delivery.facts) {
    if (fact.kind.tag === 'payment-succeeded') {
      const paid: bigint = fact.kind.val.minor;
      if (paid > 0n) out.push(engine.apply('invoice', invoiceState, fact));
    }
  }
  return out;
}

export const body: Buffer = readFileSync('event.json');
