import { receivedEvent } from '../erasure-requests.ts';
import {
  type ActionKey,
  type ActionOutcome,
  ERASURE_ACTIONS,
  type ErasureRequest,
  FINAL_STATUSES,
  type RequestStatus,
} from '../model.ts';
import { redact } from '../subject.ts';
import { ACTOR, load, type RequestInput, type RequestTaskDeps, record } from './task-context.ts';

/**
 * First step: checks the request may proceed and enters the waiting period (a window in which the sender may cancel).
 * On a resumed run it returns only what is left of the window.
 */
export async function loadRequest(deps: RequestTaskDeps, { requestId }: RequestInput) {
  let request = await load(deps, requestId);
  if (FINAL_STATUSES.includes(request.status)) {
    return { requestId, proceed: false, status: request.status, waitSeconds: 0 };
  }
  // Normally intake appended it; not when intake failed after storing the request and the sweeper started it.
  await deps.audit.append(requestId, receivedEvent(request));
  const waitEnds = new Date(request.receivedAt).getTime() + deps.waitingPeriodSeconds * 1000;
  const waitSeconds = Math.max(0, Math.ceil((waitEnds - deps.clock.now().getTime()) / 1000));
  if (request.status === 'received') {
    request = (await deps.requests.transition(requestId, ['received'], 'waiting')) ?? (await load(deps, requestId));
  }
  // Keyed, and only while waiting: a resumed run appends it if the first run crashed before, and a request canceled
  // in the meantime gets no "waiting started" after its cancel.
  if (request.status === 'waiting') {
    await deps.audit.append(requestId, {
      type: 'waiting.started',
      actor: ACTOR,
      key: 'waiting.started',
      data: { waitingPeriodSeconds: deps.waitingPeriodSeconds, until: new Date(waitEnds).toISOString() },
    });
  }
  const proceed = !FINAL_STATUSES.includes(request.status);
  return { requestId, proceed, status: request.status, waitSeconds: request.status === 'waiting' ? waitSeconds : 0 };
}

/** Ends the waiting period: only a request still waiting moves to processing; a canceled one stops here. */
export async function beginErasure(deps: RequestTaskDeps, { requestId }: RequestInput) {
  const moved = await deps.requests.transition(requestId, ['waiting', 'received'], 'processing');
  const request = moved ?? (await load(deps, requestId));
  const proceed = request.status === 'processing';
  // Keyed, and whenever processing: a retry after a crash between the status write and the append still appends it.
  if (proceed) {
    await deps.audit.append(requestId, { type: 'erasure.started', actor: ACTOR, key: 'erasure.started', data: {} });
  }
  return { requestId, proceed, status: request.status };
}

export interface FailureInput {
  requestId: string;
  action: ActionKey;
  /** What Step Functions' Catch puts in `ResultPath`: the error name and its cause (our messages carry no identifiers). */
  error?: { Error?: string; Cause?: string };
}

/** A branch whose retries ran out records `failed` with the error's name and message; the other branches carry on. */
export async function recordActionFailure(deps: RequestTaskDeps, input: FailureInput) {
  const request = await load(deps, input.requestId);
  const existing = request.actions[input.action];
  if (existing && existing.outcome !== 'pending') return { outcome: existing.outcome, count: existing.count };
  const name = input.error?.Error ?? 'Error';
  const reason = causeMessage(input.error?.Cause);
  return record(deps, request, input.action, {
    outcome: 'failed',
    // The records it had found, if it got that far: what remains to be erased, as far as is known.
    count: existing?.count ?? request.plans?.[input.action]?.ids.length ?? 0,
    ...(existing?.batchId === undefined ? {} : { batchId: existing.batchId }),
    errors: [redact(reason ? `${name}: ${reason}` : name)],
  });
}

function causeMessage(cause: string | undefined): string | undefined {
  if (!cause) return undefined;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // Not JSON: the cause is the message itself.
  }
  return cause;
}

/**
 * Destroys the stored identity, records the end, and only then sets the final status, so a reader who sees a final
 * status also sees its events. Every write is keyed or conditional: a retry after a crash at any point completes what is
 * missing with the same values (the first `request.completed` decides them) and returns the same chain head.
 */
export async function finalizeRequest(deps: RequestTaskDeps, { requestId }: RequestInput) {
  const request = await load(deps, requestId);
  const ended =
    request.status === 'completed' || request.status === 'partially_completed' || request.status === 'failed';
  if (request.status !== 'processing' && !ended) return { requestId, status: request.status };
  const recorded = (await deps.audit.list(requestId)).find((e) => e.key === 'request.completed')?.data;
  const status =
    (recorded?.status as RequestStatus | undefined) ??
    (request.status === 'processing' ? finalStatus(request) : request.status);
  const completedAt =
    (recorded?.completedAt as string | undefined) ?? request.completedAt ?? deps.clock.now().toISOString();

  // An action still pending here had its branch cut short (the Parallel state's Catch): it did not finish.
  for (const key of ERASURE_ACTIONS) {
    const action = request.actions[key];
    if (action?.outcome !== 'pending') continue;
    await record(deps, request, key, {
      ...action,
      outcome: 'failed',
      errors: [`the workflow ended before this action finished${action.batchId ? '; its batch may still run' : ''}`],
    });
  }
  await deps.requests.destroyIdentity(requestId);
  // Provider record ids are personal data too (they point at the person's records): kept no longer than needed.
  await deps.requests.forgetProviderIds(requestId);
  await deps.audit.append(requestId, { type: 'identity.destroyed', actor: ACTOR, key: 'identity.destroyed', data: {} });
  const last = await deps.audit.append(requestId, {
    type: 'request.completed',
    actor: ACTOR,
    key: 'request.completed',
    data: { status, completedAt, dueAt: request.dueAt, withinDeadline: completedAt <= request.dueAt },
  });
  await deps.requests.transition(requestId, ['processing'], status, { completedAt });
  // The chain head leaves the database in the task's log line and the execution history, both kept apart from the
  // tables: rewriting the events table afterwards, even consistently re-hashed, would no longer contain it.
  return { requestId, status, chainHead: { seq: last.seq, hash: last.hash } };
}

/**
 * `completed` when every erasure ended deleted / not found and the promoters were archived (or there were none);
 * `failed` when every erasure failed; `partially_completed` otherwise. A missing outcome counts as failed.
 */
export function finalStatus(request: ErasureRequest): RequestStatus {
  const erasures = ERASURE_ACTIONS.map((key) => request.actions[key]?.outcome ?? 'failed');
  const erased = (o: ActionOutcome) => o === 'deleted' || o === 'not_found' || o === 'skipped';
  const archive = request.actions['firstpromoter.promoters']?.outcome ?? 'failed';
  const archived = archive === 'archived' || archive === 'not_found' || archive === 'skipped';
  if (erasures.every((o) => o === 'failed')) return 'failed';
  return erasures.every(erased) && archived ? 'completed' : 'partially_completed';
}
