import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { localSecretsFile } from './secrets-file.ts';

/**
 * `npm run submit -- --email jane@example.com [--external-id ID] [--reference TICKET] [--url URL]`: signs an erasure
 * request the way a privacy form or CRM would (Standard Webhooks) and sends it to the running service.
 */
const { values } = parseArgs({
  options: {
    email: { type: 'string' },
    'external-id': { type: 'string' },
    reference: { type: 'string' },
    url: { type: 'string' },
    'webhook-id': { type: 'string' },
  },
});
if (!values.email && !values['external-id']) {
  console.error('Usage: npm run submit -- --email ADDRESS [--external-id ID] [--reference TICKET] [--url URL]');
  process.exit(64);
}

const secretsFile = localSecretsFile(resolve(process.env.DATA_DIR ?? '.data'), process.env);
const stored = await readFile(secretsFile, 'utf8')
  .then((text) => JSON.parse(text) as { WEBHOOK_SECRET?: string; AUDIT_TOKENS?: string })
  .catch(() => ({}) as { WEBHOOK_SECRET?: string; AUDIT_TOKENS?: string });
const secret = (process.env.WEBHOOK_SECRET ?? stored.WEBHOOK_SECRET)?.split(',')[0];
if (!secret) {
  console.error(`No WEBHOOK_SECRET in the environment or ${secretsFile}: start the service first (npm start).`);
  process.exit(78);
}

const url = (values.url ?? process.env.SERVICE_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`).replace(
  /\/$/,
  '',
);
const body = JSON.stringify({
  ...(values.email ? { email: values.email } : {}),
  ...(values['external-id'] ? { externalId: values['external-id'] } : {}),
  ...(values.reference ? { reference: values.reference } : {}),
});
const webhookId = values['webhook-id'] ?? `msg_${randomUUID()}`;
const timestamp = new Date();
const signature = new Webhook(secret).sign(webhookId, timestamp, body);

const response = await fetch(`${url}/v1/erasure-requests`, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': signature,
  },
  body,
});
const text = await response.text();
process.stdout.write(`${response.status} ${text}\n`);
const token = (process.env.AUDIT_TOKENS ?? stored.AUDIT_TOKENS)?.split(',')[0];
if (response.status === 202 && token) {
  const { statusUrl } = JSON.parse(text) as { statusUrl: string };
  process.stdout.write(`\nFollow it:\n  curl -s -H "Authorization: Bearer ${token}" ${statusUrl}\n`);
}
process.exit(response.ok ? 0 : 1);
