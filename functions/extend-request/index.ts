import { resolveSecret } from '#shared/aws/secrets';
import { createAuditStores, createDocumentClient } from '#shared/composition';
import { loadConfig, required } from '#shared/config';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);

export const handler = makeHandler({
  ...createAuditStores(config, createDocumentClient(config)),
  deadlineTimeZone: config.deadlineTimeZone,
  operatorTokens: required(config.operatorTokens, 'OPERATOR_TOKENS'),
  auditTokens: required(config.auditTokens, 'AUDIT_TOKENS'),
});
