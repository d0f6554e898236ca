import { createWebhookSender } from '#shared/adapters/callbacks/webhook-sender';
import { resolveSecret } from '#shared/aws/secrets';
import { callbackTarget } from '#shared/callbacks/delivery';
import { bindRequestOperations, createRequestsTable, getRequest } from '#shared/composition/requests';
import { createAuditLog, createDocumentClient } from '#shared/composition/stores';
import { loadSections, required } from '#shared/config/environment';
import { callbacks, service, storage } from '#shared/config/sections';
import { makeHandler } from './handler.ts';

const config = await loadSections(
  (env) => ({ ...storage(env), ...callbacks(env), ...service(env) }),
  process.env,
  resolveSecret,
);
const db = createDocumentClient(config);

export const handler = makeHandler({
  requests: bindRequestOperations(createRequestsTable(config, db), { get: getRequest }),
  audit: createAuditLog(config, db),
  sender: createWebhookSender({ secrets: required(config.callbacks.secrets, 'CALLBACK_SECRET'), timeoutMs: 10_000 }),
  targets: config.callbacks.urls.map(callbackTarget),
  publicBaseUrl: required(config.publicBaseUrl, 'PUBLIC_BASE_URL'),
});
