import { SFNClient } from '@aws-sdk/client-sfn';
import { withCallbacks } from '#shared/adapters/workflow/callback-scheduler';
import { StepFunctionsReceiptIssuer } from '#shared/adapters/workflow/receipt-workflow';
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
// One client for the receipt state machine and the callbacks.
const sfn = new SFNClient({});

export const handler = makeHandler({
  ...createAuditStores(config, createDocumentClient(config)),
  waitingPeriodSeconds: config.waitingPeriodSeconds,
  receipts: new StepFunctionsReceiptIssuer(sfn, required(config.receipts.stateMachineArn, 'RECEIPT_STATE_MACHINE_ARN')),
  ...withCallbacks(sfn, config.callbacks.stateMachineArn),
});
