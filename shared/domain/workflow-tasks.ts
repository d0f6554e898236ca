import { summarizeBatch } from '#shared/adapters/firstpromoter/batch';
import type { IdentityCipher } from '#shared/crypto/identity-cipher';
import type { ActionGuard, AuditLog, Clock, RequestRepository } from '#shared/ports/audit';
import type { Batch, FirstPromoterPort, ReferralRockPort, RemoveResult } from '#shared/ports/providers';
import { receivedEvent, restoreArchivedPromoters } from './erasure-requests.ts';
import {
  ACTIONS,
  type ActionKey,
  type ActionOutcome,
  type ActionRecord,
  ERASURE_ACTIONS,
  type ErasureRequest,
  FINAL_STATUSES,
  type Identity,
  type RequestStatus,
} from './model.ts';
import { redact } from './subject.ts';

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
}

export type RequestTaskDeps = Pick<TaskDeps, 'requests' | 'audit' | 'clock' | 'waitingPeriodSeconds'>;
export type ReferralRockTaskDeps = Pick<TaskDeps, 'requests' | 'audit' | 'clock' | 'cipher' | 'referralRock'>;
export type FirstPromoterTaskDeps = Pick<
  TaskDeps,
  'requests' | 'audit' | 'clock' | 'cipher' | 'firstPromoter' | 'batchPoll'
>;

const ACTOR = 'workflow';

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

async function load(deps: Pick<TaskDeps, 'requests'>, requestId: string): Promise<ErasureRequest> {
  const request = await deps.requests.get(requestId);
  if (!request) throw new RequestMissingError(`Erasure request ${requestId} does not exist`);
  return request;
}

function identityOf(deps: Pick<TaskDeps, 'cipher'>, request: ErasureRequest): Identity {
  if (!request.identity) throw new IdentityUnavailableError(`Erasure request ${request.id} has no stored identity`);
  return JSON.parse(deps.cipher.decrypt(request.identity, request.id)) as Identity;
}

async function record(
  deps: Pick<TaskDeps, 'requests' | 'audit' | 'clock'>,
  request: ErasureRequest,
  key: ActionKey,
  fields: Omit<ActionRecord, 'provider' | 'action' | 'updatedAt'>,
  guard?: ActionGuard,
): Promise<{ outcome: ActionOutcome; count: number }> {
  const entry: ActionRecord = { ...ACTIONS[key], ...fields, updatedAt: deps.clock.now().toISOString() };
  if (await deps.requests.recordAction(request.id, key, entry, guard))
    await appendActionEvent(deps, request, key, entry);
  return { outcome: fields.outcome, count: fields.count };
}

async function appendActionEvent(
  deps: Pick<TaskDeps, 'audit'>,
  request: ErasureRequest,
  key: ActionKey,
  entry: ActionRecord,
): Promise<void> {
  const { updatedAt: _u, ...data } = entry;
  await deps.audit.append(request.id, {
    type: 'action.recorded',
    actor: ACTOR,
    key: `action:${key}:${entry.outcome}`,
    data: { key, ...data, searched: request.subject.identifiers },
  });
}

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

/**
 * Archives the subject's FirstPromoter promoters before anything is erased. FirstPromoter v2 has no promoter delete;
 * archiving blocks the promoter everywhere and is reversible, so a canceled request can restore exactly what it archived.
 * Promoters archived before this request are left alone, and never restored by it.
 */
export async function archivePromoters(deps: FirstPromoterTaskDeps, { requestId }: RequestInput) {
  const request = await load(deps, requestId);
  const key = 'firstpromoter.promoters';
  const open = ['received', 'waiting'] as const;
  const done = request.actions[key];
  if (done && done.outcome !== 'pending') return { outcome: done.outcome, count: done.count };
  if (!open.includes(request.status as (typeof open)[number])) return { outcome: 'skipped' as const, count: 0 };

  const promoters = await deps.firstPromoter.findPromoters(identityOf(deps, request));
  const candidates = promoters.filter((p) => p.archived_at === null).map((p) => p.id);
  const alreadyArchived = promoters.length - candidates.length;
  // The set is fixed before the call, and only while the request is open: a retry archives (and a cancel restores)
  // the same promoters, and nothing is planned, let alone archived, after a cancel.
  const plan = await deps.requests.planAction(requestId, key, candidates, deps.clock.now().toISOString(), {
    whileIn: open,
  });
  if (!plan) return { outcome: 'skipped' as const, count: 0 };
  const { ids } = plan;
  if (ids.length === 0) {
    return record(
      deps,
      request,
      key,
      {
        outcome: alreadyArchived > 0 ? 'skipped' : 'not_found',
        count: 0,
        ...(alreadyArchived > 0
          ? { errors: [`${alreadyArchived} promoter(s) were already archived before this request`] }
          : {}),
      },
      { whileIn: open },
    );
  }

  const batch = await deps.firstPromoter.archivePromoters(ids);
  const summary = summarizeBatch(batch);
  const outcome: ActionOutcome =
    summary.state === 'partial'
      ? 'partial'
      : summary.state === 'failed' || summary.state === 'stopped'
        ? 'failed'
        : 'archived';
  const errors = [
    ...(summary.errorCount > 0 ? [`${summary.errorCount} processing error(s) reported by FirstPromoter`] : []),
    // More than 5 promoters: FirstPromoter archives them in a batch, which this step does not follow to its end.
    ...(summary.state === 'running' ? [`archive batch ${batch.id} was still ${batch.status} when recorded`] : []),
  ];
  const entry: ActionRecord = {
    ...ACTIONS[key],
    outcome,
    count: ids.length,
    batchId: batch.id,
    ...(errors.length ? { errors } : {}),
    updatedAt: deps.clock.now().toISOString(),
  };
  if (!(await deps.requests.recordArchivedPromoters(requestId, ids, entry, open))) {
    // A cancel came while the archive call was in flight and may have restored before the archive landed. The restore
    // is marked pending first, so a crash here still leaves it to the sweeper, then done (restoring is idempotent).
    await deps.requests.markRestorePending(requestId);
    await restoreArchivedPromoters(deps, request, ACTOR, ids);
    await deps.requests.clearRestorePending(requestId);
    return { outcome: 'restored' as const, count: ids.length };
  }
  await appendActionEvent(deps, request, key, entry);
  return { outcome, count: ids.length };
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

/**
 * Erases the subject's Referral Rock members or own referrals. The ids found are written down before the remove, and
 * the outcome is judged by searching again afterwards, not by the remove's answer alone: a retry after a lost answer or
 * a crash then counts what the first attempt deleted as deleted (not "not found"), and removes only what is left.
 */
async function eraseReferralRock(
  deps: ReferralRockTaskDeps,
  requestId: string,
  key: 'referralrock.members' | 'referralrock.referrals',
) {
  const request = await load(deps, requestId);
  const done = request.actions[key];
  if (done && done.outcome !== 'pending') return { outcome: done.outcome, count: done.count };
  const identity = identityOf(deps, request);
  const members = key === 'referralrock.members';
  const search = async () =>
    members
      ? (await deps.referralRock.findMembers(identity)).map((m) => m.id)
      : (await deps.referralRock.findReferrals(identity)).map((r) => r.id);

  const found = await search();
  // Only while processing: a step still running after the workflow moved on (finalized) must not start acting.
  const plan = await deps.requests.planAction(requestId, key, found, deps.clock.now().toISOString(), {
    whileIn: ['processing'],
  });
  if (!plan) return { outcome: 'skipped' as const, count: 0 };
  const subjectRecords = new Set([...plan.ids, ...found]);
  if (subjectRecords.size === 0) return record(deps, request, key, { outcome: 'not_found', count: 0 });

  const results: RemoveResult[] =
    found.length === 0
      ? []
      : members
        ? await deps.referralRock.removeMembers(found)
        : await deps.referralRock.removeReferrals(found);
  const remaining = (await search()).filter((id) => subjectRecords.has(id));
  const deleted = subjectRecords.size - remaining.length;
  const outcome: ActionOutcome = remaining.length === 0 ? 'deleted' : deleted > 0 ? 'partial' : 'failed';
  const refused = results.filter((r) => !r.deleted).length;
  // The provider's Message is free text that may name the person (a name, a phone number, another identifier): it is
  // never stored. The audit trail is append-only, so what goes in must be safe for good.
  const errors =
    remaining.length === 0
      ? []
      : [
          `${remaining.length} of ${subjectRecords.size} record(s) still present at Referral Rock after removal` +
            (refused > 0 ? ` (${refused} refused; its messages are not kept)` : ''),
        ];
  return record(deps, request, key, {
    outcome,
    count: outcome === 'failed' ? subjectRecords.size : deleted,
    ...(errors.length ? { errors } : {}),
  });
}

export const eraseReferralRockMembers = (deps: ReferralRockTaskDeps, { requestId }: RequestInput) =>
  eraseReferralRock(deps, requestId, 'referralrock.members');

export const eraseReferralRockReferrals = (deps: ReferralRockTaskDeps, { requestId }: RequestInput) =>
  eraseReferralRock(deps, requestId, 'referralrock.referrals');

export interface BatchPollState {
  requestId: string;
  done: boolean;
  batchId?: number;
  polls: number;
  startedAt?: string;
  waitSeconds: number;
}

/**
 * Deletes the subject's FirstPromoter referrals. Up to 5 ids FirstPromoter finishes at once; more start an asynchronous
 * batch, which the workflow then polls with `pollFirstPromoterBatch`.
 */
export async function startFirstPromoterReferralDeletion(
  deps: FirstPromoterTaskDeps,
  { requestId }: RequestInput,
): Promise<BatchPollState> {
  const key = 'firstpromoter.referrals';
  const request = await load(deps, requestId);
  const done = request.actions[key];
  if (done?.outcome === 'pending' && done.batchId !== undefined) {
    // A retried start after the batch was created: keep polling that batch rather than deleting again.
    return { requestId, done: false, batchId: done.batchId, polls: 0, startedAt: done.updatedAt, waitSeconds: 0 };
  }
  if (done) return { requestId, done: true, polls: 0, waitSeconds: 0 };

  const identity = identityOf(deps, request);
  const found = (await deps.firstPromoter.findReferrals(identity)).map((r) => r.id);
  const plan = await deps.requests.planAction(requestId, key, found, deps.clock.now().toISOString(), {
    whileIn: ['processing'],
  });
  if (!plan) return { requestId, done: true, polls: 0, waitSeconds: 0 };
  const subjectRecords = new Set([...plan.ids, ...found]);
  if (subjectRecords.size === 0) {
    await record(deps, request, key, { outcome: 'not_found', count: 0 });
    return { requestId, done: true, polls: 0, waitSeconds: 0 };
  }
  if (found.length === 0) {
    // Everything planned is gone: a delete whose answer was lost (or whose batch finished) did the work.
    await record(deps, request, key, { outcome: 'deleted', count: subjectRecords.size });
    return { requestId, done: true, polls: 0, waitSeconds: 0 };
  }
  // An earlier attempt got as far as writing its plan, so it may have sent the delete and lost the answer. A batch it
  // started and that is still running is adopted rather than a second one started over the same referrals; its end is
  // then verified by searching again, like any batch's.
  const adopted = plan.created ? undefined : await findEarlierBatch(deps, plan);
  if (adopted) return followBatch(deps, request, adopted, [...subjectRecords]);
  const batch = await deps.firstPromoter.deleteReferrals(found);
  return followBatch(deps, request, batch, [...subjectRecords]);
}

/** A running referral-delete batch of this account created after the plan was written, for the planned number of ids. */
async function findEarlierBatch(deps: FirstPromoterTaskDeps, plan: { ids: Array<string | number>; at: string }) {
  const since = new Date(plan.at).getTime() - 60_000; // provider and service clocks may differ a little
  return (await deps.firstPromoter.listBatches()).find(
    (b) =>
      b.action_label === 'referral/delete' &&
      (b.status === 'pending' || b.status === 'in_progress') &&
      new Date(b.created_at).getTime() >= since &&
      (b.selected_total === plan.ids.length || b.total === plan.ids.length),
  );
}

async function followBatch(
  deps: FirstPromoterTaskDeps,
  request: ErasureRequest,
  batch: Batch,
  planned: number[],
): Promise<BatchPollState> {
  const requestId = request.id;
  const summary = summarizeBatch(batch);
  if (summary.state === 'running') {
    await record(deps, request, 'firstpromoter.referrals', {
      outcome: 'pending',
      count: planned.length,
      batchId: batch.id,
    });
    return {
      requestId,
      done: false,
      batchId: batch.id,
      polls: 0,
      startedAt: deps.clock.now().toISOString(),
      waitSeconds: deps.batchPoll.intervalSeconds,
    };
  }
  await recordBatchEnd(deps, request, summary, planned);
  return { requestId, done: true, batchId: batch.id, polls: 0, waitSeconds: 0 };
}

/**
 * One poll of a running batch. The wait before the next poll doubles up to BATCH_POLL_MAX_INTERVAL_SECONDS; a batch still
 * running after BATCH_POLL_TIMEOUT_SECONDS ends the action `failed`, keeping its batch id for follow-up.
 */
export async function pollFirstPromoterBatch(
  deps: FirstPromoterTaskDeps,
  state: BatchPollState,
): Promise<BatchPollState> {
  const key = 'firstpromoter.referrals';
  const request = await load(deps, state.requestId);
  const current = request.actions[key];
  if (current && current.outcome !== 'pending') return { ...state, done: true, waitSeconds: 0 };
  if (state.batchId === undefined) throw new RequestMissingError('No batch to poll');

  const batch = await deps.firstPromoter.getBatch(state.batchId);
  const summary = summarizeBatch(batch);
  const polls = state.polls + 1;
  const count = current?.count ?? summary.total;
  if (summary.state !== 'running') {
    await recordBatchEnd(deps, request, summary, (request.plans?.['firstpromoter.referrals']?.ids ?? []).map(Number));
    return { ...state, polls, done: true, waitSeconds: 0 };
  }
  const startedAt = new Date(state.startedAt ?? current?.updatedAt ?? deps.clock.now().toISOString()).getTime();
  const elapsedSeconds = (deps.clock.now().getTime() - startedAt) / 1000;
  if (elapsedSeconds >= deps.batchPoll.timeoutSeconds) {
    await record(deps, request, key, {
      outcome: 'failed',
      count,
      batchId: summary.batchId,
      errors: [`batch still ${batch.status} after ${Math.round(elapsedSeconds)}s (poll timeout)`],
    });
    return { ...state, polls, done: true, waitSeconds: 0 };
  }
  const { intervalSeconds, maxIntervalSeconds } = deps.batchPoll;
  const waitSeconds = Math.min(maxIntervalSeconds, intervalSeconds * 2 ** polls);
  return { ...state, polls, done: false, waitSeconds };
}

/**
 * Records how a deletion batch ended, judged by searching again rather than by the batch's counters alone: what is still
 * there is not erased, whatever the batch says (and a batch adopted by mistake cannot pass for this subject's).
 */
async function recordBatchEnd(
  deps: FirstPromoterTaskDeps,
  request: ErasureRequest,
  summary: ReturnType<typeof summarizeBatch>,
  planned: readonly number[],
) {
  const remainingNow = (await deps.firstPromoter.findReferrals(identityOf(deps, request))).map((r) => r.id);
  const subjectRecords = new Set([...planned, ...remainingNow]);
  const deleted = subjectRecords.size - remainingNow.length;
  const outcome: ActionOutcome = remainingNow.length === 0 ? 'deleted' : deleted > 0 ? 'partial' : 'failed';
  const errors: string[] = [];
  if (summary.state === 'stopped') errors.push('batch was stopped before it finished');
  if (summary.state === 'failed') errors.push('batch failed');
  if (summary.failed > 0) errors.push(`${summary.failed} of ${summary.total} item(s) failed`);
  if (summary.errorCount > 0) errors.push(`${summary.errorCount} processing error(s) reported by FirstPromoter`);
  if (remainingNow.length > 0) {
    errors.push(`${remainingNow.length} of ${subjectRecords.size} referral(s) still present after the batch`);
  }
  return record(deps, request, 'firstpromoter.referrals', {
    outcome,
    count: outcome === 'failed' ? subjectRecords.size : deleted,
    batchId: summary.batchId,
    ...(errors.length ? { errors } : {}),
  });
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
  if (request.identity) await deps.requests.destroyIdentity(requestId);
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

/** The tasks each workflow function runs, by the `task` name the state machine passes. */
export const requestTasks = { loadRequest, beginErasure, recordActionFailure, finalizeRequest };
export const referralRockTasks = { eraseReferralRockMembers, eraseReferralRockReferrals };
export const firstPromoterTasks = { archivePromoters, startFirstPromoterReferralDeletion, pollFirstPromoterBatch };
