import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { RetryLaterError } from '#shared/errors';
import { describeError } from '#shared/observability';
import { runWithinInvocation } from './invocation-budget.ts';

/** What each Task of the state machine sends: `Parameters: { task, input.$ }`. */
export interface TaskEvent {
  task: string;
  input: unknown;
}

// biome-ignore lint/suspicious/noExplicitAny: each task declares its own input type; the state machine supplies it
type Task<D> = (deps: D, input: any) => Promise<unknown>;

/**
 * Per-invocation keys go on each line rather than into the logger's persistent keys: the local runtime runs parallel
 * branches through one function instance at once, where persistent keys would be shared.
 */
function invocationKeys(event: TaskEvent): Record<string, unknown> {
  const requestId = (event?.input as { requestId?: unknown } | undefined)?.requestId;
  return { task: event?.task, ...(typeof requestId === 'string' ? { correlation_id: requestId } : {}) };
}

export class UnknownTaskError extends Error {
  override name = 'UnknownTaskError';
}

/**
 * What a task answers instead of its result when it has to wait longer than its invocation may last: the state machine
 * waits `retryAfterSeconds` and runs the same task again (every task is idempotent and resumes from its written plan).
 *
 * The pattern, the same for every Task state that calls a provider (`T`, with its ResultPath `R`, which must not be
 * the task's own input):
 * `T` (Next: `T.Deferred`) → Choice `T.Deferred`: `R.retryAfterSeconds` IsPresent → Wait `T.ComeBackLater`
 * (SecondsPath `R.retryAfterSeconds`, Next: `T`); Default: what followed `T` before.
 */
export interface Deferral {
  retryAfterSeconds: number;
}

/**
 * A workflow function: dispatches on `task`, logs with the erasure request id as correlation id, and lets errors
 * propagate by name so the state machine's Retry/Catch can match them (`ProviderRateLimitError`, ...).
 *
 * Each invocation runs within a time budget (`#shared/workflow/invocation-budget`) that ends a safety margin before the
 * platform's timeout: at its end the work in flight is aborted (HTTP and DynamoDB calls) and the task fails with
 * `TimeoutError`, which the state machine retries. A task that would have to wait past its budget answers a
 * {@link Deferral} instead of failing.
 */
export function taskHandler<D>(logger: Logger, tasks: Record<string, Task<D>>, deps: D) {
  return middy<TaskEvent, unknown, Error, Context>()
    .use({
      before: (request) => logger.addContext(request.context),
      onError: (request) => {
        logger.warn('Task failed', { ...invocationKeys(request.event), ...describeError(request.error) });
      },
    })
    .handler(async (event, context) => {
      const task = Object.hasOwn(tasks, event.task) ? tasks[event.task] : undefined;
      if (!task) throw new UnknownTaskError(`Unknown task ${event.task}`);
      let result: unknown;
      try {
        result = await runWithinInvocation(context, () => task(deps, event.input), event.task);
      } catch (error) {
        if (!(error instanceof RetryLaterError)) throw error;
        const deferral: Deferral = { retryAfterSeconds: error.retryAfterSeconds };
        logger.info('Task deferred', { ...invocationKeys(event), ...deferral });
        return deferral;
      }
      // Task results are ids, counts, outcomes and timings by design: safe to log whole.
      logger.info('Task completed', { ...invocationKeys(event), result: result as Record<string, unknown> });
      return result;
    });
}
