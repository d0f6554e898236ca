import type { DeadlineExtension } from '#shared/domain/deadline-extension';
import {
  ACTION_KEYS,
  type ErasureRequest,
  FINAL_STATUSES,
  type NewAuditEvent,
  OPEN_STATUSES,
  type RequestStatus,
} from '#shared/domain/model';
import { AuditTrailSealedError } from '#shared/errors';
import type { ChainLink, TransitionOptions } from '#shared/ports/audit';
import type { RequestWrite } from '../audit-chain.ts';
import { planAttribute, type RequestItem, stripUndefined, toRequest } from './items.ts';
import { chainFor, identitiesOf, type RequestsTable, readRequest, updateRequest } from './table.ts';

/** `RequestRepository.transition`: the status move only if the request is in one of `from`. */
export async function transitionRequest(
  table: RequestsTable,
  id: string,
  from: readonly RequestStatus[],
  to: RequestStatus,
  options: TransitionOptions = {},
): Promise<ErasureRequest | undefined> {
  const move = statusMove(from, to, options);
  const updated = await updateRequest(table, {
    Key: { id },
    UpdateExpression: [`SET ${move.set.join(', ')}`, move.remove.length ? `REMOVE ${move.remove.join(', ')}` : '']
      .filter(Boolean)
      .join(' '),
    ConditionExpression: `attribute_exists(id) AND ${move.condition}`,
    ExpressionAttributeNames: move.names,
    ExpressionAttributeValues: move.values,
    ReturnValues: 'ALL_NEW',
  });
  if (!updated) return undefined;
  if (options.destroyIdentity) await identitiesOf(table).delete(id);
  return toRequest(updated as unknown as RequestItem);
}

/** `RequestRepository.transitionWithEvents`: the same move and its events, in one write. */
export async function transitionRequestWithEvents(
  table: RequestsTable,
  id: string,
  from: readonly RequestStatus[],
  to: RequestStatus,
  options: TransitionOptions & { events: readonly NewAuditEvent[]; after?: ChainLink },
): Promise<ChainLink[] | undefined> {
  const { events, after, ...transition } = options;
  // The same write as `transition`, with the events and (to destroy the identity) its deletion: the chain mechanism
  // of every write that records itself (`AuditChain.write`).
  const result = await chainFor(table, events).write(id, {
    events,
    request: statusMove(from, to, transition),
    ...(transition.destroyIdentity ? { also: [{ Delete: { TableName: table.identitiesName, Key: { id } } }] } : {}),
    ...(after ? { after } : {}),
  });
  if (!result.written) return undefined;
  if (transition.destroyIdentity) await identitiesOf(table).makeFinal();
  return result.links;
}

/** The names of the attributes that hold provider record ids (plans, archived promoters), bound into `names`. */
function providerIdAttributes(names: Record<string, string>): string[] {
  ACTION_KEYS.forEach((key, i) => {
    names[`#p${i}`] = planAttribute(key);
  });
  return ['archivedPromoterIds', 'archiveIdleSince', ...ACTION_KEYS.map((_, i) => `#p${i}`)];
}

/** `RequestRepository.forgetProviderIds`. */
export async function forgetProviderIds(table: RequestsTable, id: string): Promise<void> {
  const names: Record<string, string> = {};
  await updateRequest(table, {
    Key: { id },
    UpdateExpression: `REMOVE ${providerIdAttributes(names).join(', ')}`,
    ConditionExpression: 'attribute_exists(id)',
    ExpressionAttributeNames: names,
  });
}

/**
 * `RequestRepository.destroyIdentity`.
 * @throws AuditTrailSealedError when events are given and the trail has ended (the identity is destroyed all the same)
 */
export async function destroyIdentity(
  table: RequestsTable,
  id: string,
  options: { forgetProviderIds?: boolean; events?: readonly NewAuditEvent[] } = {},
): Promise<ChainLink[]> {
  // A request stored before the identities table held its identity itself; only such an item is written, unless the
  // provider ids or events go in the same write (then always: one round trip instead of two).
  const names: Record<string, string> = { '#identity': 'identity' };
  const remove = ['#identity'];
  if (options.forgetProviderIds) remove.push(...providerIdAttributes(names));
  if (options.events?.length) {
    // The identity's deletion, the request item's change and the events land together: the trail records the
    // destruction in the very write that makes it.
    const result = await chainFor(table, options.events).write(id, {
      events: options.events,
      request: { remove, names },
      also: [{ Delete: { TableName: table.identitiesName, Key: { id } } }],
    });
    if (result.written) {
      await identitiesOf(table).makeFinal();
      return result.links;
    }
    // Refused: the chain ended meanwhile. The identity goes all the same; the events cannot.
    await destroyIdentity(table, id, { forgetProviderIds: options.forgetProviderIds });
    throw new AuditTrailSealedError(id, options.events[0]?.type ?? 'event');
  }
  await updateRequest(table, {
    Key: { id },
    UpdateExpression: `REMOVE ${remove.join(', ')}`,
    ConditionExpression: options.forgetProviderIds ? 'attribute_exists(id)' : 'attribute_exists(#identity)',
    ExpressionAttributeNames: names,
  });
  await identitiesOf(table).delete(id);
  return [];
}

/** `RequestRepository.destroyStrayIdentities`. */
export async function destroyStrayIdentities(table: RequestsTable, createdBefore: string): Promise<string[]> {
  const destroyed: string[] = [];
  for (const { id, createdAt } of await identitiesOf(table).listKeys()) {
    const request = await readRequest(table, id);
    const stray = request ? FINAL_STATUSES.includes(request.status) : createdAt < createdBefore;
    if (!stray) continue;
    await identitiesOf(table).delete(id);
    destroyed.push(id);
  }
  return destroyed;
}

/** `RequestRepository.extendDeadline`. */
export async function extendDeadline(
  table: RequestsTable,
  id: string,
  change: { dueAt: string; extension: DeadlineExtension; now: string },
): Promise<ErasureRequest | undefined> {
  const values: Record<string, unknown> = {
    ':dueAt': change.dueAt,
    ':extension': stripUndefined(change.extension),
    ':previousDueAt': change.extension.previousDueAt,
    ':now': change.now,
  };
  OPEN_STATUSES.forEach((status, i) => {
    values[`:open${i}`] = status;
  });
  const updated = await updateRequest(table, {
    Key: { id },
    UpdateExpression: 'SET dueAt = :dueAt, extension = :extension',
    // ISO 8601 UTC strings of one format compare as the instants they name.
    ConditionExpression: `attribute_exists(id) AND #status IN (${OPEN_STATUSES.map((_, i) => `:open${i}`).join(', ')}) AND attribute_not_exists(extension) AND dueAt = :previousDueAt AND dueAt >= :now`,
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: values,
    ReturnValues: 'ALL_NEW',
  });
  return updated ? toRequest(updated as unknown as RequestItem) : undefined;
}

/** A status move as a change of the request item: what is set and removed, and the status it requires. */
function statusMove(
  from: readonly RequestStatus[],
  to: RequestStatus,
  options: TransitionOptions,
): Required<Pick<RequestWrite, 'set' | 'remove' | 'condition' | 'names' | 'values'>> {
  const names: Record<string, string> = { '#status': 'status' };
  const values: Record<string, unknown> = { ':to': to };
  from.forEach((status, i) => {
    values[`:from${i}`] = status;
  });
  const set = ['#status = :to'];
  if (options.completedAt) {
    set.push('completedAt = :completedAt');
    values[':completedAt'] = options.completedAt;
  }
  if (options.canceledAt) {
    set.push('canceledAt = :canceledAt');
    values[':canceledAt'] = options.canceledAt;
  }
  Object.entries(options.set ?? {}).forEach(([name, value], i) => {
    set.push(`#set${i} = :set${i}`);
    names[`#set${i}`] = name;
    values[`:set${i}`] = value;
  });
  const remove: string[] = [];
  // A request stored before the identities table held its identity itself. `identity` is a DynamoDB reserved word.
  if (options.destroyIdentity) {
    remove.push('#identity');
    names['#identity'] = 'identity';
  }
  const condition = `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`;
  return { set, remove, condition, names, values };
}
