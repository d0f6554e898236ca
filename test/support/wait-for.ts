import { setTimeout as sleep } from 'node:timers/promises';

/**
 * What a wait found at one look: the value awaited, or what it saw instead (said in the failure) and, when there is no
 * point in looking again, why.
 */
export type Probe<T> = { done: true; value: T } | { done: false; seen: string; gaveUp?: string | undefined };

export interface WaitOptions {
  /** The longest wait, in ms: under the test's own timeout, so the wait's message is what a failure shows. */
  timeoutMs: number;
  /** Between two looks, in ms (default 50). */
  intervalMs?: number;
}

/** A wait that ended without what it awaited: the message says what that was, for how long, and what was seen. */
export class WaitError extends Error {
  override name = 'WaitError';
}

/**
 * Looks with `probe` until it returns `{ done: true, value }`, and resolves with that value. Fails fast, with a message saying
 * what was awaited and what was seen last, when the probe gives up (`gaveUp`: the process it waits on ended, say) or
 * after `timeoutMs`, rather than waiting out the test runner's timeout, whose message says neither. A probe that
 * throws ends the wait with its error.
 * @throws WaitError
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<Probe<T>> | Probe<T>,
  options: WaitOptions,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const look = await probe();
    if (look.done) return look.value;
    const waited = Date.now() - started;
    if (look.gaveUp !== undefined) {
      throw new WaitError(`Stopped waiting for ${what} after ${waited} ms: ${look.gaveUp}. Last seen: ${look.seen}`);
    }
    if (waited >= options.timeoutMs) {
      throw new WaitError(`Waited ${waited} ms for ${what}, in vain. Last seen: ${look.seen}`);
    }
    await sleep(Math.min(options.intervalMs ?? 50, Math.max(0, options.timeoutMs - waited)));
  }
}

/**
 * Waits for a promise to settle, as {@link waitFor} waits: it fails with `what` and `seen()` after `timeoutMs` instead
 * of hanging until the runner's timeout. Resolves with the promise's value; its rejection passes through.
 * @throws WaitError
 */
export async function settled<T>(
  what: string,
  promise: Promise<T>,
  options: WaitOptions & { seen: () => string },
): Promise<T> {
  let outcome: { value: T } | { error: unknown } | undefined;
  promise.then(
    (value) => {
      outcome = { value };
    },
    (error: unknown) => {
      outcome = { error };
    },
  );
  const done = await waitFor(
    what,
    () => (outcome ? { done: true, value: outcome } : { done: false, seen: options.seen() }),
    options,
  );
  if ('error' in done) throw done.error;
  return done.value;
}
