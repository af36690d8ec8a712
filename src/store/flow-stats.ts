/**
 * Claims held back by flow control, counted in this process per schema, queue and limit (the metrics
 * read them; labels stay bounded: one series per queue and configured limit, never per job or key).
 */
export type FlowLimitKind = 'max_in_flight' | 'rate' | 'key_max_in_flight' | 'key_rate';

const counts = new Map<string, number>();

function key(schema: string, queue: string, limit: FlowLimitKind): string {
  return `${schema}\u0000${queue}\u0000${limit}`;
}

/** Called by every claim on a queue with limits: counts it when a limit kept jobs from it. */
export function recordFlowClaim(
  schema: string,
  queue: string,
  capHit: boolean,
  rateHit: boolean,
  keyCapHit = false,
  keyRateHit = false,
): void {
  const bump = (limit: FlowLimitKind) =>
    counts.set(key(schema, queue, limit), (counts.get(key(schema, queue, limit)) ?? 0) + 1);
  if (capHit) bump('max_in_flight');
  if (rateHit) bump('rate');
  if (keyCapHit) bump('key_max_in_flight');
  if (keyRateHit) bump('key_rate');
}

/** Throttled claims so far for one schema: [queue, limit, count]. */
export function flowThrottleCounts(schema: string): Array<[string, FlowLimitKind, number]> {
  const out: Array<[string, FlowLimitKind, number]> = [];
  for (const [k, n] of counts) {
    const [s, q, l] = k.split('\u0000') as [string, string, FlowLimitKind];
    if (s === schema) out.push([q, l, n]);
  }
  return out;
}
