import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvocationTimeoutError } from '#shared/errors';
import { currentInvocationBudget } from '#shared/workflow/invocation-budget';

const NAME = 'abortAtInvocationDeadline';

/**
 * Ties every DynamoDB call made within a workflow task to the invocation's budget (see
 * `#shared/workflow/invocation-budget`): once the budget has ended, no request is sent (each attempt of the SDK's own
 * retries included), and a call in flight at the deadline stops being awaited, so a task cut off by its deadline
 * writes nothing afterwards. Calls made outside a task are untouched. Installing twice replaces, never doubles, it.
 */
export function abortAtInvocationDeadline(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const budget = currentInvocationBudget();
      if (!budget) return next(args);
      if (budget.signal.aborted) throw new InvocationTimeoutError();
      const { signal } = budget;
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new InvocationTimeoutError());
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return await Promise.race([next(args), aborted]);
      } finally {
        if (onAbort) signal.removeEventListener('abort', onAbort);
      }
    },
    // Inside the retry middleware (finalizeRequest, high priority): checked before every attempt.
    { step: 'finalizeRequest', priority: 'low', name: NAME, override: true },
  );
}
