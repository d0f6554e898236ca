import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTables, localDynamoClient } from '#infra/local/dynamodb';
import { PutCommand } from '#shared/adapters/dynamodb/document-client';
import { createDocumentClient } from '#shared/composition';

/**
 * ensureTables resolves once the tables take writes. A CreateTable answers while its table is still CREATING (in
 * DynamoDB, and in dynalite, whose flip to ACTIVE is a later write of its own): a write right after it is refused with
 * ResourceNotFoundException. With dynalite's point reads on the calling thread, such a write came first often enough
 * under load to fail a start or a test; here dynalite takes 50 ms to flip, so the write would always come first.
 */

const dynalite = createRequire(import.meta.url)('dynalite') as (options: Record<string, unknown>) => Server;
const tables = {
  requests: 'ready-requests',
  auditEvents: 'ready-events',
  identities: 'ready-identities',
  rateBudgets: 'ready-budgets',
  transparencyLog: 'ready-log',
};
let server: Server;
let endpoint: string;

beforeAll(async () => {
  server = dynalite({ createTableMs: 50, deleteTableMs: 0, updateTableMs: 50 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('local DynamoDB tables', () => {
  it('are ACTIVE, indexes included, when ensureTables resolves: the first write goes through', async () => {
    const client = localDynamoClient(endpoint);
    const db = createDocumentClient({ dynamoDbEndpoint: undefined }, client);

    await ensureTables(client, tables);

    await db.send(new PutCommand({ TableName: tables.identities, Item: { id: 'er_first' } }));
    for (const name of Object.values(tables)) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect((Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE')).toBe(true);
    }
    client.destroy();
  });
});
