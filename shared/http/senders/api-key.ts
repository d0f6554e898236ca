import { matchSecret, requiredHeader, type SenderConfig, type SenderProfile, type SenderRequest } from './profile.ts';

/**
 * A static key in a named header, compared in constant time: for tools that can sign nothing. The weakest option:
 * the key travels with every request, nothing binds it to the body or to a moment, so whoever sees one request (a
 * proxy's log, a debugging tool) can send any request until the key is rotated. Idempotency: the `Idempotency-Key`
 * header (IETF draft-ietf-httpapi-idempotency-key-header) when sent, else the body's SHA-256.
 */
export const apiKey: SenderProfile = {
  name: 'api-key',
  defaultFields: {
    email: { pointer: '/email' },
    externalId: { pointer: '/externalId' },
    reference: { pointer: '/reference' },
  },
  defaultIdempotencyKey: [{ header: 'idempotency-key' }, { body: true }],
  verify: (request, sender) => verifyApiKey(request, sender, 'api-key'),
};

/** Shared with HubSpot's API-key mode. @throws UnauthorizedError when the header is missing or holds no known key */
export function verifyApiKey(request: SenderRequest, sender: SenderConfig, method: string) {
  const presented = requiredHeader(request, sender.header ?? 'x-api-key');
  return matchSecret(sender.secrets, presented, (key) => key, method);
}
