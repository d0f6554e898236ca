import { CHAIN_LANES, GENESIS_HASH } from '#shared/domain/chain';
import { type AuditEvent, SEALING_EVENTS } from '#shared/domain/model';
import type { ChainLink } from '#shared/ports/audit';
import { currentInvocationBudget } from '#shared/workflow/invocation-budget';

/**
 * The head of a request's hash chain, kept on its request item so that a writer learns it from the one read of that
 * item it makes anyway (or from its own previous append) instead of reading every event. Attributes of the item:
 * `chainSeq` (the last event's seq; 0 before the first), `chainHash` (its hash), `chainKeys` (each idempotency key in
 * the chain, with the seq and hash of its event) and `chainSealed` (the sealing event, once one ended the chain: what
 * a receipt states of the end, read with the request). Each lane of the trail (`CHAIN_LANES`) keeps its head in an
 * attribute of its own, `lane:<lane>` = `{ seq, hash, keys }`, so the parallel branches never write the same one.
 */
export interface ChainView {
  /** What the request item's `chainSeq` holds (undefined: an item written before the head was kept there). */
  itemSeq: number | undefined;
  /** The last event of the chain. */
  seq: number;
  hash: string;
  keys: Record<string, ChainLink>;
  sealed: boolean;
  /** The sealing event, where the item holds it (an item sealed by an earlier version holds only the flag). */
  seal?: AuditEvent;
  /** The head of each lane with an event, by lane name. */
  lanes: Record<string, LaneHead>;
  /**
   * A head the caller carried over from an earlier step (`ChainWrite.after`), not read: its keys and lanes are
   * unknown, so a write planned on it also requires that none of its events' keys is in the chain.
   */
  hinted?: boolean;
}

/** The view of a head a caller carried over (see `hinted`). */
export const hintedChain = (head: ChainLink): ChainView => ({
  itemSeq: head.seq,
  seq: head.seq,
  hash: head.hash,
  keys: {},
  sealed: false,
  lanes: {},
  hinted: true,
});

/** The head of one lane of a request's trail, as its `lane:<lane>` attribute holds it. */
export interface LaneHead {
  /** What the item's attribute holds as the lane's seq (0: no attribute), which a write's condition names. */
  itemSeq: number;
  /** The lane's last event (beyond `itemSeq` only where events were found ahead of the item's head). */
  seq: number;
  hash: string;
  keys: Record<string, ChainLink>;
}

/** The attribute of the request item that holds a lane's head (top-level: a nested map would need creating first). */
export const laneAttribute = (lane: string): string => `lane:${lane}`;

export const CHAIN_ATTRIBUTES = [
  'chainSeq',
  'chainHash',
  'chainKeys',
  'chainSealed',
  ...CHAIN_LANES.map(laneAttribute),
] as const;

/** The chain of a request with no event yet. */
export const emptyChain = (): ChainView => ({
  itemSeq: 0,
  seq: 0,
  hash: GENESIS_HASH,
  keys: {},
  sealed: false,
  lanes: {},
});

/** The lane heads an item holds. */
export function lanesOfItem(item: Record<string, unknown>): Record<string, LaneHead> {
  const lanes: Record<string, LaneHead> = {};
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith('lane:') || !value || typeof value !== 'object') continue;
    const head = value as Partial<LaneHead>;
    lanes[name.slice('lane:'.length)] = {
      itemSeq: Number(head.seq ?? 0),
      seq: Number(head.seq ?? 0),
      hash: typeof head.hash === 'string' ? head.hash : GENESIS_HASH,
      keys: { ...(head.keys ?? {}) },
    };
  }
  return lanes;
}

/** The head a request item holds, or undefined for an item that does not hold one (written by an earlier version). */
export function chainOfItem(item: Record<string, unknown>): ChainView | undefined {
  if (typeof item.chainSeq !== 'number') return undefined;
  return {
    itemSeq: item.chainSeq,
    seq: item.chainSeq,
    hash: typeof item.chainHash === 'string' ? item.chainHash : GENESIS_HASH,
    keys: { ...((item.chainKeys as Record<string, ChainLink> | undefined) ?? {}) },
    sealed: item.chainSealed !== undefined && item.chainSealed !== false,
    ...(typeof item.chainSealed === 'object' && item.chainSealed !== null
      ? { seal: item.chainSealed as AuditEvent }
      : {}),
    lanes: lanesOfItem(item),
  };
}

/** The head as the events themselves give it (a trail from before heads were kept, or events ahead of the item's). */
export function chainOfEvents(
  events: readonly AuditEvent[],
  itemSeq: number | undefined,
  lanes: Record<string, LaneHead> = {},
): ChainView {
  const last = events.at(-1);
  const seal = events.find((e) => SEALING_EVENTS.includes(e.type));
  return {
    itemSeq,
    seq: last?.seq ?? 0,
    hash: last?.hash ?? GENESIS_HASH,
    keys: Object.fromEntries(events.map((e) => [e.key, { seq: e.seq, hash: e.hash }])),
    sealed: events.some((e) => SEALING_EVENTS.includes(e.type)),
    ...(seal ? { seal } : {}),
    lanes,
  };
}

/** The head a lane's events give (events found ahead of the lane's head on the item: see `audit-chain.ts`). */
export function laneOfEvents(events: readonly AuditEvent[], itemSeq: number): LaneHead {
  const last = events.at(-1);
  return {
    itemSeq,
    seq: last?.seq ?? 0,
    hash: last?.hash ?? GENESIS_HASH,
    keys: Object.fromEntries(events.map((e) => [e.key, { seq: e.seq, hash: e.hash }])),
  };
}

/** Item attributes without the heads (what a request's readers see). */
export function withoutChain<T extends Record<string, unknown>>(item: T): T {
  const { chainSeq: _s, chainHash: _h, chainKeys: _k, chainSealed: _x, ...rest } = item;
  for (const name of Object.keys(rest)) if (name.startsWith('lane:')) delete (rest as Record<string, unknown>)[name];
  return rest as T;
}

/**
 * The heads each invocation read or wrote, by chain id; gone with the invocation, so a warm Lambda container never
 * starts from another invocation's view. A view may be stale (another branch appended since): the write that uses it
 * is conditional on the head it names, so a stale view costs a re-read, never a wrong chain. `null` marks a chain
 * without a request item (a callback delivery log).
 */
const views = new WeakMap<object, Map<string, ChainView | null>>();

export function knownChain(chainId: string): ChainView | null | undefined {
  const invocation = currentInvocationBudget();
  return invocation ? views.get(invocation)?.get(chainId) : undefined;
}

export function rememberChain(chainId: string, view: ChainView | null): void {
  const invocation = currentInvocationBudget();
  if (!invocation) return;
  const known = views.get(invocation) ?? new Map<string, ChainView | null>();
  views.set(invocation, known);
  known.set(chainId, view);
}

/** Remembers the head of a request item just read or written (nothing for an item that holds none). */
export function rememberChainOf(item: Record<string, unknown> | undefined): void {
  if (!item || typeof item.id !== 'string') return;
  const view = chainOfItem(item);
  if (view) rememberChain(item.id, view);
}
