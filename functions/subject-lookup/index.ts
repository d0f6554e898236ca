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
  ...createAuditStores(config, createDocumentClient(config)),
  pseudonymKey: required(config.pseudonymKey, 'PSEUDONYM_KEY'),
  auditTokens: required(config.auditTokens, 'AUDIT_TOKENS'),
});
