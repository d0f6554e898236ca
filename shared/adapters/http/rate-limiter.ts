/**
 * Token bucket: `limit` requests per `intervalMs`, with bursts up to `limit`. Callers await `acquire()` before each request.
 * It spaces the requests of one process; providers count per account, so several concurrent Lambdas share the provider's
 * budget and the 429 handling in the transport stays necessary.
 */
export class RateLimiter {
  readonly #capacity: number;
  readonly #refillPerMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  #tokens: number;
  #updatedAt: number;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: {
    limit: number;
    intervalMs: number;
    now?: () => number;
    sleep?: (ms: number) => Promise<void>;
  }) {
    if (!(options.limit > 0) || !(options.intervalMs > 0)) throw new RangeError('rate limit must be positive');
    this.#capacity = options.limit;
    this.#refillPerMs = options.limit / options.intervalMs;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleep;
    this.#tokens = options.limit;
    this.#updatedAt = this.#now();
  }

  /** Resolves when a request may be sent; calls are served in order. */
  acquire(): Promise<void> {
    const turn = this.#queue.then(() => this.#take());
    this.#queue = turn.catch(() => undefined);
    return turn;
  }

  async #take(): Promise<void> {
    this.#refill();
    if (this.#tokens < 1) {
      await this.#sleep(Math.ceil((1 - this.#tokens) / this.#refillPerMs));
      this.#refill();
    }
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#updatedAt) * this.#refillPerMs);
    this.#updatedAt = now;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
