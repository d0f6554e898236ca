import { UnauthorizedError } from '#shared/errors';
import { hmacBase64, isFresh, matchSecret, requiredHeader, type SenderProfile } from './profile.ts';

/** RFC 3339 date-time, as Zendesk sends `X-Zendesk-Webhook-Signature-Timestamp` (e.g. `2021-07-25T10:00:00Z`). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Zendesk webhooks (https://developer.zendesk.com/documentation/webhooks/verifying/): `X-Zendesk-Webhook-Signature`
 * is base64(HMAC-SHA256(signing secret, timestamp + body)), the timestamp being `X-Zendesk-Webhook-Signature-Timestamp`
 * and the key the signing secret's text as Zendesk shows it (not base64-decoded). Refused when the timestamp is more
 * than 5 minutes from now. The idempotency key is `X-Zendesk-Webhook-Invocation-Id`, which a retry of the same
 * invocation repeats; the signature does not cover it.
 */
export const zendesk: SenderProfile = {
  name: 'zendesk',
  // The JSON body the webhook's trigger sends is written by the admin: these are the names the README's template uses.
  defaultFields: {
    email: { pointer: '/email' },
    externalId: { pointer: '/externalId' },
    reference: { pointer: '/reference' },
  },
  defaultIdempotencyKey: [{ header: 'x-zendesk-webhook-invocation-id' }],
  verify(request, sender, now) {
    const signature = requiredHeader(request, 'x-zendesk-webhook-signature');
    const timestamp = requiredHeader(request, 'x-zendesk-webhook-signature-timestamp');
    if (!RFC3339.test(timestamp) || !isFresh(Date.parse(timestamp), now)) {
      throw new UnauthorizedError('Invalid or expired sender signature');
    }
    return matchSecret(
      sender.secrets,
      signature,
      (secret) => hmacBase64(secret, timestamp, request.body),
      'zendesk-signature',
    );
  },
};
