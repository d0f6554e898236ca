import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BatchNotFoundError,
  createFirstPromoterClient,
  type FirstPromoterClient,
  type FirstPromoterClientConfig,
} from '#shared/adapters/firstpromoter/client';
import { summarizeBatch } from '#shared/domain/batch';
import {
  ProviderAuthError,
  ProviderBadResponseError,
  ProviderRateLimitError,
  ProviderRequestError,
  ProviderUnavailableError,
} from '#shared/errors';
import type { Batch } from '#shared/ports/providers';
import { FirstPromoterSimulator, type FirstPromoterSimulatorOptions } from '#test/simulators/firstpromoter';
import { openRateBudget } from '#test/support/open-rate-budget';

const EMAIL = 'jane@example.com';
const EXTERNAL_ID = 'cust_42';

let sim: FirstPromoterSimulator;
let baseUrl: string;
let delays: number[];

async function startSimulator(options?: FirstPromoterSimulatorOptions): Promise<void> {
  sim = new FirstPromoterSimulator(options);
  baseUrl = await sim.start();
}

/** A client on the simulator whose sleeps are recorded instead of waited, with deterministic jitter (0.5). */
function client(config: Partial<FirstPromoterClientConfig> = {}): FirstPromoterClient {
  return createFirstPromoterClient(
    // The recorded delays are the retries' only, not the real budget's spacing.
    { baseUrl, apiKey: 'demo-api-key', accountId: 'demo-account', rateBudget: openRateBudget(), ...config },
    {
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.5,
    },
  );
}

/** Polls until the batch leaves pending/in_progress, with a bound so a batch that never ends fails the test. */
async function pollUntilDone(fp: FirstPromoterClient, batch: Batch): Promise<{ batch: Batch; polls: number }> {
  let current = batch;
  let polls = 0;
  while (current.status === 'pending' || current.status === 'in_progress') {
    if (polls >= 10) throw new Error('batch did not finish within 10 polls');
    current = await fp.getBatch(current.id);
    polls++;
  }
  return { batch: current, polls };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

beforeEach(async () => {
  delays = [];
  await startSimulator();
});

afterEach(async () => {
  await sim.stop();
});

describe('FirstPromoterClient requests', () => {
  it('sends the Bearer key, the Account-ID and JSON headers', async () => {
    await client().findReferrals({ email: EMAIL });

    const [request] = sim.harness.requestsTo('GET /referrals');
    expect(request?.headers.authorization).toBe('Bearer demo-api-key');
    expect(request?.headers['account-id']).toBe('demo-account');
    expect(request?.headers.accept).toContain('application/json');
  });
});

describe('findReferrals', () => {
  it('pages until a short page and sends the exact page / per_page params', async () => {
    const ids = Array.from({ length: 5 }, () => sim.addReferral({ email: EMAIL }).id);

    const found = await client({ pageSize: 2 }).findReferrals({ email: EMAIL });

    expect(found.map((r) => r.id).sort()).toEqual(ids.sort());
    const params = sim.harness
      .requestsTo('GET /referrals')
      .map((r) => ({ q: r.query.get('q'), page: r.query.get('page'), per_page: r.query.get('per_page') }));
    expect(params).toEqual([
      { q: EMAIL, page: '1', per_page: '2' },
      { q: EMAIL, page: '2', per_page: '2' },
      { q: EMAIL, page: '3', per_page: '2' },
    ]);
  });

  it('asks for one more page when the last page is exactly full', async () => {
    for (let i = 0; i < 4; i++) sim.addReferral({ email: EMAIL });

    const found = await client({ pageSize: 2 }).findReferrals({ email: EMAIL });

    expect(found).toHaveLength(4);
    expect(sim.harness.requestsTo('GET /referrals').map((r) => r.query.get('page'))).toEqual(['1', '2', '3']);
  });

  it('uses per_page=100 by default', async () => {
    await client().findReferrals({ email: EMAIL });

    expect(sim.harness.requestsTo('GET /referrals')[0]?.query.get('per_page')).toBe('100');
  });

  it('keeps exact email matches only, case-insensitively', async () => {
    const exact = sim.addReferral({ email: EMAIL });
    const otherCase = sim.addReferral({ email: 'Jane@Example.COM' });
    sim.addReferral({ email: `x${EMAIL}` });
    sim.addReferral({ email: `${EMAIL}.au` });
    sim.addReferral({ email: 'someone@example.org', website: `https://${EMAIL}.example` });

    const found = await client().findReferrals({ email: EMAIL });

    expect(found.map((r) => r.id).sort()).toEqual([exact.id, otherCase.id].sort());
    expect(found.find((r) => r.id === otherCase.id)).toEqual({
      id: otherCase.id,
      email: 'Jane@Example.COM',
      uid: null,
      state: 'signup',
    });
  });

  it('finds by uid exactly, not by a uid or username that merely contains it', async () => {
    const byUid = sim.addReferral({ uid: EXTERNAL_ID });
    sim.addReferral({ uid: `${EXTERNAL_ID}0` });
    sim.addReferral({ uid: 'CUST_42' });
    sim.addReferral({ username: EXTERNAL_ID });

    const found = await client().findReferrals({ externalId: EXTERNAL_ID });

    expect(found.map((r) => r.id)).toEqual([byUid.id]);
    expect(sim.harness.requestsTo('GET /referrals').map((r) => r.query.get('q'))).toEqual([EXTERNAL_ID]);
  });

  it('searches once per identifier and returns a referral matching both only once', async () => {
    const both = sim.addReferral({ email: EMAIL, uid: EXTERNAL_ID });
    const byEmail = sim.addReferral({ email: EMAIL });
    const byUid = sim.addReferral({ uid: EXTERNAL_ID });

    const found = await client().findReferrals({ email: EMAIL, externalId: EXTERNAL_ID });

    expect(found.map((r) => r.id).sort()).toEqual([both.id, byEmail.id, byUid.id].sort());
    expect(sim.harness.requestsTo('GET /referrals').map((r) => r.query.get('q'))).toEqual([EMAIL, EXTERNAL_ID]);
  });

  it('refuses a subject without identifiers instead of reporting nothing found', async () => {
    await expect(client().findReferrals({ email: ' ' })).rejects.toBeInstanceOf(RangeError);
    expect(sim.harness.requests).toHaveLength(0);
  });

  it('rejects a response that is not the documented bare array', async () => {
    sim.harness.injectFault('GET /referrals', { kind: 'status', status: 200, body: { data: [] } });

    const error = await rejection(client().findReferrals({ email: EMAIL }));

    expect(error).toBeInstanceOf(ProviderBadResponseError);
    expect((error as ProviderBadResponseError).operation).toBe('referrals.search');
  });
});

describe('deleteReferrals and batches', () => {
  it('deletes up to 5 referrals synchronously with a DELETE carrying {ids}', async () => {
    const ids = [sim.addReferral().id, sim.addReferral().id, sim.addReferral().id];
    const keep = sim.addReferral();

    const batch = await client().deleteReferrals(ids);

    expect(batch.status).toBe('completed');
    expect(batch.action_label).toBe('referral/delete');
    expect(summarizeBatch(batch)).toEqual({
      batchId: batch.id,
      state: 'completed',
      total: 3,
      processed: 3,
      failed: 0,
      errorCount: 0,
    });
    expect(sim.harness.requestsTo('DELETE /referrals')[0]?.body).toEqual({ ids });
    expect(sim.referrals().map((r) => r.id)).toEqual([keep.id]);
  });

  it('runs more than 5 ids as a batch that is polled to completion', async () => {
    const ids = Array.from({ length: 7 }, () => sim.addReferral().id);
    const fp = client();

    const started = await fp.deleteReferrals(ids);

    expect(started.status).toBe('pending');
    expect(summarizeBatch(started).state).toBe('running');
    expect(sim.harness.requestsTo('DELETE /referrals')[0]?.status).toBe(202);
    expect(sim.referrals()).toHaveLength(7);

    const { batch, polls } = await pollUntilDone(fp, started);

    expect(polls).toBe(2);
    expect(summarizeBatch(batch)).toEqual({
      batchId: started.id,
      state: 'completed',
      total: 7,
      processed: 7,
      failed: 0,
      errorCount: 0,
    });
    expect(sim.referrals()).toEqual([]);
  });

  it('reports unknown ids as a partial batch', async () => {
    const known = sim.addReferral();

    const batch = await client().deleteReferrals([known.id, 999_999]);

    expect(summarizeBatch(batch)).toMatchObject({ state: 'partial', failed: 1, errorCount: 1 });
    expect(sim.referrals()).toEqual([]);
  });

  // Planned outcomes (see FirstPromoterSimulator.planNextBatch): partial misses the last id, failed changes nothing,
  // stopped processes the first half.
  it.each([
    ['partial', 'partial', 1],
    ['failed', 'failed', 6],
    ['stopped', 'stopped', 3],
  ] as const)('classifies a batch planned to end %s as %s', async (outcome, state, remaining) => {
    const ids = Array.from({ length: 6 }, () => sim.addReferral().id);
    sim.planNextBatch({ outcome });
    const fp = client();

    const { batch } = await pollUntilDone(fp, await fp.deleteReferrals(ids));

    expect(summarizeBatch(batch).state).toBe(state);
    expect(sim.referrals()).toHaveLength(remaining);
  });

  it('throws BatchNotFoundError for an unknown batch', async () => {
    const error = await rejection(client().getBatch(424_242));

    expect(error).toBeInstanceOf(BatchNotFoundError);
    expect(error).toBeInstanceOf(ProviderRequestError);
    expect(error).toMatchObject({ batchId: 424_242, status: 404, retryable: false, operation: 'batch.get' });
  });

  it('refuses an empty id list without calling the provider', async () => {
    await expect(client().deleteReferrals([])).rejects.toBeInstanceOf(RangeError);
    await expect(client().archivePromoters([])).rejects.toBeInstanceOf(RangeError);
    expect(sim.harness.requests).toHaveLength(0);
  });
});

describe('promoters', () => {
  it('finds promoters by exact email in the wrapped list, archived ones included', async () => {
    const active = sim.addPromoter({ email: EMAIL });
    const archived = sim.addPromoter({ email: 'JANE@example.com', archived_at: '2024-01-02T03:04:05Z' });
    sim.addPromoter({ email: `x${EMAIL}` });
    sim.addPromoter({ email: 'other@example.com', name: EMAIL });

    const found = await client({ pageSize: 1 }).findPromoters({ email: EMAIL });

    expect(found.map((p) => p.id).sort()).toEqual([active.id, archived.id].sort());
    expect(found.find((p) => p.id === archived.id)?.archived_at).toBe('2024-01-02T03:04:05Z');
    const searches = sim.harness.requestsTo('GET /promoters').map((r) => ({
      q: r.query.get('q'),
      archived: r.query.get('filters[archived]'),
      page: r.query.get('page'),
      per_page: r.query.get('per_page'),
    }));
    // pageSize 1: the active search sees x-jane, jane and other (3 full pages, then an empty one); the archived one, 1 + 1.
    expect(searches).toEqual([
      { q: EMAIL, archived: 'false', page: '1', per_page: '1' },
      { q: EMAIL, archived: 'false', page: '2', per_page: '1' },
      { q: EMAIL, archived: 'false', page: '3', per_page: '1' },
      { q: EMAIL, archived: 'false', page: '4', per_page: '1' },
      { q: EMAIL, archived: 'true', page: '1', per_page: '1' },
      { q: EMAIL, archived: 'true', page: '2', per_page: '1' },
    ]);
  });

  it('asks for the active promoters only, with one search per email form, when a read-back needs no more', async () => {
    const active = sim.addPromoter({ email: EMAIL });
    sim.addPromoter({ email: 'JANE@example.com', archived_at: '2024-01-02T03:04:05Z' });
    sim.addPromoter({ cust_id: EXTERNAL_ID, archived_at: '2024-01-02T03:04:05Z' });

    const found = await client().findPromoters({ email: EMAIL, externalId: EXTERNAL_ID }, { activeOnly: true });

    expect(found.map((p) => p.id)).toEqual([active.id]);
    expect(sim.harness.requestsTo('GET /promoters').map((r) => r.query.get('filters[archived]'))).toEqual(['false']);
  });

  it('finds a promoter by cust_id with an URL-encoded external id', async () => {
    const externalId = 'cust/42 ü?x';
    const promoter = sim.addPromoter({ cust_id: externalId });

    const found = await client().findPromoters({ externalId });

    expect(found).toEqual([{ id: promoter.id, email: promoter.email, cust_id: externalId, archived_at: null }]);
    const [request] = sim.harness.requestsTo('GET /promoters/:id');
    expect(request?.path).toBe(`/api/v2/company/promoters/${encodeURIComponent(externalId)}`);
    expect(request?.query.get('find_by')).toBe('cust_id');
    expect(sim.harness.requestsTo('GET /promoters')).toHaveLength(0);
  });

  it('treats 404 and 422 on the cust_id lookup as no promoter', async () => {
    sim.addPromoter({ cust_id: 'someone-else' });

    expect(await client().findPromoters({ externalId: EXTERNAL_ID })).toEqual([]);
    expect(sim.harness.requestsTo('GET /promoters/:id')[0]?.status).toBe(404);

    sim.harness.injectFault('GET /promoters/:id', {
      kind: 'status',
      status: 422,
      body: { message: 'Invalid', code: 'invalid_params' },
    });
    expect(await client().findPromoters({ externalId: EXTERNAL_ID })).toEqual([]);
  });

  it('drops a looked-up promoter whose cust_id is not exactly the external id', async () => {
    sim.harness.injectFault('GET /promoters/:id', {
      kind: 'status',
      status: 200,
      body: { id: 77, email: 'x@example.test', cust_id: 'CUST_42', archived_at: null },
    });

    expect(await client().findPromoters({ externalId: EXTERNAL_ID })).toEqual([]);
  });

  it('returns a promoter found by email and by cust_id once', async () => {
    const promoter = sim.addPromoter({ email: EMAIL, cust_id: EXTERNAL_ID });

    const found = await client().findPromoters({ email: EMAIL, externalId: EXTERNAL_ID });

    expect(found.map((p) => p.id)).toEqual([promoter.id]);
  });

  it('archives then restores, toggling archived_at, synchronously', async () => {
    const promoter = sim.addPromoter({ email: EMAIL });
    const fp = client();

    const archived = await fp.archivePromoters([promoter.id]);
    expect(archived).toMatchObject({ status: 'completed', action_label: 'promoter/archive' });
    expect(sim.promoters()[0]?.archived_at).toEqual(expect.any(String));
    expect((await fp.findPromoters({ email: EMAIL }))[0]?.archived_at).toEqual(expect.any(String));

    const restored = await fp.restorePromoters([promoter.id]);
    expect(restored).toMatchObject({ status: 'completed', action_label: 'promoter/restore' });
    expect(sim.promoters()[0]?.archived_at).toBeNull();
    expect(sim.harness.requestsTo('POST /promoters/restore')[0]?.body).toEqual({ ids: [promoter.id] });
  });

  it('archives and restores more than 5 promoters through polled batches', async () => {
    const ids = Array.from({ length: 6 }, () => sim.addPromoter().id);
    const fp = client();

    const archived = await pollUntilDone(fp, await fp.archivePromoters(ids));
    expect(summarizeBatch(archived.batch).state).toBe('completed');
    expect(sim.promoters().every((p) => p.archived_at !== null)).toBe(true);

    const restoring = await fp.restorePromoters(ids);
    expect(restoring.status).toBe('pending');
    const restored = await pollUntilDone(fp, restoring);
    expect(summarizeBatch(restored.batch).state).toBe('completed');
    expect(sim.promoters().every((p) => p.archived_at === null)).toBe(true);
  });
});

describe('retries and errors', () => {
  it('honours Retry-After on a 429, then succeeds', async () => {
    sim.addReferral({ email: EMAIL });
    sim.harness.injectFault('GET /referrals', { kind: 'status', status: 429, retryAfter: '2' });

    const found = await client().findReferrals({ email: EMAIL });

    expect(found).toHaveLength(1);
    expect(delays).toEqual([2000]);
    expect(sim.harness.requestsTo('GET /referrals').map((r) => r.status)).toEqual([429, 200]);
  });

  it('backs off with jitter on a 429 without Retry-After, then succeeds', async () => {
    sim.harness.injectFault('GET /referrals', { kind: 'status', status: 429 });

    await client({ retry: { baseDelayMs: 400 } }).findReferrals({ email: EMAIL });

    // Full jitter at random() = 0.5 below the first ceiling of 400 ms.
    expect(delays).toEqual([200]);
    expect(sim.harness.requestsTo('GET /referrals').map((r) => r.status)).toEqual([429, 200]);
  });

  it('recovers from the per-account rate limit window', async () => {
    // One call per 990 ms: the second call meets the window the first opened (with 100 ms, a loaded machine now and
    // then sent it after the window had rolled over), and the 999 ms backoff outlasts it.
    sim.harness.setRateLimit({ limit: 1, windowMs: 990 });
    const fp = createFirstPromoterClient(
      // Without spacing of its own, as if other callers had spent the account's window.
      {
        baseUrl,
        apiKey: 'demo-api-key',
        accountId: 'demo-account',
        retry: { baseDelayMs: 1000 },
        rateBudget: openRateBudget(),
      },
      {
        // Really waits, so the simulator's window can roll over.
        sleep: (ms) => {
          delays.push(ms);
          return new Promise((resolve) => setTimeout(resolve, ms));
        },
        random: () => 0.999,
      },
    );

    await fp.findReferrals({ email: EMAIL });
    await fp.findReferrals({ email: EMAIL });

    expect(sim.harness.requestsTo('GET /referrals').map((r) => r.status)).toEqual([200, 429, 200]);
    expect(delays).toEqual([999]);
  });

  it('ends with ProviderRateLimitError when Retry-After exceeds what is waited in-process', async () => {
    sim.harness.injectFault('GET /referrals', { kind: 'status', status: 429, retryAfter: '3600' });

    const error = await rejection(client().findReferrals({ email: EMAIL }));

    expect(error).toBeInstanceOf(ProviderRateLimitError);
    expect((error as ProviderRateLimitError).retryAfterSeconds).toBe(3600);
    expect(delays).toEqual([]);
  });

  it('retries a 5xx, then succeeds', async () => {
    sim.harness.injectFault('GET /batch_processes/:id', { kind: 'status', status: 503 });
    const fp = client();
    const started = await fp.deleteReferrals(Array.from({ length: 6 }, () => sim.addReferral().id));

    const batch = await fp.getBatch(started.id);

    expect(batch.id).toBe(started.id);
    expect(sim.harness.requestsTo('GET /batch_processes/:id').map((r) => r.status)).toEqual([503, 200]);
    expect(delays).toHaveLength(1);
  });

  it('gives up with ProviderUnavailableError when retries are exhausted', async () => {
    sim.harness.injectFault('GET /referrals', { kind: 'status', status: 500 }, 3);

    const error = await rejection(client({ retry: { maxAttempts: 3 } }).findReferrals({ email: EMAIL }));

    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error).toMatchObject({ status: 500, attempts: 3, retryable: true, operation: 'referrals.search' });
    expect(sim.harness.requestsTo('GET /referrals')).toHaveLength(3);
  });

  it('treats a hanging provider as unavailable after the timeout', async () => {
    sim.harness.injectFault('GET /referrals', { kind: 'hang' });

    const error = await rejection(
      client({ timeoutMs: 200, retry: { maxAttempts: 1 } }).findReferrals({ email: EMAIL }),
    );

    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as ProviderUnavailableError).networkCode).toMatch(/^(ECONNABORTED|ETIMEDOUT)$/);
  });

  it('fails with ProviderAuthError on 401 after exactly one request', async () => {
    const error = await rejection(client({ apiKey: 'wrong-key' }).findReferrals({ email: EMAIL }));

    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(error).toMatchObject({ status: 401, retryable: false });
    expect(sim.harness.requests).toHaveLength(1);
  });

  it('rejects a wrong Account-ID as unauthorized', async () => {
    const error = await rejection(client({ accountId: 'other-account' }).getBatch(1));

    expect(error).toBeInstanceOf(ProviderAuthError);
  });

  it('keeps the email, the external id and the URL out of every error', async () => {
    const email = 'private.person@example.com';
    const externalId = 'secret-cust-7781';
    const subject = { email, externalId };
    const errors: unknown[] = [];

    errors.push(await rejection(client({ apiKey: 'wrong' }).findReferrals(subject)));
    sim.harness.injectFault('GET /referrals', { kind: 'status', status: 500 }, 2);
    errors.push(await rejection(client({ retry: { maxAttempts: 2 } }).findReferrals(subject)));
    sim.harness.injectFault('GET /promoters', { kind: 'status', status: 200, body: { data: [{ email }] } });
    errors.push(await rejection(client().findPromoters(subject)));
    sim.harness.injectFault('GET /promoters/:id', { kind: 'status', status: 400, body: { message: externalId } });
    errors.push(await rejection(client().findPromoters({ externalId })));
    sim.harness.injectFault('GET /referrals', { kind: 'status', status: 429, retryAfter: '9999' });
    errors.push(await rejection(client().findReferrals(subject)));
    sim.harness.injectFault('GET /promoters/:id', { kind: 'reset' });
    errors.push(await rejection(client({ retry: { maxAttempts: 1 } }).findPromoters({ externalId })));

    expect(errors.map((e) => (e as Error).name)).toEqual([
      'ProviderAuthError',
      'ProviderUnavailableError',
      'ProviderBadResponseError',
      'ProviderRequestError',
      'ProviderRateLimitError',
      'ProviderUnavailableError',
    ]);
    for (const error of errors) {
      const e = error as Error;
      const text = [e.message, e.stack, JSON.stringify(e), JSON.stringify(Object.entries(e)), String(e.cause)]
        .join('\n')
        .toLowerCase();
      expect(text).not.toContain(email);
      expect(text).not.toContain(externalId);
      expect(text).not.toContain(encodeURIComponent(email).toLowerCase());
      expect(text).not.toContain('127.0.0.1');
      expect(e.cause).toBeUndefined();
    }
  });
});
