import { resolveSecret } from '#shared/aws/secrets';
import { bindRequestOperations, createRequestsTable, subjectStatuses } from '#shared/composition/requests';
import { createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { access, keys, storage } from '#shared/config/sections';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...access(env), ...keys(env) }),
  process.env,
  resolveSecret,
);

export const handler = makeHandler({
  requests: bindRequestOperations(createRequestsTable(config, createDocumentClient(config)), { subjectStatuses }),
  pseudonymKey: required(config.pseudonymKey, 'PSEUDONYM_KEY'),
  suppressionTokens: required(config.suppressionTokens, 'SUPPRESSION_TOKENS'),
  otherRoleTokens: [...(config.auditTokens ?? [])],
});
