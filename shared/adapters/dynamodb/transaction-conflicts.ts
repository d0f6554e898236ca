import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const NAME = 'retryTransactionConflicts';

/**
 * Makes the SDK retry `TransactionConflictException`, with its own backoff and attempts. DynamoDB refuses a
 * single-item write (PutItem, UpdateItem, DeleteItem) with it while a transaction on the same item is under way (the
 * DynamoDB Developer Guide, "Transaction conflict handling"), and the request item is written by a transaction at
 * every audit append, by each parallel branch: a plain write of that item (a plan, a status, a head update alone)
 * then failed a step or an API call for a conflict that clears in milliseconds. The SDK retries throttling and
 * transient errors only, and this is neither by its lists; the error carries the retryable trait instead. A
 * conflict inside a TransactWriteItems is a cancellation reason, not this error: the audit chain retries it itself.
 * Installing twice replaces, never doubles, it.
 */
export function retryTransactionConflicts(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if ((error as Error | undefined)?.name === 'TransactionConflictException') {
          Object.assign(error as object, { $retryable: {} });
        }
        throw error;
      }
    },
    // Inside the retry middleware (finalizeRequest, high priority): each attempt's error passes here first.
    { step: 'finalizeRequest', priority: 'low', name: NAME, override: true },
  );
}
