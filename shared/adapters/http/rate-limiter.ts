import { RetryLaterError } from '#shared/errors';
import type { RateBudget } from '#shared/ports/rate-budget';
import { emissionIntervalMs, missedSlot, nextSlot } from '#shared/rate/gcra';
import { sleepUnlessAborted } from '#shared/workflow/invocation-budget';

/**
 * A {@link RateBudget} held in this process only (GCRA, see `#shared/rate/gcra`): for a client used on its own, e.g. in
 * client tests. The service's functions share one budget per provider account through DynamoDB instead
 * (`DynamoRateBudget`), since each process holding its own would multiply the rate by the number of processes.
 */
export class InProcessRateBudget implements RateBudget {
  readonly #intervalMs: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #tat: number | undefined;

  constructor(options: {
    limit: number;
    intervalMs: number;
    now?: () => number;
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  }) {
    this.#intervalMs = emissionIntervalMs(options.limit, options.intervalMs);
    this.#windowMs = options.intervalMs;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleepUnlessAborted;
  }

  async acquire(options: { latestStartAt?: number; signal?: AbortSignal } = {}): Promise<void> {
    for (let letGo = 0; ; letGo++) {
      const now = this.#now();
      const slot = nextSlot(this.#tat, now, this.#intervalMs);
      if (options.latestStartAt !== undefined && slot.startAt > now && slot.startAt > options.latestStartAt) {
        throw new RetryLaterError(slot.startAt - now, 'rate budget');
      }
      // Taken before sleeping, so concurrent callers queue behind one another, each in its own slot.
      this.#tat = slot.tat;
      if (slot.startAt > now) await this.#sleep(slot.startAt - now, options.signal);
      // Woken too late (a busy process): sending now could crowd the provider's window; the slot is let go, once: late
      // again means the whole process lags, which delays every request alike and crowds nothing.
      if (letGo > 0 || !missedSlot(slot.startAt, this.#now(), this.#windowMs)) return;
    }
  }

  async holdUntil(until: number): Promise<void> {
    if (this.#tat === undefined || this.#tat < until) this.#tat = until;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
