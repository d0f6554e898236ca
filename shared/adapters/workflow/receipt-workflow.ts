import { type SFNClient, StartSyncExecutionCommand } from '@aws-sdk/client-sfn';
import { ReceiptIssueError } from '#shared/errors';
import type { ReceiptIssuer } from '#shared/ports/evidence';
import { ensureTimeToIssueReceipt } from '#shared/workflow/receipt-time';

/**
 * Issues a request's receipt by running the receipt state machine (`infra/state-machines/receipt.asl.json`, Express)
 * synchronously: it invokes the receipt-issuer function, the only one that may sign with the receipt key and write the
 * transparency log, then the tree-head-publisher function, the only one that may publish tree heads; the execution
 * succeeds once the head is published. Through Step Functions rather than a Lambda invoke because every function
 * that ends requests already carries the Step Functions client (workflow starts and stops, callbacks), where a Lambda
 * client would add 70 KiB to each bundle (all of Lambda's error schemas, registered at import).
 *
 * The execution is not named: Express executions are not deduplicated by name, and need not be, since issuing is
 * idempotent (a receipt is in the log once).
 */
export class StepFunctionsReceiptIssuer implements ReceiptIssuer {
  readonly #sfn: Pick<SFNClient, 'send'>;
  readonly #stateMachineArn: string;

  constructor(sfn: Pick<SFNClient, 'send'>, stateMachineArn: string) {
    this.#sfn = sfn;
    this.#stateMachineArn = stateMachineArn;
  }

  /**
   * Resolves once the receipt is issued and its tree head published.
   * @throws ReceiptIssueError when the execution did not succeed (the issuer or the publisher failed, after the state machine's own
   *   retries, or timed out), naming the error kind only, or was not started because the caller's invocation has less
   *   time left than the execution may take (`ensureTimeToIssueReceipt`); the Step Functions client's own errors as
   *   they are
   */
  async issue(requestId: string): Promise<void> {
    ensureTimeToIssueReceipt(requestId);
    const { status, error } = await this.#sfn.send(
      new StartSyncExecutionCommand({ stateMachineArn: this.#stateMachineArn, input: JSON.stringify({ requestId }) }),
    );
    if (status !== 'SUCCEEDED') {
      // `error` is the failed task's error name; its `cause` (the message) is left out of the error, as the Lambda
      // adapter left out the payload: only kinds cross into logs and the workflow's history.
      throw new ReceiptIssueError(`The receipt of ${requestId} was not issued: ${error ?? status}`);
    }
  }
}
