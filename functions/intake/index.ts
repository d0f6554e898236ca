import { SFNClient } from '@aws-sdk/client-sfn';
import { erasureWorkflowStarter } from '#shared/adapters/workflow/step-functions';
import { resolveSecret } from '#shared/aws/secrets';
import { bindRequestOperations, createRequest, createRequestsTable } from '#shared/composition/requests';
import { createAuditLog, createDocumentClient, createIdentityCipher } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { keys, service, storage, webhooks, workflow } from '#shared/config/sections';
import { systemClock } from '#shared/ports/audit';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...keys(env), ...webhooks(env), ...workflow(env), ...service(env) }),
  process.env,
  resolveSecret,
);

const db = createDocumentClient(config);

export const handler = makeHandler({
  requests: bindRequestOperations(createRequestsTable(config, db), { create: createRequest }),
  audit: createAuditLog(config, db),
  clock: systemClock,
  workflow: erasureWorkflowStarter(new SFNClient({}), required(config.stateMachineArn, 'STATE_MACHINE_ARN')),
  cipher: createIdentityCipher(config),
  pseudonymKey: required(config.pseudonymKey, 'PSEUDONYM_KEY'),
  retentionDays: config.auditRetentionDays,
  webhookSecrets: required(config.webhookSecrets, 'WEBHOOK_SECRET'),
  publicBaseUrl: config.publicBaseUrl,
  deadlineTimeZone: config.deadlineTimeZone,
});
