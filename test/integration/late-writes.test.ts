import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { createFirstPromoterClient } from '#shared/adapters/firstpromoter/client';
import { createReferralRockClient } from '#shared/adapters/referralrock/client';
import { createDocumentClient } from '#shared/composition';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { verifyTrail } from '#shared/domain/chain';
import { cancelErasureRequest, submitErasureRequest } from '#shared/domain/erasure-requests';
import { sweepRequests } from '#shared/domain/sweep';
import {
  archivePromoters,
  eraseReferralRockMembers,
  finalizeRequest,
  loadRequest,
  record,
} from '#shared/domain/workflow-tasks';
import { AuditTrailSealedError } from '#shared/errors';
import type { FirstPromoterPort, ReferralRockPort } from '#shared/ports/providers';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { ReferralRockSimulator } from '#test/simulators/referralrock';
import { UNSPACED_RATE_LIMIT } from '#test/support/open-rate-budget';
import { startTestDynamo, type TestDynamo } from '#test/support/test-dynamo';

/**
 * Nothing is recorded after a request's end. A step still running when finalize (or a cancel) ends the request — an
 * invocation the workflow gave up on — races it here: its outcome write is refused by the store, its event by the
 * audit log, and the request's last event stays its sealing event.
 */

const tables = { requests: 'late-requests', auditEvents: 'late-events', identities: 'late-identities' };
let dynamo: TestDynamo;
const rrSim = new ReferralRockSimulator();
const fpSim = new FirstPromoterSimulator();
let rr: ReferralRockPort;
let fp: FirstPromoterPort;
let now = new Date('2026-07-01T10:00:00Z');
const clock = { now: () => now };
let stores: { requests: DynamoRequestRepository; audit: DynamoAuditLog };
const cipher = new IdentityCipher(Buffer.alloc(32, 5));
const workflow = {
  start: async () => undefined,
  stop: async () => undefined,
  ensureRunning: async () => 'running' as const,
};

beforeAll(async () => {
  dynamo = await startTestDynamo();
  await dynamo.ensureTables(tables);
  const db = createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client);
  stores = {
    requests: new DynamoRequestRepository(db, tables, { readIdentity: true }),
    audit: new DynamoAuditLog(db, tables, { clock, retentionDays: 1096 }),
  };
  const retry = { maxAttempts: 1, baseDelayMs: 1 };
  const rateLimit = UNSPACED_RATE_LIMIT;
  rr = createReferralRockClient({
    baseUrl: await rrSim.start(),
    publicKey: 'demo-public',
    privateKey: 'demo-private',
    retry,
    rateLimit,
  });
  fp = createFirstPromoterClient({
    baseUrl: await fpSim.start(),
    apiKey: 'demo-api-key',
    accountId: 'demo-account',
    retry,
    rateLimit,
  });
});

afterAll(async () => {
  await dynamo.stop();
  await rrSim.stop();
  await fpSim.stop();
});

const deps = () => ({
  ...stores,
  workflow,
  clock,
  cipher,
  pseudonymKey: Buffer.alloc(32, 6),
  retentionDays: 1096,
  referralRock: rr,
  firstPromoter: fp,
  waitingPeriodSeconds: 3600,
  batchPoll: { intervalSeconds: 1, maxIntervalSeconds: 1, timeoutSeconds: 60 },
});

let seq = 0;
async function newRequest(email: string) {
  seq += 1;
  const body = { email };
  const { request } = await submitErasureRequest(deps(), {
    webhookId: `msg_late_${seq}`,
    document: body,
    body,
    signedWith: 'test',
  });
  await loadRequest(deps(), { requestId: request.id });
  return request.id;
}

/** A promise and its resolver: the late call is held until the test lets it go. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

async function eventTypes(requestId: string) {
  return (await stores.audit.list(requestId)).map((e) => e.type);
}

/** The whole trail checks out: every lane ends where the seal says, so no lane event came after it. */
async function expectTrailWhole(requestId: string) {
  const [events, lanes] = await Promise.all([stores.audit.list(requestId), stores.audit.lanes(requestId)]);
  expect(verifyTrail(events, lanes)).toMatchObject({ valid: true });
  return { events, lanes };
}

/** The events that end a trail (as the README lists them): nothing may follow the first of them. */
const ENDS = ['request.completed', 'request.canceled'];

function expectNothingAfterTheEnd(types: string[]) {
  const end = types.findIndex((type) => ENDS.includes(type));
  expect(end).toBeGreaterThanOrEqual(0);
  expect(types.slice(end + 1)).toEqual([]);
}

describe('no write after the end', () => {
  it('refuses the outcome of a step that finishes after finalize, and appends nothing after request.completed', async () => {
    const requestId = await newRequest('late.step@example.com');
    rrSim.addMember({ email: 'late.step@example.com' });
    await stores.requests.transition(requestId, ['waiting'], 'processing');
    const held = gate();
    const removing = gate();
    // The step's remove is in flight when the workflow gives up on it and finalizes.
    const late: ReferralRockPort = {
      ...rr,
      findMembers: (s) => rr.findMembers(s),
      findReferrals: (s) => rr.findReferrals(s),
      removeReferrals: (ids) => rr.removeReferrals(ids),
      removeMembers: async (ids) => {
        removing.open();
        await held.opened;
        return rr.removeMembers(ids);
      },
    };
    const step = eraseReferralRockMembers({ ...deps(), referralRock: late }, { requestId });
    await removing.opened;

    const final = await finalizeRequest(deps(), { requestId });
    const atTheEnd = await stores.requests.get(requestId);
    held.open();
    const result = await step;

    expect(final.status).toBe('failed');
    expect(result).toEqual({ outcome: 'skipped', count: 0 });
    const after = await stores.requests.get(requestId);
    expect(after?.status).toBe('failed');
    expect(after?.actions).toEqual(atTheEnd?.actions);
    expect(after?.actions['referralrock.members']).toBeUndefined();
    expectNothingAfterTheEnd(await eventTypes(requestId));
    // Nor in its lane: the store refused the outcome and its event together.
    expect((await expectTrailWhole(requestId)).lanes).toEqual({});
  });

  it('keeps the event of an outcome written just before finalize closed the request, ahead of the end', async () => {
    const requestId = await newRequest('just.before@example.com');
    await stores.requests.transition(requestId, ['waiting'], 'processing');
    const request = await stores.requests.get(requestId);
    // The step's outcome lands; its event has not been appended when finalize runs.
    const entry = {
      provider: 'referralrock' as const,
      action: 'delete_members',
      outcome: 'deleted' as const,
      count: 1,
    };
    await stores.requests.recordAction(
      requestId,
      'referralrock.members',
      { ...entry, updatedAt: now.toISOString() },
      { whileIn: ['processing'] },
    );

    await finalizeRequest(deps(), { requestId });
    // The step now gets to its append (the same keyed event finalize already appended), then tries another event.
    await record(deps(), request as never, 'referralrock.members', entry).catch(() => undefined);

    const types = await eventTypes(requestId);
    expectNothingAfterTheEnd(types);
    const { lanes } = await expectTrailWhole(requestId);
    expect(lanes['referralrock.members']?.filter((e) => e.key === 'action:referralrock.members:deleted')).toHaveLength(
      1,
    );
    await expect(
      stores.audit.append(requestId, {
        type: 'action.recorded',
        actor: 'workflow',
        data: {},
        lane: 'referralrock.members',
      }),
    ).rejects.toBeInstanceOf(AuditTrailSealedError);
    await expect(
      stores.audit.append(requestId, { type: 'action.recorded', actor: 'workflow', data: {} }),
    ).rejects.toBeInstanceOf(AuditTrailSealedError);
    expect(await eventTypes(requestId)).toEqual(types);
  });

  it('lets no event past a seal when appends race the sealing event', async () => {
    const requestId = await newRequest('racing.appends@example.com');
    await stores.requests.transition(requestId, ['waiting'], 'processing');

    const racing = Array.from({ length: 6 }, (_, i) =>
      stores.audit.append(requestId, { type: 'test.late', actor: 'workflow', key: `late-${i}`, data: {} }).then(
        () => 'appended',
        (error) => (error instanceof AuditTrailSealedError ? 'refused' : Promise.reject(error)),
      ),
    );
    const [final] = await Promise.all([finalizeRequest(deps(), { requestId }), ...racing]);

    const events = await stores.audit.list(requestId);
    expectNothingAfterTheEnd(events.map((e) => e.type));
    expect(events.at(-1)?.hash).toBe((final as { chainHead: { hash: string } }).chainHead.hash);
  });

  it('lets no lane event past a seal when the branches append to their lanes as the sealing event lands', async () => {
    const requestId = await newRequest('racing.lanes@example.com');
    await stores.requests.transition(requestId, ['waiting'], 'processing');
    const lanes = ['referralrock.members', 'referralrock.referrals', 'firstpromoter.referrals'];
    const racing = Array.from({ length: 9 }, (_, i) =>
      stores.audit
        .append(requestId, { type: 'test.late', actor: 'workflow', key: `late-${i}`, data: {}, lane: lanes[i % 3] })
        .then(
          () => 'appended',
          (error) => (error instanceof AuditTrailSealedError ? 'refused' : Promise.reject(error)),
        ),
    );
    const [final, ...outcomes] = await Promise.all([finalizeRequest(deps(), { requestId }), ...racing]);

    // Every lane event that got in is one the seal commits to; every other was refused.
    const { events, lanes: written } = await expectTrailWhole(requestId);
    expectNothingAfterTheEnd(events.map((e) => e.type));
    const seal = events.at(-1);
    expect(seal?.hash).toBe((final as { chainHead: { hash: string } }).chainHead.hash);
    const laneEvents = Object.values(written).flat().length;
    expect(outcomes.filter((o) => o === 'appended')).toHaveLength(laneEvents);
    for (const [lane, laneEventsOf] of Object.entries(written)) {
      expect((seal?.data.lanes as Record<string, unknown> | undefined)?.[lane]).toEqual({
        seq: laneEventsOf.length,
        hash: laneEventsOf.at(-1)?.hash,
      });
    }
  });

  it('ends a cancel with request.canceled only after a late archive step landed and was restored', async () => {
    const email = 'late.archive@example.com';
    const promoter = fpSim.addPromoter({ email });
    const requestId = await newRequest(email);
    const held = gate();
    const archiving = gate();
    const late: FirstPromoterPort = {
      ...fp,
      findPromoters: (s) => fp.findPromoters(s),
      findReferrals: (s) => fp.findReferrals(s),
      restorePromoters: (ids) => fp.restorePromoters(ids),
      getBatch: (id) => fp.getBatch(id),
      archivePromoters: async (ids) => {
        archiving.open();
        await held.opened;
        return fp.archivePromoters(ids);
      },
    };
    const step = archivePromoters({ ...deps(), firstPromoter: late }, { requestId });
    await archiving.opened;

    const canceled = await cancelErasureRequest(deps(), requestId, 'auditor:late');
    // The archive step planned and is still in flight: the cancel cannot end yet.
    expect(canceled.status).toBe('canceling');
    expect(canceled.events.map((e) => e.type)).not.toContain('request.canceled');
    held.open();
    expect(await step).toMatchObject({ outcome: 'restored', count: 1, chainHead: { seq: expect.any(Number) } });

    const types = await eventTypes(requestId);
    expect(types.at(-1)).toBe('request.canceled');
    expectNothingAfterTheEnd(types);
    expect((await stores.requests.get(requestId))?.status).toBe('canceled');
    expect(fpSim.promoters().find((p) => p.id === promoter.id)?.archived_at).toBeNull();
    now = new Date(now.getTime() + 60 * 60_000);
    expect((await sweepRequests(deps(), { stalledAfterSeconds: 300 })).restoredIds).not.toContain(requestId);
  });

  it('does not restore what the archive step archived when the request moved on rather than being canceled', async () => {
    const email = 'moved.on@example.com';
    const promoter = fpSim.addPromoter({ email });
    const requestId = await newRequest(email);
    const held = gate();
    const archiving = gate();
    const late: FirstPromoterPort = {
      ...fp,
      findPromoters: (s) => fp.findPromoters(s),
      restorePromoters: (ids) => fp.restorePromoters(ids),
      archivePromoters: async (ids) => {
        archiving.open();
        await held.opened;
        return fp.archivePromoters(ids);
      },
    };
    const restoresBefore = fpSim.harness.requestsTo('POST /promoters/restore').length;
    const step = archivePromoters({ ...deps(), firstPromoter: late }, { requestId });
    await archiving.opened;
    // The workflow gave up on the step and went on to the end.
    await stores.requests.transition(requestId, ['waiting'], 'processing');
    await finalizeRequest(deps(), { requestId });
    held.open();

    expect(await step).toEqual({ outcome: 'skipped', count: 0 });
    expect(fpSim.promoters().find((p) => p.id === promoter.id)?.archived_at).not.toBeNull();
    expect(fpSim.harness.requestsTo('POST /promoters/restore')).toHaveLength(restoresBefore);
    expectNothingAfterTheEnd(await eventTypes(requestId));
  });
});
