import { Webhook } from 'standardwebhooks';
import { fingerprint } from '#shared/domain/erasure-requests';
import { UnauthorizedError } from '#shared/errors';

export interface VerifiedWebhook {
  webhookId: string;
  /** Fingerprint of the secret that verified it (several are accepted during a rotation). */
  signedWith: string;
}

/**
 * Verifies a Standard Webhooks signature over the raw body with each configured secret (comma-separated for rotation).
 * The library enforces the 5-minute timestamp tolerance in both directions.
 * @throws UnauthorizedError when headers are missing, the signature matches no secret, or the timestamp is stale
 */
export function verifyWebhook(
  secrets: readonly string[],
  rawBody: string,
  headers: { id?: string; timestamp?: string; signature?: string },
): VerifiedWebhook {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) {
    throw new UnauthorizedError('Missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  if (id.length > 256) throw new UnauthorizedError('webhook-id is too long');
  for (const secret of secrets) {
    try {
      // jsonParse off: a signed body that is not JSON is the sender's 400, not a signature failure.
      new Webhook(secret).verify(
        rawBody,
        { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
        { jsonParse: false },
      );
      return { webhookId: id, signedWith: fingerprint(secret) };
    } catch {
      // Try the next secret; a stale timestamp fails for every secret alike.
    }
  }
  throw new UnauthorizedError('Invalid or expired webhook signature');
}
