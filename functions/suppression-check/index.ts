import { resolveSecret } from '#shared/aws/secrets';
import { createAuditStores, createDocumentClient } from '#shared/composition';
import { loadConfig, required } from '#shared/config';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);

export const handler = makeHandler({
  requests: createAuditStores(config, createDocumentClient(config)).requests,
  pseudonymKey: required(config.pseudonymKey, 'PSEUDONYM_KEY'),
  suppressionTokens: required(config.suppressionTokens, 'SUPPRESSION_TOKENS'),
  otherRoleTokens: [...(config.auditTokens ?? [])],
});
