import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { AUDIT_EVENTS_TABLE, RATE_BUDGETS_TABLE, REQUESTS_TABLE } from '#shared/adapters/dynamodb/tables';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

/**
 * dynalite, a DynamoDB-compatible server, on loopback. With `path` its data lives on disk (LevelDB), so the audit trail
 * survives a restart; without, in memory (tests).
 */
async function startDynalite(path?: string): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  if (path) await mkdir(path, { recursive: true });
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(path ? { path } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // dynalite keeps its LevelDB open on the server object; close it so the next start can take the lock.
      const db = (server as unknown as { db?: { close?: (cb: () => void) => void } }).db;
      if (db?.close) await new Promise<void>((resolve) => db.close?.(() => resolve()));
    },
  };
}

export interface LocalDynamo {
  endpoint: string;
  /** A client for it (dynalite accepts any credentials). */
  client: DynamoDBClient;
  /** Creates the tables as the stack defines them, if they do not exist yet. */
  ensureTables(names: { requests: string; auditEvents: string; rateBudgets?: string }): Promise<void>;
  stop(): Promise<void>;
}

/** dynalite plus a client for it: what the local runtime and the store tests run on. */
export async function startLocalDynamo(path?: string): Promise<LocalDynamo> {
  const server = await startDynalite(path);
  const client = new DynamoDBClient({
    endpoint: server.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return {
    endpoint: server.endpoint,
    client,
    ensureTables: (names) => ensureTables(client, names),
    stop: async () => {
      client.destroy();
      await server.stop();
    },
  };
}

/** Creates the tables as the stack defines them (same keys and indexes), if they do not exist yet. */
async function ensureTables(
  client: DynamoDBClient,
  names: { requests: string; auditEvents: string; rateBudgets?: string },
) {
  const { indexes, indexProjection } = REQUESTS_TABLE;
  const definitions: CreateTableCommandInput[] = [
    {
      TableName: names.requests,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: REQUESTS_TABLE.partitionKey, AttributeType: 'S' },
        { AttributeName: indexes.byEmailPseudonym.partitionKey, AttributeType: 'S' },
        { AttributeName: indexes.byExternalIdPseudonym.partitionKey, AttributeType: 'S' },
        { AttributeName: indexes.byEmailPseudonym.sortKey, AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: REQUESTS_TABLE.partitionKey, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [indexes.byEmailPseudonym, indexes.byExternalIdPseudonym].map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...indexProjection] },
      })),
    },
    {
      TableName: names.auditEvents,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: AUDIT_EVENTS_TABLE.partitionKey, AttributeType: 'S' },
        { AttributeName: AUDIT_EVENTS_TABLE.sortKey, AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: AUDIT_EVENTS_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: AUDIT_EVENTS_TABLE.sortKey, KeyType: 'RANGE' },
      ],
    },
  ];
  if (names.rateBudgets) {
    definitions.push({
      TableName: names.rateBudgets,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: RATE_BUDGETS_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: RATE_BUDGETS_TABLE.partitionKey, KeyType: 'HASH' }],
    });
  }
  for (const definition of definitions) {
    try {
      await client.send(new CreateTableCommand(definition));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
}
