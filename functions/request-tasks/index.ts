import { LambdaClient } from '@aws-sdk/client-lambda';
import { LambdaReceiptIssuer } from '#shared/adapters/lambda/receipt-issuer';
import { withCallbacks } from '#shared/adapters/workflow/callback-scheduler';
import { resolveSecret } from '#shared/aws/secrets';
import { createAuditStores, createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { callbacks, receipts, storage, workflow } from '#shared/config/sections';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...workflow(env), ...callbacks(env), ...receipts(env) }),
  process.env,
  resolveSecret,
);

export const handler = makeHandler({
  ...createAuditStores(config, createDocumentClient(config)),
  waitingPeriodSeconds: config.waitingPeriodSeconds,
  receipts: new LambdaReceiptIssuer(
    new LambdaClient({}),
    required(config.receipts.issuerFunction, 'RECEIPT_ISSUER_FUNCTION'),
  ),
  ...withCallbacks(config.callbacks.stateMachineArn),
});
