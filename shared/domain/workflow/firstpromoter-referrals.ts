import { ProviderRequestError, RetryLaterError } from '#shared/errors';
import type { Batch, BatchSummary } from '#shared/ports/providers';
import { summarizeBatch } from '../batch.ts';
import { type ErasureRequest, OPEN_STATUSES } from '../model.ts';
import { type FailureInput, judgeByReadBack, readBackProof } from './read-back.ts';
import { MAX_SENDS_BACK_PER_WINDOW, type StepRetry } from './retry-window.ts';
import {
  type FirstPromoterTaskDeps,
  identityOf,
  load,
  type RequestInput,
  RequestMissingError,
  record,
  recordNothingFound,
} from './task-context.ts';

/**
 * The FirstPromoter referral delete: up to 5 ids FirstPromoter deletes at once, more in an asynchronous batch the
 * workflow polls to its end. Every end is judged by searching again; a batch the step did not start itself is only a
 * guess at its own (FirstPromoter does not say which ids a batch holds), so what it leaves is deleted by one it starts.
 */

export interface BatchPollState {
  requestId: string;
  done: boolean;
  batchId?: number;
  /**
   * Whether this step's own delete started the batch (kept in the record too, `ownBatch`, for a try that follows it
   * again). Otherwise (a batch found running after a lost answer) it may be another request's: FirstPromoter does not
   * say which ids a batch holds.
   */
  own?: boolean;
  /** What the record of the batch's end is to say besides (non-personal), e.g. that another batch was followed first. */
  notes?: string[];
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
    // A retried start after the batch was created: keep polling that batch rather than deleting again, as the step's
    // own when the record says its delete started it (else a batch it ended with ids left would make it delete anew).
    const own = done.ownBatch === true;
    return { requestId, done: false, batchId: done.batchId, own, polls: 0, startedAt: done.updatedAt, waitSeconds: 0 };
  }
  if (done) return { requestId, done: true, polls: 0, waitSeconds: 0 };

  const identity = identityOf(deps, request);
  const found = (await deps.firstPromoter.findReferrals(identity)).map((r) => r.id);
  const nothing = readBackProof(identity, 0, 'not_found', deps.clock.now());
  if (found.length === 0 && (await recordNothingFound(deps, request, key, ['processing'], nothing))) {
    return { requestId, done: true, polls: 0, waitSeconds: 0 };
  }
  const plan = await deps.requests.planAction(requestId, key, found, deps.clock.now().toISOString(), {
    whileIn: ['processing'],
  });
  if (!plan) return { requestId, done: true, polls: 0, waitSeconds: 0 };
  const subjectRecords = new Set([...plan.ids, ...found]);
  if (found.length === 0) {
    // The search that found nothing is the proof. With a plan, everything planned is gone: a delete whose answer was
    // lost (or whose batch finished) did the work.
    const outcome = subjectRecords.size === 0 ? 'not_found' : 'deleted';
    const verification = readBackProof(identity, 0, outcome, deps.clock.now());
    await record(deps, request, key, { outcome, count: subjectRecords.size, verification });
    return { requestId, done: true, polls: 0, waitSeconds: 0 };
  }
  // An earlier attempt got as far as writing its plan, so it may have sent the delete and lost the answer. A batch it
  // started and that is still running is adopted rather than a second one started over the same referrals; its end is
  // then verified by searching again, like any batch's.
  const adopted = plan.created ? undefined : await findEarlierBatch(deps, plan);
  if (adopted) return followBatch(deps, request, adopted, [...subjectRecords], { own: false });
  return deleteAndFollow(deps, request, found, [...subjectRecords], plan);
}

/**
 * Deletes `ids` and follows the batch. An error answer can come after FirstPromoter started the batch (it acted, then
 * answered 404/422): a batch it started is followed to its end, as an adopted one is (not known to be this step's),
 * rather than judged by a search made before it ran.
 */
async function deleteAndFollow(
  deps: FirstPromoterTaskDeps,
  request: ErasureRequest,
  ids: number[],
  planned: number[],
  plan: { ids: Array<string | number>; at: string },
  notes: string[] = [],
): Promise<BatchPollState> {
  let batch: Batch;
  try {
    batch = await deps.firstPromoter.deleteReferrals(ids);
  } catch (error) {
    const started = error instanceof ProviderRequestError ? await findEarlierBatch(deps, plan) : undefined;
    if (!started) throw error;
    return followBatch(deps, request, started, planned, { own: false, notes });
  }
  return followBatch(deps, request, batch, planned, { own: true, notes });
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
  { own, notes = [] }: { own: boolean; notes?: string[] },
): Promise<BatchPollState> {
  const requestId = request.id;
  const summary = summarizeBatch(batch);
  if (summary.state === 'running') {
    await record(deps, request, 'firstpromoter.referrals', {
      outcome: 'pending',
      count: planned.length,
      batchId: batch.id,
      ...(own ? { ownBatch: true } : {}),
    });
    return {
      requestId,
      done: false,
      batchId: batch.id,
      own,
      ...(notes.length ? { notes } : {}),
      polls: 0,
      startedAt: deps.clock.now().toISOString(),
      waitSeconds: deps.batchPoll.intervalSeconds,
    };
  }
  return endOfBatch(deps, request, summary, planned, { own, polls: 0, reported: notes });
}

/**
 * Polls of one batch over its poll time, at the most (beside the first doubling ones): each costs some 13 events of
 * the execution's history (the Choice, the Wait, the task, its deferral Choice and the Pass), which Step Functions ends
 * for good at 25,000, shared with the retry windows' send-backs (`retry-window.ts`).
 */
export const MAX_POLLS_PER_BATCH = 500;

/**
 * The longest wait between two polls of a batch, in seconds: BATCH_POLL_MAX_INTERVAL_SECONDS, or, for a poll time
 * (BATCH_POLL_TIMEOUT_SECONDS, up to 30 days) longer than {@link MAX_POLLS_PER_BATCH} such waits, that share of it,
 * so a batch followed to the end of its poll time keeps the execution's history bounded (30 days: 5,184 s).
 */
export function longestBatchWait(batchPoll: { maxIntervalSeconds: number; timeoutSeconds: number }): number {
  return Math.max(batchPoll.maxIntervalSeconds, Math.ceil(batchPoll.timeoutSeconds / MAX_POLLS_PER_BATCH));
}

/**
 * One poll of a running batch. The wait before the next poll doubles up to {@link longestBatchWait}; a batch still
 * running after BATCH_POLL_TIMEOUT_SECONDS ends the action by a read-back: what is still found is `failed` (or
 * `partial`), keeping the batch id for follow-up.
 */
export async function pollFirstPromoterBatch(
  deps: FirstPromoterTaskDeps,
  state: BatchPollState,
): Promise<BatchPollState> {
  const key = 'firstpromoter.referrals';
  if (state.batchId === undefined) throw new RequestMissingError('No batch to poll');
  const batch = await deps.firstPromoter.getBatch(state.batchId);
  const summary = summarizeBatch(batch);
  const polls = state.polls + 1;
  const startedAt = state.startedAt === undefined ? undefined : new Date(state.startedAt).getTime();
  const elapsedSeconds = startedAt === undefined ? undefined : (deps.clock.now().getTime() - startedAt) / 1000;
  const waitSeconds = Math.min(longestBatchWait(deps.batchPoll), deps.batchPoll.intervalSeconds * 2 ** polls);
  // A batch still running within its time needs nothing from the tables: only its end is recorded.
  if (summary.state === 'running' && elapsedSeconds !== undefined && elapsedSeconds < deps.batchPoll.timeoutSeconds) {
    return { ...state, polls, done: false, waitSeconds };
  }

  const request = await load(deps, state.requestId);
  const current = request.actions[key];
  if (current && current.outcome !== 'pending') return { ...state, done: true, waitSeconds: 0 };
  const planned = (request.plans?.[key]?.ids ?? []).map(Number);
  const own = state.own === true;
  const notes = state.notes ?? [];
  if (summary.state !== 'running') return endOfBatch(deps, request, summary, planned, { own, polls, reported: notes });
  const since = new Date(state.startedAt ?? current?.updatedAt ?? deps.clock.now().toISOString()).getTime();
  const elapsed = (deps.clock.now().getTime() - since) / 1000;
  if (elapsed >= deps.batchPoll.timeoutSeconds) {
    return endOfBatch(deps, request, summary, planned, {
      own,
      polls,
      reported: [...notes, `batch still ${batch.status} after ${Math.round(elapsed)}s (poll timeout)`],
    });
  }
  return { ...state, polls, done: false, waitSeconds };
}

/**
 * The end of a followed batch (or the end of the wait for it), judged by searching again. A batch this step did not
 * start itself (found running after a lost answer, or followed again after a restart) may have been another request's
 * of the same size, since FirstPromoter does not say which ids a batch holds: when it leaves the subject's referrals
 * still there, the step deletes them with a batch of its own and follows that one, rather than record as failed what
 * it never tried to delete. What its own batch leaves is recorded (`failed` or `partial`).
 */
async function endOfBatch(
  deps: FirstPromoterTaskDeps,
  request: ErasureRequest,
  summary: BatchSummary,
  planned: readonly number[],
  options: { own: boolean; polls: number; reported?: string[] },
): Promise<BatchPollState> {
  const identity = identityOf(deps, request);
  const remainingNow = (await deps.firstPromoter.findReferrals(identity)).map((r) => r.id);
  if (!options.own && remainingNow.length > 0) {
    const all = [...new Set([...planned, ...remainingNow])];
    const followed = `batch ${summary.batchId}, not known to be this step's own, ended with the referrals still there`;
    return deleteAndFollow(
      deps,
      request,
      remainingNow,
      all,
      { ids: remainingNow, at: deps.clock.now().toISOString() },
      [...(options.reported ?? []), followed],
    );
  }
  await recordBatchEnd(deps, request, summary, planned, remainingNow, [...(options.reported ?? [])]);
  return { requestId: request.id, done: true, batchId: summary.batchId, polls: options.polls, waitSeconds: 0 };
}

/**
 * Records how a deletion batch ended (or was given up on), judged by the search made after it (`remainingNow`) rather
 * than by the batch's counters: what is still there is not erased, whatever the batch says. What the batch reported is
 * kept as errors when referrals remain, as notes when none do.
 */
async function recordBatchEnd(
  deps: FirstPromoterTaskDeps,
  request: ErasureRequest,
  summary: BatchSummary,
  planned: readonly number[],
  remainingNow: readonly number[],
  reported: string[] = [],
) {
  const identity = identityOf(deps, request);
  const checkedAt = deps.clock.now();
  const verdict = judgeByReadBack(planned, remainingNow, 'deleted');
  if (summary.state === 'stopped') reported.push('batch was stopped before it finished');
  if (summary.state === 'failed') reported.push('batch failed');
  if (summary.failed > 0) reported.push(`${summary.failed} of ${summary.total} item(s) failed`);
  if (summary.errorCount > 0) reported.push(`${summary.errorCount} processing error(s) reported by FirstPromoter`);
  const remarks =
    verdict.remaining > 0
      ? { errors: [...reported, `${verdict.remaining} of ${verdict.total} referral(s) still present after the batch`] }
      : reported.length
        ? { notes: [...reported, 'a search afterwards found none of them left'] }
        : {};
  return record(deps, request, 'firstpromoter.referrals', {
    outcome: verdict.outcome,
    count: verdict.count,
    batchId: summary.batchId,
    verification: readBackProof(identity, verdict.remaining, verdict.outcome, checkedAt),
    ...remarks,
  });
}

/**
 * Whether the settle task of the referral delete, its search still finding referrals, must go back to following its
 * batch rather than record them not erased. The poll can end with an error no retry clears (or its retry window past)
 * while the batch still runs: the search then finds the referrals the batch is about to delete, and `failed` would be
 * recorded though FirstPromoter deletes them afterwards. So while a batch recorded `pending` is within its poll time
 * (BATCH_POLL_TIMEOUT_SECONDS from its record, as the poll's own limit), it is asked once (`GET /batch_processes/{id}`):
 * one that ended, or that FirstPromoter no longer knows, is judged by a search made again (the batch may have ended
 * after the first); one still running, or that could
 * not be asked (in doubt, nothing is judged), sends the step back to follow it after a wait (BATCH_POLL_MAX_INTERVAL_SECONDS,
 * or a hundredth of the poll time when longer), as the retry window does (asked after the window's own decision, so a
 * failure it retries is retried as before). Past its poll time the search
 * judges, as the poll does at its timeout.
 * @returns the step's retry; `'ended'` when the batch was found ended (or unknown), so the search that found the
 *   referrals, made before, is made again; undefined to judge now
 * @throws RetryLaterError when the poll has to wait for the rate budget (the settle task is deferred)
 */
export async function batchStillToFollow(
  deps: FirstPromoterTaskDeps,
  request: ErasureRequest,
  input: FailureInput,
): Promise<StepRetry | 'ended' | undefined> {
  const key = 'firstpromoter.referrals';
  const pending = request.actions[key];
  if (pending?.outcome !== 'pending' || pending.batchId === undefined) return undefined;
  if (!OPEN_STATUSES.includes(request.status)) return undefined;
  const now = deps.clock.now();
  const leftSeconds = deps.batchPoll.timeoutSeconds - (now.getTime() - Date.parse(pending.updatedAt)) / 1000;
  if (!(leftSeconds >= 1)) return undefined;
  try {
    const { state } = summarizeBatch(await deps.firstPromoter.getBatch(pending.batchId));
    if (state !== 'running') return 'ended';
  } catch (error) {
    if (error instanceof RetryLaterError) throw error;
    if (error instanceof Error && error.name === 'BatchNotFoundError') return 'ended';
  }
  const previous = input.state?.settle;
  const failingSince =
    previous?.action === key && previous.failingSince !== undefined ? previous.failingSince : now.toISOString();
  // Each send-back costs some 30 events of the execution's history, which Step Functions ends at 25,000: over a poll
  // time of up to 30 days, at most MAX_SENDS_BACK_PER_WINDOW of them, as the retry window allows.
  const longest = Math.max(
    longestBatchWait(deps.batchPoll),
    Math.ceil(deps.batchPoll.timeoutSeconds / MAX_SENDS_BACK_PER_WINDOW),
  );
  const wait = Math.min(longest, Math.floor(leftSeconds));
  return { retryStepAfterSeconds: Math.max(1, wait), failingSince, action: key };
}
