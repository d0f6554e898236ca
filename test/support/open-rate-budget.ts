import type { RateBudget } from '#shared/ports/rate-budget';

/**
 * A rate budget that never makes anyone wait: for client tests about retries and backoff, whose recorded sleeps would
 * otherwise include the spacing of the real budget (tests of the spacing use the real one).
 */
export function openRateBudget(): RateBudget {
  return { acquire: async () => undefined, holdUntil: async () => undefined };
}
