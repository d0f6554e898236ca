import type { RateBudget } from '#shared/ports/rate-budget';

/**
 * A rate budget that never makes anyone wait: for client tests about retries and backoff, whose recorded sleeps would
 * otherwise include the spacing of the real budget (tests of the spacing use the real one).
 */
export function openRateBudget(): RateBudget {
  return { acquire: async () => undefined, holdUntil: async () => undefined };
}

/**
 * A ceiling no test comes near (1,000 calls a second), for provider clients a test builds itself: at the providers'
 * real ceilings (Referral Rock 120 a minute by default) every call would wait 0.5 s for its slot, which proves nothing
 * outside the tests of the budget, and which those set themselves. `startTestRuntime` configures the same.
 */
export const UNSPACED_RATE_LIMIT = { limit: 60_000, intervalMs: 60_000 } as const;
