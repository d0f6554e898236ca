import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { CallbackScheduler } from '#shared/callbacks/delivery';
import { type SweepRequestOperations, sweepRequests } from '#shared/domain/sweep';
import { createLogger } from '#shared/observability';
import type { AuditLog, Clock, WorkflowEngine } from '#shared/ports/audit';
import type { ReceiptIssuer } from '#shared/ports/evidence';
import type { FirstPromoterPort } from '#shared/ports/providers';

export interface RequestSweeperDeps {
  requests: SweepRequestOperations;
  audit: AuditLog;
  clock: Clock;
  workflow: WorkflowEngine;
  firstPromoter: FirstPromoterPort;
  /** Issues the receipt of each cancel it finishes. */
  receipts?: ReceiptIssuer;
  /** Completion callbacks of the cancels this sweep finishes. */
  callbacks?: CallbackScheduler;
  metrics: Metrics;
  /** A request still `received` this long after intake had its workflow start lost; it is started again. */
  stalledAfterSeconds: number;
}

/**
 * Scheduled: starts workflows an intake stored but failed to start, finishes promoter restores of canceled requests,
 * and publishes `OverdueRequests` and `UnfinishedRequests`; the stack alarms on overdue requests above zero.
 */
export const makeHandler = (deps: RequestSweeperDeps, logger: Logger = createLogger('request-sweeper')) =>
  middy().handler(async (_event: unknown, context: Context) => {
    // Leave 20 s of the run for the restore in flight and the metrics: a run that timed out would publish none.
    const report = await sweepRequests(deps, {
      stalledAfterSeconds: deps.stalledAfterSeconds,
      restoreDeadline: Date.now() + context.getRemainingTimeInMillis() - 20_000,
    });
    deps.metrics.addMetric('OverdueRequests', MetricUnit.Count, report.overdue);
    deps.metrics.addMetric('UnfinishedRequests', MetricUnit.Count, report.unfinished);
    deps.metrics.addMetric('RestartedRequests', MetricUnit.Count, report.restartedIds.length);
    deps.metrics.addMetric('StuckRequests', MetricUnit.Count, report.stuckIds.length);
    // Every cancel left pending that an operator may need to see: a restore failing, a finishing that threw (a store or
    // audit error), one this run had no time to try. One alarm; the logs below say which is which.
    const pendingCancels = report.restoreFailedIds.length + report.finishErrorIds.length + report.deferredIds.length;
    deps.metrics.addMetric('PendingRestores', MetricUnit.Count, pendingCancels);
    // A sealed cancel not ended for its receipt or for its completion callbacks: the same alarm, logged apart below.
    const sealedNotEnded = report.receiptFailedIds.length + report.callbackFailedIds.length;
    deps.metrics.addMetric('PendingCancelReceipts', MetricUnit.Count, sealedNotEnded);
    deps.metrics.publishStoredMetrics();
    if (report.restartedIds.length > 0) {
      logger.warn('Started or resumed workflows of unfinished requests', { requestIds: report.restartedIds });
    }
    if (report.stuckIds.length > 0) {
      logger.error('Workflows that keep failing after resumes: an operator must look', { requestIds: report.stuckIds });
    }
    if (report.resumeFailedIds.length > 0) {
      logger.error('Workflows that could not be checked or resumed; the next run tries again', {
        requestIds: report.resumeFailedIds,
      });
    }
    if (report.restoredIds.length > 0) {
      logger.info('Finished promoter restores', { requestIds: report.restoredIds, chainHeads: report.chainHeads });
    }
    if (report.restoreFailedIds.length > 0) {
      logger.error('Promoter restores still failing', { requestIds: report.restoreFailedIds });
    }
    if (report.finishErrorIds.length > 0) {
      logger.error(
        'Cancels whose finishing failed on a store or audit error, not a restore; the next run tries again',
        {
          requestIds: report.finishErrorIds,
        },
      );
    }
    if (report.deferredIds.length > 0) {
      logger.warn('Cancels not tried this run, its time being up; the next run takes them', {
        requestIds: report.deferredIds,
      });
    }
    if (report.restoreWaitingIds.length > 0) {
      logger.warn('Cancels waiting for a FirstPromoter batch or an archive step still running', {
        requestIds: report.restoreWaitingIds,
      });
    }
    if (report.receiptFailedIds.length > 0) {
      logger.error('Cancels whose trail is sealed but whose receipt could not be issued; the next run tries again', {
        requestIds: report.receiptFailedIds,
      });
    }
    if (report.callbackFailedIds.length > 0) {
      logger.error(
        'Cancels whose trail is sealed but whose completion callbacks could not be started; the next run tries again',
        {
          requestIds: report.callbackFailedIds,
        },
      );
    }
    if (report.strayIdentityIds.length > 0) {
      logger.warn('Destroyed identities that outlived their request', { requestIds: report.strayIdentityIds });
    }
    if (report.overdue > 0) logger.warn('Erasure requests past their due date', { requestIds: report.overdueIds });
    else logger.info('No overdue erasure requests', { unfinished: report.unfinished });
    return {
      unfinished: report.unfinished,
      overdue: report.overdue,
      restarted: report.restartedIds.length,
      stuck: report.stuckIds.length,
      restored: report.restoredIds.length,
      restoreFailed: report.restoreFailedIds.length,
      receiptFailed: report.receiptFailedIds.length,
      finishFailed: report.finishErrorIds.length,
      deferred: report.deferredIds.length,
    };
  });
