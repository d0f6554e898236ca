import { resolveSecret } from '#shared/aws/secrets';
import { referralRockOnFirstCall } from '#shared/composition/on-demand/referralrock';
import {
  bindRequestOperations,
  boundPlanAction,
  createRequestsTable,
  getRequest,
  recordAction,
} from '#shared/composition/requests';
import { createDocumentClient, createIdentityCipher } from '#shared/composition/stores';
import { loadSections } from '#shared/config/environment';
import { keys, providers, storage } from '#shared/config/sections';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...keys(env), ...providers(env) }),
  process.env,
  resolveSecret,
);
const db = createDocumentClient(config);
// The provider task functions alone may read identities.
const table = createRequestsTable(config, db, systemClock, { readIdentity: true });

export const handler = makeHandler({
  requests: {
    ...bindRequestOperations(table, { get: getRequest, recordAction }),
    planAction: boundPlanAction(table),
  },
  clock: systemClock,
  cipher: createIdentityCipher(config),
  // Built at its first call: every task calls Referral Rock, but only after reading the request (see the README,
  // Performance: the client's module, axios's fetch feature checks and the schemas run then, not at import).
  referralRock: referralRockOnFirstCall(config, db),
  retryWindowSeconds: config.provider.retryWindowSeconds,
});
