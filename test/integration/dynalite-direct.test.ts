import { once } from 'node:events';
import { createServer, get, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectHttpHandler } from '#infra/local/dynalite-direct';
import { addBackgroundEntrance } from '#infra/local/dynalite-precedence';
import { ensureTables, localDynamoClient, startDynalite } from '#infra/local/dynamodb';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '#shared/adapters/dynamodb/document-client';
import { REQUESTS_TABLE } from '#shared/adapters/dynamodb/tables';
import { createDocumentClient } from '#shared/composition';

/** The API's DynamoDB calls answered on its own thread (infra/local/dynalite-direct.ts): the same calls as over HTTP. */

describe('DynamoDB calls answered on the calling thread by the local DynamoDB', () => {
  const tables = { requests: 'direct-requests', auditEvents: 'direct-events' };
  let server: Awaited<ReturnType<typeof startDynalite>>;
  let direct: ReturnType<typeof localDynamoClient>;
  let db: ReturnType<typeof createDocumentClient>;

  beforeAll(async () => {
    server = await startDynalite();
    direct = localDynamoClient(server.endpoint, { server: server.server });
    db = createDocumentClient({ dynamoDbEndpoint: undefined }, direct);
    await ensureTables(direct, tables);
  });

  afterAll(async () => {
    direct.destroy();
    await server.stop();
  });

  const submitted = (id: string) =>
    new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: tables.auditEvents,
            Item: { requestId: id, seq: 1, type: 'request.received' },
            ConditionExpression: 'attribute_not_exists(seq)',
          },
        },
        {
          Put: {
            TableName: tables.requests,
            Item: { id, status: 'received', emailPseudonym: `p-${id}`, receivedAt: '2026-11-30T00:00:00.000Z' },
            ConditionExpression: 'attribute_not_exists(id)',
          },
        },
      ],
    });

  it('writes, reads and queries as over HTTP', async () => {
    await db.send(submitted('direct-1'));

    const overHttp = createDocumentClient({ dynamoDbEndpoint: undefined }, localDynamoClient(server.endpoint));
    const key = { TableName: tables.requests, Key: { id: 'direct-1' }, ConsistentRead: true };
    expect((await db.send(new GetCommand(key))).Item).toEqual((await overHttp.send(new GetCommand(key))).Item);
    expect((await db.send(new GetCommand(key))).Item).toMatchObject({ status: 'received' });
    const found = await db.send(
      new QueryCommand({
        TableName: tables.requests,
        IndexName: REQUESTS_TABLE.indexes.byEmailPseudonym.name,
        KeyConditionExpression: 'emailPseudonym = :p',
        ExpressionAttributeValues: { ':p': 'p-direct-1' },
      }),
    );
    expect(found.Items?.map((item) => item.id)).toEqual(['direct-1']);
  });

  it('refuses as over HTTP: a failed condition is the same exception, with its reasons', async () => {
    await db.send(submitted('direct-2'));

    const failure = await db.send(submitted('direct-2')).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TransactionCanceledException);
    expect((failure as TransactionCanceledException).CancellationReasons?.map((reason) => reason.Code)).toEqual([
      'ConditionalCheckFailed',
      'ConditionalCheckFailed',
    ]);
    const single = await db
      .send(
        new PutCommand({
          TableName: tables.requests,
          Item: { id: 'direct-2' },
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      )
      .catch((error: unknown) => error);
    expect((single as Error).name).toBe('ConditionalCheckFailedException');
  });

  it('rejects an aborted call with an AbortError, and every call once destroyed', async () => {
    // Nobody answers: a server whose handler keeps every request waiting.
    const silent = createServer(() => undefined);
    const handler = new DirectHttpHandler(silent);
    const request = { method: 'POST', path: '/', headers: {}, body: '{}' };
    const controller = new AbortController();
    const failureOf = (call: Promise<unknown>) =>
      call.then(
        () => new Error('answered'),
        (error: Error) => error,
      );
    const aborted = failureOf(handler.handle(request, { abortSignal: controller.signal }));
    controller.abort(new Error('the invocation has ended'));
    expect((await aborted).name).toBe('AbortError');

    handler.destroy();
    expect((await failureOf(handler.handle(request))).message).toMatch(/no longer reachable/);
  });
});

describe('a call answered on the calling thread, at the background entrance', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('counts as a foreground call: background calls wait until it is answered', async () => {
    // Prepare: a stand-in for dynalite whose answer to /slow waits, with a background entrance
    let finishSlow!: () => void;
    let slowArrived!: () => void;
    const arrived = new Promise<void>((resolve) => {
      slowArrived = resolve;
    });
    const seen: string[] = [];
    const front = createServer((req, res: ServerResponse) => {
      seen.push(String(req.url));
      if (req.url === '/slow') {
        finishSlow = () => res.end('slow');
        slowArrived();
        return;
      }
      res.end(`answered ${req.url}`);
    });
    const background = addBackgroundEntrance(front, { maxHoldMs: 60_000 });
    servers.push(background);
    await new Promise<void>((resolve) => background.listen(0, '127.0.0.1', resolve));
    const handler = new DirectHttpHandler(front);

    // Act: a slow direct call, then a background call
    const slow = handler.handle({ method: 'POST', path: '/slow', headers: {}, body: '' });
    await arrived;
    let backgroundAnswer: string | undefined;
    // The entrance decides at once, as the call arrives, whether it is held.
    const backgroundArrived = once(background, 'request');
    const answered = new Promise<void>((resolve) => {
      get(`http://127.0.0.1:${(background.address() as AddressInfo).port}/later`, { agent: false }, (res) => {
        res.setEncoding('utf8').on('data', (chunk: string) => {
          backgroundAnswer = chunk;
        });
        res.on('end', resolve);
      });
    });
    await backgroundArrived;
    const heldWhileSlow = [...seen];
    finishSlow();

    // Assess: held while the direct call was answered, then answered
    expect(heldWhileSlow).toEqual(['/slow']);
    expect((await slow).response.statusCode).toBe(200);
    await answered;
    expect(backgroundAnswer).toBe('answered /later');
    handler.destroy();
  });
});
