import { Metrics } from '@aws-lambda-powertools/metrics';
import { SFNClient } from '@aws-sdk/client-sfn';
import { withCallbacks } from '#shared/adapters/workflow/callback-scheduler';
import { StepFunctionsReceiptIssuer } from '#shared/adapters/workflow/receipt-workflow';
import { StepFunctionsWorkflowEngine } from '#shared/adapters/workflow/step-functions';
import { resolveSecret } from '#shared/aws/secrets';
import { firstPromoterOnFirstCall } from '#shared/composition/on-demand/firstpromoter';
import { clientOnFirstSend } from '#shared/composition/on-demand/on-first-call';
import {
  bindCancelOperations,
  bindRequestOperations,
  createRequestsTable,
  destroyStrayIdentities,
  listPendingRestores,
  listUnfinishedRequests,
} from '#shared/composition/requests';
import { createAuditLog, createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { callbacks, providers, receipts, storage, workflow } from '#shared/config/sections';
import { SERVICE_NAME } from '#shared/observability';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...providers(env), ...workflow(env), ...callbacks(env), ...receipts(env) }),
  process.env,
  resolveSecret,
);
const db = createDocumentClient(config);
const table = createRequestsTable(config, db);
// Step Functions (resuming workflows that stalled, the receipts and callbacks of the cancels it finishes) and
// FirstPromoter (those cancels' restores) at their first call: a run with nothing stalled and no restore pending
// calls neither. One Step Functions client for all three.
const sfn = clientOnFirstSend(() => new SFNClient({}));

export const handler = makeHandler({
  requests: {
    ...bindCancelOperations(table),
    ...bindRequestOperations(table, {
      listUnfinished: listUnfinishedRequests,
      listPendingRestores,
      destroyStrayIdentities,
    }),
  },
  audit: createAuditLog(config, db),
  clock: systemClock,
  firstPromoter: firstPromoterOnFirstCall(config, db),
  workflow: new StepFunctionsWorkflowEngine(sfn, required(config.stateMachineArn, 'STATE_MACHINE_ARN')),
  metrics: new Metrics({ serviceName: SERVICE_NAME }),
  ...withCallbacks(sfn, config.callbacks.stateMachineArn),
  stalledAfterSeconds: 300,
  receipts: new StepFunctionsReceiptIssuer(sfn, required(config.receipts.stateMachineArn, 'RECEIPT_STATE_MACHINE_ARN')),
});
