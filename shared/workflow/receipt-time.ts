import { ReceiptIssueError } from '#shared/errors';
import { currentInvocationBudget } from './invocation-budget.ts';

/**
 * The longest issuing a receipt may take: the receipt state machine's `TimeoutSeconds`
 * (infra/state-machines/receipt.asl.json; test/unit/receipt-workflow.test.ts keeps the two equal).
 */
export const RECEIPT_ISSUE_TIMEOUT_SECONDS = 15;

/**
 * The receipt-issuer function's timeout: its try and the state machine's one retry (after up to 1 s), then the
 * publisher's two tries ({@link TREE_HEAD_PUBLISHER_TIMEOUT_SECONDS}) end within
 * {@link RECEIPT_ISSUE_TIMEOUT_SECONDS}, so no try outlives the execution its caller waits for. Issuing takes well
 * under a second (KMS signatures and a log append; about 0.3 s).
 */
export const RECEIPT_ISSUER_TIMEOUT_SECONDS = 4;

/**
 * The tree-head-publisher function's timeout (the receipt state machine's second Task): one S3 PutObject, tens of
 * milliseconds; two tries and the pause between them fit in what the issuer's leave of the execution.
 */
export const TREE_HEAD_PUBLISHER_TIMEOUT_SECONDS = 2;

/**
 * Refuses to start a receipt's issue that the calling invocation could not wait out. A caller that gives up while its
 * receipt is still being issued (its own time budget ends first) would report a receipt not issued that a moment later
 * is, and would answer late or not at all; so a caller starts the issue only while the whole of
 * {@link RECEIPT_ISSUE_TIMEOUT_SECONDS} fits in what is left of its budget, and is always there for the answer.
 * Outside an invocation (no budget) nothing is refused.
 * @throws ReceiptIssueError before anything is started: the callers retry it as any failed issue (the erasure's
 *   Finalize by its Retry, with a fresh invocation; a cancel is left `canceling` for the request sweeper)
 */
export function ensureTimeToIssueReceipt(requestId: string, now: number = Date.now()): void {
  const budget = currentInvocationBudget();
  if (!budget) return;
  const leftMs = budget.deadline - now;
  if (leftMs >= RECEIPT_ISSUE_TIMEOUT_SECONDS * 1000) return;
  throw new ReceiptIssueError(
    `The receipt of ${requestId} was not started: ${Math.max(0, Math.floor(leftMs / 1000))} s left of the ` +
      `invocation, issuing may take ${RECEIPT_ISSUE_TIMEOUT_SECONDS} s`,
  );
}
