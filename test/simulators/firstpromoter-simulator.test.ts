import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FirstPromoterSimulator } from './firstpromoter.ts';

/*
 * The simulator checked with plain fetch against the documented shapes: the batch object of the seed pages
 * (000_7091356c2c446cbc.txt DELETE /referrals, 001_96385177c2dc1f9c.txt POST /promoters/restore) and the field lists in
 * PROVIDER-APIS.md.
 */

const SEED_BATCH_KEYS = [
  'id',
  'status',
  'total',
  'selected_total',
  'processed_count',
  'failed_count',
  'action_label',
  'created_at',
  'updated_at',
  'meta',
  'progress',
  'processing_errors',
].sort();

const REFERRAL_KEYS = [
  'id',
  'email',
  'uid',
  'state',
  'metadata',
  'entry_source',
  'created_at',
  'customer_since',
  'promoter_campaign',
  'username',
  'first_name',
  'last_name',
  'website',
  'comment',
  'is_expired',
].sort();

/** The seed's timestamp format, `2023-11-07T05:31:56Z`. */
const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

let sim: FirstPromoterSimulator;
let baseUrl: string;

const AUTH = { authorization: 'Bearer demo-api-key', 'account-id': 'demo-account' };

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH) {
  return fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function json(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await call(method, path, body);
  return { status: response.status, body: await response.json() };
}

function expectSeedBatch(batch: unknown): void {
  expect(Object.keys(batch as object).sort()).toEqual(SEED_BATCH_KEYS);
  expect(batch).toEqual({
    id: expect.any(Number),
    status: expect.stringMatching(/^(pending|in_progress|completed|failed|stopped)$/),
    total: expect.any(Number),
    selected_total: expect.any(Number),
    processed_count: expect.any(Number),
    failed_count: expect.any(Number),
    action_label: expect.any(String),
    created_at: expect.stringMatching(ISO_SECONDS),
    updated_at: expect.stringMatching(ISO_SECONDS),
    meta: {},
    progress: expect.any(Number),
    processing_errors: expect.any(Array),
  });
}

beforeEach(async () => {
  sim = new FirstPromoterSimulator();
  baseUrl = await sim.start();
});

afterEach(async () => {
  await sim.stop();
});

describe('FirstPromoterSimulator', () => {
  it('serves under /api/v2/company', () => {
    expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v2\/company$/);
  });

  it('answers DELETE /referrals (a DELETE with a body) with exactly the seed batch keys, and deletes', async () => {
    const a = sim.addReferral();
    const b = sim.addReferral();

    const { status, body } = await json('DELETE', '/referrals', { ids: [a.id, b.id] });

    expect(status).toBe(200);
    expectSeedBatch(body);
    expect(body).toMatchObject({
      status: 'completed',
      total: 2,
      selected_total: 2,
      processed_count: 2,
      failed_count: 0,
      action_label: 'referral/delete',
      progress: 100,
      processing_errors: [],
    });
    expect(sim.referrals()).toEqual([]);
  });

  it('answers more than 5 ids with 202 pending, then advances pending → in_progress → completed on polls', async () => {
    const ids = Array.from({ length: 6 }, () => sim.addReferral().id);

    const started = await json('DELETE', '/referrals', { ids });
    expect(started.status).toBe(202);
    expectSeedBatch(started.body);
    expect(started.body).toMatchObject({ status: 'pending', processed_count: 0, progress: 0 });
    const id = (started.body as { id: number }).id;

    const first = await json('GET', `/batch_processes/${id}`);
    expect(first.body).toMatchObject({ status: 'in_progress' });
    expect(sim.referrals()).toHaveLength(6);

    const second = await json('GET', `/batch_processes/${id}`);
    expectSeedBatch(second.body);
    expect(second.body).toMatchObject({ status: 'completed', processed_count: 6, progress: 100 });
    expect(sim.referrals()).toEqual([]);
  });

  it('completes a time-based batch once msToComplete has passed', async () => {
    await sim.stop();
    sim = new FirstPromoterSimulator({ batch: { msToComplete: 60_000 } });
    baseUrl = await sim.start();
    const ids = Array.from({ length: 6 }, () => sim.addReferral().id);
    // Only the clock is faked, so the batch's minute passes without waiting for it (and a slow machine cannot pass it).
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const { body } = await json('DELETE', '/referrals', { ids });
      const id = (body as { id: number }).id;

      vi.advanceTimersByTime(1_000);
      expect((await json('GET', `/batch_processes/${id}`)).body).toMatchObject({ status: 'in_progress' });
      vi.advanceTimersByTime(60_000);
      expect((await json('GET', `/batch_processes/${id}`)).body).toMatchObject({ status: 'completed' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('ends a time-based batch on its own clock: a search after its time finds the records gone, unpolled', async () => {
    await sim.stop();
    sim = new FirstPromoterSimulator({ batch: { msToComplete: 0 } });
    baseUrl = await sim.start();
    const ids = Array.from({ length: 6 }, () => sim.addReferral({ email: 'jane@example.com' }).id);
    expect((await json('DELETE', '/referrals', { ids })).status).toBe(202);

    expect((await json('GET', '/referrals?q=jane@example.com')).body).toEqual([]);
    expect(sim.runningBatches()).toEqual([]);
  });

  it('lists the batches still running with the ids they will act on', async () => {
    await sim.stop();
    sim = new FirstPromoterSimulator({ batch: { msToComplete: 3_600_000 } });
    baseUrl = await sim.start();
    const ids = Array.from({ length: 6 }, () => sim.addReferral().id);
    const { body } = await json('DELETE', '/referrals', { ids });

    expect(sim.runningBatches()).toEqual([{ id: (body as { id: number }).id, action: 'referral/delete', ids }]);
    expect(sim.referrals()).toHaveLength(6);
  });

  it('counts unknown ids as failures with an error naming only the id', async () => {
    const known = sim.addReferral({ email: 'jane@example.com' });

    const { body } = await json('DELETE', '/referrals', { ids: [known.id, 555] });

    expect(body).toMatchObject({ status: 'completed', failed_count: 1, processing_errors: ['Referral 555 not found'] });
  });

  it.each([
    ['partial', 'completed', 5],
    ['failed', 'failed', 0],
    ['stopped', 'stopped', 3],
  ] as const)('ends a planned %s batch with status %s, %i referrals deleted', async (outcome, status, deleted) => {
    const ids = Array.from({ length: 6 }, () => sim.addReferral().id);
    sim.planNextBatch({ outcome });
    const { body } = await json('DELETE', '/referrals', { ids });
    const id = (body as { id: number }).id;

    await json('GET', `/batch_processes/${id}`);
    const final = await json('GET', `/batch_processes/${id}`);

    expectSeedBatch(final.body);
    expect(final.body).toMatchObject({ status });
    expect(sim.referrals()).toHaveLength(6 - deleted);
    if (outcome !== 'stopped') expect((final.body as { failed_count: number }).failed_count).toBeGreaterThan(0);
  });

  it('answers POST /promoters/restore with exactly the seed batch keys and clears archived_at', async () => {
    const promoter = sim.addPromoter({ archived_at: '2024-01-01T00:00:00Z' });

    const { status, body } = await json('POST', '/promoters/restore', { ids: [promoter.id] });

    expect(status).toBe(200);
    expectSeedBatch(body);
    expect(body).toMatchObject({ status: 'completed', action_label: 'promoter/restore', processed_count: 1 });
    expect(sim.promoters()[0]?.archived_at).toBeNull();
  });

  it('sets archived_at on POST /promoters/archive', async () => {
    const promoter = sim.addPromoter();

    const { body } = await json('POST', '/promoters/archive', { ids: [promoter.id] });

    expectSeedBatch(body);
    expect(body).toMatchObject({ action_label: 'promoter/archive' });
    expect(sim.promoters()[0]?.archived_at).toMatch(ISO_SECONDS);
  });

  it('answers a bad ids body with 422 invalid_params', async () => {
    for (const bad of [undefined, {}, { ids: [] }, { ids: ['1'] }]) {
      const { status, body } = await json('DELETE', '/referrals', bad);
      expect(status).toBe(422);
      expect(body).toMatchObject({ code: 'invalid_params', message: expect.any(String), errors: expect.any(Object) });
    }
  });

  it('answers 401 with no body for a wrong key or a missing Account-ID', async () => {
    const attempts: Record<string, string>[] = [
      { authorization: 'Bearer wrong', 'account-id': 'demo-account' },
      { authorization: 'Bearer demo-api-key' },
    ];
    for (const headers of attempts) {
      const response = await call('GET', '/referrals', undefined, headers);
      expect(response.status).toBe(401);
      expect(await response.text()).toBe('');
      expect(response.headers.get('content-type')).toBeNull();
    }
  });

  it('honours custom credentials', async () => {
    await sim.stop();
    sim = new FirstPromoterSimulator({ apiKey: 'k2', accountId: 'a2' });
    baseUrl = await sim.start();

    expect((await call('GET', '/referrals')).status).toBe(401);
    expect(
      (await call('GET', '/referrals', undefined, { authorization: 'Bearer k2', 'account-id': 'a2' })).status,
    ).toBe(200);
  });

  it('returns referrals as a bare array with the documented fields, 20 per page by default, at most 100', async () => {
    for (let i = 0; i < 120; i++) sim.addReferral();

    const byDefault = await json('GET', '/referrals');
    const clamped = await json('GET', '/referrals?per_page=500');
    const lastPage = await json('GET', '/referrals?per_page=100&page=2');

    expect(Array.isArray(byDefault.body)).toBe(true);
    expect(byDefault.body).toHaveLength(20);
    expect(clamped.body).toHaveLength(100);
    expect(lastPage.body).toHaveLength(20);
    const [first] = byDefault.body as object[];
    expect(Object.keys(first as object).sort()).toEqual(REFERRAL_KEYS);
    expect((first as { promoter_campaign: object }).promoter_campaign).toEqual({
      id: expect.any(Number),
      campaign_id: expect.any(Number),
      promoter_id: expect.any(Number),
      promoter: { id: expect.any(Number), email: expect.any(String), name: expect.any(String) },
      campaign: { id: expect.any(Number), name: expect.any(String) },
    });
  });

  it('refuses a non-numeric per_page with 422', async () => {
    expect((await call('GET', '/referrals?per_page=abc')).status).toBe(422);
  });

  it('searches q as a case-insensitive substring over email, uid, username and website', async () => {
    const ids = [
      sim.addReferral({ email: 'xJane@example.com' }).id,
      sim.addReferral({ uid: 'JANE@EXAMPLE.COM.au' }).id,
      sim.addReferral({ username: 'jane@example.com' }).id,
      sim.addReferral({ website: 'https://jane@example.com' }).id,
    ];
    sim.addReferral({ email: 'john@example.com', comment: 'jane@example.com' });

    const { body } = await json('GET', `/referrals?q=${encodeURIComponent('jane@example.com')}`);

    expect((body as { id: number }[]).map((r) => r.id)).toEqual(ids);
  });

  it('compares emails exactly as stored when built with case-sensitive emails', async () => {
    await sim.stop();
    sim = new FirstPromoterSimulator({ emailCase: 'sensitive' });
    baseUrl = await sim.start();
    const byEmail = sim.addReferral({ email: 'Jane.Doe@Example.com' });
    const byUsername = sim.addReferral({ username: 'JANE.DOE@example.com' });
    const promoter = sim.addPromoter({ email: 'jane@bücher.example' });
    const ids = async (path: string, q: string) => {
      const { body } = await json('GET', `${path}${path.includes('?') ? '&' : '?'}q=${encodeURIComponent(q)}`);
      return ((Array.isArray(body) ? body : (body as { data: unknown[] }).data) as { id: number }[]).map((r) => r.id);
    };
    const activePromoters = '/promoters?filters[archived]=false';

    // Only the email compares exactly; the other fields still ignore case.
    expect(await ids('/referrals', 'jane.doe@example.com')).toEqual([byUsername.id]);
    expect(await ids('/referrals', 'Jane.Doe@Example')).toEqual([byEmail.id, byUsername.id]);
    expect(await ids(activePromoters, 'jane@xn--bcher-kva.example')).toEqual([]);
    expect(await ids(activePromoters, 'Jane@bücher')).toEqual([]);
    expect(await ids(activePromoters, 'jane@bücher')).toEqual([promoter.id]);
    expect((await json('GET', '/referrals/jane.doe%40example.com?find_by=email')).status).toBe(404);
    expect((await json('GET', '/promoters/jane%40b%C3%BCcher.example?find_by=email')).body).toMatchObject({
      id: promoter.id,
    });
  });

  it('finds one referral by email, uid or username, and answers 404 not_found otherwise', async () => {
    const referral = sim.addReferral({ email: 'jane@example.com', uid: 'u-1', username: 'jane' });

    for (const path of [
      '/referrals/jane%40example.com?find_by=email',
      '/referrals/u-1?find_by=uid',
      '/referrals/jane?find_by=username',
      `/referrals/${referral.id}`,
    ]) {
      expect((await json('GET', path)).body).toMatchObject({ id: referral.id });
    }
    expect(await json('GET', '/referrals/nobody%40example.com?find_by=email')).toEqual({
      status: 404,
      body: { message: 'Record not found', code: 'not_found' },
    });
  });

  it('wraps promoters as {data, meta:{pending_count}} and selects by filters[archived]', async () => {
    const active = sim.addPromoter({ email: 'p@example.com' });
    const archived = sim.addPromoter({ email: 'p2@example.com', archived_at: '2024-01-01T00:00:00Z' });

    const plain = await json('GET', '/promoters?q=example.com');
    const onlyArchived = await json('GET', '/promoters?q=example.com&filters%5Barchived%5D=true');
    const onlyActive = await json('GET', '/promoters?q=example.com&filters[archived]=false');

    expect(plain.body).toEqual({ data: [expect.objectContaining({ id: active.id })], meta: { pending_count: 0 } });
    expect((onlyArchived.body as { data: { id: number }[] }).data.map((p) => p.id)).toEqual([archived.id]);
    expect((onlyActive.body as { data: { id: number }[] }).data.map((p) => p.id)).toEqual([active.id]);
    expect(Object.keys((plain.body as { data: object[] }).data[0] as object).sort()).toEqual(
      ['id', 'email', 'name', 'cust_id', 'archived_at', 'profile', 'joined_at', 'ref_id'].sort(),
    );
  });

  it('finds one promoter by cust_id (archived too), email, ref_id or id, and answers 404 otherwise', async () => {
    const promoter = sim.addPromoter({ cust_id: 'c/1', ref_id: 'r1', archived_at: '2024-01-01T00:00:00Z' });

    for (const path of [
      '/promoters/c%2F1?find_by=cust_id',
      `/promoters/${encodeURIComponent(promoter.email ?? '')}?find_by=email`,
      '/promoters/r1?find_by=ref_id',
      `/promoters/${promoter.id}`,
    ]) {
      expect((await json('GET', path)).body).toMatchObject({ id: promoter.id });
    }
    expect((await json('GET', '/promoters/nope?find_by=cust_id')).status).toBe(404);
    expect((await json('GET', '/promoters/x?find_by=name')).status).toBe(422);
  });

  it('answers an unknown batch with 404 not_found and lists batches as a bare array filtered by status', async () => {
    await json('DELETE', '/referrals', { ids: [sim.addReferral().id] });
    await json('DELETE', '/referrals', { ids: Array.from({ length: 6 }, () => sim.addReferral().id) });

    expect(await json('GET', '/batch_processes/1')).toEqual({
      status: 404,
      body: { message: 'Record not found', code: 'not_found' },
    });
    const all = await json('GET', '/batch_processes');
    const pending = await json('GET', '/batch_processes?filters[status]=pending');
    expect(all.body).toHaveLength(2);
    expect((pending.body as { status: string }[]).map((b) => b.status)).toEqual(['pending']);
    expect(sim.batches().map((b) => b.status)).toEqual(['completed', 'pending']);
  });

  it('rate-limits per account when a limit is set', async () => {
    sim.harness.setRateLimit({ limit: 1, windowMs: 60_000, retryAfter: '7' });

    const first = await call('GET', '/referrals');
    const second = await call('GET', '/referrals');

    expect(first.status).toBe(200);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('7');
  });
});
