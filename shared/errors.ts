/**
 * Typed errors. Every message and field here is safe to log and to return: none may carry an email, an external id or a
 * URL (provider URLs hold the search query). Errors from HTTP libraries are therefore never attached as `cause`.
 */

/** An error the HTTP layer maps to `{ "error": { "code", "message" } }` with `statusCode`. */
export class AppError extends Error {
  override name = 'AppError';
  readonly statusCode: number;
  readonly code: string;
  /** Whether `message` may be shown to the caller; unexposed errors answer a bare 500. */
  readonly expose: boolean;

  constructor(statusCode: number, code: string, message: string, options?: { cause?: unknown; expose?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.statusCode = statusCode;
    this.code = code;
    this.expose = options?.expose ?? statusCode < 500;
  }
}

export type ProviderName = 'referralrock' | 'firstpromoter';

export const providerLabel: Record<ProviderName, string> = {
  referralrock: 'Referral Rock',
  firstpromoter: 'FirstPromoter',
};

interface ProviderErrorDetails {
  provider: ProviderName;
  /** A fixed, non-personal operation label such as `members.search`. */
  operation: string;
  status?: number;
  attempts?: number;
}

/** Base of every provider failure. `retryable` tells the workflow whether a later attempt may succeed. */
export abstract class ProviderError extends Error {
  abstract readonly retryable: boolean;
  readonly provider: ProviderName;
  readonly operation: string;
  readonly status: number | undefined;
  readonly attempts: number;

  constructor(details: ProviderErrorDetails, what: string) {
    const status = details.status === undefined ? '' : ` (HTTP ${details.status})`;
    const attempts = details.attempts && details.attempts > 1 ? ` after ${details.attempts} attempts` : '';
    super(`${providerLabel[details.provider]} ${details.operation}: ${what}${status}${attempts}`);
    this.provider = details.provider;
    this.operation = details.operation;
    this.status = details.status;
    this.attempts = details.attempts ?? 1;
  }
}

/** 401/403: the credentials are wrong or lack permission. Never retried. */
export class ProviderAuthError extends ProviderError {
  override name = 'ProviderAuthError';
  readonly retryable = false;
  constructor(details: ProviderErrorDetails) {
    super(details, 'credentials rejected');
  }
}

/** 429 that outlasted the client's retries. `retryAfterSeconds` is the provider's hint, when it gave one. */
export class ProviderRateLimitError extends ProviderError {
  override name = 'ProviderRateLimitError';
  readonly retryable = true;
  readonly retryAfterSeconds: number | undefined;
  constructor(details: ProviderErrorDetails & { retryAfterSeconds?: number }) {
    super(details, 'rate limited');
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** 5xx, timeout or connection failure that outlasted the client's retries. */
export class ProviderUnavailableError extends ProviderError {
  override name = 'ProviderUnavailableError';
  readonly retryable = true;
  /** A network error code such as `ECONNRESET` or `ETIMEDOUT`, when there was no HTTP answer. */
  readonly networkCode: string | undefined;
  constructor(details: ProviderErrorDetails & { networkCode?: string }) {
    super(details, details.networkCode ? `unavailable: ${details.networkCode}` : 'unavailable');
    this.networkCode = details.networkCode;
  }
}

/** Any other 4xx: the provider refused the request as made. Retrying the same request cannot help. */
export class ProviderRequestError extends ProviderError {
  override name = 'ProviderRequestError';
  readonly retryable = false;
  constructor(details: ProviderErrorDetails) {
    super(details, 'request rejected');
  }
}

/** A 2xx whose body does not have the documented shape. */
export class ProviderBadResponseError extends ProviderError {
  override name = 'ProviderBadResponseError';
  readonly retryable = false;
  constructor(details: ProviderErrorDetails, what = 'unexpected response shape') {
    super(details, what);
  }
}

/**
 * A receipt could not be issued (the issuer function failed, or the log or the key did not answer). The step that ends
 * the request fails with it and is retried (the state machine's Retry lists it): issuing is idempotent, and the
 * request keeps its non-final status until its receipt exists.
 */
export class ReceiptIssueError extends Error {
  override name = 'ReceiptIssueError';
}

/** An event for a request whose audit trail already ended (`request.completed` / `request.canceled`): refused. */
export class AuditTrailSealedError extends Error {
  override name = 'AuditTrailSealedError';
  constructor(requestId: string, eventType: string) {
    super(`The audit trail of ${requestId} has ended; ${eventType} was not appended`);
  }
}

/** 400: the body is not valid JSON. */
export class MalformedRequestError extends AppError {
  override name = 'MalformedRequestError';
  constructor(message = 'The request body is not valid JSON') {
    super(400, 'malformed_json', message);
  }
}

/** 401: missing, invalid or stale signature, or a missing or unknown bearer token. */
export class UnauthorizedError extends AppError {
  override name = 'UnauthorizedError';
  constructor(message = 'Authentication failed') {
    super(401, 'unauthorized', message);
  }
}

/** 403: a valid bearer token whose role does not allow the action (an audit token on cancel). */
export class ForbiddenError extends AppError {
  override name = 'ForbiddenError';
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';
  constructor(message = 'No such erasure request') {
    super(404, 'not_found', message);
  }
}

export class ConflictError extends AppError {
  override name = 'ConflictError';
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}

export class PayloadTooLargeError extends AppError {
  override name = 'PayloadTooLargeError';
  constructor(limitBytes: number) {
    super(413, 'payload_too_large', `The request body exceeds ${limitBytes} bytes`);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  override name = 'UnsupportedMediaTypeError';
  constructor() {
    super(415, 'unsupported_media_type', 'The request body must be application/json');
  }
}

/** 422: well-formed JSON whose fields are invalid. The message names fields, never their values. */
export class ValidationError extends AppError {
  override name = 'ValidationError';
  constructor(message: string) {
    super(422, 'invalid_request', message);
  }
}

/**
 * A task would have to wait past its time budget (for a rate-budget slot or a provider's `Retry-After`): it stops before
 * acting and asks to be run again after `retryAfterSeconds`. The task handler turns it into the result
 * `{ retryAfterSeconds }`, on which the state machine waits (a Wait state costs nothing) and runs the same task again.
 */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';
  /** Whole seconds, at least 1. */
  readonly retryAfterSeconds: number;
  constructor(waitMs: number, what: string) {
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    super(`${what}: retry after ${retryAfterSeconds}s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The invocation's time budget ended while work was in flight: the work was aborted, so nothing is written after the
 * invocation ends. Named like middy's own timeout error, so one `TimeoutError` entry in the state machine's Retry lists
 * covers both; every task is idempotent, so running it again is safe.
 */
export class InvocationTimeoutError extends Error {
  override name = 'TimeoutError';
  constructor(message = 'The task ran out of its time budget; in-flight work was aborted') {
    super(message);
  }
}
