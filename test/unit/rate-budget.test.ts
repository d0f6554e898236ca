import { describe, expect, it } from 'vitest';
import { InProcessRateBudget } from '#shared/adapters/http/rate-limiter';
import { RetryLaterError } from '#shared/errors';
import { emissionIntervalMs, nextSlot } from '#shared/rate/gcra';

/** A fake clock whose sleeps advance it, recording each. */
function fakeTime(start = 0) {
  let clock = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => clock,
    advance: (ms: number) => {
      clock += ms;
    },
    sleep: async (ms: number) => {
      sleeps.push(ms);
      clock += ms;
    },
  };
}

/** The largest number of `starts` inside any half-open window [t, t + windowMs) — the provider's count. */
function busiestWindow(starts: readonly number[], windowMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let best = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while ((sorted[last] as number) - (sorted[first] as number) >= windowMs) first++;
    best = Math.max(best, last - first + 1);
  }
  return best;
}

describe('GCRA arithmetic', () => {
  it('spaces starts one emission interval apart: the window and 2/60 of it for arrival jitter, over the limit, in whole ms', () => {
    expect(emissionIntervalMs(120)).toBe(517); // 62,000 / 120, rounded up
    expect(emissionIntervalMs(400)).toBe(155);
    expect(emissionIntervalMs(2, 1000)).toBe(517);
  });

  it.each([
    [0, 60_000],
    [2, 0],
    [-1, 60_000],
    [Number.NaN, 60_000],
  ])('refuses limit %d per %d ms', (limit, windowMs) => {
    expect(() => emissionIntervalMs(limit, windowMs)).toThrow(RangeError);
  });

  it('starts now when the budget is idle or unused, and moves the TAT one interval past the start', () => {
    expect(nextSlot(undefined, 1000, 500)).toEqual({ startAt: 1000, tat: 1500 });
    expect(nextSlot(200, 1000, 500)).toEqual({ startAt: 1000, tat: 1500 });
  });

  it('starts at the TAT when it lies ahead (a queue)', () => {
    expect(nextSlot(4000, 1000, 500)).toEqual({ startAt: 4000, tat: 4500 });
  });
});

describe('InProcessRateBudget', () => {
  it('never lets more than the limit start in any minute from a standing start, and keeps over 95 % of it', async () => {
    const time = fakeTime();
    const budget = new InProcessRateBudget({ limit: 120, intervalMs: 60_000, now: time.now, sleep: time.sleep });
    const starts: number[] = [];

    // A backlog: three minutes' worth of requests, each asking as soon as the one before has started.
    for (let i = 0; i < 360; i++) {
      await budget.acquire();
      starts.push(time.now());
    }

    expect(busiestWindow(starts, 60_000)).toBe(117);
    expect(Math.max(...starts)).toBeLessThan(3 * 62_000);
  });

  it('gives concurrent callers consecutive slots, in the order they asked', async () => {
    const waits: number[] = [];
    // The clock stands still: every caller asks at the same instant and is told how long to wait for its slot.
    const budget = new InProcessRateBudget({
      limit: 60,
      intervalMs: 60_000,
      now: () => 0,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });

    await Promise.all([1, 2, 3].map(() => budget.acquire()));

    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeCloseTo(1034, 6);
    expect(waits[1]).toBeCloseTo(2068, 6);
  });

  it('does not wait after an idle spell: an unused budget does not pile up into a burst either', async () => {
    const time = fakeTime();
    const budget = new InProcessRateBudget({ limit: 60, intervalMs: 60_000, now: time.now, sleep: time.sleep });
    await budget.acquire();
    time.advance(600_000);

    await budget.acquire();
    await budget.acquire();

    expect(time.sleeps).toHaveLength(1);
    expect(time.sleeps[0]).toBeCloseTo(1034, 6);
  });

  it('refuses a slot that starts after latestStartAt with RetryLaterError, and takes nothing', async () => {
    const time = fakeTime();
    const budget = new InProcessRateBudget({ limit: 60, intervalMs: 60_000, now: time.now, sleep: time.sleep });
    await budget.acquire();
    await budget.acquire(); // the next slot is now about 2 s away

    const error = await budget.acquire({ latestStartAt: time.now() + 500 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).retryAfterSeconds).toBe(2);
    // Nothing was taken: the next caller gets the slot the refused one would have had.
    await budget.acquire();
    expect(time.sleeps.at(-1)).toBeCloseTo(1034, 6);
  });

  it('lets a slot go when woken too late for it (a busy process), and waits for the next instead of sending late', async () => {
    let clock = 0;
    const sleeps: number[] = [];
    const budget = new InProcessRateBudget({
      limit: 60,
      intervalMs: 60_000,
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        // The first wake-up comes 1.5 s late; later ones on time.
        clock += ms + (sleeps.length === 1 ? 1500 : 0);
      },
    });
    await budget.acquire(); // slot at 0

    await budget.acquire(); // slot at 1033 ms, woken at 2533: too late; takes the one at 2533 (idle since 2066)

    const interval = 1034;
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeCloseTo(interval, 6);
    expect(clock).toBeCloseTo(interval + 1500, 6);
    // The next caller queues one interval after the slot actually used: it does not start right behind the late one.
    await budget.acquire();
    expect(sleeps).toHaveLength(2);
    expect(sleeps[1]).toBeCloseTo(interval, 6);
  });

  it('lets only one slot go: woken late again, the whole process lags and the request goes', async () => {
    let clock = 0;
    const sleeps: number[] = [];
    const budget = new InProcessRateBudget({
      limit: 60,
      intervalMs: 60_000,
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        if (sleeps.length > 5) throw new Error('still letting slots go');
        clock += ms + 1500; // every wake-up 1.5 s late
        await budget.holdUntil(clock + 5000); // and others keep the queue long
      },
    });
    await budget.holdUntil(5000);

    await budget.acquire();

    expect(sleeps).toEqual([5000, 5000]);
  });

  it('holds every caller until a provider Retry-After has passed', async () => {
    const time = fakeTime();
    const budget = new InProcessRateBudget({ limit: 60, intervalMs: 60_000, now: time.now, sleep: time.sleep });

    await budget.holdUntil(7000);
    await budget.acquire();

    expect(time.sleeps).toEqual([7000]);
  });
});
