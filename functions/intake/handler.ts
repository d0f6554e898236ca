import type { Logger } from '@aws-lambda-powertools/logger';
import { type SubmitDeps, submitErasureRequest } from '#shared/domain/erasure-requests';
import { parseErasureRequestBody } from '#shared/domain/subject';
import { apiHandler, header, json, parseJson, rawJsonBody, statusUrlFor } from '#shared/http/api';
import { verifyWebhook } from '#shared/http/webhook-signature';
import { createLogger } from '#shared/observability';

export interface IntakeDeps extends SubmitDeps {
  webhookSecrets: readonly string[];
  /** Base of `statusUrl`; without it the API's own domain (API Gateway's, or the local server's bound address). */
  publicBaseUrl?: string | undefined;
}

/**
 * `POST /v1/erasure-requests`: size and media type, then the Standard Webhooks signature over the body's bytes, then
 * its decoding (UTF-8, JSON, no repeated names), then the fields. A refused request records nothing and calls no provider. Answers 202 at once; redeliveries get the same request.
 */
export const makeHandler = (deps: IntakeDeps, logger: Logger = createLogger('intake')) =>
  apiHandler(logger, async (event) => {
    const rawBody = rawJsonBody(event);
    const verified = verifyWebhook(deps.webhookSecrets, rawBody, {
      id: header(event, 'webhook-id'),
      timestamp: header(event, 'webhook-timestamp'),
      signature: header(event, 'webhook-signature'),
    });
    const document = parseJson(rawBody);
    const body = parseErasureRequestBody(document);
    const { request, created } = await submitErasureRequest(deps, { ...verified, document, body });
    logger.info(created ? 'Erasure request accepted' : 'Erasure request redelivered', {
      requestId: request.id,
      pseudonym: request.subject.pseudonym,
      status: request.status,
    });
    const statusUrl = statusUrlFor(event, request.id, deps.publicBaseUrl);
    return json(202, { id: request.id, status: request.status, statusUrl }, { location: statusUrl });
  });
