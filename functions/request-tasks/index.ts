import { SFNClient } from '@aws-sdk/client-sfn';
import { withCallbacks } from '#shared/adapters/workflow/callback-scheduler';
import { StepFunctionsReceiptIssuer } from '#shared/adapters/workflow/receipt-workflow';
import { clientOnFirstSend } from '#shared/composition/on-demand/on-first-call';
import {
  bindRequestOperations,
  createRequestsTable,
  destroyIdentity,
  getRequest,
  recordAction,
  transitionRequest,
  transitionRequestWithEvents,
} from '#shared/composition/requests';
import { createAuditLog, createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { callbacks, receipts, storage, workflow } from '#shared/config/sections';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...workflow(env), ...callbacks(env), ...receipts(env) }),
  // No secret resolver: the function reads no secret (FUNCTION_SECRETS in infra/erasure-stack.ts), so a
  // <NAME>_SECRET_ARN given to it by mistake is refused at start rather than read.
  process.env,
);
// One client for the receipt state machine and the callbacks, created at its first send: only finalize ends a request.
const sfn = clientOnFirstSend(() => new SFNClient({}));
const db = createDocumentClient(config);

export const handler = makeHandler({
  requests: bindRequestOperations(createRequestsTable(config, db), {
    get: getRequest,
    recordAction,
    transition: transitionRequest,
    transitionWithEvents: transitionRequestWithEvents,
    destroyIdentity,
  }),
  audit: createAuditLog(config, db),
  clock: systemClock,
  waitingPeriodSeconds: config.waitingPeriodSeconds,
  receipts: new StepFunctionsReceiptIssuer(sfn, required(config.receipts.stateMachineArn, 'RECEIPT_STATE_MACHINE_ARN')),
  ...withCallbacks(sfn, config.callbacks.stateMachineArn),
});
