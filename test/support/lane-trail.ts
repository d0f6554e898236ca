import { GENESIS_HASH, hashEvent, type LaneHeads, laneChainId } from '#shared/domain/chain';
import type { AuditEvent } from '#shared/domain/model';

/**
 * A hand-built sealed trail with lanes, hashed as the service hashes it: the request's chain (received, erasure
 * started, the sealing `request.completed` committing to each lane's head) and two lanes of the parallel branches.
 */
export function laneTrail(requestId: string): { events: AuditEvent[]; lanes: Record<string, AuditEvent[]> } {
  const lanes = {
    'referralrock.members': chain(laneChainId(requestId, 'referralrock.members'), [
      ['action.recorded', { key: 'referralrock.members', outcome: 'deleted', count: 2 }],
    ]),
    'firstpromoter.referrals': chain(laneChainId(requestId, 'firstpromoter.referrals'), [
      ['action.recorded', { key: 'firstpromoter.referrals', outcome: 'pending', count: 7, batchId: 9002 }],
      ['action.recorded', { key: 'firstpromoter.referrals', outcome: 'deleted', count: 7, batchId: 9002 }],
    ]),
  };
  const committed: LaneHeads = Object.fromEntries(
    Object.entries(lanes).map(([lane, events]) => [lane, { seq: events.length, hash: events.at(-1)?.hash ?? '' }]),
  );
  const events = chain(requestId, [
    ['request.received', { reference: 'DSR-1042' }],
    ['erasure.started', {}],
    ['request.completed', { status: 'completed', lanes: committed }],
  ]);
  return { events, lanes };
}

/** Events of one chain, each linked to the one before. */
export function chain(chainId: string, contents: Array<[string, Record<string, unknown>]>): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (const [index, [type, data]] of contents.entries()) {
    const unsigned = {
      requestId: chainId,
      seq: index + 1,
      type,
      at: new Date(Date.UTC(2026, 10, 21, 5, 20, index)).toISOString(),
      actor: 'workflow',
      data,
      key: `${type}:${index + 1}`,
      prevHash: events.at(-1)?.hash ?? GENESIS_HASH,
    };
    events.push({ ...unsigned, hash: hashEvent(unsigned), expiresAt: 0 });
  }
  return events;
}

/** An event changed as a tamperer who knows the algorithm would: re-hashed. */
export const rehashed = (event: AuditEvent): AuditEvent => ({ ...event, hash: hashEvent(event) });
