import { CHAIN_LANES, GENESIS_HASH, hashEvent, type LaneHeads, laneChainId } from '#shared/domain/chain';
import { addDays, epochSeconds } from '#shared/domain/dates';
import { type AuditEvent, type NewAuditEvent, SEALING_EVENTS } from '#shared/domain/model';
import { AuditTrailSealedError } from '#shared/errors';
import type { ChainLink } from '#shared/ports/audit';
import type { RequestWrite } from './audit-chain.ts';
import { type ChainView, type LaneHead, laneAttribute } from './chain-head.ts';

/**
 * How a write of events goes in (see `audit-chain.ts`): the events planned on the heads a writer knows, each in its
 * chain (the request's or a lane's), and the change of the request item that moves those heads, conditional on them.
 * Nothing here does I/O.
 */

/**
 * The events not in the trail yet, each linked after the head of its chain (the request's, or its lane's), and the
 * heads they make (nothing is written). A sealing event's data gains the lane heads it commits to.
 * @throws AuditTrailSealedError for an event not in the trail that follows a sealing event of the same write (in a
 *   lane or in the chain): the seal committed to the heads before it, and the head's condition cannot refuse it
 */
export function planEvents(
  chainId: string,
  view: ChainView,
  events: readonly NewAuditEvent[],
  options: { now: Date; retentionDays: number },
): ChainPlan {
  const next: ChainView = {
    ...view,
    keys: { ...view.keys },
    lanes: Object.fromEntries(
      Object.entries(view.lanes).map(([lane, head]) => [lane, { ...head, keys: { ...head.keys } }]),
    ),
  };
  const pending: AuditEvent[] = [];
  const links: ChainLink[] = [];
  const lanes = new Set<string>();
  let main = false;
  const { now, retentionDays } = options;
  for (const event of events) {
    // An action's event an earlier version appended to the request's chain is found there too.
    const head: Pick<LaneHead, 'seq' | 'hash' | 'keys'> = event.lane
      ? (next.lanes[event.lane] ?? { itemSeq: 0, seq: 0, hash: GENESIS_HASH, keys: {} })
      : next;
    const known = event.key === undefined ? undefined : (head.keys[event.key] ?? next.keys[event.key]);
    if (known) {
      links.push(known);
      continue;
    }
    if (next.seal && !view.sealed) throw new AuditTrailSealedError(chainId, event.type);
    const seq = head.seq + 1;
    const sealing = !event.lane && SEALING_EVENTS.includes(event.type);
    const committed: LaneHeads = Object.fromEntries(
      Object.entries(next.lanes).map(([lane, { seq, hash }]) => [lane, { seq, hash }]),
    );
    const unsigned = {
      requestId: event.lane ? laneChainId(chainId, event.lane) : chainId,
      seq,
      type: event.type,
      at: now.toISOString(),
      actor: event.actor,
      data: sealing && Object.keys(committed).length > 0 ? { ...event.data, lanes: committed } : event.data,
      key: event.key ?? `${event.type}#${seq}`,
      prevHash: head.hash,
    };
    const item: AuditEvent = {
      ...unsigned,
      hash: hashEvent(unsigned),
      expiresAt: epochSeconds(addDays(now, retentionDays)),
    };
    pending.push(item);
    links.push({ seq, hash: item.hash });
    head.seq = seq;
    head.hash = item.hash;
    head.keys[item.key] = { seq, hash: item.hash };
    if (event.lane) {
      next.lanes[event.lane] = head as LaneHead;
      lanes.add(event.lane);
    } else main = true;
    if (sealing) {
      next.sealed = true;
      next.seal = item;
    }
  }
  return { pending, links, next, main, lanes: [...lanes], itemSeq: main ? next.seq : view.itemSeq };
}

/**
 * The change of the request item a write makes (the request's own change, and the heads its events move) with its
 * condition: each head it moves is the one the plan linked to, a lane write holds only while the trail is not sealed,
 * and a seal names every lane's head. Undefined when the write changes nothing on the item.
 */
export function headUpdate(
  table: string,
  chainId: string,
  view: ChainView,
  plan: ChainPlan,
  request: RequestWrite | undefined,
) {
  if (plan.pending.length === 0 && !request) return undefined;
  const set = [...(request?.set ?? [])];
  const names: Record<string, string> = { ...request?.names };
  const values: Record<string, unknown> = { ...request?.values };
  const conditions = ['attribute_exists(id)'];
  if (plan.main) {
    set.push('chainSeq = :chainSeq', 'chainHash = :chainHash');
    Object.assign(values, { ':chainSeq': plan.next.seq, ':chainHash': plan.next.hash });
    if (view.hinted) {
      // Not knowing the keys the chain holds, the write adds its own to them rather than replacing them.
      plan.pending.forEach((event, i) => {
        if (event.requestId !== chainId) return;
        names[`#chainKey${i}`] = event.key;
        set.push(`chainKeys.#chainKey${i} = :chainKey${i}`);
        values[`:chainKey${i}`] = { seq: event.seq, hash: event.hash };
      });
    } else {
      set.push('chainKeys = :chainKeys');
      values[':chainKeys'] = plan.next.keys;
    }
    if (plan.next.seal && !view.sealed) {
      set.push('chainSealed = :chainSealed');
      values[':chainSealed'] = plan.next.seal;
    }
    if (view.itemSeq === undefined) conditions.push('attribute_not_exists(chainSeq)');
    else {
      conditions.push('chainSeq = :chainExpected');
      values[':chainExpected'] = view.itemSeq;
    }
    if (view.hinted) {
      plan.pending.forEach((event, i) => {
        if (event.requestId !== chainId) return;
        names[`#chainKey${i}`] = event.key;
        conditions.push(`attribute_not_exists(chainKeys.#chainKey${i})`);
      });
    }
  }
  // A lane write names only its lane's head, and holds only while the trail is not sealed; the seal names every
  // lane's head, so it commits to the heads as they are when it lands.
  const sealing = plan.next.seal !== undefined && !view.sealed;
  const lanes = sealing ? [...new Set([...CHAIN_LANES, ...Object.keys(view.lanes)])] : plan.lanes;
  if (plan.lanes.length > 0 && !sealing) conditions.push('attribute_not_exists(chainSealed)');
  lanes.forEach((lane, i) => {
    names[`#chainLane${i}`] = laneAttribute(lane);
    const expected = view.lanes[lane]?.itemSeq ?? 0;
    if (expected > 0) {
      names['#chainLaneSeq'] = 'seq';
      conditions.push(`#chainLane${i}.#chainLaneSeq = :chainLaneExpected${i}`);
      values[`:chainLaneExpected${i}`] = expected;
    } else conditions.push(`attribute_not_exists(#chainLane${i})`);
    const head = plan.next.lanes[lane];
    if (plan.lanes.includes(lane) && head) {
      set.push(`#chainLane${i} = :chainLane${i}`);
      values[`:chainLane${i}`] = { seq: head.seq, hash: head.hash, keys: head.keys };
    }
  });
  if (request?.condition) conditions.push(`(${request.condition})`);
  const expression = [
    set.length ? `SET ${set.join(', ')}` : '',
    request?.remove?.length ? `REMOVE ${request.remove.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return {
    TableName: table,
    Key: { id: chainId },
    UpdateExpression: expression,
    ConditionExpression: conditions.join(' AND '),
    ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
}

export interface ChainPlan {
  /** The events to put, linked in order after the head of their chain (the request's or a lane's). */
  pending: AuditEvent[];
  /** Each given event's place in its chain, appended now or found there. */
  links: ChainLink[];
  /** The heads once the pending events are in. */
  next: ChainView;
  /** Whether events go to the request's own chain (its head on the item moves). */
  main: boolean;
  /** The lanes the pending events go to. */
  lanes: string[];
  /** What the request item's `chainSeq` holds once written (moved only by events of the request's chain). */
  itemSeq: number | undefined;
}

/** The heads a plan makes, as the item holds them once it is written. */
export function written(plan: ChainPlan): ChainView {
  const lanes = Object.fromEntries(
    Object.entries(plan.next.lanes).map(([lane, head]) => [
      lane,
      plan.lanes.includes(lane) ? { ...head, itemSeq: head.seq } : head,
    ]),
  );
  return { ...plan.next, itemSeq: plan.itemSeq, lanes };
}

/** Whether a fresh read of the heads is the view a refused write was planned on (then its own condition failed). */
export function sameHeads(fresh: ChainView, view: ChainView): boolean {
  if (fresh.itemSeq !== view.itemSeq || fresh.sealed !== view.sealed) return false;
  const lanes = new Set([...Object.keys(fresh.lanes), ...Object.keys(view.lanes)]);
  return [...lanes].every((lane) => (fresh.lanes[lane]?.itemSeq ?? 0) === (view.lanes[lane]?.itemSeq ?? 0));
}
