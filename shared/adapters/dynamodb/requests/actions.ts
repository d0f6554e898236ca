import { randomUUID } from 'node:crypto';
import type { ActionKey, ActionRecord, LinkedPseudonym, NewAuditEvent, RequestStatus } from '#shared/domain/model';
import type { ActionGuard } from '#shared/ports/audit';
import type { RequestWrite } from '../audit-chain.ts';
import { planAttribute, stripUndefined } from './items.ts';
import { chainFor, type RequestsTable, updatedRequest, updateRequest } from './table.ts';

/** `RequestRepository.recordAction`: an action's outcome, only while the guard holds, with its events. */
export async function recordAction(
  table: RequestsTable,
  id: string,
  key: ActionKey,
  record: ActionRecord,
  guard: ActionGuard,
  options: { events?: readonly NewAuditEvent[] } = {},
): Promise<boolean> {
  const names: Record<string, string> = { '#key': key };
  const values: Record<string, unknown> = { ':record': stripUndefined(record) };
  const guarded = guardConditions(guard, names, values, key);
  if (options.events?.length) {
    return writeWithEvents(table, id, options.events, {
      set: ['actions.#key = :record'],
      condition: guarded.join(' AND '),
      names,
      values,
    });
  }
  return updatedRequest(table, {
    Key: { id },
    UpdateExpression: 'SET actions.#key = :record',
    ConditionExpression: ['attribute_exists(id)', ...guarded].join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  });
}

/** `RequestRepository.planAction`: the provider ids an action is about to act on, written once. */
export async function planAction<T extends string | number>(
  table: RequestsTable,
  id: string,
  key: ActionKey,
  ids: readonly T[],
  at: string,
  guard: ActionGuard,
  options: { clearArchiveIdle?: boolean; linked?: readonly LinkedPseudonym[] } = {},
): Promise<{ ids: T[]; at: string; created: boolean } | undefined> {
  const token = randomUUID();
  const names: Record<string, string> = { '#plan': planAttribute(key) };
  const linked = options.linked?.length ? { linked: [...options.linked] } : {};
  const values: Record<string, unknown> = { ':plan': { ids: [...ids], at, token, ...linked } };
  const conditions = ['attribute_exists(id)', ...guardConditions(guard, names, values, key)];
  const updated = await updateRequest(table, {
    Key: { id },
    // In the same write as the plan: a cancel that reads the request after it sees a try in flight.
    UpdateExpression: `SET #plan = if_not_exists(#plan, :plan)${options.clearArchiveIdle ? ' REMOVE archiveIdleSince' : ''}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValues: 'ALL_NEW',
  });
  if (!updated) return undefined;
  const stored = (updated as Record<string, { ids: T[]; at: string; token: string }>)[planAttribute(key)];
  if (!stored) throw new Error(`Plan for ${key} was not stored`);
  return { ids: stored.ids, at: stored.at, created: stored.token === token };
}

/** `RequestRepository.markArchiveIdle`. */
export async function markArchiveIdle(
  table: RequestsTable,
  id: string,
  at: string,
  whileIn: readonly RequestStatus[],
): Promise<RequestStatus | undefined> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':at': at };
  const condition = guardConditions({ whileIn }, names, values, 'firstpromoter.promoters').join(' AND ');
  const updated = await updateRequest(table, {
    Key: { id },
    UpdateExpression: 'SET archiveIdleSince = :at',
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValues: 'ALL_NEW',
  });
  return (updated as { status?: RequestStatus } | undefined)?.status;
}

/** `RequestRepository.recordArchivedPromoters`: what was archived and its outcome, in one write. */
export async function recordArchivedPromoters(
  table: RequestsTable,
  id: string,
  promoterIds: readonly number[],
  record: ActionRecord,
  whileIn: readonly RequestStatus[],
  options: { events?: readonly NewAuditEvent[] } = {},
): Promise<boolean> {
  const names: Record<string, string> = { '#key': 'firstpromoter.promoters' };
  const values: Record<string, unknown> = { ':ids': [...promoterIds], ':record': stripUndefined(record) };
  const condition = guardConditions({ whileIn }, names, values, 'firstpromoter.promoters').join(' AND ');
  if (options.events?.length) {
    return writeWithEvents(table, id, options.events, {
      set: ['archivedPromoterIds = :ids', 'actions.#key = :record'],
      condition,
      names,
      values,
    });
  }
  return updatedRequest(table, {
    Key: { id },
    // One write for both: a cancel that reads the ids also sees the outcome, and a cancel that came first blocks both.
    UpdateExpression: 'SET archivedPromoterIds = :ids, actions.#key = :record',
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  });
}

/** A guarded write of the request item and its events, all or nothing: false when the guard did not hold. */
async function writeWithEvents(
  table: RequestsTable,
  id: string,
  events: readonly NewAuditEvent[],
  request: RequestWrite,
): Promise<boolean> {
  return (await chainFor(table, events).write(id, { events, request })).written;
}

/**
 * Conditions of a guarded write: the request is in one of `whileIn` (never empty: a write without a status condition
 * could land after the request ended) and its trail is not sealed; the action's outcome is not `unlessOutcome` (other
 * than the record `outcomeRead`, when given); no
 * plan, with `unlessPlanned`. The seal, not the status, is where a request ends: a cancel seals its trail and issues
 * the receipt while still `canceling`, and a second finisher of the same cancel (the sweeper and the cancel route at
 * once) must not rewrite an outcome the trail and the receipt already hold.
 */
function guardConditions(
  guard: ActionGuard,
  names: Record<string, string>,
  values: Record<string, unknown>,
  key: ActionKey,
): string[] {
  if (guard.whileIn.length === 0) throw new Error('A guarded write needs at least one status');
  names['#status'] = 'status';
  guard.whileIn.forEach((status, i) => {
    values[`:while${i}`] = status;
  });
  names['#sealed'] = 'chainSealed';
  const conditions = [
    `#status IN (${guard.whileIn.map((_, i) => `:while${i}`).join(', ')})`,
    'attribute_not_exists(#sealed)',
  ];
  if (guard.unlessOutcome) {
    names['#guardKey'] = key;
    names['#outcome'] = 'outcome';
    values[':unless'] = guard.unlessOutcome;
    const unless = ['attribute_not_exists(actions.#guardKey.#outcome)', 'actions.#guardKey.#outcome <> :unless'];
    if (guard.outcomeRead !== undefined) {
      names['#updatedAt'] = 'updatedAt';
      values[':read'] = guard.outcomeRead;
      unless.push('actions.#guardKey.#updatedAt = :read');
    }
    conditions.push(`(${unless.join(' OR ')})`);
  }
  if (guard.unlessPlanned) {
    names['#guardPlan'] = planAttribute(key);
    conditions.push('attribute_not_exists(#guardPlan)');
  }
  return conditions;
}
