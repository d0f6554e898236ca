import { AsyncLocalStorage } from 'node:async_hooks';
import { InvocationTimeoutError } from '#shared/errors';

/**
 * The time one invocation may still use, and the signal that aborts its work when that time is up. The task handler
 * opens one per invocation; the adapters read it from here (HTTP transport, DynamoDB client, rate budget), so neither
 * the domain nor the ports carry a deadline parameter.
 */
export interface InvocationBudget {
  /** Epoch milliseconds when the budget was opened. */
  readonly startedAt: number;
  /** Epoch milliseconds after which the invocation must not start, or still be waiting on, any work. */
  readonly deadline: number;
  /** Aborted at the deadline, with an {@link InvocationTimeoutError} as its reason. */
  readonly signal: AbortSignal;
  /** What runs in it (a workflow task's name, or the function's): for measurements that attribute work to a step. */
  readonly name?: string;
}

const storage = new AsyncLocalStorage<InvocationBudget>();

/** The budget of the invocation this code runs in, if any (API handlers and tests outside a task have none). */
export function currentInvocationBudget(): InvocationBudget | undefined {
  return storage.getStore();
}

/**
 * Runs `work` outside any invocation's budget, with the promises it creates: for work an invocation hands on to
 * outlive it (the local workflow engine's queue reads and executions, started by the intake), which the budget's end
 * would otherwise abort, as it aborts everything begun within it.
 */
export function outsideInvocation<T>(work: () => T): T {
  return storage.exit(work);
}

/**
 * Kept back from the platform's own timeout: time to notice the abort, answer the state machine and leave the
 * invocation before the platform kills it (a killed invocation reports nothing and its retry waits for the timeout).
 * 10 % of the time, at most 5 s.
 */
export function safetyMarginMs(remainingMs: number): number {
  return Math.min(5_000, Math.floor(remainingMs * 0.1));
}

/**
 * Runs `work` within a budget ending `remainingMs` (e.g. Lambda's `context.getRemainingTimeInMillis()`) minus the
 * {@link safetyMarginMs} from now. At the deadline the budget's signal aborts whatever is in flight; when `work` ends,
 * the signal is aborted too, so an abandoned promise of it cannot write later.
 */
export async function runWithinBudget<T>(
  remainingMs: number,
  work: () => Promise<T>,
  now: () => number = Date.now,
  name?: string,
): Promise<T> {
  const controller = new AbortController();
  const startedAt = now();
  const deadline = startedAt + remainingMs - safetyMarginMs(remainingMs);
  const timer = setTimeout(() => controller.abort(new InvocationTimeoutError()), Math.max(0, deadline - now()));
  try {
    return await storage.run({ startedAt, deadline, signal: controller.signal, ...(name ? { name } : {}) }, work);
  } finally {
    clearTimeout(timer);
    if (!controller.signal.aborted) controller.abort(new InvocationTimeoutError('The invocation has ended'));
  }
}

/**
 * Runs a Lambda handler's work within the invocation's budget (see {@link runWithinBudget}), taken from the context's
 * `getRemainingTimeInMillis()`; without one (an in-process caller passing no context), unbounded.
 */
export function runWithinInvocation<T>(
  context: { getRemainingTimeInMillis?: () => number; functionName?: string } | undefined,
  work: () => Promise<T>,
  name: string | undefined = context?.functionName,
) {
  const remainingMs = context?.getRemainingTimeInMillis?.();
  return remainingMs === undefined ? work() : runWithinBudget(remainingMs, work, Date.now, name);
}

/** @throws InvocationTimeoutError when the current invocation's budget has ended */
export function throwIfBudgetEnded(budget: InvocationBudget | undefined = currentInvocationBudget()): void {
  if (budget?.signal.aborted) throw new InvocationTimeoutError();
}

/**
 * Sleeps `ms`, ending early with an {@link InvocationTimeoutError} when `signal` aborts.
 */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms));
  if (signal.aborted) return Promise.reject(new InvocationTimeoutError());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InvocationTimeoutError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
