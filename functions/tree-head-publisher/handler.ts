import { publishTreeHead, type TreeHeadToPublish } from '#shared/domain/receipts';
import { createLogger } from '#shared/observability';
import type { TreeHeadPublisher } from '#shared/ports/evidence';
import { taskHandler } from '#shared/workflow/task-handler';

export interface TreeHeadPublisherDeps {
  publisher: TreeHeadPublisher;
}

/**
 * Publishes the signed tree head the receipt issuer answered (`publishTreeHead`): the receipt state machine's second
 * Task, so a receipt's execution succeeds only once its head is published, and a retry of a failed execution
 * publishes the same head again (a no-op once there). A function of its own for least privilege, the signer cannot
 * write the published heads and this function cannot sign nor touch a table, and for the issuer's cold start, which
 * no longer loads the S3 client.
 */
export const makeHandler = (deps: TreeHeadPublisherDeps, logger = createLogger('tree-head-publisher')) =>
  taskHandler(
    logger,
    { publishTreeHead: (d: TreeHeadPublisherDeps, input: TreeHeadToPublish) => publishTreeHead(d, input) },
    deps,
  );
