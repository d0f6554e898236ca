import { createWebhookSender } from '#shared/adapters/callbacks/webhook-sender';
import { resolveSecret } from '#shared/aws/secrets';
import { callbackTarget } from '#shared/callbacks/delivery';
import { createAuditStores, createDocumentClient } from '#shared/composition';
import { ConfigError, loadConfig, required } from '#shared/config';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);
if (!config.publicBaseUrl) throw new ConfigError('Invalid configuration: PUBLIC_BASE_URL is required by this function');
const { requests, audit } = createAuditStores(config, createDocumentClient(config));

export const handler = makeHandler({
  requests,
  audit,
  sender: createWebhookSender({ secrets: required(config.callbacks.secrets, 'CALLBACK_SECRET'), timeoutMs: 10_000 }),
  targets: config.callbacks.urls.map(callbackTarget),
  publicBaseUrl: config.publicBaseUrl,
});
