import { issueReceipt, type ReceiptDeps, type TreeHeadToPublish } from '#shared/domain/receipts';
import { createLogger } from '#shared/observability';
import { taskHandler } from '#shared/workflow/task-handler';

/**
 * The receipt state machine's IssueReceipt: issues the request's receipt and answers the signed head to publish next
 * (its size and JWS: no receipt, nothing personal), with the leaf's index. Shared with the local runtime.
 */
export async function issueReceiptTask(
  deps: ReceiptDeps,
  input: { requestId: string },
): Promise<TreeHeadToPublish & { requestId: string; leafIndex: number }> {
  const { transparencyLog } = await issueReceipt(deps, input.requestId);
  return {
    requestId: input.requestId,
    leafIndex: transparencyLog.leafIndex,
    treeSize: transparencyLog.treeSize,
    treeHead: transparencyLog.treeHead,
  };
}

/**
 * Issues a finished request's receipt and proves it in the transparency log (`issueReceipt`). The only function that
 * signs with the receipt key and writes the log; the functions that end requests run it through the receipt state
 * machine (`infra/state-machines/receipt.asl.json`), whose next Task hands the head it answers to the
 * `tree-head-publisher` function: the issuer holds no write on the published heads, and carries no S3 client into its
 * cold start.
 */
export const makeHandler = (deps: ReceiptDeps, logger = createLogger('receipt-issuer')) =>
  taskHandler(logger, { issueReceipt: issueReceiptTask }, deps);
