import type { Batch, BatchStatus } from '#shared/ports/providers';
import { type RouteContext, type RouteDefinition, type SimResponse, SimulatorHarness } from './harness.ts';

/*
 * A FirstPromoter v2 admin API ("company" API) on a real HTTP server, for integration tests and local runs.
 * Behaviour follows /work/shared/providers/PROVIDER-APIS.md and the seed pages. Where the docs leave something open the
 * code says "OPEN:" and picks one reading; clients must not depend on it.
 */

export type ReferralState =
  | 'subscribed'
  | 'signup'
  | 'active'
  | 'cancelled'
  | 'refunded'
  | 'denied'
  | 'pending'
  | 'moved';

export interface SimReferral {
  id: number;
  email: string | null;
  uid: string | null;
  state: ReferralState;
  metadata: Record<string, unknown>;
  entry_source: string | null;
  created_at: string;
  customer_since: string | null;
  promoter_campaign: {
    id: number;
    campaign_id: number;
    promoter_id: number;
    promoter: { id: number; email: string | null; name: string | null };
    campaign: { id: number; name: string };
  } | null;
  username: string | null;
  first_name: string | null;
  last_name: string | null;
  website: string | null;
  comment: string | null;
  is_expired: boolean;
}

export interface SimPromoter {
  id: number;
  email: string | null;
  name: string | null;
  cust_id: string | null;
  archived_at: string | null;
  profile: { first_name: string | null; last_name: string | null };
  joined_at: string;
  ref_id: string | null;
}

export type BatchOutcome = 'completed' | 'partial' | 'failed' | 'stopped';
export type ActionLabel = 'referral/delete' | 'promoter/archive' | 'promoter/restore';

/**
 * How emails compare in `q` searches and `find_by=email` lookups. OPEN: undocumented. `insensitive` (the default) ignores
 * case; `sensitive` compares emails exactly as stored (Unicode or punycode domains as given), so `Jane.Doe@Example.com`
 * does not contain `jane.doe@example.com`. Other fields always ignore case.
 */
export type EmailCase = 'insensitive' | 'sensitive';

export interface FirstPromoterSimulatorOptions {
  apiKey?: string;
  accountId?: string;
  emailCase?: EmailCase;
  batch?: {
    /** The poll of `GET /batch_processes/{id}` that finds an asynchronous batch finished (default 2; earlier polls see `in_progress`). */
    pollsToComplete?: number;
    /** When set, an asynchronous batch finishes this many ms after it was created, however often it is polled. */
    msToComplete?: number;
  };
}

interface BatchRecord {
  batch: Batch;
  ids: number[];
  polls: number;
  createdAtMs: number;
  outcome: BatchOutcome;
}

/** Documented: above 5 ids an action runs as an asynchronous batch. */
const SYNC_LIMIT = 5;
const DEFAULT_PER_PAGE = 20;
const MAX_PER_PAGE = 100;
const TERMINAL: ReadonlySet<BatchStatus> = new Set(['completed', 'failed', 'stopped']);
const NOT_FOUND = { message: 'Record not found', code: 'not_found' };

/** ISO timestamps without milliseconds, as in the seed pages (`2023-11-07T05:31:56Z`). */
const isoNow = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * FirstPromoter simulator: referrals, promoters and batch processes in memory, behind Bearer + `Account-ID` auth.
 * Tests reach recording, fault injection and the rate limit through {@link harness}.
 */
export class FirstPromoterSimulator {
  readonly harness: SimulatorHarness;
  readonly #pollsToComplete: number;
  readonly #msToComplete: number | undefined;
  readonly #emailCase: EmailCase;
  readonly #referrals = new Map<number, SimReferral>();
  readonly #promoters = new Map<number, SimPromoter>();
  readonly #batches = new Map<number, BatchRecord>();
  readonly #plannedOutcomes: BatchOutcome[] = [];
  readonly #runOn = new Map<ActionLabel, number>();
  // Separate id ranges, so a test that mixes up a referral, a promoter and a batch id fails instead of passing by luck.
  #nextReferralId = 1001;
  #nextPromoterId = 2001;
  #nextBatchId = 9001;

  constructor(options: FirstPromoterSimulatorOptions = {}) {
    const apiKey = options.apiKey ?? 'demo-api-key';
    const accountId = options.accountId ?? 'demo-account';
    this.#pollsToComplete = Math.max(1, options.batch?.pollsToComplete ?? 2);
    this.#msToComplete = options.batch?.msToComplete;
    this.#emailCase = options.emailCase ?? 'insensitive';

    const routes: RouteDefinition[] = [
      { method: 'GET', pattern: '/referrals', handler: (ctx) => this.#listReferrals(ctx) },
      { method: 'GET', pattern: '/referrals/:value', handler: (ctx) => this.#getReferral(ctx) },
      { method: 'DELETE', pattern: '/referrals', handler: (ctx) => this.#startBatch('referral/delete', ctx) },
      { method: 'GET', pattern: '/batch_processes', handler: (ctx) => this.#listBatches(ctx) },
      { method: 'GET', pattern: '/batch_processes/:id', handler: (ctx) => this.#getBatch(ctx) },
      { method: 'GET', pattern: '/promoters', handler: (ctx) => this.#listPromoters(ctx) },
      { method: 'GET', pattern: '/promoters/:id', handler: (ctx) => this.#getPromoter(ctx) },
      { method: 'POST', pattern: '/promoters/archive', handler: (ctx) => this.#startBatch('promoter/archive', ctx) },
      { method: 'POST', pattern: '/promoters/restore', handler: (ctx) => this.#startBatch('promoter/restore', ctx) },
    ];

    // A time-based batch ends when its time has come, whoever asks: a search after that finds its records gone even if
    // nobody polled the batch, as at a provider that runs batches on its own clock.
    for (const route of routes) {
      const handler = route.handler;
      route.handler = (ctx) => {
        this.#finishDueBatches();
        return handler(ctx);
      };
    }

    this.harness = new SimulatorHarness({
      name: 'FirstPromoter',
      basePath: '/api/v2/company',
      authorize: (headers) => headers.authorization === `Bearer ${apiKey}` && headers['account-id'] === accountId,
      // Documented: a 401 carries no body, so unauthorizedBody stays undefined.
      // OPEN: the 429 body is not documented; this one follows the documented error shape.
      rateLimitedBody: { message: 'Too many requests', code: 'rate_limited' },
      notFoundBody: NOT_FOUND,
      routes,
    });
  }

  /** Starts the server; resolves to the base URL including `/api/v2/company`. */
  start(port?: number): Promise<string> {
    return this.harness.start(port);
  }

  stop(): Promise<void> {
    return this.harness.stop();
  }

  /** Stores a referral; unspecified fields get defaults, and the id is generated unless given. */
  addReferral(partial: Partial<SimReferral> = {}): SimReferral {
    const id = partial.id ?? this.#nextReferralId;
    this.#nextReferralId = Math.max(this.#nextReferralId, id + 1);
    const referral: SimReferral = {
      id,
      email: `referral-${id}@example.test`,
      uid: null,
      state: 'signup',
      metadata: {},
      entry_source: 'api',
      created_at: isoNow(),
      customer_since: null,
      promoter_campaign: {
        id: 1,
        campaign_id: 1,
        promoter_id: 1,
        promoter: { id: 1, email: 'promoter@example.test', name: 'Default Promoter' },
        campaign: { id: 1, name: 'Default campaign' },
      },
      username: null,
      first_name: null,
      last_name: null,
      website: null,
      comment: null,
      is_expired: false,
      ...partial,
    };
    this.#referrals.set(id, referral);
    return structuredClone(referral);
  }

  /** Stores a promoter; unspecified fields get defaults, and the id is generated unless given. */
  addPromoter(partial: Partial<SimPromoter> = {}): SimPromoter {
    const id = partial.id ?? this.#nextPromoterId;
    this.#nextPromoterId = Math.max(this.#nextPromoterId, id + 1);
    const promoter: SimPromoter = {
      id,
      email: `promoter-${id}@example.test`,
      name: `Promoter ${id}`,
      cust_id: null,
      archived_at: null,
      profile: { first_name: null, last_name: null },
      joined_at: isoNow(),
      ref_id: `ref${id}`,
      ...partial,
    };
    this.#promoters.set(id, promoter);
    return structuredClone(promoter);
  }

  /** The referrals held now (time-based batches whose time has come applied). */
  referrals(): SimReferral[] {
    this.#finishDueBatches();
    return [...this.#referrals.values()].map((r) => structuredClone(r));
  }

  /** The promoters held now (time-based batches whose time has come applied). */
  promoters(): SimPromoter[] {
    this.#finishDueBatches();
    return [...this.#promoters.values()].map((p) => structuredClone(p));
  }

  /**
   * The asynchronous batches still pending or in progress (time-based ones whose time has come finished first), with
   * the ids each will act on: what will still change after now.
   */
  runningBatches(): Array<{ id: number; action: string; ids: number[] }> {
    this.#finishDueBatches();
    return [...this.#batches.values()]
      .filter((r) => !TERMINAL.has(r.batch.status))
      .map((r) => ({ id: r.batch.id, action: r.batch.action_label, ids: [...r.ids] }));
  }

  /** Batches as they stand, without advancing them. */
  batches(): Batch[] {
    return [...this.#batches.values()].map((r) => structuredClone(r.batch));
  }

  /**
   * Makes the next asynchronous batch (more than 5 ids) end with `outcome` instead of a plain completion:
   * - `partial`: `completed`, every id but the last processed, the last one in `failed_count` and `processing_errors`;
   * - `failed`: `failed`, nothing changed, every id counted as failed;
   * - `stopped`: `stopped` after the first half of the ids (rounded down) was processed; the rest stays untouched.
   * Synchronous batches (5 ids or fewer) always complete; the docs call them "always completed".
   */
  planNextBatch(plan: { outcome: BatchOutcome }): void {
    this.#plannedOutcomes.push(plan.outcome);
  }

  /**
   * Misbehaviour, against the docs: the next `times` calls of `action` are answered `202` with a batch that runs on
   * (then ends as {@link planNextBatch} says), however few ids they carry. Tests of the defensive paths for a batch
   * FirstPromoter still reports running use it, now that no step sends more than 5 ids a call.
   */
  runOnNextCalls(action: ActionLabel, times = 1): void {
    this.#runOn.set(action, (this.#runOn.get(action) ?? 0) + times);
  }

  #listReferrals(ctx: RouteContext): SimResponse {
    const paging = parsePaging(ctx.query);
    if ('status' in paging) return paging;
    const q = ctx.query.get('q') ?? '';
    const matches = [...this.#referrals.values()].filter(
      (r) => this.#emailContains(r.email, q) || containsQuery([r.uid, r.username, r.website], q),
    );
    // Documented: a bare array, no totals or paging headers.
    return { status: 200, body: page(matches, paging) };
  }

  #getReferral(ctx: RouteContext): SimResponse {
    const value = ctx.params.value ?? '';
    const findBy = ctx.query.get('find_by');
    let found: SimReferral | undefined;
    const all = [...this.#referrals.values()];
    if (findBy === null) found = /^\d+$/.test(value) ? this.#referrals.get(Number(value)) : undefined;
    // OPEN: whether find_by=email ignores case; as `emailCase` says here (by default it does).
    else if (findBy === 'email') found = all.find((r) => this.#sameEmail(r.email, value));
    else if (findBy === 'uid') found = all.find((r) => r.uid === value);
    else if (findBy === 'username') found = all.find((r) => r.username === value);
    else return invalidParams({ find_by: ['must be one of email, uid, username'] });
    return found ? { status: 200, body: found } : { status: 404, body: NOT_FOUND };
  }

  #listPromoters(ctx: RouteContext): SimResponse {
    const paging = parsePaging(ctx.query);
    if ('status' in paging) return paging;
    const q = ctx.query.get('q') ?? '';
    const archived = ctx.query.get('filters[archived]');
    if (archived !== null && archived !== 'true' && archived !== 'false') {
      return invalidParams({ 'filters[archived]': ['must be true or false'] });
    }
    // OPEN: what the list holds without filters[archived]. Here only active promoters, as the dashboard shows them, so a
    // client that needs archived ones has to ask for them.
    const wantArchived = archived === 'true';
    const matches = [...this.#promoters.values()].filter(
      (p) =>
        (p.archived_at !== null) === wantArchived &&
        (this.#emailContains(p.email, q) || containsQuery([p.name, p.ref_id], q)),
    );
    // OPEN: what pending_count counts (promoters awaiting approval); the simulator models no approval, so it is 0.
    return { status: 200, body: { data: page(matches, paging), meta: { pending_count: 0 } } };
  }

  #getPromoter(ctx: RouteContext): SimResponse {
    const value = ctx.params.id ?? '';
    const findBy = ctx.query.get('find_by');
    let found: SimPromoter | undefined;
    const all = [...this.#promoters.values()];
    // OPEN: whether a lookup finds archived promoters; here it does, like a lookup by key in the dashboard.
    if (findBy === null) found = /^\d+$/.test(value) ? this.#promoters.get(Number(value)) : undefined;
    else if (findBy === 'cust_id') found = all.find((p) => p.cust_id === value);
    else if (findBy === 'email') found = all.find((p) => this.#sameEmail(p.email, value));
    else if (findBy === 'ref_id') found = all.find((p) => p.ref_id === value);
    else return invalidParams({ find_by: ['must be one of cust_id, email, ref_id'] });
    return found ? { status: 200, body: found } : { status: 404, body: NOT_FOUND };
  }

  #emailContains(email: string | null, q: string): boolean {
    if (this.#emailCase === 'insensitive') return containsQuery([email], q);
    const needle = q.trim();
    return needle === '' || (email?.includes(needle) ?? false);
  }

  #sameEmail(email: string | null, value: string): boolean {
    return this.#emailCase === 'insensitive' ? email?.toLowerCase() === value.toLowerCase() : email === value;
  }

  #startBatch(action: ActionLabel, ctx: RouteContext): SimResponse {
    const ids = (ctx.body as { ids?: unknown } | undefined)?.ids;
    // OPEN: the docs give no validation rules; an absent, empty or non-integer `ids` is answered like other bad params.
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => Number.isSafeInteger(id))) {
      return invalidParams({ ids: ['must be a non-empty array of integers'] });
    }
    const now = isoNow();
    const record: BatchRecord = {
      batch: {
        id: this.#nextBatchId++,
        status: 'pending',
        // OPEN: how total and selected_total differ; both are the number of ids sent here.
        total: ids.length,
        selected_total: ids.length,
        processed_count: 0,
        failed_count: 0,
        action_label: action,
        created_at: now,
        updated_at: now,
        meta: {},
        progress: 0,
        processing_errors: [],
      },
      ids: ids as number[],
      polls: 0,
      createdAtMs: Date.now(),
      outcome: 'completed',
    };
    this.#batches.set(record.batch.id, record);

    const runOn = this.#runOn.get(action) ?? 0;
    if (runOn > 0) this.#runOn.set(action, runOn - 1);
    if (ids.length <= SYNC_LIMIT && runOn === 0) {
      this.#finish(record);
      return { status: 200, body: structuredClone(record.batch) };
    }
    record.outcome = this.#plannedOutcomes.shift() ?? 'completed';
    return { status: 202, body: structuredClone(record.batch) };
  }

  #getBatch(ctx: RouteContext): SimResponse {
    const id = ctx.params.id ?? '';
    const record = /^\d+$/.test(id) ? this.#batches.get(Number(id)) : undefined;
    if (!record) return { status: 404, body: NOT_FOUND };
    this.#advance(record, true);
    return { status: 200, body: structuredClone(record.batch) };
  }

  #listBatches(ctx: RouteContext): SimResponse {
    const status = ctx.query.get('filters[status]');
    const paging = parsePaging(ctx.query);
    if ('status' in paging) return paging;
    // OPEN: whether listing counts as a poll; it does not here (only time-based batches move while listed). Paged like
    // the other lists (ASSUMPTION: the docs show the parameters on the search endpoints only).
    for (const record of this.#batches.values()) this.#advance(record, false);
    const batches = [...this.#batches.values()]
      .map((r) => r.batch)
      .filter((b) => status === null || b.status === status);
    return { status: 200, body: page(batches, paging) };
  }

  /** Finishes the time-based batches whose time has come (by polls, a batch ends only when polled). */
  #finishDueBatches(): void {
    if (this.#msToComplete === undefined) return;
    for (const record of this.#batches.values()) this.#advance(record, false);
  }

  /** pending → in_progress → terminal, by polls (default) or by elapsed time (`msToComplete`). */
  #advance(record: BatchRecord, polled: boolean): void {
    if (TERMINAL.has(record.batch.status)) return;
    if (polled) record.polls++;
    let fraction: number;
    if (this.#msToComplete === undefined) {
      fraction = record.polls / this.#pollsToComplete;
    } else {
      fraction = this.#msToComplete <= 0 ? 1 : (Date.now() - record.createdAtMs) / this.#msToComplete;
    }
    if (fraction >= 1) {
      this.#finish(record);
    } else if (fraction > 0) {
      // OPEN: whether items are removed one by one while in progress; here all changes land when the batch ends.
      record.batch.status = 'in_progress';
      record.batch.progress = Math.min(99, Math.floor(fraction * 100));
      record.batch.updated_at = isoNow();
    }
  }

  /**
   * Applies the batch per its outcome. OPEN: `processed_count` counts every id handled, failed ones included, and
   * `failed_count` the failed ones; unknown or already-deleted ids are failures with an error naming only the id.
   */
  #finish(record: BatchRecord): void {
    const { batch, ids, outcome } = record;
    const errors: string[] = [];
    let handled = 0;
    const process = (id: number) => {
      const error = this.#apply(batch.action_label as ActionLabel, id);
      if (error) errors.push(error);
      handled++;
    };

    if (outcome === 'completed') {
      for (const id of ids) process(id);
      batch.status = 'completed';
    } else if (outcome === 'partial') {
      for (const id of ids.slice(0, -1)) process(id);
      errors.push(`${subjectLabel(batch.action_label)} ${ids.at(-1)} could not be processed`);
      handled++;
      batch.status = 'completed';
    } else if (outcome === 'failed') {
      // OPEN: what a failed batch reports; here nothing was changed and every id counts as failed.
      batch.status = 'failed';
      batch.failed_count = ids.length;
      batch.processing_errors = ['Batch process failed'];
      batch.updated_at = isoNow();
      return;
    } else {
      for (const id of ids.slice(0, Math.floor(ids.length / 2))) process(id);
      batch.status = 'stopped';
    }

    batch.processed_count = handled;
    batch.failed_count = errors.length;
    batch.processing_errors = errors;
    batch.progress = Math.floor((handled / ids.length) * 100);
    batch.updated_at = isoNow();
  }

  /** Returns an error string for an id that cannot be processed. */
  #apply(action: ActionLabel, id: number): string | undefined {
    if (action === 'referral/delete') {
      return this.#referrals.delete(id) ? undefined : `Referral ${id} not found`;
    }
    const promoter = this.#promoters.get(id);
    if (!promoter) return `Promoter ${id} not found`;
    // OPEN: archiving an archived promoter (or restoring an active one); here it succeeds and changes nothing.
    if (action === 'promoter/archive') promoter.archived_at ??= isoNow();
    else promoter.archived_at = null;
    return undefined;
  }
}

function subjectLabel(action: string): string {
  return action.startsWith('referral/') ? 'Referral' : 'Promoter';
}

/** OPEN: `q` is documented as a search over several fields; this simulator reads it as case-insensitive substring. */
function containsQuery(fields: readonly (string | null)[], q: string): boolean {
  const needle = q.trim().toLowerCase();
  if (needle === '') return true;
  return fields.some((field) => field?.toLowerCase().includes(needle));
}

interface Paging {
  page: number;
  perPage: number;
}

/**
 * `page` from 1 and `per_page` defaulting to 20 (documented). OPEN: a `per_page` above the documented max of 100 is
 * clamped to 100 rather than refused; non-numeric or zero values are refused with 422.
 */
function parsePaging(query: URLSearchParams): Paging | SimResponse {
  const page = positiveInt(query.get('page'), 1);
  const perPage = positiveInt(query.get('per_page'), DEFAULT_PER_PAGE);
  if (page === undefined) return invalidParams({ page: ['must be a positive integer'] });
  if (perPage === undefined) return invalidParams({ per_page: ['must be a positive integer'] });
  return { page, perPage: Math.min(perPage, MAX_PER_PAGE) };
}

function positiveInt(raw: string | null, fallback: number): number | undefined {
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) return undefined;
  return Number(raw);
}

function page<T extends { id: number }>(items: T[], paging: Paging): T[] {
  const sorted = [...items].sort((a, b) => a.id - b.id);
  const start = (paging.page - 1) * paging.perPage;
  return sorted.slice(start, start + paging.perPage).map((item) => structuredClone(item));
}

function invalidParams(errors: Record<string, string[]>): SimResponse {
  return { status: 422, body: { message: 'Invalid parameters', code: 'invalid_params', errors } };
}
