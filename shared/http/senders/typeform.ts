import { hmacBase64, matchSecret, requiredHeader, type SenderProfile } from './profile.ts';

/**
 * Typeform webhooks (https://www.typeform.com/developers/webhooks/secure-your-webhooks/): `Typeform-Signature` is
 * `sha256=` + base64(HMAC-SHA256(secret, body)). Typeform signs no timestamp, so a replay cannot be told from a
 * retry by its headers: the idempotency key, the payload's `event_id` (the same on every retry of an event), makes a
 * replay return the request already made. Answers are found by their field's `ref` in `form_response.answers[]`.
 */
export const typeform: SenderProfile = {
  name: 'typeform',
  defaultFields: {
    email: { answerRef: 'email' },
    externalId: { pointer: '/form_response/hidden/external_id' },
    reference: { pointer: '/form_response/token' },
  },
  defaultIdempotencyKey: [{ pointer: '/event_id' }],
  verify(request, sender) {
    const signature = requiredHeader(request, 'typeform-signature');
    return matchSecret(
      sender.secrets,
      signature,
      (secret) => `sha256=${hmacBase64(secret, request.body)}`,
      'typeform-signature',
    );
  },
};
