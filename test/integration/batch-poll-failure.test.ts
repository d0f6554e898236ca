import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BatchPollState,
  pollFirstPromoterBatch,
  settleFirstPromoterAction,
  startFirstPromoterReferralDeletion,
} from '#shared/domain/workflow-tasks';
import { type FirstPromoterWorld, startFirstPromoterWorld } from '#test/support/first-promoter-world';

/**
 * A poll of a running referral-delete batch that ends with an error no retry clears (here a 422; the retry window
 * past, any error) sends the step to its settle task. Judged at once, its search finds the referrals the batch is about
 * to delete and records them `failed`, though FirstPromoter deletes them a moment later: the record says not erased
 * what is erased. While the batch is within its poll time and still running (or cannot be asked), the settle task
 * sends the step back to follow it instead; only past that time does the search judge, as the poll's own timeout does.
 */

const tables = { requests: 'poll-fail', auditEvents: 'poll-fail-events', identities: 'poll-fail-ids' };
let world: FirstPromoterWorld;
let now = new Date('2026-06-01T10:00:00Z');
const clock = { now: () => now };

beforeAll(async () => {
  world = await startFirstPromoterWorld({ tables, clock });
});

afterAll(() => world.stop());

const tick = (seconds: number) => {
  now = new Date(now.getTime() + seconds * 1000);
};

const pollError = { Error: 'ProviderRequestError', Cause: '{"errorMessage":"FirstPromoter getBatch answered 422"}' };

/** A request erasing (`processing`) whose six referrals FirstPromoter deletes in a batch that is still running. */
async function deletingInBatch(name: string) {
  const email = `${name}@example.com`;
  const a = await world.waitingRequest(email, `msg_${name}`);
  for (let i = 0; i < 6; i++) world.sim.addReferral({ email });
  await world.deps.requests.transition(a.requestId, ['waiting'], 'processing');
  const started = await startFirstPromoterReferralDeletion(a.taskDeps, { requestId: a.requestId });
  expect(started).toMatchObject({ done: false });
  const left = () => world.sim.referrals().filter((r) => r.email === email).length;
  const outcome = async () => (await world.deps.requests.get(a.requestId))?.actions['firstpromoter.referrals'];
  return { ...a, left, outcome };
}

/**
 * A referral delete whose answer was lost adopts a running batch of the planned size, which may be another request's;
 * when it ends with the subject's referrals still there, the step starts a batch of its own. Each batch the record
 * names as `pending` is in the trail: keyed by the action and outcome alone, the second `pending` event was taken for
 * the first and dropped, so the trail never showed the batch that did the deleting being started.
 */
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

describe('a batch poll that fails with an error no retry clears, the batch still running', () => {
  it('follows the batch again instead of recording failed what it deletes', async () => {
    const { requestId, taskDeps, left, outcome } = await deletingInBatch('poll.refused');
    tick(5);

    const settled = await settleFirstPromoterAction(taskDeps, {
      requestId,
      action: 'firstpromoter.referrals',
      error: pollError,
      state: {},
    });

    expect(settled).toMatchObject({ action: 'firstpromoter.referrals' });
    expect(settled).toHaveProperty('retryStepAfterSeconds');
    expect((await outcome())?.outcome).toBe('pending');
    // The state machine runs the step again: it follows the recorded batch, whose next poll finds it completed.
    tick(1);
    const again = await startFirstPromoterReferralDeletion(taskDeps, { requestId });
    const polled = await pollFirstPromoterBatch(taskDeps, again);
    expect(polled).toMatchObject({ done: true });
    expect(left()).toBe(0);
    expect(await outcome()).toMatchObject({ outcome: 'deleted', count: 6 });
  });

  it('judges a batch that ended while the settle task asked by a search after its end, not the one before', async () => {
    const { requestId, taskDeps, left, outcome } = await deletingInBatch('poll.refused.ending');
    // One poll saw the batch running; the simulator ends it at the next one: the settle task's own question.
    tick(1);
    const first = await startFirstPromoterReferralDeletion(taskDeps, { requestId });
    expect(await pollFirstPromoterBatch(taskDeps, first)).toMatchObject({ done: false });
    tick(1);

    const settled = await settleFirstPromoterAction(taskDeps, {
      requestId,
      action: 'firstpromoter.referrals',
      error: pollError,
      state: {},
    });

    // Its search, made while the batch ran, found all six; the batch then deleted them.
    expect(left()).toBe(0);
    expect(settled).toMatchObject({ outcome: 'deleted', count: 6 });
    expect((await outcome())?.outcome).toBe('deleted');
  });

  it('waits a hundredth of a long poll time between follows, so the execution’s history stays bounded', async () => {
    const { requestId, taskDeps } = await deletingInBatch('poll.refused.long');
    const longPoll = {
      ...taskDeps,
      batchPoll: { intervalSeconds: 5, maxIntervalSeconds: 300, timeoutSeconds: 30 * 86_400 },
    };

    const settled = await settleFirstPromoterAction(longPoll, {
      requestId,
      action: 'firstpromoter.referrals',
      error: pollError,
      state: {},
    });

    // 30 days in at most 100 send-backs: 25,920 s each, not 8,640 of 300 s (some 260,000 history events).
    expect(settled).toMatchObject({ retryStepAfterSeconds: 25_920 });
  });

  it('polls a batch of a long poll time at most some 500 times, so the execution’s history stays bounded', async () => {
    const { requestId, taskDeps } = await deletingInBatch('poll.long');
    const longPoll = {
      ...taskDeps,
      batchPoll: { intervalSeconds: 5, maxIntervalSeconds: 300, timeoutSeconds: 30 * 86_400 },
    };
    const following = await startFirstPromoterReferralDeletion(longPoll, { requestId });

    const polled = await pollFirstPromoterBatch(longPoll, { ...following, polls: 20 });

    // 30 days in 500 polls of 5,184 s, not 8,640 of 300 s (some 112,000 history events, past the 25,000 limit).
    expect(polled).toMatchObject({ done: false, waitSeconds: 5_184 });
  });

  it('follows its own batch again as its own: one that fails is recorded, not deleted over by a second batch', async () => {
    const { requestId, taskDeps, outcome } = await deletingInBatch('own.batch.failing');
    const settled = await settleFirstPromoterAction(taskDeps, {
      requestId,
      action: 'firstpromoter.referrals',
      error: pollError,
      state: {},
    });
    expect(settled).toHaveProperty('retryStepAfterSeconds');
    const batches = world.sim.batches().length;

    // The step is run again; FirstPromoter then answers that the batch failed, the six referrals still there.
    tick(1);
    const failed = {
      ...taskDeps,
      firstPromoter: {
        ...world.fp,
        findReferrals: (...args: Parameters<typeof world.fp.findReferrals>) => world.fp.findReferrals(...args),
        deleteReferrals: (ids: number[]) => world.fp.deleteReferrals(ids),
        getBatch: async (id: number) => ({
          id,
          status: 'failed' as const,
          total: 6,
          selected_total: 6,
          processed_count: 0,
          failed_count: 6,
          action_label: 'referral/delete',
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
          meta: {},
          progress: 100,
          processing_errors: [],
        }),
      },
    };
    const again = await startFirstPromoterReferralDeletion(failed, { requestId });
    const polled = await pollFirstPromoterBatch(failed, again);

    // Its own batch's end is recorded as it is; no second DELETE of the same ids (each send-back would start one).
    expect(polled).toMatchObject({ done: true });
    expect(world.sim.batches()).toHaveLength(batches);
    expect(await outcome()).toMatchObject({ outcome: 'failed', count: 6 });
  });

  it('judges by the search once the batch is past its poll time', async () => {
    const { requestId, taskDeps, outcome } = await deletingInBatch('poll.refused.late');
    tick(taskDeps.batchPoll.timeoutSeconds + 1);

    const settled = await settleFirstPromoterAction(taskDeps, {
      requestId,
      action: 'firstpromoter.referrals',
      error: pollError,
      state: {},
    });

    expect(settled).toMatchObject({ outcome: 'failed', count: 6 });
    expect((await outcome())?.errors?.[0]).toContain('ProviderRequestError');
  });
});
