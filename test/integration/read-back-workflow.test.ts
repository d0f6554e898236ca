import { afterEach, describe, expect, it } from 'vitest';
import { actionOf, startTestRuntime, type TestRuntime } from '#test/support/local-runtime';

/**
 * The read-back through the state machine: a provider that acted and still answered an error (a concurrent request's
 * delete landed first, a batch expired after finishing) must not make the action `failed` when nothing of the person
 * remains. The step's Catch goes to the provider function's settle task, which searches again.
 */

let t: TestRuntime | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

function seed(rt: TestRuntime, email: string, fpReferrals: number) {
  rt.referralRock.addMember({ email });
  rt.referralRock.addReferral({ email });
  for (let i = 0; i < fpReferrals; i++) rt.firstPromoter.addReferral({ email, uid: `${email}-${i}` });
  rt.firstPromoter.addPromoter({ email });
}

describe('a read-back decides every failure, through the state machine', () => {
  it('records every action done when each provider answered an error after acting', async () => {
    t = await startTestRuntime();
    seed(t, 'acted@example.com', 2);
    const actedThen = (status: number) => ({ kind: 'status', status, afterProcessing: true }) as const;
    t.firstPromoter.harness.injectFault('POST /promoters/archive', actedThen(404));
    t.firstPromoter.harness.injectFault('DELETE /referrals', actedThen(404));
    t.referralRock.harness.injectFault('DELETE /api/members/remove', actedThen(422));
    t.referralRock.harness.injectFault('POST /api/referral/remove', actedThen(404));

    const view = await t.erase({ email: 'acted@example.com' });

    expect(view.status).toBe('completed');
    expect(actionOf(view, 'firstpromoter', 'archive_promoters')).toMatchObject({ outcome: 'archived', count: 1 });
    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 2 });
    expect(actionOf(view, 'referralrock', 'delete_members')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(actionOf(view, 'referralrock', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 1 });
    expect(actionOf(view, 'firstpromoter', 'delete_referrals').notes[0]).toMatch(
      /^the step ended with ProviderRequestError: FirstPromoter .*\(HTTP 404\)/,
    );
    expect(actionOf(view, 'referralrock', 'delete_members').notes[0]).toMatch(/\(HTTP 422\)/);
    expect(t.firstPromoter.referrals()).toHaveLength(0);
    // Once per step: the 4xx is not retried, the read-back decides.
    expect(t.referralRock.harness.requestsTo('DELETE /api/members/remove')).toHaveLength(1);
  });

  it('follows the batch a delete started before answering an error, instead of judging it before it ran', async () => {
    t = await startTestRuntime();
    // More than 5 referrals: FirstPromoter starts an asynchronous batch, then (the fault) answers 404.
    seed(t, 'batch.then.404@example.com', 8);
    t.firstPromoter.harness.injectFault('DELETE /referrals', { kind: 'status', status: 404, afterProcessing: true });

    const view = await t.erase({ email: 'batch.then.404@example.com' });

    expect(view.status).toBe('completed');
    expect(actionOf(view, 'firstpromoter', 'delete_referrals')).toMatchObject({ outcome: 'deleted', count: 8 });
    expect(t.firstPromoter.referrals()).toHaveLength(0);
    // The batch was followed, not started twice.
    expect(t.firstPromoter.harness.requestsTo('DELETE /referrals')).toHaveLength(1);
  });

  it('records a batch that finished and then answered 404 (gone) as deleted', async () => {
    t = await startTestRuntime();
    seed(t, 'gone.batch@example.com', 7);
    // The first poll sees it running; the second finishes it, and the batch is gone by the time it answers.
    t.firstPromoter.harness.injectFault('GET /batch_processes/:id', { kind: 'pass' });
    t.firstPromoter.harness.injectFault('GET /batch_processes/:id', {
      kind: 'status',
      status: 404,
      afterProcessing: true,
    });

    const view = await t.erase({ email: 'gone.batch@example.com' });

    const fp = actionOf(view, 'firstpromoter', 'delete_referrals');
    expect(fp).toMatchObject({ outcome: 'deleted', count: 7, batchId: expect.any(Number) });
    expect(fp.notes[0]).toMatch(/^the step ended with BatchNotFoundError/);
    expect(view.status).toBe('completed');
  });

  it('still records failed, with what the provider answered, when the records are still there', async () => {
    t = await startTestRuntime();
    seed(t, 'refused@example.com', 2);
    t.firstPromoter.harness.injectFault('DELETE /referrals', { kind: 'status', status: 422 });

    const view = await t.erase({ email: 'refused@example.com' });

    const fp = actionOf(view, 'firstpromoter', 'delete_referrals');
    expect(fp).toMatchObject({ outcome: 'failed', count: 2 });
    expect(fp.errors).toEqual([
      expect.stringMatching(/^the step ended with ProviderRequestError: FirstPromoter .*\(HTTP 422\)/),
      '2 of 2 record(s) still found at FirstPromoter by a search afterwards',
    ]);
    expect(view.status).toBe('partially_completed');
  });
});
