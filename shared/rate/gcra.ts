/**
 * The Generic Cell Rate Algorithm (ITU-T I.371, "virtual scheduling"), as used for request budgets: the whole state is
 * one number, the theoretical arrival time (TAT) of the next request. A request may start at `max(TAT, now)`, and the
 * TAT then moves one emission interval past that start. With no burst tolerance, starts are at least one interval
 * apart, whoever takes them, so no window of `windowMs` ever holds more than `limit` of them.
 */

/**
 * Providers count requests as they arrive, and arrival lags the start by a delay that varies (network, a busy event
 * loop): the budget spaces a window's requests over this fraction more than the window (2 s a minute), so delays that
 * differ by up to that much still cannot put `limit + 1` requests into one of the provider's windows. A caller that
 * wakes more than {@link MAX_LATENESS} of the window after its slot (1 s a minute) takes another slot instead of
 * sending late, which leaves the other half for the delay between waking and the request leaving. Keeps 96.8 % of
 * the ceiling.
 */
export const ARRIVAL_JITTER_ALLOWANCE = 2 / 60;

/** How late after its slot, as a fraction of the window, a request may still start. */
export const MAX_LATENESS = 1 / 60;

/**
 * Milliseconds between request starts for `limit` requests per `windowMs`, rounded up to a whole millisecond: slot
 * times then stay integers, which a store compares exactly (a fraction summed in DynamoDB's decimals and read back as
 * a double would not compare equal to itself).
 * @throws RangeError unless both are positive
 */
export function emissionIntervalMs(limit: number, windowMs = 60_000): number {
  if (!(limit > 0) || !(windowMs > 0)) throw new RangeError('rate limit must be positive');
  // Less a hair, so floating-point noise (62,000.000000000007 / 400) does not round a whole number up.
  return Math.ceil((windowMs * (1 + ARRIVAL_JITTER_ALLOWANCE)) / limit - 1e-9);
}

/** When the next request may start and the TAT after it. `tat` undefined: the budget was never used. */
export function nextSlot(tat: number | undefined, now: number, intervalMs: number): { startAt: number; tat: number } {
  const startAt = Math.max(tat ?? now, now);
  return { startAt, tat: startAt + intervalMs };
}

/** Whether a slot that started at `startAt` has passed by more than a request may start late (see {@link MAX_LATENESS}). */
export function missedSlot(startAt: number, now: number, windowMs = 60_000): boolean {
  return now - startAt > windowMs * MAX_LATENESS;
}
