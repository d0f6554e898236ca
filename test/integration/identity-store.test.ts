import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { GetCommand, PutCommand } from '#shared/adapters/dynamodb/document-client';
import { DynamoIdentityTable } from '#shared/adapters/dynamodb/identity-table';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { createDocumentClient } from '#shared/composition';
import type { ErasureRequest } from '#shared/domain/model';
import { sweepRequests } from '#shared/domain/sweep';
import { ConflictError } from '#shared/errors';
import type { FirstPromoterPort } from '#shared/ports/providers';
import { startTestDynamo, type TestDynamo } from '#test/support/test-dynamo';

/**
 * The encrypted identity in the identities table, against dynalite: never in the (backed-up) requests table, written
 * before its request, never written again once destroyed, and no stray left behind.
 */

const tables = { requests: 'vault-requests', auditEvents: 'vault-events', identities: 'vault-identities' };
let dynamo: TestDynamo;
let db: ReturnType<typeof createDocumentClient>;
let requests: DynamoRequestRepository;
let tasks: DynamoRequestRepository;
let identities: DynamoIdentityTable;

beforeAll(async () => {
  dynamo = await startTestDynamo();
  await dynamo.ensureTables(tables);
  db = createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client);
  requests = new DynamoRequestRepository(db, tables);
  tasks = new DynamoRequestRepository(db, tables, { readIdentity: true });
  identities = new DynamoIdentityTable(db, tables.identities);
});

afterAll(async () => {
  await dynamo.stop();
});

let counter = 0;
function request(overrides: Partial<ErasureRequest> = {}): ErasureRequest {
  counter++;
  return {
    id: `er_vault_${counter}`,
    status: 'received',
    receivedAt: '2026-03-01T10:00:00.000Z',
    dueAt: '2026-04-01T10:00:00.000Z',
    webhookIdHash: `hash_vault_${counter}`,
    payloadHash: 'hash',
    signedWith: 'abc',
    subject: { pseudonym: `p${counter}`, emailPseudonym: `p${counter}`, identifiers: ['email'] },
    identity: `v1.ciphertext-${counter}`,
    actions: {},
    expiresAt: 1_900_000_000,
    ...overrides,
  };
}

const rawItem = async (table: string, id: string) =>
  (await db.send(new GetCommand({ TableName: table, Key: { id }, ConsistentRead: true }))).Item;

describe('identities table', () => {
  it('keeps the identity out of the requests item and in the identities table, expiring two months after the due date', async () => {
    const r = request();

    await requests.create(r);

    const requestItem = await rawItem(tables.requests, r.id);
    expect(requestItem).toBeDefined();
    expect(requestItem).not.toHaveProperty('identity');
    expect(JSON.stringify(requestItem)).not.toContain(r.identity);
    expect(await rawItem(tables.identities, r.id)).toEqual({
      id: r.id,
      identity: r.identity,
      payloadHash: 'hash',
      createdAt: r.receivedAt,
      // 2026-04-01T10:00Z + 62 days
      expiresAt: Date.parse('2026-06-02T10:00:00.000Z') / 1000,
    });
  });

  it('returns the identity only from a repository built to read it', async () => {
    const r = request();
    await requests.create(r);

    expect((await requests.get(r.id))?.identity).toBeUndefined();
    expect((await tasks.get(r.id))?.identity).toBe(r.identity);
  });

  it('destroys the identity with a transition that holds, and keeps it when the transition is refused', async () => {
    const r = request();
    await requests.create(r);

    const refused = await requests.transition(r.id, ['processing'], 'canceled', { destroyIdentity: true });
    const keptAfterRefusal = await rawItem(tables.identities, r.id);
    const canceled = await requests.transition(r.id, ['received'], 'canceled', { destroyIdentity: true });

    expect(refused).toBeUndefined();
    expect(keptAfterRefusal?.identity).toBe(r.identity);
    expect(canceled?.status).toBe('canceled');
    expect(await rawItem(tables.identities, r.id)).toBeUndefined();
    expect((await tasks.get(r.id))?.identity).toBeUndefined();
  });

  it('writes no identity for a redelivery, not even of a request that ended and destroyed its own', async () => {
    const r = request();
    await requests.create(r);
    await requests.destroyIdentity(r.id);
    await requests.transition(r.id, ['received'], 'completed');

    const again = await requests.create({ ...r, identity: 'v1.redelivered' });

    expect(again.created).toBe(false);
    expect(await rawItem(tables.identities, r.id)).toBeUndefined();
  });

  it('completes a request whose intake stored the identity and crashed, with one identity', async () => {
    const r = request();
    await identities.put({
      id: r.id,
      identity: 'v1.first-try',
      payloadHash: r.payloadHash,
      createdAt: r.receivedAt,
      expiresAt: 1,
    });

    const redelivered = await requests.create(r);

    expect(redelivered.created).toBe(true);
    expect((await tasks.get(r.id))?.identity).toBe(r.identity);
  });

  it('refuses a different payload under an id whose identity another payload stored', async () => {
    const r = request();
    await identities.put({
      id: r.id,
      identity: 'v1.other',
      payloadHash: 'other-hash',
      createdAt: r.receivedAt,
      expiresAt: 1,
    });

    await expect(requests.create(r)).rejects.toBeInstanceOf(ConflictError);
    expect(await rawItem(tables.requests, r.id)).toBeUndefined();
    expect((await rawItem(tables.identities, r.id))?.identity).toBe('v1.other');
  });

  it('sweeps identities of ended requests and old ones without a request; keeps those of open requests and of intakes in progress', async () => {
    const open = request();
    const ended = request();
    await requests.create(open);
    await requests.create(ended);
    await requests.transition(ended.id, ['received'], 'failed');
    const orphan = request({ receivedAt: '2026-03-01T09:00:00.000Z' });
    const young = request({ receivedAt: '2026-03-01T09:59:00.000Z' });
    for (const item of [orphan, young]) {
      await identities.put({
        id: item.id,
        identity: 'v1.x',
        payloadHash: 'h',
        createdAt: item.receivedAt,
        expiresAt: 1,
      });
    }

    const destroyed = await requests.destroyStrayIdentities('2026-03-01T09:55:00.000Z');

    expect(destroyed).toEqual(expect.arrayContaining([ended.id, orphan.id]));
    expect(destroyed).not.toContain(open.id);
    expect(destroyed).not.toContain(young.id);
    expect(await rawItem(tables.identities, ended.id)).toBeUndefined();
    expect(await rawItem(tables.identities, orphan.id)).toBeUndefined();
    expect(await rawItem(tables.identities, open.id)).toBeDefined();
    expect(await rawItem(tables.identities, young.id)).toBeDefined();
  });

  it('reads and destroys an identity a request stored itself before the identities table existed', async () => {
    const { identity, ...rest } = request();
    await db.send(new PutCommand({ TableName: tables.requests, Item: { ...rest, identity: 'v1.legacy' } }));

    const before = await tasks.get(rest.id);
    const withoutReader = await requests.get(rest.id);
    await requests.destroyIdentity(rest.id);

    expect(identity).toBeDefined();
    expect(before?.identity).toBe('v1.legacy');
    expect(withoutReader?.identity).toBeUndefined();
    expect(await rawItem(tables.requests, rest.id)).not.toHaveProperty('identity');
    expect((await tasks.get(rest.id))?.identity).toBeUndefined();
  });

  it('has the sweeper finish a cancel that crashed right after its status write, identity destroyed before it says so', async () => {
    const r = request();
    await requests.create(r);
    // The cancel's status write, then a crash: the identity is still stored.
    await requests.transition(r.id, ['received'], 'canceling', {
      canceledAt: '2026-03-01T10:01:00.000Z',
      set: { canceledBy: 'operator:test' },
    });
    const audit = new DynamoAuditLog(db, tables.auditEvents, { clock: { now: () => new Date() }, retentionDays: 1 });
    const workflow = {
      start: async () => undefined,
      stop: async () => undefined,
      ensureRunning: async () => 'running' as const,
    };
    let identityWhenRecorded: unknown = 'not recorded';
    const watchedAudit = {
      list: (id: string) => audit.list(id),
      find: (id: string, key: string) => audit.find(id, key),
      seal: (id: string) => audit.seal(id),
      lanes: (id: string) => audit.lanes(id),
      append: async (id: string, event: Parameters<typeof audit.append>[1]) => {
        if (event.type === 'identity.destroyed') identityWhenRecorded = await rawItem(tables.identities, id);
        return audit.append(id, event);
      },
    };

    const report = await sweepRequests(
      {
        requests,
        audit: watchedAudit,
        clock: { now: () => new Date('2026-03-01T12:00:00Z') },
        workflow,
        firstPromoter: {} as FirstPromoterPort,
      },
      { stalledAfterSeconds: 300 },
    );

    expect(report.restoredIds).toContain(r.id);
    expect(identityWhenRecorded).toBeUndefined();
    expect(await rawItem(tables.identities, r.id)).toBeUndefined();
    expect((await audit.list(r.id)).map((e) => e.type)).toEqual([
      'cancel.requested',
      'identity.destroyed',
      'request.canceled',
    ]);
  });
});
