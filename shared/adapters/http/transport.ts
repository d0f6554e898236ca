import axios, {
  type AxiosInstance,
  type AxiosRequestConfig,
  type AxiosResponse,
  type CreateAxiosDefaults,
  isAxiosError,
} from 'axios';
import {
  InvocationTimeoutError,
  ProviderAuthError,
  type ProviderError,
  type ProviderName,
  ProviderRateLimitError,
  ProviderRequestError,
  ProviderUnavailableError,
  RetryLaterError,
} from '#shared/errors';
import type { RateBudget } from '#shared/ports/rate-budget';
import {
  currentInvocationBudget,
  type InvocationBudget,
  sleepUnlessAborted,
  throwIfBudgetEnded,
} from '#shared/workflow/invocation-budget';
import { noteUnansweredCall } from '#shared/workflow/unanswered-calls';
import { InProcessRateBudget } from './rate-limiter.ts';

export interface RetryPolicy {
  /** Total tries, the first included. */
  maxAttempts: number;
  /** First backoff ceiling; doubles each attempt ("full jitter" picks uniformly below it). */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * The longest `Retry-After` honoured in-process. A longer hint, or one that would outlast the invocation's time
   * budget, ends a workflow task with a RetryLaterError carrying it, so the state machine (which waits for free) runs
   * the task again after it; outside a task, with a ProviderRateLimitError carrying it.
   */
  maxRetryAfterMs: number;
}

export interface TransportOptions {
  provider: ProviderName;
  /** Per-request timeout; a provider that hangs longer counts as unavailable and is retried. */
  timeoutMs: number;
  retry: RetryPolicy;
  /** Used when no `rateBudget` is given: a budget held in this process only. */
  rateLimit: { limit: number; intervalMs: number };
  /** The provider account's budget, shared by every caller (the service's functions pass the DynamoDB one). */
  rateBudget?: RateBudget;
  /** Waits between attempts; aborted by `signal` when the invocation's budget ends. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

/**
 * The fetch adapter's feature checks (a `Request` with a stream body, a `Response`, about 0.7 ms of CPU once the
 * platform is warm) run when axios's module is evaluated, and axios keeps their results by the `fetch`, `Request`,
 * `Response` and `Blob` of a request's `env`. Its defaults put the platform's `Blob` there, so the first request
 * missed the import's results and checked again; with `Blob` left undefined (it is used for nothing else: the fetch
 * adapter falls back to the global `Blob`) every request finds them. An undocumented key of axios 1.x, so the bundles
 * test counts the checks: it fails should a new axios check again at the first request.
 */
const SAME_FETCH_ENV = { Blob: undefined } as CreateAxiosDefaults['env'];

/**
 * The axios instance a provider client sends through: axios's fetch adapter, over Node's own `fetch`. Redirects are not
 * followed: a provider API answers in place, and a redirect would carry the account's credentials (the Authorization
 * header) wherever it points; the 3xx is returned and fails the call (ProviderRequestError). No proxy: the service
 * calls the providers directly (Lambda has no proxy; locally they are simulators on loopback). With the fetch adapter
 * the Lambda bundles take axios's fetch-only build and leave out its Node.js adapter with the redirect, proxy and
 * multipart libraries it imports (BUNDLING in `infra/constructs/handler-function.ts`).
 */
export const createProviderHttp = (defaults: CreateAxiosDefaults = {}): AxiosInstance =>
  axios.create({
    ...defaults,
    adapter: 'fetch',
    maxRedirects: 0,
    proxy: false,
    env: { ...SAME_FETCH_ENV, ...defaults.env },
  });

/**
 * Node's `fetch` (undici) reports a network failure as `TypeError: fetch failed` (axios: ERR_NETWORK) whose cause holds
 * the code; undici's own codes are named here as the socket errors they are, so that retries and the "certainly not
 * sent" rule read one vocabulary whatever the adapter.
 */
const UNDICI_NETWORK_CODES: Record<string, string> = {
  UND_ERR_SOCKET: 'ECONNRESET',
  UND_ERR_CLOSED: 'ECONNRESET',
  UND_ERR_CONNECT_TIMEOUT: 'ETIMEDOUT',
  UND_ERR_HEADERS_TIMEOUT: 'ETIMEDOUT',
  UND_ERR_BODY_TIMEOUT: 'ETIMEDOUT',
};

/** The network code of a failed request: the socket's own (ECONNRESET, ECONNREFUSED, ...) where fetch wraps it. */
function networkCodeOf(error: { code?: string; cause?: unknown }): string {
  let cause = error.cause as { code?: unknown; cause?: unknown } | undefined;
  // undici may nest the socket error one level deeper (a connect error's cause).
  for (let depth = 0; cause && depth < 2; depth++, cause = cause.cause as typeof cause) {
    if (typeof cause.code === 'string') return UNDICI_NETWORK_CODES[cause.code] ?? cause.code;
  }
  return error.code ?? 'ERR_NETWORK';
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

/**
 * The share of its budget an invocation may queue for its first rate-budget slot. Its later calls queue behind the
 * same line again, so a task admitted only when the line is short still has time for them; a task admitted behind a
 * line as long as its whole budget would get one call per invocation, search again on every re-run, and never finish.
 * Under a backlog the line stays about this long, which keeps the provider busy.
 */
const FIRST_SLOT_SHARE_OF_BUDGET = 0.1;

/** Invocations that have had a slot (from any provider's transport): their later calls may queue up to the deadline. */
const admitted = new WeakSet<InvocationBudget>();

/** Network failures after which the request was certainly not processed: a retry cannot act twice. */
const NOT_SENT_NETWORK_CODES = new Set(['ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND']);

/**
 * The HTTP behaviour both provider clients share: a slot of the account's rate budget before every attempt, timeouts,
 * retries with exponential backoff and jitter on 429 / 5xx / timeouts / resets, `Retry-After`, and typed errors that
 * never carry the URL (it holds the search query) or the response body.
 *
 * Within a workflow task (an invocation budget is open, see `#shared/workflow/invocation-budget`) it never waits past
 * the budget: a slot or a `Retry-After` that would end too late ends the call with a RetryLaterError before anything is
 * sent, a backoff that would end too late gives up with the error at hand, and at the deadline the request in flight is
 * aborted (InvocationTimeoutError), so no call reaches the provider after the invocation ended.
 */
export class HttpTransport {
  readonly #http: AxiosInstance;
  readonly #options: TransportOptions;
  readonly #budget: RateBudget;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #now: () => number;

  constructor(http: AxiosInstance, options: TransportOptions) {
    this.#http = http;
    this.#options = options;
    this.#sleep = options.sleep ?? sleepUnlessAborted;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#budget =
      options.rateBudget ?? new InProcessRateBudget({ ...options.rateLimit, sleep: this.#sleep, now: this.#now });
  }

  /**
   * Sends one request, retrying what may succeed later.
   * @param operation a fixed, non-personal label used in errors, e.g. `members.search`
   */
  async send<T>(operation: string, config: AxiosRequestConfig, options: SendOptions = {}): Promise<AxiosResponse<T>> {
    const { provider, retry } = this.#options;
    const invocation = currentInvocationBudget();
    for (let attempt = 1; ; attempt++) {
      throwIfBudgetEnded(invocation);
      if (invocation) {
        await this.#budget
          .acquire({ latestStartAt: this.#latestStartAt(invocation), signal: invocation.signal })
          .catch((error: unknown) => {
            if (!(error instanceof RetryLaterError)) throw error;
            // Callers turned away together would all come back together: spread them over up to half as long again.
            throw new RetryLaterError(error.retryAfterSeconds * 1000 * (1 + this.#random() / 2), 'rate budget');
          });
        admitted.add(invocation);
      } else {
        await this.#budget.acquire();
      }
      const outcome = await this.#once<T>(config, invocation);
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
            // Every caller of this account waits it out, not only this one.
            await this.#budget.holdUntil(this.#now() + hintMs);
            if (invocation && !this.#fits(invocation, hintMs))
              throw new RetryLaterError(hintMs, 'provider Retry-After');
            if (hintMs > retry.maxRetryAfterMs) {
              if (invocation) throw new RetryLaterError(hintMs, 'provider Retry-After');
              throw failure;
            }
            waitMs = hintMs;
          }
        } else if (status >= 500) {
          failure = new ProviderUnavailableError({ ...details, status });
        } else {
          throw new ProviderRequestError({ ...details, status });
        }
      } else {
        const ambiguous = !NOT_SENT_NETWORK_CODES.has(outcome.networkCode);
        if (ambiguous) noteUnansweredCall();
        if (!RETRYABLE_NETWORK_CODES.has(outcome.networkCode) || (options.idempotent === false && ambiguous)) {
          throw new ProviderUnavailableError({ ...details, networkCode: outcome.networkCode });
        }
        failure = new ProviderUnavailableError({ ...details, networkCode: outcome.networkCode });
      }

      if (attempt >= retry.maxAttempts) throw failure;
      const delayMs = waitMs ?? this.#backoff(attempt);
      // A backoff that would outlast the budget: give up now; the state machine retries the task with its own backoff.
      if (invocation && !this.#fits(invocation, delayMs)) throw failure;
      await this.#sleep(delayMs, invocation?.signal);
    }
  }

  /**
   * The latest moment a request is worth starting: when its timeout still ends before the deadline, or, for a budget
   * shorter than a timeout, halfway through the budget (so that such an invocation still gets its work done, and the
   * deadline's abort covers the rest).
   */
  #latestRequestStart(invocation: InvocationBudget): number {
    const { startedAt, deadline } = invocation;
    return Math.max(deadline - this.#options.timeoutMs, startedAt + (deadline - startedAt) / 2);
  }

  /** The latest slot worth taking; for an invocation's first, no further ahead than {@link FIRST_SLOT_SHARE_OF_BUDGET}. */
  #latestStartAt(invocation: InvocationBudget): number {
    const latest = this.#latestRequestStart(invocation);
    if (admitted.has(invocation)) return latest;
    const share = (invocation.deadline - invocation.startedAt) * FIRST_SLOT_SHARE_OF_BUDGET;
    return Math.min(latest, this.#now() + share);
  }

  /** Whether a request started after waiting `delayMs` would still start in time (see #latestRequestStart). */
  #fits(invocation: InvocationBudget, delayMs: number): boolean {
    return this.#now() + delayMs <= this.#latestRequestStart(invocation);
  }

  #backoff(attempt: number): number {
    const { baseDelayMs, maxDelayMs } = this.#options.retry;
    return Math.floor(this.#random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
  }

  async #once<T>(
    config: AxiosRequestConfig,
    invocation: InvocationBudget | undefined,
  ): Promise<{ response: AxiosResponse<T> } | { networkCode: string }> {
    try {
      const response = await this.#http.request<T>({
        timeout: this.#options.timeoutMs,
        ...config,
        ...(invocation ? { signal: invocation.signal } : {}),
        validateStatus: () => true,
      });
      return { response };
    } catch (error) {
      if (invocation?.signal.aborted) {
        // Aborted in flight: it may have reached the provider.
        noteUnansweredCall();
        throw new InvocationTimeoutError();
      }
      // Keep only the error code: the axios error holds the request URL and headers (query and credentials).
      if (isAxiosError(error)) return { networkCode: networkCodeOf(error) };
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
