import { resolveSecret } from '#shared/aws/secrets';
import { createAuditStores, createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { access, service, storage } from '#shared/config/sections';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...access(env), ...service(env) }),
  process.env,
  resolveSecret,
);

export const handler = makeHandler({
  ...createAuditStores(config, createDocumentClient(config)),
  deadlineTimeZone: config.deadlineTimeZone,
  operatorTokens: required(config.operatorTokens, 'OPERATOR_TOKENS'),
  auditTokens: required(config.auditTokens, 'AUDIT_TOKENS'),
});
