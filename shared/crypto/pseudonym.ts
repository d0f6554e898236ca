import { createHmac } from 'node:crypto';

export type IdentifierKind = 'email' | 'externalId';

/**
 * Keyed pseudonym of one normalized identifier: HMAC-SHA256 under PSEUDONYM_KEY, hex. A plain or salted hash of an
 * email is still personal data (it can be brute-forced from a list of emails); with the key held apart it is
 * pseudonymisation. The kind is part of the input so an email and an external id with the same text never collide.
 */
export function pseudonymize(key: Buffer, kind: IdentifierKind, normalizedValue: string): string {
  return createHmac('sha256', key).update(`${kind}:${normalizedValue}`, 'utf8').digest('hex');
}
