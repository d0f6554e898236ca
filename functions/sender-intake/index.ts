import { SFNClient } from '@aws-sdk/client-sfn';
import { StepFunctionsWorkflowEngine } from '#shared/adapters/workflow/step-functions';
import { resolveSecret } from '#shared/aws/secrets';
import { createAuditStores, createDocumentClient, createIdentityCipher } from '#shared/composition';
import { loadConfig, required } from '#shared/config';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);

export const handler = makeHandler({
  ...createAuditStores(config, createDocumentClient(config)),
  workflow: new StepFunctionsWorkflowEngine(new SFNClient({}), required(config.stateMachineArn, 'STATE_MACHINE_ARN')),
  cipher: createIdentityCipher(config),
  pseudonymKey: required(config.pseudonymKey, 'PSEUDONYM_KEY'),
  retentionDays: config.auditRetentionDays,
  senders: config.senders,
  publicBaseUrl: config.publicBaseUrl,
  deadlineTimeZone: config.deadlineTimeZone,
});
