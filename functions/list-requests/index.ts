import { resolveSecret } from '#shared/aws/secrets';
import { bindRequestOperations, createRequestsTable, listRequestsByStatus } from '#shared/composition/requests';
import { createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { access, storage } from '#shared/config/sections';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections((env) => ({ ...storage(env), ...access(env) }), process.env, resolveSecret);
const table = createRequestsTable(config, createDocumentClient(config));

export const handler = makeHandler({
  requests: bindRequestOperations(table, { listByStatus: listRequestsByStatus }),
  clock: systemClock,
  auditTokens: required(config.auditTokens, 'AUDIT_TOKENS'),
});
