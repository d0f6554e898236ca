import type { ActionKey, ActionPlan, ErasureRequest } from '#shared/domain/model';
import { withoutChain } from '../chain-head.ts';

/** A request item as stored: the request, with top-level copies of its pseudonyms for the indexes. */
export type RequestItem = ErasureRequest & { emailPseudonym?: string; externalIdPseudonym?: string };

/** Plans are top-level attributes (`plan:referralrock.members`): a nested map would need creating first, racily. */
export const planAttribute = (key: ActionKey) => `plan:${key}`;

/** The request a request item holds, read by another adapter (with other items, in one BatchGetItem). */
export const requestOfItem = (item: Record<string, unknown>): ErasureRequest =>
  toRequest(item as unknown as RequestItem);

/** The request an item holds; a legacy `identity` attribute only when asked for (see `getRequest`). */
export function toRequest(item: RequestItem, keepLegacyIdentity = false): ErasureRequest {
  const {
    emailPseudonym: _e,
    externalIdPseudonym: _x,
    identity,
    ...rest
  } = withoutChain(item as RequestItem & Record<string, unknown>);
  if (keepLegacyIdentity && identity !== undefined) Object.assign(rest, { identity });
  const plans: Partial<Record<ActionKey, ActionPlan>> = {};
  const request: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(rest)) {
    if (name.startsWith('plan:')) {
      const { ids, at, linked } = value as ActionPlan;
      plans[name.slice('plan:'.length) as ActionKey] = { ids, at, ...(linked?.length ? { linked } : {}) };
    } else request[name] = value;
  }
  const typed = request as unknown as ErasureRequest;
  // Stored before canceledAt existed, a cancel's time was kept as completedAt: read it as what it was.
  if ((typed.status === 'canceling' || typed.status === 'canceled') && typed.completedAt && !typed.canceledAt) {
    const { completedAt, ...canceled } = typed;
    return toRequest({ ...canceled, canceledAt: completedAt } as RequestItem, keepLegacyIdentity);
  }
  return {
    ...typed,
    actions: typed.actions ?? {},
    ...(Object.keys(plans).length ? { plans } : {}),
    ...(typed.archivedPromoterIds ? { archivedPromoterIds: typed.archivedPromoterIds.map(Number) } : {}),
  };
}

/** The object without its undefined members (DynamoDB stores no undefined). */
export function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
