import { createHmac } from 'node:crypto';

/** `er_` and 32 lowercase hex digits: the only shape a request id has, checked before any store is asked. */
export const REQUEST_ID_PATTERN = /^er_[0-9a-f]{32}$/;

/** Whether `value` can be a request id; anything else is answered 404 without a store access. */
export const isRequestId = (value: unknown): value is string =>
  typeof value === 'string' && REQUEST_ID_PATTERN.test(value);

const keyed = (key: Buffer, purpose: string, webhookId: string) =>
  createHmac('sha256', key).update(`${purpose}:${webhookId}`, 'utf8').digest('hex');

/**
 * The request id of a Standard Webhooks message: derived from its `webhook-id`, so every redelivery lands on the same
 * request, and keyed (HMAC-SHA256 under PSEUDONYM_KEY) because the id is shown everywhere (URLs, logs, execution
 * names) while a sender may have put personal data in its `webhook-id`: an unkeyed hash of it could be confirmed
 * from a guess. Stable for as long as the pseudonym key, which never changes.
 */
export const requestIdFor = (key: Buffer, webhookId: string): string =>
  `er_${keyed(key, 'request-id', webhookId).slice(0, 32)}`;

/**
 * What is kept of a `webhook-id`: its HMAC-SHA256 under PSEUDONYM_KEY (hex). It is an idempotency key, nothing an
 * auditor reads, and it may hold whatever the sender put in it.
 */
export const webhookIdHash = (key: Buffer, webhookId: string): string => keyed(key, 'webhook-id', webhookId);
