import { type AxiosInstance, type AxiosRequestConfig, type AxiosResponse, isAxiosError } from 'axios';
import {
  ProviderAuthError,
  type ProviderError,
  type ProviderName,
  ProviderRateLimitError,
  ProviderRequestError,
  ProviderUnavailableError,
} from '#shared/errors';
import { RateLimiter, sleep } from './rate-limiter.ts';

export interface RetryPolicy {
  /** Total tries, the first included. */
  maxAttempts: number;
  /** First backoff ceiling; doubles each attempt ("full jitter" picks uniformly below it). */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * The longest `Retry-After` honoured in-process. A longer hint ends the call with a ProviderRateLimitError carrying it,
   * so the workflow (which can wait for free) retries instead of a Lambda sleeping.
   */
  maxRetryAfterMs: number;
}

export interface TransportOptions {
  provider: ProviderName;
  /** Per-request timeout; a provider that hangs longer counts as unavailable and is retried. */
  timeoutMs: number;
  retry: RetryPolicy;
  rateLimit: { limit: number; intervalMs: number };
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 30_000,
};

const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_NETWORK',
]);

export interface SendOptions {
  /** Non-2xx statuses the caller handles itself (e.g. 404 meaning "none"); they are returned, not thrown. */
  acceptStatus?: readonly number[];
  /**
   * False for a call that must not run twice (e.g. one that starts a provider batch): after a timeout or a dropped
   * connection the provider may have acted, so the call is not repeated here; the caller reconciles before retrying.
   */
  idempotent?: boolean;
}

/** Network failures after which the request was certainly not processed: a retry cannot act twice. */
const NOT_SENT_NETWORK_CODES = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND']);

/**
 * The HTTP behaviour both provider clients share: rate limiting, timeouts, retries with exponential backoff and jitter on
 * 429 / 5xx / timeouts / resets, `Retry-After`, and typed errors that never carry the URL (it holds the search query)
 * or the response body.
 */
export class HttpTransport {
  readonly #http: AxiosInstance;
  readonly #options: TransportOptions;
  readonly #limiter: RateLimiter;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #now: () => number;

  constructor(http: AxiosInstance, options: TransportOptions) {
    this.#http = http;
    this.#options = options;
    this.#sleep = options.sleep ?? sleep;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#limiter = new RateLimiter({ ...options.rateLimit, sleep: this.#sleep, now: this.#now });
  }

  /**
   * Sends one request, retrying what may succeed later.
   * @param operation a fixed, non-personal label used in errors, e.g. `members.search`
   */
  async send<T>(operation: string, config: AxiosRequestConfig, options: SendOptions = {}): Promise<AxiosResponse<T>> {
    const { provider, retry } = this.#options;
    for (let attempt = 1; ; attempt++) {
      await this.#limiter.acquire();
      const outcome = await this.#once<T>(config);
      const details = { provider, operation, attempts: attempt };

      let failure: ProviderError;
      let waitMs: number | undefined;
      if ('response' in outcome) {
        const { status } = outcome.response;
        if ((status >= 200 && status < 300) || options.acceptStatus?.includes(status)) return outcome.response;
        if (status === 401 || status === 403) throw new ProviderAuthError({ ...details, status });
        if (status === 429) {
          const hintMs = parseRetryAfter(outcome.response.headers['retry-after'], this.#now());
          failure = new ProviderRateLimitError({
            ...details,
            status,
            ...(hintMs === undefined ? {} : { retryAfterSeconds: Math.ceil(hintMs / 1000) }),
          });
          if (hintMs !== undefined) {
            if (hintMs > retry.maxRetryAfterMs) throw failure;
            waitMs = hintMs;
          }
        } else if (status >= 500) {
          failure = new ProviderUnavailableError({ ...details, status });
        } else {
          throw new ProviderRequestError({ ...details, status });
        }
      } else {
        const ambiguous = !NOT_SENT_NETWORK_CODES.has(outcome.networkCode);
        if (!RETRYABLE_NETWORK_CODES.has(outcome.networkCode) || (options.idempotent === false && ambiguous)) {
          throw new ProviderUnavailableError({ ...details, networkCode: outcome.networkCode });
        }
        failure = new ProviderUnavailableError({ ...details, networkCode: outcome.networkCode });
      }

      if (attempt >= retry.maxAttempts) throw failure;
      await this.#sleep(waitMs ?? this.#backoff(attempt));
    }
  }

  #backoff(attempt: number): number {
    const { baseDelayMs, maxDelayMs } = this.#options.retry;
    return Math.floor(this.#random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
  }

  async #once<T>(config: AxiosRequestConfig): Promise<{ response: AxiosResponse<T> } | { networkCode: string }> {
    try {
      const response = await this.#http.request<T>({
        timeout: this.#options.timeoutMs,
        ...config,
        validateStatus: () => true,
      });
      return { response };
    } catch (error) {
      // Keep only the error code: the axios error holds the request URL and headers (query and credentials).
      if (isAxiosError(error)) return { networkCode: error.code ?? 'ERR_NETWORK' };
      return { networkCode: 'ERR_UNKNOWN' };
    }
  }
}

/** `Retry-After` as milliseconds from now: delta-seconds or an HTTP date. Unparseable values are ignored. */
export function parseRetryAfter(value: unknown, now: number): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Only an HTTP date (e.g. `Wed, 21 Oct 2015 07:28:00 GMT`): V8's lenient Date.parse reads junk like '-1' as a date.
  if (!/^[A-Za-z]{3,9},? \d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT$/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
