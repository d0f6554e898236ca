import { createHash } from 'node:crypto';
import type { AuditEvent } from './model.ts';

export const GENESIS_HASH = '0'.repeat(64);

/** Canonical JSON: object keys sorted at every level, so the hash does not depend on attribute order in storage. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The hash of an event covers every field but itself and its TTL, including the previous event's hash. */
export function hashEvent(event: Omit<AuditEvent, 'hash' | 'expiresAt'>): string {
  const { requestId, seq, type, at, actor, data, key, prevHash } = event;
  return createHash('sha256')
    .update(canonicalJson({ requestId, seq, type, at, actor, data, key, prevHash }))
    .digest('hex');
}

export interface ChainVerification {
  valid: boolean;
  events: number;
  /** The first event whose sequence, link or hash does not hold. */
  brokenAt?: number;
}

/** Checks that a request's events, in order, form an unbroken chain from the genesis hash. */
export function verifyChain(events: readonly AuditEvent[]): ChainVerification {
  let prevHash = GENESIS_HASH;
  for (const [index, event] of events.entries()) {
    if (event.seq !== index + 1 || event.prevHash !== prevHash || hashEvent(event) !== event.hash) {
      return { valid: false, events: events.length, brokenAt: event.seq };
    }
    prevHash = event.hash;
  }
  return { valid: true, events: events.length };
}
