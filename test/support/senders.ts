import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Signature } from '@hubspot/api-client/lib/src/utils/signature.js';

/**
 * Requests built the way each vendor sends them, for tests: the body as bytes and the headers the vendor sets. Each
 * signer follows the vendor's own page (cited per function), independently of `shared/http/senders/`; HubSpot's is the
 * vendor's own library.
 */
export interface VendorRequest {
  headers: Record<string, string>;
  body: string;
}

/** A payload example of `test/fixtures/senders/`, as text. */
export const senderFixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/senders/${name}`, import.meta.url), 'utf8');

/** The same fixture with every occurrence of the demo subject's identifiers replaced. */
export const fixtureFor = (name: string, replacements: Record<string, string>): string =>
  Object.entries(replacements).reduce((text, [from, to]) => text.replaceAll(from, to), senderFixture(name));

/**
 * Zendesk (https://developer.zendesk.com/documentation/webhooks/verifying/): base64(HMACSHA256(TIMESTAMP + BODY))
 * keyed with the signing secret as shown; the timestamp is RFC 3339 without fractions.
 */
export function zendeskRequest(
  secret: string,
  body: string,
  options: { at?: Date; invocationId?: string } = {},
): VendorRequest {
  const timestamp = (options.at ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const signature = createHmac('sha256', secret)
    .update(timestamp + body)
    .digest('base64');
  return {
    headers: {
      'content-type': 'application/json',
      'x-zendesk-webhook-id': '01KB0HX2W5V7YV0W4J3C9P1N7Q',
      'x-zendesk-webhook-invocation-id': options.invocationId ?? String(Math.floor(Math.random() * 1e12)),
      'x-zendesk-webhook-signature': signature,
      'x-zendesk-webhook-signature-timestamp': timestamp,
    },
    body,
  };
}

/**
 * HubSpot v3, signed by HubSpot's own Node.js library (`@hubspot/api-client`'s `Signature.getSignature`): method +
 * URI + body + timestamp (ms), HMAC-SHA256 with the app's client secret, base64.
 */
export function hubspotRequest(
  clientSecret: string,
  url: string,
  body: string,
  options: { at?: Date; method?: string } = {},
): VendorRequest {
  const timestamp = (options.at ?? new Date()).getTime();
  const signature = Signature.getSignature(options.method ?? 'POST', 'v3', {
    signature: '',
    clientSecret,
    requestBody: body,
    url,
    timestamp,
  });
  return {
    headers: {
      'content-type': 'application/json',
      'x-hubspot-signature-v3': signature,
      'x-hubspot-request-timestamp': String(timestamp),
      'x-hubspot-signature-version': 'v3',
    },
    body,
  };
}

/**
 * Typeform (https://www.typeform.com/developers/webhooks/secure-your-webhooks/): `sha256=` + base64 of the
 * HMAC-SHA256 of the whole payload, keyed with the webhook's secret.
 */
export function typeformRequest(secret: string, body: string): VendorRequest {
  const signature = createHmac('sha256', secret).update(body).digest('base64');
  return {
    headers: { 'content-type': 'application/json', 'typeform-signature': `sha256=${signature}` },
    body,
  };
}

/** A static key in a named header (HubSpot's API-key mode, the api-key profile), with an optional Idempotency-Key. */
export function apiKeyRequest(header: string, key: string, body: string, idempotencyKey?: string): VendorRequest {
  return {
    headers: {
      'content-type': 'application/json',
      [header]: key,
      ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
    },
    body,
  };
}

/** A fresh Typeform `event_id` (a ULID-like id, unique per event). */
export const typeformEventId = (): string => randomUUID().replaceAll('-', '').toUpperCase().slice(0, 26);
