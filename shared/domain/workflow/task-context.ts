import type { CallbackScheduler } from '#shared/callbacks/delivery';
import type { IdentityCipher } from '#shared/crypto/identity-cipher';
import type { ActionGuard, AuditLog, Clock, RequestRepository } from '#shared/ports/audit';
import type { ReceiptIssuer } from '#shared/ports/evidence';
import type { FirstPromoterPort, ReferralRockPort } from '#shared/ports/providers';
import { laneOfAction } from '../chain.ts';
import type { CancelRequestOperations } from '../erasure-requests.ts';
import {
  ACTIONS,
  type ActionKey,
  type ActionOutcome,
  type ActionRecord,
  type ErasureRequest,
  type Identity,
  type NewAuditEvent,
  OPEN_STATUSES,
  type ReadBackProof,
  type RequestStatus,
} from '../model.ts';

/**
 * The steps of the erasure workflow. Each takes and returns only the request id and non-personal values (Step Functions
 * keeps execution state for 90 days), reads the identity from the encrypted store, and is idempotent: run twice, it
 * reaches the same result without acting twice, so Retry, redrive and a resumed local run are safe.
 */

export interface TaskDeps {
  requests: RequestRepository;
  audit: AuditLog;
  clock: Clock;
  cipher: IdentityCipher;
  referralRock: ReferralRockPort;
  firstPromoter: FirstPromoterPort;
  waitingPeriodSeconds: number;
  batchPoll: { intervalSeconds: number; maxIntervalSeconds: number; timeoutSeconds: number };
  /**
   * Seconds a provider step failing for a reason a later try may clear is sent back to run again, from its first such
   * failure, before the read-back decides what it leaves failed (PROVIDER_RETRY_WINDOW_SECONDS; absent: 0, at once).
   */
  retryWindowSeconds?: number;
  /** Issues the signed receipt of a request as it ends (finalize, or a cancel the archive step finishes). */
  receipts?: ReceiptIssuer;
  /** Completion callbacks, started where a request ends; absent when none are configured. */
  callbacks?: CallbackScheduler;
}

/** The request steps' dependencies: of the requests store, only the operations they run (so request-tasks binds those). */
export type RequestTaskDeps = Pick<TaskDeps, 'audit' | 'clock' | 'waitingPeriodSeconds' | 'receipts' | 'callbacks'> & {
  requests: Pick<RequestRepository, 'get' | 'recordAction' | 'transition' | 'transitionWithEvents' | 'destroyIdentity'>;
};
/** Of the requests store, the Referral Rock steps run only these (so referralrock-tasks binds just those). */
export type ReferralRockTaskDeps = Pick<TaskDeps, 'clock' | 'cipher' | 'referralRock' | 'retryWindowSeconds'> & {
  requests: Pick<RequestRepository, 'get' | 'recordAction' | 'planAction'>;
};
/** Of the requests store, the FirstPromoter steps run these: the archive step may end a cancel (finishCancel). */
export type FirstPromoterTaskDeps = Pick<
  TaskDeps,
  'audit' | 'clock' | 'cipher' | 'firstPromoter' | 'batchPoll' | 'receipts' | 'callbacks' | 'retryWindowSeconds'
> & {
  requests: CancelRequestOperations &
    Pick<RequestRepository, 'planAction' | 'recordArchivedPromoters' | 'markArchiveIdle'>;
  /**
   * PSEUDONYM_KEY: the archive step writes down the pseudonyms of the promoters' own identifiers with its plan (see
   * `linkedPseudonyms`), so a cancel finds the person's requests made under them. Without it, none are linked.
   */
  pseudonymKey?: Buffer;
};

export const ACTOR = 'workflow';

export interface RequestInput {
  requestId: string;
}

/** Raised when a task runs for a request whose identity is gone (it ended); not retryable. */
export class IdentityUnavailableError extends Error {
  override name = 'IdentityUnavailableError';
}

export class RequestMissingError extends Error {
  override name = 'RequestMissingError';
}

export async function load(
  deps: { requests: Pick<RequestRepository, 'get'> },
  requestId: string,
): Promise<ErasureRequest> {
  const request = await deps.requests.get(requestId);
  if (!request) throw new RequestMissingError(`Erasure request ${requestId} does not exist`);
  return request;
}

export function identityOf(deps: Pick<TaskDeps, 'cipher'>, request: ErasureRequest): Identity {
  if (!request.identity) throw new IdentityUnavailableError(`Erasure request ${request.id} has no stored identity`);
  return JSON.parse(deps.cipher.decrypt(request.identity, request.id)) as Identity;
}

/**
 * Records an action's outcome and its `action.recorded` event in one write, only while the request is open (by
 * default): a step still running after finalize or a cancel began finds its write refused by the store, records
 * nothing and appends nothing. Returns what was recorded, or `skipped` when the write was refused.
 */
export async function record(
  deps: Pick<TaskDeps, 'clock'> & { requests: Pick<RequestRepository, 'recordAction'> },
  request: ErasureRequest,
  key: ActionKey,
  fields: Omit<ActionRecord, 'provider' | 'action' | 'updatedAt'>,
  guard: ActionGuard = { whileIn: OPEN_STATUSES },
): Promise<{ outcome: ActionOutcome; count: number }> {
  const entry: ActionRecord = { ...ACTIONS[key], ...fields, updatedAt: deps.clock.now().toISOString() };
  const events = [actionEvent(request, key, entry)];
  if (!(await deps.requests.recordAction(request.id, key, entry, guard, { events }))) {
    return { outcome: 'skipped', count: 0 };
  }
  return { outcome: fields.outcome, count: fields.count };
}

/**
 * Records `not_found` in one write, with the search as its proof (`verification`), when the search found nothing and no attempt wrote down ids to act on: with neither,
 * there is nothing to plan and nothing a retry could have deleted. False (nothing written) when a plan exists or the
 * request is no longer in `whileIn`: the caller then goes the planned way, which decides from the plan.
 */
export async function recordNothingFound(
  deps: Pick<TaskDeps, 'clock'> & { requests: Pick<RequestRepository, 'recordAction'> },
  request: ErasureRequest,
  key: ActionKey,
  whileIn: readonly RequestStatus[],
  verification: ReadBackProof,
): Promise<boolean> {
  if (request.plans?.[key]) return false;
  const entry: ActionRecord = {
    ...ACTIONS[key],
    outcome: 'not_found',
    count: 0,
    verification,
    updatedAt: deps.clock.now().toISOString(),
  };
  const events = [actionEvent(request, key, entry)];
  return deps.requests.recordAction(request.id, key, entry, { whileIn, unlessPlanned: true }, { events });
}

/**
 * The `action.recorded` event of an action's outcome: keyed by action and outcome, so each is in the trail once; an
 * erasure action's goes to its lane of the trail (its branch runs beside the others: see `CHAIN_LANES`). A `pending`
 * outcome is keyed by its batch too: a step that followed a batch not its own starts one of its own, and the trail
 * must show each batch the record named, not only the first (the same batch recorded again is still one event).
 */
export function actionEvent(request: ErasureRequest, key: ActionKey, entry: ActionRecord): NewAuditEvent {
  const { updatedAt: _u, ...data } = entry;
  const lane = laneOfAction(key);
  return {
    type: 'action.recorded',
    actor: ACTOR,
    key:
      entry.outcome === 'pending' && entry.batchId !== undefined
        ? `action:${key}:pending:${entry.batchId}`
        : `action:${key}:${entry.outcome}`,
    data: { key, ...data, searched: request.subject.identifiers },
    ...(lane ? { lane } : {}),
  };
}

/**
 * Appends an outcome's event where the outcome was recorded without it (by an earlier version, which wrote the two
 * apart); keyed, so an event already in the trail is not appended again.
 */
export async function appendActionEvent(
  deps: Pick<TaskDeps, 'audit'>,
  request: ErasureRequest,
  key: ActionKey,
  entry: ActionRecord,
): Promise<void> {
  await deps.audit.append(request.id, actionEvent(request, key, entry));
}
