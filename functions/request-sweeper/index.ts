import { Metrics } from '@aws-lambda-powertools/metrics';
import { SFNClient } from '@aws-sdk/client-sfn';
import { withCallbacks } from '#shared/adapters/workflow/callback-scheduler';
import { StepFunctionsReceiptIssuer } from '#shared/adapters/workflow/receipt-workflow';
import { StepFunctionsWorkflowEngine } from '#shared/adapters/workflow/step-functions';
import { resolveSecret } from '#shared/aws/secrets';
import { createFirstPromoter } from '#shared/composition/providers';
import { createAuditStores, createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { callbacks, providers, receipts, storage, workflow } from '#shared/config/sections';
import { SERVICE_NAME } from '#shared/observability';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...providers(env), ...workflow(env), ...callbacks(env), ...receipts(env) }),
  process.env,
  resolveSecret,
);
const db = createDocumentClient(config);
// One client for the erasure workflows, the receipt state machine and the callbacks.
const sfn = new SFNClient({});

export const handler = makeHandler({
  ...createAuditStores(config, db),
  firstPromoter: createFirstPromoter(config, db),
  workflow: new StepFunctionsWorkflowEngine(sfn, required(config.stateMachineArn, 'STATE_MACHINE_ARN')),
  metrics: new Metrics({ serviceName: SERVICE_NAME }),
  ...withCallbacks(sfn, config.callbacks.stateMachineArn),
  stalledAfterSeconds: 300,
  receipts: new StepFunctionsReceiptIssuer(sfn, required(config.receipts.stateMachineArn, 'RECEIPT_STATE_MACHINE_ARN')),
});
