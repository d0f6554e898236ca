import { type ErasureRequestBody, parseErasureRequestBody } from '#shared/domain/subject';
import { ValidationError } from '#shared/errors';
import { parseJsonBody } from '#shared/http/json-body';
import { describeSource, idempotencyKeyOf, mapSenderPayload } from './mapping.ts';
import type { SenderConfig, SenderRequest } from './profile.ts';
import { SENDER_PROFILES } from './registry.ts';

/** What a sender's verified, mapped request hands to the intake pipeline. */
export interface ReceivedSenderRequest {
  /** `sender:<name>:<the sender's idempotency key>`: never collides with another sender's or a Standard Webhooks id. */
  webhookId: string;
  body: ErasureRequestBody;
  /** Fingerprint of the secret or key that verified it. */
  keyId: string;
  /** How it was verified, e.g. `zendesk-signature`. */
  verification: string;
}

/**
 * A sender's request, in the order that keeps every refusal cheap and silent: the signature (or key) over the raw
 * bytes first, then the JSON, the idempotency key, and the mapping, whose result is validated exactly like a
 * Standard Webhooks body. Messages name fields and where they were mapped from, never a value.
 * @throws UnauthorizedError (401), MalformedRequestError (400), ValidationError (422)
 */
export function receiveSenderRequest(sender: SenderConfig, request: SenderRequest, now: Date): ReceivedSenderRequest {
  const { keyId, method } = SENDER_PROFILES[sender.profile].verify(request, sender, now);
  const document = parseJsonBody(request.body);
  const key = idempotencyKeyOf(request, document, sender.idempotencyKey);
  const mapped = mapSenderPayload(document, sender.fields);
  let body: ErasureRequestBody;
  try {
    body = parseErasureRequestBody(mapped);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const sources = Object.entries(sender.fields).map(([field, source]) => `${field} from ${describeSource(source)}`);
    throw new ValidationError(`${error.message} (mapped: ${sources.join(', ')})`);
  }
  return { webhookId: `sender:${sender.name}:${key}`, body, keyId, verification: method };
}
