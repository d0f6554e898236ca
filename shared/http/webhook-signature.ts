import { createHmac, timingSafeEqual } from 'node:crypto';
import { fingerprint } from '#shared/domain/erasure-requests';
import { UnauthorizedError } from '#shared/errors';

export interface VerifiedWebhook {
  webhookId: string;
  /** Fingerprint of the secret that verified it (several are accepted during a rotation). */
  signedWith: string;
}

/** Standard Webhooks: a timestamp more than 5 minutes from now, either way, is refused (replay protection). */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;

/**
 * Verifies a Standard Webhooks signature (https://www.standardwebhooks.com, v1: HMAC-SHA256 over
 * `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the base64-decoded part of `whsec_…`) over the body's BYTES as
 * received, with each configured secret (comma-separated for rotation). The `standardwebhooks` library turns a Buffer
 * body into a string first, which replaces invalid UTF-8 and so fails a correct signature: a signed body that is not
 * UTF-8 must be the sender's 400, not a 401, so the bytes are signed here as they came.
 * @param now the current time (tests); the timestamp must be within 5 minutes of it either way
 * @throws UnauthorizedError when headers are missing, the signature matches no secret, or the timestamp is stale
 */
export function verifyWebhook(
  secrets: readonly string[],
  body: Buffer | string,
  headers: { id?: string | undefined; timestamp?: string | undefined; signature?: string | undefined },
  now: Date = new Date(),
): VerifiedWebhook {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) {
    throw new UnauthorizedError('Missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  if (id.length > 256) throw new UnauthorizedError('webhook-id is too long');
  const seconds = /^\d{1,15}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
  if (!(Math.abs(now.getTime() / 1000 - seconds) <= TIMESTAMP_TOLERANCE_SECONDS)) {
    throw new UnauthorizedError('Invalid or expired webhook signature');
  }
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const presented = signature
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'));
  for (const secret of secrets) {
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(bytes).digest();
    if (presented.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected))) {
      return { webhookId: id, signedWith: fingerprint(secret) };
    }
  }
  throw new UnauthorizedError('Invalid or expired webhook signature');
}
