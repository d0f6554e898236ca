import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { fingerprint } from '#shared/domain/erasure-requests';
import { UnauthorizedError } from '#shared/errors';

/** The sender profiles: how each tool signs (or keys) its requests and where its payload keeps the subject. */
export const PROFILE_NAMES = ['zendesk', 'hubspot', 'typeform', 'api-key'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** A request as a sender made it: what every profile's verification may need, the body as raw bytes. */
export interface SenderRequest {
  method: string;
  /** The URL the sender called (scheme, host, path, query string): HubSpot v3 signs it. */
  url: string;
  header(name: string): string | undefined;
  /** The body's bytes exactly as received: every signature is checked over these, never over re-serialized JSON. */
  body: Buffer;
}

/** Where a value of the payload is found: a JSON Pointer (RFC 6901), or a Typeform answer by its field `ref`. */
export type FieldSource = { pointer: string } | { answerRef: string };

/** Where the erasure request's fields are in the sender's payload; a field without a source is not taken. */
export type FieldMapping = Partial<Record<'email' | 'externalId' | 'reference', FieldSource>>;

/**
 * Where the idempotency key comes from, tried in order until one is present: a header the sender sets per delivery,
 * a payload value, or the SHA-256 of the body (a retry resends the same bytes).
 */
export type IdempotencySource = { header: string } | { pointer: string } | { body: true };

/** One configured sender: a name (its route segment), a profile, its secrets and mappings. */
export interface SenderConfig {
  name: string;
  profile: ProfileName;
  /** Signing secrets or API keys; several during a rotation. Never logged, never stored: only their fingerprints. */
  secrets: readonly string[];
  fields: FieldMapping;
  idempotencyKey: readonly IdempotencySource[];
  /** HubSpot: `signature` (v3, the default) or `api-key` (a key in {@link header}). */
  mode?: 'signature' | 'api-key';
  /** api-key profile and HubSpot's API-key mode: the header that carries the key (case-insensitive). */
  header?: string;
  /** HubSpot v3: the URL exactly as configured in the workflow, when it differs from the one the request arrived at. */
  url?: string;
}

export interface SenderVerification {
  /** Fingerprint of the secret or key that verified the request (SHA-256, 12 hex digits): never the secret itself. */
  keyId: string;
  /** How it was verified, recorded in the audit event: e.g. `zendesk-signature`, `hubspot-signature-v3`, `api-key`. */
  method: string;
}

/** What a profile provides: its verification, and the defaults a configuration may override. */
export interface SenderProfile {
  readonly name: ProfileName;
  readonly defaultFields: FieldMapping;
  readonly defaultIdempotencyKey: readonly IdempotencySource[];
  /**
   * Verifies the request against each of the sender's secrets (constant time).
   * @throws UnauthorizedError (401) when a header is missing, the timestamp is outside the tolerance, or nothing matches
   */
  verify(request: SenderRequest, sender: SenderConfig, now: Date): SenderVerification;
}

/** Zendesk and HubSpot both refuse a request whose timestamp is more than 5 minutes old; we do so either way. */
export const SENDER_TIMESTAMP_TOLERANCE_MS = 5 * 60_000;

/**
 * Whether an instant (ms since the epoch) lies within the tolerance of `now`, either way: too old is a replay, and one
 * from the future more than the tolerance ahead is no clock skew either.
 */
export const isFresh = (instantMs: number, now: Date): boolean =>
  Number.isFinite(instantMs) && Math.abs(now.getTime() - instantMs) <= SENDER_TIMESTAMP_TOLERANCE_MS;

/** HMAC-SHA256 of `parts` (strings as UTF-8, buffers as they are) keyed with the secret's UTF-8 bytes, as base64. */
export function hmacBase64(secret: string, ...parts: Array<string | Buffer>): string {
  const hmac = createHmac('sha256', Buffer.from(secret, 'utf8'));
  for (const part of parts) hmac.update(typeof part === 'string' ? Buffer.from(part, 'utf8') : part);
  return hmac.digest('base64');
}

/**
 * Constant-time equality of two strings of any length: both are hashed first, so neither their content nor the
 * presented one's length shows in the time taken.
 */
export function constantTimeEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && presented.length === expected.length;
}

/**
 * The first secret for which `expected(secret)` equals the presented value, compared in constant time; every secret is
 * tried, so the time taken does not tell which one matched.
 * @throws UnauthorizedError when none does
 */
export function matchSecret(
  secrets: readonly string[],
  presented: string,
  expected: (secret: string) => string,
  method: string,
): SenderVerification {
  let matched: string | undefined;
  for (const secret of secrets) {
    if (constantTimeEqual(presented, expected(secret)) && matched === undefined) matched = secret;
  }
  if (matched === undefined) throw new UnauthorizedError('Invalid or expired sender signature');
  return { keyId: fingerprint(matched), method };
}

/** @throws UnauthorizedError naming the missing header (a header name is never personal data) */
export function requiredHeader(request: SenderRequest, name: string): string {
  const value = request.header(name);
  if (value === undefined || value === '') throw new UnauthorizedError(`Missing ${name} header`);
  return value;
}
