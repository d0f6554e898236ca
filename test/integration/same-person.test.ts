import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAuditLog } from '#shared/adapters/dynamodb/audit-log';
import { DynamoRequestRepository } from '#shared/adapters/dynamodb/requests-repository';
import { createFirstPromoterClient } from '#shared/adapters/firstpromoter/client';
import { createReferralRockClient } from '#shared/adapters/referralrock/client';
import { createDocumentClient } from '#shared/composition';
import { IdentityCipher } from '#shared/crypto/identity-cipher';
import { cancelErasureRequest, submitErasureRequest } from '#shared/domain/erasure-requests';
import {
  archivePromoters,
  type BatchPollState,
  beginErasure,
  eraseReferralRockMembers,
  eraseReferralRockReferrals,
  finalizeRequest,
  loadRequest,
  pollFirstPromoterBatch,
  startFirstPromoterReferralDeletion,
} from '#shared/domain/workflow-tasks';
import { FirstPromoterSimulator } from '#test/simulators/firstpromoter';
import { ReferralRockSimulator } from '#test/simulators/referralrock';
import { UNSPACED_RATE_LIMIT } from '#test/support/open-rate-budget';
import { startTestDynamo, type TestDynamo } from '#test/support/test-dynamo';

/**
 * Two open requests for the same person (same email or external id, another webhook-id) share their work: a promoter
 * one archived counts as archived for the other and is held by it, a cancel restores only what no other request of
 * the person holds, and their erasure steps racing each other end `deleted`, not failed.
 */

const tables = { requests: 'same-requests', auditEvents: 'same-events', identities: 'same-identities' };
let dynamo: TestDynamo;
const rrSim = new ReferralRockSimulator();
const fpSim = new FirstPromoterSimulator();
const clock = { now: () => new Date() };
let deps: any;

beforeAll(async () => {
  dynamo = await startTestDynamo();
  await dynamo.ensureTables(tables);
  const db = createDocumentClient({ dynamoDbEndpoint: undefined }, dynamo.client);
  const retry = { maxAttempts: 1, baseDelayMs: 1 };
  const rateLimit = UNSPACED_RATE_LIMIT;
  deps = {
    requests: new DynamoRequestRepository(db, tables, { readIdentity: true }),
    audit: new DynamoAuditLog(db, tables, { clock, retentionDays: 1096 }),
    workflow: { start: async () => undefined, stop: async () => undefined, ensureRunning: async () => 'running' },
    clock,
    cipher: new IdentityCipher(Buffer.alloc(32, 8)),
    pseudonymKey: Buffer.alloc(32, 9),
    retentionDays: 1096,
    referralRock: createReferralRockClient({
      baseUrl: await rrSim.start(),
      publicKey: 'demo-public',
      privateKey: 'demo-private',
      retry,
      rateLimit,
    }),
    firstPromoter: createFirstPromoterClient(
      { baseUrl: await fpSim.start(), apiKey: 'demo-api-key', accountId: 'demo-account', retry, rateLimit },
      { sleep: async () => undefined },
    ),
    waitingPeriodSeconds: 3600,
    batchPoll: { intervalSeconds: 0, maxIntervalSeconds: 0, timeoutSeconds: 60 },
  };
});

afterAll(async () => {
  await dynamo.stop();
  await rrSim.stop();
  await fpSim.stop();
});

let seq = 0;
/** A request through its archive step, left in its waiting period. */
async function waitingRequest(body: { email?: string; externalId?: string }) {
  seq += 1;
  const { request } = await submitErasureRequest(deps, {
    webhookId: `msg_same_${seq}`,
    document: body,
    body,
    signedWith: 'test',
  });
  await loadRequest(deps, { requestId: request.id });
  const archive = await archivePromoters(deps, { requestId: request.id });
  return { requestId: request.id, archive };
}

async function eraseToTheEnd(requestId: string) {
  await beginErasure(deps, { requestId });
  await Promise.all([
    eraseReferralRockMembers(deps, { requestId }),
    eraseReferralRockReferrals(deps, { requestId }),
    (async () => {
      let state: BatchPollState = await startFirstPromoterReferralDeletion(deps, { requestId });
      while (!state.done) state = await pollFirstPromoterBatch(deps, state);
    })(),
  ]);
  return finalizeRequest(deps, { requestId });
}

const archivedAt = (id: number) => fpSim.promoters().find((p) => p.id === id)?.archived_at;
const promoterAction = async (requestId: string) =>
  (await deps.requests.get(requestId))?.actions['firstpromoter.promoters'];

describe('requests for the same person share their work', () => {
  it('counts a promoter another open request archived as archived, and keeps it archived when that one is canceled', async () => {
    const promoter = fpSim.addPromoter({ email: 'twice@example.com' });
    const a = await waitingRequest({ email: 'twice@example.com' });
    const b = await waitingRequest({ email: 'twice@example.com' });

    expect(a.archive).toEqual({ outcome: 'archived', count: 1 });
    expect(b.archive).toEqual({ outcome: 'archived', count: 1 });
    expect((await promoterAction(b.requestId))?.notes).toEqual([
      '1 promoter(s) archived by another open request of this person, held by this one too',
    ]);

    const canceled = await cancelErasureRequest(deps, a.requestId, 'auditor:test');

    expect(canceled.status).toBe('canceled');
    expect(archivedAt(promoter.id)).not.toBeNull();
    expect(await promoterAction(a.requestId)).toMatchObject({
      outcome: 'restored',
      count: 0,
      notes: ['1 promoter(s) left archived: another request of this person holds them'],
    });

    const final = await eraseToTheEnd(b.requestId);

    expect(final.status).toBe('completed');
    expect(archivedAt(promoter.id)).not.toBeNull();
  });

  it('restores the promoter once every request of the person that held it is canceled', async () => {
    const promoter = fpSim.addPromoter({ email: 'both.canceled@example.com' });
    const a = await waitingRequest({ email: 'both.canceled@example.com' });
    const b = await waitingRequest({ email: 'both.canceled@example.com' });

    await cancelErasureRequest(deps, a.requestId, 'auditor:test');
    expect(archivedAt(promoter.id)).not.toBeNull();
    await cancelErasureRequest(deps, b.requestId, 'auditor:test');

    expect(archivedAt(promoter.id)).toBeNull();
    expect(await promoterAction(b.requestId)).toMatchObject({ outcome: 'restored', count: 1 });
  });

  it('shares through the external-id pseudonym as well', async () => {
    const promoter = fpSim.addPromoter({ email: 'ext.person@example.com', cust_id: 'crm-shared-9' });
    const a = await waitingRequest({ email: 'ext.person@example.com', externalId: 'crm-shared-9' });
    const b = await waitingRequest({ externalId: 'crm-shared-9' });

    expect(b.archive).toEqual({ outcome: 'archived', count: 1 });
    await cancelErasureRequest(deps, a.requestId, 'auditor:test');

    expect(archivedAt(promoter.id)).not.toBeNull();
    expect((await eraseToTheEnd(b.requestId)).status).toBe('completed');
  });

  it('lets the erasure steps of two requests for one person race without false failures', async () => {
    const email = 'racing.twins@example.com';
    rrSim.addMember({ email });
    rrSim.addReferral({ email });
    for (let i = 0; i < 3; i++) fpSim.addReferral({ email, uid: `twin-${i}` });
    fpSim.addPromoter({ email });
    const a = await waitingRequest({ email });
    const b = await waitingRequest({ email });

    const [finalA, finalB] = await Promise.all([eraseToTheEnd(a.requestId), eraseToTheEnd(b.requestId)]);

    expect([finalA.status, finalB.status]).toEqual(['completed', 'completed']);
    for (const id of [a.requestId, b.requestId]) {
      const outcomes = Object.values((await deps.requests.get(id))?.actions ?? {}).map((r: any) => r.outcome);
      expect(outcomes).not.toContain('failed');
      expect(outcomes).not.toContain('partial');
    }
    expect(rrSim.members().filter((m) => m.email === email)).toHaveLength(0);
    expect(fpSim.referrals().filter((r) => r.email === email)).toHaveLength(0);
  });
});
