import { issueReceipt, type ReceiptDeps } from '#shared/domain/receipts';
import { createLogger } from '#shared/observability';
import { taskHandler } from '#shared/workflow/task-handler';

/**
 * Issues a finished request's receipt and proves it in the transparency log (`issueReceipt`). The only function that
 * signs with the receipt key, writes the log and publishes tree heads; the functions that end requests run it through
 * the receipt state machine (`infra/state-machines/receipt.asl.json`).
 */
export const makeHandler = (deps: ReceiptDeps, logger = createLogger('receipt-issuer')) =>
  taskHandler(
    logger,
    {
      issueReceipt: async (d: ReceiptDeps, input: { requestId: string }) => {
        const { transparencyLog } = await issueReceipt(d, input.requestId);
        return { requestId: input.requestId, leafIndex: transparencyLog.leafIndex, treeSize: transparencyLog.treeSize };
      },
    },
    deps,
  );
