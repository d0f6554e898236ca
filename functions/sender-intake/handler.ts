import type { Logger } from '@aws-lambda-powertools/logger';
import { type SubmitDeps, submitErasureRequest } from '#shared/domain/erasure-requests';
import { NotFoundError } from '#shared/errors';
import { type ApiEvent, apiBaseUrl, apiHandler, header, json, rawJsonBody, statusUrlFor } from '#shared/http/api';
import type { SenderConfig } from '#shared/http/senders/profile';
import { receiveSenderRequest } from '#shared/http/senders/receive';
import { createLogger } from '#shared/observability';

export interface SenderIntakeDeps extends SubmitDeps {
  /** The senders of `SENDERS`, each with its secrets. */
  senders: readonly SenderConfig[];
  /** Base of `statusUrl` and of the URL HubSpot signs; without it the API's own domain. */
  publicBaseUrl?: string | undefined;
}

/**
 * A sender's payload may carry much more than the subject (a HubSpot contact with its property history, a Typeform
 * response with its form definition): larger than a Standard Webhooks body, still far below API Gateway's limits.
 */
export const SENDER_MAX_BODY_BYTES = 256 * 1024;

/** The URL the sender called, as HubSpot signs it: the API's base, the path and the query string as received. */
const calledUrl = (event: ApiEvent, publicBaseUrl?: string): string =>
  `${apiBaseUrl(event, publicBaseUrl)}${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`;

/**
 * `POST /v1/senders/{name}/erasure-requests`: a named sender's request, verified as its vendor signs it (its
 * profile), mapped to `email`/`externalId`/`reference`, then the same pipeline as `POST /v1/erasure-requests`:
 * validation, idempotency (per sender), the audit event (recording the sender and its key's fingerprint), 202.
 * An unknown sender is 404; a refused request records nothing and calls no provider.
 */
export const makeHandler = (deps: SenderIntakeDeps, logger: Logger = createLogger('sender-intake')) => {
  const byName = new Map(deps.senders.map((sender) => [sender.name, sender]));
  return apiHandler(logger, async (event) => {
    const sender = byName.get(event.pathParameters?.name ?? '');
    if (!sender) throw new NotFoundError('No such sender');
    const received = receiveSenderRequest(
      sender,
      {
        method: event.requestContext.http.method,
        url: calledUrl(event, deps.publicBaseUrl),
        header: (name) => header(event, name),
        body: rawJsonBody(event, SENDER_MAX_BODY_BYTES),
      },
      deps.clock.now(),
    );
    const { request, created } = await submitErasureRequest(deps, {
      webhookId: received.webhookId,
      // What a redelivery must equal: the request as mapped, not the vendor's whole payload, whose unrelated parts
      // (a HubSpot contact's last-modified date) may differ between retries of one delivery.
      document: received.body,
      body: received.body,
      signedWith: received.keyId,
      sender: { name: sender.name, verification: received.verification },
    });
    logger.info(created ? 'Erasure request accepted' : 'Erasure request redelivered', {
      requestId: request.id,
      pseudonym: request.subject.pseudonym,
      status: request.status,
      sender: sender.name,
    });
    const statusUrl = statusUrlFor(event, request.id, deps.publicBaseUrl);
    return json(202, { id: request.id, status: request.status, statusUrl }, { location: statusUrl });
  });
};
