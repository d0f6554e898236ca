import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoRateBudget, rateBudgetKey } from '#shared/adapters/dynamodb/rate-budget';
import { createDocumentClient } from '#shared/composition';
import { RetryLaterError } from '#shared/errors';
import { emissionIntervalMs } from '#shared/rate/gcra';
import { startTestDynamo, type TestDynamo } from '#test/support/test-dynamo';

/**
 * The shared rate budget against dynalite: takers in separate "processes" (each its own client and budget object, as
 * separate Lambda instances would be) race for slots with real concurrent conditional writes.
 */

const tables = { requests: 'budget-requests', auditEvents: 'budget-events', rateBudgets: 'budget-rate-budgets' };
let dynamo: TestDynamo;
let counter = 0;

beforeAll(async () => {
  dynamo = await startTestDynamo();
  await dynamo.ensureTables(tables);
});

afterAll(async () => {
  await dynamo.stop();
});

/** A client of its own, as each process (Lambda instance) has. */
const processClient = () => createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.newClient());

/**
 * Takers of one account's budget in `processes` processes (each its own DynamoDB client) sharing a clock. Each take is a
 * fresh budget object, like a fresh Lambda instance, and records the slot it was given: now plus the wait it was told.
 */
function takers(processes: number, limitPerMinute: number, clock: { now: number }) {
  counter++;
  const key = rateBudgetKey('firstpromoter', `http://127.0.0.1/test-${counter}`, 'acct');
  const slots: number[] = [];
  const clients = Array.from({ length: processes }, () => processClient());
  const budget = (i: number, onWait: (ms: number) => void = () => undefined) =>
    new DynamoRateBudget(clients[i % processes] as (typeof clients)[number], tables.rateBudgets, {
      key,
      limitPerMinute,
      now: () => clock.now,
      sleep: async (ms) => onWait(ms),
    });
  const take = async (i: number, latestStartAt?: number) => {
    let waited = 0;
    const askedAt = clock.now;
    await budget(i, (ms) => {
      waited = ms;
    }).acquire(latestStartAt === undefined ? {} : { latestStartAt });
    slots.push(askedAt + waited);
  };
  return { slots, take, budget };
}

describe('DynamoRateBudget', () => {
  it('gives 40 concurrent takers in 4 processes 40 distinct slots, one emission interval apart', async () => {
    const clock = { now: 1_800_000_000_000 };
    const interval = emissionIntervalMs(400);
    const { slots, take } = takers(4, 400, clock);

    await Promise.all(Array.from({ length: 40 }, (_, i) => take(i)));

    const offsets = slots.map((s) => Math.round((s - clock.now) / interval)).sort((a, b) => a - b);
    expect(offsets).toEqual(Array.from({ length: 40 }, (_, k) => k));
    for (const slot of slots) expect(Number.isInteger((slot - clock.now) / interval)).toBe(true);
  });

  it('never lets more than the ceiling start in any minute across processes, and keeps over 90 % of it', async () => {
    const clock = { now: 1_800_000_000_000 };
    const start = clock.now;
    const ceiling = 30;
    const { slots, take } = takers(3, ceiling, clock);

    // Two minutes: every 4 s, 3 takers ask at once (45 a minute against a ceiling of 30), none willing to wait more
    // than 20 s; those refused would come back later. The queue outgrows that wait after about 40 s, as it would at
    // any ceiling with demand 1.5 times it; a low ceiling makes it 90 takes instead of 360 (each a read and a
    // conditional write, retried when the three collide).
    let refused = 0;
    for (let round = 0; round < 30; round++) {
      const asked = Array.from({ length: 3 }, (_, i) => take(round * 3 + i, clock.now + 20_000));
      for (const result of await Promise.allSettled(asked)) {
        if (result.status === 'rejected') {
          expect(result.reason).toBeInstanceOf(RetryLaterError);
          refused++;
        }
      }
      clock.now += 4000;
    }
    expect(refused).toBeGreaterThan(0);

    const sorted = [...slots].sort((a, b) => a - b);
    let busiest = 0;
    let first = 0;
    for (let last = 0; last < sorted.length; last++) {
      while ((sorted[last] as number) - (sorted[first] as number) >= 60_000) first++;
      busiest = Math.max(busiest, last - first + 1);
    }
    expect(busiest).toBeLessThanOrEqual(ceiling);
    const inTwoMinutes = sorted.filter((s) => s < start + 120_000).length;
    expect(inTwoMinutes / (2 * ceiling)).toBeGreaterThanOrEqual(0.9);
  });

  it('refuses slots past latestStartAt with RetryLaterError and takes none of them', async () => {
    const clock = { now: 1_800_000_000_000 };
    const interval = emissionIntervalMs(60);
    const { slots, take } = takers(2, 60, clock);

    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => take(i, clock.now + 9.5 * interval)));

    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(slots).toHaveLength(10);
    expect(refused).toHaveLength(10);
    for (const error of refused) expect(error).toBeInstanceOf(RetryLaterError);
    // Nothing was taken by the refused: the next taker gets the 11th slot.
    await take(99);
    expect(Math.max(...slots)).toBeCloseTo(clock.now + 10 * interval, 3);
  });

  it('lets a slot go when its taker wakes too late for it, so no request leaves late and crowds the next', async () => {
    const clock = { now: 1_800_000_000_000 };
    const interval = emissionIntervalMs(60);
    const { take } = takers(1, 60, clock);
    await take(0); // slot now; the next is one interval away
    const key = rateBudgetKey('firstpromoter', `http://127.0.0.1/test-${counter}`, 'acct');
    let wakeUps = 0;
    const late = new DynamoRateBudget(processClient(), tables.rateBudgets, {
      key,
      limitPerMinute: 60,
      now: () => clock.now,
      sleep: async (ms) => {
        wakeUps++;
        clock.now += ms + 1500; // a busy process: woken 1.5 s after the slot
      },
    });

    await late.acquire();

    // The slot one interval away was let go; the one taken on waking starts now, and the next one interval later.
    expect(wakeUps).toBe(1);
    const waits: number[] = [];
    await new DynamoRateBudget(processClient(), tables.rateBudgets, {
      key,
      limitPerMinute: 60,
      now: () => clock.now,
      sleep: async (ms) => {
        waits.push(ms);
      },
    }).acquire();
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeCloseTo(interval, 3);
  });

  it('takes the slot that starts exactly at latestStartAt, however long the queue before it', async () => {
    const clock = { now: 1_800_000_000_000 };
    const interval = emissionIntervalMs(120);
    const { slots, take } = takers(2, 120, clock);
    for (let i = 0; i < 61; i++) await take(i);

    await take(61, clock.now + 61 * interval);

    expect(slots.at(-1)).toBe(clock.now + 61 * interval);
  });

  it('holds every taker until a provider Retry-After has passed', async () => {
    const clock = { now: 1_800_000_000_000 };
    const { slots, take, budget } = takers(2, 60, clock);

    await budget(0).holdUntil(clock.now + 7000);
    await take(1);

    expect(slots).toEqual([clock.now + 7000]);
  });

  it('keys the budget by provider and an account fingerprint, never the credential', () => {
    const key = rateBudgetKey('referralrock', 'https://api.referralrock.com', 'public-key-123');

    expect(key).toMatch(/^referralrock#[0-9a-f]{16}$/);
    expect(key).not.toContain('public-key-123');
    expect(rateBudgetKey('referralrock', 'https://api.referralrock.com', 'other')).not.toBe(key);
  });
});
