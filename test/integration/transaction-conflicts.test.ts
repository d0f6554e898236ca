import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, localDynamoClient, startLocalDynamo } from '#infra/local/dynamodb';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { createDocumentClient } from '#shared/composition';
import type { ErasureRequest } from '#shared/domain/model';

/**
 * DynamoDB refuses a single-item write with TransactionConflictException while a transaction on the item is under way;
 * dynalite never does (it queues the write), so a loopback proxy in front of it answers the first UpdateItem as
 * DynamoDB would, on the wire, and passes everything else through.
 */

const tables = { requests: 'conflict-requests', auditEvents: 'conflict-events', identities: 'conflict-identities' };
let dynamo: LocalDynamo;
let proxy: Server;
let endpoint: string;
let conflicts = 0;
const updates: string[] = [];

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await dynamo.ensureTables(tables);
  const upstream = new URL(dynamo.endpoint);
  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target']);
    if (target === 'DynamoDB_20120810.UpdateItem') {
      updates.push(target);
      if (conflicts > 0) {
        conflicts--;
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(
          JSON.stringify({
            __type: 'com.amazonaws.dynamodb.v20120810#TransactionConflictException',
            message: 'Transaction is ongoing for the item',
          }),
        );
        return;
      }
    }
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 500, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.end(Buffer.concat(chunks));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => proxy.close(resolve));
  await dynamo.stop();
});

const stored: ErasureRequest = {
  id: 'er_conflict',
  status: 'received',
  receivedAt: '2026-03-01T10:00:00.000Z',
  dueAt: '2026-04-01T10:00:00.000Z',
  webhookIdHash: 'w',
  payloadHash: 'p',
  signedWith: 's',
  subject: { pseudonym: 'p', emailPseudonym: 'p', identifiers: ['email'] },
  actions: {},
  expiresAt: 1_900_000_000,
};

describe('DynamoDB clients', () => {
  it('retry a single-item write refused for a transaction under way on the item', async () => {
    const client = localDynamoClient(endpoint);
    const requests = new DynamoRequestRepository(createDocumentClient({ dynamoDbEndpoint: undefined }, client), tables);
    await requests.create(stored);
    conflicts = 1;
    updates.length = 0;

    const moved = await requests.transition(stored.id, ['received'], 'waiting');

    expect(moved).toBeTruthy();
    expect(updates).toHaveLength(2);
    expect((await requests.get(stored.id))?.status).toBe('waiting');
    client.destroy();
  });
});
