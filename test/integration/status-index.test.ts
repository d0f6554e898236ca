import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '#infra/local/dynamodb';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { REQUESTS_TABLE } from '#shared/adapters/dynamodb/tables';
import { createDocumentClient } from '#shared/composition';

// The status index behind the list route, on dynalite: pages by received time, and a requests table from before the
// index (a local data directory of an earlier version) gets it without losing a request.
const tables = {
  requests: 'requests-index-test',
  auditEvents: 'events-index-test',
  identities: 'identities-index-test',
};
let dynamo: LocalDynamo | undefined;

afterEach(async () => {
  await dynamo?.stop();
  dynamo = undefined;
});

const item = (id: string, status: string, receivedAt: string) => ({
  id: { S: id },
  status: { S: status },
  receivedAt: { S: receivedAt },
  dueAt: { S: '2026-12-01T23:59:59.999Z' },
  subject: { M: { pseudonym: { S: `p-${id}` }, identifiers: { L: [{ S: 'email' }] } } },
  actions: { M: {} },
});

describe('the status index', () => {
  it('is added to a requests table created without it, keeping every request', async () => {
    dynamo = await startLocalDynamo();
    const { indexes, indexProjection } = REQUESTS_TABLE;
    await dynamo.client.send(
      new CreateTableCommand({
        TableName: tables.requests,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'id', AttributeType: 'S' },
          { AttributeName: 'emailPseudonym', AttributeType: 'S' },
          { AttributeName: 'receivedAt', AttributeType: 'S' },
        ],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: indexes.byEmailPseudonym.name,
            KeySchema: [
              { AttributeName: 'emailPseudonym', KeyType: 'HASH' },
              { AttributeName: 'receivedAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...indexProjection] },
          },
        ],
      }),
    );
    for (const [id, status, at] of [
      ['er_a', 'completed', '2026-11-01T00:00:00.000Z'],
      ['er_b', 'completed', '2026-11-02T00:00:00.000Z'],
      ['er_c', 'processing', '2026-11-03T00:00:00.000Z'],
    ] as const) {
      await dynamo.client.send(new PutItemCommand({ TableName: tables.requests, Item: item(id, status, at) }));
    }

    await dynamo.ensureTables(tables);

    const requests = new DynamoRequestRepository(
      createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client),
      tables,
    );
    const completed = await requests.listByStatus('completed', { limit: 10 });
    expect(completed.items.map((r) => r.id)).toEqual(['er_a', 'er_b']);
    expect((await requests.get('er_c'))?.status).toBe('processing');
  });

  it('reads one status in pages, between from (inclusive) and to (exclusive)', async () => {
    dynamo = await startLocalDynamo();
    await dynamo.ensureTables(tables);
    for (let day = 1; day <= 5; day++) {
      const at = `2026-11-0${day}T00:00:00.000Z`;
      await dynamo.client.send(
        new PutItemCommand({ TableName: tables.requests, Item: item(`er_${day}`, 'completed', at) }),
      );
    }
    const requests = new DynamoRequestRepository(
      createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client),
      tables,
    );
    const range = { from: '2026-11-02T00:00:00.000Z', to: '2026-11-05T00:00:00.000Z' };

    const first = await requests.listByStatus('completed', { ...range, limit: 2 });
    const second = await requests.listByStatus('completed', {
      ...range,
      limit: 2,
      ...(first.next ? { startKey: first.next } : {}),
    });

    expect(first.items.map((r) => r.id)).toEqual(['er_2', 'er_3']);
    expect(second.items.map((r) => r.id)).toEqual(['er_4']);
    expect((await requests.listByStatus('failed', { limit: 10 })).items).toEqual([]);
  });
});
