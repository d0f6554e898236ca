import { SFNClient } from '@aws-sdk/client-sfn';
import { withCallbacks } from '#shared/adapters/workflow/callback-scheduler';
import { StepFunctionsReceiptIssuer } from '#shared/adapters/workflow/receipt-workflow';
import { resolveSecret } from '#shared/aws/secrets';
import { firstPromoterOnFirstCall } from '#shared/composition/on-demand/firstpromoter';
import { clientOnFirstSend } from '#shared/composition/on-demand/on-first-call';
import {
  bindCancelOperations,
  bindRequestOperations,
  boundPlanAction,
  createRequestsTable,
  markArchiveIdle,
  recordArchivedPromoters,
} from '#shared/composition/requests';
import { createAuditLog, createDocumentClient, createIdentityCipher } from '#shared/composition/stores';
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
// The provider task functions alone may read identities.
const table = createRequestsTable(config, db, systemClock, { readIdentity: true });
// One client for the receipt state machine and the callbacks, created at its first send: only an archive step that
// finishes a cancel ends a request here.
const sfn = clientOnFirstSend(() => new SFNClient({}));

export const handler = makeHandler({
  requests: {
    ...bindCancelOperations(table),
    ...bindRequestOperations(table, { recordArchivedPromoters, markArchiveIdle }),
    planAction: boundPlanAction(table),
  },
  audit: createAuditLog(config, db),
  clock: systemClock,
  cipher: createIdentityCipher(config),
  // Built at its first call, as in referralrock-tasks.
  firstPromoter: firstPromoterOnFirstCall(config, db),
  pseudonymKey: required(config.pseudonymKey, 'PSEUDONYM_KEY'),
  batchPoll: config.batchPoll,
  retryWindowSeconds: config.provider.retryWindowSeconds,
  receipts: new StepFunctionsReceiptIssuer(sfn, required(config.receipts.stateMachineArn, 'RECEIPT_STATE_MACHINE_ARN')),
  ...withCallbacks(sfn, config.callbacks.stateMachineArn),
});
