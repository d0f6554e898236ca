import { SFNClient } from '@aws-sdk/client-sfn';
import { withCallbacks } from '#shared/adapters/workflow/callback-scheduler';
import { StepFunctionsReceiptIssuer } from '#shared/adapters/workflow/receipt-workflow';
import { StepFunctionsWorkflowEngine } from '#shared/adapters/workflow/step-functions';
import { resolveSecret } from '#shared/aws/secrets';
import { firstPromoterOnFirstCall } from '#shared/composition/on-demand/firstpromoter';
import {
  bindCancelOperations,
  bindRequestOperations,
  createRequestsTable,
  transitionRequestWithEvents,
} from '#shared/composition/requests';
import { createAuditLog, createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { access, callbacks, providers, receipts, storage, workflow } from '#shared/config/sections';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({
    ...storage(env),
    ...access(env),
    ...workflow(env),
    ...providers(env),
    ...callbacks(env),
    ...receipts(env),
  }),
  process.env,
  resolveSecret,
);
const db = createDocumentClient(config);
const table = createRequestsTable(config, db);
// One client for the erasure workflow's stop, the receipt state machine and the callbacks.
const sfn = new SFNClient({});

export const handler = makeHandler({
  requests: {
    ...bindCancelOperations(table),
    ...bindRequestOperations(table, { transitionWithEvents: transitionRequestWithEvents }),
  },
  audit: createAuditLog(config, db),
  clock: systemClock,
  workflow: new StepFunctionsWorkflowEngine(sfn, required(config.stateMachineArn, 'STATE_MACHINE_ARN')),
  // Called only to restore promoters the request archived: a cancel for someone who is no promoter never loads it.
  firstPromoter: firstPromoterOnFirstCall(config, db),
  operatorTokens: required(config.operatorTokens, 'OPERATOR_TOKENS'),
  ...withCallbacks(sfn, config.callbacks.stateMachineArn),
  auditTokens: required(config.auditTokens, 'AUDIT_TOKENS'),
  receipts: new StepFunctionsReceiptIssuer(sfn, required(config.receipts.stateMachineArn, 'RECEIPT_STATE_MACHINE_ARN')),
});
