import { request } from 'node:http';
import { connect } from 'node:net';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureTables,
  type LocalDynamo,
  localDynamoClient,
  startDynalite,
  startLocalDynamo,
} from '#infra/local/dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '#shared/adapters/dynamodb/document-client';
import { REQUESTS_TABLE } from '#shared/adapters/dynamodb/tables';
import { createDocumentClient } from '#shared/composition';

/** The local DynamoDB's TransactWriteItems (dynalite has none; infra/local/dynalite-transactions.ts adds it). */

const tables = { requests: 'tx-requests', auditEvents: 'tx-events' };
let dynamo: LocalDynamo;
let db: ReturnType<typeof createDocumentClient>;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await dynamo.ensureTables(tables);
  db = createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client);
});

afterAll(async () => {
  await dynamo.stop();
});

const get = async (table: string, key: Record<string, unknown>) =>
  (await db.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;

const appendEvent = (id: string, seq: number, expected: number | undefined) =>
  new TransactWriteCommand({
    TransactItems: [
      {
        Put: {
          TableName: tables.auditEvents,
          Item: { requestId: id, seq, type: 'x' },
          ConditionExpression: 'attribute_not_exists(seq)',
        },
      },
      {
        Update: {
          TableName: tables.requests,
          Key: { id },
          UpdateExpression: 'SET chainSeq = :next',
          ConditionExpression: expected === undefined ? 'attribute_not_exists(chainSeq)' : 'chainSeq = :expected',
          ExpressionAttributeValues: { ':next': seq, ...(expected === undefined ? {} : { ':expected': expected }) },
        },
      },
    ],
  });

describe('TransactWriteItems on the local DynamoDB', () => {
  it('applies every write when every condition holds', async () => {
    await db.send(appendEvent('tx-1', 1, undefined));

    expect(await get(tables.requests, { id: 'tx-1' })).toEqual({ id: 'tx-1', chainSeq: 1 });
    expect(await get(tables.auditEvents, { requestId: 'tx-1', seq: 1 })).toEqual({
      requestId: 'tx-1',
      seq: 1,
      type: 'x',
    });
  });

  it('writes nothing when one condition fails, and says which one', async () => {
    await db.send(appendEvent('tx-2', 1, undefined));

    const failure = await db.send(appendEvent('tx-2', 2, 5)).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TransactionCanceledException);
    expect((failure as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual([
      'None',
      'ConditionalCheckFailed',
    ]);
    expect(await get(tables.auditEvents, { requestId: 'tx-2', seq: 2 })).toBeUndefined();
    expect(await get(tables.requests, { id: 'tx-2' })).toEqual({ id: 'tx-2', chainSeq: 1 });
  });

  it('lets one of two racing transactions on the same head win', async () => {
    await db.send(appendEvent('tx-3', 1, undefined));

    const results = await Promise.allSettled(Array.from({ length: 8 }, () => db.send(appendEvent('tx-3', 2, 1))));

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await get(tables.requests, { id: 'tx-3' })).toEqual({ id: 'tx-3', chainSeq: 2 });
  });

  it('refuses two operations on one item', async () => {
    const twice = new TransactWriteCommand({
      TransactItems: [
        { Put: { TableName: tables.requests, Item: { id: 'tx-4', n: 1 } } },
        {
          Update: {
            TableName: tables.requests,
            Key: { id: 'tx-4' },
            UpdateExpression: 'SET n = :n',
            ExpressionAttributeValues: { ':n': 2 },
          },
        },
      ],
    });

    await expect(db.send(twice)).rejects.toThrow(/multiple operations on one item/);
    expect(await get(tables.requests, { id: 'tx-4' })).toBeUndefined();
  });

  it('refuses an item or key without its key attributes as DynamoDB does: a ValidationException, not a server error', async () => {
    // Answered 500 InternalServerError (a TypeError of the key's construction), which the SDK retries, before.
    const failures = await Promise.all(
      [
        new PutCommand({ TableName: tables.requests, Item: { notTheKey: 'x' } }),
        new UpdateCommand({
          TableName: tables.requests,
          Key: { notTheKey: 'x' },
          UpdateExpression: 'SET n = :n',
          ExpressionAttributeValues: { ':n': 1 },
        }),
        new TransactWriteCommand({
          TransactItems: [{ Put: { TableName: tables.requests, Item: { notTheKey: 'x' } } }],
        }),
        new TransactWriteCommand({
          TransactItems: [
            { ConditionCheck: { TableName: tables.requests, Key: {}, ConditionExpression: 'attribute_exists(id)' } },
          ],
        }),
      ].map((command) =>
        db.send(command as never).then(
          () => undefined,
          (error: Error & { $metadata?: { attempts?: number } }) => error,
        ),
      ),
    );

    for (const failure of failures) {
      expect(failure?.name).toBe('ValidationException');
      expect(failure?.$metadata?.attempts).toBe(1);
    }
    expect(failures.map((failure) => failure?.message)).toEqual([
      'One or more parameter values were invalid: Missing the key id in the item',
      'The provided key element does not match the schema',
      'One or more parameter values were invalid: Missing the key id in the item',
      'The provided key element does not match the schema',
    ]);
  });

  it('holds back no request on other items: a transaction goes through while another request is still arriving', {
    timeout: 30_000,
  }, async () => {
    // Prepare: a PutItem whose body is still on its way (a slow client), in dynalite's hands from its first bytes
    const stalled = request(dynamo.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.PutItem',
        authorization:
          'AWS4-HMAC-SHA256 Credential=local/20000101/local/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0',
        'x-amz-date': '20000101T000000Z',
      },
    });
    const stalledAnswer = new Promise<number | undefined>((resolve) => {
      stalled.on('response', (response) => {
        response.resume();
        resolve(response.statusCode);
      });
      stalled.on('error', () => resolve(undefined));
    });
    await new Promise((resolve) =>
      stalled.write(`{"TableName":"${tables.requests}","Item":{"id":{"S":"tx-5-slow"}`, resolve),
    );
    // A round trip of another request after it: dynalite has read the stalled one's headers by now.
    await get(tables.requests, { id: 'tx-5' });

    // Act
    await db.send(appendEvent('tx-5', 1, undefined));

    // Assess: the transaction did not wait for the request in flight; that one still completes
    expect(await get(tables.requests, { id: 'tx-5' })).toEqual({ id: 'tx-5', chainSeq: 1 });
    stalled.end('}}');
    expect(await stalledAnswer).toBe(200);
    expect(await get(tables.requests, { id: 'tx-5-slow' })).toEqual({ id: 'tx-5-slow' });
  });
});

describe('the local DynamoDB store: its LevelDB work stays on its own thread', () => {
  const requests = 'lv-requests';
  let server: Awaited<ReturnType<typeof startDynalite>>;
  let level: Record<string, (...args: unknown[]) => unknown>;
  let client: ReturnType<typeof createDocumentClient>;
  let raw: LocalDynamo['client'];

  beforeAll(async () => {
    server = await startDynalite();
    level = server.store?.db as unknown as Record<string, (...args: unknown[]) => unknown>;
    raw = localDynamoClient(server.endpoint);
    client = createDocumentClient({ dynamoDbEndpoint: undefined }, raw);
    await ensureTables(raw, { requests, auditEvents: 'lv-events' });
  });

  afterAll(async () => {
    raw.destroy();
    await server.stop();
  });

  /**
   * Counts the LevelDB calls `run` makes, by method: `_get` is a read through the thread pool, `_getSync` one on the
   * DynamoDB thread (counted only when asked for).
   */
  async function levelCalls(
    run: () => Promise<unknown>,
    methods = ['_get', '_put', '_del', '_batch'],
  ): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const originals = new Map<string, (...args: unknown[]) => unknown>();
    for (const method of methods) {
      const original = level[method] as (...args: unknown[]) => unknown;
      originals.set(method, original);
      level[method] = (...args: unknown[]) => {
        counts[method] = (counts[method] ?? 0) + 1;
        return original.apply(level, args);
      };
    }
    try {
      await run();
    } finally {
      for (const [method, original] of originals) level[method] = original;
    }
    return counts;
  }

  const submitted = (id: string) =>
    new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: 'lv-events',
            Item: { requestId: id, seq: 1, type: 'request.received' },
            ConditionExpression: 'attribute_not_exists(seq)',
          },
        },
        {
          Put: {
            TableName: requests,
            Item: { id, status: 'received', emailPseudonym: `p-${id}`, receivedAt: '2026-11-30T00:00:00.000Z' },
            ConditionExpression: 'attribute_not_exists(id)',
          },
        },
      ],
    });

  it('writes a transaction, index entries included, in one LevelDB batch, and reads nothing through the pool', async () => {
    const calls = await levelCalls(() => client.send(submitted('lv-1')));

    expect(calls).toEqual({ _batch: 1 });
    // What the batch wrote is what dynalite's own reads and queries find: the item and its index entry.
    const found = await client.send(
      new QueryCommand({
        TableName: requests,
        IndexName: REQUESTS_TABLE.indexes.byEmailPseudonym.name,
        KeyConditionExpression: 'emailPseudonym = :p',
        ExpressionAttributeValues: { ':p': 'p-lv-1' },
      }),
    );
    expect(found.Items?.map((item) => item.id)).toEqual(['lv-1']);
    expect(
      (await client.send(new GetCommand({ TableName: requests, Key: { id: 'lv-1' }, ConsistentRead: true }))).Item,
    ).toMatchObject({ status: 'received' });
  });

  it('leaves no write of a transaction behind when writing it fails (as a crash in the middle of it would)', async () => {
    // Prepare: the store's next LevelDB write fails
    const calls: string[] = [];
    const originals = new Map<string, (...args: unknown[]) => unknown>();
    for (const method of ['_put', '_batch']) {
      const original = level[method] as (...args: unknown[]) => unknown;
      originals.set(method, original);
      level[method] = (...args: unknown[]) => {
        calls.push(method);
        if (calls.length === 2 || method === '_batch') return Promise.reject(new Error('disk full'));
        return original.apply(level, args);
      };
    }

    // Act
    const failure = await client.send(submitted('lv-2')).catch((error: unknown) => error);
    for (const [method, original] of originals) level[method] = original;

    // Assess: neither the event nor the request is stored
    expect(failure).toBeInstanceOf(Error);
    expect(
      (await client.send(new GetCommand({ TableName: 'lv-events', Key: { requestId: 'lv-2', seq: 1 } }))).Item,
    ).toBeUndefined();
    expect((await client.send(new GetCommand({ TableName: requests, Key: { id: 'lv-2' } }))).Item).toBeUndefined();
  });

  it('writes a single-item write with its index entries in one LevelDB batch: a crash keeps all of it or none', async () => {
    const id = 'lv-5';
    const item = { id, status: 'closing', receivedAt: '2026-11-30T00:00:00.000Z' };
    const put = await levelCalls(() => client.send(new PutCommand({ TableName: requests, Item: item })));
    // Prepare: the process is killed once its first LevelDB write of the status move is on disk.
    let writes = 0;
    const originals = new Map<string, (...args: unknown[]) => unknown>();
    for (const method of ['_put', '_del', '_batch']) {
      const original = level[method] as (...args: unknown[]) => unknown;
      originals.set(method, original);
      level[method] = (...args: unknown[]) =>
        ++writes === 1 ? original.apply(level, args) : Promise.reject(new Error('killed'));
    }

    // Act
    await client
      .send(
        new UpdateCommand({
          TableName: requests,
          Key: { id },
          UpdateExpression: 'SET #s = :s',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': 'completed' },
        }),
      )
      .catch(() => undefined);
    for (const [method, original] of originals) level[method] = original;

    // Assess: the item and the status index say the same
    const stored = (await client.send(new GetCommand({ TableName: requests, Key: { id }, ConsistentRead: true }))).Item;
    const indexed = async (status: string) =>
      (
        await client.send(
          new QueryCommand({
            TableName: requests,
            IndexName: REQUESTS_TABLE.indexes.byStatus.name,
            KeyConditionExpression: '#s = :s',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':s': status },
          }),
        )
      ).Items?.some((found) => found.id === id);
    expect(put).toEqual({ _batch: 1 });
    expect(writes).toBe(1);
    expect(await indexed(String(stored?.status))).toBe(true);
    expect(await indexed(stored?.status === 'completed' ? 'closing' : 'completed')).toBe(false);
  });

  /** A conditional write of one item: its status set to `waiting` if the item exists. */
  const setWaiting = (id: string) =>
    new UpdateCommand({
      TableName: requests,
      Key: { id },
      UpdateExpression: 'SET #s = :s',
      ConditionExpression: 'attribute_exists(id)',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': 'waiting' },
    });

  it('reads each table definition and each item of a write once', async () => {
    await client.send(
      new PutCommand({ TableName: requests, Item: { id: 'lv-4', status: 'received', emailPseudonym: 'p-lv-4' } }),
    );

    const transaction = await levelCalls(() => client.send(submitted('lv-6')), ['_getSync']);
    const update = await levelCalls(() => client.send(setWaiting('lv-4')), ['_getSync']);

    // Two tables and two items; one table and one item (dynalite's own actions read both again: 8 and 3).
    expect(transaction._getSync).toBe(4);
    expect(update._getSync).toBe(2);
    expect(
      (await client.send(new GetCommand({ TableName: requests, Key: { id: 'lv-4' }, ConsistentRead: true }))).Item,
    ).toMatchObject({ status: 'waiting', emailPseudonym: 'p-lv-4' });
  });

  it('answers GetItem and the reads of a conditional write without the thread pool', async () => {
    await client.send(new PutCommand({ TableName: requests, Item: { id: 'lv-3', status: 'received' } }));

    const calls = await levelCalls(async () => {
      await client.send(new GetCommand({ TableName: requests, Key: { id: 'lv-3' } }));
      await client.send(setWaiting('lv-3'));
    });

    expect(calls._get ?? 0).toBe(0);
  });
});

describe('the local DynamoDB, when a caller goes away in the middle of sending a request', () => {
  /** Sends the head and part of the body of a call to `target`, then closes the connection; resolves once the server saw it close. */
  async function halfSentThenGone(server: Awaited<ReturnType<typeof startDynalite>>, target: string): Promise<void> {
    const closed = new Promise<void>((resolve) =>
      server.server.once('connection', (socket) => socket.once('close', () => setImmediate(resolve))),
    );
    const socket = connect(Number(new URL(server.endpoint).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST / HTTP/1.1\r\nHost: local\r\nContent-Type: application/x-amz-json-1.0\r\n` +
        `X-Amz-Target: DynamoDB_20120810.${target}\r\nContent-Length: 1000\r\n\r\n{"TableName":`,
    );
    socket.destroy();
    await closed;
  }

  it('drops that call and goes on answering, for a transaction, a single write and any other call', async () => {
    // Before, the request's 'aborted' error ended the process: an unhandled rejection for the writes this service
    // adds, and dynalite's own `req.on('error', (err) => { throw err })` for the rest.
    const server = await startDynalite();
    const raw = localDynamoClient(server.endpoint);
    const unhandled: unknown[] = [];
    const note = (error: unknown) => unhandled.push(error);
    process.on('unhandledRejection', note);
    process.on('uncaughtException', note);
    try {
      await ensureTables(raw, { requests: 'gone-requests', auditEvents: 'gone-events' });

      for (const target of ['TransactWriteItems', 'PutItem', 'GetItem']) await halfSentThenGone(server, target);
      const db = createDocumentClient({ dynamoDbEndpoint: undefined }, raw);
      await db.send(new PutCommand({ TableName: 'gone-requests', Item: { id: 'after', status: 'received' } }));
      const after = await db.send(new GetCommand({ TableName: 'gone-requests', Key: { id: 'after' } }));

      expect(unhandled.map(String)).toEqual([]);
      expect(after.Item).toEqual({ id: 'after', status: 'received' });
    } finally {
      process.off('unhandledRejection', note);
      process.off('uncaughtException', note);
      raw.destroy();
      await server.stop();
    }
  });
});
