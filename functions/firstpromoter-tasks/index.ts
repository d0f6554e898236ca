import { LambdaClient } from '@aws-sdk/client-lambda';
import { LambdaReceiptIssuer } from '#shared/adapters/lambda/receipt-issuer';
import { withCallbacks } from '#shared/adapters/workflow/callback-scheduler';
import { resolveSecret } from '#shared/aws/secrets';
import { createFirstPromoter } from '#shared/composition/providers';
import { createAuditStores, createDocumentClient, createIdentityCipher } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { callbacks, keys, providers, receipts, storage, workflow } from '#shared/config/sections';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({
    ...storage(env),
    ...keys(env),
    ...providers(env),
    ...workflow(env),
    ...callbacks(env),
    ...receipts(env),
  }),
  process.env,
  resolveSecret,
);
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
