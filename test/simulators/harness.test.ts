import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FirstPromoterSimulator } from './firstpromoter.ts';

/** The fault kinds and random fault mixes of the shared simulator harness, seen over HTTP through one simulator. */

const AUTH = { authorization: 'Bearer demo-api-key', 'account-id': 'demo-account', 'content-type': 'application/json' };

describe('SimulatorHarness faults', () => {
  let sim: FirstPromoterSimulator;
  let baseUrl: string;
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: AUTH,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };

  beforeEach(async () => {
    sim = new FirstPromoterSimulator({ batch: { pollsToComplete: 2 } });
    baseUrl = await sim.start();
  });
  afterEach(() => sim.stop());

  it('acted-then-status: the provider removes the records, then answers 404', async () => {
    const referral = sim.addReferral({ email: 'a@example.test' });
    sim.harness.injectFault('DELETE /referrals', { kind: 'acted-then-status', status: 404 });

    const answer = await call('DELETE', '/referrals', { ids: [referral.id] });

    expect(answer.status).toBe(404);
    expect(sim.referrals()).toEqual([]);
    expect(sim.harness.requestsTo('DELETE /referrals')[0]?.fault).toBe('acted-then-status');
  });

  it('acted-then-status with a condition replaces only the answers it holds for (a finished batch answering 404)', async () => {
    const ids = [1, 2, 3, 4, 5, 6].map((n) => sim.addReferral({ email: `r${n}@example.test` }).id);
    const started = await call('DELETE', '/referrals', { ids });
    const finished = (answer: { body?: unknown }) => (answer.body as { status?: string }).status === 'completed';
    sim.harness.injectFault('GET /batch_processes/:id', { kind: 'acted-then-status', status: 404, when: finished }, 2);

    const running = await call('GET', `/batch_processes/${started.json.id}`);
    const gone = await call('GET', `/batch_processes/${started.json.id}`);

    expect(running.status).toBe(200);
    expect(running.json.status).toBe('in_progress');
    expect(gone.status).toBe(404);
    expect(sim.referrals()).toEqual([]);
  });

  it('random faults: each call to the route meets a fault with its probability, other routes none', async () => {
    let n = 0;
    // A scripted source: rolls 0.05, 0.15, 0.25, … against a 10 % 500 and a 10 % 429 without Retry-After.
    sim.harness.useRandom(() => ((n++ % 10) + 0.5) / 10);
    sim.harness.setRandomFaults('GET /referrals', [
      { fault: { kind: 'status', status: 500 }, probability: 0.1 },
      { fault: { kind: 'status', status: 429 }, probability: 0.1 },
    ]);

    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await call('GET', '/referrals')).status);
    const other = await call('GET', '/promoters');

    expect(statuses).toEqual([500, 429, 200, 200, 200, 200, 200, 200, 200, 200]);
    expect(other.status).toBe(200);
    expect(() =>
      sim.harness.setRandomFaults('GET /referrals', [{ fault: { kind: 'reset' }, probability: 1.5 }]),
    ).toThrow(/add up to/);
  });

  it('tells a 429 of the rate limit (the ceiling was exceeded) from an injected one', async () => {
    sim.harness.setRateLimit({ limit: 2, windowMs: 60_000, retryAfter: '1' });
    sim.harness.injectFault('GET /referrals', { kind: 'status', status: 429 });

    await call('GET', '/referrals');
    await call('GET', '/referrals');
    await call('GET', '/referrals');

    expect(sim.harness.requests.map((r) => [r.status, r.rateLimited ?? false, r.fault ?? null])).toEqual([
      [429, false, 'status'],
      [200, false, null],
      [429, true, null],
    ]);
  });
});
