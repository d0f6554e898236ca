import type { CallbackScheduler } from '#shared/callbacks/delivery';
import type { AuditLog, Clock, RequestRepository, WorkflowEngine } from '#shared/ports/audit';
import type { ReceiptIssuer } from '#shared/ports/evidence';
import type { FirstPromoterPort } from '#shared/ports/providers';
import { type CancelRequestOperations, finishCancel } from './erasure-requests.ts';
import type { ErasureRequest } from './model.ts';

/** How long after its cancel a FirstPromoter batch the cancel waits for counts as stalled (its batches take minutes). */
const BATCH_STALLED_AFTER_MS = 24 * 60 * 60_000;

/** The operations of the requests store a sweep runs: its three reads and what finishing a cancel runs. */
export type SweepRequestOperations = CancelRequestOperations &
  Pick<RequestRepository, 'listUnfinished' | 'listPendingRestores' | 'destroyStrayIdentities'>;

export interface SweepReport {
  unfinished: number;
  overdue: number;
  /** Ids of overdue requests (ids only: no personal data), oldest due date first. */
  overdueIds: string[];
  /** Requests whose workflow had not started or had failed, started or resumed now. */
  restartedIds: string[];
  /** Requests whose workflow failed again after the last allowed resume: an operator must look (alarmed). */
  stuckIds: string[];
  /** Requests whose workflow could not be checked or resumed now (the engine's call failed): the next run tries again. */
  resumeFailedIds: string[];
  /**
   * Canceled requests whose promoter restore was finished now, and those whose restore failed again or waits for a
   * FirstPromoter batch running longer than a day after the cancel (stalled there: an operator must look).
   */
  restoredIds: string[];
  restoreFailedIds: string[];
  /**
   * Cancels that wait for a FirstPromoter batch (an archive's, or a restore's) still running, or for an archive step
   * that may still be running (its restore is made again once the step's time has passed): the next run asks again.
   */
  restoreWaitingIds: string[];
  /**
   * Cancels whose trail is sealed but whose receipt could not be issued (so still `canceling`): the next run issues it.
   * Alarmed: the cancel has no end an auditor can check until it is.
   */
  receiptFailedIds: string[];
  /**
   * Cancels whose trail is sealed and receipt issued but whose completion callbacks could not be started (the
   * callback state machine), so still `canceling`: the next run starts them. Alarmed with the receipts' (one metric).
   */
  callbackFailedIds: string[];
  /**
   * Cancels whose finishing threw before it came to any of the answers above (a store or audit error, not a restore's:
   * a failed restore is caught and recorded inside). Still `canceling`; the next run tries again. Pending all the same.
   */
  finishErrorIds: string[];
  /** Cancels listed but not tried this run, its time being up (`restoreDeadline`): the next run takes them first. */
  deferredIds: string[];
  /** The chain head of each request whose trail the sweep extended: logged, as an anchor outside the tables. */
  chainHeads: Record<string, string>;
  /** Requests whose encrypted identity outlived them (or never got a request) and was destroyed now. */
  strayIdentityIds: string[];
}

/**
 * The periodic sweep over unfinished requests:
 * - GDPR Art. 12(3) gives one month to answer: unfinished requests past their due date are counted, for an alarm.
 * - Never lose a request: every unfinished request older than `stalledAfterSeconds` should have a running workflow.
 *   One that never started (intake failed after storing it, and the sender did not redeliver) is started; one whose
 *   workflow failed (a provider or AWS outage outlasting the retries) is resumed where it failed. Both are idempotent,
 *   and a running workflow (waiting period, batch polling) is left alone.
 * - A cancel that did not finish (its promoter restore failed, FirstPromoter down, a crash, or an archive step that may
 *   still have been running) is finished: restored, recorded, and its trail ended with `request.canceled`.
 * - No identity outlives its request: one left by a crash between intake's two writes (no request after the stall
 *   delay), or by a redelivery racing the end of its request, is destroyed.
 */
export async function sweepRequests(
  deps: {
    requests: SweepRequestOperations;
    audit: AuditLog;
    clock: Clock;
    workflow: WorkflowEngine;
    firstPromoter: FirstPromoterPort;
    receipts?: ReceiptIssuer;
    callbacks?: CallbackScheduler;
  },
  options: {
    stalledAfterSeconds: number;
    /** No new restore is begun after this (epoch ms), so the run ends, and reports, within its time limit. */
    restoreDeadline?: number;
  },
): Promise<SweepReport> {
  const now = deps.clock.now();
  const nowIso = now.toISOString();
  const stalledBefore = new Date(now.getTime() - options.stalledAfterSeconds * 1000).toISOString();
  const unfinished = await deps.requests.listUnfinished();

  const restartedIds: string[] = [];
  const stuckIds: string[] = [];
  const resumeFailedIds: string[] = [];
  for (const request of unfinished) {
    // A cancel under way has no workflow to run: it is finished below.
    if (request.receivedAt >= stalledBefore || request.status === 'canceling') continue;
    // One request's failure must not stop the sweep of the others (their resumes, restores, stray identities).
    const result = await deps.workflow.ensureRunning(request.id).catch(() => 'failed' as const);
    if (result === 'failed') resumeFailedIds.push(request.id);
    if (result === 'started' || result === 'redriven') restartedIds.push(request.id);
    if (result === 'gave-up') stuckIds.push(request.id);
  }
  const restoredIds: string[] = [];
  const restoreFailedIds: string[] = [];
  const restoreWaitingIds: string[] = [];
  const receiptFailedIds: string[] = [];
  const callbackFailedIds: string[] = [];
  const finishErrorIds: string[] = [];
  const deferredIds: string[] = [];
  const chainHeads: Record<string, string> = {};
  for (const request of await deps.requests.listPendingRestores()) {
    if (options.restoreDeadline !== undefined && Date.now() > options.restoreDeadline) {
      deferredIds.push(request.id); // not tried, so not a failed restore: still pending, the next run takes it
      continue;
    }
    // One request's failure must not stop the sweep of the others; it stays pending for the next run. Said as what it
    // is: a store or audit error, not a restore FirstPromoter refused (those are answered 'failed', and recorded).
    const { restore } = await finishListedCancel(deps, request).catch(() => ({ restore: 'threw' as const }));
    if (restore === 'ended') continue;
    if (restore === 'threw') finishErrorIds.push(request.id);
    if (restore === 'failed') restoreFailedIds.push(request.id);
    if (restore === 'awaiting-receipt') receiptFailedIds.push(request.id);
    if (restore === 'awaiting-callbacks') callbackFailedIds.push(request.id);
    // Within the step's time after the cancel: its restore is made again by the first run after that time.
    if (restore === 'awaiting-archive-step') restoreWaitingIds.push(request.id);
    if (restore === 'awaiting-archive-batch' || restore === 'awaiting-restore-batch') {
      restoreWaitingIds.push(request.id);
      // A batch FirstPromoter would never finish keeps the cancel `canceling` (truthfully) for ever: past a day it
      // counts with the failing restores, whose alarm fires.
      const since = Date.parse(request.canceledAt ?? request.receivedAt);
      if (now.getTime() - since > BATCH_STALLED_AFTER_MS) restoreFailedIds.push(request.id);
    }
    if (restore !== 'done') continue;
    restoredIds.push(request.id);
    const head = (await deps.audit.list(request.id)).at(-1);
    if (head) chainHeads[request.id] = head.hash;
  }
  const strayIdentityIds = await deps.requests.destroyStrayIdentities(stalledBefore);
  const overdue = unfinished.filter((r) => r.dueAt < nowIso).sort((a, b) => a.dueAt.localeCompare(b.dueAt));
  return {
    unfinished: unfinished.length,
    overdue: overdue.length,
    overdueIds: overdue.map((r) => r.id),
    restartedIds,
    stuckIds,
    resumeFailedIds,
    restoredIds,
    restoreFailedIds,
    restoreWaitingIds,
    receiptFailedIds,
    callbackFailedIds,
    finishErrorIds,
    deferredIds,
    chainHeads,
    strayIdentityIds,
  };
}

/**
 * Finishes a cancel the sweep listed, on the request as it stands now: the list was read at the sweep's start, and the
 * cancel route, the archive step or an earlier sweep may have ended the cancel since (the restores before it in the
 * list take minutes). One that ended is left alone (`ended`), so no restore reaches FirstPromoter for a request whose
 * trail has ended, and no restore on a stale record.
 */
async function finishListedCancel(
  deps: Parameters<typeof finishCancel>[0],
  listed: ErasureRequest,
): Promise<{ restore: Awaited<ReturnType<typeof finishCancel>>['restore'] | 'ended' }> {
  const request = await deps.requests.get(listed.id);
  if (request?.status !== 'canceling') return { restore: 'ended' };
  return finishCancel(deps, request, { stopWorkflow: false });
}
