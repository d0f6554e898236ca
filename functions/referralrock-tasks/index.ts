import { resolveSecret } from '#shared/aws/secrets';
import { createReferralRock } from '#shared/composition/providers/referralrock';
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
  referralRock: createReferralRock(config, db),
  retryWindowSeconds: config.provider.retryWindowSeconds,
});
