import type { AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';
import type { z } from 'zod/mini';
import {
  createProviderHttp,
  defaultRetryPolicy,
  HttpTransport,
  type RetryPolicy,
} from '#shared/adapters/http/transport';
import { emailMatcher, emailSearchForms } from '#shared/domain/search-forms';
import { ProviderBadResponseError, type ProviderName, ProviderRequestError } from '#shared/errors';
import type {
  Batch,
  FirstPromoterPort,
  FirstPromoterPromoter,
  FirstPromoterReferral,
  Subject,
} from '#shared/ports/providers';
import type { RateBudget } from '#shared/ports/rate-budget';
import { FIRSTPROMOTER_DEFAULT_BASE_URL } from './defaults.ts';
import { batchListSchema, batchSchema, promoterPageSchema, promoterSchema, referralPageSchema } from './schemas.ts';

export { FIRSTPROMOTER_DEFAULT_BASE_URL };
/** FirstPromoter's documented limit: 400 requests per minute per account. */
export const FIRSTPROMOTER_DEFAULT_RATE_LIMIT = { limit: 400, intervalMs: 60_000 } as const;
/** The documented maximum of `per_page`. */
export const FIRSTPROMOTER_MAX_PAGE_SIZE = 100;

const PROVIDER: ProviderName = 'firstpromoter';
// A search that has not ended after this many pages (100,000 records at the default page size) means the provider
// ignores `page`; failing beats looping until the Lambda times out.
const MAX_PAGES = 1_000;

export interface FirstPromoterClientConfig {
  /** Defaults to {@link FIRSTPROMOTER_DEFAULT_BASE_URL}; older docs use `https://v2.firstpromoter.com/api/v2/company`. */
  baseUrl?: string;
  apiKey: string;
  accountId: string;
  /** Per-request timeout, default 10,000 ms. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Default {@link FIRSTPROMOTER_DEFAULT_RATE_LIMIT}; a budget held in this process unless `rateBudget` is given. */
  rateLimit?: { limit: number; intervalMs: number };
  /** The account's rate budget shared by every caller (see `DynamoRateBudget`); FirstPromoter counts per account. */
  rateBudget?: RateBudget;
  /** `per_page` for searches, 1 to 100; default 100. */
  pageSize?: number;
}

/** Test seams passed through to the transport. */
export interface FirstPromoterClientOverrides {
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

/**
 * `GET /batch_processes/{id}` answered 404: the batch id is unknown to this account (or the provider has expired it).
 * A distinct class so the workflow can tell it from other rejected requests; it holds only the numeric batch id.
 */
export class BatchNotFoundError extends ProviderRequestError {
  override name = 'BatchNotFoundError';
  readonly batchId: number;

  constructor(batchId: number, attempts?: number) {
    super({ provider: PROVIDER, operation: 'batch.get', status: 404, ...(attempts === undefined ? {} : { attempts }) });
    this.batchId = batchId;
  }
}

/**
 * FirstPromoter v2 admin API adapter. Searches keep exact matches only, batch actions return the provider's batch for the
 * workflow to poll, and every failure is a typed error free of personal data (see `#shared/errors`). It never logs.
 */
export class FirstPromoterClient implements FirstPromoterPort {
  readonly #transport: HttpTransport;
  readonly #baseUrl: string;
  readonly #headers: Record<string, string>;
  readonly #pageSize: number;

  constructor(http: AxiosInstance, config: FirstPromoterClientConfig, overrides: FirstPromoterClientOverrides = {}) {
    const pageSize = config.pageSize ?? FIRSTPROMOTER_MAX_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > FIRSTPROMOTER_MAX_PAGE_SIZE) {
      // Above the maximum the provider would serve fewer items than asked, and the short-page rule would stop early.
      throw new RangeError(`FirstPromoter pageSize must be an integer from 1 to ${FIRSTPROMOTER_MAX_PAGE_SIZE}`);
    }
    this.#pageSize = pageSize;
    this.#baseUrl = config.baseUrl ?? FIRSTPROMOTER_DEFAULT_BASE_URL;
    this.#headers = {
      Authorization: `Bearer ${config.apiKey}`,
      'Account-ID': config.accountId,
      Accept: 'application/json',
      'Content-Type': 'application/json',
    };
    this.#transport = new HttpTransport(http, {
      provider: PROVIDER,
      timeoutMs: config.timeoutMs ?? 10_000,
      retry: { ...defaultRetryPolicy, ...config.retry },
      rateLimit: config.rateLimit ?? FIRSTPROMOTER_DEFAULT_RATE_LIMIT,
      ...(config.rateBudget ? { rateBudget: config.rateBudget } : {}),
      ...overrides,
    });
  }

  /**
   * The subject's own referrals: one `q` search per form of the email (see {@link emailSearchForms}) and one for the
   * external id. `q` also matches inside email, uid, username and website (ASSUMPTION: substring), so only exact matches
   * are kept: email case-insensitively with the domain in IDNA ASCII form, uid exactly.
   */
  async findReferrals(subject: Subject): Promise<FirstPromoterReferral[]> {
    const { emailForms, externalId } = normalize(subject);
    const isSubjectsEmail = emailMatcher(subject.email);
    const isSubject = (r: FirstPromoterReferral) =>
      isSubjectsEmail(r.email) || (externalId !== undefined && r.uid === externalId);

    const found = new Map<number, FirstPromoterReferral>();
    for (const q of new Set([...emailForms, ...(externalId === undefined ? [] : [externalId])])) {
      const referrals = await this.#searchAll('referrals.search', '/referrals', { q }, referralPageSchema());
      for (const referral of referrals) if (isSubject(referral)) found.set(referral.id, referral);
    }
    return [...found.values()];
  }

  /**
   * Deletes referrals. Up to 5 ids FirstPromoter completes at once (200, `completed`); more return a `pending` batch
   * (202) to poll with {@link getBatch}. Duplicate ids are sent once.
   * @throws RangeError when `ids` is empty: there is nothing to ask for, and a synthetic batch would look like a provider answer.
   */
  deleteReferrals(ids: readonly number[]): Promise<Batch> {
    return this.#batchAction('referrals.delete', 'DELETE', '/referrals', ids);
  }

  /**
   * The account's batches (`GET /batch_processes`, a bare array), newest first: how a retried step finds a batch an
   * earlier attempt started but never heard back about.
   */
  async listBatches(): Promise<Batch[]> {
    const batches = await this.#searchAll('batch.list', '/batch_processes', {}, batchListSchema());
    return batches.sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  /** @throws BatchNotFoundError when the provider does not know the batch. */
  async getBatch(batchId: number): Promise<Batch> {
    if (!Number.isSafeInteger(batchId) || batchId < 1) throw new RangeError('batch id must be a positive integer');
    const response = await this.#send('batch.get', { method: 'GET', url: `/batch_processes/${batchId}` }, [404]);
    if (response.status === 404) throw new BatchNotFoundError(batchId);
    return parse('batch.get', batchSchema(), response);
  }

  /**
   * The subject's promoter records, archived ones included, so a retried archive step finds what it already archived
   * and a restore can find its targets; only the active ones with `activeOnly` (a read-back: one search per form).
   */
  async findPromoters(subject: Subject, options: { activeOnly?: boolean } = {}): Promise<FirstPromoterPromoter[]> {
    const { emailForms, externalId } = normalize(subject);
    const isSubjectsEmail = emailMatcher(subject.email);
    const found = new Map<number, FirstPromoterPromoter>();

    for (const q of emailForms) {
      // What the list returns without `filters[archived]` is not documented (the filter takes `true` or `false`, no
      // value for both), so both documented values are asked for: we rely only on `false` selecting the active
      // promoters and `true` the archived ones.
      for (const archived of options.activeOnly ? ['false'] : ['false', 'true']) {
        const promoters: FirstPromoterPromoter[] = await this.#searchAll(
          'promoters.search',
          '/promoters',
          { q, 'filters[archived]': archived },
          promoterPageSchema(),
        );
        for (const promoter of promoters) {
          if (isSubjectsEmail(promoter.email)) found.set(promoter.id, promoter);
        }
      }
    }

    if (externalId !== undefined) {
      const promoter = await this.#promoterByCustId(externalId);
      if (promoter && !(options.activeOnly && promoter.archived_at !== null)) found.set(promoter.id, promoter);
    }
    return [...found.values()];
  }

  /** Archives promoters (v2 has no promoter delete). Same ≤5 synchronous / >5 batch rule as {@link deleteReferrals}. */
  archivePromoters(ids: readonly number[]): Promise<Batch> {
    return this.#batchAction('promoters.archive', 'POST', '/promoters/archive', ids);
  }

  /** Undoes {@link archivePromoters}. Same ≤5 synchronous / >5 batch rule. */
  restorePromoters(ids: readonly number[]): Promise<Batch> {
    return this.#batchAction('promoters.restore', 'POST', '/promoters/restore', ids);
  }

  async #promoterByCustId(externalId: string): Promise<FirstPromoterPromoter | undefined> {
    // '.' and '..' would be resolved away as dot segments of the URL path and fetch another resource.
    if (externalId === '.' || externalId === '..') throw new RangeError('external id cannot be looked up by path');
    const response = await this.#send(
      'promoters.get',
      { method: 'GET', url: `/promoters/${encodeURIComponent(externalId)}`, params: { find_by: 'cust_id' } },
      // 404 is the documented "Record not found". ASSUMPTION: a lookup key the provider cannot resolve may also be
      // answered 422; both mean no promoter has this cust_id.
      [404, 422],
    );
    if (response.status === 404 || response.status === 422) return undefined;
    const promoter = parse('promoters.get', promoterSchema(), response);
    // Keep it only on an exact match, in case the provider's lookup is looser (case, whitespace) than ours.
    return promoter.cust_id === externalId ? promoter : undefined;
  }

  async #batchAction(
    operation: string,
    method: 'DELETE' | 'POST',
    url: string,
    ids: readonly number[],
  ): Promise<Batch> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) throw new RangeError(`FirstPromoter ${operation}: ids must not be empty`);
    if (!unique.every((id) => Number.isSafeInteger(id) && id > 0)) {
      throw new RangeError(`FirstPromoter ${operation}: ids must be positive integers`);
    }
    // A DELETE with a JSON body, as FirstPromoter documents for referrals. A referral delete is not repeated after a
    // lost answer (it may have started a batch); archive and restore are, as doing them twice changes nothing.
    const response = await this.#send(operation, { method, url, data: { ids: unique } }, undefined, {
      idempotent: operation !== 'referrals.delete',
    });
    return parse(operation, batchSchema(), response);
  }

  /**
   * Pages `GET path` from page 1 until a page holds fewer than `per_page` items: the endpoints document neither totals
   * nor paging headers. `per_page` never exceeds the documented maximum, so a short page really is the last one.
   */
  async #searchAll<T>(
    operation: string,
    url: string,
    params: Record<string, string>,
    schema: z.ZodMiniType<T[]>,
  ): Promise<T[]> {
    const all: T[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const response = await this.#send(operation, {
        method: 'GET',
        url,
        params: { ...params, page, per_page: this.#pageSize },
      });
      const items = parse(operation, schema, response);
      all.push(...items);
      if (items.length < this.#pageSize) return all;
    }
    throw new ProviderBadResponseError({ provider: PROVIDER, operation }, 'paging did not end');
  }

  #send(
    operation: string,
    config: AxiosRequestConfig,
    acceptStatus?: readonly number[],
    options: { idempotent?: boolean } = {},
  ): Promise<AxiosResponse> {
    return this.#transport.send<unknown>(
      operation,
      { baseURL: this.#baseUrl, headers: this.#headers, ...config },
      { ...(acceptStatus === undefined ? {} : { acceptStatus }), ...options },
    );
  }
}

/**
 * A {@link FirstPromoterClient} with its own axios instance.
 * @param config credentials arrive here from parsed configuration, never from literals
 */
export function createFirstPromoterClient(
  config: FirstPromoterClientConfig,
  overrides?: FirstPromoterClientOverrides,
): FirstPromoterClient {
  return new FirstPromoterClient(createProviderHttp(), config, overrides);
}

/** The zod error is dropped, not attached: its issues may quote the offending values, which can be personal data. */
function parse<T>(operation: string, schema: z.ZodMiniType<T>, response: AxiosResponse): T {
  const result = schema.safeParse(response.data);
  if (!result.success) throw new ProviderBadResponseError({ provider: PROVIDER, operation, status: response.status });
  return result.data;
}

/**
 * What to search for: every distinct form of the email and the trimmed external id; empty values count as absent.
 * ASSUMPTION: how `q` compares case (and whether it maps IDN domains) is not documented, so every form is searched, even
 * though a case-insensitive search would answer the same for each.
 */
function normalize(subject: Subject): { emailForms: string[]; externalId?: string } {
  const emailForms = emailSearchForms(subject.email ?? '');
  const externalId = subject.externalId?.trim() || undefined;
  if (emailForms.length === 0 && externalId === undefined) {
    throw new RangeError('subject needs an email or an external id');
  }
  return { emailForms, ...(externalId === undefined ? {} : { externalId }) };
}
