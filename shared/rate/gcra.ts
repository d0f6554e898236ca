/**
 * The Generic Cell Rate Algorithm (ITU-T I.371, "virtual scheduling"), as used for request budgets: the whole state is
 * one number, the theoretical arrival time (TAT) of the next request. A request may start at `max(TAT, now)`, and the
 * TAT then moves one emission interval past that start. With no burst tolerance, starts are at least one interval
 * apart, whoever takes them, so no window of `windowMs` ever holds more than `limit` of them.
 */

/**
 * Providers count requests as they arrive, and arrival lags the start by a delay that varies (network, event loop):
 * the budget spaces a window's requests over this fraction more than the window (1 s a minute), so delays that differ
 * by up to that much still cannot put `limit + 1` requests into one of the provider's windows. It keeps 98 % of the
 * ceiling.
 */
export const ARRIVAL_JITTER_ALLOWANCE = 1 / 60;

/**
 * Milliseconds between request starts for `limit` requests per `windowMs`.
 * @throws RangeError unless both are positive
 */
export function emissionIntervalMs(limit: number, windowMs = 60_000): number {
  if (!(limit > 0) || !(windowMs > 0)) throw new RangeError('rate limit must be positive');
  return (windowMs * (1 + ARRIVAL_JITTER_ALLOWANCE)) / limit;
}

/** When the next request may start and the TAT after it. `tat` undefined: the budget was never used. */
export function nextSlot(tat: number | undefined, now: number, intervalMs: number): { startAt: number; tat: number } {
  const startAt = Math.max(tat ?? now, now);
  return { startAt, tat: startAt + intervalMs };
}
