import type { AxiosInstance } from 'axios';
import type { z } from 'zod/mini';
import {
  createProviderHttp,
  defaultRetryPolicy,
  HttpTransport,
  type RetryPolicy,
  type TransportOptions,
} from '#shared/adapters/http/transport';
import { emailMatcher, emailSearchForms } from '#shared/domain/search-forms';
import { ProviderBadResponseError } from '#shared/errors';
import type {
  ReferralRockMember,
  ReferralRockPort,
  ReferralRockReferral,
  RemoveResult,
  Subject,
} from '#shared/ports/providers';
import type { RateBudget } from '#shared/ports/rate-budget';
import { REFERRALROCK_DEFAULT_BASE_URL } from './defaults.ts';
import {
  type MemberRecord,
  memberQueryEchoSchema,
  membersPageSchema,
  type ReferralRecord,
  referralQueryEchoSchema,
  referralsPageSchema,
  removeResultsSchema,
} from './schemas.ts';

export interface ReferralRockClientConfig {
  /** Defaults to `https://api.referralrock.com`; paths are appended as `/api/...`. */
  baseUrl?: string;
  publicKey: string;
  privateKey: string;
  /** Per-request timeout in ms (default 10000). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Referral Rock documents a rate limit but not its size: the default of 120 per minute is a guess, so it is configurable. */
  rateLimit?: { limit: number; intervalMs: number };
  /** The account's rate budget shared by every caller (see `DynamoRateBudget`); without it, one in this process. */
  rateBudget?: RateBudget;
  /** `count` sent with each search page (default 100). */
  pageSize?: number;
  /** Queries per remove request (default 50). Referral Rock documents no maximum. */
  removeChunkSize?: number;
}

/** Test seams for time and randomness, passed through to the transport. */
export type ReferralRockClientOverrides = Pick<TransportOptions, 'sleep' | 'random' | 'now'>;

export const referralRockDefaults = {
  baseUrl: REFERRALROCK_DEFAULT_BASE_URL,
  timeoutMs: 10_000,
  rateLimit: { limit: 120, intervalMs: 60_000 },
  pageSize: 100,
  removeChunkSize: 50,
} as const;

/** A stop for a provider whose paging never ends: 1000 pages of 100 is far beyond any one person's records. */
const MAX_PAGES = 1000;

type SearchOperation = 'members.search' | 'referrals.search';
type RemoveOperation = 'members.remove' | 'referrals.remove';

/**
 * Referral Rock adapter: finds a subject's member and referral records and deletes them by id.
 * Errors are the typed provider errors of `#shared/errors`; none carries the email, the external id or a URL.
 */
export class ReferralRockClient implements ReferralRockPort {
  readonly #transport: HttpTransport;
  readonly #baseUrl: string;
  readonly #authorization: string;
  readonly #pageSize: number;
  readonly #removeChunkSize: number;

  constructor(http: AxiosInstance, config: ReferralRockClientConfig, overrides: ReferralRockClientOverrides = {}) {
    if (!config.publicKey || !config.privateKey) {
      throw new TypeError('Referral Rock client needs both publicKey and privateKey');
    }
    this.#pageSize = positiveInteger(config.pageSize ?? referralRockDefaults.pageSize, 'pageSize');
    this.#removeChunkSize = positiveInteger(
      config.removeChunkSize ?? referralRockDefaults.removeChunkSize,
      'removeChunkSize',
    );
    this.#baseUrl = (config.baseUrl ?? referralRockDefaults.baseUrl).replace(/\/+$/, '');
    this.#authorization = `Basic ${Buffer.from(`${config.publicKey}:${config.privateKey}`).toString('base64')}`;
    this.#transport = new HttpTransport(http, {
      provider: 'referralrock',
      timeoutMs: config.timeoutMs ?? referralRockDefaults.timeoutMs,
      retry: { ...defaultRetryPolicy, ...config.retry },
      rateLimit: config.rateLimit ?? referralRockDefaults.rateLimit,
      ...(config.rateBudget ? { rateBudget: config.rateBudget } : {}),
      ...overrides,
    });
  }

  /**
   * Every member record of the subject, one per program, found by searching each form of the email (see
   * {@link emailSearchForms}) and the external id. Only exact matches are kept (email case-insensitively with the domain
   * in IDNA ASCII form, external id exactly): the search is documented as "must equal", but erasing a near-match would
   * delete someone else's data, so the client does not rely on it.
   */
  async findMembers(subject: Subject): Promise<ReferralRockMember[]> {
    const found = new Map<string, ReferralRockMember>();
    const isSubjectsOwn = ownRecordMatcher(subject);
    for (const term of searchTerms(subject)) {
      const records = await this.#searchAll(
        'members.search',
        '/api/members',
        membersPageSchema(),
        term,
        (p) => p.members,
      );
      for (const record of records) {
        if (isSubjectsOwn(record) && !found.has(record.id)) found.set(record.id, toMember(record));
      }
    }
    return [...found.values()];
  }

  /**
   * The subject's own referral records. A search may also return the referrals the subject made as a referring member
   * (`memberEmail` / `referringMemberId`): those are the referred friends' data and are dropped, since only a referral's
   * own `email` / `externalIdentifier` decides. Searched and matched as {@link findMembers}.
   */
  async findReferrals(subject: Subject): Promise<ReferralRockReferral[]> {
    const found = new Map<string, ReferralRockReferral>();
    const isSubjectsOwn = ownRecordMatcher(subject);
    for (const term of searchTerms(subject)) {
      const records = await this.#searchAll(
        'referrals.search',
        '/api/referrals',
        referralsPageSchema(),
        term,
        (p) => p.referrals,
      );
      for (const record of records) {
        if (isSubjectsOwn(record) && !found.has(record.id)) found.set(record.id, toReferral(record));
      }
    }
    return [...found.values()];
  }

  /**
   * Deletes members by id (`DELETE /api/members/remove`), one result per id in input order. Only a `Success` status
   * counts as deleted. A retried request may answer "not found" for ids an unanswered attempt already deleted, so callers
   * confirm a `deleted: false` by searching again.
   */
  removeMembers(memberIds: readonly string[]): Promise<RemoveResult[]> {
    return this.#removeAll(
      'members.remove',
      'DELETE',
      '/api/members/remove',
      memberIds,
      (memberId) => ({ query: { primaryInfo: { memberId } } }),
      (echo) => memberQueryEchoSchema().safeParse(echo).data?.primaryInfo?.memberId,
    );
  }

  /** Deletes referrals by id (`POST /api/referral/remove`); results as for {@link removeMembers}. */
  removeReferrals(referralIds: readonly string[]): Promise<RemoveResult[]> {
    return this.#removeAll(
      'referrals.remove',
      'POST',
      '/api/referral/remove',
      referralIds,
      (referralId) => ({ query: { primaryInfo: { referralId } } }),
      (echo) => referralQueryEchoSchema().safeParse(echo).data?.primaryInfo?.referralId,
    );
  }

  async #searchAll<P extends { total: number }, T>(
    operation: SearchOperation,
    path: string,
    schema: z.ZodMiniType<P>,
    query: string,
    itemsOf: (page: P) => readonly T[] | null,
  ): Promise<T[]> {
    const all: T[] = [];
    let offset = 0;
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      const response = await this.#transport.send<unknown>(operation, {
        method: 'GET',
        url: `${this.#baseUrl}${path}`,
        // `count` defaults to 2147483647 at Referral Rock: always page explicitly.
        params: { query, offset, count: this.#pageSize },
        headers: this.#headers(),
      });
      const page = parseOrThrow(schema, response.data, operation, response.status);
      const items = itemsOf(page) ?? [];
      all.push(...items);
      // Advance by what arrived, not by the page size, in case the provider caps `count` lower than asked.
      offset += items.length;
      if (items.length === 0 || offset >= page.total) return all;
    }
    throw new ProviderBadResponseError(
      { provider: 'referralrock', operation },
      `paging did not end after ${MAX_PAGES} pages`,
    );
  }

  async #removeAll(
    operation: RemoveOperation,
    method: 'DELETE' | 'POST',
    path: string,
    ids: readonly string[],
    queryFor: (id: string) => unknown,
    echoedId: (echo: unknown) => string | null | undefined,
  ): Promise<RemoveResult[]> {
    const results: RemoveResult[] = [];
    for (let start = 0; start < ids.length; start += this.#removeChunkSize) {
      const chunk = ids.slice(start, start + this.#removeChunkSize);
      const response = await this.#transport.send<unknown>(operation, {
        method,
        url: `${this.#baseUrl}${path}`,
        data: chunk.map(queryFor),
        headers: this.#headers(),
      });
      const items = parseOrThrow(removeResultsSchema(), response.data, operation, response.status);
      const details = { provider: 'referralrock' as const, operation, status: response.status };
      if (items.length !== chunk.length) {
        throw new ProviderBadResponseError(details, `expected ${chunk.length} results, got ${items.length}`);
      }
      chunk.forEach((id, index) => {
        const { query, resultInfo } = items[index] as (typeof items)[number];
        // Results are matched to ids by position; an echo naming another id means that mapping would be wrong.
        const echoed = echoedId(query);
        if (echoed && echoed.toLowerCase() !== id.toLowerCase()) {
          throw new ProviderBadResponseError(details, 'results are not in request order');
        }
        if (resultInfo.Status.trim().toLowerCase() === 'success') {
          results.push({ id, deleted: true });
        } else {
          results.push({ id, deleted: false, message: resultInfo.Message || `status ${resultInfo.Status || 'empty'}` });
        }
      });
    }
    return results;
  }

  #headers(): Record<string, string> {
    return { Authorization: this.#authorization, Accept: 'application/json', 'Content-Type': 'application/json' };
  }
}

/**
 * Builds a {@link ReferralRockClient} on its own axios instance.
 * @param config credentials and limits; see {@link ReferralRockClientConfig}
 * @param overrides time and randomness seams for tests
 */
export function createReferralRockClient(
  config: ReferralRockClientConfig,
  overrides?: ReferralRockClientOverrides,
): ReferralRockClient {
  return new ReferralRockClient(createProviderHttp(), config, overrides);
}

/**
 * Every distinct form of the email, then the external id. ASSUMPTION: whether Referral Rock compares emails ignoring case
 * is not documented, so every form is searched even though a case-insensitive search would answer the same for each.
 */
function searchTerms(subject: Subject): string[] {
  const terms = new Set<string>(emailSearchForms(subject.email ?? ''));
  const externalId = subject.externalId?.trim();
  if (externalId) terms.add(externalId);
  // An empty subject would search nothing and report "no records", which reads as a completed erasure.
  if (terms.size === 0) throw new TypeError('subject needs an email or an external id');
  return [...terms];
}

/** Whether a record is the subject's own: its own email or external id, never a referrer's (`memberEmail`). */
function ownRecordMatcher(
  subject: Subject,
): (record: { email?: string | null; externalIdentifier?: string | null }) => boolean {
  const isSubjectsEmail = emailMatcher(subject.email);
  const externalId = subject.externalId?.trim();
  return (record) => isSubjectsEmail(record.email) || (Boolean(externalId) && record.externalIdentifier === externalId);
}

function toMember(record: MemberRecord): ReferralRockMember {
  return {
    id: record.id,
    email: record.email ?? null,
    externalIdentifier: record.externalIdentifier ?? null,
    programId: record.programId ?? null,
    programName: record.programName ?? null,
  };
}

function toReferral(record: ReferralRecord): ReferralRockReferral {
  return {
    id: record.id,
    email: record.email ?? null,
    externalIdentifier: record.externalIdentifier ?? null,
    programId: record.programId ?? null,
    referringMemberId: record.referringMemberId ?? null,
  };
}

/** Parses a 2xx body; a mismatch names only the schema path, never a value (values are personal data). */
function parseOrThrow<T>(schema: z.ZodMiniType<T>, data: unknown, operation: string, status: number): T {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const path = parsed.error.issues[0]?.path.filter((key) => typeof key !== 'symbol').join('.');
  throw new ProviderBadResponseError(
    { provider: 'referralrock', operation, status },
    path ? `unexpected response shape at ${path}` : 'unexpected response shape',
  );
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}
