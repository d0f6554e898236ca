import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BatchPollState,
  pollFirstPromoterBatch,
  startFirstPromoterReferralDeletion,
} from '#shared/domain/workflow-tasks';
import { type FirstPromoterWorld, startFirstPromoterWorld } from '#test/support/first-promoter-world';

/**
 * A referral delete whose answer was lost adopts a running batch of the planned size, which may be another request's;
 * when it ends with the subject's referrals still there, the step starts a batch of its own. Each batch the record
 * names as `pending` is in the trail: keyed by the action and outcome alone, the second `pending` event was taken for
 * the first and dropped, so the trail never showed the batch that did the deleting being started.
 */

const tables = { requests: 'pending-events', auditEvents: 'pending-events-events', identities: 'pending-events-ids' };
let world: FirstPromoterWorld;
const now = new Date('2026-06-01T10:00:00Z');
const clock = { now: () => now };

beforeAll(async () => {
  world = await startFirstPromoterWorld({ tables, clock });
});

afterAll(() => world.stop());

describe('a referral delete that follows another request’s batch, then starts its own', () => {
  it('has a pending event for each batch in the trail, and the record’s batch is the last one', async () => {
    const email = 'adopted.batch@example.com';
    const a = await world.waitingRequest(email, 'msg_adopted_batch');
    for (let i = 0; i < 6; i++) world.sim.addReferral({ email });
    const others = Array.from({ length: 6 }, () => world.sim.addReferral({ email: 'other.subject@example.com' }));
    const other = await world.fp.deleteReferrals(others.map((r) => r.id));
    await world.deps.requests.transition(a.requestId, ['waiting'], 'processing');
    // The first try wrote its plan, and its delete got no answer (the connection dropped before FirstPromoter got it).
    const lost = {
      ...a.taskDeps,
      firstPromoter: {
        ...world.fp,
        findReferrals: (s: Parameters<typeof world.fp.findReferrals>[0]) => world.fp.findReferrals(s),
        listBatches: () => world.fp.listBatches(),
        deleteReferrals: async () => {
          throw new Error('socket hang up');
        },
      },
    };
    await expect(startFirstPromoterReferralDeletion(lost, { requestId: a.requestId })).rejects.toThrow();

    let state: BatchPollState = await startFirstPromoterReferralDeletion(a.taskDeps, { requestId: a.requestId });
    expect(state.batchId).toBe(other.id);
    while (!state.done) state = await pollFirstPromoterBatch(a.taskDeps, state);

    const own = world.sim.batches().at(-1)?.id;
    expect(own).not.toBe(other.id);
    const pending = Object.values(await world.deps.audit.lanes(a.requestId))
      .flat()
      .filter((e) => e.type === 'action.recorded' && e.data.outcome === 'pending')
      .map((e) => e.data.batchId);
    expect(pending).toEqual([other.id, own]);
    const record = (await world.deps.requests.get(a.requestId))?.actions['firstpromoter.referrals'];
    expect(record).toMatchObject({ outcome: 'deleted', count: 6, batchId: own });
  });
});
