import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { describeError } from '#shared/observability';

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
 * A workflow function: dispatches on `task`, logs with the erasure request id as correlation id, and lets errors
 * propagate by name so the state machine's Retry/Catch can match them (`ProviderRateLimitError`, ...).
 */
export function taskHandler<D>(logger: Logger, tasks: Record<string, Task<D>>, deps: D) {
  return middy<TaskEvent, unknown, Error, Context>()
    .use({
      before: (request) => logger.addContext(request.context),
      onError: (request) => {
        logger.warn('Task failed', { ...invocationKeys(request.event), ...describeError(request.error) });
      },
    })
    .handler(async (event) => {
      const task = Object.hasOwn(tasks, event.task) ? tasks[event.task] : undefined;
      if (!task) throw new UnknownTaskError(`Unknown task ${event.task}`);
      const result = await task(deps, event.input);
      // Task results are ids, counts, outcomes and timings by design: safe to log whole.
      logger.info('Task completed', { ...invocationKeys(event), result: result as Record<string, unknown> });
      return result;
    });
}
