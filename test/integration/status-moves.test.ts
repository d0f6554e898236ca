import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { createDocumentClient } from '#shared/composition';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { verifyTrail } from '#shared/domain/chain';
import { extendErasureRequest } from '#shared/domain/deadline-extension';
import { cancelErasureRequest, type RequestDeps, submitErasureRequest } from '#shared/domain/erasure-requests';
import { beginErasure, loadRequest } from '#shared/domain/workflow-tasks';
import type { AuditLog } from '#shared/ports/audit';
import type { FirstPromoterPort } from '#shared/ports/providers';
import { startTestDynamo, type TestDynamo } from '#test/support/test-dynamo';

/**
 * A status move and the event that records it land in one write (`transitionWithEvents`), and `beginErasure` writes
 * on the chain head `loadRequest` left in the workflow's state, without reading the request: a head moved meanwhile
 * (an extension, a cancel) costs a retry or a refusal, never a wrong or doubled event.
 */

const tables = { requests: 'moves-requests', auditEvents: 'moves-events', identities: 'moves-identities' };
let dynamo: TestDynamo;
const clock = { now: () => new Date('2026-08-03T10:00:00Z') };
let deps: RequestDeps & {
  firstPromoter: FirstPromoterPort;
  waitingPeriodSeconds: number;
};
let stores: { requests: DynamoRequestRepository; audit: DynamoAuditLog };

beforeAll(async () => {
  dynamo = await startTestDynamo();
  await dynamo.ensureTables(tables);
  const db = createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client);
  stores = {
    requests: new DynamoRequestRepository(db, tables, { readIdentity: true }),
    audit: new DynamoAuditLog(db, tables, { clock, retentionDays: 1096 }),
  };
  deps = {
    ...stores,
    workflow: { start: async () => undefined, stop: async () => undefined, ensureRunning: async () => 'running' },
    clock,
    cipher: new IdentityCipher(Buffer.alloc(32, 3)),
    pseudonymKey: Buffer.alloc(32, 4),
    retentionDays: 1096,
    firstPromoter: {} as FirstPromoterPort,
    waitingPeriodSeconds: 0,
  };
});
afterAll(() => dynamo.stop());

let n = 0;
async function loaded() {
  n += 1;
  const body = { email: `moves.${n}@example.com` };
  const { request } = await submitErasureRequest(deps, {
    webhookId: `msg_moves_${n}`,
    document: body,
    body,
    signedWith: 't',
  });
  return { requestId: request.id, load: await loadRequest(deps, { requestId: request.id }) };
}

async function trail(requestId: string) {
  const [events, lanes] = await Promise.all([stores.audit.list(requestId), stores.audit.lanes(requestId)]);
  expect(verifyTrail(events, lanes)).toMatchObject({ valid: true });
  return events;
}

describe('status moves with their events', () => {
  it("enters the waiting period with waiting.started in the move's own write, and leaves its head in the state", async () => {
    const { requestId, load } = await loaded();

    const events = await trail(requestId);
    expect(load).toMatchObject({ proceed: true, status: 'waiting' });
    expect(events.map((e) => e.type)).toEqual(['request.received', 'waiting.started']);
    expect(load.lastEvent).toEqual({ seq: 2, hash: events[1]?.hash });
  });

  it('enters the waiting period on the head intake hands the workflow, and on a read when that head moved', async () => {
    const starts: unknown[] = [];
    const capturing = {
      ...deps,
      workflow: { ...deps.workflow, start: async (_id: string, s?: unknown) => void starts.push(s) },
    };
    const submit = async (tag: string) => {
      const body = { email: `moves.${tag}@example.com` };
      const { request } = await submitErasureRequest(capturing, {
        webhookId: `msg_${tag}`,
        document: body,
        body,
        signedWith: 't',
      });
      return request.id;
    };
    const fresh = await submit('carried');
    const [handed] = starts as Array<{ receivedAt: string; lastEvent: { seq: number; hash: string } }>;
    const extended = await submit('extended');
    const stale = starts[1] as typeof handed;
    await extendErasureRequest(deps, extended, { months: 1, reasonCode: 'complexity' }, 'operator:t');

    const carried = await loadRequest(deps, { requestId: fresh, ...handed });
    const reread = await loadRequest(deps, { requestId: extended, ...stale });

    expect(handed).toMatchObject({ receivedAt: expect.any(String), lastEvent: { seq: 1, hash: expect.any(String) } });
    expect(carried).toMatchObject({ proceed: true, status: 'waiting', lastEvent: { seq: 2 } });
    expect((await trail(fresh)).map((e) => e.type)).toEqual(['request.received', 'waiting.started']);
    expect(reread).toMatchObject({ proceed: true, status: 'waiting', lastEvent: { seq: 3 } });
    expect((await trail(extended)).map((e) => e.type)).toEqual([
      'request.received',
      'request.extended',
      'waiting.started',
    ]);
  });

  it('begins the erasure on the carried head: the move and erasure.started together, once', async () => {
    const { requestId, load } = await loaded();

    const begun = await beginErasure(deps, { requestId, load });
    const again = await beginErasure(deps, { requestId, load });

    expect(begun).toEqual({ requestId, proceed: true, status: 'processing' });
    expect(again).toEqual({ requestId, proceed: true, status: 'processing' });
    expect((await stores.requests.get(requestId))?.status).toBe('processing');
    const events = await trail(requestId);
    expect(events.map((e) => e.type)).toEqual(['request.received', 'waiting.started', 'erasure.started']);
    // The head still knows every key in the chain, those from before the carried head too: found, not appended again.
    const received = { type: 'request.received', actor: 't', key: 'request.received', data: {} };
    expect(await stores.audit.append(requestId, received)).toEqual({ seq: 1, hash: events[0]?.hash });
    expect(await trail(requestId)).toHaveLength(3);
  });

  it('begins the erasure after the event an extension appended since the head was carried over', async () => {
    const { requestId, load } = await loaded();
    await extendErasureRequest(deps, requestId, { months: 1, reasonCode: 'complexity' }, 'operator:t');

    const begun = await beginErasure(deps, { requestId, load });

    expect(begun).toMatchObject({ proceed: true, status: 'processing' });
    expect((await trail(requestId)).map((e) => e.type)).toEqual([
      'request.received',
      'waiting.started',
      'request.extended',
      'erasure.started',
    ]);
  });

  it('does not begin a request canceled since the head was carried over, and writes nothing for it', async () => {
    const { requestId, load } = await loaded();
    await cancelErasureRequest(deps, requestId, 'operator:t');
    const before = await trail(requestId);

    const begun = await beginErasure(deps, { requestId, load });

    expect(begun).toMatchObject({ proceed: false, status: 'canceled' });
    expect(await trail(requestId)).toEqual(before);
    expect(before.map((e) => e.type)).not.toContain('erasure.started');
  });

  it('records a cancel and the identity it destroyed in the move itself: a cancel cut off right after has both', async () => {
    const { requestId } = await loaded();
    // The service dies right after the cancel's first write: every later write of it fails.
    const audit: AuditLog = {
      append: async () => Promise.reject(new Error('cut off')),
      seal: (id) => stores.audit.seal(id),
      find: (id, key) => stores.audit.find(id, key),
      list: (id) => stores.audit.list(id),
      lanes: (id) => stores.audit.lanes(id),
    };
    const cutOff = { ...deps, audit };

    await expect(cancelErasureRequest(cutOff, requestId, 'operator:t')).rejects.toThrow('cut off');

    const request = await stores.requests.get(requestId);
    expect(request?.status).toBe('canceling');
    expect(request?.identity).toBeUndefined();
    expect((await trail(requestId)).map((e) => e.type)).toEqual([
      'request.received',
      'waiting.started',
      'cancel.requested',
      'identity.destroyed',
    ]);
  });

  it('writes neither the move nor its events when the request is not in a status it moves from', async () => {
    const { requestId } = await loaded();

    const links = await stores.requests.transitionWithEvents(requestId, ['processing'], 'closing', {
      events: [{ type: 'test.moved', actor: 't', key: 'test.moved', data: {} }],
    });

    expect(links).toBeUndefined();
    expect((await stores.requests.get(requestId))?.status).toBe('waiting');
    expect((await trail(requestId)).map((e) => e.type)).not.toContain('test.moved');
  });
});
