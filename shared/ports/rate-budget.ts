/**
 * One provider account's request budget, shared by every caller that draws from it. Callers take a slot before each
 * request; the budget spaces the slots so the account's per-minute ceiling is never exceeded, whoever the callers are.
 */
export interface RateBudget {
  /**
   * Resolves when the caller's slot has come (at once when the budget is idle).
   * @param options.latestStartAt epoch ms: a slot that has to be waited for and starts later than this is not taken
   *   (a slot free now always is, so a caller short of time is never turned away from an idle budget)
   * @param options.signal aborts the wait
   * @throws RetryLaterError when the next free slot starts after `latestStartAt` (nothing is taken)
   * @throws InvocationTimeoutError when `signal` aborts the wait
   */
  acquire(options?: { latestStartAt?: number; signal?: AbortSignal }): Promise<void>;
  /** The provider asked everyone to wait (`Retry-After`): no slot starts before `until` (epoch ms). */
  holdUntil(until: number): Promise<void>;
}
