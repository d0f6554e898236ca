import { ProviderRequestError } from '#shared/errors';
import type { Batch, BatchSummary } from '#shared/ports/providers';
import { summarizeBatch } from '../batch.ts';
import { finishCancel, restoreArchivedPromoters } from '../erasure-requests.ts';
import {
  ACTIONS,
  type ActionOutcome,
  type ActionRecord,
  type ErasureRequest,
  OPEN_STATUSES,
  type RequestStatus,
} from '../model.ts';
import { otherRequestsOfSubject, promotersHeldByOthers } from '../same-subject.ts';
import { type FailureInput, judgeByReadBack, readBackProof, settleAction } from './read-back.ts';
import {
  ACTOR,
  actionEvent,
  type FirstPromoterTaskDeps,
  identityOf,
  load,
  type RequestInput,
  RequestMissingError,
  record,
  recordNothingFound,
} from './task-context.ts';

/** Statuses in which the archive step may plan: before erasure begins, and never after a cancel. */
const ARCHIVE_STAGE: readonly RequestStatus[] = ['received', 'waiting'];
const PROMOTERS = 'firstpromoter.promoters';

/**
 * Archives the subject's FirstPromoter promoters before anything is erased. FirstPromoter v2 has no promoter delete;
 * archiving blocks the promoter everywhere and is reversible, so a canceled request can restore exactly what it archived.
 * Promoters archived before this request are left alone, and never restored by it. A promoter another request of the
 * same person archived (or is archiving) counts as archived for this one too, and this request holds it: a cancel of
 * the other does not restore what this one still needs.
 */
export async function archivePromoters(deps: FirstPromoterTaskDeps, { requestId }: RequestInput) {
  const request = await load(deps, requestId);
  const done = request.actions[PROMOTERS];
  if (done && done.outcome !== 'pending') return { outcome: done.outcome, count: done.count };
  if (!ARCHIVE_STAGE.includes(request.status)) return { outcome: 'skipped' as const, count: 0 };

  const identity = identityOf(deps, request);
  const promoters = await deps.firstPromoter.findPromoters(identity);
  const searchedAt = deps.clock.now();
  const nothing = readBackProof(identity, 0, 'not_found', searchedAt);
  if (promoters.length === 0 && (await recordNothingFound(deps, request, PROMOTERS, ARCHIVE_STAGE, nothing))) {
    return { outcome: 'not_found' as const, count: 0 };
  }
  const archived = promoters.filter((p) => p.archived_at !== null).map((p) => p.id);
  const held =
    archived.length === 0
      ? new Set<number>()
      : promotersHeldByOthers(await otherRequestsOfSubject(deps.requests, request), archived, {
          includeCanceling: true,
        });
  const candidates = [...promoters.filter((p) => p.archived_at === null).map((p) => p.id), ...held];
  const alreadyArchived = archived.length - held.size;
  // The set is fixed before the call, and only while the request is open: a retry archives (and a cancel restores)
  // the same promoters, and nothing is planned, let alone archived, after a cancel.
  const plan = await deps.requests.planAction(requestId, PROMOTERS, candidates, deps.clock.now().toISOString(), {
    whileIn: ARCHIVE_STAGE,
  });
  if (!plan) return { outcome: 'skipped' as const, count: 0 };
  const { ids } = plan;
  if (ids.length === 0) {
    const outcome = alreadyArchived > 0 ? 'skipped' : 'not_found';
    return record(deps, request, PROMOTERS, {
      outcome,
      count: 0,
      // The search found no active promoter of the subject: that is the proof.
      verification: readBackProof(identity, 0, outcome, searchedAt),
      ...(alreadyArchived > 0
        ? { errors: [`${alreadyArchived} promoter(s) were already archived before this request`] }
        : {}),
    });
  }

  // Held promoters are archived again too (archiving an archived promoter changes nothing): should the other request's
  // cancel restore them meanwhile, either this archive lands after that restore, or that cancel finds this plan and
  // archives them again.
  const batch = await deps.firstPromoter.archivePromoters(ids);
  const summary = summarizeBatch(batch);
  // Judged by searching again, as every other action: a promoter still active is not archived, whatever the batch
  // says. A batch still running (more than 5 promoters) is not followed, so its outcome is what it reported.
  const readBack =
    summary.state === 'running'
      ? undefined
      : await (async () => {
          const active = (await deps.firstPromoter.findPromoters(identity, { activeOnly: true }))
            .filter((p) => p.archived_at === null && ids.includes(p.id))
            .map((p) => p.id);
          const checkedAt = deps.clock.now();
          const verdict = judgeByReadBack(ids, active, 'archived');
          return { verdict, proof: readBackProof(identity, verdict.remaining, verdict.outcome, checkedAt) };
        })();
  const outcome: ActionOutcome =
    readBack?.verdict.outcome ??
    (summary.state === 'partial'
      ? 'partial'
      : summary.state === 'failed' || summary.state === 'stopped'
        ? 'failed'
        : 'archived');
  const errors = [
    ...(summary.errorCount > 0 ? [`${summary.errorCount} processing error(s) reported by FirstPromoter`] : []),
    // More than 5 promoters: FirstPromoter archives them in a batch, which this step does not follow to its end.
    ...(summary.state === 'running' ? [`archive batch ${batch.id} was still ${batch.status} when recorded`] : []),
    ...(readBack && readBack.verdict.remaining > 0
      ? [`${readBack.verdict.remaining} of ${ids.length} promoter(s) still active by a search afterwards`]
      : []),
  ];
  const heldCount = ids.filter((id) => held.has(id)).length;
  const notes =
    heldCount > 0
      ? [`${heldCount} promoter(s) archived by another open request of this person, held by this one too`]
      : [];
  return recordArchive(deps, request, ids, {
    ...ACTIONS[PROMOTERS],
    outcome,
    count: readBack?.verdict.count ?? ids.length,
    batchId: batch.id,
    ...(readBack ? { verification: readBack.proof } : {}),
    ...(errors.length ? { errors } : {}),
    ...(notes.length ? { notes } : {}),
    updatedAt: deps.clock.now().toISOString(),
  });
}

/**
 * Records what the archive step archived (the ids a cancel restores) and its outcome in one write, while the request is
 * open. Refused because the request was canceled meanwhile (the cancel's restore may have run before the archive
 * landed), the step restores them and finishes the cancel; refused because the workflow moved on or ended, it records
 * nothing and undoes nothing.
 */
async function recordArchive(
  deps: FirstPromoterTaskDeps,
  request: ErasureRequest,
  ids: readonly number[],
  entry: ActionRecord,
): Promise<{ outcome: ActionOutcome; count: number; chainHead?: { seq: number; hash: string } }> {
  const events = [actionEvent(request, PROMOTERS, entry)];
  if (await deps.requests.recordArchivedPromoters(request.id, ids, entry, OPEN_STATUSES, { events })) {
    return { outcome: entry.outcome, count: entry.count };
  }
  const current = await load(deps, request.id);
  if (current.status !== 'canceling' && current.status !== 'canceled') return { outcome: 'skipped', count: 0 };
  await restoreArchivedPromoters(deps, current, ACTOR, ids);
  if (current.status !== 'canceling') return { outcome: 'restored', count: ids.length };
  // The head of the trail the step ended goes to the execution history, an anchor outside the tables.
  const { chainHead } = await finishCancel(deps, current, { stopWorkflow: false, archiveStepEnded: true });
  return { outcome: 'restored', count: ids.length, ...(chainHead ? { chainHead } : {}) };
}

export interface BatchPollState {
  requestId: string;
  done: boolean;
  batchId?: number;
  /**
   * Whether this step's own delete started the batch. Otherwise (a batch found running after a lost answer, or one
   * followed again after a restart) it may be another request's: FirstPromoter does not say which ids a batch holds.
   */
  own?: boolean;
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
): Promise<BatchPollState> {
  let batch: Batch;
  try {
    batch = await deps.firstPromoter.deleteReferrals(ids);
  } catch (error) {
    const started = error instanceof ProviderRequestError ? await findEarlierBatch(deps, plan) : undefined;
    if (!started) throw error;
    return followBatch(deps, request, started, planned, { own: false });
  }
  return followBatch(deps, request, batch, planned, { own: true });
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
  { own }: { own: boolean },
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
      own,
      polls: 0,
      startedAt: deps.clock.now().toISOString(),
      waitSeconds: deps.batchPoll.intervalSeconds,
    };
  }
  return endOfBatch(deps, request, summary, planned, { own, polls: 0 });
}

/**
 * One poll of a running batch. The wait before the next poll doubles up to BATCH_POLL_MAX_INTERVAL_SECONDS; a batch still
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
  const { intervalSeconds, maxIntervalSeconds } = deps.batchPoll;
  const waitSeconds = Math.min(maxIntervalSeconds, intervalSeconds * 2 ** polls);
  // A batch still running within its time needs nothing from the tables: only its end is recorded.
  if (summary.state === 'running' && elapsedSeconds !== undefined && elapsedSeconds < deps.batchPoll.timeoutSeconds) {
    return { ...state, polls, done: false, waitSeconds };
  }

  const request = await load(deps, state.requestId);
  const current = request.actions[key];
  if (current && current.outcome !== 'pending') return { ...state, done: true, waitSeconds: 0 };
  const planned = (request.plans?.[key]?.ids ?? []).map(Number);
  const own = state.own === true;
  if (summary.state !== 'running') return endOfBatch(deps, request, summary, planned, { own, polls });
  const since = new Date(state.startedAt ?? current?.updatedAt ?? deps.clock.now().toISOString()).getTime();
  const elapsed = (deps.clock.now().getTime() - since) / 1000;
  if (elapsed >= deps.batchPoll.timeoutSeconds) {
    return endOfBatch(deps, request, summary, planned, {
      own,
      polls,
      reported: [`batch still ${batch.status} after ${Math.round(elapsed)}s (poll timeout)`],
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
    return deleteAndFollow(deps, request, remainingNow, all, { ids: remainingNow, at: deps.clock.now().toISOString() });
  }
  await recordBatchEnd(deps, request, summary, planned, remainingNow, options.reported);
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
 * The state machine's Catch for every FirstPromoter step: whatever ended the archive, the delete or a batch poll (an
 * error status, a batch gone, retries exhausted, a timeout), the outcome is decided by searching again (`settleAction`):
 * promoters no longer active are archived (and held: a cancel restores them), referrals no longer found deleted.
 */
export async function settleFirstPromoterAction(deps: FirstPromoterTaskDeps, input: FailureInput) {
  if (input.action === PROMOTERS) {
    let active: number[] = [];
    return settleAction(deps, input, {
      search: async (identity) => {
        const promoters = await deps.firstPromoter.findPromoters(identity, { activeOnly: true });
        active = promoters.filter((p) => p.archived_at === null).map((p) => p.id);
        return active;
      },
      done: 'archived',
      providerLabel: 'FirstPromoter',
      write: (request, fields) => {
        const planned = (request.plans?.[PROMOTERS]?.ids ?? []).map(Number);
        const archived = planned.filter((id) => !active.includes(id));
        return recordArchive(deps, request, archived, {
          ...ACTIONS[PROMOTERS],
          ...fields,
          updatedAt: deps.clock.now().toISOString(),
        });
      },
    });
  }
  if (input.action !== 'firstpromoter.referrals') throw new Error(`No FirstPromoter action ${input.action}`);
  return settleAction(deps, input, {
    search: async (identity) => (await deps.firstPromoter.findReferrals(identity)).map((r) => r.id),
    done: 'deleted',
    providerLabel: 'FirstPromoter',
  });
}
