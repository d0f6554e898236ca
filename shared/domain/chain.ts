import { createHash } from 'node:crypto';
import { type AuditEvent, SEALING_EVENTS } from './model.ts';

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

/**
 * The lanes of a request's trail: one per provider action. The workflow's erasure steps run in parallel branches, the
 * archive step beside a cancel or an extension; were they all to append to the request's chain, each write would be
 * conditional on the one head the others move, and they would keep refusing each other's writes. So each action's
 * events go to a lane of its own: a hash chain like the request's (seq from 1, `prevHash` from the genesis hash),
 * under the chain id {@link laneChainId}, whose head no other writer moves. The request's chain keeps its own story
 * (received, waiting, erasure started, cancel, identity destroyed, the end). The sealing event (`request.completed`,
 * `request.canceled`) commits to every lane's head in its `data.lanes` (`{ [lane]: { seq, hash } }`; absent: no lane
 * has an event), and the store refuses every lane event after the seal, so a sealed trail is one tamper-evident
 * whole: the request's chain, and through its seal each lane.
 */
export const CHAIN_LANES = [
  'firstpromoter.promoters',
  'referralrock.members',
  'referralrock.referrals',
  'firstpromoter.referrals',
] as const;
export type ChainLane = (typeof CHAIN_LANES)[number];

/** The chain id of a request's lane: what its events hold as `requestId` (and hash with). */
export const laneChainId = (requestId: string, lane: string): string => `${requestId}/lanes/${lane}`;

/** The lane an action's events go to, if the key names an action. */
export function laneOfAction(key: string): ChainLane | undefined {
  return (CHAIN_LANES as readonly string[]).includes(key) ? (key as ChainLane) : undefined;
}

/** The lane heads a sealing event commits to: `{ [lane]: { seq, hash } }`. */
export type LaneHeads = Record<string, { seq: number; hash: string }>;

export interface TrailVerification extends ChainVerification {
  /** The lane in which the trail broke; with `brokenAt` its event, or (for `problem: 'lane-head'`) the seal's seq. */
  brokenLane?: string;
  /**
   * `lane-head`: the lane does not end where the request's sealing event says it does (cut off, or added to).
   * `lane-twice`: a view lists the lane more than once (see {@link verifyViewTrail}); `brokenAt` is absent.
   * `after-seal`: `brokenAt` follows the request's sealing event in its own chain (without `brokenLane`).
   */
  problem?: 'lane-head' | 'lane-twice' | 'after-seal';
}

/**
 * Checks a request's whole trail: its chain (`events`), each lane's chain (`lanes`, by lane name; each event's
 * `requestId` is the lane's chain id), and, once the trail is sealed, that the sealing event ends the request's chain
 * (an event linked after it needs no rewrite, only a put, so the links alone cannot show it) and that every lane ends
 * exactly at the head the sealing event commits to (a lane that is not named there must have no event). `events`
 * counts every event checked.
 */
export function verifyTrail(
  events: readonly AuditEvent[],
  lanes: Readonly<Record<string, readonly AuditEvent[]>> = {},
): TrailVerification {
  const total = events.length + Object.values(lanes).reduce((n, lane) => n + lane.length, 0);
  const main = verifyChain(events);
  if (!main.valid) return { ...main, events: total };
  const names = Object.keys(lanes).sort();
  for (const lane of names) {
    const checked = verifyChain(lanes[lane] ?? []);
    if (!checked.valid) return { valid: false, events: total, brokenAt: checked.brokenAt as number, brokenLane: lane };
  }
  const seal = events.find((e) => SEALING_EVENTS.includes(e.type));
  if (seal) {
    const after = events.find((e) => e.seq > seal.seq);
    if (after) return { valid: false, events: total, brokenAt: after.seq, problem: 'after-seal' };
    const committed = (seal.data.lanes ?? {}) as LaneHeads;
    for (const lane of [...new Set([...Object.keys(committed), ...names])].sort()) {
      const last = lanes[lane]?.at(-1);
      const head = committed[lane];
      if ((last?.seq ?? 0) !== (head?.seq ?? 0) || (last && last.hash !== head?.hash)) {
        return { valid: false, events: total, brokenAt: seal.seq, brokenLane: lane, problem: 'lane-head' };
      }
    }
  }
  return { valid: true, events: total };
}

/** An event as a request's view (`GET /v1/erasure-requests/{id}`) shows it: its chain id and TTL left out. */
export type ViewEvent = Omit<AuditEvent, 'requestId' | 'expiresAt'>;

/** The parts of a request's view that its trail is checked from. */
export interface TrailView {
  id: string;
  events: readonly ViewEvent[];
  lanes?: ReadonlyArray<{ lane: string; events: readonly ViewEvent[] }>;
}

/**
 * Checks a request's trail as its view shows it, taking nothing from the view but the events: each event's chain id
 * is recomputed from the request id (a lane's with {@link laneChainId}), and a lane listed twice breaks the trail
 * (`problem: 'lane-twice'`), for a verifier that checked one listing would vouch for the other, which a reader may be
 * shown instead. Then as {@link verifyTrail}.
 * @returns the verification, with the events and lanes as they were checked (chain ids filled in, TTL 0)
 */
export function verifyViewTrail(view: TrailView): {
  verification: TrailVerification;
  events: AuditEvent[];
  lanes: Record<string, AuditEvent[]>;
} {
  const events = view.events.map((event) => ({ ...event, requestId: view.id, expiresAt: 0 }));
  // Without a prototype: a lane the view names `__proto__` is a lane like any other, checked, not a prototype set.
  const lanes: Record<string, AuditEvent[]> = Object.create(null);
  let twice: string | undefined;
  for (const { lane, events: laneEvents } of view.lanes ?? []) {
    if (Object.hasOwn(lanes, lane)) twice ??= lane;
    lanes[lane] = laneEvents.map((event) => ({ ...event, requestId: laneChainId(view.id, lane), expiresAt: 0 }));
  }
  const total = events.length + (view.lanes ?? []).reduce((n, lane) => n + lane.events.length, 0);
  const verification: TrailVerification =
    twice === undefined
      ? verifyTrail(events, lanes)
      : { valid: false, events: total, brokenLane: twice, problem: 'lane-twice' };
  return { verification, events, lanes };
}
