import { LambdaClient } from '@aws-sdk/client-lambda';
import { LambdaReceiptIssuer } from '#shared/adapters/lambda/receipt-issuer';
import { withCallbacks } from '#shared/adapters/workflow/callback-scheduler';
import { resolveSecret } from '#shared/aws/secrets';
import { createAuditStores, createDocumentClient } from '#shared/composition';
import { loadConfig, required } from '#shared/config';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);

export const handler = makeHandler({
  ...createAuditStores(config, createDocumentClient(config)),
  waitingPeriodSeconds: config.waitingPeriodSeconds,
  receipts: new LambdaReceiptIssuer(
    new LambdaClient({}),
    required(config.receipts.issuerFunction, 'RECEIPT_ISSUER_FUNCTION'),
  ),
  ...withCallbacks(config.callbacks.stateMachineArn),
});
