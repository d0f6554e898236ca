import { resolveSecret } from '#shared/aws/secrets';
import { bindRequestOperations, createRequestsTable, extendDeadline, getRequest } from '#shared/composition/requests';
import { createAuditLog, createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { access, service, storage } from '#shared/config/sections';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...access(env), ...service(env) }),
  process.env,
  resolveSecret,
);

const db = createDocumentClient(config);

export const handler = makeHandler({
  requests: bindRequestOperations(createRequestsTable(config, db), { get: getRequest, extendDeadline }),
  audit: createAuditLog(config, db),
  clock: systemClock,
  deadlineTimeZone: config.deadlineTimeZone,
  operatorTokens: required(config.operatorTokens, 'OPERATOR_TOKENS'),
  auditTokens: required(config.auditTokens, 'AUDIT_TOKENS'),
});
