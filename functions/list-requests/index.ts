import { resolveSecret } from '#shared/aws/secrets';
import { createAuditStores, createDocumentClient } from '#shared/composition';
import { loadConfig, required } from '#shared/config';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);
const { requests, clock } = createAuditStores(config, createDocumentClient(config));

export const handler = makeHandler({ requests, clock, auditTokens: required(config.auditTokens, 'AUDIT_TOKENS') });
