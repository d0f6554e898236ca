import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conditionParses } from '#infra/local/dynalite-expressions';
import { ensureTables, localDynamoClient, startDynalite } from '#infra/local/dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '#shared/adapters/dynamodb/document-client';
import { createDocumentClient } from '#shared/composition';

/**
 * The local DynamoDB parses a condition once for the same expression, names and value types, or values where the
 * parse reads them (dynalite-expressions.ts).
 */

describe('condition expressions on the local DynamoDB', () => {
  const table = 'expr-requests';
  let server: Awaited<ReturnType<typeof startDynalite>>;
  let raw: ReturnType<typeof localDynamoClient>;
  let db: ReturnType<typeof createDocumentClient>;

  beforeAll(async () => {
    server = await startDynalite();
    raw = localDynamoClient(server.endpoint);
    db = createDocumentClient({ dynamoDbEndpoint: undefined }, raw);
    await ensureTables(raw, { requests: table });
  });

  afterAll(async () => {
    raw.destroy();
    await server.stop();
  });

  const failureOf = (call: Promise<unknown>) =>
    call.then(
      () => undefined,
      (error: Error) => error,
    );
  const putIfAbsent = (id: string) =>
    db.send(
      new PutCommand({
        TableName: table,
        Item: { id, status: 'received' },
        ConditionExpression: 'attribute_not_exists(id)',
      }),
    );
  const move = (id: string, from: string, to: string, extra: Record<string, unknown> = {}) =>
    db.send(
      new UpdateCommand({
        TableName: table,
        Key: { id },
        UpdateExpression: 'SET #s = :to',
        ConditionExpression: '#s = :from',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':from': from, ':to': to, ...extra },
      }),
    );

  it('parses a condition once for the same input, and judges each item by it', async () => {
    await putIfAbsent('ex-1');
    const before = conditionParses();

    await putIfAbsent('ex-2');
    const refused = await failureOf(putIfAbsent('ex-1'));

    expect(conditionParses().parsed - before.parsed).toBe(0);
    expect(conditionParses().reused - before.reused).toBe(2);
    expect(refused?.name).toBe('ConditionalCheckFailedException');
  });

  it('checks names and values as before on a reused parse: all used passes, one unused is refused', async () => {
    await putIfAbsent('ex-3');
    await move('ex-3', 'received', 'waiting');
    await putIfAbsent('ex-4');

    const again = await failureOf(move('ex-4', 'received', 'waiting'));
    const unused = await failureOf(move('ex-4', 'waiting', 'processing', { ':spare': 'x' }));
    const unusedAgain = await failureOf(move('ex-4', 'waiting', 'processing', { ':spare': 'x' }));
    const stale = await failureOf(move('ex-3', 'received', 'waiting'));

    expect(again).toBeUndefined();
    expect(unused?.message).toMatch(/unused in expressions: keys: \{:spare\}/);
    expect(unusedAgain?.message).toBe(unused?.message);
    expect(stale?.name).toBe('ConditionalCheckFailedException');
    expect(
      (await db.send(new GetCommand({ TableName: table, Key: { id: 'ex-4' }, ConsistentRead: true }))).Item,
    ).toMatchObject({ status: 'waiting' });
  });

  it('parses a condition once for new values of the same types, and judges each item by its own values', async () => {
    const putUnlessOther = (id: string, hash: string) =>
      db.send(
        new PutCommand({
          TableName: table,
          Item: { id, payloadHash: hash },
          ConditionExpression: 'attribute_not_exists(id) OR payloadHash = :payloadHash',
          ExpressionAttributeValues: { ':payloadHash': hash },
        }),
      );
    await putUnlessOther('ex-6', 'hash-6');
    const before = conditionParses();

    await putUnlessOther('ex-7', 'hash-7');
    const same = await failureOf(putUnlessOther('ex-6', 'hash-6'));
    const other = await failureOf(putUnlessOther('ex-7', 'hash-6'));
    // The first parse's own value would let this one through: only the request's own value refuses it.
    const otherThanFirst = await failureOf(putUnlessOther('ex-6', 'hash-7'));
    const otherType = await failureOf(
      db.send(
        new PutCommand({
          TableName: table,
          Item: { id: 'ex-7' },
          ConditionExpression: 'attribute_not_exists(id) OR payloadHash = :payloadHash',
          ExpressionAttributeValues: { ':payloadHash': 7 },
        }),
      ),
    );

    expect(conditionParses().parsed - before.parsed).toBe(1);
    expect(conditionParses().reused - before.reused).toBe(4);
    expect(same).toBeUndefined();
    expect(other?.name).toBe('ConditionalCheckFailedException');
    expect(otherThanFirst?.name).toBe('ConditionalCheckFailedException');
    expect(otherType?.name).toBe('ConditionalCheckFailedException');
  });

  it('parses again where the parse reads a value, not only its type: BETWEEN with its bounds reversed is refused', async () => {
    await putIfAbsent('ex-8');
    const between = (low: string, high: string) =>
      failureOf(
        db.send(
          new UpdateCommand({
            TableName: table,
            Key: { id: 'ex-8' },
            UpdateExpression: 'SET #s = :to',
            ConditionExpression: '#s BETWEEN :low AND :high',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':low': low, ':high': high, ':to': 'received' },
          }),
        ),
      );

    const inOrder = await between('a', 'z');
    const reversed = await between('z', 'a');

    expect(inOrder).toBeUndefined();
    expect(reversed?.message).toMatch(/upper bound to be greater than or equal to lower bound/);
  });

  it('refuses an invalid expression every time, and keeps no parse of it', async () => {
    const invalid = () =>
      failureOf(
        db.send(new PutCommand({ TableName: table, Item: { id: 'ex-5' }, ConditionExpression: 'no_such_fn(id)' })),
      );

    const first = await invalid();
    const before = conditionParses();
    const second = await invalid();

    expect(first?.message).toMatch(/Invalid function name/);
    expect(second?.message).toBe(first?.message);
    expect(conditionParses().parsed - before.parsed).toBe(1);
  });
});
