import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand as QueryItemsCommand,
  ScanCommand as ScanItemsCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '#shared/adapters/dynamodb/document-client';

/** A DynamoDB client that records what it is sent and answers `answer` (attribute values, as DynamoDB does). */
function fakeClient(answer: Record<string, unknown> | Error = {}) {
  const sent: Array<{ input: Record<string, unknown> }> = [];
  const client = {
    send: async (command: { input: Record<string, unknown> }) => {
      sent.push(command);
      if (answer instanceof Error) throw answer;
      return { $metadata: {}, ...answer };
    },
  };
  return { db: DynamoDBDocumentClient.from(client as unknown as DynamoDBClient), sent };
}

describe('The document client', () => {
  it('sends a put as PutItem: the item and the expression values as attribute values, undefined attributes left out', async () => {
    const { db, sent } = fakeClient({ Attributes: { id: { S: 'r1' }, seq: { N: '3' } } });

    const { Attributes } = await db.send(
      new PutCommand({
        TableName: 'requests',
        Item: { id: 'r1', seq: 4, gone: undefined, tags: ['a', 1], nested: { ok: true, none: null, skip: undefined } },
        ConditionExpression: 'attribute_not_exists(id) OR seq < :seq',
        ExpressionAttributeValues: { ':seq': 4 },
        ReturnValues: 'ALL_OLD',
      }),
    );

    expect(sent[0]).toBeInstanceOf(PutItemCommand);
    expect(sent[0]?.input).toEqual({
      TableName: 'requests',
      Item: {
        id: { S: 'r1' },
        seq: { N: '4' },
        tags: { L: [{ S: 'a' }, { N: '1' }] },
        nested: { M: { ok: { BOOL: true }, none: { NULL: true } } },
      },
      ConditionExpression: 'attribute_not_exists(id) OR seq < :seq',
      ExpressionAttributeValues: { ':seq': { N: '4' } },
      ReturnValues: 'ALL_OLD',
    });
    expect(Attributes).toEqual({ id: 'r1', seq: 3 });
  });

  it('sends a get as GetItem and answers the item as plain values, or none', async () => {
    const found = fakeClient({ Item: { id: { S: 'r1' }, data: { B: new Uint8Array([1, 2]) } } });
    const { Item } = await found.db.send(new GetCommand({ TableName: 't', Key: { id: 'r1' }, ConsistentRead: true }));

    expect(found.sent[0]).toBeInstanceOf(GetItemCommand);
    expect(found.sent[0]?.input).toEqual({ TableName: 't', Key: { id: { S: 'r1' } }, ConsistentRead: true });
    expect(Item).toEqual({ id: 'r1', data: new Uint8Array([1, 2]) });

    const missing = fakeClient({});
    expect((await missing.db.send(new GetCommand({ TableName: 't', Key: { id: 'r2' } }))).Item).toBeUndefined();
  });

  it('sends updates and deletes with their key and values, and answers what ReturnValues asked for', async () => {
    const update = fakeClient({ Attributes: { id: { S: 'r1' }, status: { S: 'completed' } } });
    const updated = await update.db.send(
      new UpdateCommand({
        TableName: 't',
        Key: { id: 'r1' },
        UpdateExpression: 'SET #s = :s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': 'completed' },
        ReturnValues: 'ALL_NEW',
      }),
    );
    expect(update.sent[0]).toBeInstanceOf(UpdateItemCommand);
    expect(update.sent[0]?.input).toMatchObject({
      Key: { id: { S: 'r1' } },
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': { S: 'completed' } },
    });
    expect(updated.Attributes).toEqual({ id: 'r1', status: 'completed' });

    const remove = fakeClient({});
    const deleted = await remove.db.send(new DeleteCommand({ TableName: 'identities', Key: { id: 'r1' } }));
    expect(remove.sent[0]).toBeInstanceOf(DeleteItemCommand);
    expect(remove.sent[0]?.input).toEqual({ TableName: 'identities', Key: { id: { S: 'r1' } } });
    expect(deleted.Attributes).toBeUndefined();
  });

  it('pages queries and scans: the start key and values sent as attribute values, the items and next key read back', async () => {
    const page = {
      Items: [{ id: { S: 'r1' }, seq: { N: '1' } }],
      LastEvaluatedKey: { id: { S: 'r1' }, seq: { N: '1' } },
    };
    const query = fakeClient(page);
    const answer = await query.db.send(
      new QueryCommand({
        TableName: 'events',
        KeyConditionExpression: 'requestId = :id',
        ExpressionAttributeValues: { ':id': 'r1' },
        ExclusiveStartKey: { requestId: 'r1', seq: 0 },
      }),
    );
    expect(query.sent[0]).toBeInstanceOf(QueryItemsCommand);
    expect(query.sent[0]?.input).toMatchObject({
      ExpressionAttributeValues: { ':id': { S: 'r1' } },
      ExclusiveStartKey: { requestId: { S: 'r1' }, seq: { N: '0' } },
    });
    expect(answer).toMatchObject({ Items: [{ id: 'r1', seq: 1 }], LastEvaluatedKey: { id: 'r1', seq: 1 } });

    const scan = fakeClient({ Items: [] });
    const last = await scan.db.send(new ScanCommand({ TableName: 'requests' }));
    expect(scan.sent[0]).toBeInstanceOf(ScanItemsCommand);
    expect(scan.sent[0]?.input).toMatchObject({ TableName: 'requests' });
    expect(last.Items).toEqual([]);
    expect(last.LastEvaluatedKey).toBeUndefined();
  });

  it("sends a batch get's keys per table, and reads back each table's items and the keys left unprocessed", async () => {
    const { db, sent } = fakeClient({
      Responses: { requests: [{ id: { S: 'r1' }, status: { S: 'received' } }] },
      UnprocessedKeys: { requests: { Keys: [{ id: { S: 'r2' } }], ProjectionExpression: 'id' } },
    });

    const answer = await db.send(
      new BatchGetCommand({
        RequestItems: { requests: { Keys: [{ id: 'r1' }, { id: 'r2' }], ProjectionExpression: 'id' } },
      }),
    );

    expect(sent[0]).toBeInstanceOf(BatchGetItemCommand);
    expect(sent[0]?.input).toEqual({
      RequestItems: { requests: { Keys: [{ id: { S: 'r1' } }, { id: { S: 'r2' } }], ProjectionExpression: 'id' } },
    });
    expect(answer.Responses).toEqual({ requests: [{ id: 'r1', status: 'received' }] });
    expect(answer.UnprocessedKeys).toEqual({ requests: { Keys: [{ id: 'r2' }], ProjectionExpression: 'id' } });
  });

  it('sends every kind of transaction item with its item, key and values as attribute values', async () => {
    const { db, sent } = fakeClient({});

    await db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: 'events',
              Item: { requestId: 'r1', seq: 1 },
              ConditionExpression: 'attribute_not_exists(seq)',
            },
          },
          {
            Update: {
              TableName: 'requests',
              Key: { id: 'r1' },
              UpdateExpression: 'SET chainSeq = :next',
              ConditionExpression: 'chainSeq = :seq',
              ExpressionAttributeValues: { ':next': 1, ':seq': 0 },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          { Delete: { TableName: 'identities', Key: { id: 'r1' } } },
          { ConditionCheck: { TableName: 'requests', Key: { id: 'r2' }, ConditionExpression: 'attribute_exists(id)' } },
        ],
      }),
    );

    expect(sent[0]).toBeInstanceOf(TransactWriteItemsCommand);
    expect(sent[0]?.input).toEqual({
      TransactItems: [
        {
          Put: {
            TableName: 'events',
            Item: { requestId: { S: 'r1' }, seq: { N: '1' } },
            ConditionExpression: 'attribute_not_exists(seq)',
          },
        },
        {
          Update: {
            TableName: 'requests',
            Key: { id: { S: 'r1' } },
            UpdateExpression: 'SET chainSeq = :next',
            ConditionExpression: 'chainSeq = :seq',
            ExpressionAttributeValues: { ':next': { N: '1' }, ':seq': { N: '0' } },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        { Delete: { TableName: 'identities', Key: { id: { S: 'r1' } } } },
        {
          ConditionCheck: {
            TableName: 'requests',
            Key: { id: { S: 'r2' } },
            ConditionExpression: 'attribute_exists(id)',
          },
        },
      ],
    });
  });

  it("passes the client's errors on as they are", async () => {
    const refused = new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
    const { db } = fakeClient(refused);

    await expect(db.send(new PutCommand({ TableName: 't', Item: { id: 'r1' } }))).rejects.toBe(refused);
  });
});
