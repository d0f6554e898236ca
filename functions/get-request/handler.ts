import type { Logger } from '@aws-lambda-powertools/logger';
import { getRequestView } from '#shared/domain/erasure-requests';
import { NotFoundError } from '#shared/errors';
import { apiHandler, json, requireBearer } from '#shared/http/api';
import { createLogger } from '#shared/observability';
import type { AuditLog, Clock, RequestRepository } from '#shared/ports/audit';

export interface GetRequestDeps {
  requests: Pick<RequestRepository, 'get'>;
  audit: AuditLog;
  clock: Clock;
  auditTokens: readonly string[];
}

/** `GET /v1/erasure-requests/{id}`: the request, its actions and its verified audit chain, for a bearer token holder. */
export const makeHandler = (deps: GetRequestDeps, logger: Logger = createLogger('get-request')) =>
  apiHandler(logger, async (event) => {
    const actor = requireBearer(event, deps.auditTokens);
    const id = event.pathParameters?.id;
    if (!id) throw new NotFoundError();
    const view = await getRequestView(deps, id);
    logger.info('Erasure request read', { requestId: id, actor });
    return json(200, view);
  });
