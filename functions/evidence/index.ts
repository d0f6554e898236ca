import { resolveSecret } from '#shared/aws/secrets';
import { createDocumentClient, createTransparencyLog } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { access, storage } from '#shared/config/sections';
import { makeHandler } from './handler.ts';

const config = await loadSections((env) => ({ ...storage(env), ...access(env) }), process.env, resolveSecret);

export const handler = makeHandler({
  log: createTransparencyLog(config, createDocumentClient(config)),
  auditTokens: required(config.auditTokens, 'AUDIT_TOKENS'),
});
