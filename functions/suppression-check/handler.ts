import type { Logger } from '@aws-lambda-powertools/logger';
import { checkSuppression, parseSuppressionBody } from '#shared/domain/suppression';
import { apiHandler, json, parseJson, rawJsonBody, requireBearer } from '#shared/http/api';
import { createLogger } from '#shared/observability';
import type { RequestRepository } from '#shared/ports/audit';

/** 1,000 identifiers of up to 256 characters each, with JSON's quotes and commas: well within this. */
export const SUPPRESSION_MAX_BODY_BYTES = 512 * 1024;

export interface SuppressionCheckDeps {
  requests: Pick<RequestRepository, 'subjectStatuses'>;
  pseudonymKey: Buffer;
  suppressionTokens: readonly string[];
  /** Known only to answer their holders 403 rather than 401. */
  otherRoleTokens: readonly string[];
}

/**
 * `POST /v1/suppression-checks`: a sync job, import or CRM flow asks, for up to 1,000 emails and external ids, whether
 * an erasure of each completed, before it re-creates anyone at the providers. Nothing of the call is stored or logged
 * but counts; the answer lists results in the order sent, without the identifiers.
 */
export const makeHandler = (deps: SuppressionCheckDeps, logger: Logger = createLogger('suppression-check')) =>
  apiHandler(logger, async (event) => {
    const actor = requireBearer(event, deps.suppressionTokens, {
      role: 'suppression',
      otherRoleTokens: deps.otherRoleTokens,
    });
    const query = parseSuppressionBody(parseJson(rawJsonBody(event, SUPPRESSION_MAX_BODY_BYTES)));
    const answer = await checkSuppression(deps, query);
    const count = (status: string) =>
      [...answer.emails, ...answer.externalIds].filter((result) => result.status === status).length;
    logger.info('Suppression check', {
      actor,
      emails: query.emails.length,
      externalIds: query.externalIds.length,
      erased: count('erased'),
      invalid: count('invalid'),
    });
    return json(200, answer);
  });
