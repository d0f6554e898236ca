import type { Logger } from '@aws-lambda-powertools/logger';
import { type ExtensionDeps, extendErasureRequest, parseExtensionBody } from '#shared/domain/deadline-extension';
import { getRequestView } from '#shared/domain/erasure-requests';
import { NotFoundError } from '#shared/errors';
import { apiHandler, json, parseJson, rawJsonBody, requireBearer } from '#shared/http/api';
import { createLogger } from '#shared/observability';

export interface ExtendRequestDeps extends ExtensionDeps {
  operatorTokens: readonly string[];
  /** Known only to answer an auditor's extension with 403 rather than 401. */
  auditTokens: readonly string[];
}

/**
 * `POST /v1/erasure-requests/{id}/extend`, for operators: extends the due date by up to two further months under GDPR
 * Art. 12(3), with a reason code and a short note; answers the request's view with its new `dueAt`.
 */
export const makeHandler = (deps: ExtendRequestDeps, logger: Logger = createLogger('extend-request')) =>
  apiHandler(logger, async (event) => {
    const actor = requireBearer(event, deps.operatorTokens, { role: 'operator', otherRoleTokens: deps.auditTokens });
    const id = event.pathParameters?.id;
    if (!id) throw new NotFoundError();
    const body = parseExtensionBody(parseJson(rawJsonBody(event)));
    const extended = await extendErasureRequest(deps, id, body, actor);
    logger.info('Erasure request deadline extended', {
      requestId: id,
      actor,
      reasonCode: body.reasonCode,
      months: body.months,
      dueAt: extended.dueAt,
    });
    return json(200, await getRequestView(deps, id));
  });
