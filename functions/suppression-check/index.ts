import { resolveSecret } from '#shared/aws/secrets';
import { createAuditStores, createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { access, keys, storage } from '#shared/config/sections';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...access(env), ...keys(env) }),
  process.env,
  resolveSecret,
);

export const handler = makeHandler({
  requests: createAuditStores(config, createDocumentClient(config)).requests,
  pseudonymKey: required(config.pseudonymKey, 'PSEUDONYM_KEY'),
  suppressionTokens: required(config.suppressionTokens, 'SUPPRESSION_TOKENS'),
  otherRoleTokens: [...(config.auditTokens ?? [])],
});
