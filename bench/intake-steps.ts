import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import { makeHandler as intake } from '#functions/intake/handler';
import { TransactWriteCommand } from '#shared/adapters/dynamodb/document-client';
import { createAuditStores, createDocumentClient } from '#shared/composition';
import { parseConfig } from '#shared/config';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { deadlineFor } from '#shared/domain/dates';
import { parseErasureRequestBody, subjectRef } from '#shared/domain/subject';
import { parseJson } from '#shared/http/api';
import { verifyWebhook } from '#shared/http/webhook-signature';
import { createLogger } from '#shared/observability';
import { localSigner } from '../infra/local/dynamodb.ts';
import { lambdaContext } from '../infra/local/lambda-context.ts';

export interface IntakeStep {
  step: string;
  /** CPU time of one run, in microseconds (best of several rounds). */
  microseconds: number;
}

/**
 * What one intake costs on the thread that answers it, step by step and whole, with no I/O: each step run in a loop in
 * this process, the whole handler with its one DynamoDB write answered by a canned response (so the SDK's own CPU
 * time, which the handler pays on its thread, is counted, and dynalite's is not). The same handler and adapters as
 * deployed; only the HTTP transport under the SDK is replaced.
 */
export async function measureIntakeSteps(): Promise<IntakeStep[]> {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const pseudonymKey = randomBytes(32);
  const cipher = new IdentityCipher(randomBytes(32));
  const signed = () => {
    const id = `msg_${crypto.randomUUID()}`;
    const body = JSON.stringify({
      email: `bench-${crypto.randomUUID().slice(0, 8)}@example.com`,
      reference: 'BENCH-1',
    });
    const now = new Date();
    return {
      id,
      body,
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign(id, now, body),
      },
    };
  };
  const sample = signed();
  const headers = {
    id: sample.headers['webhook-id'],
    timestamp: sample.headers['webhook-timestamp'],
    signature: sample.headers['webhook-signature'],
  };
  const identity = { email: 'bench@example.com' };

  const config = parseConfig({ DYNAMODB_ENDPOINT: 'http://127.0.0.1:1', POWERTOOLS_LOG_LEVEL: 'WARN' });
  const writes = (client: DynamoDBClient) => createDocumentClient(config, client);
  const canned = { requestHandler: cannedDynamoAnswer(), region: 'local', endpoint: 'http://127.0.0.1:1' };
  const signedClient = new DynamoDBClient({ ...canned, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const localClient = new DynamoDBClient({
    ...canned,
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    signer: localSigner,
  });
  const handlerOn = (client: DynamoDBClient) =>
    intake(
      {
        ...createAuditStores(config, writes(client)),
        workflow: { start: async () => {} },
        cipher,
        pseudonymKey,
        retentionDays: 400,
        webhookSecrets: [secret],
      },
      createLogger('intake', { logLevel: 'WARN' }),
    );
  const localHandler = handlerOn(localClient);
  const awsHandler = handlerOn(signedClient);
  const putItem = async (client: DynamoDBClient) =>
    writes(client).send(
      new TransactWriteCommand({
        TransactItems: [{ Put: { TableName: 'erasure-requests', Item: { id: 'x', a: 'b' } } }],
      }),
    );
  const events = Array.from({ length: 64 }, () => apiEvent(signed()));
  let next = 0;
  const context = (): Context => lambdaContext('intake', 10_000);

  const steps: Array<[string, () => unknown]> = [
    ['signature check (Standard Webhooks, HMAC-SHA256)', () => verifyWebhook([secret], sample.body, headers)],
    ['body: UTF-8, JSON, fields', () => parseErasureRequestBody(parseJson(Buffer.from(sample.body)))],
    ['pseudonym of the email (HMAC-SHA256)', () => subjectRef(pseudonymKey, identity)],
    ['identity encryption (AES-256-GCM)', () => cipher.encrypt(JSON.stringify(identity), 'er_0')],
    ['deadline (one calendar month, UTC)', () => deadlineFor(new Date(), 'UTC')],
    ['TransactWriteItems through the SDK, client CPU (local: fixed signature)', () => putItem(localClient)],
    ['TransactWriteItems through the SDK, client CPU (SigV4, as in AWS)', () => putItem(signedClient)],
    [
      'whole intake handler, its one write answered at once (local client)',
      () => localHandler(events[next++ % events.length] as never, context()),
    ],
    [
      'whole intake handler, its one write answered at once (SigV4 client)',
      () => awsHandler(events[next++ % events.length] as never, context()),
    ],
  ];
  const rows: IntakeStep[] = [];
  for (const [step, run] of steps) rows.push({ step, microseconds: await timed(run) });
  return rows;
}

/**
 * CPU microseconds per run of `run` (the process's user + system time, so time this process spent waiting for a core
 * on a shared machine is not counted), best of 5 rounds of 200 after 200 to warm up.
 */
async function timed(run: () => unknown): Promise<number> {
  for (let i = 0; i < 200; i++) await run();
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const started = process.cpuUsage();
    for (let i = 0; i < 200; i++) await run();
    const used = process.cpuUsage(started);
    rounds.push((used.user + used.system) / 200);
  }
  return Math.min(...rounds);
}

/** An HTTP handler for the SDK that answers every DynamoDB call with `{}` at once: no socket, no dynalite. */
function cannedDynamoAnswer() {
  return {
    handle: async () => ({
      response: {
        statusCode: 200,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: Readable.from([Buffer.from('{}')]),
      },
    }),
    updateHttpClientConfig: () => {},
    httpHandlerConfigs: () => ({}),
  };
}

/** The API Gateway event the local server makes of a signed POST. */
function apiEvent(request: { body: string; headers: Record<string, string> }) {
  return {
    version: '2.0',
    routeKey: 'POST /v1/erasure-requests',
    rawPath: '/v1/erasure-requests',
    rawQueryString: '',
    headers: { ...request.headers, host: '127.0.0.1', 'x-forwarded-proto': 'http' },
    requestContext: {
      domainName: '127.0.0.1:3000',
      http: { method: 'POST', path: '/v1/erasure-requests', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
      requestId: crypto.randomUUID(),
      routeKey: 'POST /v1/erasure-requests',
      stage: '$default',
      timeEpoch: Date.now(),
    },
    body: Buffer.from(request.body).toString('base64'),
    isBase64Encoded: true,
  };
}
