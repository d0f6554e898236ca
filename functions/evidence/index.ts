import { resolveSecret } from '#shared/aws/secrets';
import { createDocumentClient, createTransparencyLog } from '#shared/composition';
import { loadConfig, required } from '#shared/config';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);

export const handler = makeHandler({
  log: createTransparencyLog(config, createDocumentClient(config)),
  auditTokens: required(config.auditTokens, 'AUDIT_TOKENS'),
});
