import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import { findOverdueRequests } from '#shared/domain/overdue';
import { createLogger } from '#shared/observability';
import type { Clock, RequestRepository } from '#shared/ports/audit';

export interface OverdueCheckDeps {
  requests: RequestRepository;
  clock: Clock;
  metrics: Metrics;
}

/** Scheduled: publishes `OverdueRequests` and `UnfinishedRequests` metrics; the stack alarms on the first above zero. */
export const makeHandler = (deps: OverdueCheckDeps, logger: Logger = createLogger('overdue-check')) =>
  middy().handler(async () => {
    const report = await findOverdueRequests(deps);
    deps.metrics.addMetric('OverdueRequests', MetricUnit.Count, report.overdue);
    deps.metrics.addMetric('UnfinishedRequests', MetricUnit.Count, report.unfinished);
    deps.metrics.publishStoredMetrics();
    if (report.overdue > 0) logger.warn('Erasure requests past their due date', { ...report });
    else logger.info('No overdue erasure requests', { unfinished: report.unfinished });
    return { unfinished: report.unfinished, overdue: report.overdue };
  });
