import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { PutCommand } from '#shared/adapters/dynamodb/document-client';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { createDocumentClient } from '#shared/composition';
import { verifyChain } from '#shared/domain/chain';
import type { ErasureRequest } from '#shared/domain/model';
import { sweepRequests } from '#shared/domain/sweep';
import { AuditTrailSealedError } from '#shared/errors';
import type { FirstPromoterPort } from '#shared/ports/providers';
import { runWithinBudget } from '#shared/workflow/invocation-budget';
import { startTestDynamo, type TestDynamo } from '#test/support/test-dynamo';

/** The audit store against dynalite: conditional writes, the event chain under contention, the pseudonym indexes. */

const tables = { requests: 'requests-test', auditEvents: 'events-test', identities: 'identities-test' };
let dynamo: TestDynamo;
let requests: DynamoRequestRepository;
let audit: DynamoAuditLog;
let now = new Date('2026-03-01T10:00:00Z');
const clock = { now: () => now };

beforeAll(async () => {
  dynamo = await startTestDynamo();
  await dynamo.ensureTables(tables);
  const db = createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client);
  requests = new DynamoRequestRepository(db, tables);
  audit = new DynamoAuditLog(db, tables.auditEvents, { clock, retentionDays: 1096 });
});

afterAll(async () => {
  await dynamo.stop();
});

let counter = 0;
function request(overrides: Partial<ErasureRequest> = {}): ErasureRequest {
  counter++;
  return {
    id: `er_test_${counter}`,
    status: 'received',
    receivedAt: '2026-03-01T10:00:00.000Z',
    dueAt: '2026-04-01T10:00:00.000Z',
    webhookIdHash: `hash_${counter}`,
    payloadHash: 'hash',
    signedWith: 'abc',
    subject: { pseudonym: `p${counter}`, emailPseudonym: `p${counter}`, identifiers: ['email'] },
    identity: 'v1.ciphertext',
    actions: {},
    expiresAt: 1_900_000_000,
    ...overrides,
  };
}

describe('requests table', () => {
  it('creates a request once; a second create returns the stored one untouched', async () => {
    const first = request();
    await requests.create(first);

    const second = await requests.create({ ...first, payloadHash: 'other' });

    expect(second.created).toBe(false);
    expect(second.request.payloadHash).toBe('hash');
  });

  it('moves status only from the allowed statuses', async () => {
    const r = request();
    await requests.create(r);

    expect(await requests.transition(r.id, ['waiting'], 'processing')).toBeUndefined();
    expect((await requests.transition(r.id, ['received'], 'waiting'))?.status).toBe('waiting');
    const done = await requests.transition(r.id, ['waiting'], 'canceled', {
      canceledAt: '2026-03-02T00:00:00.000Z',
      destroyIdentity: true,
    });
    expect(done).toMatchObject({ status: 'canceled', canceledAt: '2026-03-02T00:00:00.000Z' });
    expect(done).not.toHaveProperty('completedAt');
    expect(done?.identity).toBeUndefined();
    expect(await requests.transition('er_missing', ['received'], 'waiting')).toBeUndefined();
  });

  it('reads a cancel stored before canceledAt existed (its time in completedAt) as canceledAt', async () => {
    const r = request();
    await requests.create(r);
    // What earlier versions wrote on cancel.
    await requests.transition(r.id, ['received'], 'canceled', { completedAt: '2026-03-02T00:00:00.000Z' });

    const read = await requests.get(r.id);

    expect(read).toMatchObject({ status: 'canceled', canceledAt: '2026-03-02T00:00:00.000Z' });
    expect(read).not.toHaveProperty('completedAt');
  });

  it('keeps the first planned promoter set on a retried archive step', async () => {
    const r = request();
    await requests.create(r);

    const open = { whileIn: ['received'] as const };
    const first = await requests.planAction(r.id, 'firstpromoter.promoters', [1, 2], '2026-03-01T10:00:00.000Z', open);
    const retry = await requests.planAction(r.id, 'firstpromoter.promoters', [3], '2026-03-01T10:05:00.000Z', open);

    expect(first).toEqual({ ids: [1, 2], at: '2026-03-01T10:00:00.000Z', created: true });
    expect(retry).toEqual({ ids: [1, 2], at: '2026-03-01T10:00:00.000Z', created: false });
    expect((await requests.get(r.id))?.plans).toEqual({
      'firstpromoter.promoters': { ids: [1, 2], at: '2026-03-01T10:00:00.000Z' },
    });
  });

  it('records archived promoters only while the request is still open', async () => {
    const r = request();
    await requests.create(r);

    const archived = (count: number) => ({
      provider: 'firstpromoter' as const,
      action: 'archive_promoters',
      outcome: 'archived' as const,
      count,
      updatedAt: '2026-03-01T10:00:00.000Z',
    });

    expect(await requests.recordArchivedPromoters(r.id, [7], archived(1), ['received', 'waiting'])).toBe(true);
    await requests.transition(r.id, ['received'], 'canceled');
    expect(await requests.recordArchivedPromoters(r.id, [8, 9], archived(2), ['received', 'waiting'])).toBe(false);
    const stored = await requests.get(r.id);
    expect(stored?.archivedPromoterIds).toEqual([7]);
    expect(stored?.actions['firstpromoter.promoters']?.count).toBe(1);
  });

  it('refuses guarded writes: a plan after a cancel, a failure over a restore', async () => {
    const r = request();
    await requests.create(r);
    await requests.transition(r.id, ['received'], 'canceling');
    const at = '2026-03-01T10:00:00.000Z';
    const restored = {
      provider: 'firstpromoter' as const,
      action: 'x',
      outcome: 'restored' as const,
      count: 1,
      updatedAt: at,
    };

    expect(
      await requests.planAction(r.id, 'firstpromoter.promoters', [1], at, { whileIn: ['received'] }),
    ).toBeUndefined();
    const canceling = { whileIn: ['canceling'] as const };
    expect(await requests.recordAction(r.id, 'firstpromoter.promoters', restored, canceling)).toBe(true);
    const failed = { ...restored, outcome: 'failed' as const };
    expect(
      await requests.recordAction(r.id, 'firstpromoter.promoters', failed, { ...canceling, unlessOutcome: 'restored' }),
    ).toBe(false);
    await requests.transition(r.id, ['canceling'], 'canceled');
    expect(await requests.recordAction(r.id, 'firstpromoter.promoters', failed, canceling)).toBe(false);
    expect((await requests.get(r.id))?.actions['firstpromoter.promoters']?.outcome).toBe('restored');
    expect((await requests.get(r.id))?.plans).toBeUndefined();
  });

  it('finds requests by email pseudonym and by external-id pseudonym through the indexes', async () => {
    const a = request({ subject: { pseudonym: 'pe', emailPseudonym: 'pe', identifiers: ['email'] } });
    const b = request({
      subject: {
        pseudonym: 'pe',
        emailPseudonym: 'pe',
        externalIdPseudonym: 'px',
        identifiers: ['email', 'externalId'],
      },
    });
    await requests.create(a);
    await requests.create(b);

    expect((await requests.findBySubject('email', 'pe')).map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect((await requests.findBySubject('externalId', 'px')).map((r) => r.id)).toEqual([b.id]);
    expect(await requests.findBySubject('externalId', 'nobody')).toEqual([]);
  });

  it('sweeps: reports overdue requests, and makes sure every older unfinished one has a running workflow', async () => {
    const late = request({ id: 'er_late', status: 'processing', dueAt: '2026-03-05T00:00:00.000Z' });
    const stalled = request({ id: 'er_stalled', status: 'received', receivedAt: '2026-04-14T23:50:00.000Z' });
    const fresh = request({ id: 'er_fresh', status: 'received', receivedAt: '2026-04-14T23:58:00.000Z' });
    const broken = request({ id: 'er_broken', status: 'processing', receivedAt: '2026-04-10T00:00:00.000Z' });
    for (const r of [late, stalled, fresh, broken]) await requests.create(r);
    now = new Date('2026-04-15T00:00:00Z');
    const asked: string[] = [];
    const workflow = {
      start: async () => undefined,
      stop: async () => undefined,
      ensureRunning: async (id: string) => {
        asked.push(id);
        return id === 'er_late'
          ? ('running' as const)
          : id === 'er_broken'
            ? ('gave-up' as const)
            : ('started' as const);
      },
    };
    const firstPromoter = {} as FirstPromoterPort;

    const report = await sweepRequests(
      { requests, audit, clock, workflow, firstPromoter },
      { stalledAfterSeconds: 300 },
    );

    expect(asked).toEqual(expect.arrayContaining(['er_late', 'er_stalled', 'er_broken']));
    expect(asked).not.toContain('er_fresh');
    expect(report.restartedIds).toContain('er_stalled');
    expect(report.restartedIds).not.toContain('er_late');
    expect(report.stuckIds).toEqual(['er_broken']);
    expect(report.overdueIds).toContain('er_late');
    expect(report.overdue).toBe(report.overdueIds.length);
    expect(report.unfinished).toBeGreaterThanOrEqual(report.overdue);
    expect((await requests.listUnfinished()).every((r) => !['completed', 'canceled'].includes(r.status))).toBe(true);
  });
});

describe('audit events table', () => {
  it('keeps an unbroken hash chain when many writers append at once', async () => {
    const id = 'er_chain';

    await Promise.all(
      Array.from({ length: 12 }, (_, i) => audit.append(id, { type: 'test.event', actor: 'test', data: { i } })),
    );

    const events = await audit.list(id);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(new Set(events.map((e) => (e.data as { i: number }).i)).size).toBe(12);
    expect(verifyChain(events)).toEqual({ valid: true, events: 12 });
  });

  it('appends an event with an idempotency key once, however often a retried step appends it', async () => {
    const id = 'er_idempotent';

    const results = await Promise.all(
      Array.from({ length: 5 }, () => audit.append(id, { type: 'x.done', actor: 'workflow', key: 'x', data: {} })),
    );

    expect(new Set(results.map((e) => e.seq))).toEqual(new Set([1]));
    expect(await audit.list(id)).toHaveLength(1);
  });

  it('detects an event altered in storage', async () => {
    const id = 'er_tamper';
    await audit.append(id, { type: 'a', actor: 't', data: { n: 1 } });
    await audit.append(id, { type: 'b', actor: 't', data: { n: 2 } });
    const events = await audit.list(id);

    const tampered = events.map((e) => (e.seq === 1 ? { ...e, data: { n: 99 } } : e));

    expect(verifyChain(tampered)).toEqual({ valid: false, events: 2, brokenAt: 1 });
  });

  describe('chain head on the request item', () => {
    /** A headed audit log and repository whose DynamoDB commands are counted by name. */
    function counted() {
      const sent: string[] = [];
      const client = new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: 'local',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      client.middlewareStack.add(
        (next, context) => (args) => {
          sent.push(String(context.commandName).replace(/Command$/, ''));
          return next(args);
        },
        { step: 'initialize' },
      );
      const db = createDocumentClient({ dynamoDbEndpoint: undefined }, client);
      const options = { clock, retentionDays: 1096 };
      return {
        log: new DynamoAuditLog(db, headed, options),
        repo: new DynamoRequestRepository(db, headed, { audit: options }),
        sent,
      };
    }
    const headed = { ...tables };
    const received = { type: 'request.received', actor: 't', key: 'request.received', data: {} };

    it('stores a request, its identity and its first event in one write', async () => {
      const { repo, log, sent } = counted();
      const r = request();

      const result = await repo.create(r, { events: [received] });

      expect(result.created).toBe(true);
      expect(sent).toEqual(['TransactWriteItems']);
      expect(verifyChain(await log.list(r.id))).toEqual({ valid: true, events: 1 });
      expect(await requests.get(r.id)).not.toHaveProperty('chainSeq');
    });

    it('appends with one write per event within a task invocation, once the request item was read', async () => {
      const { repo, log, sent } = counted();
      const r = request();
      await repo.create(r, { events: [received] });
      sent.length = 0;

      await runWithinBudget(60_000, async () => {
        await log.append(r.id, { type: 'a', actor: 't', key: 'a', data: {} });
        await log.append(r.id, { type: 'b', actor: 't', key: 'b', data: {} });
        await log.append(r.id, { type: 'a', actor: 't', key: 'a', data: {} });
        await log.append(r.id, { type: 'c', actor: 't', data: {} });
      });

      expect(sent).toEqual(['GetItem', 'TransactWriteItems', 'TransactWriteItems', 'TransactWriteItems']);
      expect(verifyChain(await log.list(r.id))).toEqual({ valid: true, events: 4 });
    });

    it('re-reads a head another writer moved since, and links after its events', async () => {
      const { repo, log } = counted();
      const other = counted().log;
      const r = request();
      await repo.create(r, { events: [received] });

      await runWithinBudget(60_000, async () => {
        await log.append(r.id, { type: 'a', actor: 't', data: {} });
        // Another function (another branch) appends meanwhile: this invocation's view is now one event short.
        await other.append(r.id, { type: 'b', actor: 'other', data: {} });
        await log.append(r.id, { type: 'c', actor: 't', data: {} });
      });

      const events = await log.list(r.id);
      expect(events.map((e) => e.type)).toEqual(['request.received', 'a', 'b', 'c']);
      expect(verifyChain(events)).toEqual({ valid: true, events: 4 });
    });

    it('appends a keyed event once when racing writers append it at once', async () => {
      const { repo } = counted();
      const r = request();
      await repo.create(r, { events: [received] });

      const links = await Promise.all(
        Array.from({ length: 5 }, () => counted().log.append(r.id, { type: 'x', actor: 't', key: 'x', data: {} })),
      );

      expect(new Set(links.map((l) => l.seq))).toEqual(new Set([2]));
      expect(verifyChain(await audit.list(r.id))).toEqual({ valid: true, events: 2 });
    });

    it('refuses an append after a seal another writer added since the head was read', async () => {
      const { repo, log } = counted();
      const other = counted().log;
      const r = request();
      await repo.create(r, { events: [received] });

      const error = await runWithinBudget(60_000, async () => {
        await log.append(r.id, { type: 'a', actor: 't', data: {} });
        await other.append(r.id, { type: 'request.completed', actor: 'other', key: 'request.completed', data: {} });
        return log.append(r.id, { type: 'late', actor: 't', data: {} }).catch((e: unknown) => e);
      });

      expect(error).toBeInstanceOf(AuditTrailSealedError);
      expect((await log.list(r.id)).map((e) => e.type)).toEqual(['request.received', 'a', 'request.completed']);
    });

    it('records an outcome and its event in one write, and neither when the guard refuses', async () => {
      const { repo, log, sent } = counted();
      const r = request({ status: 'processing' });
      await repo.create(r, { events: [received] });
      const outcome = {
        provider: 'referralrock' as const,
        action: 'delete_members',
        outcome: 'deleted' as const,
        count: 1,
        updatedAt: '2026-03-01T10:00:00.000Z',
      };
      const event = { type: 'action.recorded', actor: 't', key: 'action:members:deleted', data: {} };
      sent.length = 0;

      const recorded = await runWithinBudget(60_000, async () => {
        await repo.get(r.id);
        return repo.recordAction(
          r.id,
          'referralrock.members',
          outcome,
          { whileIn: ['processing'] },
          { events: [event] },
        );
      });
      await requests.transition(r.id, ['processing'], 'closing');
      const late = await repo.recordAction(
        r.id,
        'referralrock.members',
        { ...outcome, outcome: 'failed' },
        { whileIn: ['processing'] },
        { events: [{ ...event, key: 'action:members:failed' }] },
      );

      expect(recorded).toBe(true);
      expect(late).toBe(false);
      expect(sent.slice(0, 2)).toEqual(['GetItem', 'TransactWriteItems']);
      expect((await log.list(r.id)).map((e) => e.key)).toEqual(['request.received', 'action:members:deleted']);
      expect((await requests.get(r.id))?.actions['referralrock.members']?.outcome).toBe('deleted');
    });

    it('continues a trail written before heads were kept, from its events', async () => {
      const { log } = counted();
      const r = request();
      // As an earlier version stored them: the request item without a head, its events apart.
      const { identity: _identity, ...item } = r;
      await createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client).send(
        new PutCommand({ TableName: tables.requests, Item: item }),
      );
      await audit.append(r.id, received);

      await log.append(r.id, { type: 'a', actor: 't', data: {} });
      await log.append(r.id, { type: 'b', actor: 't', data: {} });

      expect(verifyChain(await log.list(r.id))).toEqual({ valid: true, events: 3 });
    });

    it('refuses events after a seal in the same write, in a lane or in the chain, and writes none of it', async () => {
      const { repo, log } = counted();
      const sealed = { type: 'request.completed', actor: 't', key: 'request.completed', data: {} };
      const late = [
        { type: 'action.recorded', actor: 't', key: 'late', data: {}, lane: 'referralrock.members' as const },
        { type: 'late', actor: 't', key: 'late', data: {} },
      ];
      for (const event of late) {
        const r = request();
        await repo.create(r, { events: [received] });

        const error = await repo.destroyIdentity(r.id, { events: [sealed, event] }).catch((e: unknown) => e);

        expect(error).toBeInstanceOf(AuditTrailSealedError);
        expect((await log.list(r.id)).map((e) => e.type)).toEqual(['request.received']);
        expect(await log.lanes(r.id)).toEqual({});
      }
    });

    it('links after events found ahead of the head (a write cut off between its items)', async () => {
      const { repo, log } = counted();
      const r = request();
      await repo.create(r, { events: [received] });
      // An event whose head update never landed: the events table is one ahead of the request item.
      await audit.append(r.id, { type: 'orphan', actor: 't', data: {} });

      await log.append(r.id, { type: 'a', actor: 't', data: {} });
      await log.append(r.id, { type: 'b', actor: 't', data: {} });

      const events = await log.list(r.id);
      expect(events.map((e) => e.type)).toEqual(['request.received', 'orphan', 'a', 'b']);
      expect(verifyChain(events)).toEqual({ valid: true, events: 4 });
    });
  });
});
