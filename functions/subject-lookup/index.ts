import { resolveSecret } from '#shared/aws/secrets';
import { bindRequestOperations, createRequestsTable, findRequestsBySubject } from '#shared/composition/requests';
import { createAuditLog, createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { access, keys, storage } from '#shared/config/sections';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...access(env), ...keys(env) }),
  process.env,
  resolveSecret,
);

const db = createDocumentClient(config);

export const handler = makeHandler({
  requests: bindRequestOperations(createRequestsTable(config, db), { findBySubject: findRequestsBySubject }),
  audit: createAuditLog(config, db),
  clock: systemClock,
  pseudonymKey: required(config.pseudonymKey, 'PSEUDONYM_KEY'),
  auditTokens: required(config.auditTokens, 'AUDIT_TOKENS'),
});
