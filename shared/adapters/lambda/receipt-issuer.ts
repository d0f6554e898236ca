import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { ReceiptIssueError } from '#shared/errors';
import type { ReceiptIssuer } from '#shared/ports/evidence';

/**
 * Asks the receipt-issuer function to issue a request's receipt, synchronously: only that function may sign with the
 * receipt key, write the transparency log and publish tree heads, so the functions that end requests get none of it.
 */
export class LambdaReceiptIssuer implements ReceiptIssuer {
  readonly #lambda: LambdaClient;
  readonly #functionName: string;

  constructor(lambda: LambdaClient, functionName: string) {
    this.#lambda = lambda;
    this.#functionName = functionName;
  }

  async issue(requestId: string): Promise<void> {
    const result = await this.#lambda.send(
      new InvokeCommand({
        FunctionName: this.#functionName,
        Payload: Buffer.from(JSON.stringify({ task: 'issueReceipt', input: { requestId } })),
      }),
    );
    if (result.FunctionError) {
      let reason = result.FunctionError;
      try {
        const payload = JSON.parse(Buffer.from(result.Payload ?? []).toString('utf8')) as { errorType?: string };
        reason = payload.errorType ?? reason;
      } catch {
        // Not JSON: keep the error kind.
      }
      throw new ReceiptIssueError(`The receipt of ${requestId} was not issued: ${reason}`);
    }
  }
}
