import { once } from 'node:events';
import { createServer, get, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MessageChannel } from 'node:worker_threads';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortHttpHandler, serveOnPort } from '#infra/local/dynalite-port';
import { addBackgroundEntrance } from '#infra/local/dynalite-precedence';
import { ensureTables, localDynamoClient, startDynalite } from '#infra/local/dynamodb';
import { REQUESTS_TABLE } from '#shared/adapters/dynamodb/tables';
import { createDocumentClient } from '#shared/composition';

/** The API thread's DynamoDB calls over a MessagePort (infra/local/dynalite-port.ts): the same calls as over HTTP. */

describe('DynamoDB calls over a port to the local DynamoDB', () => {
  const tables = { requests: 'port-requests', auditEvents: 'port-events' };
  let server: Awaited<ReturnType<typeof startDynalite>>;
  let channel: MessageChannel;
  let overPort: ReturnType<typeof localDynamoClient>;
  let db: ReturnType<typeof createDocumentClient>;

  beforeAll(async () => {
    server = await startDynalite();
    channel = new MessageChannel();
    server.serveOn(channel.port2);
    overPort = localDynamoClient(server.endpoint, { port: channel.port1 });
    db = createDocumentClient({ dynamoDbEndpoint: undefined }, overPort);
    await ensureTables(overPort, tables);
  });

  afterAll(async () => {
    overPort.destroy();
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
    await db.send(submitted('port-1'));

    const overHttp = createDocumentClient({ dynamoDbEndpoint: undefined }, localDynamoClient(server.endpoint));
    const key = { TableName: tables.requests, Key: { id: 'port-1' }, ConsistentRead: true };
    expect((await db.send(new GetCommand(key))).Item).toEqual((await overHttp.send(new GetCommand(key))).Item);
    expect((await db.send(new GetCommand(key))).Item).toMatchObject({ status: 'received' });
    const found = await db.send(
      new QueryCommand({
        TableName: tables.requests,
        IndexName: REQUESTS_TABLE.indexes.byEmailPseudonym.name,
        KeyConditionExpression: 'emailPseudonym = :p',
        ExpressionAttributeValues: { ':p': 'p-port-1' },
      }),
    );
    expect(found.Items?.map((item) => item.id)).toEqual(['port-1']);
  });

  it('refuses as over HTTP: a failed condition is the same exception, with its reasons', async () => {
    await db.send(submitted('port-2'));

    const failure = await db.send(submitted('port-2')).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(TransactionCanceledException);
    expect((failure as TransactionCanceledException).CancellationReasons?.map((reason) => reason.Code)).toEqual([
      'ConditionalCheckFailed',
      'ConditionalCheckFailed',
    ]);
    const single = await db
      .send(
        new PutCommand({
          TableName: tables.requests,
          Item: { id: 'port-2' },
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      )
      .catch((error: unknown) => error);
    expect((single as Error).name).toBe('ConditionalCheckFailedException');
  });

  it('rejects an aborted call with an AbortError, and a waiting call once the other end is closed', async () => {
    const lone = new MessageChannel();
    // Nobody answers on lone.port2 until it is closed.
    const handler = new PortHttpHandler(lone.port1);
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

    const waiting = failureOf(handler.handle(request));
    lone.port2.close();
    expect((await waiting).message).toMatch(/no longer reachable/);
    expect((await failureOf(handler.handle(request))).message).toMatch(/no longer reachable/);
  });
});

describe('a call over the port, at the background entrance', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('counts as a foreground call: background calls wait until it is answered', async () => {
    // Prepare: a stand-in for dynalite whose answer to /slow waits, with a background entrance and a port
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
    const channel = new MessageChannel();
    serveOnPort(front, channel.port2);
    const handler = new PortHttpHandler(channel.port1);

    // Act: a slow call over the port, then a background call
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

    // Assess: held while the port's call was answered, then answered
    expect(heldWhileSlow).toEqual(['/slow']);
    expect((await slow).response.statusCode).toBe(200);
    await answered;
    expect(backgroundAnswer).toBe('answered /later');
    handler.destroy();
  });
});
