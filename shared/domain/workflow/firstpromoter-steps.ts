import type { Batch } from '#shared/ports/providers';
import { summarizeBatch } from '../batch.ts';
import { restoreArchivedPromoters } from '../erasure-requests.ts';
import { ACTIONS, type ActionOutcome, type ActionRecord, type ErasureRequest } from '../model.ts';
import {
  ACTOR,
  appendActionEvent,
  type FirstPromoterTaskDeps,
  identityOf,
  load,
  type RequestInput,
  RequestMissingError,
  record,
} from './task-context.ts';

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
