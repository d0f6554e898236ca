import { LambdaClient } from '@aws-sdk/client-lambda';
import { LambdaReceiptIssuer } from '#shared/adapters/lambda/receipt-issuer';
import { withCallbacks } from '#shared/adapters/workflow/callback-scheduler';
import { resolveSecret } from '#shared/aws/secrets';
import {
  createAuditStores,
  createDocumentClient,
  createFirstPromoter,
  createIdentityCipher,
} from '#shared/composition';
import { loadConfig, required } from '#shared/config';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);
const db = createDocumentClient(config);

export const handler = makeHandler({
  ...createAuditStores(config, db, systemClock, { readIdentity: true }),
  cipher: createIdentityCipher(config),
  firstPromoter: createFirstPromoter(config, db),
  batchPoll: config.batchPoll,
  receipts: new LambdaReceiptIssuer(
    new LambdaClient({}),
    required(config.receipts.issuerFunction, 'RECEIPT_ISSUER_FUNCTION'),
  ),
  ...withCallbacks(config.callbacks.stateMachineArn),
});
