import type { Logger } from '@aws-lambda-powertools/logger';
import { findRequestsBySubject } from '#shared/domain/erasure-requests';
import { parseErasureRequestBody } from '#shared/domain/subject';
import { apiHandler, json, parseJson, rawJsonBody, requireBearer } from '#shared/http/api';
import { createLogger } from '#shared/observability';
import type { AuditLog, Clock, RequestRepository } from '#shared/ports/audit';

export interface SubjectLookupDeps {
  requests: Pick<RequestRepository, 'findBySubject'>;
  audit: AuditLog;
  clock: Clock;
  pseudonymKey: Buffer;
  auditTokens: readonly string[];
}

/**
 * `POST /v1/subject-lookups`: an auditor holding a person's email or external id finds that person's requests. The
 * identifier travels in the body (never a URL, which access logs keep) and is only turned into its pseudonym.
 */
export const makeHandler = (deps: SubjectLookupDeps, logger: Logger = createLogger('subject-lookup')) =>
  apiHandler(logger, async (event) => {
    const actor = requireBearer(event, deps.auditTokens);
    const { email, externalId } = parseErasureRequestBody(parseJson(rawJsonBody(event)));
    const result = await findRequestsBySubject(deps, {
      ...(email === undefined ? {} : { email }),
      ...(externalId === undefined ? {} : { externalId }),
    });
    logger.info('Subject lookup', { actor, found: result.requests.length });
    return json(200, result);
  });
