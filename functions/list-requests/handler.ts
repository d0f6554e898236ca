import type { Logger } from '@aws-lambda-powertools/logger';
import { apiHandler, json, requireBearer } from '#shared/http/api';
import { createLogger } from '#shared/observability';
import type { Clock, RequestRepository } from '#shared/ports/audit';
import { listErasureRequests, parseListQuery } from '#shared/reporting/listing';

export interface ListRequestsDeps {
  requests: Pick<RequestRepository, 'listByStatus'>;
  clock: Clock;
  auditTokens: readonly string[];
}

/**
 * `GET /v1/erasure-requests?status=&overdue=&from=&to=&limit=&cursor=`, for auditors: one page of requests, oldest
 * received first, each as the status view shows it without its events; `nextCursor` fetches the next page.
 */
export const makeHandler = (deps: ListRequestsDeps, logger: Logger = createLogger('list-requests')) =>
  apiHandler(logger, async (event) => {
    const actor = requireBearer(event, deps.auditTokens);
    const query = parseListQuery(event.queryStringParameters ?? {});
    const page = await listErasureRequests(deps, query);
    logger.info('Erasure requests listed', { actor, count: page.requests.length, more: page.nextCursor !== null });
    return json(200, page);
  });
